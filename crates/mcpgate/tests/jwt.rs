//! JWT authentication, end to end, against a real identity provider.
//!
//! An operator points `[[auth.jwt]]` at an OpenID provider (`tests/e2e/idp.mjs`,
//! oidc-provider), agents present its access tokens as `Bearer` tokens, and the
//! gateway lets each token see and call only the tools its scopes cover. The
//! gateway describes itself with RFC 9728 metadata, refuses forged, confused,
//! expired, misdirected and oversized tokens without leaking anything, follows
//! the provider's key rotation, never logs a token, and refuses configs that
//! would accept shared-secret or plain-HTTP issuers.
//!
//! Forged tokens are signed with keys generated here by the `openssl` CLI. To
//! reach the checks that run after the signature (`exp`, `nbf`, `aud`, `sub`),
//! a second issuer is configured whose JWKS (served from this test) holds our
//! own public key.

mod common;

use common::{
    assert_audited_insufficient_scope, assert_insufficient_scope, sorted_tool_names,
    successful_text,
};

use common::idp::{Idp, IdpOptions};
use common::raw_http::{self, Http, Reply, call_tool, list_tools, reply_tool_names};

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{
    DEMO_TOOLS, DemoBackend, Gateway, audit_export, audit_export_text, demo_config, free_port,
    mcpgate_bin, run_node_client, run_python_client, write_config,
};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
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
const DEMO_KEY: &str = "jwt-test-backend-key";
/// The kids of our own keys in the forger issuer's JWKS.
const FORGED_RSA_KID: &str = "forger-rs256";
const FORGED_EC_KID: &str = "forger-es256";

// ---------------------------------------------------------------------------
// 1. Real tokens, real clients
// ---------------------------------------------------------------------------

#[test]
fn real_idp_tokens_work_with_real_clients() {
    let setup = Setup::start(&[], false, &[]);
    let read = setup
        .idp
        .token(&setup.http, "inventory:read", &setup.url, "RS256");
    let read_write = setup.idp.token(
        &setup.http,
        "inventory:read inventory:write",
        &setup.url,
        "ES256",
    );
    assert_eq!(token_header(&read)["alg"], "RS256");
    assert_eq!(token_header(&read_write)["alg"], "ES256");

    // The TypeScript SDK with the RS256 read token.
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
        r#"createItem={"body":{"name":"jwt-sprocket","quantity":1}}"#,
    ]);
    assert_eq!(sorted_tool_names(&ts), READ_TOOLS, "{ts:#}");
    assert!(
        successful_text(&ts["calls"][0]).contains("widget"),
        "{ts:#}"
    );
    // Over HTTP a missing scope is a 403 step-up challenge.
    assert_insufficient_scope(&ts, 1, "createItem", &["inventory:write"]);

    // The Python SDK with the ES256 read+write token.
    let py = run_python_client([
        "--timeout",
        "10",
        "--url",
        &setup.url,
        "--header",
        &format!("Authorization: Bearer {read_write}"),
        "--call",
        r#"getItem={"itemId":1}"#,
        "--call",
        r#"adjustStock={"itemId":1,"body":{"delta":1}}"#,
        "--call",
        r#"deleteItem={"itemId":2}"#,
    ]);
    assert_eq!(sorted_tool_names(&py), READ_WRITE_TOOLS, "{py:#}");
    assert!(
        successful_text(&py["calls"][0]).contains("widget"),
        "{py:#}"
    );
    successful_text(&py["calls"][1]);
    assert_insufficient_scope(&py, 2, "deleteItem", &["inventory:admin"]);
    assert!(
        !setup
            .demo
            .recorded_requests()
            .iter()
            .any(|r| format!("{r:?}").contains("DELETE")),
        "a refused call reached the backend"
    );

    // Every call is audited under the token's subject, as a JWT.
    let audit = audit_export(&setup.config);
    let calls: Vec<&Value> = audit
        .iter()
        .map(|line| &line["record"])
        .filter(|record| record["method"] == "tools/call")
        .collect();
    let mut tools: Vec<(String, String)> = calls
        .iter()
        .map(|record| {
            assert_eq!(record["subject"], "service", "{record:#}");
            assert_eq!(record["auth_method"], "jwt", "{record:#}");
            (
                record["tool"].as_str().unwrap_or("?").to_owned(),
                record["decision"]["decision"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
            )
        })
        .collect();
    tools.sort();
    let names: Vec<&str> = tools.iter().map(|(tool, _)| tool.as_str()).collect();
    assert_eq!(
        names,
        [
            "adjustStock",
            "createItem",
            "deleteItem",
            "getItem",
            "listItems"
        ],
        "audited calls: {tools:?}"
    );
    let decision = |tool: &str| {
        tools
            .iter()
            .find(|(t, _)| t == tool)
            .map(|(_, d)| d.clone())
            .unwrap()
    };
    assert_eq!(decision("listItems"), "allow", "{tools:?}");
    for (tool, missing) in [
        ("createItem", "inventory:write"),
        ("deleteItem", "inventory:admin"),
    ] {
        let record = calls.iter().find(|r| r["tool"] == tool).unwrap();
        assert_audited_insufficient_scope(record, tool, &[missing]);
    }
}

