//! What the importer wants a user to look at.

use serde::Serialize;

/// The kind of a [`Warning`], stable for scripts (`--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The spec declares no security schemes at all.
    NoSecuritySchemes,
    /// Some operations need no credential according to the spec.
    OperationsWithoutSecurity,
    /// An operation that may write can be called with read scopes only.
    WriteWithReadScope,
    /// A tool name differs from the `operationId`.
    NameChanged,
    /// An operation could not be turned into a tool.
    OperationSkipped,
    /// A requirement names a scheme the spec does not declare.
    UnknownSecurityScheme,
}

/// One finding of the importer, with a message that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// What kind of finding this is.
    pub kind: WarningKind,
    /// The tool concerned, if one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The explanation.
    pub message: String,
}

impl Warning {
    pub(crate) fn new(kind: WarningKind, tool: Option<&str>, message: String) -> Self {
        Warning {
            kind,
            tool: tool.map(str::to_owned),
            message,
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
