//! The admin console and admin API, as a security team meets them: over
//! HTTPS, in a real browser (Debian chromium driven by npm
//! `playwright-core`, `tests/e2e/console.mjs`), and as raw HTTP for the
//! attacks: a non-admin credential, a cross-site form post, a forged token.
//!
//! Screenshots of every screen are kept in
//! `$CARGO_TARGET_TMPDIR/admin-console-screenshots/` (printed by the test).

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, mcpgate_bin, repo_root};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};

/// A gateway over HTTPS with API keys, an echo tool and the console.
struct Console {
    child: Child,
    addr: SocketAddr,
    dir: tempfile::TempDir,
    ca: PathBuf,
    pepper: String,
    /// An API key with the admin role.
    admin_key: String,
    /// An API key without it (it may call the tool).
    user_key: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl Console {
    fn start() -> Console {
        let dir = tempfile::tempdir().unwrap();
        let ca = write_pki(dir.path());
        let port = free_port();
        let toml = format!(
            r#"[server]
listen = "127.0.0.1:{port}"

[server.tls]
cert = "server.pem"
key = "file:server.key"

[auth.api_keys]
environment = "test"
pepper = "env:TEST_PEPPER"

[backends.echo]
kind = "echo"

[authz]
read_only = false

[[authz.tools]]
scopes = ["echo:call"]

[admin]
"#
        );
        let config = dir.path().join("mcpgate.toml");
        std::fs::write(&config, toml).unwrap();
        let pepper = common::random_token() + &common::random_token();
        let mint = |args: &[&str]| -> String {
            let output = Command::new(mcpgate_bin())
                .args(["keys", "create", "--config"])
                .arg(&config)
                .args(args)
                .env("TEST_PEPPER", &pepper)
                .output()
                .unwrap();
            assert!(output.status.success(), "{output:?}");
            String::from_utf8(output.stdout)
                .unwrap()
                .lines()
                .last()
                .unwrap()
                .trim()
                .to_owned()
        };
        let admin_key = mint(&["--name", "security-team", "--roles", "admin"]);
        let user_key = mint(&["--name", "some-agent", "--scopes", "echo:call"]);
        let child = Command::new(mcpgate_bin())
            .args(["serve", "--config"])
            .arg(&config)
            .env("TEST_PEPPER", &pepper)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("mcpgate.log")).unwrap())
            .spawn()
            .unwrap();
        let ca_pem = std::fs::read(&ca).unwrap();
        let http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca_pem).unwrap())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(15))
            .build()
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut console = Console {
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            dir,
            ca,
            pepper,
            admin_key,
            user_key,
            http,
            runtime,
        };
        console.wait_ready();
        console
    }

    fn base(&self) -> String {
        format!("https://{}", self.addr)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mcpgate.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("mcpgate exited ({status}):\n{}", self.log());
            }
            let url = format!("{}/healthz", self.base());
            let ready = self
                .runtime
                .block_on(async { self.http.get(&url).send().await })
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "not ready:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `(status, headers, body)` of a request built by `build`.
    fn send(
        &self,
        build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        self.runtime.block_on(async {
            let response = build(&self.http).send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers, response.text().await.unwrap_or_default())
        })
    }

    /// The admin API with `credential`.
    fn api(&self, method: &str, path: &str, credential: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}/admin/api{path}", self.base());
        let (status, _, text) = self.send(|http| {
            let mut request = http
                .request(method.parse().unwrap(), &url)
                .bearer_auth(credential);
            if let Some(body) = body {
                request = request.json(&body);
            }
            request
        });
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Sign in to the console with `credential`: the session cookie and the
    /// anti-CSRF token of the pages, or the refusal's status.
    fn sign_in(&self, credential: &str) -> Result<(String, String), u16> {
        let (_, headers, page) = self.send(|http| http.get(format!("{}/admin/login", self.base())));
        let login_cookie = cookie(&headers, "__Host-mcpgate_admin_login").expect("a login cookie");
        let token = hidden_token(&page);
        let (status, headers, _) = self.send(|http| {
            http.post(format!("{}/admin/login", self.base()))
                .header(
                    "cookie",
                    format!("__Host-mcpgate_admin_login={login_cookie}"),
                )
                .form(&[("key", credential), ("csrf_token", &token)])
        });
        if status != 303 {
            return Err(status);
        }
        let session = cookie(&headers, "__Host-mcpgate_admin").expect("a session cookie");
        let (_, _, page) = self.send(|http| {
            http.get(format!("{}/admin/keys", self.base()))
                .header("cookie", format!("__Host-mcpgate_admin={session}"))
        });
        Ok((session, hidden_token(&page)))
    }

    /// The status of `tools/list` over MCP with `key`.
    fn mcp_list_status(&self, key: &str) -> u16 {
        let url = format!("{}/mcp", self.base());
        let (status, _, _) = self.send(|http| {
            http.post(&url)
                .bearer_auth(key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/list")
                .json(
                    &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {
                    "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                              "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                              "io.modelcontextprotocol/clientCapabilities": {}}}}),
                )
        });
        status
    }

    /// Every audit record's JSON text, through the admin API.
    fn audit(&self) -> Vec<Value> {
        let (status, body) = self.api("GET", "/audit?limit=5000", &self.admin_key, None);
        assert_eq!(status, 200, "{body}");
        body["records"].as_array().unwrap().clone()
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (pair, _) = v.split_once(';').unwrap_or((v, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name && !value.is_empty()).then(|| value.to_owned())
        })
}

