//! Mutual TLS: the gateway serves HTTPS and accepts client certificates
//! from one CA as an identity.
//!
//! Everything is generated per test with `rcgen` (aws-lc-rs backend): a
//! server CA and a server certificate for 127.0.0.1, a client CA that issues
//! `alice` and `mallory-revoked`, a CRL from the client CA revoking mallory,
//! and `eve`, whose certificate comes from an unrelated CA.
//!
//! - alice, with the official TypeScript and Python clients, sees and calls
//!   the read tools (the scopes of `[auth.mutual_tls]`) and is audited as
//!   `alice` / `mutual_tls` / `sha256:<fingerprint>`;
//! - with `client_certificates = "required"`, no certificate, eve's and
//!   mallory's all fail the TLS handshake;
//! - with `"optional"`, no certificate gets 401 with a Bearer challenge, and
//!   alice gets in.

mod common;

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    DemoBackend, Sdk, assert_audited_insufficient_scope, assert_insufficient_scope, demo_config,
    free_port, mcpgate_bin, random_token, repo_root,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason,
    RevokedCertParams, SerialNumber, date_time_ymd,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The tools `inventory:read` allows.
const READ_TOOLS: [&str; 3] = ["getItem", "health", "listItems"];

const ALICE_SERIAL: u64 = 0x0a11ce;
const MALLORY_SERIAL: u64 = 0x0bad;
const EVE_SERIAL: u64 = 0x0e7e;

// ---------------------------------------------------------------- the tests

#[test]
fn alice_uses_the_typescript_sdk_over_mutual_tls() {
    alice_reads_the_inventory(Sdk::TypeScript);
}

#[test]
fn alice_uses_the_python_sdk_over_mutual_tls() {
    alice_reads_the_inventory(Sdk::Python);
}

