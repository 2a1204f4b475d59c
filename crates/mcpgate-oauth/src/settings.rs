//! What the authorization server is configured with.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use mcpgate_core::Identity;
use secrecy::SecretString;

/// Which scopes an identity may be granted: the scopes its roles and
/// credential give it under the gateway's authorization policy.
pub type Entitlement = Arc<dyn Fn(&Identity) -> BTreeSet<String> + Send + Sync>;

/// The authorization server's settings.
pub struct Settings {
    /// The issuer identifier: the gateway's origin (`https://mcp.example`),
    /// with no trailing slash. Endpoints live under it.
    pub issuer: String,
    /// The resources (RFC 8707) tokens may be bound to: the MCP endpoint's
    /// public URL. The first is used when a request names none.
    pub resources: Vec<String>,
    /// Scopes clients may ask for (every scope a tool requires).
    pub scopes_supported: Vec<String>,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// Lifetime of a grant, and so of its refresh tokens.
    pub refresh_token_ttl: Duration,
    /// How long a refresh token already used may be presented again (a
    /// client retrying after a lost answer) before reuse counts as theft.
    pub refresh_grace: Duration,
    /// Clients written in the config.
    pub clients: Vec<StaticClient>,
    /// Accept RFC 7591 dynamic client registration.
    pub dynamic_registration: bool,
    /// Accept URL-shaped client ids whose metadata document is fetched.
    pub client_metadata_documents: bool,
    /// Hosts whose metadata documents may be fetched even though they
    /// resolve to loopback or private addresses (tests, internal clients).
    pub metadata_document_private_hosts: Vec<String>,
    /// Where users sign in.
    pub upstream: Option<UpstreamSettings>,
    /// The scopes an identity may be granted.
    pub entitlement: Entitlement,
    /// The server's secret, from which the key sealing the upstream refresh
    /// tokens at rest is derived (at least 32 bytes).
    pub sealing_secret: SecretString,
    /// Where its events are audited.
    pub audit: Option<crate::AuditHook>,
}

/// A client written in the config.
#[derive(Clone)]
pub struct StaticClient {
    /// Its id.
    pub client_id: String,
    /// Its secret, for confidential clients.
    pub secret: Option<SecretString>,
    /// Where codes may be sent.
    pub redirect_uris: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types: Vec<String>,
    /// For `client_credentials`: the scopes the client may have.
    pub scopes: Vec<String>,
    /// Shown on the consent page.
    pub name: Option<String>,
    /// Public keys (a JWKS document) the client signs its assertions with:
    /// it authenticates with `private_key_jwt` (RFC 7523) instead of a
    /// secret.
    pub jwks: Option<jsonwebtoken::jwk::JwkSet>,
}

/// The company's OpenID Connect provider users sign in with.
pub struct UpstreamSettings {
    /// Its issuer (discovery is read from under it).
    pub issuer: String,
    /// mcpgate's client id there.
    pub client_id: String,
    /// mcpgate's client secret there.
    pub client_secret: SecretString,
    /// Scopes to ask for (`openid` is always added).
    pub scopes: Vec<String>,
    /// The ID-token claim carrying groups.
    pub groups_claim: Option<String>,
    /// The ID-token claim carrying roles.
    pub roles_claim: Option<String>,
}