fn hidden_token(page: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("no csrf_token in {page}"))
        + marker.len();
    page[start..start + page[start..].find('"').unwrap()].to_owned()
}

/// A CA and a server certificate for 127.0.0.1 signed by it; returns the
/// CA file.
fn write_pki(dir: &Path) -> PathBuf {
    let mut ca_params = CertificateParams::default();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "admin console test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let mut params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("server.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    let ca_path = dir.join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).unwrap();
    ca_path
}

// ---------------------------------------------------------------------------
// Attacks, as raw HTTP
// ---------------------------------------------------------------------------

#[test]
fn non_admins_are_refused_and_forms_need_the_page_token_and_origin() {
    let console = Console::start();
    let _ = &console.pepper;

    // The admin API: no credential 401, a valid non-admin key 403, a
    // made-up one 401.
    let (status, _) = console.api("GET", "/keys", "", None);
    assert_eq!(status, 401);
    let (status, body) = console.api("GET", "/keys", &console.user_key, None);
    assert_eq!(status, 403, "{body}");
    let (status, _) = console.api(
        "POST",
        "/keys",
        &console.user_key,
        Some(json!({"name": "x"})),
    );
    assert_eq!(status, 403);
    let (status, _) = console.api("GET", "/keys", "mcpg_test_made_up", None);
    assert_eq!(status, 401);
    // The console: the non-admin key does not sign in.
    assert_eq!(console.sign_in(&console.user_key), Err(403));
    // Pages without a session go to the sign-in page.
    let (status, headers, _) =
        console.send(|http| http.get(format!("{}/admin/keys", console.base())));
    assert_eq!(status, 303);
    assert_eq!(headers["location"], "/admin/login");

    let (session, token) = console
        .sign_in(&console.admin_key)
        .expect("the admin signs in");
    let post = |form: &[(&str, &str)], origin: Option<&str>| {
        console.send(|http| {
            let mut request = http
                .post(format!("{}/admin/keys", console.base()))
                .header("cookie", format!("__Host-mcpgate_admin={session}"))
                .form(form);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            request
        })
    };
    let keys_before = console.api("GET", "/keys", &console.admin_key, None).1["keys"]
        .as_array()
        .unwrap()
        .len();
    // Cross-site: no token, a wrong token, the right token from another origin.
    // (A foreign Origin is already refused by the gateway's Origin guard.)
    let (status, _, body) = post(&[("name", "csrf-1")], Some("https://evil.example"));
    assert_eq!(status, 403, "{body}");
    let (status, headers, body) = post(&[("name", "csrf-2")], None);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("anti-CSRF"), "{body}");
    assert_eq!(headers["x-frame-options"], "DENY");
    let (status, _, _) = post(&[("name", "csrf-3"), ("csrf_token", "wrong")], None);
    assert_eq!(status, 403);
    let (status, _, _) = post(
        &[("name", "csrf-4"), ("csrf_token", &token)],
        Some("https://evil.example"),
    );
    assert_eq!(status, 403);
    let keys_after = console.api("GET", "/keys", &console.admin_key, None).1["keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(keys_before, keys_after, "a refused form created a key");
    // The same form from the console's own origin, with its token, works.
    let origin = console.base();
    let (status, headers, body) = post(
        &[
            ("name", "from-the-console"),
            ("scopes", "echo:call"),
            ("csrf_token", &token),
        ],
        Some(&origin),
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("id=\"new-key-secret\">mcpg_test_"), "{body}");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["cache-control"], "no-store");

    // Ending a user's sessions (their OAuth grants) is a form too.
    let (status, _, _) = console.send(|http| {
        http.post(format!("{}/admin/oauth/users/revoke", console.base()))
            .header("cookie", format!("__Host-mcpgate_admin={session}"))
            .form(&[("subject", "alice"), ("csrf_token", &token)])
    });
    assert_eq!(status, 303);

    // The API creates and revokes; the revoked key is refused at once.
    let (status, created) = console.api(
        "POST",
        "/keys",
        &console.admin_key,
        Some(json!({"name": "api-made", "scopes": ["echo:call"]})),
    );
    assert_eq!(status, 201, "{created}");
    let (id, key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(console.mcp_list_status(&key), 200);
    let (status, revoked) = console.api(
        "POST",
        &format!("/keys/{id}/revoke"),
        &console.admin_key,
        None,
    );
    assert_eq!((status, &revoked["revoked"]), (200, &json!(true)));
    // Refused at once by the instance that revoked it (other instances
    // follow the change feed within about a second).
    assert_eq!(
        console.mcp_list_status(&key),
        401,
        "the revoked key still works"
    );

    // Every admin action and refusal is in the audit trail.
    let audit = console.audit();
    let has = |method: &str, decision: &str| {
        audit
            .iter()
            .any(|r| r["method"] == method && r["decision"] == decision)
    };
    assert!(has("admin/login", "allow"), "{audit:#?}");
    assert!(
        has("admin/login", "deny"),
        "the non-admin's attempt: {audit:#?}"
    );
    assert!(has("admin/api", "deny"), "{audit:#?}");
    assert!(has("admin/keys.create", "allow"), "{audit:#?}");
    assert!(has("admin/keys.revoke", "allow"), "{audit:#?}");
    assert!(has("admin/grants.revoke", "allow"), "{audit:#?}");
    assert!(
        !console.log().contains(&console.admin_key) && !console.log().contains(&key),
        "a credential was logged"
    );
}

