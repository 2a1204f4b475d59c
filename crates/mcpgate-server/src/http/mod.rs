//! The Streamable HTTP transport: one MCP endpoint behind a `Host`/`Origin`
//! guard and the authenticate stage.
//!
//! Layer order (outermost first): body limit → host/origin guard →
//! authenticate → session binding → JSON-RPC envelope check → admission
//! (403 step-up challenges, 429 rate limits; plain stateless calls answered
//! directly) → MCP. A request that fails a check never reaches the MCP
//! parser.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mcpgate_auth::{AuthError, Authenticator, RequestFacts};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::gateway::Gateway;
use crate::mcp::McpHandler;

mod admission;
mod direct;
pub(crate) mod envelope;
mod sessions;

pub use envelope::McpCall;

/// How the HTTP transport is exposed.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Path of the MCP endpoint, e.g. `/mcp`.
    pub path: String,
    /// Accepted `Host` header values: `host:port`, or `host` for any port.
    /// Requests naming another host are refused (DNS rebinding defence).
    pub allowed_hosts: Vec<String>,
    /// Accepted `Origin` header values (`scheme://host[:port]`). A request
    /// without `Origin` (not from a browser) is not affected.
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted.
    pub max_body_bytes: usize,
    /// Protected Resource Metadata (RFC 9728), served when callers can
    /// obtain tokens from an authorization server.
    pub protected_resource: Option<ProtectedResource>,
    /// More routes served beside MCP, behind the same Host/Origin guard
    /// but not the MCP authentication (the embedded authorization server:
    /// its endpoints authenticate clients themselves).
    pub extra_routes: Option<Router>,
}

/// What `/.well-known/oauth-protected-resource` says about this gateway.
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    /// The resource identifier: exactly the public URL of the MCP endpoint.
    pub resource: String,
    /// Issuers whose tokens are accepted.
    pub authorization_servers: Vec<String>,
    /// Scopes the tools may require.
    pub scopes_supported: Vec<String>,
    /// Scopes offered in 401 challenges: what a client should ask for first
    /// (the read-only tools' scopes); it steps up on a 403 when it needs
    /// more.
    pub challenge_scopes: Vec<String>,
    /// The metadata's own URL, in its path-inserted form (RFC 9728 §3.1),
    /// as named in `WWW-Authenticate` challenges.
    pub metadata_url: String,
}

/// The guard's settings, normalised once.
#[derive(Clone)]
struct Guard {
    hosts: Arc<[String]>,
    origins: Arc<[String]>,
}

#[derive(Clone)]
struct AuthState {
    authenticator: Arc<dyn Authenticator>,
    gateway: Arc<Gateway>,
    /// Named in challenges so clients can find the authorization server.
    metadata_url: Option<Arc<str>>,
    /// The scopes the endpoint's tools use, offered in challenges.
    scopes: Option<Arc<str>>,
}

