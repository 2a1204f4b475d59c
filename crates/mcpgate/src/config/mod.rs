//! `mcpgate.toml`: reading it, and refusing it clearly when it is wrong.
//!
//! Every error names the file, the line and column, the key, and the fix.
//! Unknown keys are errors (a typo must not silently drop a security
//! setting), and secrets may only be referenced, never written inline.

mod duration;
pub mod locate;
mod oauth_server;
mod secret;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use duration::parse_duration;
pub use oauth_server::OAuthServerConfig;
pub use secret::{SecretError, SecretRef};

/// The whole config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How the gateway is exposed.
    #[serde(default)]
    pub server: ServerConfig,
    /// How callers authenticate.
    #[serde(default)]
    pub auth: AuthConfig,
    /// The APIs behind the gateway, by name.
    #[serde(default)]
    pub backends: BTreeMap<String, BackendConfig>,
    /// Who may call what: scopes, roles, read-only mode, Cedar policies and
    /// rate limits.
    #[serde(default)]
    pub authz: mcpgate_authz::AuthzConfig,
    /// Where state and the audit log live.
    #[serde(default)]
    pub store: StoreConfig,
    /// The audit log.
    #[serde(default)]
    pub audit: AuditConfig,
    /// The embedded OAuth authorization server, when mcpgate issues its own
    /// tokens to users signing in through the company identity provider.
    pub oauth_server: Option<OAuthServerConfig>,
    /// The admin console and admin API, when present.
    pub admin: Option<AdminConfig>,
}

/// `[admin]`: the admin console (`/admin`) and admin API (`/admin/api`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Where the console is served.
    #[serde(default = "default_admin_path")]
    pub path: String,
    /// Credentials (API keys, JWTs, tokens) carrying one of these roles may
    /// administer.
    #[serde(default = "default_admin_roles")]
    pub roles: Vec<String>,
    /// How long a console sign-in lasts (never longer than the credential).
    #[serde(
        default = "default_admin_session",
        deserialize_with = "duration::deserialize"
    )]
    pub session_ttl: Duration,
}

fn default_admin_path() -> String {
    "/admin".to_owned()
}
fn default_admin_roles() -> Vec<String> {
    vec!["admin".to_owned()]
}
fn default_admin_session() -> Duration {
    Duration::from_secs(8 * 3600)
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite:PATH` (relative to the config file), `postgres://…` without a
    /// password, or `env:NAME`/`file:PATH` holding either. Defaults to
    /// `sqlite:mcpgate.db` next to the config file.
    pub url: Option<StoreUrl>,
}

/// A store URL, or a reference to one that holds a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// Written in the config (no password in it).
    Plain(String),
    /// Read from the environment or a file.
    Secret(SecretRef),
}

impl<'de> Deserialize<'de> for StoreUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.starts_with("env:") || text.starts_with("file:") {
            return SecretRef::parse(&text)
                .map(StoreUrl::Secret)
                .map_err(serde::de::Error::custom);
        }
        if let Ok(url) = url::Url::parse(&text)
            && url.password().is_some()
        {
            return Err(serde::de::Error::custom(
                "this URL holds a password, and secrets may not be written into the config; \
                 put the URL in an environment variable and write `url = \"env:DATABASE_URL\"`",
            ));
        }
        if !(text.starts_with("sqlite:")
            || text.starts_with("postgres://")
            || text.starts_with("postgresql://"))
        {
            return Err(serde::de::Error::custom(
                "a store URL starts with `sqlite:` or `postgres://` (or is `env:NAME` / `file:PATH`)",
            ));
        }
        Ok(StoreUrl::Plain(text))
    }
}

