//! API keys, end to end.
//!
//! An operator mints keys with `mcpgate keys`, hands them to agents, and
//! the gateway lets each key see and call only the tools its scopes cover.
//! Keys are refused when missing, forged, revoked, expired, meant for
//! another environment or smuggled in the wrong place; a session belongs to
//! the key that opened it; a rotated key keeps working for the overlap and
//! no longer; a revocation reaches every instance sharing a PostgreSQL store
//! within a second; and no key is ever written to a log or the audit trail.

mod common;

use common::{
    assert_audited_insufficient_scope, assert_insufficient_scope, sorted_tool_names,
    successful_text,
};

use common::raw_http::{self, Http, Reply, Req, call_tool, list_tools, reply_tool_names};

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use common::{
    DEMO_TOOLS, DemoBackend, Gateway, demo_config, free_port, mcpgate_bin, random_token,
    run_node_client, run_python_client,
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

/// What `WWW-Authenticate` says when no credential was sent.
const CHALLENGE_MISSING: &str = r#"Bearer realm="mcpgate""#;
/// What `WWW-Authenticate` says when a credential was sent but refused.
const CHALLENGE_INVALID: &str = r#"Bearer realm="mcpgate", error="invalid_token""#;

/// The tools an `inventory:read` key sees, sorted.
const READ_TOOLS: [&str; 3] = ["getItem", "health", "listItems"];

/// The environment every deployment here is configured for.
const ENVIRONMENT: &str = "prod";

// ---------------------------------------------------------------------------
// 1. The CLI and the official clients
// ---------------------------------------------------------------------------

#[test]
fn keys_through_the_cli_and_real_clients() {
    let deployment = Deployment::sqlite();
    let reader = deployment.create_key("ci-reader", &["--scopes", "inventory:read"]);
    let writer = deployment.create_key(
        "stock-bot",
        &[
            "--scopes",
            "inventory:read,inventory:write",
            "--roles",
            "bot",
        ],
    );
    let gateway = deployment.spawn(&[]);
    let url = gateway.mcp_url();
    let before_calls = SystemTime::now();
    let item = format!("sprocket-{}", &random_token()[..8]);
    let create = format!(r#"createItem={{"body":{{"name":"{item}","quantity":3}}}}"#);

    // The TypeScript SDK, with the read key as a Bearer token.
    let ts = run_node_client([
        "--timeout",
        "10",
        "--url",
        &url,
        "--header",
        &format!("Authorization: Bearer {}", reader.secret),
        "--call",
        "listItems",
        "--call",
        r#"getItem={"itemId":1}"#,
        "--call",
        &create,
    ]);
    assert_eq!(sorted_tool_names(&ts), READ_TOOLS, "{ts:#}");
    assert!(
        successful_text(&ts["calls"][0]).contains("widget"),
        "{ts:#}"
    );
    assert!(
        successful_text(&ts["calls"][1]).contains("widget"),
        "{ts:#}"
    );
    // Over HTTP a missing scope is a 403 step-up challenge.
    assert_insufficient_scope(&ts, 2, "createItem", &["inventory:write"]);

    // The Python SDK, with the write key in X-API-Key.
    let py = run_python_client([
        "--timeout",
        "10",
        "--url",
        &url,
        "--header",
        &format!("X-API-Key: {}", writer.secret),
        "--call",
        "listItems",
        "--call",
        &create,
        "--call",
        r#"deleteItem={"itemId":1}"#,
    ]);
    assert_eq!(
        sorted_tool_names(&py),
        [
            "adjustStock",
            "createItem",
            "getItem",
            "health",
            "listItems"
        ],
        "a read+write key sees every tool but the admin one: {py:#}"
    );
    assert!(
        successful_text(&py["calls"][0]).contains("widget"),
        "{py:#}"
    );
    let created: Value = serde_json::from_str(&successful_text(&py["calls"][1]))
        .unwrap_or_else(|e| panic!("createItem did not return JSON ({e}): {py:#}"));
    assert_eq!(created["name"], item.as_str(), "{created:#}");
    assert_insufficient_scope(&py, 2, "deleteItem", &["inventory:admin"]);

    // Only the write key's create reached the backend; nothing was deleted.
    let writes: Vec<String> = deployment
        .demo
        .recorded_requests()
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(writes, ["POST /items"], "writes that reached the backend");

    // Every call is audited under the key's id.
    let audit = deployment.audit_export();
    assert_eq!(
        calls_audited_for(&audit, &reader.id),
        [
            ("getItem".to_owned(), "allow".to_owned()),
            ("listItems".to_owned(), "allow".to_owned()),
            ("createItem".to_owned(), "deny".to_owned()),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>(),
        "the read key's calls in the audit log"
    );
    assert_eq!(
        calls_audited_for(&audit, &writer.id),
        [
            ("listItems".to_owned(), "allow".to_owned()),
            ("createItem".to_owned(), "allow".to_owned()),
            ("deleteItem".to_owned(), "deny".to_owned()),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>(),
        "the write key's calls in the audit log"
    );
    for (key, tool, missing) in [
        (&reader, "createItem", "inventory:write"),
        (&writer, "deleteItem", "inventory:admin"),
    ] {
        let refused: Vec<&Value> = audit
            .iter()
            .map(|line| &line["record"])
            .filter(|r| r["subject"] == key.id.as_str() && r["tool"] == tool)
            .collect();
        assert_eq!(refused.len(), 1, "{tool} by {}: {refused:#?}", key.name);
        assert_audited_insufficient_scope(refused[0], tool, &[missing]);
    }

    // `keys list --json` shows both keys, and never a secret or its hash.
    let listed = deployment.list_keys();
    for (key, name, scopes) in [
        (&reader, "ci-reader", json!(["inventory:read"])),
        (
            &writer,
            "stock-bot",
            json!(["inventory:read", "inventory:write"]),
        ),
    ] {
        let row = key_row(&listed, &key.id);
        assert_eq!(row["name"], name, "{row:#}");
        assert_eq!(row["environment"], ENVIRONMENT, "{row:#}");
        assert_eq!(row["scopes"], scopes, "{row:#}");
        assert_eq!(row["status"], "active", "{row:#}");
        assert!(row["revoked_at"].is_null() && row["expires_at"].is_null());
        let mut fields: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "created_at",
                "environment",
                "expires_at",
                "id",
                "last_used_at",
                "name",
                "replaced_by",
                "revoked_at",
                "roles",
                "scopes",
                "status"
            ],
            "a key listing has exactly the documented fields"
        );
    }
    assert_eq!(key_row(&listed, &writer.id)["roles"], json!(["bot"]));
    let text = listed.to_string();
    for key in [&reader, &writer] {
        assert_no_secret(&text, &key.secret, "`keys list --json`");
    }

    // Last use is flushed every 10 s: both keys show it within ~12 s.
    let deadline = Instant::now() + Duration::from_secs(13);
    let listed = loop {
        let listed = deployment.list_keys();
        let used = |key: &ApiKey| !key_row(&listed, &key.id)["last_used_at"].is_null();
        if used(&reader) && used(&writer) {
            break listed;
        }
        assert!(
            Instant::now() < deadline,
            "last_used_at is still unset 13 s after the calls: {listed:#}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    for key in [&reader, &writer] {
        let row = key_row(&listed, &key.id);
        let used = row["last_used_at"].as_str().unwrap();
        let used = mcpgate_core::parse_rfc3339(used)
            .unwrap_or_else(|| panic!("last_used_at is not RFC 3339: {row:#}"));
        assert!(
            used + Duration::from_secs(1) >= before_calls && used <= SystemTime::now(),
            "last_used_at is not the time of the calls: {row:#}"
        );
    }
}

/// The tools/call records of `subject`, as (tool, decision).
fn calls_audited_for(
    audit: &[Value],
    subject: &str,
) -> std::collections::BTreeSet<(String, String)> {
    audit
        .iter()
        .map(|line| &line["record"])
        .filter(|record| record["subject"] == subject && record["method"] == "tools/call")
        .map(|record| {
            assert_eq!(record["auth_method"], "api_key", "{record:#}");
            assert_eq!(record["credential_id"], subject, "{record:#}");
            (
                record["tool"].as_str().unwrap_or("?").to_owned(),
                record["decision"]["decision"]
                    .as_str()
                    .unwrap_or("?")
                    .to_owned(),
            )
        })
        .collect()
}

/// `mcpgate authz explain --as WHO --tool TOOL` on the deployment: exit
/// code and everything printed.
fn explain(deployment: &Deployment, who: &str, tool: &str) -> (Option<i32>, String) {
    let output = deployment
        .command(&["authz", "explain", "--as", who, "--tool", tool])
        .output()
        .expect("cannot run mcpgate");
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn authz_explain_knows_a_key_by_its_id_and_by_its_secret() {
    let deployment = Deployment::sqlite();
    let reader = deployment.create_key("ci-reader", &["--scopes", "inventory:read"]);
    for who in [reader.id.as_str(), reader.secret.as_str()] {
        let (code, text) = explain(&deployment, who, "createItem");
        assert_eq!(code, Some(3), "denied: {text}");
        for mention in [
            format!("caller {} authenticated by api_key", reader.id),
            "scopes from the credential: inventory:read".to_owned(),
            "missing inventory:write".to_owned(),
        ] {
            assert!(
                text.contains(&mention),
                "should mention {mention:?}:\n{text}"
            );
        }
        assert!(
            !text.contains(&reader.secret),
            "never prints the secret: {text}"
        );
        let (code, text) = explain(&deployment, who, "listItems");
        assert_eq!(code, Some(0), "allowed: {text}");
    }

    deployment.keys(&["revoke", &reader.id]);
    let (code, text) = explain(&deployment, &reader.id, "listItems");
    assert_eq!(code, Some(0), "the policy alone would allow it: {text}");
    assert!(
        text.contains("was revoked") && text.contains("refuses it before authorization"),
        "but the revocation is pointed out: {text}"
    );
    let (code, text) = explain(&deployment, &reader.secret, "listItems");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("refused by authentication"), "{text}");
    assert!(!text.contains(&reader.secret), "{text}");
    let (code, text) = explain(&deployment, "key_doesnotexist", "listItems");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no API key key_doesnotexist"), "{text}");
}

// ---------------------------------------------------------------------------
// 2. Attacks
// ---------------------------------------------------------------------------

#[test]
fn attacks_get_401_and_no_data() {
    let deployment = Deployment::sqlite();
    let valid = deployment.create_key("valid", &["--scopes", "inventory:read"]);
    let other = deployment.create_key("other", &["--scopes", "inventory:read"]);
    let revoked = deployment.create_key("revoked", &["--scopes", "inventory:read"]);
    let expiring = deployment.create_key(
        "expiring",
        &["--scopes", "inventory:read", "--expires", "3s"],
    );
    let expiring_created = Instant::now();
    let staging = deployment.create_key(
        "staging",
        &["--scopes", "inventory:read", "--env", "staging"],
    );
    assert!(staging.secret.starts_with("mcpg_staging_"));
    let gateway = deployment.spawn(&[]);
    let url = gateway.mcp_url();
    let http = Http::new();

    // The revoked and the expiring key worked before; so refusing them
    // later is about the revocation and the expiry, nothing else.
    for key in [&revoked, &expiring] {
        let reply = http.send(&list_tools(&url).bearer(&key.secret));
        assert_eq!(reply.status, 200, "{}: {reply:?}", key.id);
    }
    deployment.keys(&["revoke", &revoked.id]);
    wait_until_refused(&http, &url, &revoked.secret, Duration::from_secs(2));
    let expired_at = expiring_created + Duration::from_millis(3_500);
    std::thread::sleep(expired_at.saturating_duration_since(Instant::now()));

    let never_created = mcpgate_auth::api_key::generate(ENVIRONMENT)
        .unwrap()
        .secret
        .expose_secret()
        .to_owned();
    let bearer = |key: &str| vec![("authorization", format!("Bearer {key}"))];
    let attacks = [
        Attack::new("no credential", vec![], CHALLENGE_MISSING),
        Attack::new(
            "a garbage Bearer token",
            bearer("garbage"),
            CHALLENGE_INVALID,
        ),
        Attack::new(
            "the valid key under the Basic scheme",
            vec![(
                "authorization",
                format!("Basic {}", base64(&format!("user:{}", valid.secret))),
            )],
            CHALLENGE_INVALID,
        ),
        Attack::new(
            "a well-formed key that was never created",
            bearer(&never_created),
            CHALLENGE_INVALID,
        ),
        Attack::new(
            "the valid key with one character changed",
            bearer(&one_character_changed(&valid.secret)),
            CHALLENGE_INVALID,
        ),
        Attack::new(
            "a 16 KiB token",
            bearer(&format!("mcpg_prod_{}", "A".repeat(16 * 1024))),
            CHALLENGE_INVALID,
        ),
        Attack::new("a revoked key", bearer(&revoked.secret), CHALLENGE_INVALID),
        Attack::new(
            "an expired key",
            vec![("x-api-key", expiring.secret.clone())],
            CHALLENGE_INVALID,
        ),
        Attack::new(
            "a key of another environment",
            bearer(&staging.secret),
            CHALLENGE_INVALID,
        ),
        Attack::new("the valid key in ?api_key= only", vec![], CHALLENGE_MISSING)
            .query(&format!("?api_key={}", valid.secret)),
        Attack::new(
            "the valid key in ?access_token= only",
            vec![],
            CHALLENGE_MISSING,
        )
        .query(&format!("?access_token={}", valid.secret)),
        Attack::new(
            "two different valid keys in Bearer and X-API-Key",
            vec![
                ("authorization", format!("Bearer {}", valid.secret)),
                ("x-api-key", other.secret.clone()),
            ],
            CHALLENGE_INVALID,
        ),
    ];

    let refusals_before = authentication_refusals(&deployment.audit_export());
    let backend_before = deployment.demo.recorded_requests().len();
    for attack in &attacks {
        let url = format!("{url}{}", attack.query);
        for request in [
            list_tools(&url),
            call_tool(&url, "getItem", json!({"itemId": 1})),
        ] {
            let mut request = request;
            for (name, value) in &attack.headers {
                request = request.header(name, value);
            }
            let reply = http.send(&request);
            assert_refused(&reply, attack.challenge, attack.what);
        }
    }

    // A 1 MiB header is turned away before authentication, not a crash.
    match status_of_huge_header(gateway.addr(), 1024 * 1024) {
        Ok(status) => assert!(
            [400, 413, 431].contains(&status),
            "a 1 MiB Authorization header: expected 400/413/431, got {status}"
        ),
        // The server may reset the connection before its answer is read;
        // that is a refusal too. Liveness is checked below.
        Err(error) => eprintln!("a 1 MiB Authorization header: no status read ({error})"),
    }

    // Nothing reached the backend, and every refusal is in the audit log.
    assert_eq!(
        deployment.demo.recorded_requests().len(),
        backend_before,
        "a refused request reached the backend"
    );
    let audit = deployment.audit_export();
    let refusals = authentication_refusals(&audit);
    assert_eq!(
        refusals.len() - refusals_before.len(),
        2 * attacks.len(),
        "one `authenticate` deny record per refused request: {:#?}",
        &refusals[refusals_before.len()..]
    );
    let mut details: Vec<&str> = refusals[refusals_before.len()..]
        .iter()
        .map(|record| {
            assert_eq!(
                record["decision"]["reason"]["kind"], "unauthenticated",
                "{record:#}"
            );
            record["decision"]["reason"]["detail"]
                .as_str()
                .unwrap_or("?")
        })
        .collect();
    details.sort_unstable();
    let mut expected: Vec<&str> = attacks
        .iter()
        .flat_map(|attack| {
            // A key the gateway knows is named, with why it is refused.
            let detail = match attack.what {
                _ if attack.challenge == CHALLENGE_MISSING => "no credential",
                "a revoked key" => "credential revoked, or for another environment",
                "an expired key" => "credential expired",
                _ => "invalid credential",
            };
            [detail, detail]
        })
        .collect();
    expected.sort_unstable();
    assert_eq!(details, expected, "why each refusal was audited");

    // The gateway is alive and still serves the valid key.
    let reply = http.send(&list_tools(&url).bearer(&valid.secret));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply_tool_names(&reply), READ_TOOLS, "{reply:?}");
    let reply =
        http.send(&call_tool(&url, "listItems", json!({})).header("x-api-key", &valid.secret));
    assert!(
        reply.result()["content"].to_string().contains("widget"),
        "{reply:?}"
    );
}

/// Two credentials in one request are ambiguous (a proxy in front may read
/// the other one), so they are refused however they are sent: the gateway
/// already does so for `Authorization` plus `X-API-Key`, but not for a
/// repeated header.
#[test]
fn a_repeated_credential_header_is_refused() {
    let deployment = Deployment::sqlite();
    let valid = deployment.create_key("valid", &["--scopes", "inventory:read"]);
    let gateway = deployment.spawn(&[]);
    let url = gateway.mcp_url();
    let http = Http::new();
    let other = format!("Bearer {}", one_character_changed(&valid.secret));
    for (what, request) in [
        (
            "two Authorization headers",
            list_tools(&url)
                .bearer(&valid.secret)
                .header("authorization", &other),
        ),
        (
            "two X-API-Key headers",
            list_tools(&url)
                .header("x-api-key", &valid.secret)
                .header("x-api-key", "garbage"),
        ),
    ] {
        assert_refused(&http.send(&request), CHALLENGE_INVALID, what);
    }
}

/// A request that must be refused: its credentials, and the challenge.
struct Attack {
    what: &'static str,
    /// Appended to the URL.
    query: String,
    headers: Vec<(&'static str, String)>,
    challenge: &'static str,
}

impl Attack {
    fn new(
        what: &'static str,
        headers: Vec<(&'static str, String)>,
        challenge: &'static str,
    ) -> Self {
        Attack {
            what,
            query: String::new(),
            headers,
            challenge,
        }
    }

    fn query(mut self, query: &str) -> Self {
        self.query = query.to_owned();
        self
    }
}

/// The status the gateway at `addr` answers to a `tools/list` whose
/// `Authorization` header is `size` bytes long. Raw TCP, so that the
/// answer is read even when the server stops reading the request early.
fn status_of_huge_header(addr: std::net::SocketAddr, size: usize) -> Result<u16, String> {
    let body = list_tools("").body.to_string();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json, text/event-stream\r\n\
         Content-Type: application/json\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n\
         Content-Length: {}\r\nAuthorization: Bearer {}\r\n\r\n{body}",
        body.len(),
        "A".repeat(size),
    );
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut reader = stream.try_clone().map_err(|e| e.to_string())?;
    // Read while writing: the answer may come before the request is sent.
    let answer = std::thread::spawn(move || {
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer);
        answer
    });
    if let Err(error) = stream.write_all(head.as_bytes()) {
        eprintln!("a {size}-byte header: the server stopped reading ({error})");
    }
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let answer = answer.join().map_err(|_| "the reader panicked")?;
    let answer = String::from_utf8_lossy(&answer);
    assert_no_tool_names(&answer, "a huge Authorization header");
    answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("no HTTP status in {:?}", &answer[..answer.len().min(200)]))
}

/// Refused with 401, the given challenge, a JSON-RPC error body without
/// data, and nothing about the tools.
fn assert_refused(reply: &Reply, challenge: &str, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(challenge),
        "{what}: WWW-Authenticate"
    );
    assert!(
        reply.session.is_none(),
        "{what}: a session was opened: {reply:?}"
    );
    assert_no_tool_names(&reply.body, what);
    let body: Value = serde_json::from_str(&reply.body)
        .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e}): {reply:?}"));
    assert_eq!(body["jsonrpc"], "2.0", "{what}: {body}");
    assert!(body.get("result").is_none(), "{what}: {body}");
    assert!(body["error"]["code"].is_i64(), "{what}: {body}");
    assert!(
        body["error"].get("data").is_none_or(Value::is_null),
        "{what}: the error carries data: {body}"
    );
}