/// The axum router serving MCP at `options.path` and `/healthz`.
///
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` so
/// that audit records can name the peer. Cancel `shutdown` to end open
/// MCP streams.
pub fn router(
    gateway: Arc<Gateway>,
    authenticator: Arc<dyn Authenticator>,
    options: &HttpOptions,
    shutdown: CancellationToken,
) -> Router {
    let config = StreamableHttpServerConfig::default()
        // Host and Origin are checked by our own guard, configured once.
        .disable_allowed_hosts()
        .with_max_request_body_bytes(options.max_body_bytes)
        .with_cancellation_token(shutdown)
        .with_json_response(true);
    let handler = McpHandler::for_http(gateway.clone());
    let mcp: StreamableHttpService<McpHandler, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(handler.for_new_session()),
        Default::default(),
        config,
    );

    let guard = Guard {
        hosts: options
            .allowed_hosts
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect(),
        origins: options
            .allowed_origins
            .iter()
            .map(|o| o.trim_end_matches('/').to_ascii_lowercase())
            .collect(),
    };
    let metadata_url: Option<Arc<str>> = options
        .protected_resource
        .as_ref()
        .map(|p| Arc::from(p.metadata_url.as_str()));
    let mcp_routes = Router::new()
        .nest_service(&options.path, mcp)
        .layer(middleware::from_fn_with_state(
            admission::Admission {
                gateway: gateway.clone(),
                metadata_url: metadata_url.clone(),
            },
            admission::admit,
        ))
        .layer(middleware::from_fn(envelope::check_envelope))
        .layer(middleware::from_fn_with_state(
            sessions::SessionOwners::default(),
            sessions::bind_sessions,
        ))
        .layer(middleware::from_fn_with_state(
            AuthState {
                authenticator,
                gateway: gateway.clone(),
                metadata_url,
                scopes: options
                    .protected_resource
                    .as_ref()
                    .filter(|p| !p.challenge_scopes.is_empty())
                    .map(|p| Arc::from(p.challenge_scopes.join(" ").as_str())),
            },
            authenticate,
        ));
    let health_gateway = gateway.clone();
    // A path nothing serves is 404, without authentication: not a 401
    // audited as a failed sign-in (browsers ask for /favicon.ico on every
    // page of the admin console).
    let mut router = Router::new()
        .route("/healthz", get(move || health(health_gateway.clone())))
        .fallback(|| async { StatusCode::NOT_FOUND });
    if let Some(resource) = &options.protected_resource {
        let document = json!({
            "resource": resource.resource,
            "authorization_servers": resource.authorization_servers,
            "scopes_supported": resource.scopes_supported,
            "bearer_methods_supported": ["header"],
            "resource_name": "mcpgate",
        });
        let serve = move || {
            let document = document.clone();
            async move { axum::Json(document) }
        };
        // Both the bare and the path-inserted well-known locations.
        router = router
            .route("/.well-known/oauth-protected-resource", get(serve.clone()))
            .route(
                &format!("/.well-known/oauth-protected-resource{}", options.path),
                get(serve),
            );
    }
    if let Some(extra) = &options.extra_routes {
        router = router.merge(extra.clone());
    }
    router
        .merge(mcp_routes)
        .layer(middleware::from_fn_with_state(guard, host_and_origin_guard))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            options.max_body_bytes,
        ))
}

/// 200 when the gateway can serve calls; 503 when it cannot, e.g. because
/// the audit log is down and the gateway fails closed.
async fn health(gateway: Arc<Gateway>) -> Response {
    let audit_ok = gateway.audit_available();
    let status = if audit_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if audit_ok { "ok" } else { "degraded" },
        "audit": if audit_ok { "ok" } else { "unavailable" },
        "tools": gateway.catalog().len(),
    });
    (status, axum::Json(body)).into_response()
}

async fn host_and_origin_guard(
    State(guard): State<Guard>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    // HTTP/2 carries the authority in the URI instead of a Host header.
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    if !guard.hosts.is_empty()
        && !host
            .as_deref()
            .is_some_and(|h| host_allowed(&guard.hosts, h))
    {
        return forbidden(
            "the Host header does not name this server; add it to server.allowed_hosts or set server.public_url",
        );
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin
            .to_str()
            .unwrap_or("")
            .trim_end_matches('/')
            .to_ascii_lowercase();
        if !guard.origins.contains(&origin) {
            return forbidden(
                "requests from this Origin are not allowed; add it to server.allowed_origins",
            );
        }
    }
    next.run(request).await
}

fn host_allowed(allowed: &[String], host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let name = match host.rfind(':') {
        Some(i) if !host.ends_with(']') => &host[..i],
        _ => host.as_str(),
    };
    allowed.iter().any(|entry| *entry == host || *entry == name)
}

async fn authenticate(
    State(state): State<AuthState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let facts = RequestFacts {
        headers: request.headers(),
        peer,
        client_certificate: request
            .extensions()
            .get::<mcpgate_core::ClientCertificate>(),
    };
    match state.authenticator.authenticate(facts).await {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(error) => {
            // The reason names key ids, never a secret; the caller is told
            // less than the log.
            tracing::info!(peer = ?peer, reason = %error, "authentication failed");
            state
                .gateway
                .audit_authentication_failure(peer, &error)
                .await;
            unauthorized(
                &error,
                state.metadata_url.as_deref(),
                state.scopes.as_deref(),
            )
        }
    }
}

/// RFC 6750 answers: 401 with a `Bearer` challenge (`invalid_token` when a
/// credential was sent; `resource_metadata` per RFC 9728 and the scopes the
/// tools use when an authorization server is configured), or 503 when
/// credentials cannot be checked.
fn unauthorized(error: &AuthError, metadata_url: Option<&str>, scopes: Option<&str>) -> Response {
    let (message, invalid) = match error {
        AuthError::Missing => ("authentication required", false),
        AuthError::Invalid(_) | AuthError::Rejected { .. } => ("invalid credential", true),
        AuthError::Unavailable(_) => {
            let message = "credentials cannot be checked right now";
            return json_rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                -32001,
                message,
                Value::Null,
            );
        }
    };
    let mut challenge = String::from("Bearer realm=\"mcpgate\"");
    if let Some(url) = metadata_url {
        challenge.push_str(&format!(", resource_metadata=\"{url}\""));
    }
    if let Some(scopes) = scopes {
        challenge.push_str(&format!(", scope=\"{scopes}\""));
    }
    if invalid {
        challenge.push_str(", error=\"invalid_token\"");
    }
    let mut response = json_rpc_error(StatusCode::UNAUTHORIZED, -32001, message, Value::Null);
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

fn forbidden(message: &str) -> Response {
    json_rpc_error(StatusCode::FORBIDDEN, -32600, message, Value::Null)
}

/// An HTTP error whose body is a JSON-RPC error response.
fn json_rpc_error(status: StatusCode, code: i32, message: &str, id: Value) -> Response {
    let body = json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } });
    let mut response = (status, Body::from(body.to_string())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::host_allowed;

    #[test]
    fn host_matching() {
        let allowed = vec![
            "127.0.0.1:8080".to_owned(),
            "localhost".to_owned(),
            "[::1]:8080".to_owned(),
        ];
        assert!(host_allowed(&allowed, "127.0.0.1:8080"));
        assert!(host_allowed(&allowed, "LOCALHOST:9999"));
        assert!(host_allowed(&allowed, "[::1]:8080"));
        assert!(!host_allowed(&allowed, "127.0.0.1:8081"));
        assert!(!host_allowed(&allowed, "evil.example:8080"));
        assert!(!host_allowed(&allowed, "127.0.0.1.evil.example:8080"));
    }
}
