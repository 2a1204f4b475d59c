//! The audit log as an operator meets it: tampering named by `mcpgate audit
//! verify`, the gateway failing closed (and saying so) when the log cannot
//! be written, and the JSON-lines copy.

mod common;

use common::{
    DemoBackend, Gateway, demo_config, free_port, random_token, run_mcpgate, run_node_client,
    sqlite, write_config,
};
use serde_json::Value;

/// A gateway over the demo API whose config adds `extra`; returns what the
/// tests need to drive and inspect it.
fn deployment(extra: &str) -> (DemoBackend, tempfile::TempDir, std::path::PathBuf, String) {
    let key = random_token();
    let api = DemoBackend::start(&key);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("{}{extra}", demo_config(free_port(), api.addr())),
    );
    (api, dir, config, key)
}

fn calls(url: &str, n: usize) -> Value {
    let mut args = vec!["--url".to_owned(), url.to_owned()];
    for i in 0..n {
        args.push("--call".to_owned());
        args.push(format!("listItems={{\"tag\":\"t{i}\"}}"));
    }
    run_node_client(args)
}

#[test]
fn verify_names_the_record_that_was_tampered_with() {
    let (_api, dir, config, key) = deployment("");
    let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", &key)]);
    calls(&gateway.mcp_url(), 6);
    drop(gateway);
    let config = config.to_str().unwrap();
    let db = dir.path().join("mcpgate.db");
    let (ok, report) = run_mcpgate(&["audit", "verify", "--config", config]);
    assert!(ok && report.contains("6 record(s)"), "{report}");

    // Rewrite what record 3 says: the arguments are covered by its hash.
    sqlite(
        &db,
        &["UPDATE audit_log SET body = replace(body, '\"t2\"', '\"t9\"') WHERE seq = 3"],
    );
    let (ok, report) = run_mcpgate(&["audit", "verify", "--config", config]);
    assert!(!ok, "tampering must fail verification: {report}");
    assert!(
        report.contains("TAMPERING DETECTED") && report.contains("record 3 was altered"),
        "{report}"
    );

    // Deleting a record is named too.
    sqlite(&db, &["DELETE FROM audit_log WHERE seq = 5"]);
    let (_, report) = run_mcpgate(&["audit", "verify", "--config", config]);
    assert!(report.contains("record 5 is missing"), "{report}");
}

#[test]
fn the_gateway_fails_closed_and_says_so_when_the_audit_log_breaks() {
    let (api, dir, config, key) = deployment("");
    let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", &key)]);
    let health = format!("http://{}/healthz", gateway.addr());
    let (status, body) = http_get(&health);
    assert_eq!(status, 200, "{body}");

    // The audit table disappears under the running gateway.
    sqlite(&dir.path().join("mcpgate.db"), &["DROP TABLE audit_log"]);
    let before = api.recorded_requests().len();
    let output = calls(&gateway.mcp_url(), 2);
    let first = &output["calls"][0];
    assert!(
        first.get("error").is_some(),
        "the first call's result is withheld: {first}"
    );
    assert!(
        first["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("could not be recorded in the audit log"),
        "{first}"
    );
    let second = &output["calls"][1];
    assert!(
        second["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("audit log is unavailable"),
        "later calls are refused before reaching the backend: {second}"
    );
    assert_eq!(
        api.recorded_requests().len(),
        before + 1,
        "only the first call reached the backend"
    );

    let (status, body) = http_get(&health);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("\"audit\":\"unavailable\""), "{body}");
}

#[test]
fn records_are_copied_to_a_json_lines_file() {
    let (_api, dir, config, key) = deployment("\n[audit]\njsonl = \"audit.jsonl\"\n");
    let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", &key)]);
    calls(&gateway.mcp_url(), 3);
    drop(gateway);
    let lines: Vec<Value> = std::fs::read_to_string(dir.path().join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["seq"], i as i64 + 1);
        assert_eq!(line["record"]["tool"], "listItems");
        assert_eq!(line["record"]["arguments"]["tag"], format!("t{i}"));
    }
}

/// A blocking GET for health checks: (status, body).
fn http_get(url: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::get(url).await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    })
}

#[test]
fn sigterm_writes_what_is_queued_and_signs_the_end_without_delay() {
    let mut seed = [0u8; 32];
    for chunk in seed.chunks_mut(16) {
        chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    let seed = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, seed);
    // Checkpoints hourly: only the one written at shutdown can cover the
    // newest records.
    let (_api, _dir, config, key) = deployment(
        "\n[audit]\nsigning_key = \"env:TEST_AUDIT_KEY\"\ncheckpoint_interval = \"1h\"\n",
    );
    let mut gateway = Gateway::spawn(
        &config,
        &[("DEMO_API_KEY", &key), ("TEST_AUDIT_KEY", &seed)],
    );
    calls(&gateway.mcp_url(), 3);
    let (status, took) = gateway.terminate(std::time::Duration::from_secs(20));
    let log = gateway.stderr_log();
    assert!(status.success(), "{status:?}\n{log}");
    assert!(
        took < std::time::Duration::from_secs(5),
        "shutting down took {took:?}\n{log}"
    );
    assert!(!log.contains("could not be written"), "{log}");
    let verified = std::process::Command::new(common::mcpgate_bin())
        .args(["audit", "verify", "--config"])
        .arg(&config)
        .env("TEST_AUDIT_KEY", &seed)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&verified.stdout).into_owned()
        + &String::from_utf8_lossy(&verified.stderr);
    assert!(verified.status.success(), "{report}");
    assert!(
        report.contains("3 record(s)") && report.contains("verified up to record 3"),
        "the last checkpoint must cover the last record: {report}"
    );
}