fn assert_no_tool_names(body: &str, what: &str) {
    for tool in DEMO_TOOLS {
        assert!(
            !body.contains(tool),
            "{what}: the answer names {tool}: {body}"
        );
    }
    assert!(
        !body.contains("widget"),
        "{what}: the answer holds inventory data: {body}"
    );
}

/// The audit records of refused authentications.
fn authentication_refusals(audit: &[Value]) -> Vec<Value> {
    audit
        .iter()
        .map(|line| line["record"].clone())
        .filter(|record| record["method"] == "authenticate")
        .inspect(|record| {
            assert_eq!(record["decision"]["decision"], "deny", "{record:#}");
            assert_eq!(record["outcome"], "not_executed", "{record:#}");
        })
        .collect()
}

/// `key` with one character of its secret part replaced.
fn one_character_changed(key: &str) -> String {
    let mut bytes = key.as_bytes().to_vec();
    let at = key.len() - 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

/// Standard base64 with padding, for a Basic credential.
fn base64(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in text.as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// 3. Sessions
// ---------------------------------------------------------------------------

#[test]
fn a_session_is_bound_to_the_key_that_opened_it() {
    let deployment = Deployment::sqlite();
    let alice = deployment.create_key("alice", &["--scopes", "inventory:read"]);
    let mallory = deployment.create_key("mallory", &["--scopes", "inventory:read"]);
    let gateway = deployment.spawn(&[]);
    let url = gateway.mcp_url();
    let http = Http::new();

    // Alice opens a 2025-06-18 session.
    let reply = http.send(
        &Req::post(
            &url,
            json!({
                "jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {
                    "protocolVersion": SESSION_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "session-test", "version": "1"}
                }
            }),
        )
        .bearer(&alice.secret),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.result()["protocolVersion"],
        SESSION_VERSION,
        "{reply:?}"
    );
    let session = reply
        .session
        .clone()
        .unwrap_or_else(|| panic!("initialize opened no session: {reply:?}"));
    let reply = http.send(
        &in_session(
            &url,
            &session,
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        )
        .bearer(&alice.secret),
    );
    assert_eq!(reply.status, 202, "{reply:?}");
    let alice_lists =
        |http: &Http| http.send(&in_session(&url, &session, list_body(2)).bearer(&alice.secret));
    assert_eq!(reply_tool_names(&alice_lists(&http)), READ_TOOLS);

    // Mallory, with a valid key of her own, cannot use, follow or close it.
    for (what, request) in [
        ("tools/list", in_session(&url, &session, list_body(3))),
        (
            "tools/call",
            in_session(
                &url,
                &session,
                json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                       "params": {"name": "listItems", "arguments": {}}}),
            ),
        ),
        (
            "DELETE",
            in_session(&url, &session, Value::Null).method("DELETE"),
        ),
        (
            "GET (the server's stream)",
            in_session(&url, &session, Value::Null).method("GET"),
        ),
    ] {
        let reply = http
            .try_send(&request.bearer(&mallory.secret), false)
            .unwrap_or_else(|e| panic!("mallory's {what}: {e}"));
        assert_eq!(
            reply.status, 404,
            "mallory's {what} in alice's session: {reply:?}"
        );
    }
    // Without any key the answer is 401, before the session is looked at.
    let reply = http.send(&in_session(&url, &session, list_body(5)));
    assert_eq!(reply.status, 401, "{reply:?}");
    assert_eq!(reply.www_authenticate.as_deref(), Some(CHALLENGE_MISSING));

    // Alice's session is intact; she can close it, and then it is gone.
    let reply = alice_lists(&http);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply_tool_names(&reply), READ_TOOLS);
    let reply = http.send(
        &in_session(&url, &session, Value::Null)
            .method("DELETE")
            .bearer(&alice.secret),
    );
    assert!(
        reply.status < 300,
        "alice cannot close her session: {reply:?}"
    );
    assert_eq!(alice_lists(&http).status, 404);
}

