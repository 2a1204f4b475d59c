//! `tests/e2e/idp.mjs` — a real OpenID Connect provider (npm `oidc-provider`)
//! — as a child process for end-to-end tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

use serde_json::Value;

use super::raw_http::Http;
use super::repo_root;

/// What the IdP issues tokens for.
#[derive(Debug, Default, Clone)]
pub struct IdpOptions<'a> {
    /// Resource indicators (= audiences) of JWT access tokens.
    pub resources: &'a [&'a str],
    /// Resource indicators of opaque (introspected) access tokens.
    pub opaque_resources: &'a [&'a str],
    /// Signing algorithms; the IdP's default (RS256, ES256) when empty.
    pub algorithms: &'a [&'a str],
    /// A relying party users sign in for: `(client_id, redirect_uri)`.
    pub relying_party: Option<(&'a str, &'a str)>,
}

/// What to ask the token endpoint for, beyond scope and resource.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokenOptions<'a> {
    /// The JWS algorithm of a JWT; the IdP's first when `None`. Opaque
    /// tokens are not signed, so leave it out for them.
    pub alg: Option<&'a str>,
    /// The lifetime in seconds (1–300); 300 when `None`.
    pub ttl: Option<u32>,
}

/// The running IdP, killed on drop (and on our exit, through its stdin).
pub struct Idp {
    child: Child,
    /// The JSON line it printed when ready: issuer, endpoints, clients.
    pub info: Value,
    // Kept open so the IdP never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Idp {
    /// Start it and wait until it is ready.
    pub fn start(options: IdpOptions<'_>) -> Self {
        let e2e = repo_root().join("tests/e2e");
        assert!(
            e2e.join("node_modules/oidc-provider").is_dir(),
            "tests/e2e/node_modules/oidc-provider is missing: run scripts/install-test-deps.sh first"
        );
        let mut command = Command::new("node");
        command.arg(e2e.join("idp.mjs")).args(["--port", "0"]);
        for resource in options.resources {
            command.args(["--resource", resource]);
        }
        for resource in options.opaque_resources {
            command.args(["--opaque-resource", resource]);
        }
        for algorithm in options.algorithms {
            command.args(["--alg", algorithm]);
        }
        if let Some((client_id, redirect_uri)) = options.relying_party {
            command.args(["--rp-client", client_id, "--rp-redirect", redirect_uri]);
        }
        let mut child = command
            .arg("--watch-stdin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start node tests/e2e/idp.mjs");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("cannot read the IdP");
        let info: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the IdP printed no JSON ({e}): {line:?}"));
        Idp {
            child,
            info,
            _stdout: stdout,
        }
    }

    /// Its issuer identifier.
    pub fn issuer(&self) -> &str {
        self.info["issuer"].as_str().unwrap()
    }

    /// `(client_id, client_secret)` of one of its clients (`service`,
    /// `gateway`).
    pub fn client(&self, name: &str) -> (String, String) {
        let client = &self.info["clients"][name];
        (
            client["client_id"].as_str().unwrap().to_owned(),
            client["client_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// A JWT access token from the token endpoint (client_credentials, as
    /// client `service`) for `resource`, signed with `alg`.
    pub fn token(&self, http: &Http, scope: &str, resource: &str, alg: &str) -> String {
        self.token_with(
            http,
            scope,
            resource,
            TokenOptions {
                alg: Some(alg),
                ttl: None,
            },
        )
    }

    /// A 300 s opaque access token of client `service` for `resource`, one
    /// of [`IdpOptions::opaque_resources`].
    pub fn opaque_token(&self, http: &Http, scope: &str, resource: &str) -> String {
        self.token_with(http, scope, resource, TokenOptions::default())
    }

    /// An access token from the token endpoint (client_credentials, as
    /// client `service`) for `resource`: a JWT or opaque, as the IdP was
    /// told for that resource.
    ///
    /// ```ignore
    /// // Expires a second from now.
    /// let short = idp.token_with(&http, "inventory:read", &url, TokenOptions {
    ///     ttl: Some(1),
    ///     ..TokenOptions::default()
    /// });
    /// ```
    pub fn token_with(
        &self,
        http: &Http,
        scope: &str,
        resource: &str,
        options: TokenOptions<'_>,
    ) -> String {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", "client_credentials")
            .append_pair("scope", scope)
            .append_pair("resource", resource);
        if let Some(alg) = options.alg {
            form.append_pair("alg", alg);
        }
        if let Some(ttl) = options.ttl {
            form.append_pair("ttl", &ttl.to_string());
        }
        let (status, body) = self.post_form(http, "token_endpoint", "service", form.finish());
        assert_eq!(status, 200, "token endpoint: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Revoke `token` (RFC 7009) as its owner, client `service`.
    pub fn revoke(&self, http: &Http, token: &str) {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        let (status, body) = self.post_form(http, "revocation_endpoint", "service", form);
        assert_eq!(status, 200, "revocation endpoint: {body}");
    }

    /// What the IdP tells client `gateway` about `token` (RFC 7662): the
    /// same answer mcpgate gets when it introspects.
    pub fn introspect(&self, http: &Http, token: &str) -> Value {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .finish();
        let (status, body) = self.post_form(http, "introspection_endpoint", "gateway", form);
        assert_eq!(status, 200, "introspection endpoint: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// `POST {admin}/{action}`.
    pub fn admin(&self, http: &Http, action: &str) -> Value {
        let url = format!("{}/{action}", self.info["admin"].as_str().unwrap());
        let body = http.runtime.block_on(async {
            let response = http.client.post(&url).send().await.unwrap();
            assert!(response.status().is_success(), "{url}: {response:?}");
            response.text().await.unwrap()
        });
        serde_json::from_str(&body).unwrap()
    }

    /// POST `form` to the endpoint named `endpoint` in the ready line, as
    /// `client` with client_secret_basic: (status, body).
    fn post_form(&self, http: &Http, endpoint: &str, client: &str, form: String) -> (u16, String) {
        let url = self.info[endpoint]
            .as_str()
            .unwrap_or_else(|| panic!("the IdP has no {endpoint}: {:#}", self.info));
        let (client_id, client_secret) = self.client(client);
        http.runtime.block_on(async {
            let response = http
                .client
                .post(url)
                .basic_auth(client_id, Some(client_secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap_or_else(|e| panic!("cannot reach {url}: {e}"));
            (
                response.status().as_u16(),
                response.text().await.unwrap_or_default(),
            )
        })
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
