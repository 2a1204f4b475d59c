//! MCP over Streamable HTTP at the wire level, in both protocol eras, and
//! the refusals a client meets when it sends something wrong.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mcpgate_auth::LocalUser;
use mcpgate_core::LocalUserOnly;
use mcpgate_demo::DemoApi;
use mcpgate_openapi::{BackendCredential, ExecutorConfig, HttpExecutor};
use mcpgate_server::http::{HttpOptions, router};
use mcpgate_server::{Catalog, Gateway, GatewayOptions, LogAuditSink, OpenApiBackend};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const DEMO_KEY: &str = "demo-backend-key";
const MODERN: &str = "2026-07-28";

struct Server {
    url: String,
    client: reqwest::Client,
    _shutdown: tokio_util::sync::DropGuard,
}

/// The demo API behind an in-process gateway with `page_size` tools a page.
async fn start(page_size: usize) -> Server {
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = api_listener.local_addr().unwrap();
    tokio::spawn(DemoApi::new(DEMO_KEY).serve(api_listener));

    let import = mcpgate_openapi::import_str(mcpgate_demo::OPENAPI_YAML, "inventory").unwrap();
    let executor = HttpExecutor::new(ExecutorConfig {
        base_url: format!("http://{api_addr}").parse().unwrap(),
        credential: Some(BackendCredential::Header {
            name: "X-Demo-Key".into(),
            value: DEMO_KEY.to_owned().into(),
        }),
        timeout: Duration::from_secs(5),
        max_response_bytes: 1 << 20,
    })
    .unwrap();
    let operations: HashMap<_, _> = import
        .tools
        .iter()
        .map(|t| (t.spec.name.clone(), t.operation.clone()))
        .collect();
    let backend: Arc<dyn mcpgate_server::Backend> =
        Arc::new(OpenApiBackend::new(executor, operations));
    let mut catalog = Catalog::new();
    for tool in import.tools {
        catalog.add(tool.spec, backend.clone()).unwrap();
    }
    let gateway = Arc::new(Gateway::new(
        catalog,
        Arc::new(LocalUserOnly),
        Arc::new(LogAuditSink),
        GatewayOptions {
            page_size,
            ..GatewayOptions::default()
        },
    ));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = HttpOptions {
        path: "/mcp".into(),
        allowed_hosts: vec![addr.to_string()],
        allowed_origins: vec!["https://allowed.example".into()],
        max_body_bytes: 64 * 1024,
        protected_resource: None,
        extra_routes: None,
    };
    let shutdown = CancellationToken::new();
    let app = router(gateway, Arc::new(LocalUser), &options, shutdown.clone());
    let stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
        .unwrap();
    });
    Server {
        url: format!("http://{addr}/mcp"),
        client: reqwest::Client::new(),
        _shutdown: shutdown.drop_guard(),
    }
}

/// The `_meta` every 2026-07-28 request carries instead of a session.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientInfo": {"name": "protocol-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

fn modern_request(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = modern_meta();
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    /// The JSON-RPC message(s): a plain JSON body, or the `data:` lines of
    /// an SSE body.
    messages: Vec<Value>,
}

impl Reply {
    fn message(&self) -> &Value {
        self.messages
            .last()
            .unwrap_or_else(|| panic!("no JSON-RPC message (status {})", self.status))
    }
}

impl Server {
    async fn post(&self, headers: &[(&str, &str)], body: impl Into<reqwest::Body>) -> Reply {
        let mut request = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.body(body).send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let messages = if headers.get("content-type")
            == Some(&HeaderValue::from_static("text/event-stream"))
        {
            text.lines()
                .filter_map(|line| line.strip_prefix("data:"))
                .filter_map(|data| serde_json::from_str(data.trim()).ok())
                .collect()
        } else {
            serde_json::from_str(&text).into_iter().collect()
        };
        Reply {
            status,
            headers,
            messages,
        }
    }

    async fn post_json(&self, headers: &[(&str, &str)], body: &Value) -> Reply {
        self.post(headers, body.to_string()).await
    }

    /// A 2026-07-28 request with the routing headers the spec requires.
    async fn modern(&self, id: u64, method: &str, params: Value) -> Reply {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut headers = vec![("mcp-protocol-version", MODERN), ("mcp-method", method)];
        if let Some(name) = name.as_deref() {
            headers.push(("mcp-name", name));
        }
        self.post_json(&headers, &modern_request(id, method, params))
            .await
    }

    /// Open a 2025-06-18 session; returns its id.
    async fn open_legacy_session(&self) -> String {
        let reply = self
            .post_json(
                &[],
                &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": {"name": "protocol-test", "version": "1"}}}),
            )
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.message()["result"]["protocolVersion"], "2025-06-18");
        let session = reply.headers["mcp-session-id"].to_str().unwrap().to_owned();
        let initialized = self
            .post_json(
                &[
                    ("mcp-session-id", &session),
                    ("mcp-protocol-version", "2025-06-18"),
                ],
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!(initialized.status, 202);
        session
    }
}