/// The protocol version with `Mcp-Session-Id` sessions.
const SESSION_VERSION: &str = "2025-06-18";

fn list_body(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {}})
}

/// A request in session `session` (2025-06-18); a `Null` body sends none.
fn in_session(url: &str, session: &str, body: Value) -> Req {
    Req::post(url, body)
        .header("mcp-session-id", session)
        .header("mcp-protocol-version", SESSION_VERSION)
}

// ---------------------------------------------------------------------------
// 4. Rotation
// ---------------------------------------------------------------------------

#[test]
fn rotation_overlap() {
    let deployment = Deployment::sqlite();
    let old = deployment.create_key("rotating", &["--scopes", "inventory:read"]);
    let gateway = deployment.spawn(&[]);
    let url = gateway.mcp_url();
    let http = Http::new();
    let works = |secret: &str| http.send(&list_tools(&url).bearer(secret)).status == 200;
    // In use, hence in the gateway's memory, before it is rotated.
    assert!(works(&old.secret));

    // The overlap ends 3 s after some moment between these two.
    let rotating = Instant::now();
    let out = deployment.keys(&["rotate", &old.id, "--overlap", "3s"]);
    let rotated = Instant::now();
    let new_secret = last_line(&out);
    assert_key_format(&new_secret, ENVIRONMENT);
    assert_ne!(new_secret, old.secret);
    let listed = deployment.list_keys();
    let old_row = key_row(&listed, &old.id);
    let new_id = old_row["replaced_by"]
        .as_str()
        .unwrap_or_else(|| panic!("the old key names no successor: {old_row:#}"))
        .to_owned();
    let new_row = key_row(&listed, &new_id);
    assert_eq!(
        (&new_row["name"], &new_row["scopes"], &new_row["status"]),
        (
            &json!("rotating"),
            &json!(["inventory:read"]),
            &json!("active")
        ),
        "{new_row:#}"
    );

    // During the overlap both keys work: at once, and near its end.
    assert!(
        works(&new_secret),
        "the new key is refused right after rotation"
    );
    assert!(
        works(&old.secret),
        "the old key is refused right after rotation"
    );
    std::thread::sleep(
        (rotating + Duration::from_millis(2_000)).saturating_duration_since(Instant::now()),
    );
    assert!(
        works(&new_secret),
        "the new key is refused 2 s into the overlap"
    );
    assert!(
        works(&old.secret),
        "the old key is refused 2 s into a 3 s overlap"
    );

    // After it, only the new one.
    std::thread::sleep(
        (rotated + Duration::from_millis(4_000)).saturating_duration_since(Instant::now()),
    );
    let reply = http.send(&list_tools(&url).bearer(&old.secret));
    assert_refused(&reply, CHALLENGE_INVALID, "the old key after the overlap");
    assert!(
        works(&new_secret),
        "the new key is refused after the overlap"
    );
    assert_eq!(
        key_row(&deployment.list_keys(), &old.id)["status"],
        "expired"
    );
}

