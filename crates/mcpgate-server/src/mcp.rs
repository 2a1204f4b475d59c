//! The protocol stage: MCP through `rmcp`, kept behind this one module so
//! the SDK's churn stays here.
//!
//! [`McpHandler`] answers `initialize`/`server/discover`, `tools/list` and
//! `tools/call` for both protocol eras (2025-03-26 … 2025-11-25 with
//! sessions, 2026-07-28 stateless); `rmcp` does the framing, version
//! negotiation and `Mcp-Method`/`Mcp-Name` header checks — except for the
//! plain stateless `tools/call`s the HTTP transport answers itself
//! (`http/direct.rs`, through `perform_call` and `call_answer_json`
//! here), whose headers it checks against the body before.

// Logging is deprecated by SEP-2577 (2026-07-28) but still spoken by the
// protocol versions most clients use; `logging/setLevel` is passed on.
#![allow(deprecated)]

use std::net::SocketAddr;
use std::sync::Arc;

use mcpgate_core::{Identity, ToolOutput, ToolSpec};
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestParams,
    CompleteResult, ContentBlock, ErrorCode, GetPromptRequestParams, GetPromptResponse,
    Implementation, JsonObject, ListPromptsResult, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, RequestId, ServerCapabilities, ServerConfig, ServerJsonRpcMessage,
    ServerResult, SetLevelRequestParams, SubscribeRequestParams, UnsubscribeRequestParams,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::json;
use tracing::Instrument;

use crate::gateway::{CallContext, CallError, Gateway};
use crate::upstream::{Downstream, Upstreams};

/// Numbers the MCP sessions of this process, so that what an upstream sends
/// can be relayed to the session it belongs to.
static NEXT_SESSION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn next_session() -> u64 {
    NEXT_SESSION.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// JSON-RPC error code for a call refused by authorization (implementation
/// defined range). Over HTTP a refusal for missing scopes is answered with
/// HTTP 403 and a step-up challenge instead.
pub const FORBIDDEN_CODE: i32 = -32003;

/// JSON-RPC error code for a call refused by a rate limit. Over HTTP it is
/// answered with HTTP 429 and `Retry-After` instead.
pub const RATE_LIMITED_CODE: i32 = -32005;

/// Put into an HTTP request's extensions by the admission layer when it
/// allowed the `tools/call` of the tool named here — for this caller, with
/// the arguments parsed from this very body — and counted it against the
/// rate limits. Only the transport can set request extensions, never the
/// client.
#[derive(Debug, Clone)]
pub(crate) struct Admitted(pub(crate) String);

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
    /// This handler's MCP session.
    session: u64,
}

impl McpHandler {
    /// A handler for HTTP, where each request carries its own identity.
    pub fn for_http(gateway: Arc<Gateway>) -> Self {
        McpHandler {
            gateway,
            identity: IdentitySource::HttpRequest,
            session: next_session(),
        }
    }

    /// The same handler for a new MCP session (HTTP makes one per session).
    pub fn for_new_session(&self) -> Self {
        McpHandler {
            session: next_session(),
            ..self.clone()
        }
    }

    /// A handler for one stdio connection, on behalf of `identity`.
    pub fn for_connection(gateway: Arc<Gateway>, identity: Identity) -> Self {
        McpHandler {
            gateway,
            identity: IdentitySource::Fixed(Box::new(identity)),
            session: next_session(),
        }
    }

    /// A context for a request other than `tools/call`.
    fn context(&self, context: &RequestContext<RoleServer>) -> Result<CallContext, McpError> {
        let (identity, source) = self.caller(context)?;
        Ok(CallContext::new(identity, source))
    }

    /// Which backends the caller of `call` may use beyond their tools.
    fn allowed<'a>(&'a self, call: &'a CallContext) -> impl Fn(&str) -> bool + Sync + 'a {
        move |backend| {
            self.gateway
                .may_use_backend(&call.identity, call.source, backend)
        }
    }

    fn upstreams(&self) -> &Upstreams {
        self.gateway.upstreams()
    }

