//! The command line as a user meets it: help, import, config errors, the
//! refusal to serve unauthenticated off loopback, and stdio robustness.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn mcpgate() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mcpgate"));
    command.env_remove("RUST_LOG").env("NO_COLOR", "1");
    command
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn demo_spec() -> String {
    repo()
        .join("examples/demo/openapi.yaml")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

fn fixture(name: &str) -> String {
    repo()
        .join("crates/mcpgate-openapi/tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A config for the demo spec whose backend is never reached (port 9).
fn demo_config_without_backend(dir: &Path) -> PathBuf {
    let config = dir.join("mcpgate.toml");
    let toml = format!(
        "[backends.inventory]\nspec = \"{}\"\nbase_url = \"http://127.0.0.1:9\"\n",
        demo_spec()
    );
    std::fs::write(&config, toml).unwrap();
    config
}

/// Write `config` to a fresh `mcpgate.toml` and run `mcpgate check` on it.
fn check(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mcpgate.toml");
    std::fs::write(&path, config).unwrap();
    // A spec whose only server is relative, for the base_url check.
    std::fs::write(
        dir.path().join("relative-server.json"),
        r#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},"servers":[{"url":"/api/v1"}],"paths":{}}"#,
    )
    .unwrap();
    let output = mcpgate()
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    (output.status.success(), format!("{stdout}{stderr}"))
}

#[test]
fn every_subcommand_explains_itself() {
    for (args, mentions) in [
        (vec!["--help"], "serve"),
        (vec!["serve", "--help"], "--insecure-no-auth"),
        (vec!["import", "--help"], "--json"),
        (vec!["check", "--help"], "--config"),
        (vec!["demo", "--help"], "--stdio"),
    ] {
        let output = mcpgate().args(&args).output().unwrap();
        let (stdout, _) = text(&output);
        assert!(output.status.success(), "{args:?}");
        assert!(
            stdout.contains(mentions),
            "{args:?} should mention {mentions}:\n{stdout}"
        );
    }
    let output = mcpgate().arg("no-such-command").output().unwrap();
    assert_eq!(output.status.code(), Some(2), "usage errors exit 2");
}

#[test]
fn import_prints_a_machine_readable_document() {
    let output = mcpgate()
        .args(["import", "--json", &fixture("petstore-3.0.yaml")])
        .output()
        .unwrap();
    assert!(output.status.success(), "{:?}", text(&output));
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    let tools = document["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 17);
    for tool in tools {
        for field in [
            "name",
            "method",
            "path",
            "read_only",
            "required_scopes",
            "input_schema",
        ] {
            assert!(tool.get(field).is_some(), "tool without {field}: {tool}");
        }
    }
    assert_eq!(document["security_schemes"].as_array().unwrap().len(), 7);
    let kinds: Vec<&str> = document["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"name_changed") && kinds.contains(&"write_with_read_scope"),
        "{kinds:?}"
    );
}

#[test]
fn import_prints_tools_schemes_and_suggestions() {
    let output = mcpgate().args(["import", &demo_spec()]).output().unwrap();
    let (stdout, _) = text(&output);
    assert!(output.status.success());
    assert!(
        stdout.contains("listItems") && stdout.contains("inventory:write"),
        "{stdout}"
    );
    assert!(
        stdout.contains("demoKey") && stdout.contains("X-Demo-Key"),
        "{stdout}"
    );
    assert!(stdout.contains("Warnings:"), "{stdout}");
}

#[test]
fn a_broken_spec_is_refused_with_its_reason() {
    for (file, mentions) in [
        ("broken/not-yaml.yaml", "not valid YAML"),
        ("broken/unsupported-version.yaml", "4.0.0"),
        ("broken/dangling-ref.yaml", "#/components/schemas/Missing"),
    ] {
        let output = mcpgate().args(["import", &fixture(file)]).output().unwrap();
        let (_, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{file}");
        assert!(stderr.contains(mentions), "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_good_config_checks_out() {
    let (ok, output) = check(&format!(
        "[backends.inventory]\nspec = \"{}\"\nbase_url = \"http://127.0.0.1:9\"\n",
        demo_spec()
    ));
    assert!(ok, "{output}");
    assert!(
        output.contains("OK") && output.contains("6 tool(s)"),
        "{output}"
    );
}

#[test]
fn inline_secrets_are_refused_without_being_repeated() {
    let (ok, output) = check(&format!(
        "[backends.inventory]\nspec = \"{}\"\n\
         credential = {{ kind = \"header\", name = \"X-Demo-Key\", value = \"sk-live-51Habcdef\" }}\n",
        demo_spec()
    ));
    assert!(!ok);
    assert!(
        output.contains("mcpgate.toml:3:"),
        "names file and line: {output}"
    );
    assert!(
        output.contains("env:NAME") && output.contains("file:PATH"),
        "says the fix: {output}"
    );
    assert!(
        !output.contains("sk-live-51Habcdef"),
        "never repeats the secret: {output}"
    );
}

/// The start of an `[oauth_server]` config (an echo backend, the section,
/// its secret); each case adds `signing_keys` and more.
const OAUTH: &str = "[backends.e]\nkind = \"echo\"\n[oauth_server]\n";
/// A valid `[oauth_server.upstream]`.
const UPSTREAM: &str = "secret = \"env:S\"\n[oauth_server.upstream]\nissuer = \"https://idp.example\"\nclient_id = \"mcpgate\"\nclient_secret = \"env:U\"\n";

#[test]
fn config_mistakes_name_the_file_line_and_fix() {
    let spec = demo_spec();
    let cases = [
        (
            "[server]\nlisten = \"127.0.0.1:8080\"\nlisten_adress = \"x\"\n".to_owned(),
            vec![
                "mcpgate.toml:3:",
                "unknown field `listen_adress`",
                "`listen`",
            ],
        ),
        (
            "[server]\nlisten = \"localhost\"\n".to_owned(),
            vec!["mcpgate.toml:2:", "socket address"],
        ),
        (
            "[auth.api_keys]\nenvironment = \"Prod\"\npepper = \"env:PEPPER\"\n".to_owned(),
            vec!["mcpgate.toml:2:", "auth.api_keys.environment", "lower-case"],
        ),
        (
            "[auth.api_keys]\nenvironment = \"prod\"\npepper = \"correct-horse-battery-staple\"\n"
                .to_owned(),
            vec!["mcpgate.toml:3:", "env:NAME"],
        ),
        (
            "[auth]\nmode = \"none\"\n".to_owned(),
            vec!["mcpgate.toml:2:", "unknown field `mode`", "`api_keys`"],
        ),
        (
            "[authz]\nread_onyl = false\n".to_owned(),
            vec![
                "mcpgate.toml:2:",
                "unknown field `read_onyl`",
                "`read_only`",
            ],
        ),
        (
            format!(
                "[backends.inventory]\nspec = \"{spec}\"\n[[authz.tools]]\nbackends = [\"inventroy\"]\nscopes = [\"x\"]\n"
            ),
            vec![
                "mcpgate.toml:3:",
                "authz.tools rule #1",
                "no backend `inventroy`",
            ],
        ),
        (
            "[store]\nurl = \"postgres://app:hunter2@db.internal/mcpgate\"\n".to_owned(),
            vec!["mcpgate.toml:2:", "env:DATABASE_URL"],
        ),
        (
            "[store]\nurl = \"mysql://db/x\"\n".to_owned(),
            vec!["mcpgate.toml:2:", "sqlite:"],
        ),
        (
            "[audit]\nsigning_key = \"MC4CAQAwBQYDK2VwBCIEIPrivateKeyInline\"\n".to_owned(),
            vec!["mcpgate.toml:2:", "env:NAME"],
        ),
        (
            format!("[backends.inventory]\nspec = \"{spec}\"\ntimeout = \"30\"\n"),
            vec!["mcpgate.toml:3:", "`500ms`"],
        ),
        (
            format!(
                "[backends.inventory]\nspec = \"{spec}\"\ncredential = {{ kind = \"smoke-signal\", value = \"env:X\" }}\n"
            ),
            vec!["mcpgate.toml:3:", "unknown variant"],
        ),
        ("[server\n".to_owned(), vec!["mcpgate.toml:1:"]),
        ("".to_owned(), vec!["no backends are configured"]),
        (
            format!(
                "[backends.inventory]\nspec = \"{spec}\"\ncredential = {{ kind = \"bearer\", value = \"env:MCPGATE_TEST_UNSET_VARIABLE\" }}\n"
            ),
            vec![
                "backends.inventory",
                "MCPGATE_TEST_UNSET_VARIABLE is not set",
            ],
        ),
        (
            "[backends.inventory]\nspec = \"nowhere.yaml\"\n".to_owned(),
            vec!["backends.inventory", "nowhere.yaml"],
        ),
        (
            format!(
                "[backends.inventory]\nspec = \"{spec}\"\nbase_url = \"http://127.0.0.1:9/?api_key=x\"\n"
            ),
            vec!["mcpgate.toml:3:", "base_url must not have a query"],
        ),
        (
            format!(
                "[backends.inventory]\nspec = \"{}\"\n",
                fixture("broken/not-openapi.json")
            ),
            vec!["backends.inventory", "not an OpenAPI document"],
        ),
        (
            "[backends.inventory]\nspec = \"relative-server.json\"\n".to_owned(),
            vec!["backends.inventory", "\"/api/v1\"", "set base_url"],
        ),
        (
            "[backends.inventory]\ntimeout = \"5s\"\n".to_owned(),
            vec!["mcpgate.toml:1:", "backends.inventory needs `spec"],
        ),
        (
            "[backends.bench]\nkind = \"echo\"\nbase_url = \"http://127.0.0.1:9\"\n".to_owned(),
            vec![
                "mcpgate.toml:3:",
                "an echo backend reaches no API",
                "remove `base_url`",
            ],
        ),
        (
            "[backends.bench]\nkind = \"ecko\"\n".to_owned(),
            vec!["mcpgate.toml:2:", "unknown variant `ecko`", "`echo`"],
        ),
        (
            format!("{OAUTH}signing_keys = []\n{UPSTREAM}"),
            vec![
                "mcpgate.toml:4:",
                "oauth_server.signing_keys",
                "mcpgate audit keygen",
            ],
        ),
        (
            format!(
                "{OAUTH}signing_keys = [\"env:K\"]\n{UPSTREAM}[[oauth_server.clients]]\nclient_id = \"svc\"\ngrant_types = [\"client_credentials\"]\n"
            ),
            vec!["mcpgate.toml:", "client_secret", "jwks"],
        ),
        (
            format!(
                "{OAUTH}signing_keys = [\"env:K\"]\n{UPSTREAM}[[oauth_server.clients]]\nclient_id = \"app\"\ngrant_types = [\"authorization_code\"]\nredirect_uris = [\"http://app.example/cb\"]\n"
            ),
            vec!["mcpgate.toml:", "http://app.example/cb", "https"],
        ),
        (
            format!(
                "{OAUTH}signing_keys = [\"env:K\"]\n{UPSTREAM}[[oauth_server.clients]]\nclient_id = \"svc\"\ngrant_types = [\"password\"]\nclient_secret = \"env:S\"\n"
            ),
            vec!["mcpgate.toml:", "grant type `password` is not supported"],
        ),
        (
            format!("{OAUTH}signing_keys = [\"env:K\"]\naccess_token_ttl = \"7d\"\n{UPSTREAM}"),
            vec!["mcpgate.toml:5:", "at most 1d"],
        ),
        (
            format!(
                "[server]\nlisten = \"0.0.0.0:8443\"\n[backends.e]\nkind = \"echo\"\n[oauth_server]\nsigning_keys = [\"env:K\"]\n{UPSTREAM}"
            ),
            vec!["mcpgate.toml:2:", "must be reached over https"],
        ),
        (
            format!(
                "{OAUTH}signing_keys = [\"env:K\"]\nsecret = \"env:S\"\n[oauth_server.upstream]\nissuer = \"http://idp.example\"\nclient_id = \"m\"\nclient_secret = \"env:U\"\n"
            ),
            vec!["mcpgate.toml:", "oauth_server.upstream.issuer", "https"],
        ),
    ];
    for (config, mentions) in cases {
        let (ok, output) = check(&config);
        assert!(!ok, "must be refused:\n{config}");
        for mention in mentions {
            assert!(
                output.contains(mention),
                "{config}\n→ {output}\nshould mention {mention}"
            );
        }
        assert!(!output.contains("panicked"), "{output}");
    }
}

#[test]
fn serving_without_auth_off_loopback_needs_to_be_forced() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config_without_backend(dir.path());

    let refused = mcpgate()
        .args(["serve", "--listen", "0.0.0.0:0", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let (_, stderr) = text(&refused);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr.contains("refusing to serve without authentication")
            && stderr.contains("--insecure-no-auth"),
        "{stderr}"
    );

    let mut forced = mcpgate()
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--insecure-no-auth",
            "--config",
        ])
        .arg(&config)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(forced.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut warned = false;
    let mut serving = false;
    while Instant::now() < deadline && !(warned && serving) {
        let Some(Ok(line)) = lines.next() else { break };
        warned |= line.contains("WITHOUT AUTHENTICATION");
        serving |= line.contains("is serving MCP");
    }
    forced.kill().unwrap();
    let _ = forced.wait();
    assert!(warned && serving, "forced start must warn loudly and serve");
}

#[test]
fn stdio_answers_garbage_with_json_rpc_errors_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config_without_backend(dir.path());
    let mut child = mcpgate()
        .args(["serve", "--stdio", "--config"])
        .arg(&config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let huge = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\",\"params\":{{\"pad\":\"{}\"}}}}",
        "x".repeat(5 << 20)
    );
    for line in [
        "this is not json",
        "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
        &huge,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
    ] {
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    let messages: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("stdout holds only JSON-RPC: {line:.200} ({e})"))
        })
        .collect();
    let errors: Vec<i64> = messages
        .iter()
        .filter(|m| m["id"].is_null())
        .filter_map(|m| m["error"]["code"].as_i64())
        .collect();
    assert_eq!(errors, [-32700, -32600, -32600], "{messages:#?}");
    let by_id = |id: i64| {
        messages
            .iter()
            .find(|m| m["id"] == id)
            .unwrap_or_else(|| panic!("no answer to {id}: {messages:#?}"))
    };
    assert_eq!(by_id(1)["result"]["serverInfo"]["name"], "mcpgate");
    assert_eq!(by_id(2)["error"]["code"], -32602);
    // Read-only mode is on by default: only the demo's three GET tools.
    let listed: Vec<&str> = by_id(3)["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ["listItems", "getItem", "health"], "{messages:#?}");
    assert!(output.status.success());
}

#[test]
fn the_example_config_checks_out() {
    let config = repo().join("examples/demo/mcpgate.toml");
    let output = mcpgate()
        .args(["check", "--config"])
        .arg(&config)
        .env("DEMO_API_KEY", "example")
        .output()
        .unwrap();
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("6 tool(s)"), "{stdout}");
    let without_key = mcpgate()
        .args(["check", "--config"])
        .arg(&config)
        .env_remove("DEMO_API_KEY")
        .output()
        .unwrap();
    assert!(!without_key.status.success());
    assert!(text(&without_key).1.contains("DEMO_API_KEY is not set"));
}

#[test]
fn a_reader_that_stops_early_ends_output_quietly() {
    let mut child = mcpgate()
        .args(["import", "--json", &fixture("petstore-3.0.yaml")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The pipe is closed here, as `| head -1` would.
    let output = child.wait_with_output().unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(first.trim(), "{");
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn key_commands_explain_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = demo_config_without_backend(dir.path());
    let output = mcpgate()
        .args(["keys", "create", "--name", "x", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let (_, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains("[auth.api_keys]") && stderr.contains("pepper"),
        "{stderr}"
    );

    std::fs::write(
        &config,
        format!(
            "{}\n[auth.api_keys]\nenvironment = \"prod\"\npepper = \"env:MCPGATE_TEST_PEPPER\"\n",
            std::fs::read_to_string(&config).unwrap()
        ),
    )
    .unwrap();
    let short = mcpgate()
        .args(["keys", "create", "--name", "x", "--config"])
        .arg(&config)
        .env("MCPGATE_TEST_PEPPER", "too-short")
        .output()
        .unwrap();
    assert!(text(&short).1.contains("at least 32"), "{}", text(&short).1);
    let revoke = mcpgate()
        .args(["keys", "revoke", "key_nope", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        text(&revoke).1.contains("no key `key_nope`"),
        "{}",
        text(&revoke).1
    );
}
