//! MCP servers behind mcpgate (`kind = "mcp"`): the official conformance
//! suite through the gateway, and a test upstream (`tests/e2e/upstream.mjs`,
//! on the official TypeScript SDK) over stdio and Streamable HTTP for
//! namespacing, filtering, crashes, hangs and credentials.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::raw_http::{Http, Reply, call_tool, list_tools, reply_tool_names};
use common::*;
use serde_json::{Value, json};

fn upstream_script() -> PathBuf {
    repo_root().join("tests/e2e/upstream.mjs")
}

/// A TOML string literal (JSON strings are TOML basic strings).
fn toml_str(text: &str) -> String {
    Value::from(text).to_string()
}

/// The `[backends.up]` section of a stdio upstream, plus `extra` lines.
fn stdio_backend(args: &[&str], extra: &str) -> String {
    let mut all = vec![
        upstream_script().display().to_string(),
        "--stdio".to_owned(),
    ];
    all.extend(args.iter().map(|a| a.to_string()));
    let args: Vec<String> = all.iter().map(|a| toml_str(a)).collect();
    format!(
        "[backends.up]\nkind = \"mcp\"\ncommand = \"node\"\nargs = [{}]\n{extra}\n",
        args.join(", ")
    )
}

fn gateway_with(dir: &Path, backend: &str, envs: &[(&str, &str)]) -> Gateway {
    let config = write_config(
        dir,
        &format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n\n{backend}",
            free_port()
        ),
    );
    Gateway::spawn(&config, envs)
}

/// The text of a tool result, and whether it is an error.
fn call_text(reply: &Reply) -> (String, bool) {
    let result = reply.result();
    let text = result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n");
    (text, result["isError"] == true)
}

fn call(http: &Http, gateway: &Gateway, tool: &str, arguments: Value) -> (String, bool) {
    call_text(&http.send(&call_tool(&gateway.mcp_url(), tool, arguments)))
}

#[test]
fn conformance_suite_passes_directly_and_through_mcpgate() {
    let output = Command::new("bash")
        .arg(repo_root().join("tests/conformance/through-mcpgate.sh"))
        .arg(mcpgate_bin())
        .output()
        .expect("cannot run through-mcpgate.sh");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    // Two verdicts: the fixture directly, then the gateway in front of it.
    let verdicts: Vec<&str> = stdout
        .lines()
        .chain(stderr.lines())
        .filter(|l| l.contains("scenarios passed against"))
        .collect();
    assert_eq!(verdicts.len(), 2, "{stderr}");
    assert!(verdicts.iter().all(|v| v.contains("30/30")), "{stderr}");
}

#[test]
fn stdio_upstream_tools_are_namespaced_filtered_and_not_trusted_to_be_read_only() {
    let dir = tempfile::tempdir().unwrap();
    let http = Http::new();
    // Read-only mode is on by default: only tools the config calls
    // read-only are offered. `echo` says readOnlyHint: true — not trusted.
    let backend = stdio_backend(
        &["--stderr-banner", "upstream-banner-7f3a"],
        "exclude_tools = [\"admin_*\"]\nread_only_tools = [\"add\"]\n",
    );
    let gateway = gateway_with(dir.path(), &backend, &[]);
    let names = reply_tool_names(&http.send(&list_tools(&gateway.mcp_url())));
    assert_eq!(names, vec!["up__add"]);
    let listed = http.send(&list_tools(&gateway.mcp_url())).result();
    assert_eq!(listed["tools"][0]["annotations"]["readOnlyHint"], true);
    let (text, is_error) = call(&http, &gateway, "up__add", json!({"a": 2, "b": 3}));
    assert_eq!((text.as_str(), is_error), ("5", false));
    let refused = http.send(&call_tool(
        &gateway.mcp_url(),
        "up__echo",
        json!({"text": "x"}),
    ));
    assert!(
        refused.body.contains("read-only") && !refused.body.contains("echo: x"),
        "{refused:?}"
    );
    // The child's stderr is in the gateway's log, named with its backend.
    let log = gateway.stderr_log();
    assert!(
        log.lines()
            .any(|l| l.contains("upstream-banner-7f3a") && l.contains("backend=up")),
        "{log}"
    );
    drop(gateway);

    let dir = tempfile::tempdir().unwrap();
    let backend = stdio_backend(
        &[],
        "exclude_tools = [\"admin_*\", \"crash\", \"hang\"]\nread_only = false\n",
    );
    let gateway = gateway_with(dir.path(), &backend, &[]);
    let names = reply_tool_names(&http.send(&list_tools(&gateway.mcp_url())));
    assert!(names.iter().all(|n| n.starts_with("up__")), "{names:?}");
    for hidden in ["up__admin_reset", "up__crash", "up__hang", "admin_reset"] {
        assert!(!names.iter().any(|n| n == hidden), "{hidden} in {names:?}");
        let reply = http.send(&call_tool(&gateway.mcp_url(), hidden, json!({})));
        assert!(reply.body.contains("unknown tool"), "{hidden}: {reply:?}");
    }
    for shown in ["up__echo", "up__add", "up__pid", "up__whoami", "up__env"] {
        assert!(names.iter().any(|n| n == shown), "{shown} not in {names:?}");
    }
    let listed = http.send(&list_tools(&gateway.mcp_url())).result();
    let echo = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "up__echo")
        .unwrap();
    assert_eq!(echo["annotations"]["readOnlyHint"], false, "{echo}");
    let (text, is_error) = call(&http, &gateway, "up__echo", json!({"text": "hello"}));
    assert_eq!((text.as_str(), is_error), ("echo: hello", false));
    // Arguments are still checked against the upstream's schema first.
    let (text, is_error) = call(&http, &gateway, "up__echo", json!({"text": 5}));
    assert!(is_error && text.contains("nothing was sent"), "{text}");
}

