//! The embedded OAuth 2.1 authorization server, end to end, with a real
//! identity provider and real clients.
//!
//! mcpgate is both the resource server and the authorization server; users
//! sign in at `tests/e2e/idp.mjs` (npm `oidc-provider`), whose accounts are
//! `alice` (group `inventory-writers`, which `[authz]` maps to the role that
//! grants `echo:call`) and `bob` (no such group). The official Python SDK's
//! `OAuthClientProvider` walks the whole flow headlessly (`client.py
//! --oauth-login`), and `tests/e2e/browser.py` walks single authorization
//! requests for the black-box attacks: PKCE, redirect URIs, replayed codes,
//! reused refresh tokens, tokens for other resources, forged tokens, client
//! metadata documents that lie or point into the private network.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::idp::{Idp, IdpOptions};
use common::raw_http::{Http, Req, call_tool, list_tools, reply_tool_names};
use common::{Gateway, free_port, repo_root, run_python_client, write_config};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Where the test client's codes go (nothing listens: they are read from
/// the redirect).
const REDIRECT: &str = "http://127.0.0.1:9/cb";

/// A gateway with the embedded authorization server, and its IdP.
struct Setup {
    gateway: Gateway,
    idp: Idp,
    http: Http,
    /// A client that follows no redirects, for the authorization server.
    raw: reqwest::Client,
    issuer: String,
    url: String,
    signing_seed: String,
    /// The retired key, still published (listed second).
    old_seed: String,
    service_secret: String,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

impl Setup {
    fn start(extra: &str) -> Setup {
        Setup::start_with(extra, &[])
    }

    /// With `files` (name, content) written next to the config.
    fn start_with(extra: &str, files: &[(&str, &str)]) -> Setup {
        Setup::start_custom(
            extra,
            files,
            r#"["profile", "email", "groups", "offline_access"]"#,
        )
    }

    /// With the scopes mcpgate asks the IdP for.
    fn start_custom(extra: &str, files: &[(&str, &str)], upstream_scopes: &str) -> Setup {
        let port = free_port();
        let issuer = format!("http://127.0.0.1:{port}");
        let idp = Idp::start(IdpOptions {
            relying_party: Some(("mcpgate", &format!("{issuer}/oauth/callback"))),
            ..IdpOptions::default()
        });
        let rp_secret = idp.info["rp"]["client_secret"].as_str().unwrap().to_owned();
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let toml = format!(
            r#"
[server]
listen = "127.0.0.1:{port}"

[backends.echo]
kind = "echo"

[authz]
read_only = false

[authz.roles.writers]
scopes = ["echo:call"]
groups = ["inventory-writers"]

[[authz.tools]]
scopes = ["echo:call"]

[oauth_server]
signing_keys = ["env:TEST_OAUTH_KEY", "env:TEST_OAUTH_OLD_KEY"]
secret = "env:TEST_OAUTH_SECRET"
refresh_grace = "1s"
metadata_document_private_hosts = ["localhost"]
{extra}

[oauth_server.upstream]
issuer = "{idp_issuer}"
client_id = "mcpgate"
client_secret = "env:TEST_UPSTREAM_SECRET"
scopes = {upstream_scopes}
groups_claim = "groups"

[[oauth_server.clients]]
client_id = "reporting"
client_secret = "env:TEST_SERVICE_SECRET"
grant_types = ["client_credentials"]
scopes = ["echo:call"]
"#,
            idp_issuer = idp.issuer(),
        );
        let config = write_config(dir.path(), &toml);
        let signing_seed = STANDARD.encode(rand_bytes());
        let old_seed = STANDARD.encode(rand_bytes());
        let service_secret = URL_SAFE_NO_PAD.encode(rand_bytes());
        let sealing = STANDARD.encode(rand_bytes());
        let gateway = Gateway::spawn(
            &config,
            &[
                ("TEST_OAUTH_KEY", &signing_seed),
                ("TEST_OAUTH_OLD_KEY", &old_seed),
                ("TEST_OAUTH_SECRET", &sealing),
                ("TEST_UPSTREAM_SECRET", &rp_secret),
                ("TEST_SERVICE_SECRET", &service_secret),
            ],
        );
        let url = gateway.mcp_url();
        Setup {
            gateway,
            idp,
            http: Http::new(),
            raw: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(15))
                .build()
                .unwrap(),
            issuer,
            url,
            signing_seed,
            old_seed,
            service_secret,
            _dir: dir,
            config,
        }
    }

    /// `GET url` without following redirects: (status, Location, headers, body).
    fn get(&self, url: &str, origin: Option<&str>) -> RawReply {
        self.http.runtime.block_on(async {
            let mut request = self.raw.get(url);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            RawReply::read(request.send().await.unwrap()).await
        })
    }

    /// POST a form to the authorization server's `path`.
    fn post_form(
        &self,
        path: &str,
        pairs: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> RawReply {
        let url = format!("{}{path}", self.issuer);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.http.runtime.block_on(async {
            let mut request = self
                .raw
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body);
            if let Some((id, secret)) = basic {
                request = request.basic_auth(id, Some(secret));
            }
            RawReply::read(request.send().await.unwrap()).await
        })
    }