/// `[audit]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Refuse calls, and withhold results, when the audit log cannot be
    /// written. Turning this off trades the guarantee for availability.
    #[serde(default = "yes")]
    pub fail_closed: bool,
    /// Ed25519 key (base64 seed from `mcpgate audit keygen`) that signs
    /// checkpoints, so that cutting records off the end is detected.
    pub signing_key: Option<SecretRef>,
    /// How often a checkpoint is signed while records arrive.
    #[serde(
        default = "default_checkpoint_interval",
        deserialize_with = "duration::deserialize"
    )]
    pub checkpoint_interval: Duration,
    /// Argument names to redact beyond the built-in list (password, token,
    /// api_key, authorization, …).
    #[serde(default)]
    pub redact_fields: Vec<String>,
    /// Also write each record as a JSON line to this file, or `stdout`.
    pub jsonl: Option<String>,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            fail_closed: true,
            signing_key: None,
            checkpoint_interval: default_checkpoint_interval(),
            redact_fields: Vec::new(),
            jsonl: None,
        }
    }
}

fn yes() -> bool {
    true
}

fn default_checkpoint_interval() -> Duration {
    Duration::from_secs(1)
}

/// `[server]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on for HTTP.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Path of the MCP endpoint.
    #[serde(default = "default_path")]
    pub path: String,
    /// The URL clients use to reach the MCP endpoint (behind a proxy it
    /// differs from `listen`). Defaults to `http://<listen><path>`.
    pub public_url: Option<url::Url>,
    /// Extra accepted `Host` values beyond the listen address and public URL.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed to call the endpoint (`https://app.example`).
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Tools per `tools/list` page.
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    /// Largest request body, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Instructions shown to MCP clients.
    pub instructions: Option<String>,
    /// Serve HTTPS instead of HTTP, with client certificates when configured.
    pub tls: Option<TlsConfig>,
}

/// `[server.tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain, leaf first (relative to the config file).
    pub cert: PathBuf,
    /// The private key (PEM) — a secret, so `env:NAME` or `file:PATH`.
    pub key: SecretRef,
    /// PEM trust anchors for client certificates; enables them.
    pub client_ca: Option<PathBuf>,
    /// `required` (default with `client_ca`) or `optional`.
    pub client_certificates: Option<ClientCertificates>,
    /// PEM revocation lists for client certificates.
    #[serde(default)]
    pub crls: Vec<PathBuf>,
}

/// Whether client certificates are demanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientCertificates {
    /// Connections without a valid certificate are refused in the handshake.
    Required,
    /// A certificate is used when sent; other credentials are still possible.
    Optional,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            path: default_path(),
            public_url: None,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            page_size: default_page_size(),
            max_body_bytes: default_max_body(),
            instructions: None,
            tls: None,
        }
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_path() -> String {
    "/mcp".to_owned()
}
fn default_page_size() -> usize {
    200
}
fn default_max_body() -> usize {
    4 * 1024 * 1024
}

/// `[auth]`: how callers authenticate. With no strategy configured the
/// gateway runs without authentication, which is allowed only over stdio or
/// on a loopback address.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// API keys issued with `mcpgate keys create`.
    pub api_keys: Option<ApiKeysConfig>,
    /// Identity providers whose JWT access tokens are accepted.
    #[serde(default)]
    pub jwt: Vec<JwtIssuerConfig>,
    /// Authorization servers whose opaque access tokens are checked by
    /// introspection (RFC 7662).
    #[serde(default)]
    pub introspection: Vec<IntrospectionServerConfig>,
    /// Client certificates verified by `[server.tls]` as credentials.
    pub mutual_tls: Option<MutualTlsConfig>,
}

/// `[auth.mutual_tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutualTlsConfig {
    /// Scopes granted to every client certificate the CA vouches for.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `[[auth.introspection]]`: one authorization server.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionServerConfig {
    /// Its issuer identifier (https, or http on loopback only).
    pub issuer: url::Url,
    /// Its introspection endpoint; discovered from its metadata when absent.
    pub endpoint: Option<url::Url>,
    /// mcpgate's client id there.
    pub client_id: String,
    /// mcpgate's client secret there.
    pub client_secret: SecretRef,
    /// The `aud` tokens must carry; defaults to the server's public URL.
    pub audience: Option<String>,
}

impl AuthConfig {
    /// Whether no authentication strategy is configured here (the
    /// embedded authorization server is one too: see [`Config::no_auth`]).
    pub fn is_none(&self) -> bool {
        self.api_keys.is_none()
            && self.jwt.is_empty()
            && self.introspection.is_empty()
            && self.mutual_tls.is_none()
    }
}

