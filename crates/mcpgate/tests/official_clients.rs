//! The official MCP client SDKs (TypeScript and Python) use the demo
//! Inventory API through mcpgate, over Streamable HTTP and over stdio.
//!
//! One story, four ways: an agent lists the tools, reads the inventory,
//! adds an item and reads it back, and asks for an item that does not exist.
//! Along the way the backend must only ever see the gateway's own key — never
//! the caller's credentials — and neither secret may end up in the logs.

mod common;

use common::{
    ClientRun, DEMO_TOOLS, DemoBackend, Gateway, Sdk, demo_config, free_port, random_token,
};
use serde_json::{Value, json};

/// An id the demo API never hands out during a test.
const MISSING_ID: u64 = 999_999;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Http,
    Stdio,
}

#[test]
fn typescript_sdk_over_http() {
    agent_uses_the_inventory(Sdk::TypeScript, Transport::Http);
}

#[test]
fn typescript_sdk_over_stdio() {
    agent_uses_the_inventory(Sdk::TypeScript, Transport::Stdio);
}

#[test]
fn python_sdk_over_http() {
    agent_uses_the_inventory(Sdk::Python, Transport::Http);
}

#[test]
fn python_sdk_over_stdio() {
    agent_uses_the_inventory(Sdk::Python, Transport::Stdio);
}

/// The shared scenario; see the module docs.
fn agent_uses_the_inventory(sdk: Sdk, transport: Transport) {
    let backend_key = format!("backend-key-{}", random_token());
    // Unique per test, so finding it anywhere it should not be is meaningful.
    let caller_secret = random_token();
    let item_name = format!("sprocket-{}", &random_token()[..8]);

    let demo = DemoBackend::start(&backend_key);
    let dir = tempfile::tempdir().expect("cannot create a temp dir");
    let config = common::write_config(dir.path(), &demo_config(free_port(), demo.addr()));

    let mut args: Vec<String> = vec!["--timeout".into(), "10".into()];
    for call in [
        json!(["listItems", {}]),
        json!(["createItem", {"body": {"name": item_name, "quantity": 7}}]),
        json!(["getItem", {"itemId": 4}]),
        json!(["getItem", {"itemId": MISSING_ID}]),
    ] {
        args.push("--call".into());
        args.push(format!("{}={}", call[0].as_str().unwrap(), call[1]));
    }

    // Keep the gateway alive until the end of the test; it is killed on drop.
    let (run, gateway_log, _gateway) = match transport {
        Transport::Http => {
            let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", &backend_key)]);
            args.extend([
                "--url".into(),
                gateway.mcp_url(),
                "--header".into(),
                format!("Authorization: Bearer caller-secret-{caller_secret}"),
                "--header".into(),
                format!("X-Caller-Secret: {caller_secret}"),
            ]);
            let run = common::run_client(sdk, &args);
            let log = gateway.stderr_log();
            (run, log, Some(gateway))
        }
        Transport::Stdio => {
            args.extend([
                "--stdio".into(),
                "--env".into(),
                format!("DEMO_API_KEY={backend_key}"),
                "--".into(),
                common::mcpgate_bin().display().to_string(),
                "serve".into(),
                "--stdio".into(),
                "--config".into(),
                config.display().to_string(),
            ]);
            let run = common::run_client(sdk, &args);
            // The driver passes its server's stderr through: these are the gateway's logs.
            let log = run.stderr.clone();
            (run, log, None)
        }
    };
    let ClientRun { json: out, .. } = &run;

    assert_session(out, sdk, transport);
    assert_tools(out);
    assert_calls(out, &item_name);
    assert_backend_saw_only_its_key(&demo, &backend_key, &caller_secret, &item_name);

    // What the gateway hands back to the caller must not reveal the backend key.
    assert!(
        !out.to_string().contains(&backend_key),
        "the backend key reached the MCP client: {out:#}"
    );
    assert!(!gateway_log.is_empty(), "the gateway logged nothing");
    assert!(
        !gateway_log.contains(&backend_key),
        "the gateway logged the backend key:\n{gateway_log}"
    );
    assert!(
        !gateway_log.contains(&caller_secret),
        "the gateway logged the caller's secret:\n{gateway_log}"
    );
}

/// The driver, the transport and the negotiated protocol version. The two
/// SDKs speak different eras of MCP, so both handshakes stay covered.
fn assert_session(out: &Value, sdk: Sdk, transport: Transport) {
    let (client, protocol, handshake) = match sdk {
        Sdk::TypeScript => ("typescript-sdk", "2025-11-25", "initialize"),
        Sdk::Python => ("python-sdk", "2026-07-28", "discover"),
    };
    let transport = match transport {
        Transport::Http => "http",
        Transport::Stdio => "stdio",
    };
    assert_eq!(out["client"], client, "{out:#}");
    assert_eq!(out["transport"], transport, "{out:#}");
    assert_eq!(out["server"]["name"], "mcpgate", "{out:#}");
    assert_eq!(
        (&out["protocolVersion"], &out["handshake"]),
        (&json!(protocol), &json!(handshake)),
        "{client} over {transport} negotiated another protocol version or handshake"
    );
}