    /// Register a public client for [`REDIRECT`] (RFC 7591).
    fn register(&self) -> String {
        let reply = self.http.runtime.block_on(async {
            RawReply::read(
                self.raw
                    .post(format!("{}/oauth/register", self.issuer))
                    .json(&json!({
                        "redirect_uris": [REDIRECT],
                        "grant_types": ["authorization_code", "refresh_token"],
                        "client_name": "attack test",
                    }))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        });
        assert_eq!(reply.status, 201, "{reply:?}");
        reply.json()["client_id"].as_str().unwrap().to_owned()
    }

    fn authorize_url(&self, client_id: &str, extra: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&format!("{}/oauth/authorize", self.issuer)).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .extend_pairs(extra);
        url.into()
    }

    /// A complete authorization as `user`, through the IdP and the consent
    /// page: the code, for `challenge`.
    fn code(&self, client_id: &str, user: &str, challenge: &str) -> String {
        let url = self.authorize_url(
            client_id,
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("state", "s-123"),
                ("scope", "echo:call"),
                ("resource", &self.url),
            ],
        );
        let walk = browse(&url, user, "approve");
        assert_eq!(walk["state"], "s-123", "{walk:#}");
        assert_eq!(walk["iss"], self.issuer.as_str(), "RFC 9207 iss: {walk:#}");
        walk["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no code: {walk:#}"))
            .to_owned()
    }

    /// Redeem `code`: (status, body).
    fn redeem(&self, client_id: &str, code: &str, verifier: &str) -> RawReply {
        self.post_form(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("client_id", client_id),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
            None,
        )
    }

    fn refresh(&self, client_id: &str, token: &str) -> RawReply {
        self.post_form(
            "/oauth/token",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", token),
            ],
            None,
        )
    }

    /// The status of `tools/list` with `token`.
    fn list_status(&self, token: &str) -> u16 {
        self.http.send(&list_tools(&self.url).bearer(token)).status
    }
}

