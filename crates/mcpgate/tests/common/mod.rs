//! A small harness for mcpgate's end-to-end tests.
//!
//! It runs the real thing: the `mcpgate` binary as a child process, the demo
//! Inventory API ([`mcpgate_demo::DemoApi`]) in-process, and the official MCP
//! client SDKs through the drivers in `tests/e2e/` (see its README).
//!
//! Tests are plain `#[test]` functions: the harness owns the runtimes it
//! needs, and must not be used from inside an async runtime (it blocks).
//!
//! ```ignore
//! mod common;
//! use common::*;
//!
//! #[test]
//! fn lists_tools() {
//!     let demo = DemoBackend::start("backend-key");
//!     let dir = tempfile::tempdir().unwrap();
//!     let config = write_config(dir.path(), &demo_config(free_port(), demo.addr()));
//!     let gateway = Gateway::spawn(&config, &[("DEMO_API_KEY", "backend-key")]);
//!     let out = run_node_client(["--url", gateway.mcp_url().as_str()]);
//!     assert_eq!(out["tools"].as_array().unwrap().len(), 6);
//! }
//! ```

// Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

pub mod idp;
pub mod raw_http;

use std::ffi::OsStr;
use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mcpgate_demo::{DemoApi, RecordedRequest};
use serde_json::{Value, json};

/// How long [`Gateway::spawn`] waits for `/healthz` to answer.
pub const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The `mcpgate` binary Cargo built for this test run.
pub fn mcpgate_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_mcpgate"))
}

/// The workspace root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The demo API's OpenAPI file, as an absolute path for `backends.*.spec`.
pub fn demo_spec_path() -> PathBuf {
    repo_root().join("examples/demo/openapi.yaml")
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
///
/// The port is released before returning, so another process could take it
/// in between; tests pick a fresh one each and that race is rare enough.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("cannot bind 127.0.0.1:0 to find a free port")
        .port()
}

/// A fresh random token (32 hex digits), for secrets that must be unique to
/// one test so that finding them anywhere is meaningful.
pub fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The demo Inventory API serving on 127.0.0.1 on its own runtime thread,
/// until dropped.
pub struct DemoBackend {
    api: DemoApi,
    addr: SocketAddr,
    // Dropping the runtime stops the server.
    _runtime: tokio::runtime::Runtime,
}

impl DemoBackend {
    /// Start a fresh demo API (seeded with items 1–3) that requires `api_key`
    /// in `X-Demo-Key`, on a free port.
    pub fn start(api_key: &str) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("demo-api")
            .enable_all()
            .build()
            .expect("cannot build the demo API's runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("cannot bind the demo API to 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("demo API has no local address");
        let api = DemoApi::new(api_key);
        runtime.spawn(api.clone().serve(listener));
        DemoBackend {
            api,
            addr,
            _runtime: runtime,
        }
    }

    /// Where the API listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `backends.*.base_url`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request that reached the API so far, oldest first.
    pub fn recorded_requests(&self) -> Vec<RecordedRequest> {
        self.api.recorded_requests()
    }
}

/// A config serving the demo API as backend `inventory` on
/// `127.0.0.1:listen_port`, with its key read from `env:DEMO_API_KEY`.
/// Read-only mode is off for the backend, so that tests of other things
/// can call its write tools.
pub fn demo_config(listen_port: u16, api_addr: SocketAddr) -> String {
    format!(
        r#"[server]
listen = "127.0.0.1:{listen_port}"

[backends.inventory]
spec = {spec}
base_url = "http://{api_addr}"
credential = {{ kind = "header", name = "X-Demo-Key", value = "env:DEMO_API_KEY" }}
read_only = false
"#,
        // A TOML basic string is a JSON string for any path we will meet.
        spec = Value::from(demo_spec_path().display().to_string()),
    )
}

/// Write `toml` to `dir/mcpgate.toml` and return its path.
pub fn write_config(dir: &Path, toml: &str) -> PathBuf {
    let path = dir.join("mcpgate.toml");
    std::fs::write(&path, toml)
        .unwrap_or_else(|e| panic!("cannot write config {}: {e}", path.display()));
    path
}

