use std::collections::BTreeMap;

use serde::Serialize;

use crate::AuthMethod;

/// One security requirement of an operation: every named scheme must be
/// satisfied, with the listed scopes (OpenAPI "Security Requirement Object").
///
/// An operation lists alternatives: any one requirement is enough. An empty
/// requirement (`{}`) means the operation can also be called anonymously.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct SecurityRequirement {
    /// Scheme name → scopes required from that scheme.
    pub schemes: BTreeMap<String, Vec<String>>,
}

impl SecurityRequirement {
    /// All scopes this requirement asks for, across its schemes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.schemes.values().flatten().map(String::as_str)
    }
}

/// Behaviour hints shown to MCP clients (`ToolAnnotations` in the spec).
///
/// `None` means "unknown": the gateway never guesses that a tool is safe.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolAnnotations {
    /// The tool does not modify its environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may perform destructive updates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Calling the tool twice with the same arguments has no extra effect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool talks to an open world of external entities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

/// A tool the gateway can offer, whatever backend serves it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolSpec {
    /// Unique name, valid per [`is_valid_tool_name`].
    pub name: String,
    /// Human-readable title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, for the model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A self-contained JSON Schema object describing the arguments.
    pub input_schema: serde_json::Map<String, serde_json::Value>,
    /// Behaviour hints.
    pub annotations: ToolAnnotations,
    /// Security requirement alternatives declared for the tool; empty when
    /// the source declares none.
    pub security: Vec<SecurityRequirement>,
    /// Name of the configured backend that serves the tool.
    pub backend: String,
    /// The authentication methods a caller of this tool must have used;
    /// `None` accepts any configured method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted_auth: Option<Vec<AuthMethod>>,
    /// The HTTP method of the operation behind the tool (upper case), when
    /// it is an HTTP API; policies and scope rules can match on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<String>,
    /// Tags the source gives the tool (OpenAPI operation tags), for
    /// policies such as "everything except financial records".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl ToolSpec {
    /// Whether the gateway knows this tool does not write. Unknown counts as
    /// "may write": read-only enforcement fails closed.
    pub fn is_known_read_only(&self) -> bool {
        self.annotations.read_only_hint == Some(true)
    }

    /// The scopes named by any security requirement of the tool, sorted and
    /// without duplicates.
    pub fn declared_scopes(&self) -> Vec<String> {
        let mut scopes: Vec<String> = self
            .security
            .iter()
            .flat_map(SecurityRequirement::scopes)
            .map(str::to_owned)
            .collect();
        scopes.sort();
        scopes.dedup();
        scopes
    }
}

/// Whether `name` is a valid MCP tool name: 1 to 64 characters from
/// `[a-zA-Z0-9_-]`.
///
/// This is the conservative intersection of what MCP clients and model APIs
/// accept, so a name that passes works everywhere.
///
/// ```
/// use mcpgate_core::is_valid_tool_name;
/// assert!(is_valid_tool_name("get_pet-by_id"));
/// assert!(!is_valid_tool_name("pets/list"));
/// assert!(!is_valid_tool_name(""));
/// ```
pub fn is_valid_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}
