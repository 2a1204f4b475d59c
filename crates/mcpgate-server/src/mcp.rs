//! The protocol stage: MCP through `rmcp`, kept behind this one module so
//! the SDK's churn stays here.
//!
//! [`McpHandler`] answers `initialize`/`server/discover`, `tools/list` and
//! `tools/call` for both protocol eras (2025-03-26 … 2025-11-25 with
//! sessions, 2026-07-28 stateless); `rmcp` does the framing, version
//! negotiation and `Mcp-Method`/`Mcp-Name` header checks.

use std::net::SocketAddr;
use std::sync::Arc;

use mcpgate_core::{Identity, ToolOutput, ToolSpec};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorCode,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::json;
use tracing::Instrument;

use crate::gateway::{CallContext, CallError, Gateway};

/// JSON-RPC error code for a call refused by authorization (implementation
/// defined range). Over HTTP a refusal for missing scopes is answered with
/// HTTP 403 and a step-up challenge instead.
pub const FORBIDDEN_CODE: i32 = -32003;

/// JSON-RPC error code for a call refused by a rate limit. Over HTTP it is
/// answered with HTTP 429 and `Retry-After` instead.
pub const RATE_LIMITED_CODE: i32 = -32005;

/// Put into an HTTP request's extensions by the transport when it already
/// counted the call (named here) against the rate limits.
#[derive(Debug, Clone)]
pub(crate) struct RateCounted(pub(crate) String);

/// Where the caller's identity comes from.
#[derive(Clone)]
enum IdentitySource {
    /// Fixed for the whole connection (stdio: the local user).
    Fixed(Box<Identity>),
    /// Put into the HTTP request's extensions by the authenticate layer.
    HttpRequest,
}

/// The MCP server handler over a [`Gateway`].
#[derive(Clone)]
pub struct McpHandler {
    gateway: Arc<Gateway>,
    identity: IdentitySource,
}

impl McpHandler {
    /// A handler for HTTP, where each request carries its own identity.
    pub fn for_http(gateway: Arc<Gateway>) -> Self {
        McpHandler {
            gateway,
            identity: IdentitySource::HttpRequest,
        }
    }

    /// A handler for one stdio connection, on behalf of `identity`.
    pub fn for_connection(gateway: Arc<Gateway>, identity: Identity) -> Self {
        McpHandler {
            gateway,
            identity: IdentitySource::Fixed(Box::new(identity)),
        }
    }

    /// The caller of this request, and where it came from. Fails closed: an
    /// HTTP request without an identity (the authenticate layer did not
    /// run) is refused.
    fn caller(
        &self,
        context: &RequestContext<RoleServer>,
    ) -> Result<(Identity, Option<SocketAddr>), McpError> {
        match &self.identity {
            IdentitySource::Fixed(identity) => Ok(((**identity).clone(), None)),
            IdentitySource::HttpRequest => {
                let parts = context.extensions.get::<http::request::Parts>();
                let identity = parts.and_then(|p| p.extensions.get::<Identity>()).cloned();
                let peer = parts
                    .and_then(|p| p.extensions.get::<axum::extract::ConnectInfo<SocketAddr>>())
                    .map(|c| c.0);
                identity
                    .map(|identity| (identity, peer))
                    .ok_or_else(|| McpError::internal_error("request was not authenticated", None))
            }
        }
    }
}

impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        let mut config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("mcpgate", env!("CARGO_PKG_VERSION")));
        if let Some(instructions) = &self.gateway.options().instructions {
            config = config.with_instructions(instructions.clone());
        }
        config
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let (identity, source) = self.caller(&context)?;
        let cursor = request.as_ref().and_then(|r| r.cursor.as_deref());
        let page = self
            .gateway
            .list_tools(&identity, source, cursor)
            .map_err(to_mcp_error)?;
        let mut result = ListToolsResult::with_all_items(page.tools)
            .with_ttl_ms(0)
            .with_cache_scope(CacheScope::Private);
        result.next_cursor = page.next_cursor;
        Ok(result)
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let (identity, source) = self.caller(&context)?;
        let mut call = CallContext::new(identity, source);
        call.rate_counted = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<RateCounted>())
            .is_some_and(|counted| counted.0 == request.name);
        let arguments = request.arguments.unwrap_or_default();
        let span = tracing::info_span!(
            "tools/call",
            request_id = %call.request_id,
            subject = %call.identity.subject,
            tool = %request.name
        );
        // `instrument`, not `enter`: a guard held across `.await` would lend
        // this span to whatever else runs on the thread meanwhile.
        self.gateway
            .call_tool(&call, &request.name, arguments)
            .instrument(span)
            .await
            .map(|output| to_call_result(output).into())
            .map_err(to_mcp_error)
    }
}

/// Convert a [`ToolSpec`] to the SDK's tool type, through its wire form so
/// that no SDK constructor churn reaches the rest of the crate.
pub(crate) fn to_rmcp_tool(spec: &ToolSpec) -> Result<rmcp::model::Tool, String> {
    let mut wire = json!({
        "name": spec.name,
        "inputSchema": spec.input_schema,
        "annotations": spec.annotations,
    });
    if let Some(title) = &spec.title {
        wire["title"] = json!(title);
    }
    if let Some(description) = &spec.description {
        wire["description"] = json!(description);
    }
    serde_json::from_value(wire).map_err(|e| e.to_string())
}

fn to_call_result(output: ToolOutput) -> CallToolResult {
    let mut result = if output.is_error {
        CallToolResult::error(vec![ContentBlock::text(output.text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(output.text)])
    };
    result.structured_content = output.structured;
    result
}

pub(crate) fn to_mcp_error(error: CallError) -> McpError {
    let message = error.to_string();
    match error {
        CallError::UnknownTool(tool) => {
            McpError::invalid_params(message, Some(json!({ "tool": tool })))
        }
        CallError::InvalidCursor => McpError::invalid_params(message, None),
        CallError::AuditUnavailable { performed } => {
            McpError::internal_error(message, Some(json!({ "performed": performed })))
        }
        CallError::RateLimited { tool, retry_after } => McpError::new(
            ErrorCode(RATE_LIMITED_CODE),
            message,
            Some(json!({ "tool": tool, "retryAfterSeconds": retry_after.as_secs().max(1) })),
        ),
        CallError::Denied {
            tool,
            missing_scopes,
            ..
        } => McpError::new(
            ErrorCode(FORBIDDEN_CODE),
            message,
            Some(json!({ "tool": tool, "missingScopes": missing_scopes })),
        ),
    }
}