    /// Audit a forwarded request and answer with its result.
    async fn forwarded<T>(
        &self,
        call: &CallContext,
        method: &str,
        target: &str,
        allowed: bool,
        perform: impl Future<Output = Result<T, McpError>>,
    ) -> Result<T, McpError> {
        self.gateway
            .audit_forwarded(call, method, target, allowed, perform)
            .await
            .map_err(to_mcp_error)?
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
                let peer = parts.and_then(peer_of);
                identity
                    .map(|identity| (identity, peer))
                    .ok_or_else(|| McpError::internal_error("request was not authenticated", None))
            }
        }
    }

    /// [`McpHandler::caller`] for a request whose context is not needed
    /// again: an HTTP request's identity is moved out, not copied.
    fn take_caller(
        &self,
        context: &mut RequestContext<RoleServer>,
    ) -> Result<(Identity, Option<SocketAddr>), McpError> {
        if let IdentitySource::HttpRequest = self.identity
            && let Some(parts) = context.extensions.get_mut::<http::request::Parts>()
            && let Some(identity) = parts.extensions.remove::<Identity>()
        {
            return Ok((identity, peer_of(parts)));
        }
        self.caller(context)
    }
}

/// The TCP peer of an HTTP request, as the server recorded it.
fn peer_of(parts: &http::request::Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

// Every method's future is a variant of the one future rmcp spawns for each
// request, which is as large as the largest of them and is moved into its
// task: the methods that wait on an upstream box that wait, so that a
// `tools/call` does not pay for copying a resource read's state
// (BENCHMARKS.md, "Load", 2026-12-07).
impl ServerHandler for McpHandler {
    fn get_info(&self) -> ServerConfig {
        let upstreams = self.upstreams();
        let mut capabilities = if upstreams.is_empty() {
            ServerCapabilities::builder().enable_tools().build()
        } else {
            // An upstream's tools can change while the gateway runs.
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build()
        };
        if upstreams.any_resources() {
            let mut resources = rmcp::model::ResourcesCapability::default();
            resources.subscribe = Some(true);
            capabilities.resources = Some(resources);
        }
        if upstreams.any_prompts() {
            capabilities.prompts = Some(Default::default());
        }
        if upstreams.any_resources() || upstreams.any_prompts() {
            capabilities.completions = Some(Default::default());
        }
        if !upstreams.is_empty() {
            capabilities.logging = Some(Default::default());
        }
        let mut config = ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("mcpgate", env!("CARGO_PKG_VERSION")));
        if let Some(instructions) = &self.gateway.options().instructions {
            config = config.with_instructions(instructions.clone());
        }
        config
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        if !self.upstreams().is_empty() {
            self.gateway.add_session(context.peer);
        }
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
        mut context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let (identity, source) = self.take_caller(&mut context)?;
        let mut call = CallContext::new(identity, source);
        call.admitted = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|p| p.extensions.get::<Admitted>())
            .is_some_and(|admitted| admitted.0 == request.name);
        call.downstream = Some(Downstream {
            session: self.session,
            peer: context.peer.clone(),
            request_id: context.id.clone(),
            progress_token: context.meta.get_progress_token(),
            cancelled: context.ct.clone(),
        });
        let arguments = request.arguments.unwrap_or_default();
        perform_call(&self.gateway, &call, &request.name, arguments)
            .await
            .map(Into::into)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let call = self.context(&context)?;
        let allowed = self.allowed(&call);
        let resources = Box::pin(self.upstreams().list_resources(&allowed)).await?;
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        let call = self.context(&context)?;
        let allowed = self.allowed(&call);
        let templates = Box::pin(self.upstreams().list_resource_templates(&allowed)).await?;
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        let call = self.context(&context)?;
        let backend = Box::pin(self.upstreams().resource_owner(&request.uri)).await?;
        let allowed = self.allowed(&call)(backend.name());
        let uri = request.uri.clone();
        Box::pin(
            self.forwarded(&call, "resources/read", &uri, allowed, async {
                Upstreams::read_resource(backend, request).await
            }),
        )
        .await
        .map(Into::into)
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let call = self.context(&context)?;
        let backend = Box::pin(self.upstreams().resource_owner(&request.uri)).await?;
        let allowed = self.allowed(&call)(backend.name());
        let uri = request.uri.clone();
        let peer = context.peer.clone();
        Box::pin(
            self.forwarded(&call, "resources/subscribe", &uri, allowed, async {
                Upstreams::subscribe(backend, request, self.session, peer).await
            }),
        )
        .await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let call = self.context(&context)?;
        let backend = Box::pin(self.upstreams().resource_owner(&request.uri)).await?;
        let allowed = self.allowed(&call)(backend.name());
        let uri = request.uri.clone();
        Box::pin(
            self.forwarded(&call, "resources/unsubscribe", &uri, allowed, async {
                Upstreams::unsubscribe(backend, request, self.session).await
            }),
        )
        .await
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        let call = self.context(&context)?;
        let allowed = self.allowed(&call);
        let prompts = Box::pin(self.upstreams().list_prompts(&allowed)).await?;
        Ok(ListPromptsResult::with_all_items(prompts))
    }

    async fn get_prompt(
        &self,
        mut request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let call = self.context(&context)?;
        let (backend, name) = self.upstreams().prompt_owner(&request.name)?;
        let allowed = self.allowed(&call)(backend.name());
        let shown = std::mem::replace(&mut request.name, name);
        Box::pin(
            self.forwarded(&call, "prompts/get", &shown, allowed, async {
                Upstreams::get_prompt(backend, request).await
            }),
        )
        .await
        .map(Into::into)
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let call = self.context(&context)?;
        let (backend, request) = Box::pin(self.upstreams().completion_owner(request)).await?;
        let allowed = self.allowed(&call)(backend.name());
        Box::pin(self.forwarded(
            &call,
            "completion/complete",
            backend.name(),
            allowed,
            async { Upstreams::complete(backend, request).await },
        ))
        .await
    }

    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.caller(&context)?;
        Box::pin(self.upstreams().set_level(request)).await
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