#[derive(Debug)]
struct RawReply {
    status: u16,
    location: Option<String>,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl RawReply {
    async fn read(response: reqwest::Response) -> RawReply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let location = headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        RawReply {
            status,
            location,
            headers,
            body: response.text().await.unwrap_or_default(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    /// The query parameters of the redirect, which must go to [`REDIRECT`].
    fn redirect_params(&self) -> std::collections::HashMap<String, String> {
        assert_eq!(self.status, 302, "{self:?}");
        let location = self.location.as_deref().unwrap();
        assert!(location.starts_with(REDIRECT), "{self:?}");
        url::Url::parse(location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }
}

/// The audit records of `method` (`oauth/token`, …), as JSON text each.
fn audited(setup: &Setup, method: &str) -> Vec<String> {
    common::audit_export(&setup.config)
        .iter()
        .map(|line| &line["record"])
        .filter(|record| record["method"] == method)
        .map(Value::to_string)
        .collect()
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(16) {
        chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    bytes
}

fn pkce_pair() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Walk `url` with `tests/e2e/browser.py` as `user`.
fn browse(url: &str, user: &str, decision: &str) -> Value {
    let e2e = repo_root().join("tests/e2e");
    let output = Command::new(e2e.join(".venv/bin/python"))
        .arg(e2e.join("browser.py"))
        .args([
            "--login",
            user,
            "--redirect-uri",
            REDIRECT,
            "--decision",
            decision,
            url,
        ])
        .output()
        .expect("cannot run tests/e2e/browser.py (run scripts/install-test-deps.sh)");
    assert!(
        output.status.success(),
        "browser.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

// ---------------------------------------------------------------------------
// 1. Real clients
// ---------------------------------------------------------------------------

#[test]
fn the_python_sdk_signs_in_calls_and_refreshes_and_service_clients_use_client_credentials() {
    let setup = Setup::start("");
    let out = run_python_client([
        "--timeout",
        "20",
        "--url",
        &setup.url,
        "--oauth-login",
        "alice",
        "--call",
        r#"echo={"hello":"world"}"#,
        "--oauth-refresh-check",
    ]);
    assert_eq!(out["tools"][0]["name"], "echo", "{out:#}");
    assert_eq!(out["calls"][0]["result"]["isError"], false, "{out:#}");
    let oauth = &out["oauth"];
    assert_eq!(oauth["iss"], setup.issuer.as_str(), "{oauth:#}");
    assert_eq!(oauth["tokens"][0], "echo:call", "{oauth:#}");
    assert!(
        oauth["client_id"].as_str().unwrap().starts_with("mcpc_"),
        "registered dynamically: {oauth:#}"
    );
    let hops: Vec<&str> = oauth["hops"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["url"].as_str())
        .collect();
    assert!(
        hops.iter().any(|h| h.ends_with("/oauth/consent")),
        "the user consented at the gateway: {hops:?}"
    );
    assert_eq!(oauth["refresh"]["ok"], true, "{oauth:#}");
    assert_eq!(oauth["refresh"]["listed"], true, "{oauth:#}");

    // bob signs in too, but holds no role granting echo:call: his token
    // carries no scope and he sees no tool.
    let bob = run_python_client([
        "--timeout",
        "20",
        "--url",
        &setup.url,
        "--oauth-login",
        "bob",
    ]);
    assert_eq!(bob["tools"], json!([]), "{bob:#}");

    // A service client with client credentials (the SDK's provider).
    let service = run_python_client([
        "--timeout",
        "20",
        "--url",
        &setup.url,
        "--oauth-client",
        &format!("reporting:{}", setup.service_secret),
        "--oauth-issuer",
        &setup.issuer,
        "--call",
        r#"echo={"from":"service"}"#,
    ]);
    assert_eq!(
        service["calls"][0]["result"]["isError"], false,
        "{service:#}"
    );

    // Audited under the users' subjects, as OAuth.
    let audit = common::audit_export(&setup.config);
    let calls: Vec<&Value> = audit
        .iter()
        .map(|line| &line["record"])
        .filter(|r| r["method"] == "tools/call")
        .collect();
    assert!(
        calls
            .iter()
            .any(|r| r["subject"] == "alice" && r["auth_method"] == "oauth"),
        "{calls:#?}"
    );
    assert!(
        calls.iter().any(|r| r["subject"] == "reporting"),
        "{calls:#?}"
    );
    let log = setup.gateway.stderr_log();
    assert!(!log.contains(&setup.service_secret), "a secret was logged");
    // The authorization server's own events are in the same chain.
    let consents = audited(&setup, "oauth/consent");
    assert!(
        consents
            .iter()
            .any(|r| r.contains(r#""subject":"alice""#) && r.contains("echo:call")),
        "{consents:#?}"
    );
    let tokens = audited(&setup, "oauth/token");
    for grant_type in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(
            tokens.iter().any(|r| r.contains(grant_type)),
            "{grant_type}: {tokens:#?}"
        );
    }
    assert!(
        !tokens
            .iter()
            .any(|r| r.contains("mcpgr_") || r.contains("eyJ")),
        "no token in the audit log: {tokens:#?}"
    );
    assert!(!audited(&setup, "oauth/register").is_empty());
    let (ok, report) = common::run_mcpgate(&[
        "audit",
        "verify",
        "--config",
        setup.config.to_str().unwrap(),
    ]);
    assert!(ok, "{report}");
}

// ---------------------------------------------------------------------------
// 2. The identity provider disables a user
// ---------------------------------------------------------------------------

#[test]
fn a_user_disabled_at_the_identity_provider_loses_access_at_the_next_refresh() {
    let setup = Setup::start("");
    let client = setup.register();
    let (verifier, challenge) = pkce_pair();
    let code = setup.code(&client, "alice", &challenge);
    let reply = setup.redeem(&client, &code, &verifier);
    assert_eq!(reply.status, 200, "{reply:?}");
    let tokens = reply.json();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(setup.list_status(access), 200);

    // An MCP session opened with this token...
    let reply = setup.http.send(
        &Req::post(
            &setup.url,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "refresh-test", "version": "1"}}}),
        )
        .bearer(access),
    );
    let session = reply.session.clone().unwrap_or_else(|| panic!("{reply:?}"));
    let in_session = |body: Value, token: &str| {
        Req::post(&setup.url, body)
            .header("mcp-session-id", &session)
            .header("mcp-protocol-version", "2025-06-18")
            .bearer(token)
    };
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    assert_eq!(
        setup.http.send(&in_session(initialized, access)).status,
        202
    );

    // Still vouched for: refreshing works (and rotates).
    let reply = setup.refresh(&client, refresh);
    assert_eq!(reply.status, 200, "{reply:?}");
    let next = reply.json();
    let access = next["access_token"].as_str().unwrap().to_owned();
    let refresh = next["refresh_token"].as_str().unwrap().to_owned();
    // ...goes on with the refreshed token: same grant, same credential.
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let reply = setup.http.send(&in_session(list, &access));
    assert_eq!(reply_tool_names(&reply), ["echo"], "{reply:?}");

    setup.idp.admin(&setup.http, "disable-account?sub=alice");
    let reply = setup.refresh(&client, &refresh);
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json()["error"], "invalid_grant", "{reply:?}");
    // The grant is revoked: the access token stops working now, not at its
    // expiry.
    assert_eq!(setup.list_status(&access), 401);
    let refusals = audited(&setup, "oauth/token");
    assert!(
        refusals
            .iter()
            .any(|r| r.contains("identity provider refused") && r.contains("alice")),
        "{refusals:#?}"
    );
}

#[test]
fn without_the_identity_providers_refresh_token_users_sign_in_again() {
    // No offline_access: the IdP gives mcpgate no refresh token, so a
    // disabled user could not be noticed at a refresh; the client gets no
    // refresh token either, and signs the user in again after an hour.
    let setup = Setup::start_custom("", &[], r#"["profile", "email", "groups"]"#);
    let client = setup.register();
    let (verifier, challenge) = pkce_pair();
    let code = setup.code(&client, "alice", &challenge);
    let tokens = setup.redeem(&client, &code, &verifier).json();
    assert_eq!(
        setup.list_status(tokens["access_token"].as_str().unwrap()),
        200
    );
    assert_eq!(tokens.get("refresh_token"), None, "{tokens:#}");
    assert!(
        setup.gateway.stderr_log().contains("gave no refresh token"),
        "the operator is told why"
    );
}

// ---------------------------------------------------------------------------
// 3. Attacks on the authorization and token endpoints
// ---------------------------------------------------------------------------

#[test]
fn the_authorization_endpoint_refuses_what_the_spec_forbids() {
    let setup = Setup::start("");
    let client = setup.register();
    let (_, challenge) = pkce_pair();
    let good = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "st"),
        ];
        for (key, value) in extra {
            pairs.retain(|(k, _)| k != key);
            pairs.push((key, value));
        }
        pairs.retain(|(_, v)| !v.is_empty());
        setup.authorize_url(&client, &pairs)
    };

    // A good request goes to the identity provider, with no CORS headers;
    // a script on another site (it sends an Origin) is refused outright.
    let no_cors = |reply: &RawReply| {
        assert!(
            !reply
                .headers
                .keys()
                .any(|k| k.as_str().starts_with("access-control-")),
            "/authorize sent CORS headers: {reply:?}"
        );
    };
    let reply = setup.get(&good(&[]), None);
    assert_eq!(reply.status, 302, "{reply:?}");
    assert!(
        reply
            .location
            .as_deref()
            .unwrap()
            .starts_with(setup.idp.issuer()),
        "{reply:?}"
    );
    no_cors(&reply);
    let reply = setup.get(&good(&[]), Some("https://evil.example"));
    assert_eq!(reply.status, 403, "{reply:?}");
    no_cors(&reply);

    // PKCE is required, and only S256.
    let params = setup
        .get(&good(&[("code_challenge", "")]), None)
        .redirect_params();
    assert_eq!(params["error"], "invalid_request", "{params:?}");
    assert_eq!(params["state"], "st");
    assert_eq!(params["iss"], setup.issuer);
    let params = setup
        .get(&good(&[("code_challenge_method", "plain")]), None)
        .redirect_params();
    assert_eq!(params["error"], "invalid_request", "{params:?}");
    let params = setup
        .get(&good(&[("code_challenge_method", "")]), None)
        .redirect_params();
    assert_eq!(params["error"], "invalid_request", "{params:?}");

    // The implicit grant is gone.
    let params = setup
        .get(&good(&[("response_type", "token")]), None)
        .redirect_params();
    assert_eq!(params["error"], "unsupported_response_type", "{params:?}");

    // Tokens only for this resource.
    let params = setup
        .get(&good(&[("resource", "https://other.example/mcp")]), None)
        .redirect_params();
    assert_eq!(params["error"], "invalid_target", "{params:?}");

    // Redirect URIs must match exactly; a mismatch is shown, never followed.
    for bad in [
        format!("{REDIRECT}/"),
        format!("{REDIRECT}?extra=1"),
        "http://127.0.0.1:9/cb2".to_owned(),
        "https://evil.example/cb".to_owned(),
    ] {
        let reply = setup.get(&good(&[("redirect_uri", &bad)]), None);
        assert_eq!(reply.status, 400, "{bad}: {reply:?}");
        assert_eq!(reply.location, None, "{bad} was redirected to: {reply:?}");
        assert!(reply.body.contains("not registered"), "{reply:?}");
        let csp = reply.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
    // An unknown client is shown, not redirected.
    let reply = setup.get(
        &setup.authorize_url("mcpc_nobody", &[("redirect_uri", REDIRECT)]),
        None,
    );
    assert_eq!(
        (reply.status, reply.location.as_deref()),
        (400, None),
        "{reply:?}"
    );

    // A parameter given twice is refused.
    let twice = format!("{}&state=again", good(&[]));
    let reply = setup.get(&twice, None);
    assert_eq!(
        (reply.status, reply.location.as_deref()),
        (400, None),
        "{reply:?}"
    );

    // The user denies at the consent page: access_denied back to the client.
    let walk = browse(&good(&[]), "alice", "deny");
    assert_eq!(walk["error"], "access_denied", "{walk:#}");
    assert_eq!(walk["code"], Value::Null, "{walk:#}");
    let consents = audited(&setup, "oauth/consent");
    assert!(
        consents
            .iter()
            .any(|r| r.contains("the user denied access") && r.contains("alice")),
        "{consents:#?}"
    );
}

#[test]
fn codes_and_refresh_tokens_are_single_use_and_misuse_revokes_the_grant() {
    let setup = Setup::start("");
    let client = setup.register();

    // A wrong verifier is refused (and the code is spent).
    let (verifier, challenge) = pkce_pair();
    let code = setup.code(&client, "alice", &challenge);
    let (other_verifier, _) = pkce_pair();
    let reply = setup.redeem(&client, &code, &other_verifier);
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json()["error"], "invalid_grant");
    let reply = setup.redeem(&client, &code, &verifier);
    assert_eq!(reply.json()["error"], "invalid_grant", "{reply:?}");

    // A replayed code: refused, and the tokens of its first use revoked.
    let (verifier, challenge) = pkce_pair();
    let code = setup.code(&client, "alice", &challenge);
    let reply = setup.redeem(&client, &code, &verifier);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.headers["cache-control"], "no-store",
        "token answers are not cached"
    );
    let first = reply.json();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(setup.list_status(access), 200);
    let reply = setup.redeem(&client, &code, &verifier);
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.json()["error"], "invalid_grant");
    assert_eq!(
        setup.list_status(access),
        401,
        "the replay revoked the grant"
    );
    let reply = setup.refresh(&client, first["refresh_token"].as_str().unwrap());
    assert_eq!(reply.json()["error"], "invalid_grant", "{reply:?}");

    // Refresh tokens rotate; an old one presented after the grace window
    // revokes the whole grant, including the newest tokens.
    let (verifier, challenge) = pkce_pair();
    let code = setup.code(&client, "alice", &challenge);
    let tokens = setup.redeem(&client, &code, &verifier).json();
    let old_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let rotated = setup.refresh(&client, &old_refresh).json();
    let new_refresh = rotated["refresh_token"].as_str().unwrap().to_owned();
    let new_access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_ne!(new_refresh, old_refresh);
    assert_eq!(setup.list_status(&new_access), 200);
    std::thread::sleep(Duration::from_millis(1_500));
    let reply = setup.refresh(&client, &old_refresh);
    assert_eq!(reply.json()["error"], "invalid_grant", "{reply:?}");
    assert_eq!(setup.list_status(&new_access), 401);
    let reply = setup.refresh(&client, &new_refresh);
    assert_eq!(reply.json()["error"], "invalid_grant", "{reply:?}");
    let refusals = audited(&setup, "oauth/token");
    for why in ["authorization code replayed", "refresh token reused"] {
        assert!(
            refusals
                .iter()
                .any(|r| r.contains(why) && r.contains("alice")),
            "{why}: {refusals:#?}"
        );
    }

    // Grants OAuth 2.1 removed are refused.
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
    ] {
        let reply = setup.post_form(
            "/oauth/token",
            &[
                ("grant_type", grant),
                ("client_id", &client),
                ("username", "alice"),
                ("password", "pw"),
            ],
            None,
        );
        assert_eq!(reply.status, 400, "{grant}: {reply:?}");
        assert_eq!(reply.json()["error"], "unsupported_grant_type", "{reply:?}");
    }

    // A public client cannot use client credentials; a confidential one
    // with a wrong secret is refused with a Basic challenge.
    let reply = setup.post_form(
        "/oauth/token",
        &[("grant_type", "client_credentials"), ("client_id", &client)],
        None,
    );
    assert_eq!(reply.json()["error"], "unauthorized_client", "{reply:?}");
    let reply = setup.post_form(
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some(("reporting", "wrong")),
    );
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(reply.headers.contains_key("www-authenticate"), "{reply:?}");
    let reply = setup.post_form(
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "echo:call admin"),
        ],
        Some(("reporting", &setup.service_secret)),
    );
    assert_eq!(reply.json()["error"], "invalid_scope", "{reply:?}");
    let reply = setup.post_form(
        "/oauth/token",
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://other.example/mcp"),
        ],
        Some(("reporting", &setup.service_secret)),
    );
    assert_eq!(reply.json()["error"], "invalid_target", "{reply:?}");

    // Revocation (RFC 7009) ends the grant; introspection says so.
    let reply = setup.post_form(
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some(("reporting", &setup.service_secret)),
    );
    let service_token = reply.json()["access_token"].as_str().unwrap().to_owned();
    let introspect = |token: &str| {
        setup
            .post_form(
                "/oauth/introspect",
                &[("token", token)],
                Some(("reporting", &setup.service_secret)),
            )
            .json()
    };
    assert_eq!(introspect(&service_token)["active"], true);
    assert_eq!(introspect(&service_token)["scope"], "echo:call");
    let reply = setup.post_form(
        "/oauth/revoke",
        &[("token", &service_token)],
        Some(("reporting", &setup.service_secret)),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(introspect(&service_token)["active"], false);
    assert_eq!(setup.list_status(&service_token), 401);
}