// ---------------------------------------------------------------------------
// 2. RFC 9728 metadata and RFC 6750 challenges
// ---------------------------------------------------------------------------

#[test]
fn protected_resource_metadata_and_challenges() {
    let setup = Setup::start(&[], false, &[]);
    let origin = format!("http://{}", setup.gateway.addr());
    let metadata_url = format!("{origin}/.well-known/oauth-protected-resource/mcp");

    let root = setup
        .http
        .get(&format!("{origin}/.well-known/oauth-protected-resource"));
    let with_path = setup.http.get(&metadata_url);
    assert_eq!(root.status, 200, "{root:?}");
    assert_eq!(with_path.status, 200, "{with_path:?}");
    let metadata: Value = serde_json::from_str(&root.body).expect("metadata is not JSON");
    let metadata_at_path: Value =
        serde_json::from_str(&with_path.body).expect("metadata is not JSON");
    assert_eq!(
        metadata, metadata_at_path,
        "the two well-known forms differ"
    );
    assert_eq!(
        metadata["resource"].as_str(),
        Some(setup.url.as_str()),
        "resource must be byte-equal to the public URL: {metadata:#}"
    );
    assert_eq!(
        metadata["authorization_servers"],
        json!([setup.idp.issuer()]),
        "{metadata:#}"
    );
    assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
    // Every scope a tool may require, though challenges ask for less.
    assert_eq!(
        metadata["scopes_supported"],
        json!(["inventory:admin", "inventory:read", "inventory:write"]),
        "{metadata:#}"
    );

    // No token: 401 with the exact challenge, pointing at the metadata.
    let reply = setup.http.send(&list_tools(&setup.url));
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(setup.challenge_missing().as_str()),
        "{reply:?}"
    );
    assert_refusal_body(&reply, "no token");
    let pointed = reply
        .www_authenticate
        .as_deref()
        .and_then(|c| c.split("resource_metadata=\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .expect("no resource_metadata in the challenge");
    let fetched = setup.http.get(pointed);
    assert_eq!(fetched.status, 200, "{fetched:?}");
    assert_eq!(
        serde_json::from_str::<Value>(&fetched.body).unwrap(),
        metadata
    );

    // A refused token gets the same challenge plus invalid_token.
    let reply = setup.http.send(&list_tools(&setup.url).bearer("not.a.jwt"));
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(setup.challenge_invalid().as_str()),
        "{reply:?}"
    );

    // A token without the scope a tool needs: 403, asking for the token's
    // scopes plus the missing one, and pointing at the same metadata.
    let read = setup
        .idp
        .token(&setup.http, "inventory:read", &setup.url, "RS256");
    let reply = setup.http.send(
        &call_tool(
            &setup.url,
            "createItem",
            json!({"body": {"name": "step-up", "quantity": 1}}),
        )
        .bearer(&read),
    );
    raw_http::assert_insufficient_scope(
        &reply,
        "createItem",
        &["inventory:write"],
        "inventory:read inventory:write",
        Some(&metadata_url),
    );
}

// ---------------------------------------------------------------------------
// 3. Attacks
// ---------------------------------------------------------------------------

