use std::collections::BTreeSet;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// How a caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// No credential: the local user of a stdio or loopback-only gateway.
    None,
    /// An mcpgate API key.
    ApiKey,
    /// A JWT issued by a configured identity provider.
    Jwt,
    /// An OAuth access token (embedded or external authorization server).
    #[serde(rename = "oauth")]
    OAuth,
    /// A client certificate presented over mutual TLS.
    MutualTls,
}

impl AuthMethod {
    /// The stable lower-case name used in logs, audit records and policies.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Jwt => "jwt",
            AuthMethod::OAuth => "oauth",
            AuthMethod::MutualTls => "mutual_tls",
        }
    }
}

/// Who is calling, as established by the authenticate stage.
///
/// Every authentication strategy produces this same shape, so authorization
/// and audit never need to know which strategy ran.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identity {
    /// Stable subject: a user id, key id, client id or certificate subject.
    pub subject: String,
    /// The strategy that produced this identity.
    pub auth: AuthMethod,
    /// The OAuth client (or API key name) acting for the subject, if any.
    pub client_id: Option<String>,
    /// Identifier of the credential itself (key id, token id, certificate
    /// fingerprint) — never the secret — so the audit log can name it.
    pub credential_id: Option<String>,
    /// Scopes granted to this caller.
    pub scopes: BTreeSet<String>,
    /// Roles assigned to this caller (bundles of scopes, see authorization).
    pub roles: BTreeSet<String>,
    /// Groups reported by the identity provider.
    pub groups: BTreeSet<String>,
    /// Other claims kept for policies (never includes the raw credential).
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// When the credential stops being valid, if it expires.
    pub expires_at: Option<SystemTime>,
    /// When set, the most this caller may use, whatever its roles grant:
    /// these scopes and what they imply. A token mcpgate's own
    /// authorization server issued carries the scopes the user consented
    /// to, and roles must not widen them.
    pub scope_limit: Option<BTreeSet<String>>,
}

impl Identity {
    /// An identity for `subject`, authenticated by `auth`, with no scopes,
    /// roles, groups or claims yet. Strategies start here rather than from
    /// [`Identity::local`], so none can end up with the local user's
    /// method (and its privileges) by forgetting to set one.
    ///
    /// ```
    /// use mcpgate_core::{AuthMethod, Identity};
    /// let caller = Identity::new("key_0123", AuthMethod::ApiKey);
    /// assert!(caller.scopes.is_empty());
    /// ```
    pub fn new(subject: impl Into<String>, auth: AuthMethod) -> Self {
        Identity {
            subject: subject.into(),
            auth,
            client_id: None,
            credential_id: None,
            scopes: BTreeSet::new(),
            roles: BTreeSet::new(),
            groups: BTreeSet::new(),
            claims: serde_json::Map::new(),
            expires_at: None,
            scope_limit: None,
        }
    }

    /// The identity of the local user of a gateway that runs without
    /// authentication (stdio, or HTTP bound to loopback only).
    ///
    /// ```
    /// let me = mcpgate_core::Identity::local();
    /// assert_eq!(me.auth, mcpgate_core::AuthMethod::None);
    /// ```
    pub fn local() -> Self {
        Identity::new("local", AuthMethod::None)
    }
}
