//! Reading a spec file: JSON or YAML, and which OpenAPI generation it is.

use serde_json::{Map, Value};

use crate::ImportError;

/// Which generation of the OpenAPI specification a document follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SpecVersion {
    /// Swagger 2.0 (`swagger: "2.0"`).
    #[serde(rename = "2.0")]
    Swagger2,
    /// OpenAPI 3.0.x.
    #[serde(rename = "3.0")]
    OpenApi30,
    /// OpenAPI 3.1.x (JSON Schema 2020-12 schemas).
    #[serde(rename = "3.1")]
    OpenApi31,
}

/// Parse `text` as JSON, or else as YAML, into a JSON value.
///
/// YAML is converted by hand rather than deserialized straight into
/// `serde_json::Value` because real specs use non-string keys (`200:` under
/// `responses`), which JSON objects cannot hold; they become strings.
pub fn parse(text: &str) -> Result<Value, ImportError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.is_empty() {
        return Err(ImportError::Empty);
    }
    if trimmed.starts_with('{') {
        return serde_json::from_str(trimmed).map_err(|e| ImportError::Syntax {
            format: "JSON",
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        });
    }
    let yaml: yaml_serde::Value = yaml_serde::from_str(trimmed).map_err(|e| {
        let location = e.location();
        ImportError::Syntax {
            format: "YAML",
            line: location.as_ref().map_or(0, |l| l.line()),
            column: location.as_ref().map_or(0, |l| l.column()),
            message: e.to_string(),
        }
    })?;
    yaml_to_json(yaml)
}

fn yaml_to_json(yaml: yaml_serde::Value) -> Result<Value, ImportError> {
    use yaml_serde::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                // NaN and infinities have no JSON form; keep them as text.
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or_else(|| Value::String(n.to_string()), Value::Number)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(mapping) => {
            let mut object = Map::with_capacity(mapping.len());
            for (key, value) in mapping {
                let key = match key {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    Y::Null => "null".to_owned(),
                    other => {
                        return Err(ImportError::Invalid(format!(
                            "a YAML mapping key must be a scalar, found {other:?}"
                        )));
                    }
                };
                object.insert(key, yaml_to_json(value)?);
            }
            Value::Object(object)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

/// Find out which OpenAPI generation `doc` follows.
pub fn detect_version(doc: &Value) -> Result<SpecVersion, ImportError> {
    let Some(root) = doc.as_object() else {
        return Err(ImportError::NotOpenApi(
            "the document is not an object".to_owned(),
        ));
    };
    if let Some(swagger) = root.get("swagger") {
        let version = scalar_text(swagger);
        return if version == "2.0" {
            Ok(SpecVersion::Swagger2)
        } else {
            Err(ImportError::UnsupportedVersion(format!(
                "swagger: {version}"
            )))
        };
    }
    let Some(openapi) = root.get("openapi") else {
        return Err(ImportError::NotOpenApi(
            "it has neither an `openapi` nor a `swagger` field".to_owned(),
        ));
    };
    let version = scalar_text(openapi);
    if version.starts_with("3.0") {
        Ok(SpecVersion::OpenApi30)
    } else if version.starts_with("3.1") {
        Ok(SpecVersion::OpenApi31)
    } else {
        Err(ImportError::UnsupportedVersion(format!(
            "openapi: {version}"
        )))
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
