//! Refusals that HTTP answers with its own status codes.
//!
//! A `tools/call` whose caller lacks a scope gets HTTP 403 with an RFC 6750
//! `insufficient_scope` challenge naming the scopes to ask for (the ones the
//! caller's credential holds plus the missing ones, so stepping up never
//! loses access), and one over a rate limit gets HTTP 429 with
//! `Retry-After`. Both are decided by [`Gateway::admit_call`], which audits
//! them. Every other call passes on to the MCP layer: an allowed one marked
//! [`Admitted`], so that it is not decided twice; the rest to be decided
//! and audited there — or, when it is plain enough, answered at once
//! ([`super::direct`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use mcpgate_core::Identity;
use serde_json::{Map, Value, json};

use super::direct;
use super::envelope::McpCall;
use crate::gateway::{CallError, Gateway};
use crate::mcp::{Admitted, FORBIDDEN_CODE, RATE_LIMITED_CODE};

/// What the admission layer needs.
#[derive(Clone)]
pub(crate) struct Admission {
    pub(crate) gateway: Arc<Gateway>,
    /// Named in challenges so clients can find the authorization server.
    pub(crate) metadata_url: Option<Arc<str>>,
}

/// Middleware: decide `tools/call` requests before the MCP layer.
pub(crate) async fn admit(
    State(admission): State<Admission>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(call) = request.extensions().get::<McpCall>() else {
        return next.run(request).await;
    };
    let (Some("tools/call"), Some(tool)) = (call.method.as_deref(), call.tool.clone()) else {
        return next.run(request).await;
    };
    let Some(identity) = request.extensions().get::<Identity>() else {
        // The MCP layer refuses unauthenticated requests itself.
        return next.run(request).await;
    };
    let no_arguments = Map::new();
    let arguments = call.arguments.as_ref().unwrap_or(&no_arguments);
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let admitted = admission
        .gateway
        .admit_call(identity, peer, &tool, arguments)
        .await;
    match admitted {
        Ok(true)
            if call.plain_stateless_call
                && direct::eligible(request.headers(), &tool)
                && direct::tool_answers_plainly(&admission.gateway, &tool) =>
        {
            let extensions = request.extensions_mut();
            match (
                extensions.remove::<McpCall>(),
                extensions.remove::<Identity>(),
            ) {
                (Some(call), Some(identity)) => {
                    direct::answer(admission.gateway, identity, peer, tool, call).await
                }
                // Both were there a moment ago.
                _ => next.run(request).await,
            }
        }
        Ok(admitted) => {
            if admitted {
                request.extensions_mut().insert(Admitted(tool));
            }
            next.run(request).await
        }
        Err(CallError::Denied { missing_scopes, .. }) => insufficient_scope(
            &tool,
            identity,
            &missing_scopes,
            admission.metadata_url.as_deref(),
            call.id.clone(),
        ),
        Err(CallError::RateLimited { retry_after, .. }) => {
            too_many_requests(&tool, retry_after, call.id.clone())
        }
        Err(_) => next.run(request).await,
    }
}

fn insufficient_scope(
    tool: &str,
    identity: &Identity,
    missing: &[String],
    metadata_url: Option<&str>,
    id: Value,
) -> Response {
    // The scopes to ask for: what the credential already carries and what
    // is missing (MCP "recommended approach"), so a client that replaces
    // its token keeps what it could do before.
    let mut wanted: Vec<&str> = identity.scopes.iter().map(String::as_str).collect();
    wanted.extend(missing.iter().map(String::as_str));
    wanted.sort_unstable();
    wanted.dedup();
    let mut challenge = format!(
        "Bearer error=\"insufficient_scope\", scope=\"{}\"",
        wanted.join(" ")
    );
    if let Some(url) = metadata_url {
        challenge.push_str(&format!(", resource_metadata=\"{url}\""));
    }
    challenge.push_str(&format!(
        ", error_description=\"calling {tool} needs scope {}\"",
        missing.join(" ")
    ));
    let message = format!(
        "not allowed to call `{tool}`: missing scope {}",
        missing.join(", ")
    );
    let mut response = error_response(
        StatusCode::FORBIDDEN,
        FORBIDDEN_CODE,
        &message,
        json!({ "tool": tool, "missingScopes": missing }),
        id,
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

fn too_many_requests(tool: &str, retry_after: Duration, id: Value) -> Response {
    // Whole seconds, rounded up: a client that waits exactly this long passes.
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        RATE_LIMITED_CODE,
        &format!("rate limit exceeded for `{tool}`; retry in {seconds} s"),
        json!({ "tool": tool, "retryAfterSeconds": seconds }),
        id,
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn error_response(
    status: StatusCode,
    code: i32,
    message: &str,
    data: Value,
    id: Value,
) -> Response {
    let mut error = Map::new();
    error.insert("code".into(), json!(code));
    error.insert("message".into(), json!(message));
    error.insert("data".into(), data);
    let body = json!({ "jsonrpc": "2.0", "id": id, "error": error });
    let mut response = Response::new(axum::body::Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
