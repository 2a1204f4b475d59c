//! Opaque OAuth access tokens checked by token introspection (RFC 7662), end
//! to end, against a real authorization server.
//!
//! An operator points `[[auth.introspection]]` at an authorization server
//! (`tests/e2e/idp.mjs`, oidc-provider, with the gateway's public URL as an
//! `--opaque-resource`), and gives mcpgate the client (`gateway`) it uses to
//! call the introspection endpoint. Agents present opaque access tokens as
//! `Bearer` tokens; the gateway asks the server about each one and lets it see
//! and call only the tools its scopes cover. Revoked, expired, misdirected
//! and made-up tokens get 401, and neither the client secret nor any token is
//! ever logged.

mod common;

use common::{
    assert_audited_insufficient_scope, assert_insufficient_scope, sorted_tool_names,
    successful_text,
};

use common::idp::{Idp, IdpOptions, TokenOptions};
use common::raw_http::{self, Http, Reply, call_tool, list_tools, reply_tool_names};

use std::time::Duration;

use common::{
    DEMO_TOOLS, DemoBackend, Gateway, audit_export, audit_export_text, demo_config, free_port,
    random_token, run_node_client, write_config,
};
use serde_json::{Value, json};

/// The tools an `inventory:read` token sees, sorted.
const READ_TOOLS: [&str; 3] = ["getItem", "health", "listItems"];
/// The tools an `inventory:read inventory:write` token sees, sorted.
const READ_WRITE_TOOLS: [&str; 5] = [
    "adjustStock",
    "createItem",
    "getItem",
    "health",
    "listItems",
];
/// The backend key of the demo API.
const DEMO_KEY: &str = "introspection-test-backend-key";
/// Where the config reads the introspection client secret from.
const SECRET_ENV: &str = "MCPGATE_INTROSPECTION_SECRET";

// ---------------------------------------------------------------------------
// 1. Real opaque tokens, the official client
// ---------------------------------------------------------------------------

#[test]
fn opaque_tokens_work_with_the_official_client() {
    let setup = Setup::start(&[], Endpoint::Discovered, &[]);
    let http = &setup.http;
    let read = setup.idp.opaque_token(http, "inventory:read", &setup.url);
    assert_opaque(&read);

    // The TypeScript SDK with the read token.
    let ts = run_node_client([
        "--timeout",
        "10",
        "--url",
        &setup.url,
        "--header",
        &format!("Authorization: Bearer {read}"),
        "--call",
        "listItems",
        "--call",
        r#"createItem={"body":{"name":"opaque-sprocket","quantity":1}}"#,
    ]);
    assert_eq!(sorted_tool_names(&ts), READ_TOOLS, "{ts:#}");
    assert!(
        successful_text(&ts["calls"][0]).contains("widget"),
        "{ts:#}"
    );
    // Over HTTP a missing scope is a 403 step-up challenge.
    assert_insufficient_scope(&ts, 1, "createItem", &["inventory:write"]);
    assert!(
        !setup
            .demo
            .recorded_requests()
            .iter()
            .any(|r| format!("{r:?}").contains("opaque-sprocket")),
        "a refused call reached the backend"
    );

    // The scopes come from the introspection answer: a read+write token sees
    // more tools and may write.
    let read_write = setup
        .idp
        .opaque_token(http, "inventory:read inventory:write", &setup.url);
    let reply = http.send(&list_tools(&setup.url).bearer(&read_write));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply_tool_names(&reply), READ_WRITE_TOOLS, "{reply:?}");
    let reply = http.send(
        &call_tool(
            &setup.url,
            "adjustStock",
            json!({"itemId": 1, "body": {"delta": 1}}),
        )
        .bearer(&read_write),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_ne!(reply.result()["isError"], true, "{reply:?}");

    // Every call is audited under the token's subject, as OAuth.
    let audit = audit_export(&setup.config);
    let calls: Vec<&Value> = audit
        .iter()
        .map(|line| &line["record"])
        .filter(|record| record["method"] == "tools/call")
        .collect();
    let mut tools: Vec<String> = calls
        .iter()
        .map(|record| {
            assert_eq!(record["subject"], "service", "{record:#}");
            assert_eq!(record["auth_method"], "oauth", "{record:#}");
            record["tool"].as_str().unwrap_or("?").to_owned()
        })
        .collect();
    tools.sort();
    assert_eq!(
        tools,
        ["adjustStock", "createItem", "listItems"],
        "audited calls: {calls:#?}"
    );
    let refused = calls.iter().find(|r| r["tool"] == "createItem").unwrap();
    assert_audited_insufficient_scope(refused, "createItem", &["inventory:write"]);
}

