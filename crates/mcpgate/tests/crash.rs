//! `kill -9` under load loses no acknowledged call: after a restart the
//! audit chain verifies and holds a record of every call the clients saw
//! answered.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{
    DemoBackend, Gateway, demo_config, free_port, random_token, run_mcpgate, write_config,
};
use serde_json::{Value, json};

const WORKERS: usize = 16;

/// One stateless (2026-07-28) `tools/call` of `listItems` whose `tag` is
/// `marker`; true when the gateway answered with a result.
async fn call(client: &reqwest::Client, url: &str, id: u64, marker: &str) -> bool {
    let body = json!({
        "jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {
            "name": "listItems",
            "arguments": {"tag": marker},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "crash-test", "version": "1"},
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }
    });
    let Ok(response) = client
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "listItems")
        .json(&body)
        .send()
        .await
    else {
        return false;
    };
    let Ok(text) = response.text().await else {
        return false;
    };
    // The answer is one JSON document or an SSE event (the transport may
    // send either); acknowledged means a result.
    let answered = |message: &Value| message["id"] == id && message.get("result").is_some();
    if let Ok(message) = serde_json::from_str::<Value>(&text) {
        return answered(&message);
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .any(|message| answered(&message))
}

#[test]
fn kill_dash_nine_loses_no_acknowledged_call() {
    let key = random_token();
    let api = DemoBackend::start(&key);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &demo_config(free_port(), api.addr()));
    let config_arg = config.to_str().unwrap();
    let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", &key)]);
    let url = gateway.mcp_url();

    let acknowledged: Arc<Mutex<HashSet<String>>> = Arc::default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let mut workers = Vec::new();
        for worker in 0..WORKERS {
            let (client, url, acknowledged) = (client.clone(), url.clone(), acknowledged.clone());
            workers.push(tokio::spawn(async move {
                for i in 0u64.. {
                    let marker = format!("m{worker}x{i}");
                    if call(&client, &url, i + 1, &marker).await {
                        acknowledged.lock().unwrap().insert(marker);
                    } else if started.elapsed() > Duration::from_secs(1) {
                        break; // the gateway is gone
                    }
                    if started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                }
            }));
        }
        // Let load build up, then kill the gateway mid-flight (SIGKILL).
        while acknowledged.lock().unwrap().len() < 300
            && started.elapsed() < Duration::from_secs(15)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(gateway);
        for worker in workers {
            let _ = worker.await;
        }
    });
    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!("{} calls acknowledged before kill -9", acknowledged.len());
    assert!(acknowledged.len() >= 300, "the load never built up");

    // The chain is intact after the crash, and again after a restart.
    let (ok, report) = run_mcpgate(&["audit", "verify", "--config", config_arg]);
    assert!(ok, "verify after kill -9: {report}");
    let restarted = Gateway::spawn(&config, &[("DEMO_API_KEY", &key)]);
    drop(restarted);
    let (ok, report) = run_mcpgate(&["audit", "verify", "--config", config_arg]);
    assert!(ok, "verify after restart: {report}");

    // Every acknowledged call has its record.
    let (ok, export) = run_mcpgate(&["audit", "export", "--config", config_arg]);
    assert!(ok, "{export}");
    let recorded: HashSet<String> = export
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| {
            line.pointer("/record/arguments/tag")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let missing: Vec<&String> = acknowledged.difference(&recorded).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged calls have no audit record, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
}