// ---------------------------------------------------------------------------
// A real browser
// ---------------------------------------------------------------------------

#[test]
fn the_console_in_a_real_browser_revokes_a_key_a_client_uses() {
    let console = Console::start();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin-console-screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    std::fs::create_dir_all(&shots).unwrap();
    let e2e = repo_root().join("tests/e2e");
    let output = Command::new("node")
        .arg(e2e.join("console.mjs"))
        .args(["--base", &console.base()])
        .args(["--admin-key", &console.admin_key])
        .args(["--user-key", &console.user_key])
        .args(["--mcp-url", &format!("{}/mcp", console.base())])
        .arg("--ca")
        .arg(&console.ca)
        .args(["--scopes", "echo:call", "--tool", "echo"])
        .arg("--screenshots")
        .arg(&shots)
        .current_dir(repo_root())
        .output()
        .expect("cannot run node tests/e2e/console.mjs (scripts/install-test-deps.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{stdout}\n{stderr}\n{}",
        console.log()
    );
    let run: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("console.mjs printed no JSON ({e}): {stdout}\n{stderr}"));
    eprintln!("screenshots: {}", shots.display());
    println!("{run:#}");
    let count = std::fs::read_dir(&shots).unwrap().count();
    assert!(
        count >= 8,
        "a screenshot of each screen: {count} in {}",
        shots.display()
    );

    let text = run.to_string();
    // The key created in the browser worked from an MCP client, then was
    // refused once revoked in the browser.
    let key_id = find_string(&run, "key_").expect("the new key's id in the run");
    assert!(
        text.contains("\"isError\":false"),
        "the first call succeeded: {run:#}"
    );
    // Refused at once: the console told this instance's authenticator.
    let first = find_key(&run, "mcpAfterRevoke").expect("the call after the revocation");
    assert_ne!(
        first["exitCode"], 0,
        "the first call after the revocation passed: {first:#}"
    );
    let after = find_key(&run, "eventually").expect("the call after the revocation");
    assert_ne!(
        after["exitCode"], 0,
        "the revoked key kept working: {after:#}"
    );
    assert!(after["exitCode"].is_i64(), "{after:#}");
    assert!(text.contains("revoked"), "{run:#}");
    // The audit view shows both calls and the revocation.
    let audit = console.audit();
    let by_key: Vec<&Value> = audit
        .iter()
        .filter(|r| r["subject"] == key_id.as_str())
        .collect();
    assert!(
        by_key
            .iter()
            .any(|r| r["method"] == "tools/call" && r["decision"] == "allow"),
        "{audit:#?}"
    );
    assert!(
        by_key.iter().any(|r| r["decision"] == "deny"),
        "the refused call: {audit:#?}"
    );
    assert!(
        audit.iter().any(|r| r["method"] == "admin/keys.revoke"),
        "{audit:#?}"
    );
    // ...and so does the audit view in the browser: the revocation in
    // the full list, both calls when filtered by the key.
    let view = &run["steps"]["audit"];
    let cells = |rows: &Value| -> Vec<String> {
        rows.as_array()
            .unwrap_or_else(|| panic!("no rows: {view:#}"))
            .iter()
            .map(|row| row["cells"].to_string())
            .collect()
    };
    assert!(
        cells(&view["rows"])
            .iter()
            .any(|row| row.contains("admin/keys.revoke")),
        "the audit view lists the revocation: {view:#}"
    );
    let by_key_view = cells(&view["bySubject"]["rows"]);
    assert!(
        by_key_view
            .iter()
            .any(|row| row.contains("tools/call") && row.contains("allow")),
        "{by_key_view:#?}"
    );
    assert!(
        by_key_view
            .iter()
            .any(|row| row.contains("deny") && row.contains("revoked")),
        "{by_key_view:#?}"
    );
    let charts = find_key(&run, "charts").expect("the audit view's charts");
    for chart in ["calls", "topTools", "topDenied"] {
        let drawn = &charts[chart];
        assert!(
            drawn == &Value::Bool(true) || drawn["exists"] == true,
            "{chart}: {charts:#}"
        );
    }
}

/// The first value under `key`, anywhere in `value`.
fn find_key<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Object(map) => map
            .get(key)
            .or_else(|| map.values().find_map(|v| find_key(v, key))),
        Value::Array(items) => items.iter().find_map(|v| find_key(v, key)),
        _ => None,
    }
}

/// The first string in `value` starting with `prefix` followed by hex.
fn find_string(value: &Value, prefix: &str) -> Option<String> {
    match value {
        Value::String(s)
            if s.starts_with(prefix)
                && s.len() > prefix.len()
                && s[prefix.len()..].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Some(s.clone())
        }
        Value::Array(items) => items.iter().find_map(|v| find_string(v, prefix)),
        Value::Object(map) => map.values().find_map(|v| find_string(v, prefix)),
        _ => None,
    }
}
