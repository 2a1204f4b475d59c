use serde::Serialize;

/// What a backend answered for one tool call, independent of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolOutput {
    /// Text for the model: the response body, or an explanation of the error.
    pub text: String,
    /// The response as JSON, when the backend answered with JSON.
    pub structured: Option<serde_json::Value>,
    /// Whether the call failed (non-2xx, network error, invalid arguments).
    pub is_error: bool,
    /// The backend's HTTP status, when there was one.
    pub backend_status: Option<u16>,
    /// The result's MCP content blocks exactly as an upstream MCP server
    /// sent them (images, audio, embedded resources), when the backend
    /// speaks MCP; otherwise the result is `text`.
    pub content: Option<serde_json::Value>,
}

impl ToolOutput {
    /// A failed call with an explanation for the model and no backend status.
    pub fn error(text: impl Into<String>) -> Self {
        ToolOutput {
            text: text.into(),
            structured: None,
            is_error: true,
            backend_status: None,
            content: None,
        }
    }
}