#[test]
fn the_resource_server_refuses_tokens_for_other_resources_and_forgeries() {
    let setup = Setup::start("");
    let reply = setup.post_form(
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some(("reporting", &setup.service_secret)),
    );
    let good = reply.json()["access_token"].as_str().unwrap().to_owned();
    let reply = setup
        .http
        .send(&call_tool(&setup.url, "echo", json!({"a": 1})).bearer(&good));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply_tool_names(&setup.http.send(&list_tools(&setup.url).bearer(&good))),
        ["echo"]
    );

    // Tokens signed with the gateway's own key but wrong in one way each.
    let seed = STANDARD.decode(&setup.signing_seed).unwrap();
    let pkcs8 = ed25519_pkcs8(&seed);
    let key = jsonwebtoken::EncodingKey::from_ed_der(&pkcs8);
    let kid = {
        let jwks: Value = setup
            .get(&format!("{}/oauth/jwks", setup.issuer), None)
            .json();
        jwks["keys"][0]["kid"].as_str().unwrap().to_owned()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |aud: &str, exp: u64| {
        json!({
            "iss": setup.issuer, "sub": "alice", "aud": aud, "exp": exp, "iat": now,
            "jti": "at_test", "client_id": "reporting", "scope": "echo:call", "gid": "grant_forged",
        })
    };
    let sign = |claims: &Value, typ: Option<&str>| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.kid = Some(kid.clone());
        header.typ = typ.map(str::to_owned);
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    };
    // The control: correctly formed, it is accepted — so the refusals
    // below are about the one thing each changes.
    assert_eq!(
        setup.list_status(&sign(&claims(&setup.url, now + 300), Some("at+jwt"))),
        200
    );
    let other_resource = sign(
        &claims("https://other.example/mcp", now + 300),
        Some("at+jwt"),
    );
    assert_eq!(
        setup.list_status(&other_resource),
        401,
        "token for another resource"
    );
    let expired = sign(&claims(&setup.url, now - 120), Some("at+jwt"));
    assert_eq!(setup.list_status(&expired), 401, "expired");
    let not_access_token = sign(&claims(&setup.url, now + 300), Some("JWT"));
    assert_eq!(
        setup.list_status(&not_access_token),
        401,
        "typ is not at+jwt"
    );
    // alg:none, with the payload of a good token.
    let payload = URL_SAFE_NO_PAD.encode(claims(&setup.url, now + 300).to_string());
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#);
    assert_eq!(
        setup.list_status(&format!("{header}.{payload}.")),
        401,
        "alg none"
    );
    // HS256 keyed with the public key (key confusion).
    let jwks: Value = setup
        .get(&format!("{}/oauth/jwks", setup.issuer), None)
        .json();
    let public = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(kid.clone());
    hs.typ = Some("at+jwt".into());
    let confused = jsonwebtoken::encode(
        &hs,
        &claims(&setup.url, now + 300),
        &jsonwebtoken::EncodingKey::from_secret(&public),
    )
    .unwrap();
    assert_eq!(
        setup.list_status(&confused),
        401,
        "HS256 with the public key"
    );
    // A signature from another key.
    let stranger = jsonwebtoken::EncodingKey::from_ed_der(&ed25519_pkcs8(&rand_bytes()));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid);
    header.typ = Some("at+jwt".into());
    let foreign = jsonwebtoken::encode(&header, &claims(&setup.url, now + 300), &stranger).unwrap();
    assert_eq!(setup.list_status(&foreign), 401, "signed by another key");

    // Rotation: the retired key (listed second) is published and its
    // tokens are still accepted; new tokens are signed with the first.
    let jwks: Value = setup
        .get(&format!("{}/oauth/jwks", setup.issuer), None)
        .json();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2, "{jwks:#}");
    let old_kid = jwks["keys"][1]["kid"].as_str().unwrap().to_owned();
    let old_key = jsonwebtoken::EncodingKey::from_ed_der(&ed25519_pkcs8(
        &STANDARD.decode(&setup.old_seed).unwrap(),
    ));
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(old_kid.clone());
    header.typ = Some("at+jwt".into());
    let by_old_key =
        jsonwebtoken::encode(&header, &claims(&setup.url, now + 300), &old_key).unwrap();
    assert_eq!(
        setup.list_status(&by_old_key),
        200,
        "a token of the retired key"
    );
    let issued = jsonwebtoken::decode_header(&good).unwrap();
    assert_eq!(issued.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
    assert_ne!(issued.kid.as_deref(), Some(old_kid.as_str()));
}