impl Config {
    /// Whether callers are not authenticated at all.
    pub fn no_auth(&self) -> bool {
        self.auth.is_none() && self.oauth_server.is_none()
    }
}

/// `[[auth.jwt]]`: one identity provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtIssuerConfig {
    /// The exact `iss` of its tokens (https, or http on loopback only).
    pub issuer: url::Url,
    /// Its JWKS document; found by discovery under the issuer when absent.
    pub jwks_uri: Option<url::Url>,
    /// Accepted signature algorithms.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// The `aud` tokens must carry; defaults to the server's public URL.
    pub audience: Option<String>,
    /// Clock leeway for `exp` and `nbf`.
    #[serde(default = "default_leeway", deserialize_with = "duration::deserialize")]
    pub leeway: Duration,
    /// Claims that carry scopes.
    #[serde(default = "default_scope_claims")]
    pub scope_claims: Vec<String>,
    /// The claim that carries groups.
    pub groups_claim: Option<String>,
    /// The claim that carries roles.
    pub roles_claim: Option<String>,
}

fn default_algorithms() -> Vec<String> {
    vec!["RS256".to_owned(), "ES256".to_owned()]
}

fn default_leeway() -> Duration {
    Duration::from_secs(30)
}

fn default_scope_claims() -> Vec<String> {
    vec!["scope".to_owned(), "scp".to_owned()]
}

/// `[auth.api_keys]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysConfig {
    /// The environment this gateway serves; keys minted for another
    /// environment (`mcpg_staging_…` at a `prod` gateway) are refused.
    pub environment: String,
    /// The server secret keys are hashed with (at least 32 bytes; e.g.
    /// `head -c 32 /dev/urandom | base64`). Every instance and the `keys`
    /// commands must use the same one.
    pub pepper: SecretRef,
}

/// `[backends.NAME]`: one REST API described by OpenAPI, an MCP server
/// (child process or URL), or the built-in echo backend.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// What serves the tools; `openapi` unless set.
    #[serde(default)]
    pub kind: BackendKind,
    /// `kind = "mcp"` over stdio: the program to start.
    pub command: Option<String>,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Environment variables for it: literal values, or `env:NAME` /
    /// `file:PATH` references for secrets. The gateway's own environment
    /// is not passed on (only PATH, HOME, USER, LANG, LC_ALL, TMPDIR, TZ).
    #[serde(default)]
    pub env: BTreeMap<String, EnvValue>,
    /// Its working directory (relative to the config file).
    pub cwd: Option<String>,
    /// `kind = "mcp"` over Streamable HTTP: the server's MCP endpoint.
    pub url: Option<url::Url>,
    /// `kind = "mcp"`: only these upstream tools are offered (`*` and `?`
    /// patterns on the upstream's names; empty means all).
    #[serde(default)]
    pub include_tools: Vec<String>,
    /// `kind = "mcp"`: these upstream tools are never offered.
    #[serde(default)]
    pub exclude_tools: Vec<String>,
    /// `kind = "mcp"`: the upstream tools known to be read-only (patterns).
    /// The upstream's own `readOnlyHint` is not trusted: every other tool
    /// is treated as one that may write.
    #[serde(default)]
    pub read_only_tools: Vec<String>,
    /// `kind = "mcp"`: what is passed on besides tools: `"resources"`,
    /// `"prompts"`. Nothing unless listed.
    #[serde(default)]
    pub forward: Vec<Forwarded>,
    /// `kind = "mcp"`: how long to wait for the server to start (and for a
    /// restart, while calls wait).
    #[serde(
        default = "default_connect_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub connect_timeout: Duration,
    /// The OpenAPI file (relative to the config file) or an http(s) URL;
    /// required for `kind = "openapi"`.
    #[serde(default)]
    pub spec: String,
    /// The API's base URL; defaults to the spec's first absolute server.
    pub base_url: Option<url::Url>,
    /// The backend's own credential.
    pub credential: Option<CredentialConfig>,
    /// Time limit for one call, e.g. `30s`.
    #[serde(
        default = "default_timeout",
        deserialize_with = "duration::deserialize"
    )]
    pub timeout: Duration,
    /// Largest accepted response body, in bytes.
    #[serde(default = "default_max_response")]
    pub max_response_bytes: usize,
    /// Put before every tool name of this backend (to avoid clashes);
    /// none by default, `NAME__` for `kind = "mcp"`.
    pub tool_prefix: Option<String>,
    /// How callers of this backend's tools must have authenticated.
    #[serde(default)]
    pub accepted_auth: AcceptedAuth,
    /// Read-only mode for this backend's tools, overriding `authz.read_only`.
    pub read_only: Option<bool>,
}