fn tool_names(result: &Value) -> Vec<String> {
    result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn legacy_era_uses_sessions_and_checks_the_version_header() {
    let server = start(200).await;
    let session = server.open_legacy_session().await;
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});

    let reply = server
        .post_json(
            &[
                ("mcp-session-id", &session),
                ("mcp-protocol-version", "2025-06-18"),
            ],
            &list,
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(tool_names(&reply.message()["result"]).len(), 6);

    let call = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
        "params": {"name": "getItem", "arguments": {"itemId": 1}}});
    let reply = server
        .post_json(
            &[
                ("mcp-session-id", &session),
                ("mcp-protocol-version", "2025-06-18"),
            ],
            &call,
        )
        .await;
    assert_eq!(
        reply.message()["result"]["structuredContent"]["name"],
        "widget"
    );

    let unknown_session = server
        .post_json(
            &[
                ("mcp-session-id", "not-a-session"),
                ("mcp-protocol-version", "2025-06-18"),
            ],
            &list,
        )
        .await;
    assert_eq!(
        unknown_session.status, 404,
        "an unknown session id is refused"
    );

    let bad_version = server
        .post_json(
            &[
                ("mcp-session-id", &session),
                ("mcp-protocol-version", "1999-01-01"),
            ],
            &list,
        )
        .await;
    assert_eq!(
        bad_version.status, 400,
        "an unsupported MCP-Protocol-Version is refused"
    );
}

#[tokio::test]
async fn modern_era_is_stateless_with_discover() {
    let server = start(200).await;
    let reply = server.modern(1, "server/discover", json!({})).await;
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers.get("mcp-session-id").is_none(),
        "2026-07-28 has no sessions"
    );
    let result = &reply.message()["result"];
    assert!(
        result["supportedVersions"]
            .as_array()
            .unwrap()
            .contains(&json!(MODERN))
    );
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "mcpgate"
    );

    let list = server.modern(2, "tools/list", json!({})).await;
    assert_eq!(tool_names(&list.message()["result"]).len(), 6);

    let call = server
        .modern(
            3,
            "tools/call",
            json!({"name": "listItems", "arguments": {"tag": "hardware"}}),
        )
        .await;
    let items = &call.message()["result"]["structuredContent"]["items"];
    assert_eq!(
        items.as_array().map(Vec::len),
        Some(2),
        "{}",
        call.message()
    );
}

/// A plain 2026-07-28 `tools/call` is answered by the transport itself
/// (`src/http/direct.rs`). Its answer must be the one the SDK gives: the
/// same calls with one more `_meta` key (a progress token), which the
/// transport leaves to the SDK, must get the same status, type and bytes —
/// successes, backend errors, invalid arguments and unknown tools alike.
#[tokio::test]
async fn direct_answers_are_the_sdks_answers() {
    let server = start(200).await;
    let raw = |body: Value, tool: String| {
        let server = &server;
        async move {
            let response = server
                .client
                .post(&server.url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", MODERN)
                .header("mcp-method", "tools/call")
                .header("mcp-name", tool)
                .body(body.to_string())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let content_type = response.headers()["content-type"].clone();
            (status, content_type, response.text().await.unwrap())
        }
    };
    for (id, tool, arguments) in [
        (json!(5), "getItem", json!({"itemId": 1})),
        (json!("s-1"), "getItem", json!({"itemId": 999})),
        (json!(6), "getItem", json!({"itemId": "one"})),
        (json!(7), "listItems", json!({})),
        (json!(8), "launchMissiles", json!({})),
    ] {
        let mut plain = modern_request(
            0,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        );
        plain["id"] = id;
        let mut via_sdk = plain.clone();
        via_sdk["params"]["_meta"]["progressToken"] = json!("t");
        let direct = raw(plain, tool.to_owned()).await;
        let sdk = raw(via_sdk, tool.to_owned()).await;
        assert_eq!(direct, sdk, "{tool} {arguments}");
        assert_eq!(direct.0, 200);
        assert!(
            direct.2.starts_with(r#"{"jsonrpc":"2.0","id":"#),
            "{}",
            direct.2
        );
    }
}

#[tokio::test]
async fn modern_era_refuses_headers_that_contradict_the_body() {
    let server = start(200).await;
    let body = modern_request(1, "tools/call", json!({"name": "health", "arguments": {}}));
    let method_mismatch = server
        .post_json(
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/list"),
                ("mcp-name", "health"),
            ],
            &body,
        )
        .await;
    assert_eq!(method_mismatch.status, 400);
    assert_eq!(method_mismatch.message()["error"]["code"], -32020);

    let name_mismatch = server
        .post_json(
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
                ("mcp-name", "deleteItem"),
            ],
            &body,
        )
        .await;
    assert_eq!(name_mismatch.status, 400);
    assert_eq!(name_mismatch.message()["error"]["code"], -32020);
}

