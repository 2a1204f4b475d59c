//! The JSON-RPC envelope check in front of the MCP parser.
//!
//! Every POST body must be one JSON-RPC 2.0 message. Anything else gets the
//! JSON-RPC spec's answer — `-32700` for text that is not JSON, `-32600` for
//! JSON that is not a message — with HTTP 400 and a JSON body, before the SDK
//! sees it. The parsed method and tool name are kept in the request's
//! extensions as an [`McpCall`] for later stages (authorization, audit).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Map, Value};

use super::json_rpc_error;

/// What a POSTed JSON-RPC message asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct McpCall {
    /// The JSON-RPC method (`tools/call`), or `None` for a response the
    /// client sends back to the server.
    pub method: Option<String>,
    /// `params.name` of a `tools/call`.
    pub tool: Option<String>,
    /// `params.arguments` of a `tools/call` (absent or not an object: none).
    pub arguments: Option<Map<String, Value>>,
    /// The message's id (`null` for notifications), echoed in errors.
    pub id: Value,
    /// A `tools/call` in the plainest 2026-07-28 form, which the transport
    /// may answer without the SDK's per-request machinery
    /// (`http/direct.rs`): `params` holds only `name`, `arguments` (an
    /// object, or absent) and a `_meta` of exactly the three per-request
    /// keys naming protocol version 2026-07-28, and the id is a string or
    /// an `i64`. Anything else goes through the SDK, which checks it fully.
    pub plain_stateless_call: bool,
}

/// The protocol version whose `tools/call`s may be answered directly.
pub(crate) const STATELESS_VERSION: &str = "2026-07-28";

/// Whether `params` of a `tools/call` is in the plain form described at
/// [`McpCall::plain_stateless_call`].
fn is_plain_stateless_call(params: &Map<String, Value>) -> bool {
    let keys_known = params
        .keys()
        .all(|key| matches!(key.as_str(), "name" | "arguments" | "_meta"));
    let arguments_plain = params.get("arguments").is_none_or(Value::is_object);
    let Some(Value::Object(meta)) = params.get("_meta") else {
        return false;
    };
    let named = |field: &str| {
        meta.get("io.modelcontextprotocol/clientInfo")
            .and_then(|info| info.get(field))
            .is_some_and(Value::is_string)
    };
    keys_known
        && arguments_plain
        && params.get("name").is_some_and(Value::is_string)
        && meta.len() == 3
        && meta
            .get("io.modelcontextprotocol/protocolVersion")
            .and_then(Value::as_str)
            == Some(STATELESS_VERSION)
        && named("name")
        && named("version")
        && meta
            .get("io.modelcontextprotocol/clientCapabilities")
            .is_some_and(Value::is_object)
}

/// Why a body is not an acceptable JSON-RPC message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum EnvelopeError {
    /// Not JSON at all (`-32700`).
    Parse(String),
    /// JSON, but not one JSON-RPC 2.0 message (`-32600`); the id to echo.
    Invalid(&'static str, Value),
}

/// Check one body.
pub(crate) fn inspect(body: &[u8]) -> Result<McpCall, EnvelopeError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| EnvelopeError::Parse(e.to_string()))?;
    let Value::Object(mut message) = value else {
        let why = if value.is_array() {
            "JSON-RPC batches are not supported; send one message per request"
        } else {
            "a JSON-RPC message must be a JSON object"
        };
        return Err(EnvelopeError::Invalid(why, Value::Null));
    };
    let id = match message.get("id") {
        None => Value::Null,
        Some(id @ Value::String(_)) => id.clone(),
        Some(id @ Value::Number(n)) if n.is_i64() || n.is_u64() => id.clone(),
        Some(_) => {
            return Err(EnvelopeError::Invalid(
                "`id` must be a string or an integer",
                Value::Null,
            ));
        }
    };
    if message.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(EnvelopeError::Invalid("`jsonrpc` must be \"2.0\"", id));
    }
    match message.get("method") {
        Some(Value::String(method)) => {
            let method = method.clone();
            // The body goes on as bytes; what is kept here is moved out of
            // the parsed copy, not cloned.
            let mut params = match message.remove("params") {
                Some(Value::Object(params)) if method == "tools/call" => params,
                _ => Map::new(),
            };
            let plain_stateless_call =
                is_plain_stateless_call(&params) && (id.is_string() || id.is_i64());
            let tool = match params.remove("name") {
                Some(Value::String(name)) => Some(name),
                _ => None,
            };
            let arguments = match params.remove("arguments") {
                Some(Value::Object(arguments)) => Some(arguments),
                _ => None,
            };
            Ok(McpCall {
                method: Some(method),
                tool,
                arguments,
                id,
                plain_stateless_call,
            })
        }
        Some(_) => Err(EnvelopeError::Invalid("`method` must be a string", id)),
        None if !id.is_null()
            && (message.contains_key("result") || message.contains_key("error")) =>
        {
            Ok(McpCall {
                method: None,
                tool: None,
                arguments: None,
                id,
                plain_stateless_call: false,
            })
        }
        None => Err(EnvelopeError::Invalid(
            "a JSON-RPC message needs a `method` (request or notification) or a `result`/`error` (response)",
            id,
        )),
    }
}

