//! The backend stage: where an allowed call is performed.

use std::collections::HashMap;

use futures::future::BoxFuture;
use mcpgate_core::{ToolAnnotations, ToolOutput, ToolSpec};
use mcpgate_openapi::{HttpExecutor, HttpOperation};
use serde_json::{Map, Value};

use crate::gateway::CallContext;

/// Performs calls for the tools it serves.
pub trait Backend: Send + Sync + 'static {
    /// Call `tool` with validated `arguments` for the caller in `context`.
    /// Failures are outputs with `is_error`, never panics.
    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a Map<String, Value>,
        context: &'a CallContext,
    ) -> BoxFuture<'a, ToolOutput>;

    /// Whether a call may send the caller messages before its answer (an
    /// MCP backend's progress and log notifications). Such calls need a
    /// stream to the caller: the HTTP transport never answers them
    /// directly.
    fn notifies_caller(&self) -> bool {
        false
    }
}

/// A REST API described by OpenAPI.
pub struct OpenApiBackend {
    executor: HttpExecutor,
    operations: HashMap<String, HttpOperation>,
}

impl OpenApiBackend {
    /// A backend that performs `operations` (tool name → operation) with
    /// `executor`.
    pub fn new(executor: HttpExecutor, operations: HashMap<String, HttpOperation>) -> Self {
        OpenApiBackend {
            executor,
            operations,
        }
    }
}

impl Backend for OpenApiBackend {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a Map<String, Value>,
        _context: &'a CallContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            match self.operations.get(tool) {
                Some(operation) => self.executor.execute(operation, arguments).await,
                None => {
                    ToolOutput::error(format!("this backend has no operation for tool `{tool}`"))
                }
            }
        })
    }
}

/// A backend inside the gateway's own process whose one tool, `echo`,
/// answers with its arguments. It reaches nothing, so it measures the
/// gateway alone (the load benchmark compares it with a bare MCP server)
/// and lets an authentication and authorization setup be tried before any
/// API is connected.
pub struct EchoBackend;

impl EchoBackend {
    /// The name of its one tool (before any prefix).
    pub const TOOL: &'static str = "echo";

    /// Its one tool, served by the backend named `backend`. It declares no
    /// security requirement, so `[authz]` decides what it needs.
    pub fn tool_spec(backend: &str) -> ToolSpec {
        let mut input_schema = Map::new();
        input_schema.insert("type".into(), Value::from("object"));
        ToolSpec {
            name: Self::TOOL.to_owned(),
            title: Some("Echo".to_owned()),
            description: Some("Answers with the arguments it was called with.".to_owned()),
            input_schema,
            annotations: ToolAnnotations {
                read_only_hint: Some(true),
                destructive_hint: Some(false),
                idempotent_hint: Some(true),
                open_world_hint: Some(false),
            },
            security: Vec::new(),
            backend: backend.to_owned(),
            accepted_auth: None,
            http_method: None,
            tags: Vec::new(),
        }
    }
}

impl Backend for EchoBackend {
    fn call<'a>(
        &'a self,
        _tool: &'a str,
        arguments: &'a Map<String, Value>,
        _context: &'a CallContext,
    ) -> BoxFuture<'a, ToolOutput> {
        let echoed = Value::Object(arguments.clone());
        Box::pin(std::future::ready(ToolOutput {
            text: echoed.to_string(),
            structured: Some(echoed),
            is_error: false,
            backend_status: None,
            content: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echo_answers_with_its_arguments() {
        let arguments: Map<String, Value> =
            serde_json::from_str(r#"{"a": 1, "b": ["x"]}"#).unwrap();
        let context = CallContext::new(mcpgate_core::Identity::local(), None);
        let output = EchoBackend.call("echo", &arguments, &context).await;
        assert!(!output.is_error);
        assert_eq!(output.structured, Some(Value::Object(arguments)));
        assert_eq!(output.text, r#"{"a":1,"b":["x"]}"#);
        assert!(EchoBackend::tool_spec("bench").is_known_read_only());
    }
}