impl BackendConfig {
    /// What this backend's tool names start with in the gateway.
    pub fn tool_prefix(&self, name: &str) -> String {
        match (&self.tool_prefix, self.kind) {
            (Some(prefix), _) => prefix.clone(),
            (None, BackendKind::Mcp) => format!("{name}__"),
            (None, _) => String::new(),
        }
    }
}

/// `backends.NAME.kind`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A REST API described by its OpenAPI document (`spec`).
    #[default]
    Openapi,
    /// One tool, `echo`, answered inside the gateway with its arguments:
    /// for trying an auth setup before an API is connected, and for the
    /// load benchmark. It takes no `spec`, `base_url` or `credential`.
    Echo,
    /// An existing MCP server: a child process (`command`) or a Streamable
    /// HTTP endpoint (`url`).
    Mcp,
}

/// `backends.NAME.forward`: what of an MCP backend besides tools is passed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forwarded {
    /// `resources/*`.
    Resources,
    /// `prompts/*` (and completion of their arguments).
    Prompts,
}

/// A value of `backends.NAME.env`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvValue {
    /// Written in the config.
    Plain(String),
    /// Read from the gateway's environment or a file.
    Secret(SecretRef),
}

impl<'de> Deserialize<'de> for EnvValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.starts_with("env:") || text.starts_with("file:") {
            return SecretRef::parse(&text)
                .map(EnvValue::Secret)
                .map_err(serde::de::Error::custom);
        }
        Ok(EnvValue::Plain(text))
    }
}

/// Whether an environment variable's name says it holds a secret.
fn names_a_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "CREDENTIAL",
    ]
    .iter()
    .any(|word| upper.contains(word))
}

fn default_connect_timeout() -> Duration {
    Duration::from_secs(30)
}

/// `[backends.NAME.accepted_auth]`: e.g. read tools accept API keys, tools
/// that may write demand OAuth, JWT or mTLS. An absent list accepts every
/// configured method.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedAuth {
    /// Methods accepted for tools known to be read-only.
    pub read: Option<Vec<mcpgate_core::AuthMethod>>,
    /// Methods accepted for tools that may write.
    pub write: Option<Vec<mcpgate_core::AuthMethod>>,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_response() -> usize {
    1024 * 1024
}

/// How the gateway presents the backend's own credential.
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialConfig {
    /// A header, e.g. `X-API-Key`.
    Header {
        /// Header name.
        name: String,
        /// The secret.
        value: SecretRef,
    },
    /// A query parameter.
    Query {
        /// Parameter name.
        name: String,
        /// The secret.
        value: SecretRef,
    },
    /// A cookie.
    Cookie {
        /// Cookie name.
        name: String,
        /// The secret.
        value: SecretRef,
    },
    /// `Authorization: Bearer`.
    Bearer {
        /// The token.
        value: SecretRef,
    },
    /// `Authorization: Basic`.
    Basic {
        /// User name (not secret).
        username: String,
        /// The password.
        password: SecretRef,
    },
}

/// A config that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid config; the message says where and why.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong and how to fix it.
        message: String,
    },
}

/// A loaded config and where it came from.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The settings.
    pub config: Config,
    /// The file.
    pub path: PathBuf,
}

