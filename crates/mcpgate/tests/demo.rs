//! The README's first command: `mcpgate demo` starts the Inventory API
//! behind the gateway and tells the user how to connect, and a real MCP
//! client can then use it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{mcpgate_bin, run_node_client, run_python_client};

struct Demo(std::process::Child);

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_serves_the_inventory_api_as_tools() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("demo.db").display());
    let mut child = Command::new(mcpgate_bin())
        .args(["demo", "--port", "0", "--api-port", "0", "--store", &store])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _demo = Demo(child);

    // The demo prints the MCP endpoint and a desktop-client snippet.
    let (lines, printed) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut url = None;
    let mut snippet = false;
    while url.is_none() || !snippet {
        let line = printed
            .recv_timeout(Duration::from_secs(30))
            .expect("the demo prints how to connect");
        if let Some(rest) = line.trim().strip_prefix("MCP endpoint") {
            url = rest.split_whitespace().next().map(str::to_owned);
        }
        snippet |= line.contains("\"mcpServers\"");
    }
    let url = url.unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp") && !url.contains(":0/"),
        "{url}"
    );

    for output in [
        run_node_client(["--url", &url, "--call", "listItems={\"tag\":\"hardware\"}"]),
        run_python_client([
            "--url",
            &url,
            "--call",
            "adjustStock={\"itemId\":2,\"body\":{\"delta\":-1}}",
        ]),
    ] {
        assert_eq!(output["tools"].as_array().unwrap().len(), 6, "{output}");
        let call = &output["calls"][0];
        match call["name"].as_str().unwrap() {
            "listItems" => {
                assert_eq!(
                    call["result"]["structuredContent"]["items"]
                        .as_array()
                        .unwrap()
                        .len(),
                    2,
                    "{call}"
                );
            }
            _ => {
                // The gadget has no stock: the API's 409 arrives as a tool error.
                assert_eq!(call["result"]["isError"], true, "{call}");
                assert!(
                    call["result"]["content"][0]["text"]
                        .as_str()
                        .unwrap()
                        .contains("409"),
                    "{call}"
                );
            }
        }
    }

    // Both calls are in the demo's audit log, and the chain verifies.
    let audit = |args: &[&str]| {
        let output = Command::new(mcpgate_bin()).args(args).output().unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let records = audit(&["audit", "query", "--store", &store, "--json"]);
    assert!(
        records.contains("\"listItems\"") && records.contains("\"adjustStock\""),
        "{records}"
    );
    let verified = audit(&["audit", "verify", "--store", &store]);
    assert!(
        verified.contains("OK") && verified.contains("2 record(s)"),
        "{verified}"
    );
}

#[test]
fn the_demo_runs_over_stdio_for_desktop_clients() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("demo.db").display());
    let output = run_node_client([
        "--stdio",
        "--call",
        "getItem={\"itemId\":1}",
        "--",
        mcpgate_bin().to_str().unwrap(),
        "demo",
        "--stdio",
        "--api-port",
        "0",
        "--store",
        &store,
    ]);
    assert_eq!(
        output["calls"][0]["result"]["structuredContent"]["name"], "widget",
        "{output}"
    );
}