#[test]
fn stdio_upstream_gets_only_the_environment_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let http = Http::new();
    let backend = stdio_backend(
        &[],
        "read_only = false\nenv = { GREETING = \"hi\", UPSTREAM_TOKEN = \"env:TEST_UPSTREAM_TOKEN\" }\n",
    );
    let gateway = gateway_with(
        dir.path(),
        &backend,
        &[
            ("TEST_UPSTREAM_TOKEN", "tok-for-upstream"),
            ("GATEWAY_ONLY_SECRET", "must-not-leak"),
        ],
    );
    let (text, is_error) = call(&http, &gateway, "up__env", json!({}));
    assert!(!is_error, "{text}");
    let env: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(env["GREETING"], "hi");
    assert_eq!(env["UPSTREAM_TOKEN"], "tok-for-upstream");
    assert!(env.get("GATEWAY_ONLY_SECRET").is_none(), "{env}");
    assert!(env.get("TEST_UPSTREAM_TOKEN").is_none(), "{env}");
    assert!(env.get("PATH").is_some(), "{env}");
}

#[test]
fn crashed_upstream_fails_the_call_and_is_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts.txt");
    let http = Http::new();
    let backend = stdio_backend(
        &["--starts-file", &starts.display().to_string()],
        "read_only = false\n",
    );
    let gateway = gateway_with(dir.path(), &backend, &[]);
    let (first_pid, _) = call(&http, &gateway, "up__pid", json!({}));
    let (text, is_error) = call(&http, &gateway, "up__crash", json!({}));
    assert!(is_error, "{text}");
    assert!(text.contains("stopped before answering"), "{text}");
    // The next call works, served by a new process.
    let (second_pid, is_error) = call(&http, &gateway, "up__pid", json!({}));
    assert!(!is_error, "{second_pid}");
    assert_ne!(first_pid, second_pid);
    let started = std::fs::read_to_string(&starts).unwrap();
    assert_eq!(started.lines().count(), 2, "{started}");
    assert!(gateway.stderr_log().contains("restarting it"));
    // The crash is in the audit log as a failed call.
    let records = audit_export(&dir.path().join("mcpgate.toml"));
    let crash = records
        .iter()
        .map(|r| &r["record"])
        .find(|r| r["tool"] == "up__crash")
        .unwrap_or_else(|| panic!("the crashed call is not audited: {records:#?}"));
    assert_eq!(crash["outcome"], "backend_error", "{crash}");
}

#[test]
fn hanging_upstream_times_out_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let http = Http::new();
    let backend = stdio_backend(&[], "read_only = false\ntimeout = \"1s\"\n");
    let gateway = gateway_with(dir.path(), &backend, &[]);
    let started = std::time::Instant::now();
    let (text, is_error) = call(&http, &gateway, "up__hang", json!({}));
    assert!(is_error, "{text}");
    assert!(text.contains("did not answer within 1"), "{text}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // The upstream is fine otherwise: the next call is answered.
    let (text, is_error) = call(&http, &gateway, "up__echo", json!({"text": "still here"}));
    assert_eq!((text.as_str(), is_error), ("echo: still here", false));
}

/// `upstream.mjs --port 0` with `args`, and the URL it printed.
struct HttpUpstream {
    child: Child,
    url: String,
}

impl HttpUpstream {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new("node")
            .arg(upstream_script())
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("upstream printed {line:?}"))
            .to_owned();
        HttpUpstream { child, url }
    }
}