impl LoadedConfig {
    /// The directory relative paths in the config are resolved against.
    pub fn base_dir(&self) -> &Path {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// The store URL, with secrets resolved and relative SQLite paths made
    /// relative to the config file.
    pub fn store_url(&self) -> Result<String, SecretError> {
        let url = match &self.config.store.url {
            None => {
                return Ok(format!(
                    "sqlite:{}",
                    self.base_dir().join("mcpgate.db").display()
                ));
            }
            Some(StoreUrl::Plain(url)) => url.clone(),
            Some(StoreUrl::Secret(reference)) => {
                secrecy::ExposeSecret::expose_secret(&reference.resolve(self.base_dir())?)
                    .to_owned()
            }
        };
        Ok(match url.strip_prefix("sqlite:") {
            Some(path) if !Path::new(path).is_absolute() => {
                format!("sqlite:{}", self.base_dir().join(path).display())
            }
            _ => url,
        })
    }
}

/// Read and check `path`.
pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let config = parse(&text, &path.display().to_string())?;
    Ok(LoadedConfig {
        config,
        path: path.to_owned(),
    })
}

/// Parse config text; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    let config: Config = toml::from_str(text).map_err(|error| {
        let (line, column) = error
            .span()
            .map(|span| line_and_column(text, span.start))
            .unwrap_or((0, 0));
        ConfigError::Invalid {
            path: origin.to_owned(),
            line,
            column,
            message: error.message().trim().to_owned(),
        }
    })?;
    check(&config).map_err(|(key, message)| ConfigError::Invalid {
        path: origin.to_owned(),
        // The key the rule is about (or its section) as written in the file.
        line: locate::TomlIndex::parse(text, origin)
            .line(&key)
            .unwrap_or(0),
        column: 0,
        message,
    })?;
    Ok(config)
}

/// Refuse `what` over plain http off loopback (it needs TLS); a refusal
/// names `server.public_url` or `server.listen`.
fn require_tls(config: &Config, what: &str) -> Result<(), (String, String)> {
    let (scheme, loopback, key) = match &config.server.public_url {
        Some(url) => (
            url.scheme().to_owned(),
            matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
                || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                || url.host_str() == Some("localhost"),
            "server.public_url",
        ),
        None => (
            if config.server.tls.is_some() {
                "https"
            } else {
                "http"
            }
            .to_owned(),
            config.server.listen.ip().is_loopback(),
            "server.listen",
        ),
    };
    if scheme != "https" && !loopback {
        return Err((
            key.to_owned(),
            format!(
                "{what} must be reached over https: set [server.tls], or, behind a TLS-terminating proxy, \
                 `public_url = \"https://…/mcp\"` (plain http is allowed on loopback only)"
            ),
        ));
    }
    Ok(())
}