// ---------------------------------------------------------------------------
// 2. Revoked and expired tokens
// ---------------------------------------------------------------------------

#[test]
fn revoked_and_expired_tokens_get_401() {
    let setup = Setup::start(&[], Endpoint::Discovered, &[]);
    let http = &setup.http;

    // Revoked at the IdP before it was ever used.
    let revoked = setup.idp.opaque_token(http, "inventory:read", &setup.url);
    setup.idp.revoke(http, &revoked);
    assert_eq!(
        setup.idp.introspect(http, &revoked),
        json!({"active": false}),
        "the IdP still vouches for the revoked token"
    );
    let reply = http.send(&list_tools(&setup.url).bearer(&revoked));
    assert_invalid_token(&reply, "a token revoked before use");
    // Still refused when asked again (nothing good was cached meanwhile).
    let reply = http.send(&call_tool(&setup.url, "getItem", json!({"itemId": 1})).bearer(&revoked));
    assert_invalid_token(&reply, "a token revoked before use, again");

    // Expired before use: a 1 s token, presented after 2.5 s.
    let short = setup.idp.token_with(
        http,
        "inventory:read",
        &setup.url,
        TokenOptions {
            ttl: Some(1),
            ..TokenOptions::default()
        },
    );
    std::thread::sleep(Duration::from_millis(2500));
    let reply = http.send(&list_tools(&setup.url).bearer(&short));
    assert_invalid_token(&reply, "a token that expired before use");

    // Accepted while valid, refused once expired: the cache must not
    // outlive the token's exp.
    let expiring = setup.idp.token_with(
        http,
        "inventory:read",
        &setup.url,
        TokenOptions {
            ttl: Some(3),
            ..TokenOptions::default()
        },
    );
    let reply = http.send(&list_tools(&setup.url).bearer(&expiring));
    assert_eq!(reply.status, 200, "a 3 s token, used at once: {reply:?}");
    std::thread::sleep(Duration::from_millis(4500));
    let reply = http.send(&list_tools(&setup.url).bearer(&expiring));
    assert_invalid_token(&reply, "an accepted token, after its exp");

    // Revoked AFTER it was accepted: the gateway may keep trusting its cached
    // answer until exp. Observed, not asserted (see the report).
    let used = setup.idp.opaque_token(http, "inventory:read", &setup.url);
    let reply = http.send(&list_tools(&setup.url).bearer(&used));
    assert_eq!(reply.status, 200, "{reply:?}");
    setup.idp.revoke(http, &used);
    let reply = http.send(&list_tools(&setup.url).bearer(&used));
    eprintln!(
        "observed: a token revoked at the IdP after the gateway accepted it now gets HTTP {}",
        reply.status
    );
    assert!(
        [200, 401].contains(&reply.status),
        "neither accepted nor refused: {reply:?}"
    );
}

// ---------------------------------------------------------------------------
// 3. A token for another resource
// ---------------------------------------------------------------------------

#[test]
fn token_for_another_resource_gets_401() {
    let other = format!("http://127.0.0.1:{}/mcp", free_port());
    // Also: the configured endpoint is used as given, without discovery.
    let setup = Setup::start(&[&other], Endpoint::Explicit, &[]);
    let http = &setup.http;

    // Control: our own token works with this config.
    let ours = setup.idp.opaque_token(http, "inventory:read", &setup.url);
    let reply = http.send(&list_tools(&setup.url).bearer(&ours));
    assert_eq!(reply.status, 200, "{reply:?}");

    // The IdP tells the gateway that the other token is active, for the
    // other resource: refusing it is up to the gateway's audience check.
    let theirs = setup.idp.opaque_token(
        http,
        "inventory:read inventory:write inventory:admin",
        &other,
    );
    assert_opaque(&theirs);
    let answer = setup.idp.introspect(http, &theirs);
    assert_eq!(answer["active"], true, "{answer:#}");
    assert_eq!(answer["aud"], other.as_str(), "{answer:#}");

    for request in [
        list_tools(&setup.url),
        call_tool(&setup.url, "deleteItem", json!({"itemId": 3})),
    ] {
        let reply = http.send(&request.bearer(&theirs));
        assert_invalid_token(&reply, "a token for another resource");
    }
    assert!(
        !setup
            .demo
            .recorded_requests()
            .iter()
            .any(|r| format!("{r:?}").contains("DELETE")),
        "a refused call reached the backend"
    );
}