/// PKCS#8 v1 DER of an Ed25519 key from its seed (RFC 8410).
fn ed25519_pkcs8(seed: &[u8]) -> Vec<u8> {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(seed);
    der
}

// ---------------------------------------------------------------------------
// 4. Client ID Metadata Documents
// ---------------------------------------------------------------------------

/// Serves JSON documents (path → document, made knowing the port) over
/// HTTP on 127.0.0.1 until the test ends.
struct DocumentServer {
    addr: SocketAddr,
}

impl DocumentServer {
    fn start(documents: impl FnOnce(u16) -> Vec<(&'static str, Value)>) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let documents = documents(addr.port());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut router = axum::Router::new();
                for (path, document) in documents {
                    router = router.route(
                        path,
                        axum::routing::get(move || {
                            let document = document.clone();
                            async move { axum::Json(document) }
                        }),
                    );
                }
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                axum::serve(listener, router).await.unwrap();
            });
        });
        DocumentServer { addr }
    }
}

#[test]
fn client_metadata_documents_must_name_themselves_and_stay_off_private_addresses() {
    let setup = Setup::start("");
    // `localhost` is allowed in the config, as a company would allow its
    // own internal host; 127.0.0.1 and link-local addresses are not.
    let server = DocumentServer::start(|port| {
        vec![
            (
                "/good.json",
                json!({"client_id": format!("http://localhost:{port}/good.json"),
                       "client_name": "Doc Client", "redirect_uris": [REDIRECT]}),
            ),
            (
                "/liar.json",
                json!({"client_id": "http://localhost/someone-else.json", "redirect_uris": [REDIRECT]}),
            ),
            (
                "/secret.json",
                json!({"client_id": format!("http://localhost:{port}/secret.json"),
                       "redirect_uris": [REDIRECT], "client_secret": "x",
                       "token_endpoint_auth_method": "client_secret_basic"}),
            ),
        ]
    });
    let port = server.addr.port();
    let (verifier, challenge) = pkce_pair();
    let request = |client_id: &str| {
        setup.authorize_url(
            client_id,
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("scope", "echo:call"),
            ],
        )
    };

    // A document naming itself: the whole flow works with the URL as id.
    let good_id = format!("http://localhost:{port}/good.json");
    let walk = browse(&request(&good_id), "alice", "approve");
    let code = walk["code"].as_str().unwrap_or_else(|| panic!("{walk:#}"));
    let reply = setup.redeem(&good_id, code, &verifier);
    assert_eq!(reply.status, 200, "{reply:?}");
    let token = reply.json()["access_token"].as_str().unwrap().to_owned();
    assert_eq!(setup.list_status(&token), 200);

    // Lies and leaks are refused without a redirect.
    for (id, why) in [
        (
            format!("http://localhost:{port}/liar.json"),
            "not its own URL",
        ),
        (
            format!("http://localhost:{port}/secret.json"),
            "client secret",
        ),
        (
            format!("https://127.0.0.1:{port}/good.json"),
            "not a public address",
        ),
        (
            "https://169.254.169.254/latest/meta-data/client.json".to_owned(),
            "not a public address",
        ),
        (format!("http://127.0.0.1:{port}/good.json"), "https"),
    ] {
        let reply = setup.get(&request(&id), None);
        assert_eq!(reply.status, 400, "{id}: {reply:?}");
        assert_eq!(reply.location, None, "{id}: {reply:?}");
        assert!(
            reply.body.contains(why),
            "{id}: expected {why:?} in {}",
            reply.body
        );
    }
}