fn alice_reads_the_inventory(sdk: Sdk) {
    let setup = Setup::new("required");
    let gateway = setup.spawn();
    let pki = &setup.pki;

    let run = run_driver(
        sdk,
        &[
            "--url",
            &gateway.mcp_url(),
            "--timeout",
            "10",
            "--ca",
            path_str(&pki.server_ca),
            "--cert",
            path_str(&pki.alice.cert),
            "--key",
            path_str(&pki.alice.key),
            "--call",
            "listItems={}",
            "--call",
            "createItem={\"body\":{\"name\":\"sprocket\",\"quantity\":1}}",
        ],
    );
    let out = run.json_or_panic(&gateway);

    let mut tools: Vec<&str> = out["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools: {out:#}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap_or("?"))
        .collect();
    tools.sort_unstable();
    assert_eq!(tools, READ_TOOLS, "alice's tools ({sdk:?})");

    let list = &out["calls"][0];
    assert_eq!(list["name"], "listItems");
    assert!(list.get("error").is_none(), "listItems failed: {list:#}");
    assert_ne!(list["result"]["isError"], json!(true), "{list:#}");
    assert!(
        list["result"]["content"]
            .as_array()
            .is_some_and(|c| !c.is_empty()),
        "listItems returned nothing: {list:#}"
    );

    // Beyond alice's scopes: a 403 step-up challenge.
    assert_insufficient_scope(&out, 1, "createItem", &["inventory:write"]);

    // Only listItems reached the backend.
    let seen: Vec<String> = setup
        .demo
        .recorded_requests()
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    assert_eq!(seen.len(), 1, "backend requests: {seen:#?}");

    // Audited as alice, by certificate.
    let fingerprint = format!("sha256:{}", hex_lower(&Sha256::digest(&pki.alice.der)));
    let audit = setup.audit_export();
    let calls: Vec<&Value> = audit
        .iter()
        .map(|line| &line["record"])
        .filter(|r| r["method"] == "tools/call")
        .collect();
    assert_eq!(calls.len(), 2, "tools/call audit records: {audit:#?}");
    for record in &calls {
        assert_eq!(record["subject"], "alice", "{record:#}");
        assert_eq!(record["auth_method"], "mutual_tls", "{record:#}");
        let id = record["credential_id"].as_str().unwrap_or_default();
        assert!(id.starts_with("sha256:"), "{record:#}");
        assert!(
            id.eq_ignore_ascii_case(&fingerprint),
            "credential_id {id} is not alice's fingerprint {fingerprint}"
        );
    }
    let record = |tool: &str| {
        *calls
            .iter()
            .find(|r| r["tool"] == tool)
            .unwrap_or_else(|| panic!("{tool} was not audited: {calls:#?}"))
    };
    assert_eq!(record("listItems")["decision"]["decision"], "allow");
    assert_audited_insufficient_scope(record("createItem"), "createItem", &["inventory:write"]);
    drop(gateway);
}

#[test]
fn required_mode_refuses_no_certificate_an_unknown_ca_and_a_revoked_one() {
    let setup = Setup::new("required");
    let gateway = setup.spawn();
    let pki = &setup.pki;

    // Sanity: alice gets through with the same plain HTTPS client.
    let alice = setup.https_client(Some(&pki.alice));
    let (status, _, body) = initialize(&alice, &gateway).expect("alice was refused");
    assert_eq!(status, 200, "alice: {body}");

    // The TLS alert the gateway sends, as rustls names it. Under TLS 1.3 the
    // client may see the connection close before it reads the alert, so the
    // alert is only checked when it shows up.
    for (who, identity, alert) in [
        ("no certificate", None, "CertificateRequired"),
        ("eve (another CA)", Some(&pki.eve), "UnknownCA"),
        (
            "mallory (revoked)",
            Some(&pki.mallory),
            "CertificateRevoked",
        ),
    ] {
        let client = setup.https_client(identity);
        match initialize(&client, &gateway) {
            Err(why) => {
                eprintln!("{who}: refused as expected: {why}");
                assert_alert(who, &why, alert);
            }
            Ok((status, _, body)) => {
                panic!("{who}: the handshake succeeded, got HTTP {status}: {body}")
            }
        }

        // The official client fails to connect too (exit 1).
        let mut args = vec![
            "--url".to_owned(),
            gateway.mcp_url(),
            "--timeout".to_owned(),
            "10".to_owned(),
            "--ca".to_owned(),
            path_str(&pki.server_ca).to_owned(),
        ];
        if let Some(id) = identity {
            args.extend([
                "--cert".to_owned(),
                path_str(&id.cert).to_owned(),
                "--key".to_owned(),
                path_str(&id.key).to_owned(),
            ]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_driver(Sdk::TypeScript, &args);
        assert_eq!(
            run.status.code(),
            Some(1),
            "{who}: the TypeScript client connected\n--- stdout:\n{}\n--- stderr:\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stderr.contains("connect failed"),
            "{who}: {}",
            run.stderr
        );
        eprintln!(
            "{who}: TypeScript client: {}",
            run.stderr.lines().last().unwrap_or_default()
        );
    }

    // None of them reached the backend.
    assert!(
        setup.demo.recorded_requests().is_empty(),
        "a refused client reached the backend"
    );
    // The gateway is still healthy.
    let (status, _, body) = initialize(&alice, &gateway).expect("alice was refused afterwards");
    assert_eq!(status, 200, "alice afterwards: {body}");
}

#[test]
fn optional_mode_asks_for_a_bearer_token_without_a_certificate() {
    let setup = Setup::new("optional");
    let gateway = setup.spawn();
    let pki = &setup.pki;

    let anonymous = setup.https_client(None);
    let (status, challenge, body) = initialize(&anonymous, &gateway)
        .expect("the optional handshake failed without a certificate");
    assert_eq!(status, 401, "no certificate: {body}");
    let challenge = challenge.unwrap_or_else(|| panic!("401 without WWW-Authenticate: {body}"));
    assert!(
        challenge
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("bearer"),
        "challenge: {challenge}"
    );

    let alice = setup.https_client(Some(&pki.alice));
    let (status, _, body) = initialize(&alice, &gateway).expect("alice was refused");
    assert_eq!(status, 200, "alice: {body}");

    // Revocation and trust still apply when certificates are optional.
    for (who, identity, alert) in [
        ("eve", &pki.eve, "UnknownCA"),
        ("mallory", &pki.mallory, "CertificateRevoked"),
    ] {
        let client = setup.https_client(Some(identity));
        match initialize(&client, &gateway) {
            Ok((status, _, body)) => {
                panic!("{who}: the handshake succeeded in optional mode, got HTTP {status}: {body}")
            }
            Err(why) => assert_alert(who, &why, alert),
        }
    }

    // And the official client with alice's certificate works in this mode too.
    let run = run_driver(
        Sdk::TypeScript,
        &[
            "--url",
            &gateway.mcp_url(),
            "--ca",
            path_str(&pki.server_ca),
            "--cert",
            path_str(&pki.alice.cert),
            "--key",
            path_str(&pki.alice.key),
        ],
    );
    let out = run.json_or_panic(&gateway);
    assert_eq!(
        out["tools"].as_array().map(Vec::len),
        Some(READ_TOOLS.len()),
        "{out:#}"
    );
}

// ---------------------------------------------------------------- PKI

/// A certificate and its key on disk, plus the DER.
struct Leaf {
    cert: PathBuf,
    key: PathBuf,
    der: Vec<u8>,
}

struct Pki {
    server_ca: PathBuf,
    server: Leaf,
    client_ca: PathBuf,
    crl: PathBuf,
    alice: Leaf,
    mallory: Leaf,
    eve: Leaf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().expect("cannot generate a CA key");
    CertifiedIssuer::self_signed(params, key).expect("cannot self-sign a CA")
}

fn leaf(
    dir: &Path,
    file: &str,
    params: CertificateParams,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Leaf {
    let key = KeyPair::generate().expect("cannot generate a key");
    let cert = params
        .signed_by(&key, issuer)
        .expect("cannot sign a certificate");
    let cert_path = dir.join(format!("{file}.pem"));
    let key_path = dir.join(format!("{file}.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Leaf {
        cert: cert_path,
        key: key_path,
        der: cert.der().to_vec(),
    }
}

fn client_params(cn: &str, serial: u64) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.serial_number = Some(SerialNumber::from(serial));
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params
}

impl Pki {
    fn generate(dir: &Path) -> Self {
        let server_ca = ca("mcpgate test server CA");
        let client_ca = ca("mcpgate test client CA");
        let eve_ca = ca("eve's own CA");

        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("bad server SANs");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "mcpgate test server");
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = leaf(dir, "server", server_params, &server_ca);

        let alice = leaf(
            dir,
            "alice",
            client_params("alice", ALICE_SERIAL),
            &client_ca,
        );
        let mallory = leaf(
            dir,
            "mallory",
            client_params("mallory-revoked", MALLORY_SERIAL),
            &client_ca,
        );
        let eve = leaf(dir, "eve", client_params("eve", EVE_SERIAL), &eve_ca);

        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2099, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from(MALLORY_SERIAL),
                revocation_time: date_time_ymd(2024, 1, 1),
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&client_ca)
        .expect("cannot sign the CRL");

        let write = |file: &str, text: String| {
            let path = dir.join(file);
            std::fs::write(&path, text).unwrap();
            path
        };
        Pki {
            server_ca: write("server-ca.pem", server_ca.pem()),
            server,
            client_ca: write("clients-ca.pem", client_ca.pem()),
            crl: write("clients.crl.pem", crl.pem().expect("cannot PEM the CRL")),
            alice,
            mallory,
            eve,
        }
    }
}

// ---------------------------------------------------------------- deployment

struct Setup {
    demo: DemoBackend,
    backend_key: String,
    config: PathBuf,
    pki: Pki,
    // Keeps the PKI, config, store and logs until the test ends.
    dir: tempfile::TempDir,
}

impl Setup {
    /// The demo API behind a TLS gateway config with `client_certificates = mode`.
    fn new(mode: &str) -> Self {
        let backend_key = format!("backend-{}", random_token());
        let demo = DemoBackend::start(&backend_key);
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let pki = Pki::generate(dir.path());
        let port = free_port();
        let s = |p: &Path| Value::from(p.display().to_string());
        let toml = format!(
            r#"{base}
[server.tls]
cert = {cert}
key = {key}
client_ca = {client_ca}
client_certificates = "{mode}"
crls = [{crl}]

[auth.mutual_tls]
scopes = ["inventory:read"]

[store]
url = "sqlite:mcpgate.db"
"#,
            base = demo_config(port, demo.addr()),
            cert = s(&pki.server.cert),
            key = Value::from(format!("file:{}", pki.server.key.display())),
            client_ca = s(&pki.client_ca),
            crl = s(&pki.crl),
        );
        // `[server.tls]` must follow `[server]`'s keys, which demo_config
        // puts first; the backend table in between is fine for TOML.
        let config = dir.path().join("mcpgate.toml");
        std::fs::write(&config, toml).expect("cannot write the config");
        Setup {
            demo,
            backend_key,
            config,
            pki,
            dir,
        }
    }

    fn envs(&self) -> [(&str, &str); 1] {
        [("DEMO_API_KEY", self.backend_key.as_str())]
    }

    fn spawn(&self) -> TlsGateway {
        TlsGateway::spawn(self)
    }

    /// An HTTPS client trusting only the server CA, presenting `identity`.
    fn https_client(&self, identity: Option<&Leaf>) -> reqwest::Client {
        let ca = std::fs::read(&self.pki.server_ca).unwrap();
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .tls_certs_only([reqwest::Certificate::from_pem(&ca).expect("bad CA PEM")]);
        if let Some(leaf) = identity {
            let mut pem = std::fs::read(&leaf.key).unwrap();
            pem.extend(std::fs::read(&leaf.cert).unwrap());
            builder =
                builder.identity(reqwest::Identity::from_pem(&pem).expect("bad identity PEM"));
        }
        builder.build().expect("cannot build an HTTPS client")
    }

    /// `mcpgate audit export`, one JSON value per line.
    fn audit_export(&self) -> Vec<Value> {
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(mcpgate_bin())
            .args(["audit", "export", "--config"])
            .arg(&self.config)
            .envs(self.envs())
            .stdin(Stdio::null())
            .output()
            .expect("cannot run mcpgate audit export");
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        assert!(
            status.success(),
            "audit export failed ({status})\n{stdout}\n{}",
            String::from_utf8_lossy(&stderr)
        );
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }
}

/// `mcpgate serve` with TLS, ready once `https://…/healthz` answers.
struct TlsGateway {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl TlsGateway {
    fn spawn(setup: &Setup) -> Self {
        let text = std::fs::read_to_string(&setup.config).unwrap();
        let table: toml::Table = toml::from_str(&text).expect("config is not TOML");
        let addr: SocketAddr = table["server"]["listen"].as_str().unwrap().parse().unwrap();
        let log = setup.dir.path().join("mcpgate.stderr.log");
        let child = Command::new(mcpgate_bin())
            .args(["serve", "--config"])
            .arg(&setup.config)
            .envs(setup.envs())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("cannot start mcpgate");
        let mut gateway = TlsGateway { child, addr, log };

        // alice's certificate works in both modes.
        let client = setup.https_client(Some(&setup.pki.alice));
        let url = format!("https://{addr}/healthz");
        let runtime = runtime();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = gateway.child.try_wait().unwrap() {
                panic!(
                    "mcpgate exited early ({status}); stderr:\n{}",
                    gateway.stderr_log()
                );
            }
            let why = match runtime.block_on(async { client.get(&url).send().await }) {
                Ok(r) if r.status() == 200 => break,
                Ok(r) => format!("HTTP {}", r.status()),
                Err(e) => error_chain(&e),
            };
            if Instant::now() >= deadline {
                panic!(
                    "mcpgate was not ready at {url}: {why}; stderr:\n{}",
                    gateway.stderr_log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        gateway
    }

    fn mcp_url(&self) -> String {
        format!("https://{}/mcp", self.addr)
    }

    fn stderr_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for TlsGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// POST an `initialize` to the gateway: (status, WWW-Authenticate, body), or
/// the transport error (e.g. a refused handshake) as text.
fn initialize(
    client: &reqwest::Client,
    gateway: &TlsGateway,
) -> Result<(u16, Option<String>, String), String> {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "mtls-test", "version": "0"}
        }
    });
    runtime().block_on(async {
        let response = client
            .post(gateway.mcp_url())
            .header("Accept", "application/json, text/event-stream")
            .json(&body)
            .send()
            .await
            .map_err(|e| error_chain(&e))?;
        let status = response.status().as_u16();
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(|e| error_chain(&e))?;
        Ok((status, challenge, text))
    })
}

/// If the refusal carries a TLS alert, it is `alert`.
fn assert_alert(who: &str, why: &str, alert: &str) {
    if why.contains("alert") {
        assert!(
            why.contains(alert),
            "{who}: expected TLS alert {alert}, got: {why}"
        );
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

// ---------------------------------------------------------------- drivers

struct DriverRun {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

impl DriverRun {
    fn json_or_panic(&self, gateway: &TlsGateway) -> Value {
        assert!(
            self.status.success(),
            "the driver failed ({})\n--- stdout:\n{}\n--- stderr:\n{}\n--- gateway stderr:\n{}",
            self.status,
            self.stdout,
            self.stderr,
            gateway.stderr_log()
        );
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }
}

/// Run a `tests/e2e` driver to completion, whatever its exit status.
fn run_driver(sdk: Sdk, args: &[&str]) -> DriverRun {
    let e2e = repo_root().join("tests/e2e");
    let mut command = match sdk {
        Sdk::TypeScript => {
            assert!(
                e2e.join("node_modules/undici").is_dir(),
                "tests/e2e/node_modules/undici is missing: run scripts/install-test-deps.sh --force"
            );
            let mut c = Command::new("node");
            c.arg(e2e.join("client.mjs"));
            c
        }
        Sdk::Python => {
            assert!(
                e2e.join(".venv").is_dir(),
                "tests/e2e/.venv is missing: run scripts/install-test-deps.sh first"
            );
            let mut c = Command::new(e2e.join(".venv/bin/python"));
            c.arg(e2e.join("client.py"));
            c
        }
    };
    let Output {
        status,
        stdout,
        stderr,
    } = command
        .args(args)
        .current_dir(repo_root())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run the driver");
    DriverRun {
        status,
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("non-UTF-8 temp path")
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