impl Drop for HttpUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn http_upstream_gets_the_gateways_credential_never_the_callers() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("upstream-requests.jsonl");
    let upstream_token = random_token();
    let upstream = HttpUpstream::start(&[
        "--record",
        &record.display().to_string(),
        "--require-token",
        &upstream_token,
    ]);
    let pepper = random_token();
    let config = write_config(
        dir.path(),
        &format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\n\n\
             [auth.api_keys]\nenvironment = \"test\"\npepper = \"env:MCPGATE_KEY_PEPPER\"\n\n\
             [[authz.tools]]\ntools = [\"*\"]\nscopes = [\"up:call\"]\n\n\
             [backends.up]\nkind = \"mcp\"\nurl = {}\nread_only = false\n\
             credential = {{ kind = \"bearer\", value = \"env:UP_TOKEN\" }}\n\
             exclude_tools = [\"crash\", \"hang\"]\n",
            free_port(),
            toml_str(&upstream.url)
        ),
    );
    let envs = [
        ("MCPGATE_KEY_PEPPER", pepper.as_str()),
        ("UP_TOKEN", upstream_token.as_str()),
    ];
    let created = Command::new(mcpgate_bin())
        .args([
            "keys", "create", "--name", "caller", "--scopes", "up:call", "--config",
        ])
        .arg(&config)
        .envs(envs)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let key = String::from_utf8(created.stdout)
        .unwrap()
        .lines()
        .last()
        .unwrap()
        .to_owned();
    let gateway = Gateway::spawn(&config, &envs);

    // The official TypeScript client, with the caller's key.
    let out = run_node_client([
        "--url".to_owned(),
        gateway.mcp_url(),
        "--header".to_owned(),
        format!("Authorization: Bearer {key}"),
        "--call".to_owned(),
        "up__whoami".to_owned(),
        "--call".to_owned(),
        r#"up__echo={"text":"over http"}"#.to_owned(),
    ]);
    let calls = out["calls"].as_array().unwrap();
    assert_eq!(successful_text(&calls[1]), "echo: over http");
    let headers: Value = serde_json::from_str(&successful_text(&calls[0])).unwrap();
    assert_eq!(headers["authorization"], format!("Bearer {upstream_token}"));

    // Without a key, nothing reaches the upstream.
    let before = std::fs::read_to_string(&record).unwrap().lines().count();
    let refused = Http::new().send(&call_tool(
        &gateway.mcp_url(),
        "up__echo",
        json!({"text": "x"}),
    ));
    assert_eq!(refused.status, 401);
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert_eq!(recorded.lines().count(), before);

    // Every request the upstream saw carried the gateway's credential, and
    // the caller's key appears nowhere in them.
    assert!(recorded.lines().count() >= 3, "{recorded}");
    for line in recorded.lines() {
        let request: Value = serde_json::from_str(line).unwrap();
        assert_eq!(
            request["headers"]["authorization"],
            format!("Bearer {upstream_token}"),
            "{line}"
        );
    }
    assert!(
        !recorded.contains(&key),
        "the caller's key reached the upstream"
    );
    assert!(
        !gateway.stderr_log().contains(&upstream_token),
        "credential in the log"
    );
}

#[test]
fn mcp_backend_config_mistakes_name_the_line_and_the_fix() {
    let cases = [
        ("[backends.up]\nkind = \"mcp\"\n", "set `command = "),
        (
            "[backends.up]\nkind = \"mcp\"\ncommand = \"node\"\nurl = \"http://127.0.0.1:1/mcp\"\n",
            "either a child process or a URL",
        ),
        (
            "[backends.up]\nkind = \"mcp\"\ncommand = \"node\"\nenv = { API_TOKEN = \"abc\" }\n",
            "write `API_TOKEN = \"env:API_TOKEN\"`",
        ),
        (
            "[backends.up]\nspec = \"x.yaml\"\ncommand = \"node\"\n",
            "only for MCP backends",
        ),
        (
            "[backends.up]\nkind = \"mcp\"\ncommand = \"node\"\ncredential = { kind = \"bearer\", value = \"env:X\" }\n",
            "gets its credentials through `env`",
        ),
    ];
    for (backend, fix) in cases {
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(
            dir.path(),
            &format!("[server]\nlisten = \"127.0.0.1:1\"\n\n{backend}"),
        );
        let (ok, output) = run_mcpgate(&["check", "--config", config.to_str().unwrap()]);
        assert!(!ok, "{backend} was accepted");
        assert!(output.contains(fix), "{backend}: {output}");
        assert!(
            output.contains("mcpgate.toml:"),
            "{backend}: no file:line in {output}"
        );
    }
    // A command that cannot start is named at start-up.
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[server]\nlisten = \"127.0.0.1:1\"\n\n[backends.up]\nkind = \"mcp\"\ncommand = \"/nonexistent/server\"\n",
    );
    let (ok, output) = run_mcpgate(&["check", "--config", config.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        output.contains("cannot start MCP backend `up`") && output.contains("/nonexistent/server"),
        "{output}"
    );
}