/// Rules that span several keys. A refusal names the key path it is about
/// (`backends.shop.base_url`, `auth.jwt[0].issuer`), for its line.
fn check(config: &Config) -> Result<(), (String, String)> {
    let at = |key: String| move |message: String| (key, message);
    if !config.server.path.starts_with('/') || config.server.path.len() < 2 {
        return Err(at("server.path".into())(format!(
            "server.path `{}` must start with `/` and name a path, e.g. `/mcp`",
            config.server.path
        )));
    }
    if let Some(keys) = &config.auth.api_keys
        && (keys.environment.is_empty()
            || keys.environment.len() > 16
            || !keys
                .environment
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    {
        return Err(at("auth.api_keys.environment".into())(format!(
            "auth.api_keys.environment `{}` must be 1 to 16 lower-case letters or digits, e.g. `prod`",
            keys.environment
        )));
    }
    let issuers = config
        .auth
        .jwt
        .iter()
        .enumerate()
        .map(|(n, i)| (format!("auth.jwt[{n}].issuer"), &i.issuer))
        .chain(
            config
                .auth
                .introspection
                .iter()
                .enumerate()
                .map(|(n, i)| (format!("auth.introspection[{n}].issuer"), &i.issuer)),
        )
        .chain(config.oauth_server.iter().map(|o| {
            (
                "oauth_server.upstream.issuer".to_owned(),
                &o.upstream.issuer,
            )
        }));
    for (key, url) in issuers {
        let loopback = matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
            || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
            || url.host_str() == Some("localhost");
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(at(key.clone())(format!(
                "{key}: issuer `{url}` must be an https URL (http is allowed on loopback only)"
            )));
        }
    }
    for (n, issuer) in config.auth.jwt.iter().enumerate() {
        for algorithm in &issuer.algorithms {
            if ![
                "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
            ]
            .contains(&algorithm.as_str())
            {
                return Err(at(format!("auth.jwt[{n}].algorithms"))(format!(
                    "auth.jwt algorithm `{algorithm}` is not accepted; use RS256, ES256, PS256 or EdDSA \
                     (shared-secret HS* and `none` are never accepted)"
                )));
            }
        }
    }
    if config.auth.mutual_tls.is_some()
        && config
            .server
            .tls
            .as_ref()
            .and_then(|t| t.client_ca.as_ref())
            .is_none()
    {
        return Err(at("auth.mutual_tls".into())(
            "auth.mutual_tls needs client certificates: set server.tls.client_ca to the CA that issues them".to_owned(),
        ));
    }
    for (name, backend) in &config.backends {
        match backend.kind {
            BackendKind::Openapi if backend.spec.is_empty() => {
                return Err(at(format!("backends.{name}"))(format!(
                    "backends.{name} needs `spec = \"openapi.yaml\"`: the API's OpenAPI document (a file next to the config, or an http(s) URL)"
                )));
            }
            BackendKind::Echo => {
                let set = [
                    ("spec", !backend.spec.is_empty()),
                    ("base_url", backend.base_url.is_some()),
                    ("credential", backend.credential.is_some()),
                ];
                if let Some((key, _)) = set.iter().find(|(_, set)| *set) {
                    return Err(at(format!("backends.{name}.{key}"))(format!(
                        "backends.{name}.{key}: an echo backend reaches no API; remove `{key}` or set `kind = \"openapi\"`"
                    )));
                }
            }
            BackendKind::Mcp => check_mcp_backend(name, backend)?,
            BackendKind::Openapi => {}
        }
        if backend.kind != BackendKind::Mcp {
            let set = [
                ("command", backend.command.is_some()),
                ("url", backend.url.is_some()),
                ("args", !backend.args.is_empty()),
                ("env", !backend.env.is_empty()),
                ("cwd", backend.cwd.is_some()),
                ("include_tools", !backend.include_tools.is_empty()),
                ("exclude_tools", !backend.exclude_tools.is_empty()),
                ("read_only_tools", !backend.read_only_tools.is_empty()),
                ("forward", !backend.forward.is_empty()),
            ];
            if let Some((key, _)) = set.iter().find(|(_, set)| *set) {
                return Err(at(format!("backends.{name}.{key}"))(format!(
                    "backends.{name}.{key} is only for MCP backends; set `kind = \"mcp\"` or remove `{key}`"
                )));
            }
        }
    }
    if let Some(admin) = &config.admin {
        if !admin.path.starts_with('/')
            || admin.path.len() < 2
            || admin.path.ends_with('/')
            || admin.path == config.server.path
            || ["/oauth", "/.well-known", "/healthz"]
                .iter()
                .any(|taken| admin.path.starts_with(taken))
        {
            return Err(at("admin.path".into())(format!(
                "admin.path `{}` must be a path of its own, e.g. `/admin` (not the MCP path, /oauth or /.well-known)",
                admin.path
            )));
        }
        if admin.roles.is_empty() {
            return Err(at("admin.roles".into())(
                "admin.roles is empty: nobody could sign in; e.g. `roles = [\"admin\"]`".to_owned(),
            ));
        }
        // Console cookies are `Secure`: the browser needs https (loopback
        // http is allowed for trying it out).
        require_tls(config, "the admin console ([admin])")?;
    }
    if let Some(oauth) = &config.oauth_server {
        oauth_server::check(oauth)?;
        // OAuth 2.1 §1.5: an authorization server speaks TLS, except to
        // the loopback interface (tests, a developer's laptop).
        require_tls(config, "the embedded authorization server ([oauth_server])")?;
    }
    if config.server.page_size == 0 {
        return Err(at("server.page_size".into())(
            "server.page_size must be at least 1".to_owned(),
        ));
    }
    for (name, backend) in &config.backends {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(at(format!("backends.{name}"))(format!(
                "backend name `{name}` may only use letters, digits, `_` and `-`"
            )));
        }
        if let Some(prefix) = &backend.tool_prefix
            && !prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(at(format!("backends.{name}.tool_prefix"))(format!(
                "backends.{name}.tool_prefix `{prefix}` may only use letters, digits, `_` and `-`"
            )));
        }
        if let Some(url) = &backend.base_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(at(format!("backends.{name}.base_url"))(format!(
                "backends.{name}.base_url must be an http or https URL, not `{url}`"
            )));
        }
        if let Some(url) = &backend.base_url
            && (url.query().is_some() || url.fragment().is_some())
        {
            return Err(at(format!("backends.{name}.base_url"))(format!(
                "backends.{name}.base_url must not have a query or fragment (`{url}`); \
                 a credential in the query goes in `credential = {{ kind = \"query\", ... }}`"
            )));
        }
    }
    Ok(())
}

