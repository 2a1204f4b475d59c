//! A gateway over 20,000 tools lists every one of them, page by page.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mcpgate_core::LocalUserOnly;
use mcpgate_core::{AuthMethod, Identity, ToolAnnotations, ToolSpec};
use mcpgate_openapi::{ExecutorConfig, HttpExecutor};
use mcpgate_server::{CallError, Catalog, Gateway, GatewayOptions, LogAuditSink, OpenApiBackend};
use serde_json::json;

const TOOLS: usize = 20_000;

fn gateway(page_size: usize) -> Gateway {
    // A backend that is never called here: listing does not reach backends.
    let executor = HttpExecutor::new(ExecutorConfig {
        base_url: "http://127.0.0.1:9".parse().unwrap(),
        credential: None,
        timeout: Duration::from_secs(1),
        max_response_bytes: 1024,
    })
    .unwrap();
    let backend: Arc<dyn mcpgate_server::Backend> =
        Arc::new(OpenApiBackend::new(executor, HashMap::new()));
    let mut catalog = Catalog::new();
    for i in 0..TOOLS {
        let spec = ToolSpec {
            name: format!("tool_{i:05}"),
            title: Some(format!("Tool {i}")),
            description: Some("A generated tool.".into()),
            input_schema: json!({"type": "object", "properties": {"id": {"type": "integer"}}})
                .as_object()
                .unwrap()
                .clone(),
            annotations: ToolAnnotations {
                read_only_hint: Some(i % 2 == 0),
                ..Default::default()
            },
            security: Vec::new(),
            backend: "generated".into(),
            accepted_auth: None,
            http_method: None,
            tags: Vec::new(),
        };
        catalog.add(spec, backend.clone()).unwrap();
    }
    Gateway::new(
        catalog,
        Arc::new(LocalUserOnly),
        Arc::new(LogAuditSink),
        GatewayOptions {
            page_size,
            ..GatewayOptions::default()
        },
    )
}

#[test]
fn every_tool_of_a_huge_catalog_is_listed_exactly_once() {
    let started = Instant::now();
    let gateway = gateway(200);
    let built = started.elapsed();
    let identity = Identity::local();
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = gateway
            .list_tools(&identity, None, cursor.as_deref())
            .unwrap();
        pages += 1;
        assert!(page.tools.len() <= 200);
        for tool in page.tools {
            assert!(
                seen.insert(tool.name.to_string()),
                "{} listed twice",
                tool.name
            );
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    eprintln!(
        "catalog of {TOOLS} built in {built:?}; listed in {pages} pages, {:?} in all",
        started.elapsed()
    );
    assert_eq!(seen.len(), TOOLS);
    assert_eq!(pages, TOOLS / 200);
}

#[test]
fn a_caller_who_may_call_nothing_sees_nothing_and_no_cursor() {
    let gateway = gateway(200);
    let mut stranger = Identity::local();
    stranger.auth = AuthMethod::ApiKey;
    let page = gateway.list_tools(&stranger, None, None).unwrap();
    assert!(page.tools.is_empty());
    assert!(page.next_cursor.is_none());
    assert_eq!(
        gateway.list_tools(&stranger, None, Some("nonsense")).err(),
        Some(CallError::InvalidCursor)
    );
}
