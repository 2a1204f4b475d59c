//! mcpgate's embedded OAuth 2.1 authorization server.
//!
//! The MCP authorization spec has the MCP server act as an OAuth resource
//! server and point clients at an authorization server. This crate is that
//! authorization server, served by the gateway itself, for teams that want
//! their users to sign in with the company identity provider and get
//! per-user, short-lived, scoped, revocable access to tools:
//!
//! - **Sign-in** is federated to an upstream OpenID Connect provider
//!   ([`upstream`]); its groups and roles claims become mcpgate roles, and
//!   the user consents to the scopes a client asked for ([`pages`]), never
//!   more than the gateway's policy entitles them to.
//! - **Endpoints** ([`endpoints`]): RFC 8414 metadata, `/oauth/authorize`
//!   (authorization code + PKCE S256 only, exact redirect URIs, RFC 9207
//!   `iss`), `/oauth/token` (authorization code, refresh token, client
//!   credentials), `/oauth/revoke` (RFC 7009), `/oauth/introspect`
//!   (RFC 7662), `/oauth/register` (RFC 7591) and the JWKS.
//! - **Clients** ([`clients`]): written in the config, registered, or
//!   URL-shaped ids whose Client ID Metadata Document is fetched behind SSRF
//!   guards ([`cimd`]).
//! - **Tokens** ([`tokens`]): access tokens are Ed25519-signed JWTs bound to
//!   one resource (RFC 8707) and to a grant; refresh tokens are random,
//!   stored hashed, rotated on every use, and a reused one revokes its
//!   whole grant. The resource-server side ([`AccessTokenVerifier`]) checks
//!   access tokens in memory and learns of revocations from the store's
//!   change feed.

pub mod admin;
mod audit;
pub mod cimd;
pub mod clients;
pub mod endpoints;
mod error;
mod grants;
pub mod keys;
pub mod pages;
pub mod pkce;
pub mod redirect;
pub mod secrets;
mod settings;
pub mod tokens;
pub mod upstream;

use std::sync::Arc;

use mcpgate_store::Store;
use secrecy::ExposeSecret;

pub use audit::AuditHook;
pub use error::OAuthError;
pub use settings::{Entitlement, Settings, StaticClient, UpstreamSettings};
pub use tokens::AccessTokenVerifier;

use clients::ClientDirectory;
use keys::KeySet;
use secrets::Sealer;
use upstream::Upstream;

/// Paths of the endpoints, under the issuer.
pub mod paths {
    /// RFC 8414 metadata.
    pub const METADATA: &str = "/.well-known/oauth-authorization-server";
    /// The same metadata where OpenID Connect clients look for it.
    pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";
    /// The authorization endpoint.
    pub const AUTHORIZE: &str = "/oauth/authorize";
    /// Where the upstream identity provider sends users back.
    pub const CALLBACK: &str = "/oauth/callback";
    /// Where the consent form is posted.
    pub const CONSENT: &str = "/oauth/consent";
    /// The token endpoint.
    pub const TOKEN: &str = "/oauth/token";
    /// RFC 7009 revocation.
    pub const REVOKE: &str = "/oauth/revoke";
    /// RFC 7662 introspection.
    pub const INTROSPECT: &str = "/oauth/introspect";
    /// RFC 7591 registration.
    pub const REGISTER: &str = "/oauth/register";
    /// The signing keys.
    pub const JWKS: &str = "/oauth/jwks";
}

/// Why the authorization server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A signing key is unusable.
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    /// The upstream identity provider's settings are unusable.
    #[error("oauth_server.upstream: {0}")]
    Upstream(String),
    /// Something else in the settings.
    #[error("{0}")]
    Settings(String),
}

/// The authorization server: cheap to clone, shared by its endpoints.
#[derive(Clone)]
pub struct AuthorizationServer {
    inner: Arc<Inner>,
}

struct Inner {
    settings: Settings,
    store: Arc<dyn Store>,
    keys: Arc<KeySet>,
    verifier: Arc<AccessTokenVerifier>,
    upstream: Option<Upstream>,
    clients: ClientDirectory,
    sealer: Sealer,
    /// Cookies are `Secure` and `__Host-` prefixed when the issuer is https.
    secure_cookies: bool,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuthorizationServer({})", self.inner.settings.issuer)
    }
}