// ---------------------------------------------------------------------------
// 5. Discovery
// ---------------------------------------------------------------------------

#[test]
fn metadata_advertises_exactly_what_is_supported() {
    let setup = Setup::start("dynamic_registration = false");
    let metadata = setup
        .get(
            &format!("{}/.well-known/oauth-authorization-server", setup.issuer),
            None,
        )
        .json();
    assert_eq!(metadata["issuer"], setup.issuer.as_str());
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        json!(["S256"])
    );
    assert_eq!(metadata["response_types_supported"], json!(["code"]));
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(metadata["client_id_metadata_document_supported"], true);
    assert!(
        metadata.get("registration_endpoint").is_none(),
        "{metadata:#}"
    );
    let openid = setup
        .get(
            &format!("{}/.well-known/openid-configuration", setup.issuer),
            None,
        )
        .json();
    assert_eq!(openid, metadata);
    // Registration is off: nothing registers a client.
    let reply = setup.http.runtime.block_on(async {
        RawReply::read(
            setup
                .raw
                .post(format!("{}/oauth/register", setup.issuer))
                .json(&json!({"redirect_uris": [REDIRECT]}))
                .send()
                .await
                .unwrap(),
        )
        .await
    });
    assert!(
        !(200..300).contains(&reply.status) && !reply.body.contains("client_id"),
        "{reply:?}"
    );
    // The resource names this issuer.
    let prm = setup.get(&setup.gateway.metadata_url(), None).json();
    assert_eq!(
        prm["authorization_servers"],
        json!([setup.issuer]),
        "{prm:#}"
    );
    // A request without a token is challenged toward it.
    let reply = setup.http.send(&list_tools(&setup.url));
    assert_eq!(reply.status, 401);
    assert!(
        reply
            .www_authenticate
            .as_deref()
            .unwrap()
            .contains("resource_metadata="),
        "{reply:?}"
    );
}

