//! Every performed call is audited, on both ways a `tools/call` takes over
//! HTTP (the transport's direct answers, `src/http/direct.rs`, and the
//! SDK): a client that hangs up while its call is at the backend does not
//! cut the call off before its audit record.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use mcpgate_auth::LocalUser;
use mcpgate_core::{AuditEvent, LocalUserOnly, Outcome, ToolOutput};
use mcpgate_server::http::{HttpOptions, router};
use mcpgate_server::{
    AuditSink, AuditUnavailable, Backend, CallContext, Catalog, EchoBackend, Gateway,
    GatewayOptions,
};
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Answers like the echo tool, after saying it was reached and pausing
/// long enough for the client to give up.
struct SlowEcho(Arc<Notify>);

impl Backend for SlowEcho {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a Map<String, Value>,
        context: &'a CallContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(async move {
            self.0.notify_one();
            tokio::time::sleep(Duration::from_millis(300)).await;
            EchoBackend.call(tool, arguments, context).await
        })
    }
}

/// Keeps every event it is given.
#[derive(Default)]
struct Recorded(Mutex<Vec<AuditEvent>>);

impl AuditSink for Recorded {
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        self.0.lock().unwrap().push(event);
        Box::pin(std::future::ready(Ok(())))
    }

    fn is_available(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn a_client_that_hangs_up_cannot_cut_off_the_audit_record() {
    let reached = Arc::new(Notify::new());
    let mut catalog = Catalog::new();
    catalog
        .add(
            EchoBackend::tool_spec("slow"),
            Arc::new(SlowEcho(reached.clone())),
        )
        .unwrap();
    let audit = Arc::new(Recorded::default());
    let gateway = Arc::new(Gateway::new(
        catalog,
        Arc::new(LocalUserOnly),
        audit.clone(),
        GatewayOptions::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = HttpOptions {
        path: "/mcp".into(),
        allowed_hosts: vec![addr.to_string()],
        allowed_origins: Vec::new(),
        max_body_bytes: 64 * 1024,
        protected_resource: None,
        extra_routes: None,
    };
    let shutdown = CancellationToken::new();
    let app = router(gateway, Arc::new(LocalUser), &options, shutdown.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let _stop = shutdown.drop_guard();

    // A plain 2026-07-28 call, which the transport answers directly, and
    // the same call with a progress token, which goes through the SDK.
    for progress_token in [None, Some("p")] {
        let mut body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": EchoBackend::TOOL, "arguments": {"message": "hello"},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "direct-test", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}
        }}});
        if let Some(token) = progress_token {
            body["params"]["_meta"]["progressToken"] = json!(token);
        }
        let request = reqwest::Client::new()
            .post(format!("http://{addr}/mcp"))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", EchoBackend::TOOL)
            .body(body.to_string())
            .send();
        let request = tokio::spawn(request);
        // Hang up once the call is at the backend.
        tokio::time::timeout(Duration::from_secs(10), reached.notified())
            .await
            .expect("the call reaches the backend");
        request.abort();
        assert!(
            request.await.is_err_and(|e| e.is_cancelled()),
            "the client hung up before the answer"
        );
    }

    // The calls go on at the backend; their records must follow.
    for _ in 0..250 {
        if audit.0.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = audit.0.lock().unwrap();
    assert_eq!(events.len(), 2, "one record for each call a client left");
    for event in events.iter() {
        assert_eq!(event.tool.as_deref(), Some(EchoBackend::TOOL));
        assert_eq!(event.outcome, Outcome::Success);
    }
}