#[test]
fn attacks_get_401_and_no_data() {
    let setup = Setup::start(&["http://127.0.0.1:1/mcp"], true, &[]);
    let forger = setup.forger.as_ref().unwrap();
    let http = &setup.http;
    let real = setup.idp.token(http, "inventory:read", &setup.url, "RS256");
    let real_claims: Value = jsonwebtoken::dangerous::insecure_decode_claims(&real)
        .expect("the IdP's token has no claims");
    let idp_kid = token_header(&real)["kid"]
        .as_str()
        .expect("the IdP's token has no kid")
        .to_owned();
    let now = unix_now();
    let forged_claims = json!({
        "iss": forger.issuer, "sub": "forged-user", "aud": setup.url,
        "iat": now, "exp": now + 300, "scope": "inventory:read inventory:admin",
    });
    let with = |changes: Value| {
        let mut claims = forged_claims.clone();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    };

    // Controls: the real token and our trusted forger's token both work, so
    // each refusal below is down to the one thing that is wrong.
    for (what, token) in [
        ("the IdP's token", real.clone()),
        (
            "the forger's token",
            forger.sign(Algorithm::RS256, FORGED_RSA_KID, &forged_claims),
        ),
        (
            "the forger's ES256 token",
            forger.sign(Algorithm::ES256, FORGED_EC_KID, &forged_claims),
        ),
    ] {
        let reply = http.send(&list_tools(&setup.url).bearer(&token));
        assert_eq!(reply.status, 200, "{what}: {reply:?}");
    }

    // The IdP's own RSA public key, as PEM, for key confusion.
    let idp_public_pem = idp_public_key_pem(http, &setup.idp, &idp_kid);
    let mut tampered_claims = real_claims.clone();
    tampered_claims["scope"] = json!("inventory:read inventory:write inventory:admin");
    let real_parts: Vec<&str> = real.split('.').collect();
    let padding = "x".repeat(16 * 1024);

    let attacks: Vec<(&str, Option<String>, &str)> = vec![
        (
            "alg none",
            Some(unsigned_token(
                &json!({"alg": "none", "typ": "JWT"}),
                &real_claims,
            )),
            "",
        ),
        (
            "alg none with the IdP's kid",
            Some(unsigned_token(
                &json!({"alg": "none", "kid": idp_kid}),
                &real_claims,
            )),
            "",
        ),
        (
            "HS256 keyed with the IdP's RSA public key PEM",
            Some(hmac_token(
                idp_public_pem.as_bytes(),
                &idp_kid,
                &real_claims,
            )),
            "",
        ),
        (
            "HS256 keyed with the forger's (trusted) RSA public key PEM",
            Some(hmac_token(
                &forger.rsa_public_pem,
                FORGED_RSA_KID,
                &forged_claims,
            )),
            "",
        ),
        (
            "our key, the IdP's kid",
            Some(forger.sign(Algorithm::RS256, &idp_kid, &real_claims)),
            "",
        ),
        (
            "a token for another resource",
            Some(
                setup
                    .idp
                    .token(http, "inventory:read", "http://127.0.0.1:1/mcp", "RS256"),
            ),
            "",
        ),
        (
            "an unknown issuer",
            Some(forger.sign(
                Algorithm::RS256,
                FORGED_RSA_KID,
                &with(json!({"iss": "http://127.0.0.1:1"})),
            )),
            "",
        ),
        (
            "the IdP's issuer, signed by us",
            Some(forger.sign(
                Algorithm::RS256,
                FORGED_RSA_KID,
                &with(json!({"iss": setup.idp.issuer()})),
            )),
            "",
        ),
        (
            "expired beyond the leeway",
            Some(forger.sign(
                Algorithm::RS256,
                FORGED_RSA_KID,
                &with(json!({"iat": now - 600, "exp": now - 120})),
            )),
            "",
        ),
        (
            "not valid before a future time",
            Some(forger.sign(
                Algorithm::RS256,
                FORGED_RSA_KID,
                &with(json!({"nbf": now + 300})),
            )),
            "",
        ),
        (
            "no exp",
            Some(forger.sign(
                Algorithm::RS256,
                FORGED_RSA_KID,
                &with(json!({"exp": null})),
            )),
            "",
        ),
        (
            "no sub",
            Some(forger.sign(Algorithm::ES256, FORGED_EC_KID, &with(json!({"sub": null})))),
            "",
        ),
        (
            "a wrong aud",
            Some(forger.sign(
                Algorithm::RS256,
                FORGED_RSA_KID,
                &with(json!({"aud": "http://127.0.0.1:1/mcp"})),
            )),
            "",
        ),
        (
            "an unknown kid",
            Some(forger.sign(Algorithm::RS256, "no-such-key", &forged_claims)),
            "",
        ),
        (
            "no kid",
            Some(
                jsonwebtoken::encode(&Header::new(Algorithm::RS256), &forged_claims, &forger.rsa)
                    .unwrap(),
            ),
            "",
        ),
        ("truncated", Some(real[..real.len() - 12].to_owned()), ""),
        (
            "a 16 KiB token with a valid signature",
            Some(forger.sign(
                Algorithm::RS256,
                FORGED_RSA_KID,
                &with(json!({"padding": padding})),
            )),
            "",
        ),
        (
            "a tampered payload",
            Some(format!(
                "{}.{}.{}",
                real_parts[0],
                b64url(&serde_json::to_vec(&tampered_claims).unwrap()),
                real_parts[2]
            )),
            "",
        ),
        (
            "the real token in ?access_token= only",
            None,
            "access_token",
        ),
    ];

    let backend_requests = setup.demo.recorded_requests().len();
    for (what, token, query) in &attacks {
        let (url, expected) = match token {
            Some(_) => (setup.url.clone(), setup.challenge_invalid()),
            None => (
                format!("{}?{query}={real}", setup.url),
                setup.challenge_missing(),
            ),
        };
        for request in [
            list_tools(&url),
            call_tool(&url, "getItem", json!({"itemId": 1})),
        ] {
            let request = match token {
                Some(token) => request.bearer(token),
                None => request,
            };
            let reply = http.send(&request);
            assert_eq!(reply.status, 401, "{what}: {reply:?}");
            assert_eq!(
                reply.www_authenticate.as_deref(),
                Some(expected.as_str()),
                "{what}: {reply:?}"
            );
            assert_refusal_body(&reply, what);
        }
    }
    assert_eq!(
        setup.demo.recorded_requests().len(),
        backend_requests,
        "a refused request reached the backend"
    );

    // A good token still works afterwards.
    let reply = http.send(&list_tools(&setup.url).bearer(&real));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply_tool_names(&reply), READ_TOOLS);
}

