//! Secrets in arguments, in the caller's headers, and in what a careless
//! backend sends back never reach the audit log, the logs, or (for the
//! backend's own key) the caller.

mod common;

use std::net::SocketAddr;
use std::process::Command;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use common::{Gateway, free_port, mcpgate_bin, random_token, run_node_client, write_config};
use serde_json::{Value, json};

/// A backend that leaks: its errors carry a database password and echo the
/// key it was given, and `whoami` repeats the headers it saw.
fn start_leaky_backend() -> (SocketAddr, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let key_of = |headers: &HeaderMap| {
        headers
            .get("x-leaky-key")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let app = Router::new()
        .route(
            "/login",
            post(move |headers: HeaderMap, body: String| async move {
                let user: Value = serde_json::from_str(&body).unwrap_or_default();
                let message = format!(
                    "login failed for {}: cannot reach postgres://svc:dbpass-4471@db.internal/app (backend key {})",
                    user["username"].as_str().unwrap_or("?"),
                    key_of(&headers)
                );
                (StatusCode::INTERNAL_SERVER_ERROR, message)
            }),
        )
        .route(
            "/whoami",
            get(move |headers: HeaderMap| async move {
                axum::Json(json!({
                    "key": key_of(&headers),
                    "authorization": headers.get("authorization").and_then(|v| v.to_str().ok()),
                }))
            }),
        );
    runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, runtime)
}

const SPEC: &str = r#"{
  "openapi": "3.0.3",
  "info": {"title": "Leaky", "version": "1"},
  "paths": {
    "/login": {"post": {"operationId": "login",
      "requestBody": {"required": true, "content": {"application/json": {"schema": {
        "type": "object", "properties": {
          "username": {"type": "string"}, "password": {"type": "string"}, "note": {"type": "string"}}}}}},
      "responses": {"200": {"description": "ok"}}}},
    "/whoami": {"get": {"operationId": "whoami", "responses": {"200": {"description": "ok"}}}}
  }
}"#;

#[test]
fn secrets_reach_neither_the_audit_log_nor_the_logs() {
    let (api, _runtime) = start_leaky_backend();
    let backend_key = format!("leaky-key-{}", random_token());
    let caller_token = format!("caller-{}", random_token());
    let password = format!("hunter2-{}", random_token());
    let api_token = format!("sk_live_{}", &random_token()[..24]);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("leaky.json"), SPEC).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n\n[backends.leaky]\nspec = \"leaky.json\"\nbase_url = \"http://{api}\"\n\
             credential = {{ kind = \"header\", name = \"X-Leaky-Key\", value = \"env:LEAKY_KEY\" }}\nread_only = false\n",
            free_port()
        ),
    );
    let gateway = Gateway::spawn(
        &config,
        &[("LEAKY_KEY", &backend_key), ("RUST_LOG", "debug")],
    );

    let login = json!({"body": {"username": "amy", "password": password, "note": format!("use Bearer {api_token}")}});
    let output = run_node_client([
        "--url".to_owned(),
        gateway.mcp_url(),
        "--header".to_owned(),
        format!("Authorization: Bearer {caller_token}"),
        "--call".to_owned(),
        format!("login={login}"),
        "--call".to_owned(),
        "whoami".to_owned(),
    ]);

    // The caller learns that login failed, but not the backend's secrets.
    let login_result = &output["calls"][0]["result"];
    assert_eq!(login_result["isError"], true, "{output}");
    let login_text = login_result["content"][0]["text"].as_str().unwrap();
    assert!(login_text.contains("login failed for amy"), "{login_text}");
    let whoami = &output["calls"][1]["result"]["structuredContent"];
    assert_eq!(
        whoami["key"], "[REDACTED]",
        "the backend's key is not handed to the caller: {whoami}"
    );
    assert_eq!(
        whoami["authorization"],
        Value::Null,
        "the caller's token never reaches the backend"
    );
    let seen_by_caller = output.to_string();
    for secret in [backend_key.as_str(), "dbpass-4471"] {
        assert!(
            !seen_by_caller.contains(secret),
            "{secret} reached the caller: {seen_by_caller}"
        );
    }

    // Both calls are audited, with the arguments' secrets redacted.
    drop(gateway);
    let export = Command::new(mcpgate_bin())
        .args(["audit", "export", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let audit = String::from_utf8(export.stdout).unwrap();
    assert_eq!(audit.lines().count(), 2, "{audit}");
    assert!(
        audit.contains("\"login\"") && audit.contains("\"whoami\"") && audit.contains("[REDACTED]"),
        "{audit}"
    );
    assert!(
        audit.contains("\"username\":\"amy\""),
        "ordinary arguments are kept: {audit}"
    );

    let logs = std::fs::read_to_string(dir.path().join("mcpgate-0.stderr.log")).unwrap();
    assert!(
        logs.contains("mcpgate::audit"),
        "the logs were captured at debug level"
    );
    for secret in [
        backend_key.as_str(),
        &caller_token,
        &password,
        &api_token,
        "dbpass-4471",
    ] {
        assert!(
            !audit.contains(secret),
            "{secret} reached the audit log: {audit}"
        );
        let leak = logs.lines().find(|line| line.contains(secret));
        assert!(
            leak.is_none(),
            "{secret} reached the logs: {}",
            leak.unwrap_or_default()
        );
    }
}