// ---------------------------------------------------------------------------
// 5. Revocation across instances
// ---------------------------------------------------------------------------

#[test]
fn revocation_reaches_another_instance_within_a_second_on_postgres() {
    let Some(schema) = PostgresSchema::create("revocation_reaches_another_instance") else {
        return;
    };
    let deployment = Deployment::new(&schema.url);
    let config_b = deployment.another_instance();
    let instance_a = deployment.spawn(&[]);
    let instance_b = Gateway::spawn(&config_b, &deployment.envs());
    let (url_a, url_b) = (instance_a.mcp_url(), instance_b.mcp_url());
    let http = Http::new();

    let mut latencies = Vec::new();
    for round in 1..=3 {
        let key = deployment.create_key(&format!("round-{round}"), &["--scopes", "inventory:read"]);
        for url in [&url_a, &url_b] {
            let reply = http.send(&list_tools(url).bearer(&key.secret));
            assert_eq!(reply.status, 200, "round {round}, {url}: {reply:?}");
        }

        // Revoke through instance A's config; poll B every 20 ms meanwhile.
        let started = Instant::now();
        let mut revoke = deployment
            .command(&["keys", "revoke", &key.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot run mcpgate keys revoke");
        let mut exited = None;
        let refused = loop {
            if exited.is_none() && revoke.try_wait().unwrap().is_some() {
                exited = Some(Instant::now());
            }
            if http.send(&list_tools(&url_b).bearer(&key.secret)).status == 401 {
                break Instant::now();
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "round {round}: instance B still accepts the revoked key after 5 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            revoke.wait().unwrap().success(),
            "round {round}: revoke failed"
        );
        let exited = exited.unwrap_or(refused);
        // The revocation committed somewhere between the command's start
        // and its exit: these bound the latency from above and below.
        let upper = refused - started;
        let lower = refused.saturating_duration_since(exited);
        eprintln!(
            "round {round}: instance B refused the revoked key {} ms after `keys revoke` started \
             ({} ms after it exited)",
            upper.as_millis(),
            lower.as_millis()
        );
        latencies.push(upper);
        wait_until_refused(&http, &url_a, &key.secret, Duration::from_secs(1));
    }
    eprintln!(
        "revocation latencies (upper bounds): {:?} ms",
        latencies
            .iter()
            .map(Duration::as_millis)
            .collect::<Vec<_>>()
    );
    for (round, latency) in latencies.iter().enumerate() {
        assert!(
            *latency < Duration::from_secs(1),
            "round {}: the revocation took {latency:?} to reach instance B",
            round + 1
        );
    }
}

/// Revocations made at the same time (an incident script revoking many keys
/// at once, or two operators) must all reach every instance.
#[test]
fn concurrent_revocations_all_reach_every_instance_on_postgres() {
    let Some(schema) = PostgresSchema::create("concurrent_revocations") else {
        return;
    };
    let deployment = Deployment::new(&schema.url);
    let config_b = deployment.another_instance();
    let instance_a = deployment.spawn(&[]);
    let instance_b = Gateway::spawn(&config_b, &deployment.envs());
    let instances = [("A", instance_a.mcp_url()), ("B", instance_b.mcp_url())];
    let http = Http::new();
    let keys: Vec<ApiKey> = (0..32)
        .map(|i| deployment.create_key(&format!("k{i}"), &["--scopes", "inventory:read"]))
        .collect();
    // Every key is in use, hence in both instances' memory.
    for (name, url) in &instances {
        for key in &keys {
            let reply = http.send(&list_tools(url).bearer(&key.secret));
            assert_eq!(reply.status, 200, "{} on {name}: {reply:?}", key.id);
        }
    }

    let mut revocations: Vec<_> = keys
        .iter()
        .map(|key| {
            deployment
                .command(&["keys", "revoke", &key.id])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot run mcpgate keys revoke")
        })
        .collect();
    for revocation in &mut revocations {
        assert!(revocation.wait().unwrap().success(), "a revocation failed");
    }
    let listed = deployment.list_keys();
    for key in &keys {
        assert_eq!(key_row(&listed, &key.id)["status"], "revoked");
    }

    // Two polls' worth of time, then no instance may accept any of them.
    std::thread::sleep(Duration::from_millis(2_500));
    let mut still_accepted = Vec::new();
    for (name, url) in &instances {
        for key in &keys {
            if http.send(&list_tools(url).bearer(&key.secret)).status != 401 {
                still_accepted.push(format!("{} on {name}", key.id));
            }
        }
    }
    let warnings: Vec<String> = [&instance_a, &instance_b]
        .iter()
        .flat_map(|gateway| {
            let log = gateway.stderr_log();
            log.lines()
                .filter(|l| {
                    l.contains("WARN")
                        || l.contains("ERROR")
                        || still_accepted
                            .iter()
                            .any(|k| l.contains(k.split(' ').next().unwrap_or("?")))
                })
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        still_accepted.is_empty(),
        "revoked keys still accepted 2.5 s after revocation: {still_accepted:?}\nwarnings: {warnings:#?}"
    );
}

// ---------------------------------------------------------------------------
// 6. Logs
// ---------------------------------------------------------------------------

#[test]
fn no_key_in_any_log_line() {
    let deployment = Deployment::sqlite();
    let valid = deployment.create_key("logged", &["--scopes", "inventory:read,inventory:write"]);
    let revoked = deployment.create_key("to-revoke", &["--scopes", "inventory:read"]);
    let staging = deployment.create_key(
        "staging",
        &["--scopes", "inventory:read", "--env", "staging"],
    );
    let gateway = deployment.spawn(&[("RUST_LOG", "trace")]);
    let url = gateway.mcp_url();
    let http = Http::new();
    let never_created = mcpgate_auth::api_key::generate(ENVIRONMENT)
        .unwrap()
        .secret
        .expose_secret()
        .to_owned();
    let mangled = one_character_changed(&valid.secret);

    // Accepted: both headers, a list, a read and a write.
    for request in [
        list_tools(&url).bearer(&valid.secret),
        call_tool(&url, "listItems", json!({})).header("x-api-key", &valid.secret),
        call_tool(
            &url,
            "createItem",
            json!({"body": {"name": "logged", "quantity": 1}}),
        )
        .bearer(&valid.secret),
        // A key handed to a tool as an argument is still a key.
        call_tool(&url, "listItems", json!({"tag": valid.secret})).bearer(&valid.secret),
        call_tool(
            &url,
            "createItem",
            json!({"body": {"name": format!("token={}", revoked.secret), "quantity": 1}}),
        )
        .bearer(&valid.secret),
        call_tool(&url, "getItem", json!({"itemId": 1})).bearer(&revoked.secret),
    ] {
        let reply = http.send(&request);
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    // A scope the key lacks: a 403 step-up challenge (with API keys only,
    // there is no authorization server for it to point at).
    let reply =
        http.send(&call_tool(&url, "deleteItem", json!({"itemId": 1})).bearer(&valid.secret));
    raw_http::assert_insufficient_scope(
        &reply,
        "deleteItem",
        &["inventory:admin"],
        "inventory:admin inventory:read inventory:write",
        None,
    );
    deployment.keys(&["revoke", &revoked.id]);
    wait_until_refused(&http, &url, &revoked.secret, Duration::from_secs(2));
    // Refused, in every way a key can be.
    for request in [
        list_tools(&url).bearer(&revoked.secret),
        list_tools(&url).bearer(&staging.secret),
        list_tools(&url).bearer(&never_created),
        list_tools(&url).header("x-api-key", &never_created),
        list_tools(&url).bearer(&mangled),
        list_tools(&url).header("authorization", &format!("Basic {}", base64(&valid.secret))),
        list_tools(&url)
            .bearer(&valid.secret)
            .header("x-api-key", &staging.secret),
        list_tools(&format!("{url}?api_key={}", valid.secret)),
    ] {
        let reply = http.send(&request);
        assert_eq!(reply.status, 401, "{reply:?}");
    }

    let log = gateway.stderr_log();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "RUST_LOG=trace produced no debug or trace lines:\n{log}"
    );
    let audit_lines = deployment.mcpgate_ok(&["audit", "export"]);
    for secret in [
        &valid.secret,
        &revoked.secret,
        &staging.secret,
        &never_created,
        &mangled,
    ] {
        assert_no_secret(&log, secret, "the gateway's log");
        assert_no_secret(&audit_lines, secret, "the audit export");
    }
    for (what, text) in [
        ("the gateway's log", &log),
        ("the audit export", &audit_lines),
    ] {
        assert!(
            !text.contains(&deployment.pepper),
            "{what} holds the pepper"
        );
        assert!(
            !text.contains(&deployment.backend_key),
            "{what} holds the backend key"
        );
    }

    // The keys are named by id instead.
    let audit = deployment.audit_export();
    for key in [&valid, &revoked] {
        assert!(
            audit
                .iter()
                .any(|line| line["record"]["subject"] == key.id.as_str()),
            "no audit record names {} ({})",
            key.id,
            key.name
        );
    }
    assert!(
        authentication_refusals(&audit).len() >= 8,
        "the refusals are missing from the audit log"
    );
}

/// Neither `secret`, nor its part after the environment, nor any 16
/// characters of that part appear in `text`.
fn assert_no_secret(text: &str, secret: &str, what: &str) {
    let body = &secret[secret.len() - 49..];
    for window in 0..=body.len() - 16 {
        let piece = &body[window..window + 16];
        if let Some(at) = text.find(piece) {
            let line = text[..at].lines().count();
            panic!("{what} holds (part of) a key, line {line}: {piece}");
        }
    }
}

// ---------------------------------------------------------------------------
// The deployment: a demo backend and a config with API keys
// ---------------------------------------------------------------------------

/// A key as `mcpgate keys create` printed it.
#[derive(Debug)]
struct ApiKey {
    id: String,
    name: String,
    secret: String,
}

/// The demo API behind a config with `[store]` and `[auth.api_keys]`; the
/// gateway itself is started with [`Deployment::spawn`].
struct Deployment {
    demo: DemoBackend,
    backend_key: String,
    pepper: String,
    config: PathBuf,
    store_url: String,
    // Keeps the config, the SQLite file and the logs until the test ends.
    dir: tempfile::TempDir,
}

impl Deployment {
    /// A deployment with a SQLite store next to its config.
    fn sqlite() -> Self {
        Deployment::new("sqlite:mcpgate.db")
    }

    /// A deployment whose keys and audit log live at `store_url`.
    fn new(store_url: &str) -> Self {
        let backend_key = format!("backend-{}", random_token());
        let demo = DemoBackend::start(&backend_key);
        let dir = tempfile::tempdir().expect("cannot create a temp dir");
        let mut deployment = Deployment {
            demo,
            backend_key,
            // 39 bytes, unique to the test.
            pepper: format!("pepper-{}", random_token()),
            config: PathBuf::new(),
            store_url: store_url.to_owned(),
            dir,
        };
        deployment.config = deployment.write_config("mcpgate.toml");
        deployment
    }

    /// Write a config for one more instance (its own port, the same store
    /// and pepper) and return its path.
    fn another_instance(&self) -> PathBuf {
        self.write_config(&format!("mcpgate-{}.toml", free_port()))
    }

    fn write_config(&self, file: &str) -> PathBuf {
        let toml = format!(
            "{}\n[store]\nurl = {}\n\n[auth.api_keys]\nenvironment = \"{ENVIRONMENT}\"\npepper = \"env:MCPGATE_KEY_PEPPER\"\n",
            demo_config(free_port(), self.demo.addr()),
            Value::from(self.store_url.as_str()),
        );
        let path = self.dir.path().join(file);
        std::fs::write(&path, toml).expect("cannot write the config");
        path
    }

    /// The environment the gateway and the CLI need.
    fn envs(&self) -> [(&str, &str); 2] {
        [
            ("DEMO_API_KEY", self.backend_key.as_str()),
            ("MCPGATE_KEY_PEPPER", self.pepper.as_str()),
        ]
    }

    /// `mcpgate serve` on this deployment's config, with `extra` env vars.
    fn spawn(&self, extra: &[(&str, &str)]) -> Gateway {
        let mut envs = self.envs().to_vec();
        envs.extend_from_slice(extra);
        Gateway::spawn(&self.config, &envs)
    }

    /// `mcpgate ARGS… --config CONFIG`, not yet run.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(mcpgate_bin());
        command
            .args(args)
            .arg("--config")
            .arg(&self.config)
            .envs(self.envs())
            .stdin(Stdio::null());
        command
    }

    /// Run `mcpgate ARGS… --config CONFIG`; its stdout, which it must succeed.
    fn mcpgate_ok(&self, args: &[&str]) -> String {
        let Output {
            status,
            stdout,
            stderr,
        } = self.command(args).output().expect("cannot run mcpgate");
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        assert!(
            status.success(),
            "mcpgate {args:?} failed ({status})\n--- stdout:\n{stdout}\n--- stderr:\n{}",
            String::from_utf8_lossy(&stderr)
        );
        stdout
    }

    /// `mcpgate keys ARGS…`; its stdout.
    fn keys(&self, args: &[&str]) -> String {
        let mut all = vec!["keys"];
        all.extend_from_slice(args);
        self.mcpgate_ok(&all)
    }

    /// `mcpgate keys create --name NAME ARGS…`.
    fn create_key(&self, name: &str, args: &[&str]) -> ApiKey {
        let mut all = vec!["create", "--name", name];
        all.extend_from_slice(args);
        let out = self.keys(&all);
        let first = out.lines().next().unwrap_or_default();
        let id = first
            .strip_prefix("Created ")
            .and_then(|rest| rest.split_whitespace().next())
            .filter(|id| id.starts_with("key_"))
            .unwrap_or_else(|| panic!("`keys create` printed no id first:\n{out}"))
            .to_owned();
        let environment = args
            .iter()
            .position(|a| *a == "--env")
            .map_or(ENVIRONMENT, |i| args[i + 1]);
        assert!(
            first.ends_with(&format!("for environment `{environment}`.")),
            "{out}"
        );
        let secret = last_line(&out);
        assert_key_format(&secret, environment);
        ApiKey {
            id,
            name: name.to_owned(),
            secret,
        }
    }

    /// `mcpgate keys list --json`.
    fn list_keys(&self) -> Value {
        let out = self.keys(&["list", "--json"]);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("`keys list --json` is not JSON ({e}):\n{out}"))
    }

    /// `mcpgate audit export`, one JSON value per line.
    fn audit_export(&self) -> Vec<Value> {
        self.mcpgate_ok(&["audit", "export"])
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("an audit line is not JSON ({e}): {line}"))
            })
            .collect()
    }
}