// ---------------------------------------------------------------------------
// 4. Made-up tokens
// ---------------------------------------------------------------------------

#[test]
fn made_up_tokens_get_401() {
    let setup = Setup::start(&[], Endpoint::Discovered, &[]);
    let http = &setup.http;
    let good = setup.idp.opaque_token(http, "inventory:read", &setup.url);
    // Shaped like the IdP's tokens, but never issued.
    let made_up = {
        let mut token = good.clone();
        let last = token.pop().unwrap();
        token.push(if last == 'A' { 'B' } else { 'A' });
        token
    };
    assert_ne!(made_up, good);
    assert_eq!(
        setup.idp.introspect(http, &made_up),
        json!({"active": false})
    );

    for (what, token) in [
        ("a made-up opaque token", made_up.as_str()),
        ("a random hex token", &random_token()),
        ("a short token", "x"),
    ] {
        // Twice: an unknown token is asked about again, and stays refused.
        for _ in 0..2 {
            let reply = http.send(&list_tools(&setup.url).bearer(token));
            assert_invalid_token(&reply, what);
        }
    }
    // Control: the real token still works after all that.
    let reply = http.send(&list_tools(&setup.url).bearer(&good));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply_tool_names(&reply), READ_TOOLS, "{reply:?}");
}

// ---------------------------------------------------------------------------
// 5. No secret and no token in any log line
// ---------------------------------------------------------------------------

