//! `mcpgate init`, end to end.
//!
//! An operator answers a few questions — as flags in a script, or at the
//! prompts in a real terminal — and gets a recommendation with its reason
//! and a commented config. For every deployment profile the written config
//! is then used as is: checked, given keys or certificates, served, and
//! listed by the official TypeScript MCP client, which sees only the
//! read-only tools.

mod common;

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::idp::{Idp, IdpOptions};
use common::raw_http::Http;
use common::{
    DemoBackend, Gateway, demo_spec_path, free_port, mcpgate_bin, random_token, run_node_client,
    sorted_tool_names, successful_text,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use serde_json::Value;

/// What read-only mode leaves of the demo API's tools.
const READ_TOOLS: [&str; 3] = ["getItem", "health", "listItems"];

/// `mcpgate init ARGS` in `dir`, without a terminal.
fn init(dir: &Path, args: &[&str]) -> Output {
    Command::new(mcpgate_bin())
        .arg("init")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mcpgate init")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Text with every run of whitespace made one space: printed text is
/// wrapped to the terminal, and assertions should not depend on where.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `mcpgate init` that must succeed; returns its stdout and the config.
fn init_ok(dir: &Path, args: &[&str]) -> (String, toml::Table, String) {
    let output = init(dir, args);
    assert!(
        output.status.success(),
        "mcpgate init {args:?} failed\n--- stdout:\n{}\n--- stderr:\n{}",
        stdout(&output),
        stderr(&output)
    );
    let text = std::fs::read_to_string(dir.join("mcpgate.toml")).expect("no mcpgate.toml");
    let table: toml::Table = text.parse().expect("the config is not TOML");
    (stdout(&output), table, text)
}

fn spec_arg() -> String {
    demo_spec_path().display().to_string()
}

/// `table[a][b]…`, panicking with the config when absent.
fn at<'a>(table: &'a toml::Table, path: &[&str]) -> &'a toml::Value {
    let mut value = table
        .get(path[0])
        .unwrap_or_else(|| panic!("no {path:?} in {table:#?}"));
    for key in &path[1..] {
        value = value
            .get(key)
            .unwrap_or_else(|| panic!("no {path:?} in {table:#?}"));
    }
    value
}

fn strings(value: &toml::Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect()
}

/// What every profile's config shares: read-only mode, the demo backend
/// with its key from the environment, and the spec's own scopes.
fn assert_common(config: &toml::Table, base_url: &str) {
    assert_eq!(at(config, &["authz", "read_only"]).as_bool(), Some(true));
    assert_eq!(
        at(config, &["authz", "unscoped_tools"]).as_str(),
        Some("deny")
    );
    let backend = at(config, &["backends", "inventory"]);
    assert_eq!(backend["base_url"].as_str(), Some(base_url));
    assert_eq!(
        backend["spec"].as_str(),
        Some(demo_spec_path().display().to_string().as_str())
    );
    let credential = &backend["credential"];
    assert_eq!(credential["kind"].as_str(), Some("header"));
    assert_eq!(credential["name"].as_str(), Some("X-Demo-Key"));
    assert_eq!(credential["value"].as_str(), Some("env:INVENTORY_API_KEY"));
    // The demo spec declares OAuth scopes: they are kept, not overridden.
    assert!(config["authz"].get("tools").is_none(), "{config:#?}");
    let implies = at(config, &["authz", "scope_implies"]);
    assert_eq!(strings(&implies["inventory:admin"]), ["inventory:write"]);
    assert_eq!(strings(&implies["inventory:write"]), ["inventory:read"]);
}