/// All six demo operations are tools, each with an object input schema.
fn assert_tools(out: &Value) {
    let tools = out["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools array: {out:#}"));
    let names: Vec<&str> = tools.iter().filter_map(|t| t["name"].as_str()).collect();
    for expected in DEMO_TOOLS {
        assert!(
            names.contains(&expected),
            "tool {expected} is missing from {names:?}"
        );
    }
    for tool in tools {
        let schema = &tool["inputSchema"];
        assert!(
            schema.is_object() && schema["type"] == "object",
            "tool {} has an inputSchema that is not an object schema: {schema}",
            tool["name"]
        );
    }
}

/// A read, a write read back, and a backend 404 surfaced as a tool error.
fn assert_calls(out: &Value, item_name: &str) {
    let calls = out["calls"]
        .as_array()
        .unwrap_or_else(|| panic!("no calls array: {out:#}"));
    assert_eq!(calls.len(), 4, "{out:#}");

    let listed = successful_result(&calls[0]);
    assert!(
        listed.contains("widget") && listed.contains("gizmo"),
        "listItems did not return the seeded items: {listed}"
    );

    let created: Value = serde_json::from_str(&successful_result(&calls[1]))
        .unwrap_or_else(|e| panic!("createItem did not return JSON ({e}): {:#}", calls[1]));
    assert_eq!(created["name"], item_name, "{created:#}");
    assert_eq!(created["quantity"], 7, "{created:#}");
    assert_eq!(
        created["id"], 4,
        "the first new item of a fresh demo API is id 4: {created:#}"
    );

    let fetched: Value = serde_json::from_str(&successful_result(&calls[2]))
        .unwrap_or_else(|e| panic!("getItem did not return JSON ({e}): {:#}", calls[2]));
    assert_eq!(
        (&fetched["id"], &fetched["name"], &fetched["quantity"]),
        (&json!(4), &json!(item_name), &json!(7)),
        "getItem does not show the item createItem made"
    );

    let missing = &calls[3];
    let result = missing
        .get("result")
        .unwrap_or_else(|| panic!("getItem({MISSING_ID}) gave no tool result: {missing:#}"));
    assert_eq!(
        result["isError"], true,
        "a backend 404 must be a tool error: {missing:#}"
    );
    assert!(
        result_text(result).contains("404"),
        "the tool error does not mention the backend's 404: {missing:#}"
    );
}

/// The text of a call that must have succeeded.
fn successful_result(call: &Value) -> String {
    let result = call
        .get("result")
        .unwrap_or_else(|| panic!("{} gave no tool result: {call:#}", call["name"]));
    assert_ne!(result["isError"], true, "{} failed: {call:#}", call["name"]);
    result_text(result)
}

/// All text content of a tool result, joined.
fn result_text(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every request that reached the demo API carried the backend key, and
/// nothing of the caller's credentials: not the Authorization header, not
/// X-Caller-Secret, not the secret anywhere in headers, query or body.
fn assert_backend_saw_only_its_key(
    demo: &DemoBackend,
    backend_key: &str,
    caller_secret: &str,
    item_name: &str,
) {
    let requests = demo.recorded_requests();
    let seen: Vec<String> = requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    for expected in [
        "GET /items".to_owned(),
        "POST /items".to_owned(),
        "GET /items/4".to_owned(),
        format!("GET /items/{MISSING_ID}"),
    ] {
        assert!(
            seen.contains(&expected),
            "{expected} never reached the backend; it saw {seen:?}"
        );
    }
    let create = requests
        .iter()
        .find(|r| r.method == "POST" && r.path == "/items")
        .expect("POST /items was recorded");
    assert!(
        create.body.contains(item_name),
        "the backend got a createItem body without the item: {create:?}"
    );

    for request in &requests {
        let what = format!("{} {}", request.method, request.path);
        let keys: Vec<&str> = request
            .headers
            .iter()
            .filter(|(name, _)| name == "x-demo-key")
            .map(|(_, value)| value.as_str())
            .collect();
        assert_eq!(
            keys,
            [backend_key],
            "{what} did not carry exactly the backend key"
        );
        for (name, value) in &request.headers {
            assert_ne!(
                name, "authorization",
                "{what} carried an Authorization header; the backend's credential is X-Demo-Key only"
            );
            assert_ne!(
                name, "x-caller-secret",
                "{what} carried the caller's X-Caller-Secret header"
            );
            assert!(
                !value.contains(caller_secret),
                "{what} carried the caller's secret in header {name}"
            );
        }
        assert!(
            !request
                .query
                .as_deref()
                .unwrap_or("")
                .contains(caller_secret),
            "{what} carried the caller's secret in its query"
        );
        assert!(
            !request.body.contains(caller_secret),
            "{what} carried the caller's secret in its body"
        );
    }
}