/// The settings only an MCP backend has, checked together.
fn check_mcp_backend(name: &str, backend: &BackendConfig) -> Result<(), (String, String)> {
    match (&backend.command, &backend.url) {
        (None, None) => {
            return Err((
                format!("backends.{name}"),
                format!(
                    "backends.{name} is an MCP backend: set `command = \"…\"` (a server started as a child process, \
                 spoken to over stdio) or `url = \"https://…/mcp\"` (a Streamable HTTP server)"
                ),
            ));
        }
        (Some(_), Some(_)) => {
            return Err((
                format!("backends.{name}.url"),
                format!(
                    "backends.{name} has both `command` and `url`; an MCP backend is either a child process or a URL"
                ),
            ));
        }
        (Some(command), None) if command.trim().is_empty() => {
            return Err((
                format!("backends.{name}.command"),
                format!("backends.{name}.command is empty; name the program to start"),
            ));
        }
        (None, Some(url)) if !matches!(url.scheme(), "http" | "https") => {
            return Err((
                format!("backends.{name}.url"),
                format!("backends.{name}.url must be an http or https URL, not `{url}`"),
            ));
        }
        _ => {}
    }
    let stdio_only = [
        ("args", !backend.args.is_empty()),
        ("env", !backend.env.is_empty()),
        ("cwd", backend.cwd.is_some()),
    ];
    if backend.url.is_some()
        && let Some((key, _)) = stdio_only.iter().find(|(_, set)| *set)
    {
        return Err((
            format!("backends.{name}.{key}"),
            format!(
                "backends.{name}.{key} is for a server started with `command`; this one is reached at `url`"
            ),
        ));
    }
    let http_only = [
        ("credential", backend.credential.is_some()),
        ("base_url", backend.base_url.is_some()),
        ("spec", !backend.spec.is_empty()),
    ];
    if let Some((key, _)) = http_only.iter().find(|(_, set)| *set) {
        let allowed = *key == "credential" && backend.url.is_some();
        if !allowed {
            return Err((
                format!("backends.{name}.{key}"),
                format!(
                    "backends.{name}.{key} does not apply to this MCP backend{}",
                    if *key == "credential" {
                        "; a child process gets its credentials through `env`"
                    } else {
                        ""
                    }
                ),
            ));
        }
    }
    if let Some(CredentialConfig::Query { .. } | CredentialConfig::Cookie { .. }) =
        &backend.credential
    {
        return Err((
            format!("backends.{name}.credential"),
            format!(
                "backends.{name}.credential: an MCP server takes its credential in a header; \
             use `kind = \"bearer\"`, `\"basic\"` or `\"header\"`"
            ),
        ));
    }
    for (variable, value) in &backend.env {
        if matches!(value, EnvValue::Plain(_)) && names_a_secret(variable) {
            return Err((
                format!("backends.{name}.env.{variable}"),
                format!(
                    "backends.{name}.env.{variable} looks like a secret, and secrets may not be written into the config; \
                 write `{variable} = \"env:{variable}\"` and set it in mcpgate's environment (or use `file:PATH`)"
                ),
            ));
        }
    }
    Ok(())
}

/// 1-based line and column (in bytes) of byte `offset` in `text`; an
/// offset past the end means the end.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}