#[test]
fn upstream_tool_list_changes_reach_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let http = Http::new();
    let backend = stdio_backend(
        &[],
        "read_only = false\nexclude_tools = [\"crash\", \"hang\"]\n",
    );
    let gateway = gateway_with(dir.path(), &backend, &[]);
    let names = || reply_tool_names(&http.send(&list_tools(&gateway.mcp_url())));
    let wait_for = |present: bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if names().iter().any(|n| n == "up__extra_tool") == present {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "up__extra_tool present={} never happened: {:?}\n{}",
                present,
                names(),
                gateway.stderr_log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    assert!(!names().iter().any(|n| n == "up__extra_tool"));
    let (text, is_error) = call(&http, &gateway, "up__toggle_extra", json!({}));
    assert!(!is_error, "{text}");
    wait_for(true);
    let (text, is_error) = call(&http, &gateway, "up__extra_tool", json!({}));
    assert_eq!((text.as_str(), is_error), ("extra", false));
    // Off again: the tool disappears and calling it is refused unseen.
    call(&http, &gateway, "up__toggle_extra", json!({}));
    wait_for(false);
    let reply = http.send(&call_tool(&gateway.mcp_url(), "up__extra_tool", json!({})));
    assert!(reply.body.contains("unknown tool"), "{reply:?}");
    assert!(gateway.stderr_log().contains("MCP backend tools refreshed"));
}

#[test]
fn stopping_mcpgate_stops_its_upstream_processes() {
    let dir = tempfile::tempdir().unwrap();
    let http = Http::new();
    let gateway = gateway_with(dir.path(), &stdio_backend(&[], "read_only = false\n"), &[]);
    let (pid, is_error) = call(&http, &gateway, "up__pid", json!({}));
    assert!(!is_error, "{pid}");
    let child = Path::new("/proc").join(pid.trim());
    assert!(child.exists(), "upstream {pid} is not running");
    let status = Command::new("kill")
        .args(["-TERM", &gateway.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    // A zombie keeps its /proc entry until reaped; it must not be running.
    let running = || {
        std::fs::read_to_string(child.join("stat"))
            .map(|stat| !stat.contains(") Z "))
            .unwrap_or(false)
    };
    while running() {
        assert!(
            std::time::Instant::now() < deadline,
            "upstream {pid} still runs after mcpgate stopped:\n{}",
            gateway.stderr_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn http_upstream_that_hangs_or_dies_gives_clear_errors_and_is_reconnected() {
    let dir = tempfile::tempdir().unwrap();
    let http = Http::new();
    let port = free_port();
    let port_arg = port.to_string();
    let start = || {
        let mut child = Command::new("node")
            .arg(upstream_script())
            .args(["--port", &port_arg])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("LISTENING "), "{line}");
        HttpUpstream {
            child,
            url: line.trim()["LISTENING ".len()..].to_owned(),
        }
    };
    let upstream = start();
    let backend = format!(
        "[backends.remote]\nkind = \"mcp\"\nurl = {}\nread_only = false\ntimeout = \"1s\"\n\
         connect_timeout = \"10s\"\ninclude_tools = [\"pid\", \"hang\", \"crash\", \"echo\"]\n",
        toml_str(&upstream.url)
    );
    let gateway = gateway_with(dir.path(), &backend, &[]);
    let mut names = reply_tool_names(&http.send(&list_tools(&gateway.mcp_url())));
    names.sort();
    assert_eq!(
        names,
        [
            "remote__crash",
            "remote__echo",
            "remote__hang",
            "remote__pid"
        ]
    );

    let (text, is_error) = call(&http, &gateway, "remote__hang", json!({}));
    assert!(
        is_error && text.contains("did not answer within 1"),
        "{text}"
    );
    let (first_pid, is_error) = call(&http, &gateway, "remote__pid", json!({}));
    assert!(!is_error, "{first_pid}");

    // The server dies in the middle of a call: a clear error, not a hang.
    let (text, is_error) = call(&http, &gateway, "remote__crash", json!({}));
    assert!(is_error, "{text}");
    assert!(
        text.contains("backend `remote` stopped before answering"),
        "{text}"
    );
    drop(upstream);
    // Back on the same address (as a redeployed service would be): the
    // gateway connects again and the next calls work.
    let _upstream = start();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let second_pid = loop {
        let (text, is_error) = call(&http, &gateway, "remote__pid", json!({}));
        if !is_error {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never reconnected; last answer: {text}\n{}",
            gateway.stderr_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_ne!(first_pid, second_pid);
    let (text, is_error) = call(&http, &gateway, "remote__echo", json!({"text": "back"}));
    assert_eq!((text.as_str(), is_error), ("echo: back", false));
}