// ---------------------------------------------------------------------------
// 6. The operator's commands
// ---------------------------------------------------------------------------

#[test]
fn operators_list_and_revoke_grants_and_clients_from_the_command_line() {
    let setup = Setup::start("");
    let config = setup.config.to_str().unwrap();
    let client = setup.register();
    let (verifier, challenge) = pkce_pair();
    let code = setup.code(&client, "alice", &challenge);
    let tokens = setup.redeem(&client, &code, &verifier).json();
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(setup.list_status(&access), 200);

    let (ok, out) = common::run_mcpgate(&["tokens", "list", "--json", "-c", config]);
    assert!(ok, "{out}");
    let grants: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(grants[0]["subject"], "alice", "{grants:#}");
    assert_eq!(grants[0]["client_id"], client.as_str());
    assert_eq!(grants[0]["scopes"], json!(["echo:call"]));
    assert!(
        !out.contains(&access) && !out.contains(&refresh),
        "tokens are never shown"
    );

    // Revoked from the shell, refused by the running gateway within ~1 s.
    let (ok, out) = common::run_mcpgate(&["tokens", "revoke", "--user", "alice", "-c", config]);
    assert!(ok && out.contains("Revoked 1 grant"), "{out}");
    let refused = (0..40).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        setup.list_status(&access) == 401
    });
    assert!(
        refused,
        "the gateway still accepts the revoked grant's token"
    );
    assert_eq!(
        setup.refresh(&client, &refresh).json()["error"],
        "invalid_grant"
    );
    let (ok, out) = common::run_mcpgate(&["tokens", "list", "-c", config]);
    assert!(ok && out.contains("No grants in force"), "{out}");

    // A revoked client gets no more tokens.
    let (ok, out) = common::run_mcpgate(&["clients", "list", "-c", config]);
    assert!(
        ok && out.contains(&client) && out.contains("attack test"),
        "{out}"
    );
    let (ok, out) = common::run_mcpgate(&["clients", "revoke", &client, "-c", config]);
    assert!(ok, "{out}");
    let (_, challenge) = pkce_pair();
    let walk = browse(
        &setup.authorize_url(
            &client,
            &[
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        ),
        "alice",
        "approve",
    );
    assert!(
        walk["walk_error"]
            .as_str()
            .unwrap_or_default()
            .contains("revoked"),
        "{walk:#}"
    );
    // A configured service client can be revoked too.
    let (ok, out) = common::run_mcpgate(&["clients", "revoke", "reporting", "-c", config]);
    assert!(ok, "{out}");
    let reply = setup.post_form(
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some(("reporting", &setup.service_secret)),
    );
    assert_eq!(reply.status, 401, "{reply:?}");
}

// ---------------------------------------------------------------------------
// 7. Service clients signing their own assertions (private_key_jwt)
// ---------------------------------------------------------------------------