/// Run `mcpgate ARGS` with `envs`; must succeed; returns stdout.
fn mcpgate_ok(args: &[&str], envs: &[(&str, &str)]) -> String {
    let output = Command::new(mcpgate_bin())
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run mcpgate");
    assert!(
        output.status.success(),
        "mcpgate {args:?} failed\n--- stdout:\n{}\n--- stderr:\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// The printed command line that starts with `prefix`, split into words
/// (the commands init prints quote nothing for these paths).
fn printed_command<'a>(out: &'a str, prefix: &str) -> Vec<&'a str> {
    out.lines()
        .map(str::trim)
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}…` line in:\n{out}"))
        .split('#')
        .next()
        .unwrap()
        .split_whitespace()
        .collect()
}

// ---------------------------------------------------------------------------
// 1. Through flags: one test per profile
// ---------------------------------------------------------------------------

#[test]
fn one_person_on_their_machine_gets_stdio_without_authentication() {
    let backend_key = random_token();
    let demo = DemoBackend::start(&backend_key);
    let dir = tempfile::tempdir().unwrap();
    let (out, config, _) = init_ok(
        dir.path(),
        &[
            "--runs",
            "local",
            "--users",
            "one",
            "--spec",
            &spec_arg(),
            "--base-url",
            &demo.base_url(),
        ],
    );
    let said = flat(&out);
    assert!(
        said.contains("Recommended: stdio, no authentication (local, single user)"),
        "{out}"
    );
    assert!(
        said.contains("there is no network listener to protect"),
        "{out}"
    );
    assert!(config.get("auth").is_none(), "no [auth]: {config:#?}");
    assert_eq!(
        at(&config, &["server", "listen"]).as_str(),
        Some("127.0.0.1:8080")
    );
    assert_common(&config, &demo.base_url());
    assert!(config["authz"].get("rate_limits").is_none(), "{config:#?}");

    // The desktop-client snippet is valid JSON naming the written config.
    let start = out.find("{\n").expect("no JSON snippet");
    let end = out[start..].find("\n  }\n").expect("unterminated JSON") + start + 4;
    let snippet: Value = serde_json::from_str(&out[start..end])
        .unwrap_or_else(|e| panic!("the snippet is not JSON ({e}):\n{out}"));
    let absolute = dir.path().join("mcpgate.toml").canonicalize().unwrap();
    assert_eq!(
        snippet["mcpServers"]["inventory"]["args"],
        serde_json::json!([
            "serve",
            "--stdio",
            "--config",
            absolute.display().to_string()
        ]),
        "{snippet:#}"
    );
    assert_eq!(snippet["mcpServers"]["inventory"]["command"], "mcpgate");
    assert!(snippet["mcpServers"]["inventory"]["env"]["INVENTORY_API_KEY"].is_string());

    // The config works: the TypeScript client starts the gateway over stdio.
    let absolute = absolute.display().to_string();
    let run = run_node_client([
        "--timeout",
        "10",
        "--call",
        "listItems",
        "--call",
        r#"createItem={"body":{"name":"x"}}"#,
        "--stdio",
        "--env",
        &format!("INVENTORY_API_KEY={backend_key}"),
        "--",
        &mcpgate_bin().display().to_string(),
        "serve",
        "--stdio",
        "--config",
        &absolute,
    ]);
    assert_eq!(sorted_tool_names(&run), READ_TOOLS, "{run:#}");
    assert!(
        successful_text(&run["calls"][0]).contains("widget"),
        "{run:#}"
    );
    assert!(
        run["calls"][1]
            .get("result")
            .is_none_or(|r| r["isError"] == true),
        "{run:#}"
    );
    assert!(
        demo.recorded_requests().iter().all(|r| r.method == "GET"),
        "read-only mode let a write through"
    );
}

#[test]
fn a_team_without_an_identity_provider_gets_api_keys_and_the_config_serves() {
    let backend_key = random_token();
    let demo = DemoBackend::start(&backend_key);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (out, config, _) = init_ok(
        dir.path(),
        &[
            "--runs",
            "remote",
            "--users",
            "team",
            "--on-behalf-of-users",
            "no",
            "--idp",
            "none",
            "--certificates",
            "no",
            "--clients",
            "3",
            "--spec",
            &spec_arg(),
            "--base-url",
            &demo.base_url(),
            "--listen",
            &listen,
        ],
    );
    let said = flat(&out);
    assert!(said.contains("Recommended: API keys"), "{out}");
    assert!(
        said.contains("A team without an identity provider: one API key per person"),
        "{out}"
    );
    assert!(said.contains("run `mcpgate init --idp URL` again"), "{out}");

    assert_eq!(
        at(&config, &["auth", "api_keys", "environment"]).as_str(),
        Some("prod")
    );
    assert_eq!(
        at(&config, &["auth", "api_keys", "pepper"]).as_str(),
        Some("env:MCPGATE_KEY_PEPPER")
    );
    assert_eq!(
        at(&config, &["server", "listen"]).as_str(),
        Some(listen.as_str())
    );
    assert_common(&config, &demo.base_url());
    let limits = at(&config, &["authz", "rate_limits"]).as_array().unwrap();
    assert_eq!(limits[0]["per"].as_str(), Some("identity"));

    // The exact next commands, run as printed.
    for line in [
        "export MCPGATE_KEY_PEPPER=$(head -c 32 /dev/urandom | base64)",
        "export INVENTORY_API_KEY=...",
        "mcpgate check --config mcpgate.toml",
        "mcpgate keys create --config mcpgate.toml --name alice --scopes inventory:read --expires 90d",
        "mcpgate serve --config mcpgate.toml",
    ] {
        assert!(out.contains(line), "`{line}` is not printed:\n{out}");
    }
    let config_path = dir.path().join("mcpgate.toml");
    let config_arg = config_path.display().to_string();
    let pepper = random_token() + &random_token();
    let envs = [
        ("MCPGATE_KEY_PEPPER", pepper.as_str()),
        ("INVENTORY_API_KEY", backend_key.as_str()),
    ];
    let checked = mcpgate_ok(&["check", "--config", &config_arg], &envs);
    assert!(
        checked.contains("OK — 6 tool(s) from 1 backend(s)"),
        "{checked}"
    );
    assert!(
        checked.contains("3 tool(s) hidden by read-only mode"),
        "{checked}"
    );

    let mut create: Vec<String> = printed_command(&out, "mcpgate keys create")
        .into_iter()
        .skip(1)
        .map(str::to_owned)
        .collect();
    let config_at = create.iter().position(|a| a == "--config").unwrap() + 1;
    create[config_at] = config_arg.clone();
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    let created = mcpgate_ok(&create, &envs);
    let key = created
        .lines()
        .rev()
        .find(|l| l.starts_with("mcpg_prod_"))
        .unwrap_or_else(|| panic!("no key printed:\n{created}"))
        .to_owned();
    assert!(created.contains("scopes:  inventory:read"), "{created}");
    assert!(
        created.contains("expires: 20"),
        "the key expires: {created}"
    );

    let gateway = Gateway::spawn(&config_path, &envs);
    let run = run_node_client([
        "--timeout",
        "10",
        "--url",
        &gateway.mcp_url(),
        "--header",
        &format!("Authorization: Bearer {key}"),
        "--call",
        "listItems",
        "--call",
        r#"createItem={"body":{"name":"x"}}"#,
    ]);
    assert_eq!(sorted_tool_names(&run), READ_TOOLS, "{run:#}");
    assert!(
        successful_text(&run["calls"][0]).contains("widget"),
        "{run:#}"
    );
    assert!(run["calls"][1].get("error").is_some(), "{run:#}");
    assert!(
        demo.recorded_requests().iter().all(|r| r.method == "GET"),
        "read-only mode let a write through"
    );

    // Without a key: 401.
    let anonymous = Http::new().get(&gateway.mcp_url());
    assert_eq!(anonymous.status, 401, "{anonymous:?}");
}

#[test]
fn services_that_need_certificates_get_mutual_tls_and_the_config_serves() {
    let backend_key = random_token();
    let demo = DemoBackend::start(&backend_key);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let (out, config, _) = init_ok(
        dir.path(),
        &[
            "--runs",
            "remote",
            "--users",
            "services",
            "--on-behalf-of-users",
            "no",
            "--idp",
            "none",
            "--certificates",
            "yes",
            "--clients",
            "20",
            "--spec",
            &spec_arg(),
            "--base-url",
            &demo.base_url(),
            "--listen",
            &listen,
        ],
    );
    let said = flat(&out);
    assert!(
        said.contains("Recommended: mutual TLS (client certificates)"),
        "{out}"
    );
    assert!(
        said.contains("Compliance requires certificate authentication"),
        "{out}"
    );
    assert!(said.contains("20 clients means 20 certificates"), "{out}");
    assert!(
        said.contains("the server's certificate chain in tls/server.pem"),
        "{out}"
    );
    let tls = at(&config, &["server", "tls"]);
    assert_eq!(tls["cert"].as_str(), Some("tls/server.pem"));
    assert_eq!(tls["key"].as_str(), Some("file:tls/server.key"));
    assert_eq!(tls["client_ca"].as_str(), Some("tls/client-ca.pem"));
    assert_eq!(tls["client_certificates"].as_str(), Some("required"));
    assert_eq!(
        strings(at(&config, &["auth", "mutual_tls", "scopes"])),
        ["inventory:read"]
    );
    assert!(config["auth"].get("api_keys").is_none());
    assert_common(&config, &demo.base_url());

    // Put the files where the config expects them, and serve it.
    let pki = Pki::generate(&dir.path().join("tls"));
    let config_path = dir.path().join("mcpgate.toml");
    let envs = [("INVENTORY_API_KEY", backend_key.as_str())];
    mcpgate_ok(
        &["check", "--config", &config_path.display().to_string()],
        &envs,
    );
    let _gateway = TlsGateway::spawn(&config_path, port, &envs);
    let run = run_node_client([
        "--timeout",
        "10",
        "--url",
        &format!("https://127.0.0.1:{port}/mcp"),
        "--ca",
        &pki.server_ca.display().to_string(),
        "--cert",
        &pki.client_cert.display().to_string(),
        "--key",
        &pki.client_key.display().to_string(),
        "--call",
        "listItems",
    ]);
    assert_eq!(sorted_tool_names(&run), READ_TOOLS, "{run:#}");
    assert!(
        successful_text(&run["calls"][0]).contains("widget"),
        "{run:#}"
    );
}

#[test]
fn a_team_with_an_identity_provider_gets_jwt() {
    let dir = tempfile::tempdir().unwrap();
    let (out, config, text) = init_ok(
        dir.path(),
        &[
            "--runs",
            "remote",
            "--users",
            "team",
            "--on-behalf-of-users",
            "no",
            "--idp",
            "https://login.example.com/realms/acme",
            "--certificates",
            "no",
            "--clients",
            "30",
            "--spec",
            &spec_arg(),
            "--public-url",
            "https://mcp.example.com/mcp",
        ],
    );
    let said = flat(&out);
    assert!(
        said.contains("Recommended: JWT access tokens from your identity provider"),
        "{out}"
    );
    assert!(
        said.contains("every call is attributed to a person in the audit log"),
        "{out}"
    );
    assert!(
        said.contains("put people's groups in the `groups` claim"),
        "{out}"
    );
    let jwt = &at(&config, &["auth", "jwt"]).as_array().unwrap()[0];
    assert_eq!(
        jwt["issuer"].as_str(),
        Some("https://login.example.com/realms/acme")
    );
    assert_eq!(jwt["groups_claim"].as_str(), Some("groups"));
    assert_eq!(strings(&jwt["algorithms"]), ["RS256", "ES256"]);
    assert_eq!(
        at(&config, &["server", "public_url"]).as_str(),
        Some("https://mcp.example.com/mcp")
    );
    assert_eq!(
        at(&config, &["server", "listen"]).as_str(),
        Some("0.0.0.0:8080"),
        "a server listens on every interface by default"
    );
    assert!(
        text.contains("# [authz.roles.editors]\n# scopes = [\"inventory:write\"]"),
        "{text}"
    );
    assert_common(&config, "http://127.0.0.1:8081");
    // Discovery happens on the first token: the config checks offline.
    let checked = mcpgate_ok(
        &[
            "check",
            "--config",
            &dir.path().join("mcpgate.toml").display().to_string(),
        ],
        &[("INVENTORY_API_KEY", "unused")],
    );
    assert!(
        checked.contains("MCP endpoint https://mcp.example.com/mcp"),
        "{checked}"
    );
}

#[test]
fn calls_on_behalf_of_users_get_oauth_with_the_idp_and_the_config_serves() {
    let backend_key = random_token();
    let demo = DemoBackend::start(&backend_key);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mcp_url = format!("http://127.0.0.1:{port}/mcp");
    let idp = Idp::start(IdpOptions {
        resources: &[&mcp_url],
        ..IdpOptions::default()
    });
    let (out, config, text) = init_ok(
        dir.path(),
        &[
            "--runs",
            "remote",
            "--users",
            "team",
            "--on-behalf-of-users",
            "yes",
            "--idp",
            idp.issuer(),
            "--certificates",
            "no",
            "--clients",
            "2",
            "--spec",
            &spec_arg(),
            "--base-url",
            &demo.base_url(),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--public-url",
            &mcp_url,
        ],
    );
    let said = flat(&out);
    assert!(
        said.contains(
            "Recommended: OAuth, with your identity provider as the authorization server"
        ),
        "{out}"
    );
    assert!(said.contains("Calls act for users"), "{out}");
    assert!(said.contains("mcpgate the resource server"), "{out}");
    // What does not exist is said, in the output and in the config.
    assert!(
        said.contains("Federation through mcpgate's own authorization server"),
        "{out}"
    );
    assert!(said.contains("is planned, not built"), "{out}");
    assert!(flat(&text).contains("is planned, not built"), "{text}");
    let jwt = &at(&config, &["auth", "jwt"]).as_array().unwrap()[0];
    assert_eq!(jwt["issuer"].as_str(), Some(idp.issuer()));
    assert_common(&config, &demo.base_url());

    // Served: the metadata points clients at the IdP, and a token the IdP
    // issued for this gateway lists the read-only tools.
    let envs = [("INVENTORY_API_KEY", backend_key.as_str())];
    let gateway = Gateway::spawn(&dir.path().join("mcpgate.toml"), &envs);
    let http = Http::new();
    let metadata = http.get(&gateway.metadata_url());
    assert_eq!(metadata.status, 200, "{metadata:?}");
    let metadata: Value = serde_json::from_str(&metadata.body).unwrap();
    assert_eq!(metadata["authorization_servers"][0], idp.issuer());
    assert_eq!(metadata["resource"], mcp_url.as_str());
    let token = idp.token(&http, "inventory:read", &mcp_url, "RS256");
    let run = run_node_client([
        "--timeout",
        "10",
        "--url",
        &gateway.mcp_url(),
        "--header",
        &format!("Authorization: Bearer {token}"),
        "--call",
        "listItems",
    ]);
    assert_eq!(sorted_tool_names(&run), READ_TOOLS, "{run:#}");
    assert!(
        successful_text(&run["calls"][0]).contains("widget"),
        "{run:#}"
    );
}

#[test]
fn a_spec_without_scopes_gets_rules_and_customers_without_an_idp_get_keys() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("pets.yaml"),
        r#"openapi: 3.0.3
info: {title: Pet Store API, version: "1"}
servers: [{url: "https://pets.example.com/v1"}]
components:
  securitySchemes:
    key: {type: apiKey, in: header, name: X-Pets-Key}
security: [{key: []}]
paths:
  /pets:
    get: {operationId: listPets, responses: {'200': {description: ok}}}
    post: {operationId: addPet, responses: {'200': {description: ok}}}
"#,
    )
    .unwrap();
    let (out, config, _) = init_ok(
        dir.path(),
        &[
            "--no-input",
            "--runs",
            "remote",
            "--users",
            "customers",
            "--on-behalf-of-users",
            "yes",
            "--idp",
            "none",
            "--certificates",
            "no",
            "--clients",
            "50",
            "--spec",
            "pets.yaml",
        ],
    );
    let said = flat(&out);
    assert!(said.contains("Recommended: API keys"), "{out}");
    assert!(
        said.contains("Calls act for your customers, which calls for OAuth"),
        "{out}"
    );
    assert!(said.contains("planned, not built"), "{out}");
    assert!(
        said.contains("--name customer-1 --scopes read:pet-store --expires 90d"),
        "{out}"
    );
    let backend = at(&config, &["backends", "pet-store"]);
    assert_eq!(
        backend["spec"].as_str(),
        Some("pets.yaml"),
        "relative to the config"
    );
    assert_eq!(
        backend["base_url"].as_str(),
        Some("https://pets.example.com/v1")
    );
    assert_eq!(
        backend["credential"]["value"].as_str(),
        Some("env:PET_STORE_API_KEY")
    );
    let rules = at(&config, &["authz", "tools"]).as_array().unwrap();
    assert_eq!(rules.len(), 2, "{rules:#?}");
    assert_eq!(rules[0]["kind"].as_str(), Some("read"));
    assert_eq!(strings(&rules[0]["scopes"]), ["read:{backend}"]);
    assert_eq!(rules[1]["kind"].as_str(), Some("write"));
    assert_eq!(strings(&rules[1]["scopes"]), ["write:{backend}"]);
    assert_eq!(
        strings(&at(&config, &["authz", "scope_implies"])["write:*"]),
        ["read:*"]
    );
    let config_arg = dir.path().join("mcpgate.toml").display().to_string();
    let envs = [
        ("MCPGATE_KEY_PEPPER", "0123456789abcdef0123456789abcdef"),
        ("PET_STORE_API_KEY", "unused"),
    ];
    mcpgate_ok(&["check", "--config", &config_arg], &envs);
    // The rules are in force: listing pets needs read:pet-store.
    let explain = |scopes: &[&str]| {
        let mut args = vec!["authz", "explain", "--config", &config_arg, "--as", "k"];
        for scope in scopes {
            args.extend(["--scope", scope]);
        }
        args.extend(["--tool", "listPets"]);
        let output = Command::new(mcpgate_bin())
            .args(&args)
            .envs(envs)
            .output()
            .unwrap();
        (output.status.code(), stdout(&output))
    };
    let (code, said) = explain(&["read:pet-store"]);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.starts_with("ALLOWED"), "{said}");
    let (code, said) = explain(&[]);
    assert_eq!(code, Some(3), "{said}");
    assert!(said.contains("missing read:pet-store"), "{said}");
}

// ---------------------------------------------------------------------------
// 2. Refusals
// ---------------------------------------------------------------------------

#[test]
fn without_a_terminal_the_missing_answers_are_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let output = init(dir.path(), &["--runs", "remote"]);
    assert!(!output.status.success());
    let error = stderr(&output);
    assert!(error.contains("stdin is not a terminal"), "{error}");
    for flag in [
        "--users one|team|services|customers",
        "--on-behalf-of-users yes|no",
        "--idp URL|none",
        "--certificates yes|no",
        "--clients N",
    ] {
        assert!(error.contains(flag), "{flag} is not named: {error}");
    }
    assert!(!dir.path().join("mcpgate.toml").exists());
}

#[test]
fn unknown_answers_name_the_allowed_values() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected) in [
        (
            vec!["--runs", "cloud", "--users", "one"],
            "--runs: `cloud` is not one of: local, remote",
        ),
        (
            vec!["--runs", "local", "--users", "everyone"],
            "--users: `everyone` is not one of: one, team, services, customers",
        ),
        (
            vec![
                "--runs",
                "remote",
                "--users",
                "team",
                "--on-behalf-of-users",
                "perhaps",
                "--idp",
                "none",
                "--certificates",
                "no",
                "--clients",
                "1",
            ],
            "--on-behalf-of-users: `perhaps` is not one of: yes, no",
        ),
        (
            vec![
                "--runs",
                "remote",
                "--users",
                "team",
                "--on-behalf-of-users",
                "no",
                "--idp",
                "http://login.example.com",
                "--certificates",
                "no",
                "--clients",
                "1",
            ],
            "an https URL (http is accepted on loopback only)",
        ),
        (
            vec![
                "--runs",
                "remote",
                "--users",
                "team",
                "--on-behalf-of-users",
                "no",
                "--idp",
                "none",
                "--certificates",
                "no",
                "--clients",
                "0",
            ],
            "--clients: `0` is not a whole number of at least 1",
        ),
        (
            vec![
                "--runs",
                "local",
                "--users",
                "one",
                "--listen",
                "0.0.0.0:8080",
            ],
            "listens on loopback only",
        ),
        (
            vec!["--spec", "missing.yaml"],
            "cannot import the spec missing.yaml",
        ),
        (
            vec!["--backend", "my api", "--runs", "local", "--users", "one"],
            "--backend `my api` may only use letters, digits, `_` and `-`",
        ),
        (
            vec![
                "--base-url",
                "api.example.com",
                "--runs",
                "local",
                "--users",
                "one",
            ],
            "--base-url: `api.example.com` is not an http(s) URL",
        ),
    ] {
        let output = init(dir.path(), &args);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(!dir.path().join("mcpgate.toml").exists(), "{args:?}");
    }
}

#[test]
fn an_existing_config_is_kept_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcpgate.toml");
    std::fs::write(&path, "# mine\n").unwrap();
    let args = ["--runs", "local", "--users", "one", "--spec", &spec_arg()];
    let output = init(dir.path(), &args);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("mcpgate.toml exists; pass --force to overwrite it"),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n");

    let mut forced = args.to_vec();
    forced.push("--force");
    let output = init(dir.path(), &forced);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("[backends.inventory]")
    );
}

// ---------------------------------------------------------------------------
// 3. In a real terminal
// ---------------------------------------------------------------------------

/// `mcpgate init` in a tmux pane: a real pseudo-terminal, so stdin is a
/// terminal and init asks. Each test has its own tmux server, its socket
/// in the test's directory, killed on drop.
struct Terminal {
    socket: String,
}

impl Terminal {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let socket = dir.join("tmux.sock").display().to_string();
        let mut command = vec![
            shell_quote(&mcpgate_bin().display().to_string()),
            "init".into(),
        ];
        command.extend(args.iter().map(|a| shell_quote(a)));
        let script = format!("{}; echo \"[exit $?]\"; sleep 600", command.join(" "));
        let status = Command::new("tmux")
            .args([
                "-S",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "50",
            ])
            .arg("-c")
            .arg(dir)
            .arg(script)
            .status()
            .expect("cannot run tmux (is it installed?)");
        assert!(status.success(), "tmux new-session failed");
        Terminal { socket }
    }

    /// Everything the pane shows, history included.
    fn screen(&self) -> String {
        let output = Command::new("tmux")
            .args(["-S", &self.socket, "capture-pane", "-p", "-J", "-S", "-"])
            .output()
            .expect("cannot run tmux capture-pane");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Wait until `text` is shown `count` times.
    fn wait_for(&self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if screen.matches(text).count() >= count {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "`{text}` (×{count}) did not appear; the terminal shows:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Answer the prompt `prompt` (waiting for its `count`th showing).
    fn answer(&self, prompt: &str, count: usize, typed: &str) {
        self.wait_for(prompt, count);
        let status = Command::new("tmux")
            .args(["-S", &self.socket, "send-keys", "-l", typed])
            .status()
            .unwrap();
        assert!(status.success());
        let status = Command::new("tmux")
            .args(["-S", &self.socket, "send-keys", "Enter"])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-S", &self.socket, "kill-server"])
            .status();
    }
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

#[test]
fn in_a_terminal_one_person_answers_two_questions_and_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let terminal = Terminal::start(dir.path(), &[]);
    terminal.answer("runs [local/remote]: ", 1, "local");
    terminal.answer("users [one/team/services/customers]: ", 1, "one");
    terminal.answer(
        "spec [path/URL, empty to fill in later]: ",
        1,
        "no-such.yaml",
    );
    terminal.answer("spec [path/URL, empty to fill in later]: ", 2, &spec_arg());
    let screen = terminal.wait_for("[exit ", 1);
    assert!(screen.contains("[exit 0]"), "{screen}");
    assert!(
        screen.contains("`no-such.yaml` is not a readable file or an http(s) URL; try again."),
        "{screen}"
    );
    assert!(
        !screen.contains("identity provider ["),
        "not asked: {screen}"
    );
    assert!(
        flat(&screen).contains("Recommended: stdio, no authentication"),
        "{screen}"
    );
    let config: toml::Table = std::fs::read_to_string(dir.path().join("mcpgate.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(config.get("auth").is_none());
    assert_common(&config, "http://127.0.0.1:8081");
}

#[test]
fn in_a_terminal_a_team_with_an_idp_is_asked_everything_and_gets_jwt() {
    let dir = tempfile::tempdir().unwrap();
    let terminal = Terminal::start(dir.path(), &["--spec", &spec_arg(), "-o", "team.toml"]);
    terminal.answer("runs [local/remote]: ", 1, "the cloud");
    terminal.answer("runs [local/remote]: ", 2, "remote");
    terminal.answer("users [one/team/services/customers]: ", 1, "team");
    terminal.answer("on behalf of users [yes/no]: ", 1, "no");
    terminal.answer(
        "identity provider [URL/none]: ",
        1,
        "https://login.example.com",
    );
    terminal.answer("certificates [yes/no]: ", 1, "no");
    terminal.answer("clients [number]: ", 1, "many");
    terminal.answer("clients [number]: ", 2, "12");
    let screen = terminal.wait_for("[exit ", 1);
    assert!(screen.contains("[exit 0]"), "{screen}");
    assert!(
        screen.contains("`the cloud` is not one of: local, remote; try again."),
        "{screen}"
    );
    assert!(
        screen.contains("`many` is not a whole number of at least 1; try again."),
        "{screen}"
    );
    assert!(
        flat(&screen).contains("Recommended: JWT access tokens from your identity provider"),
        "{screen}"
    );
    let config: toml::Table = std::fs::read_to_string(dir.path().join("team.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        at(&config, &["auth", "jwt"]).as_array().unwrap()[0]["issuer"].as_str(),
        Some("https://login.example.com")
    );
    assert_common(&config, "http://127.0.0.1:8081");
}

#[test]
fn in_a_terminal_flags_are_not_asked_again_and_a_missing_server_is() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("openapi.json"),
        r#"{"openapi": "3.1.0", "info": {"title": "Billing", "version": "1"},
            "paths": {"/invoices": {"get": {"operationId": "listInvoices",
                                            "responses": {"200": {"description": "ok"}}}}}}"#,
    )
    .unwrap();
    let terminal = Terminal::start(
        dir.path(),
        &[
            "--runs",
            "remote",
            "--users",
            "services",
            "--on-behalf-of-users",
            "no",
            "--idp",
            "none",
            "--certificates",
            "no",
            "--clients",
            "2",
            "--spec",
            "openapi.json",
        ],
    );
    let prompt = "base URL [http(s) URL, empty to fill in later]: ";
    terminal.answer(prompt, 1, "ftp://billing.internal");
    terminal.answer(prompt, 2, "https://billing.internal/v1");
    let screen = terminal.wait_for("[exit ", 1);
    assert!(screen.contains("[exit 0]"), "{screen}");
    assert!(
        screen.contains("The spec names no absolute server URL"),
        "{screen}"
    );
    assert!(
        screen.contains("`ftp://billing.internal` is not an http(s) URL without query"),
        "{screen}"
    );
    for not_asked in [
        "Where will the gateway run?",
        "Who will use it?",
        "how many client",
    ] {
        assert!(
            !screen.contains(not_asked),
            "{not_asked} was asked: {screen}"
        );
    }
    let config: toml::Table = std::fs::read_to_string(dir.path().join("mcpgate.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let backend = at(&config, &["backends", "billing"]);
    assert_eq!(
        backend["base_url"].as_str(),
        Some("https://billing.internal/v1")
    );
    assert_eq!(backend["spec"].as_str(), Some("openapi.json"));
    assert!(
        backend.get("credential").is_none(),
        "the spec declares none"
    );
    // A remote gateway without an https public URL is told to serve HTTPS.
    assert!(flat(&screen).contains("Serve HTTPS, so that credentials never cross the network"));
}

// ---------------------------------------------------------------------------
// Helpers for the mutual-TLS profile
// ---------------------------------------------------------------------------

/// The files the mutual-TLS config names, plus a client's certificate.
struct Pki {
    server_ca: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

impl Pki {
    fn generate(tls: &Path) -> Self {
        std::fs::create_dir_all(tls).unwrap();
        let ca = |name: &str| {
            let mut params = CertificateParams::default();
            params.distinguished_name.push(DnType::CommonName, name);
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
        };
        let server_ca = ca("init test server CA");
        let client_ca = ca("init test client CA");
        let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &server_ca).unwrap();
        let mut client = CertificateParams::default();
        client
            .distinguished_name
            .push(DnType::CommonName, "deploy-bot");
        client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().unwrap();
        let client_cert = client.signed_by(&client_key, &client_ca).unwrap();

        std::fs::write(tls.join("server.pem"), server_cert.pem()).unwrap();
        std::fs::write(tls.join("server.key"), server_key.serialize_pem()).unwrap();
        std::fs::write(tls.join("client-ca.pem"), client_ca.pem()).unwrap();
        std::fs::write(tls.join("server-ca.pem"), server_ca.pem()).unwrap();
        std::fs::write(tls.join("deploy-bot.pem"), client_cert.pem()).unwrap();
        std::fs::write(tls.join("deploy-bot.key"), client_key.serialize_pem()).unwrap();
        Pki {
            server_ca: tls.join("server-ca.pem"),
            client_cert: tls.join("deploy-bot.pem"),
            client_key: tls.join("deploy-bot.key"),
        }
    }
}

/// `mcpgate serve` over HTTPS (which [`Gateway`]'s plain-HTTP health probe
/// cannot reach), killed on drop.
struct TlsGateway {
    child: Child,
}

impl TlsGateway {
    fn spawn(config: &Path, port: u16, envs: &[(&str, &str)]) -> Self {
        let log_path = config.with_extension("stderr.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(mcpgate_bin())
            .args(["serve", "--config"])
            .arg(config)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start mcpgate serve");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + common::READY_TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "mcpgate serve exited early ({status}); its stderr:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "mcpgate serve did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        TlsGateway { child }
    }
}

impl Drop for TlsGateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