/// The shortest sealing secret accepted, in bytes.
const MIN_SEALING_SECRET: usize = 32;

impl AuthorizationServer {
    /// The resource-server side on its own, built first so that the
    /// authenticate stage can have it before the server is assembled:
    /// tokens from `issuer`, for one of `resources`, signed by one of
    /// `keys` (the first signs).
    pub fn token_verifier(
        issuer: &str,
        resources: Vec<String>,
        keys: Vec<keys::SigningKey>,
    ) -> Result<Arc<AccessTokenVerifier>, SetupError> {
        Ok(Arc::new(AccessTokenVerifier::new(
            issuer.trim_end_matches('/').to_owned(),
            resources,
            Arc::new(KeySet::new(keys)?),
        )))
    }

    /// An authorization server with `settings`, signing with the keys of
    /// `verifier` (from [`Self::token_verifier`]), keeping its state in
    /// `store`.
    pub fn new(
        settings: Settings,
        verifier: Arc<AccessTokenVerifier>,
        store: Arc<dyn Store>,
    ) -> Result<Self, SetupError> {
        let keys = verifier.keys();
        if verifier.issuer_id() != settings.issuer.trim_end_matches('/')
            || verifier.audiences() != settings.resources
        {
            return Err(SetupError::Settings(
                "the token verifier was built for another issuer or resource".into(),
            ));
        }
        if settings.resources.is_empty() {
            return Err(SetupError::Settings(
                "the authorization server needs the resource (the MCP endpoint's URL)".into(),
            ));
        }
        if settings.sealing_secret.expose_secret().len() < MIN_SEALING_SECRET {
            return Err(SetupError::Settings(format!(
                "oauth_server.secret must be at least {MIN_SEALING_SECRET} bytes \
                 (e.g. `head -c 32 /dev/urandom | base64`)"
            )));
        }
        let issuer = settings.issuer.trim_end_matches('/').to_owned();
        let sealer = Sealer::new(
            settings.sealing_secret.expose_secret().as_bytes(),
            "mcpgate oauth upstream refresh token",
        );
        let mut settings = settings;
        let upstream = settings
            .upstream
            .take()
            .map(|u| Upstream::new(u, format!("{issuer}{}", paths::CALLBACK)))
            .transpose()
            .map_err(SetupError::Upstream)?;
        settings.issuer = issuer;
        let metadata = settings
            .client_metadata_documents
            .then(|| cimd::MetadataFetcher::new(settings.metadata_document_private_hosts.clone()));
        let clients = ClientDirectory::new(
            &settings.clients,
            store.clone(),
            settings.dynamic_registration,
            metadata,
        );
        let secure_cookies = settings.issuer.starts_with("https://");
        Ok(AuthorizationServer {
            inner: Arc::new(Inner {
                settings,
                store,
                keys,
                verifier,
                upstream,
                clients,
                sealer,
                secure_cookies,
            }),
        })
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.inner.settings.issuer
    }

    /// The resource-server side: checks this server's access tokens. Give
    /// it to the authenticate stage, and run [`Self::follow_revocations`].
    pub fn verifier(&self) -> Arc<AccessTokenVerifier> {
        self.inner.verifier.clone()
    }

    /// The endpoints, to merge into the gateway's router.
    pub fn router(&self) -> axum::Router {
        endpoints::router(self.clone())
    }

    /// Follow the store's change feed so that a grant revoked on any
    /// instance is refused here within about a second. Runs until the
    /// returned task is aborted.
    pub fn follow_revocations(&self) -> tokio::task::JoinHandle<()> {
        grants::follow_revocations(self.inner.store.clone(), self.inner.verifier.clone())
    }

    /// Revoke a client: it can get no more tokens, and all its grants end.
    pub async fn revoke_client(&self, client_id: &str) -> Result<Vec<String>, OAuthError> {
        self.inner.clients.forget(client_id);
        let ids = admin::revoke_client(&*self.inner.store, client_id).await?;
        for id in &ids {
            self.inner.verifier.revoke_grant(id);
        }
        Ok(ids)
    }
}
