//! Checking arguments against a tool's input schema before any request.

use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The most validation errors reported back in one answer.
const MAX_REPORTED: usize = 10;

/// A tool's input schema, compiled on first use.
///
/// Compiling lazily keeps start-up fast for specs with thousands of
/// operations, most of which are never called.
pub(crate) struct ArgumentValidator {
    schema: Value,
    compiled: OnceLock<Result<jsonschema::Validator, String>>,
}

impl ArgumentValidator {
    pub(crate) fn new(schema: &Map<String, Value>) -> Self {
        ArgumentValidator {
            schema: Value::Object(schema.clone()),
            compiled: OnceLock::new(),
        }
    }

    /// `Ok` when `arguments` fit the schema, else every problem (up to a
    /// limit) as "`/path`: message" lines.
    pub(crate) fn check(&self, arguments: &Map<String, Value>) -> Result<(), String> {
        let validator = self
            .compiled
            .get_or_init(|| jsonschema::validator_for(&self.schema).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| format!("the tool's input schema is unusable: {e}"))?;
        let instance = Value::Object(arguments.clone());
        let problems: Vec<String> = validator
            .iter_errors(&instance)
            .take(MAX_REPORTED)
            .map(|error| {
                let path = error.instance_path().to_string();
                let place = if path.is_empty() {
                    "arguments".to_owned()
                } else {
                    format!("`{path}`")
                };
                format!("{place}: {error}")
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("\n"))
        }
    }
}