fn last_line(out: &str) -> String {
    out.lines().last().unwrap_or_default().trim().to_owned()
}

/// `mcpg_<env>_` and 49 letters and digits.
fn assert_key_format(key: &str, environment: &str) {
    let body = key
        .strip_prefix(&format!("mcpg_{environment}_"))
        .unwrap_or_else(|| panic!("{key:?} does not start with mcpg_{environment}_"));
    assert!(
        body.len() == 49 && body.chars().all(|c| c.is_ascii_alphanumeric()),
        "{key:?} does not end in 49 letters and digits"
    );
}

/// The row of `id` in `keys list --json`.
fn key_row<'a>(listed: &'a Value, id: &str) -> &'a Value {
    listed
        .as_array()
        .and_then(|rows| rows.iter().find(|row| row["id"] == id))
        .unwrap_or_else(|| panic!("{id} is not listed: {listed:#}"))
}

/// Poll until `secret` is refused (401), at most `within`.
fn wait_until_refused(http: &Http, url: &str, secret: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let reply = http.send(&list_tools(url).bearer(secret));
        if reply.status == 401 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the key is still accepted after {within:?}: {reply:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------
// Client results
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Raw HTTP
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

/// The PostgreSQL server the tests use when `MCPGATE_TEST_POSTGRES_URL` is
/// not set (as in `mcpgate-store`'s tests).
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A fresh schema, dropped (best effort) on drop.
struct PostgresSchema {
    admin_url: String,
    name: String,
    /// The store URL with `search_path` set to this schema.
    url: String,
}

impl PostgresSchema {
    /// A new schema `t_<random>`, or `None` when PostgreSQL is unreachable
    /// and the tests may skip it: never under `CI`, only with
    /// `MCPGATE_SKIP_POSTGRES=1`.
    fn create(test: &str) -> Option<Self> {
        let admin_url = std::env::var("MCPGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
        let name = format!("t_{}", &random_token()[..16]);
        if let Err(error) = simple_query(&admin_url, &format!("CREATE SCHEMA {name}")) {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "{test}: PostgreSQL at {admin_url} is unusable ({error}), and CI is set, so this \
                     test cannot be skipped: start PostgreSQL (or point MCPGATE_TEST_POSTGRES_URL at one)"
                );
            }
            if std::env::var("MCPGATE_SKIP_POSTGRES").as_deref() == Ok("1") {
                eprintln!(
                    "SKIPPED {test}: PostgreSQL at {admin_url} is unusable ({error}) and MCPGATE_SKIP_POSTGRES=1"
                );
                return None;
            }
            panic!(
                "{test}: PostgreSQL at {admin_url} is unusable ({error}). Start it (user `postgres`, trust \
                 auth, database `test`), point MCPGATE_TEST_POSTGRES_URL at another, or set \
                 MCPGATE_SKIP_POSTGRES=1 to skip the PostgreSQL tests locally"
            );
        }
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{name}");
        Some(PostgresSchema {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(error) = simple_query(&self.admin_url, &sql) {
            eprintln!("could not drop schema {}: {error}", self.name);
        }
    }
}

/// Run one statement over PostgreSQL's wire protocol (simple query, trust
/// authentication only): the mcpgate crate has no database client of its
/// own, and this needs none.
fn simple_query(url: &str, sql: &str) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("bad URL: {e}"))?;
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().unwrap_or(5432);
    let user = match parsed.username() {
        "" => "postgres",
        user => user,
    };
    let database = parsed.path().trim_start_matches('/');
    let address = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| e.to_string())?
        .next()
        .ok_or("no address")?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;

    let mut startup = 196_608i32.to_be_bytes().to_vec(); // protocol 3.0
    for field in ["user", user, "database", database] {
        startup.extend_from_slice(field.as_bytes());
        startup.push(0);
    }
    startup.push(0);
    write_message(&mut stream, None, &startup)?;
    read_until_ready(&mut stream)?;

    let mut query = sql.as_bytes().to_vec();
    query.push(0);
    write_message(&mut stream, Some(b'Q'), &query)?;
    let outcome = read_until_ready(&mut stream);
    let _ = write_message(&mut stream, Some(b'X'), &[]);
    outcome
}