#[tokio::test]
async fn tools_list_is_paginated_with_opaque_cursors() {
    let server = start(4).await;
    let first = server.modern(1, "tools/list", json!({})).await;
    let first = &first.message()["result"];
    assert_eq!(tool_names(first).len(), 4);
    let cursor = first["nextCursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let second = server
        .modern(2, "tools/list", json!({"cursor": cursor}))
        .await;
    let second = &second.message()["result"];
    assert_eq!(tool_names(second).len(), 2);
    assert!(second.get("nextCursor").is_none());
    let mut all = tool_names(first);
    all.extend(tool_names(second));
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 6, "pages neither repeat nor skip tools");

    let bogus = server
        .modern(3, "tools/list", json!({"cursor": "p9999"}))
        .await;
    assert_eq!(bogus.message()["error"]["code"], -32602);
    let garbage = server
        .modern(4, "tools/list", json!({"cursor": "💥"}))
        .await;
    assert_eq!(garbage.message()["error"]["code"], -32602);
}

#[tokio::test]
async fn malformed_json_rpc_gets_a_json_rpc_error() {
    let server = start(200).await;
    for (body, code) in [
        ("{not json", -32700),
        ("", -32700),
        ("[]", -32600),
        ("42", -32600),
        (r#"{"jsonrpc":"2.0","id":1}"#, -32600),
        (r#"{"jsonrpc":"1.0","id":1,"method":"tools/list"}"#, -32600),
        (
            r#"{"jsonrpc":"2.0","id":{"x":1},"method":"tools/list"}"#,
            -32600,
        ),
    ] {
        let reply = server.post(&[("mcp-protocol-version", MODERN)], body).await;
        assert_eq!(reply.status, 400, "{body}");
        assert_eq!(reply.headers["content-type"], "application/json", "{body}");
        assert_eq!(
            reply.message()["error"]["code"],
            code,
            "{body}: {}",
            reply.message()
        );
        assert_eq!(reply.message()["jsonrpc"], "2.0");
    }
    // The server is still healthy afterwards.
    let reply = server.modern(9, "tools/list", json!({})).await;
    assert_eq!(tool_names(&reply.message()["result"]).len(), 6);
}

#[tokio::test]
async fn unknown_tools_and_bad_arguments_are_reported_not_executed() {
    let server = start(200).await;
    let unknown = server
        .modern(
            1,
            "tools/call",
            json!({"name": "launchMissiles", "arguments": {}}),
        )
        .await;
    assert_eq!(unknown.message()["error"]["code"], -32602);
    assert!(
        unknown.message()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("launchMissiles")
    );

    for (arguments, mentions) in [
        (json!({"itemId": "one"}), "itemId"),
        (json!({}), "itemId"),
        (json!({"itemId": 1, "smuggled": "x"}), "smuggled"),
    ] {
        let reply = server
            .modern(
                2,
                "tools/call",
                json!({"name": "getItem", "arguments": arguments}),
            )
            .await;
        let result = &reply.message()["result"];
        assert_eq!(result["isError"], true, "{arguments}: {result}");
        let text = result["content"][0]["text"].as_str().unwrap();
        assert!(
            text.contains("nothing was sent") && text.contains(mentions),
            "{text}"
        );
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let server = start(200).await;
    let huge = "x".repeat(100 * 1024);
    let body = modern_request(
        1,
        "tools/call",
        json!({"name": "createItem", "arguments": {"body": {"name": huge}}}),
    );
    let reply = server
        .post_json(
            &[
                ("mcp-protocol-version", MODERN),
                ("mcp-method", "tools/call"),
                ("mcp-name", "createItem"),
            ],
            &body,
        )
        .await;
    assert_eq!(reply.status, 413);
}

#[tokio::test]
async fn foreign_origins_and_hosts_are_refused() {
    let server = start(200).await;
    let body = modern_request(1, "tools/list", json!({}));
    let modern_headers = [
        ("mcp-protocol-version", MODERN),
        ("mcp-method", "tools/list"),
    ];

    let mut headers = modern_headers.to_vec();
    headers.push(("origin", "https://evil.example"));
    let reply = server.post_json(&headers, &body).await;
    assert_eq!(reply.status, 403, "a foreign Origin is refused");
    assert!(
        reply.message()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Origin")
    );

    let mut headers = modern_headers.to_vec();
    headers.push(("origin", "https://allowed.example"));
    assert_eq!(
        server.post_json(&headers, &body).await.status,
        200,
        "a configured Origin is allowed"
    );

    let mut headers = modern_headers.to_vec();
    headers.push(("host", "rebound.evil.example"));
    let reply = server.post_json(&headers, &body).await;
    assert_eq!(
        reply.status, 403,
        "a foreign Host (DNS rebinding) is refused"
    );
}