#[test]
fn service_clients_authenticate_with_signed_assertions_each_used_once() {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = key.public_key_raw();
    let (x, y) = (&point[1..33], &point[33..65]);
    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "signer-1", "alg": "ES256", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
    }]});
    let pem = key.serialize_pem();
    let setup = Setup::start_with(
        r#"
[[oauth_server.clients]]
client_id = "signer"
jwks = "signer.jwks.json"
grant_types = ["client_credentials"]
scopes = ["echo:call"]
"#,
        &[
            ("signer.jwks.json", &jwks.to_string()),
            ("signer.pem", &pem),
        ],
    );
    let pem_path = setup.config.parent().unwrap().join("signer.pem");

    // The official SDK's provider signs its assertion and gets a token.
    let out = run_python_client([
        "--timeout",
        "20",
        "--url",
        &setup.url,
        "--oauth-private-key-jwt",
        &format!("signer:{}", pem_path.display()),
        "--oauth-issuer",
        &setup.issuer,
        "--call",
        r#"echo={"signed":true}"#,
    ]);
    assert_eq!(out["calls"][0]["result"]["isError"], false, "{out:#}");
    assert_eq!(out["oauth"]["tokens"][0], "echo:call", "{out:#}");

    // Black box: the same assertion twice, the wrong audience, a stranger's key.
    let encoding = jsonwebtoken::EncodingKey::from_ec_der(&key.serialize_der());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let assertion = |aud: &str, jti: &str, exp: u64, key: &jsonwebtoken::EncodingKey| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some("signer-1".into());
        let claims = json!({"iss": "signer", "sub": "signer", "aud": aud, "exp": exp, "iat": now, "jti": jti});
        jsonwebtoken::encode(&header, &claims, key).unwrap()
    };
    let token_request = |assertion: &str| {
        setup.post_form(
            "/oauth/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "signer"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", assertion),
            ],
            None,
        )
    };
    let once = assertion(&setup.issuer, "jti-1", now + 120, &encoding);
    let reply = token_request(&once);
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = token_request(&once);
    assert_eq!(reply.status, 401, "a replayed assertion: {reply:?}");
    assert!(reply.body.contains("already used"), "{reply:?}");
    let reply = token_request(&assertion(
        &format!("{}/oauth/token", setup.issuer),
        "jti-2",
        now + 120,
        &encoding,
    ));
    assert_eq!(reply.status, 401, "audience must be the issuer: {reply:?}");
    let reply = token_request(&assertion(&setup.issuer, "jti-3", now + 3_600, &encoding));
    assert_eq!(reply.status, 401, "valid for an hour: {reply:?}");
    let stranger = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let stranger = jsonwebtoken::EncodingKey::from_ec_der(&stranger.serialize_der());
    let reply = token_request(&assertion(&setup.issuer, "jti-4", now + 120, &stranger));
    assert_eq!(reply.status, 401, "signed by another key: {reply:?}");
    // And a secret is no way in for a key-authenticated client.
    let reply = setup.post_form(
        "/oauth/token",
        &[("grant_type", "client_credentials")],
        Some(("signer", "guess")),
    );
    assert_eq!(reply.status, 401, "{reply:?}");
}

// ---------------------------------------------------------------------------
// 8. mcp-remote, which opens a browser itself
// ---------------------------------------------------------------------------

#[test]
fn mcp_remote_signs_in_through_a_browser_and_proxies_tools() {
    let setup = Setup::start("");
    let e2e = repo_root().join("tests/e2e");
    let state = tempfile::tempdir().unwrap();
    let browser_log = state.path().join("browser.log");
    let callback_port = free_port().to_string();
    // mcp-remote opens the authorization URL with the `open` package, whose
    // xdg-open runs $BROWSER when no desktop is found: our headless browser
    // signs in as alice and delivers the code to mcp-remote's callback.
    let output = Command::new(e2e.join(".venv/bin/python"))
        .arg(e2e.join("client.py"))
        .args([
            "--stdio",
            "--timeout",
            "30",
            "--call",
            r#"echo={"via":"mcp-remote"}"#,
            "--",
        ])
        .arg("node")
        .arg(e2e.join("node_modules/mcp-remote/dist/proxy.js"))
        .args([
            &setup.url,
            &callback_port,
            "--host",
            "127.0.0.1",
            "--transport",
            "http-only",
            "--auth-timeout",
            "30",
        ])
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env("XDG_CURRENT_DESKTOP", "X-Generic")
        .env("BROWSER", e2e.join("headless-browser"))
        .env("MCPGATE_E2E_LOGIN", "alice")
        .env("MCPGATE_E2E_BROWSER_LOG", &browser_log)
        .env("MCP_REMOTE_CONFIG_DIR", state.path())
        .output()
        .expect("cannot run client.py with mcp-remote (run scripts/install-test-deps.sh)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["tools"][0]["name"], "echo", "{out:#}");
    assert_eq!(out["calls"][0]["result"]["isError"], false, "{out:#}");
    let walks: Vec<Value> = std::fs::read_to_string(&browser_log)
        .unwrap_or_else(|e| panic!("the browser never ran ({e}):\n{stderr}"))
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(walks.len(), 1, "one sign-in: {walks:#?}");
    assert_eq!(walks[0]["login"], "alice");
    assert_eq!(walks[0]["iss"], setup.issuer.as_str(), "{walks:#?}");
    assert_eq!(
        walks[0]["final"]["status"], 200,
        "mcp-remote took the code: {walks:#?}"
    );
    // Audited as alice, through mcp-remote's registered client.
    let audit = common::audit_export(&setup.config);
    assert!(
        audit
            .iter()
            .any(|line| line["record"]["method"] == "tools/call"
                && line["record"]["subject"] == "alice"),
        "{audit:#?}"
    );
}