fn write_message(stream: &mut TcpStream, kind: Option<u8>, body: &[u8]) -> Result<(), String> {
    let mut message: Vec<u8> = kind.into_iter().collect();
    message.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
    message.extend_from_slice(body);
    stream.write_all(&message).map_err(|e| e.to_string())
}

/// Read messages until ReadyForQuery; the first error the server sent, if any.
fn read_until_ready(stream: &mut TcpStream) -> Result<(), String> {
    let mut error = None;
    loop {
        // An error during startup is followed by the server hanging up.
        let lost = |e: std::io::Error, error: &mut Option<String>| {
            error
                .take()
                .unwrap_or_else(|| format!("connection lost: {e}"))
        };
        let mut head = [0u8; 5];
        stream
            .read_exact(&mut head)
            .map_err(|e| lost(e, &mut error))?;
        let length = i32::from_be_bytes(head[1..5].try_into().unwrap()) as usize;
        let mut body = vec![0u8; length.saturating_sub(4)];
        stream
            .read_exact(&mut body)
            .map_err(|e| lost(e, &mut error))?;
        match head[0] {
            b'R' if body[..4] != [0, 0, 0, 0] => {
                return Err(
                    "the server asks for a password; only trust authentication is supported here"
                        .into(),
                );
            }
            b'E' => {
                // Fields: a type byte and a NUL-terminated string; `M` is the message.
                let message = body
                    .split(|b| *b == 0)
                    .find_map(|field| field.strip_prefix(b"M"))
                    .map(|m| String::from_utf8_lossy(m).into_owned())
                    .unwrap_or_else(|| "unknown error".to_owned());
                error.get_or_insert(message);
            }
            b'Z' => break,
            _ => {}
        }
    }
    error.map_or(Ok(()), Err)
}
