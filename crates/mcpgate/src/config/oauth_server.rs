//! `[oauth_server]`: the embedded OAuth 2.1 authorization server.

use std::time::Duration;

use serde::Deserialize;

use super::SecretRef;
use super::duration;

/// `[oauth_server]`: mcpgate issues its own tokens. Users sign in at the
/// `[oauth_server.upstream]` identity provider; the issuer is the origin
/// of `server.public_url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthServerConfig {
    /// Ed25519 seeds (base64, from `mcpgate audit keygen`) as `env:`/`file:`
    /// references. The first signs; the others are still published and
    /// accepted (keep a replaced key listed for one access-token lifetime).
    pub signing_keys: Vec<SecretRef>,
    /// At least 32 random bytes: the key that seals the identity provider's
    /// refresh tokens at rest is derived from it.
    pub secret: SecretRef,
    /// Lifetime of access tokens.
    #[serde(
        default = "default_access_ttl",
        deserialize_with = "duration::deserialize"
    )]
    pub access_token_ttl: Duration,
    /// Lifetime of a sign-in's grant (its refresh tokens).
    #[serde(
        default = "default_refresh_ttl",
        deserialize_with = "duration::deserialize"
    )]
    pub refresh_token_ttl: Duration,
    /// How long a used refresh token may be presented again (a client's
    /// retry after a lost answer) before reuse revokes the grant.
    #[serde(default = "default_grace", deserialize_with = "duration::deserialize")]
    pub refresh_grace: Duration,
    /// Accept RFC 7591 dynamic client registration.
    #[serde(default = "yes")]
    pub dynamic_registration: bool,
    /// Accept URL-shaped client ids (Client ID Metadata Documents).
    #[serde(default = "yes")]
    pub client_metadata_documents: bool,
    /// Hosts whose metadata documents may be fetched although they resolve
    /// to loopback or private addresses (otherwise refused: SSRF).
    #[serde(default)]
    pub metadata_document_private_hosts: Vec<String>,
    /// Where users sign in.
    pub upstream: UpstreamConfig,
    /// Clients written here (service clients using client credentials,
    /// or known applications).
    #[serde(default)]
    pub clients: Vec<ClientConfig>,
}

/// `[oauth_server.upstream]`: the company's OpenID Connect provider.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Its issuer (https, or http on loopback only).
    pub issuer: url::Url,
    /// mcpgate's client id there. Register `<public origin>/oauth/callback`
    /// as its redirect URI.
    pub client_id: String,
    /// mcpgate's client secret there.
    pub client_secret: SecretRef,
    /// Scopes to ask for besides `openid` (add `offline_access` so that a
    /// user disabled there loses access here at the next refresh).
    #[serde(default = "default_upstream_scopes")]
    pub scopes: Vec<String>,
    /// The ID-token claim carrying groups.
    pub groups_claim: Option<String>,
    /// The ID-token claim carrying roles.
    pub roles_claim: Option<String>,
}

/// `[[oauth_server.clients]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Its id.
    pub client_id: String,
    /// Its secret (confidential clients).
    pub client_secret: Option<SecretRef>,
    /// Or: a JWKS file (relative to the config) with the public keys it
    /// signs client assertions with (`private_key_jwt`, RFC 7523).
    pub jwks: Option<std::path::PathBuf>,
    /// Where codes may be sent.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// For `client_credentials`: the scopes it may have.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Shown on the consent page.
    pub name: Option<String>,
}

fn yes() -> bool {
    true
}
fn default_access_ttl() -> Duration {
    Duration::from_secs(3600)
}
fn default_refresh_ttl() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}
fn default_grace() -> Duration {
    Duration::from_secs(10)
}
fn default_upstream_scopes() -> Vec<String> {
    ["profile", "email", "offline_access"]
        .map(str::to_owned)
        .to_vec()
}

/// Rules across keys; a refusal names the key.
pub(super) fn check(config: &OAuthServerConfig) -> Result<(), (String, String)> {
    if config.signing_keys.is_empty() {
        return Err((
            "oauth_server.signing_keys".into(),
            "oauth_server.signing_keys needs at least one key: `mcpgate audit keygen` makes one; \
             put it in an environment variable and write `signing_keys = [\"env:MCPGATE_OAUTH_KEY\"]`"
                .into(),
        ));
    }
    if config.access_token_ttl > Duration::from_secs(24 * 3600) {
        return Err((
            "oauth_server.access_token_ttl".into(),
            "oauth_server.access_token_ttl may be at most 1d: access tokens must be short-lived"
                .into(),
        ));
    }
    if config.refresh_grace > Duration::from_secs(120) {
        return Err((
            "oauth_server.refresh_grace".into(),
            "oauth_server.refresh_grace may be at most 2m".into(),
        ));
    }
    for (n, client) in config.clients.iter().enumerate() {
        let key = format!("oauth_server.clients[{n}]");
        if client.client_id.is_empty() || client.client_id.contains("://") {
            return Err((
                key,
                "a configured client_id is a plain name (URL-shaped ids are metadata documents)"
                    .into(),
            ));
        }
        for grant in &client.grant_types {
            if !matches!(
                grant.as_str(),
                "authorization_code" | "refresh_token" | "client_credentials"
            ) {
                return Err((
                    format!("{key}.grant_types"),
                    format!(
                        "grant type `{grant}` is not supported: use authorization_code, refresh_token or client_credentials"
                    ),
                ));
            }
        }
        if client.client_secret.is_some() && client.jwks.is_some() {
            return Err((
                format!("{key}.jwks"),
                format!(
                    "client `{}` has both a client_secret and jwks: keep one way to authenticate",
                    client.client_id
                ),
            ));
        }
        if client.grant_types.iter().any(|g| g == "client_credentials")
            && client.client_secret.is_none()
            && client.jwks.is_none()
        {
            return Err((
                format!("{key}.client_secret"),
                format!(
                    "client `{}` uses client_credentials and must authenticate: set `client_secret = \"env:NAME\"` \
                     or `jwks = \"client.jwks.json\"` (its public keys, for private_key_jwt)",
                    client.client_id
                ),
            ));
        }
        if client.grant_types.iter().any(|g| g == "authorization_code")
            && client.redirect_uris.is_empty()
        {
            return Err((
                format!("{key}.redirect_uris"),
                format!(
                    "client `{}` uses authorization_code and needs its redirect_uris",
                    client.client_id
                ),
            ));
        }
        for uri in &client.redirect_uris {
            if let Some(problem) = mcpgate_oauth::redirect::registration_problem(uri) {
                return Err((
                    format!("{key}.redirect_uris"),
                    format!("redirect URI `{uri}` {problem}"),
                ));
            }
        }
    }
    Ok(())
}
