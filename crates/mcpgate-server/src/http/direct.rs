//! Direct answers: an allowed 2026-07-28 `tools/call` in its plainest form,
//! answered by the transport itself.
//!
//! For every request the SDK parses the body a second time, sets up a
//! one-message service with its own task, channels and cancellation token,
//! and checks the `Mcp-*` headers by serialising the message again — some
//! 140,000 of the 472,000 instructions a call cost the gateway
//! (BENCHMARKS.md, "Load", 2026-12-08), for a request this transport has
//! already parsed, authenticated and decided. A request that
//! is plainly well formed ([`McpCall::plain_stateless_call`] and
//! [`eligible`]: the routing headers agree with the body, both media types
//! are accepted, nothing session-, task- or `Mcp-Param`-related) is
//! answered here instead, with the same bytes the SDK would send (a test
//! compares them). Everything else — other versions, sessions, other
//! methods, any irregularity, and tools of MCP backends, which may stream
//! notifications before their answer — goes through the SDK, which checks
//! it in full and gives the spec's errors.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use mcpgate_core::Identity;
use serde_json::Value;

use super::envelope::{McpCall, STATELESS_VERSION};
use super::json_rpc_error;
use crate::gateway::{CallContext, Gateway};
use crate::mcp::{call_answer_json, perform_call};

/// Whether the headers of a request whose body is a plain stateless
/// `tools/call` of `tool` let it be answered directly: exactly one
/// `MCP-Protocol-Version` (2026-07-28), `Mcp-Method` (`tools/call`) and
/// `Mcp-Name` (`tool`); `Content-Type: application/json`; an `Accept` that
/// lists `application/json` and `text/event-stream` without parameters; no
/// session id and no `Mcp-Param-*` header.
pub(super) fn eligible(headers: &HeaderMap, tool: &str) -> bool {
    let only = |name: &str, expected: &str| {
        let mut values = headers.get_all(name).iter();
        values
            .next()
            .is_some_and(|v| v.as_bytes() == expected.as_bytes())
            && values.next().is_none()
    };
    only("mcp-protocol-version", STATELESS_VERSION)
        && only("mcp-method", "tools/call")
        && only("mcp-name", tool)
        && only(header::CONTENT_TYPE.as_str(), "application/json")
        && accepts_json_and_sse(headers)
        && !headers.contains_key("mcp-session-id")
        && !headers
            .keys()
            .any(|name| name.as_str().starts_with("mcp-param-"))
}

/// `Accept` lists both media types the Streamable HTTP transport answers
/// with, and no parameters (a `q=0` would exclude one; the SDK decides those).
fn accepts_json_and_sse(headers: &HeaderMap) -> bool {
    let mut json = false;
    let mut sse = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else {
            return false;
        };
        for range in value.split(',') {
            let range = range.trim();
            if range.contains(';') {
                return false;
            }
            json |= range.eq_ignore_ascii_case("application/json");
            sse |= range.eq_ignore_ascii_case("text/event-stream");
        }
    }
    json && sse
}

/// Whether calls of `tool` may be answered directly: a tool of this
/// catalog whose backend never sends the caller anything before the answer.
pub(super) fn tool_answers_plainly(gateway: &Gateway, tool: &str) -> bool {
    gateway
        .catalog()
        .get(tool)
        .is_some_and(|entry| !entry.backend.notifies_caller())
}

/// Perform the admitted call of `tool` and answer it as the SDK would.
///
/// The call runs in a task of its own, as under the SDK: a client that
/// disconnects does not cut a call short between the backend and its audit
/// record.
pub(super) async fn answer(
    gateway: Arc<Gateway>,
    identity: Identity,
    peer: Option<SocketAddr>,
    tool: String,
    call: McpCall,
) -> Response {
    let id = call.id;
    let arguments = call.arguments.unwrap_or_default();
    let task_id = id.clone();
    let task = tokio::spawn(async move {
        let mut context = CallContext::new(identity, peer);
        context.admitted = true;
        let result = perform_call(&gateway, &context, &tool, arguments).await;
        call_answer_json(&task_id, result)
    });
    match task.await {
        Ok(Some(body)) => {
            // Every error a call can end in here (unknown tool after a
            // reload, audit unavailable) is one the SDK answers with 200.
            let mut response = Response::new(Body::from(body));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Ok(None) | Err(_) => internal_error(id),
    }
}

fn internal_error(id: Value) -> Response {
    json_rpc_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        -32603,
        "internal error: the call's answer could not be written",
        id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    const PLAIN: [(&str, &str); 5] = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/call"),
        ("mcp-name", "echo"),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
    ];

    #[test]
    fn plain_headers_are_eligible() {
        assert!(eligible(&headers(&PLAIN), "echo"));
        let mut split = headers(&PLAIN[..4]);
        split.append(
            header::ACCEPT,
            HeaderValue::from_static("text/event-stream"),
        );
        split.append(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(eligible(&split, "echo"));
    }

    #[test]
    fn anything_unusual_goes_to_the_sdk() {
        assert!(
            !eligible(&headers(&PLAIN), "other"),
            "Mcp-Name names another tool"
        );
        for (index, _) in PLAIN.iter().enumerate() {
            let mut without = PLAIN.to_vec();
            without.remove(index);
            assert!(
                !eligible(&headers(&without), "echo"),
                "without {:?}",
                PLAIN[index]
            );
        }
        let unusual: [(&str, &str); 7] = [
            ("mcp-protocol-version", "2025-11-25"),
            ("mcp-method", "tools/call"),
            ("mcp-session-id", "abc"),
            ("mcp-param-region", "eu"),
            ("accept", "application/json;q=0"),
            ("content-type", "application/json"),
            ("mcp-name", "echo"),
        ];
        for extra in unusual {
            let mut pairs = PLAIN.to_vec();
            pairs.push(extra);
            assert!(!eligible(&headers(&pairs), "echo"), "with {extra:?}");
        }
        let mut only_json = PLAIN.to_vec();
        only_json[4] = ("accept", "application/json");
        assert!(!eligible(&headers(&only_json), "echo"));
        let mut charset = PLAIN.to_vec();
        charset[3] = ("content-type", "application/json; charset=utf-8");
        assert!(!eligible(&headers(&charset), "echo"));
    }
}
