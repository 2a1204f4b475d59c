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
    let Value::Object(message) = value else {
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
            let params = (method == "tools/call")
                .then(|| message.get("params"))
                .flatten();
            let tool = params
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let arguments = params
                .and_then(|p| p.get("arguments"))
                .and_then(Value::as_object)
                .cloned();
            Ok(McpCall {
                method: Some(method.clone()),
                tool,
                arguments,
                id,
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
