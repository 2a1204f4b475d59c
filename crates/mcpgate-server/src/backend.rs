//! The backend stage: where an allowed call is performed.

use std::collections::HashMap;

use futures::future::BoxFuture;
use mcpgate_core::ToolOutput;
use mcpgate_openapi::{HttpExecutor, HttpOperation};
use serde_json::{Map, Value};

/// Performs calls for the tools it serves.
pub trait Backend: Send + Sync + 'static {
    /// Call `tool` with validated `arguments`. Failures are outputs with
    /// `is_error`, never panics.
    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a Map<String, Value>,
    ) -> BoxFuture<'a, ToolOutput>;
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