// ---------------------------------------------------------------------------
// 4. Key rotation
// ---------------------------------------------------------------------------

/// The gateway refetches the JWKS for an unknown kid, at most once per 2 s
/// (`MIN_REFETCH` in `mcpgate-auth`), so a token signed with a freshly
/// rotated key is accepted within about 2 s of the previous fetch.
/// Verified tokens are cached until their `exp`, so an old token keeps
/// working after its key is dropped from the JWKS.
#[test]
fn key_rotation_at_the_idp() {
    let setup = Setup::start(&[], false, &[]);
    let http = &setup.http;
    let old = setup.idp.token(http, "inventory:read", &setup.url, "RS256");
    let old_kid = token_header(&old)["kid"].as_str().unwrap().to_owned();
    let reply = http.send(&list_tools(&setup.url).bearer(&old));
    assert_eq!(reply.status, 200, "{reply:?}");
    let first_fetch = Instant::now();

    let rotated = setup.idp.admin(http, "rotate");
    assert!(
        rotated["previous"]
            .as_array()
            .unwrap()
            .contains(&json!(old_kid)),
        "{rotated:#}"
    );
    let new = setup.idp.token(http, "inventory:read", &setup.url, "RS256");
    let new_kid = token_header(&new)["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid, "the IdP did not rotate");

    // The new kid is unknown to the gateway: it must refetch the JWKS.
    let accepted_after = wait_until_accepted(http, &setup.url, &new, Duration::from_secs(4));
    eprintln!(
        "a token with the rotated kid was accepted {:?} after the first JWKS fetch",
        accepted_after - first_fetch
    );
    assert_eq!(
        reply_tool_names(&http.send(&list_tools(&setup.url).bearer(&new))),
        READ_TOOLS
    );
    let old_reply = http.send(&list_tools(&setup.url).bearer(&old));
    assert_eq!(old_reply.status, 200, "the old token: {old_reply:?}");

    // Dropping the old keys: new tokens keep working; the old token is
    // still accepted from the gateway's cache of verified tokens (observed,
    // not a requirement).
    let dropped = setup.idp.admin(http, "drop-old-keys");
    assert!(
        dropped["dropped"]
            .as_array()
            .unwrap()
            .contains(&json!(old_kid)),
        "{dropped:#}"
    );
    let newer = setup.idp.token(http, "inventory:read", &setup.url, "ES256");
    wait_until_accepted(http, &setup.url, &newer, Duration::from_secs(20));
    let old_reply = http.send(&list_tools(&setup.url).bearer(&old));
    eprintln!(
        "after drop-old-keys the old token gets HTTP {}",
        old_reply.status
    );
}

/// Poll until `token` lists tools (200); when it was first accepted.
fn wait_until_accepted(http: &Http, url: &str, token: &str, within: Duration) -> Instant {
    let deadline = Instant::now() + within;
    loop {
        let reply = http.send(&list_tools(url).bearer(token));
        if reply.status == 200 {
            return Instant::now();
        }
        assert_eq!(reply.status, 401, "{reply:?}");
        assert!(
            Instant::now() < deadline,
            "a token with a newly published key is still refused after {within:?}: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

// ---------------------------------------------------------------------------
// 5. No token in any log line
// ---------------------------------------------------------------------------

#[test]
fn no_token_in_any_log_line() {
    let setup = Setup::start(&[], true, &[("RUST_LOG", "trace")]);
    let forger = setup.forger.as_ref().unwrap();
    let http = &setup.http;
    let now = unix_now();
    let good_rs = setup.idp.token(http, "inventory:read", &setup.url, "RS256");
    let good_es = setup
        .idp
        .token(http, "inventory:read inventory:write", &setup.url, "ES256");
    let claims = json!({
        "iss": forger.issuer, "sub": "log-test", "aud": setup.url,
        "iat": now, "exp": now + 300, "scope": "inventory:read",
    });
    let good_forged = forger.sign(Algorithm::ES256, FORGED_EC_KID, &claims);
    let mut expired_claims = claims.clone();
    expired_claims["exp"] = json!(now - 600);
    let expired = forger.sign(Algorithm::RS256, FORGED_RSA_KID, &expired_claims);
    let wrong_aud = forger.sign(
        Algorithm::RS256,
        FORGED_RSA_KID,
        &json!({"iss": forger.issuer, "sub": "log-test", "aud": "http://127.0.0.1:1/mcp", "exp": now + 300}),
    );
    let tampered = {
        let parts: Vec<&str> = good_rs.split('.').collect();
        format!("{}.{}x.{}", parts[0], parts[1], parts[2])
    };
    let unknown_kid = forger.sign(Algorithm::RS256, "unknown-kid", &claims);

    for (token, challenged) in [
        (&good_rs, "inventory:admin inventory:read"),
        (&good_es, "inventory:admin inventory:read inventory:write"),
        (&good_forged, "inventory:admin inventory:read"),
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
    for token in [&expired, &wrong_aud, &tampered, &unknown_kid] {
        let reply = http.send(&list_tools(&setup.url).bearer(token));
        assert_eq!(reply.status, 401, "{reply:?}");
    }
    // A session through the official SDK, with its GET stream and DELETE.
    run_node_client([
        "--timeout",
        "10",
        "--url",
        &setup.url,
        "--header",
        &format!("Authorization: Bearer {good_es}"),
        "--call",
        "listItems",
    ]);

    let log = setup.gateway.stderr_log();
    assert!(
        log.contains("TRACE") || log.contains("trace"),
        "RUST_LOG=trace produced no trace lines:\n{log}"
    );
    let audit = audit_export_text(&setup.config);
    assert!(audit.contains("log-test"), "the audit log is missing calls");
    for token in [
        &good_rs,
        &good_es,
        &good_forged,
        &expired,
        &wrong_aud,
        &tampered,
        &unknown_kid,
    ] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(signature.len() >= 24, "{token}");
        let needle = &signature[signature.len() - 24..];
        for (place, text) in [("the gateway log", &log), ("the audit export", &audit)] {
            assert!(
                !text.contains(needle),
                "{place} contains a token ({needle}):\n{text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 6. Config checks
// ---------------------------------------------------------------------------

#[test]
fn config_refuses_hs256_and_http_issuers() {
    let dir = tempfile::tempdir().unwrap();
    let base = demo_config(free_port(), "127.0.0.1:9".parse().unwrap());
    let check = |jwt: &str| {
        let path = write_config(dir.path(), &format!("{base}\n{jwt}"));
        let out = Command::new(mcpgate_bin())
            .args(["check", "--config"])
            .arg(&path)
            .env("DEMO_API_KEY", DEMO_KEY)
            .output()
            .expect("cannot run mcpgate check");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };

    // Control: a loopback http issuer with the default algorithms is fine.
    let (ok, out) = check("[[auth.jwt]]\nissuer = \"http://127.0.0.1:9\"\n");
    assert!(ok, "a loopback issuer was refused:\n{out}");

    for algorithms in [r#"["HS256"]"#, r#"["RS256", "HS512"]"#] {
        let (ok, out) = check(&format!(
            "[[auth.jwt]]\nissuer = \"https://idp.example.com\"\nalgorithms = {algorithms}\n"
        ));
        assert!(!ok, "algorithms = {algorithms} was accepted:\n{out}");
        assert!(out.contains("HS"), "{algorithms}: {out}");
    }
    let (ok, out) = check(
        r#"[[auth.jwt]]
algorithms = ["none"]
issuer = "https://idp.example.com"
"#,
    );
    assert!(!ok, "alg none was accepted:\n{out}");

    for issuer in ["http://idp.example.com", "http://10.0.0.1:8080"] {
        let (ok, out) = check(&format!("[[auth.jwt]]\nissuer = \"{issuer}\"\n"));
        assert!(!ok, "issuer {issuer} was accepted:\n{out}");
        assert!(out.contains("https"), "{issuer}: {out}");
    }
}

// ---------------------------------------------------------------------------
// The world: demo API, IdP, forger, gateway
// ---------------------------------------------------------------------------

struct Setup {
    demo: DemoBackend,
    idp: Idp,
    forger: Option<Forger>,
    gateway: Gateway,
    http: Http,
    /// The gateway's public URL, `http://127.0.0.1:PORT/mcp`.
    url: String,
    config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Setup {
    /// A gateway trusting a fresh IdP (which also serves `other_resources`),
    /// and with `forger` our own issuer too.
    fn start(other_resources: &[&str], forger: bool, envs: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let demo = DemoBackend::start(DEMO_KEY);
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}/mcp");
        let mut resources = vec![url.as_str()];
        resources.extend_from_slice(other_resources);
        let idp = Idp::start(IdpOptions {
            resources: &resources,
            algorithms: &["RS256", "ES256"],
            ..IdpOptions::default()
        });
        let mut toml = format!(
            "{}\n[[auth.jwt]]\nissuer = \"{}\"\ngroups_claim = \"groups\"\n",
            demo_config(port, demo.addr()),
            idp.issuer()
        );
        let forger = forger.then(|| Forger::new(dir.path()));
        if let Some(forger) = &forger {
            toml.push_str(&format!(
                "\n[[auth.jwt]]\nissuer = \"{}\"\njwks_uri = \"{}/jwks\"\n",
                forger.issuer, forger.issuer
            ));
        }
        let config = write_config(dir.path(), &toml);
        let mut all_envs = vec![("DEMO_API_KEY", DEMO_KEY)];
        all_envs.extend_from_slice(envs);
        let gateway = Gateway::spawn(&config, &all_envs);
        Setup {
            demo,
            idp,
            forger,
            gateway,
            http: Http::new(),
            url,
            config,
            _dir: dir,
        }
    }

    /// The 401 challenge asks for the scopes of the read-only tools only; a
    /// client steps up on a 403 when it needs more.
    fn challenge_missing(&self) -> String {
        format!(
            r#"Bearer realm="mcpgate", resource_metadata="{}", scope="inventory:read""#,
            self.gateway.metadata_url()
        )
    }

    fn challenge_invalid(&self) -> String {
        format!(r#"{}, error="invalid_token""#, self.challenge_missing())
    }
}

/// Our own issuer: keys made with the `openssl` CLI, and a JWKS holding their
/// public halves served on 127.0.0.1 (`{issuer}/jwks`).
struct Forger {
    issuer: String,
    rsa: EncodingKey,
    ec: EncodingKey,
    /// The RSA public key as SPKI PEM, for key-confusion attempts.
    rsa_public_pem: Vec<u8>,
}

impl Forger {
    fn new(dir: &Path) -> Self {
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .expect("cannot run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ]);
        openssl(&[
            "rsa",
            "-in",
            "rsa.pem",
            "-traditional",
            "-outform",
            "DER",
            "-out",
            "rsa.der",
        ]);
        openssl(&["rsa", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub.pem"]);
        openssl(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ]);
        openssl(&[
            "pkcs8", "-topk8", "-nocrypt", "-in", "ec.pem", "-outform", "DER", "-out", "ec.der",
        ]);
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        let rsa = EncodingKey::from_rsa_der(&read("rsa.der"));
        let ec = EncodingKey::from_ec_der(&read("ec.der"));
        let jwk = |key: &EncodingKey, alg: Algorithm, kid: &str| {
            let mut jwk = Jwk::from_encoding_key(key, alg).expect("cannot make a JWK");
            jwk.common.key_id = Some(kid.to_owned());
            jwk
        };
        let jwks = JwkSet {
            keys: vec![
                jwk(&rsa, Algorithm::RS256, FORGED_RSA_KID),
                jwk(&ec, Algorithm::ES256, FORGED_EC_KID),
            ],
        };
        let addr = serve_static_json(serde_json::to_string(&jwks).unwrap());
        Forger {
            issuer: format!("http://{addr}"),
            rsa,
            ec,
            rsa_public_pem: read("rsa.pub.pem"),
        }
    }

    /// `claims` signed with our key for `alg`, naming `kid`.
    fn sign(&self, alg: Algorithm, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(alg);
        header.kid = Some(kid.to_owned());
        header.typ = Some("at+jwt".to_owned());
        let key = match alg {
            Algorithm::ES256 => &self.ec,
            _ => &self.rsa,
        };
        jsonwebtoken::encode(&header, claims, key).expect("cannot sign")
    }
}

/// Answer every HTTP request on a fresh 127.0.0.1 port with `body` as JSON,
/// from a detached thread that lives as long as the test binary.
fn serve_static_json(body: String) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// The IdP's RSA key `kid` from its JWKS, as SPKI PEM (converted by node).
fn idp_public_key_pem(http: &Http, idp: &Idp, kid: &str) -> String {
    let jwks: Value = serde_json::from_str(&http.get(idp.info["jwks_uri"].as_str().unwrap()).body)
        .expect("the IdP's JWKS is not JSON");
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .unwrap_or_else(|| panic!("{kid} is not in {jwks:#}"));
    let script = "const jwk = JSON.parse(process.argv[1]); process.stdout.write(\
                  require('crypto').createPublicKey({key: jwk, format: 'jwk'})\
                  .export({type: 'spki', format: 'pem'}))";
    let out = Command::new("node")
        .args(["-e", script, &jwk.to_string()])
        .output()
        .expect("cannot run node");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pem = String::from_utf8(out.stdout).unwrap();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"), "{pem}");
    pem
}

// ---------------------------------------------------------------------------
// Tokens by hand
// ---------------------------------------------------------------------------

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Base64url without padding.
fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// `header.claims.` with an empty signature.
fn unsigned_token(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    )
}

/// An HS256 token keyed with `secret` (e.g. a public key's PEM).
fn hmac_token(secret: &[u8], kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
}

/// A token's header, unverified.
fn token_header(token: &str) -> Value {
    serde_json::to_value(jsonwebtoken::decode_header(token).expect("not a JWT")).unwrap()
}

// ---------------------------------------------------------------------------
// Client results
// ---------------------------------------------------------------------------

/// A 401 body: one JSON-RPC error without `data`, naming no tool.
fn assert_refusal_body(reply: &Reply, what: &str) {
    let body: Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e}): {reply:?}"));
    assert!(body["error"].is_object(), "{what}: {reply:?}");
    assert!(body["error"].get("data").is_none(), "{what}: {reply:?}");
    assert!(body.get("result").is_none(), "{what}: {reply:?}");
    for tool in DEMO_TOOLS {
        assert!(!reply.body.contains(tool), "{what} leaks {tool}: {reply:?}");
    }
}

// ---------------------------------------------------------------------------
// Raw HTTP (as in tests/api_keys.rs)
// ---------------------------------------------------------------------------