/// Perform `tools/call` of `name` for `call` and answer in MCP's terms,
/// under one log span per call. Shared by [`McpHandler::call_tool`] and the
/// HTTP transport's direct answers (`http::direct`).
pub(crate) async fn perform_call(
    gateway: &Gateway,
    call: &CallContext,
    name: &str,
    arguments: JsonObject,
) -> Result<CallToolResult, McpError> {
    let span = tracing::info_span!(
        "tools/call",
        request_id = %call.request_id,
        subject = %call.identity.subject,
        tool = %name
    );
    // `instrument`, not `enter`: a guard held across `.await` would lend
    // this span to whatever else runs on the thread meanwhile.
    gateway
        .call_tool(call, name, arguments)
        .instrument(span)
        .await
        .map(to_call_result)
        .map_err(to_mcp_error)
}

/// The JSON-RPC answer to a 2026-07-28 `tools/call` whose id is `id`, as
/// the SDK writes it (`None` when `id` is neither a string nor an `i64`,
/// which the SDK would not have accepted either).
pub(crate) fn call_answer_json(
    id: &serde_json::Value,
    result: Result<CallToolResult, McpError>,
) -> Option<Vec<u8>> {
    let id = match id {
        serde_json::Value::String(id) => RequestId::String(id.as_str().into()),
        serde_json::Value::Number(id) => RequestId::Number(id.as_i64()?),
        _ => return None,
    };
    let message = match result {
        Ok(result) => ServerJsonRpcMessage::response(ServerResult::CallToolResult(result), id),
        Err(error) => ServerJsonRpcMessage::error(error, Some(id)),
    };
    serde_json::to_vec(&message).ok()
}

fn to_call_result(output: ToolOutput) -> CallToolResult {
    // An MCP backend's content blocks go back as they came.
    let blocks = output
        .content
        .as_ref()
        .and_then(|content| serde_json::from_value::<Vec<ContentBlock>>(content.clone()).ok());
    if let Some(blocks) = blocks {
        let mut result = if output.is_error {
            CallToolResult::error(blocks)
        } else {
            CallToolResult::success(blocks)
        };
        result.structured_content = output.structured;
        return result;
    }
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