/// Middleware: check POST bodies, then pass them on untouched.
pub(crate) async fn check_envelope(request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // The body-limit layer outside this one bounds what is read here.
    let bytes: Bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return json_rpc_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                -32600,
                "request body too large",
                Value::Null,
            );
        }
    };
    match inspect(&bytes) {
        Ok(call) => {
            parts.extensions.insert(call);
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Err(EnvelopeError::Parse(detail)) => json_rpc_error(
            StatusCode::BAD_REQUEST,
            -32700,
            &format!("parse error: the body is not JSON ({detail})"),
            Value::Null,
        ),
        Err(EnvelopeError::Invalid(why, id)) => json_rpc_error(
            StatusCode::BAD_REQUEST,
            -32600,
            &format!("invalid request: {why}"),
            id,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(body: &str) -> bool {
        matches!(inspect(body.as_bytes()), Err(EnvelopeError::Invalid(..)))
    }

    #[test]
    fn accepts_requests_notifications_and_responses() {
        let call =
            inspect(br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"a":1}}}"#)
                .unwrap();
        assert_eq!(
            call,
            McpCall {
                method: Some("tools/call".into()),
                tool: Some("t".into()),
                arguments: serde_json::json!({"a": 1}).as_object().cloned(),
                id: serde_json::json!(1),
                plain_stateless_call: false,
            }
        );
        assert!(inspect(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).is_ok());
        assert_eq!(
            inspect(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#)
                .unwrap()
                .method,
            None
        );
    }

    #[test]
    fn only_the_plainest_stateless_calls_may_be_answered_directly() {
        let plain = serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "echo", "arguments": {"a": 1}, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "c", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}}}});
        let is_plain = |message: &Value| {
            inspect(message.to_string().as_bytes())
                .unwrap()
                .plain_stateless_call
        };
        assert!(is_plain(&plain));
        let mut no_arguments = plain.clone();
        no_arguments["params"]
            .as_object_mut()
            .unwrap()
            .remove("arguments");
        assert!(is_plain(&no_arguments));
        let mut string_id = plain.clone();
        string_id["id"] = "x".into();
        assert!(is_plain(&string_id));

        let changes: [(&str, Value); 9] = [
            ("/id", serde_json::json!(u64::MAX)),
            ("/method", "tools/list".into()),
            ("/params/task", serde_json::json!({})),
            ("/params/arguments", serde_json::json!([1])),
            ("/params/name", serde_json::json!(3)),
            ("/params/_meta/progressToken", "p".into()),
            (
                "/params/_meta/io.modelcontextprotocol~1protocolVersion",
                "2025-11-25".into(),
            ),
            (
                "/params/_meta/io.modelcontextprotocol~1clientInfo/version",
                serde_json::json!(1),
            ),
            (
                "/params/_meta/io.modelcontextprotocol~1clientCapabilities",
                serde_json::json!([]),
            ),
        ];
        for (pointer, value) in changes {
            let mut changed = plain.clone();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let key = key.replace("~1", "/");
            match changed.pointer_mut(parent).unwrap() {
                Value::Object(map) => {
                    map.insert(key, value);
                }
                other => *other = value,
            }
            assert!(!is_plain(&changed), "{pointer} changed: {changed}");
        }
        let mut no_meta = plain;
        no_meta["params"].as_object_mut().unwrap().remove("_meta");
        assert!(!is_plain(&no_meta));
    }

    #[test]
    fn refuses_what_is_not_one_message() {
        assert!(matches!(inspect(b"{nope"), Err(EnvelopeError::Parse(_))));
        assert!(matches!(inspect(b""), Err(EnvelopeError::Parse(_))));
        for body in [
            "[]",
            "42",
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
            r#"{"id":1,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":7}"#,
            r#"{"jsonrpc":"2.0","result":{}}"#,
        ] {
            assert!(invalid(body), "{body} must be refused");
        }
    }
}