/// `mcpgate serve --config FILE` running as a child process, killed on drop.
///
/// Its stderr (the logs) goes to a file next to the config, so tests can
/// read it with [`Gateway::stderr_log`].
pub struct Gateway {
    child: Child,
    addr: SocketAddr,
    path: String,
    log_path: PathBuf,
}

impl Gateway {
    /// Start `mcpgate serve --config config_path` with `envs` added to the
    /// environment, and wait until `GET /healthz` answers 200 with JSON.
    ///
    /// The address and MCP path are read from the config's `[server]`
    /// section. Panics, showing the captured stderr, if the gateway exits
    /// early or is not ready within [`READY_TIMEOUT`].
    pub fn spawn(config_path: &Path, envs: &[(&str, &str)]) -> Self {
        let (addr, path) = server_address(config_path);
        static SPAWNED: AtomicUsize = AtomicUsize::new(0);
        let n = SPAWNED.fetch_add(1, Ordering::Relaxed);
        let dir = config_path.parent().unwrap_or(Path::new("."));
        let log_path = dir.join(format!("mcpgate-{n}.stderr.log"));
        let log = File::create(&log_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
        let child = Command::new(mcpgate_bin())
            .arg("serve")
            .arg("--config")
            .arg(config_path)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", mcpgate_bin().display()));
        let mut gateway = Gateway {
            child,
            addr,
            path,
            log_path,
        };
        gateway.wait_ready();
        gateway
    }

    /// Where the gateway listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The Streamable HTTP endpoint, e.g. `http://127.0.0.1:PORT/mcp`.
    pub fn mcp_url(&self) -> String {
        format!("http://{}{}", self.addr, self.path)
    }

    /// The gateway's process id, to send it signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the gateway wrote to stderr so far.
    pub fn stderr_log(&self) -> String {
        read_log(&self.log_path)
    }

    /// The file holding the gateway's stderr.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// Where the gateway serves its Protected Resource Metadata (RFC 9728
    /// §3.1: the well-known segment between host and path), as named in its
    /// challenges when an authorization server is configured.
    pub fn metadata_url(&self) -> String {
        format!(
            "http://{}/.well-known/oauth-protected-resource{}",
            self.addr,
            self.path.trim_end_matches('/')
        )
    }

    fn wait_ready(&mut self) {
        let url = format!("http://{}/healthz", self.addr);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cannot build the health probe's runtime");
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("cannot build the health probe's HTTP client");
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot poll the gateway") {
                panic!(
                    "mcpgate exited early ({status}) before {url} answered; its stderr:\n{}",
                    self.stderr_log()
                );
            }
            let Err(why) = runtime.block_on(probe(&client, &url)) else {
                return;
            };
            if Instant::now() >= deadline {
                panic!(
                    "mcpgate was not ready within {READY_TIMEOUT:?} ({url}: {why}); its stderr:\n{}",
                    self.stderr_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Gateway {
    /// Stop it as an init system would (SIGTERM) and wait for it to exit:
    /// its exit status and how long it took. Panics after `limit`.
    pub fn terminate(&mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let started = std::time::Instant::now();
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("cannot run kill");
        assert!(sent.success(), "kill -TERM failed");
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot wait for the gateway") {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < limit,
                "the gateway did not exit within {limit:?} of SIGTERM:\n{}",
                self.stderr_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Ok` when `url` answers 200 with a JSON body.
async fn probe(client: &reqwest::Client, url: &str) -> Result<(), String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(format!("HTTP {status}"));
    }
    response
        .json::<Value>()
        .await
        .map(drop)
        .map_err(|e| format!("body is not JSON: {e}"))
}

/// `server.listen` and `server.path` of a config file, with mcpgate's defaults.
fn server_address(config_path: &Path) -> (SocketAddr, String) {
    let text = std::fs::read_to_string(config_path)
        .unwrap_or_else(|e| panic!("cannot read config {}: {e}", config_path.display()));
    let config: toml::Table = toml::from_str(&text)
        .unwrap_or_else(|e| panic!("config {} is not TOML: {e}", config_path.display()));
    let server = config.get("server").and_then(toml::Value::as_table);
    let field = |key: &str| {
        server
            .and_then(|s| s.get(key))
            .and_then(toml::Value::as_str)
    };
    let listen = field("listen").unwrap_or("127.0.0.1:8080");
    let addr = listen
        .parse()
        .unwrap_or_else(|e| panic!("server.listen {listen:?} is not an address: {e}"));
    (addr, field("path").unwrap_or("/mcp").to_owned())
}

fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}

/// Which official SDK drives the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sdk {
    /// `tests/e2e/client.mjs`, the TypeScript SDK, run with `node`.
    TypeScript,
    /// `tests/e2e/client.py`, the Python SDK, run with the e2e venv.
    Python,
}

/// What a driver run produced.
#[derive(Debug)]
pub struct ClientRun {
    /// The JSON document the driver printed (see `tests/e2e/README.md`).
    pub json: Value,
    /// The driver's stderr. With `--stdio` this includes the stderr of the
    /// server it spawned, i.e. the gateway's logs.
    pub stderr: String,
}

/// Run the TypeScript driver with `args` and return its JSON output.
pub fn run_node_client<I, S>(args: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_client(Sdk::TypeScript, args).json
}

/// Run the Python driver with `args` and return its JSON output.
pub fn run_python_client<I, S>(args: I) -> Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    run_client(Sdk::Python, args).json
}

/// Run `sdk`'s driver with `args` from the repo root.
///
/// Panics with stdout and stderr if it exits non-zero or prints something
/// other than JSON, and with a pointer to `scripts/install-test-deps.sh` if
/// the SDKs are not installed.
pub fn run_client<I, S>(sdk: Sdk, args: I) -> ClientRun
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let e2e = repo_root().join("tests/e2e");
    let mut command = match sdk {
        Sdk::TypeScript => {
            require_installed(&e2e.join("node_modules"));
            let mut command = Command::new("node");
            command.arg(e2e.join("client.mjs"));
            command
        }
        Sdk::Python => {
            require_installed(&e2e.join(".venv"));
            let mut command = Command::new(e2e.join(".venv/bin/python"));
            command.arg(e2e.join("client.py"));
            command
        }
    };
    command
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null());
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the {sdk:?} driver ({command:?}): {e}"));
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    if !status.success() {
        panic!(
            "the {sdk:?} driver failed ({status})\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}"
        );
    }
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "the {sdk:?} driver printed no JSON ({e})\n--- stdout:\n{stdout}\n--- stderr:\n{stderr}"
        )
    });
    ClientRun { json, stderr }
}

/// Never skip silently: a missing SDK is a setup error, said as such.
fn require_installed(path: &Path) {
    assert!(
        path.is_dir(),
        "{} is missing: run scripts/install-test-deps.sh first",
        path.display()
    );
}

/// Every operation of `examples/demo/openapi.yaml`, as a tool.
pub const DEMO_TOOLS: [&str; 6] = [
    "listItems",
    "getItem",
    "createItem",
    "adjustStock",
    "deleteItem",
    "health",
];

/// Run `mcpgate ARGS…` to completion: (succeeded, stdout followed by stderr).
pub fn run_mcpgate(args: &[&str]) -> (bool, String) {
    let output = Command::new(mcpgate_bin())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", mcpgate_bin().display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// `mcpgate audit export --config CONFIG`, as text; it must succeed.
pub fn audit_export_text(config: &Path) -> String {
    let (ok, out) = run_mcpgate(&["audit", "export", "--config", config.to_str().unwrap()]);
    assert!(ok, "audit export failed:\n{out}");
    out
}

/// `mcpgate audit export --config CONFIG`, one JSON value per line.
pub fn audit_export(config: &Path) -> Vec<Value> {
    audit_export_text(config)
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("an audit line is not JSON ({e}): {line}"))
        })
        .collect()
}

/// Run `statements` against a SQLite file, as someone with access to the
/// database (an attacker, a failing disk, an operator) would.
pub fn sqlite(path: &Path, statements: &[&str]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut connection =
            sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .unwrap();
        for statement in statements {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
                .execute(&mut connection)
                .await
                .unwrap();
        }
    });
}

/// The tool names a driver listed, sorted.
pub fn sorted_tool_names(out: &Value) -> Vec<String> {
    let mut names: Vec<String> = out["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {out:#}"))
        .iter()
        .filter_map(|tool| tool["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// The text of a driver's call that must have succeeded.
pub fn successful_text(call: &Value) -> String {
    let result = call
        .get("result")
        .unwrap_or_else(|| panic!("{} gave no result: {call:#}", call["name"]));
    assert_ne!(result["isError"], true, "{} failed: {call:#}", call["name"]);
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The JSON-RPC error of a `tools/call` of `tool` refused because the caller
/// lacks `missing`: the same in-band on stdio and, over Streamable HTTP, as
/// the body of an HTTP 403.
pub fn insufficient_scope_error(tool: &str, missing: &[&str]) -> Value {
    json!({
        "code": -32003,
        "message": format!("not allowed to call `{tool}`: missing scope {}", missing.join(", ")),
        "data": {"tool": tool, "missingScopes": missing},
    })
}

/// How the TypeScript SDK reports an HTTP error status: this, then the body.
const TS_HTTP_ERROR: &str = "Streamable HTTP error: Error POSTing to endpoint: ";

/// Call `index` of a driver's run over Streamable HTTP is a call of `tool`
/// that the gateway refused with HTTP 403 for lack of `missing`, reported
/// the way that driver's SDK reports it:
///
/// - TypeScript raises an error of its own (`clientSide`) with code 403 and
///   the response body, [`insufficient_scope_error`] under the request's id,
///   in the message;
/// - Python surfaces the JSON-RPC error in the body, exactly as sent.
///
/// The challenge headers are for [`raw_http::assert_insufficient_scope`] to
/// check; the SDKs do not show them.
pub fn assert_insufficient_scope(out: &Value, index: usize, tool: &str, missing: &[&str]) {
    let call = &out["calls"][index];
    assert_eq!(call["name"], tool, "call #{index}: {out:#}");
    assert!(
        call.get("result").is_none() && call.get("rawResult").is_none(),
        "{tool} returned a result: {call:#}"
    );
    let expected = insufficient_scope_error(tool, missing);
    match out["client"].as_str() {
        Some("typescript-sdk") => {
            let message = call["error"]["message"]
                .as_str()
                .unwrap_or_else(|| panic!("{tool} was not refused: {call:#}"));
            let body = message
                .strip_prefix(TS_HTTP_ERROR)
                .unwrap_or_else(|| panic!("{tool} was not refused by HTTP status: {call:#}"));
            let body: Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("the 403 body is not JSON ({e}): {call:#}"));
            // The SDK numbers its requests; the driver does not say which
            // number this call had.
            assert!(
                body["id"].is_u64(),
                "the 403 body has no request id: {call:#}"
            );
            assert_eq!(
                body,
                json!({"jsonrpc": "2.0", "id": body["id"], "error": expected}),
                "{call:#}"
            );
            assert_eq!(
                call["error"],
                json!({"code": 403, "message": message, "clientSide": true}),
                "{call:#}"
            );
        }
        Some("python-sdk") => assert_eq!(call["error"], expected, "{call:#}"),
        other => panic!("not a driver's output (client {other:?}): {out:#}"),
    }
}

/// An audit record of a `tools/call` of `tool` refused because the caller
/// lacks `missing`: denied for `insufficient_scope`, never executed.
pub fn assert_audited_insufficient_scope(record: &Value, tool: &str, missing: &[&str]) {
    assert_eq!(record["method"], "tools/call", "{record:#}");
    assert_eq!(record["tool"], tool, "{record:#}");
    assert_eq!(
        record["decision"],
        json!({
            "decision": "deny",
            "reason": {"kind": "insufficient_scope"},
            "missing_scopes": missing,
        }),
        "{record:#}"
    );
    assert_eq!(record["outcome"], "not_executed", "{record:#}");
    assert!(record["backend_status"].is_null(), "{record:#}");
}