#[test]
fn no_secret_or_token_in_the_trace_log() {
    let other = format!("http://127.0.0.1:{}/mcp", free_port());
    let setup = Setup::start(&[&other], Endpoint::Discovered, &[("RUST_LOG", "trace")]);
    let http = &setup.http;
    let good = setup.idp.opaque_token(http, "inventory:read", &setup.url);
    let good_rw = setup
        .idp
        .opaque_token(http, "inventory:read inventory:write", &setup.url);
    let revoked = setup.idp.opaque_token(http, "inventory:read", &setup.url);
    setup.idp.revoke(http, &revoked);
    let wrong_aud = setup.idp.opaque_token(http, "inventory:read", &other);
    let made_up = random_token();

    for (token, challenged) in [
        (&good, "inventory:admin inventory:read"),
        (&good_rw, "inventory:admin inventory:read inventory:write"),
    ] {
        let reply =
            http.send(&call_tool(&setup.url, "getItem", json!({"itemId": 1})).bearer(token));
        assert_eq!(reply.status, 200, "{reply:?}");
        let reply =
            http.send(&call_tool(&setup.url, "deleteItem", json!({"itemId": 3})).bearer(token));
        raw_http::assert_insufficient_scope(
            &reply,
            "deleteItem",
            &["inventory:admin"],
            challenged,
            Some(&setup.gateway.metadata_url()),
        );
    }
    for token in [&revoked, &wrong_aud, &made_up] {
        let reply = http.send(&list_tools(&setup.url).bearer(token));
        assert_invalid_token(&reply, "a bad token");
    }
    // A session through the official SDK, with its GET stream and DELETE.
    run_node_client([
        "--timeout",
        "10",
        "--url",
        &setup.url,
        "--header",
        &format!("Authorization: Bearer {good_rw}"),
        "--call",
        "listItems",
    ]);

    let log = setup.gateway.stderr_log();
    assert!(
        log.contains("TRACE") || log.contains("trace"),
        "RUST_LOG=trace produced no trace lines:\n{log}"
    );
    let audit = audit_export_text(&setup.config);
    assert!(audit.contains("getItem"), "the audit log is missing calls");
    let (_, secret) = setup.idp.client("gateway");
    let mut needles: Vec<(&str, &str)> = vec![("the introspection client secret", &secret)];
    // And the gateway's Basic credentials, encoded.
    let basic = basic_credentials("gateway", &secret);
    needles.push(("the Basic credentials", &basic));
    for token in [&good, &good_rw, &revoked, &wrong_aud, &made_up] {
        needles.push(("a token", token));
    }
    for (what, needle) in needles {
        assert!(needle.len() >= 24, "{what}: {needle}");
        // Any 24-character piece of it would do; the tail is the least likely
        // to be shared with anything else.
        let piece = &needle[needle.len() - 24..];
        for (place, text) in [("the gateway log", &log), ("the audit export", &audit)] {
            assert!(
                !text.contains(piece),
                "{place} contains {what} ({piece}):\n{text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// The world: demo API, IdP, gateway
// ---------------------------------------------------------------------------

/// How the gateway finds the introspection endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// From the issuer's metadata.
    Discovered,
    /// `endpoint = "…"` in the config.
    Explicit,
}

struct Setup {
    demo: DemoBackend,
    idp: Idp,
    gateway: Gateway,
    http: Http,
    /// The gateway's public URL, `http://127.0.0.1:PORT/mcp`.
    url: String,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    /// A gateway introspecting at a fresh IdP, which issues opaque tokens for
    /// the gateway's URL and for `other_resources`.
    fn start(other_resources: &[&str], endpoint: Endpoint, envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let demo = DemoBackend::start(DEMO_KEY);
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}/mcp");
        let mut resources = vec![url.as_str()];
        resources.extend_from_slice(other_resources);
        let idp = Idp::start(IdpOptions {
            opaque_resources: &resources,
            ..IdpOptions::default()
        });
        assert!(
            idp.info["introspection_endpoint"].is_string(),
            "this idp.mjs has no introspection: {:#}",
            idp.info
        );
        let mut toml = format!(
            "{}\n[[auth.introspection]]\nissuer = \"{}\"\nclient_id = \"gateway\"\nclient_secret = \"env:{SECRET_ENV}\"\n",
            demo_config(port, demo.addr()),
            idp.issuer()
        );
        if endpoint == Endpoint::Explicit {
            toml.push_str(&format!(
                "endpoint = \"{}\"\n",
                idp.info["introspection_endpoint"].as_str().unwrap()
            ));
        }
        let config = write_config(dir.path(), &toml);
        let (_, secret) = idp.client("gateway");
        let mut all_envs = vec![("DEMO_API_KEY", DEMO_KEY), (SECRET_ENV, secret.as_str())];
        all_envs.extend_from_slice(envs);
        let gateway = Gateway::spawn(&config, &all_envs);
        Setup {
            demo,
            idp,
            gateway,
            http: Http::new(),
            url,
            config,
            _dir: dir,
        }
    }
}

/// An opaque token: not an API key, not a JWT.
fn assert_opaque(token: &str) {
    assert!(!token.starts_with("mcpg_"), "{token}");
    assert!(!token.contains('.'), "not opaque: {token}");
    assert!(token.len() >= 32, "{token}");
}

/// `base64(id:secret)`, as in an `Authorization: Basic` header.
fn basic_credentials(id: &str, secret: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{id}:{secret}").into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
        for _ in chunk.len()..3 {
            out.push('=');
        }
    }
    out
}

/// A 401 with `error="invalid_token"` and a body that leaks nothing.
fn assert_invalid_token(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {reply:?}");
    let challenge = reply
        .www_authenticate
        .as_deref()
        .unwrap_or_else(|| panic!("{what}: no WWW-Authenticate: {reply:?}"));
    assert!(challenge.starts_with("Bearer "), "{what}: {challenge}");
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{what}: {challenge}"
    );
    let body: Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e}): {reply:?}"));
    assert!(body["error"].is_object(), "{what}: {reply:?}");
    assert!(body.get("result").is_none(), "{what}: {reply:?}");
    for tool in DEMO_TOOLS {
        assert!(!reply.body.contains(tool), "{what} leaks {tool}: {reply:?}");
    }
}

// ---------------------------------------------------------------------------
// Raw HTTP (as in tests/jwt.rs)
// ---------------------------------------------------------------------------
