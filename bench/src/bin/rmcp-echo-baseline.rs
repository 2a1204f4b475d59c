//! The load benchmark's ceiling: a bare MCP server with `rmcp` and `axum`
//! and nothing else — one tool, `echo`, that answers with its arguments,
//! behind a trivial bearer-token check, in stateless JSON mode.
//!
//! `rmcp-echo-baseline PORT TOKEN` serves `http://127.0.0.1:PORT/mcp` and
//! prints `LISTENING` when ready. `rmcp-echo-baseline-mimalloc` is the same
//! server with mcpgate's allocator. Whatever mcpgate adds (authentication,
//! authorization, redaction, the durable audit log, the admission and
//! envelope layers) is measured against this.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value};

#[derive(Clone)]
struct Echo;

impl ServerHandler for Echo {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("rmcp-echo-baseline", "1"))
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut schema = Map::new();
        schema.insert("type".into(), Value::from("object"));
        Ok(ListToolsResult::with_all_items(vec![Tool::new(
            "echo",
            "Answers with its arguments.",
            Arc::new(schema),
        )]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let echoed = Value::Object(request.arguments.unwrap_or_default());
        let mut result = CallToolResult::success(vec![ContentBlock::text(echoed.to_string())]);
        result.structured_content = Some(echoed);
        Ok(result.into())
    }
}

/// Serve (the `-mimalloc` binary calls this too).
#[tokio::main]
pub async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(port), Some(token)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: rmcp-echo-baseline PORT TOKEN");
    };
    let expected: Arc<str> = format!("Bearer {token}").into();
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true);
    let service: StreamableHttpService<Echo, LocalSessionManager> =
        StreamableHttpService::new(|| Ok(Echo), Default::default(), config);
    let app = axum::Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            let expected = expected.clone();
            async move {
                let presented = request.headers().get(header::AUTHORIZATION);
                if presented.is_some_and(|value| value.as_bytes() == expected.as_bytes()) {
                    next.run(request).await
                } else {
                    StatusCode::UNAUTHORIZED.into_response()
                }
            }
        }));
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("LISTENING http://{}/mcp", listener.local_addr()?);
    // TCP_NODELAY, as mcpgate sets it.
    let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
        let _ = stream.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
