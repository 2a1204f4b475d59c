//! Raw HTTP requests to the gateway, for tests that check status codes,
//! challenges and bodies byte by byte (the official clients hide those).

use std::time::Duration;

use serde_json::{Value, json};

use super::insufficient_scope_error;

/// One HTTP request to the gateway.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// `Null` sends no body.
    pub body: Value,
}

impl Req {
    pub fn post(url: &str, body: Value) -> Self {
        Req {
            method: "POST",
            url: url.to_owned(),
            headers: vec![(
                "accept".to_owned(),
                "application/json, text/event-stream".to_owned(),
            )],
            body,
        }
    }

    pub fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn bearer(self, key: &str) -> Self {
        self.header("authorization", &format!("Bearer {key}"))
    }
}

/// The JSON-RPC id of every request built by [`stateless`].
pub const REQUEST_ID: u64 = 1;

/// A stateless (2026-07-28) request for `method`.
pub fn stateless(url: &str, method: &str, mut params: Value) -> Req {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "mcpgate-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    let name = params["name"].as_str().map(str::to_owned);
    let mut request = Req::post(
        url,
        json!({"jsonrpc": "2.0", "id": REQUEST_ID, "method": method, "params": params}),
    )
    .header("mcp-protocol-version", "2026-07-28")
    .header("mcp-method", method);
    if let Some(name) = name {
        request = request.header("mcp-name", &name);
    }
    request
}

pub fn list_tools(url: &str) -> Req {
    stateless(url, "tools/list", json!({}))
}

pub fn call_tool(url: &str, name: &str, arguments: Value) -> Req {
    stateless(
        url,
        "tools/call",
        json!({"name": name, "arguments": arguments}),
    )
}

/// What the gateway answered.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub session: Option<String>,
    pub body: String,
}

impl Reply {
    /// The JSON-RPC messages of the body: one JSON document, or SSE events.
    pub fn messages(&self) -> Vec<Value> {
        if let Ok(message) = serde_json::from_str(&self.body) {
            return vec![message];
        }
        self.body
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .filter_map(|data| serde_json::from_str(data.trim()).ok())
            .collect()
    }

    /// The result of the answer to the request, which must have succeeded.
    pub fn result(&self) -> Value {
        self.messages()
            .into_iter()
            .find(|m| m.get("id").is_some_and(|id| !id.is_null()))
            .and_then(|m| m.get("result").cloned())
            .unwrap_or_else(|| panic!("no result in {self:?}"))
    }
}

/// `reply` answers a [`call_tool`] of `tool` whose caller lacks `missing`:
/// HTTP 403 with an RFC 6750 `insufficient_scope` challenge and the
/// JSON-RPC error as the body.
///
/// `scope` is the challenge's `scope` parameter: the caller's credential
/// scopes and the missing ones, sorted and space-separated, so that a client
/// stepping up keeps what it could do. `metadata_url` is the Protected
/// Resource Metadata the challenge points at, when an authorization server
/// is configured.
pub fn assert_insufficient_scope(
    reply: &Reply,
    tool: &str,
    missing: &[&str],
    scope: &str,
    metadata_url: Option<&str>,
) {
    assert_eq!(reply.status, 403, "{tool}: {reply:?}");
    let mut challenge = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
    if let Some(url) = metadata_url {
        challenge.push_str(&format!(r#", resource_metadata="{url}""#));
    }
    challenge.push_str(&format!(
        r#", error_description="calling {tool} needs scope {}""#,
        missing.join(" ")
    ));
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(challenge.as_str()),
        "{tool}: {reply:?}"
    );
    let body: Value = serde_json::from_str(&reply.body).unwrap_or_else(|e| {
        panic!("{tool}: the 403 body is not one JSON document ({e}): {reply:?}")
    });
    assert_eq!(
        body,
        json!({
            "jsonrpc": "2.0",
            "id": REQUEST_ID,
            "error": insufficient_scope_error(tool, missing),
        }),
        "{tool}: {reply:?}"
    );
}

/// The tool names of a `tools/list` reply, sorted.
pub fn reply_tool_names(reply: &Reply) -> Vec<String> {
    let mut names: Vec<String> = reply.result()["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {reply:?}"))
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// A blocking HTTP client for raw requests.
pub struct Http {
    pub runtime: tokio::runtime::Runtime,
    pub client: reqwest::Client,
}

impl Http {
    pub fn new() -> Self {
        Http {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cannot build a runtime"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("cannot build an HTTP client"),
        }
    }

    /// Send `request` and read the whole answer; panics if there is none.
    /// `GET url`, reading the whole answer.
    pub fn get(&self, url: &str) -> Reply {
        self.send(&Req::post(url, Value::Null).method("GET"))
    }

    /// Send `request` and read the whole answer; panics if there is none.
    pub fn send(&self, request: &Req) -> Reply {
        self.try_send(request, true)
            .unwrap_or_else(|e| panic!("{} {}: {e}", request.method, request.url))
    }

    /// Send `request`; read the body only if `read_body` (a stream that
    /// stays open would never end).
    pub fn try_send(&self, request: &Req, read_body: bool) -> Result<Reply, String> {
        self.runtime.block_on(async {
            let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap();
            let mut builder = self.client.request(method, &request.url);
            for (name, value) in &request.headers {
                builder = builder.header(name, value);
            }
            if !request.body.is_null() {
                builder = builder.json(&request.body);
            }
            let response = builder.send().await.map_err(|e| format!("{e:?}"))?;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
            };
            let (status, www_authenticate, session) = (
                response.status().as_u16(),
                header("www-authenticate"),
                header("mcp-session-id"),
            );
            let body = if read_body {
                response.text().await.map_err(|e| format!("{e:?}"))?
            } else {
                String::new()
            };
            Ok(Reply {
                status,
                www_authenticate,
                session,
                body,
            })
        })
    }
}
