//! API keys as stored: never the key, only its keyed hash.

use serde::Serialize;

/// One API key's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    /// Public identifier (`key_…`), safe to log and show.
    pub id: String,
    /// Human name given at creation.
    pub name: String,
    /// The environment the key is bound to (`prod`, `staging`, …).
    pub environment: String,
    /// HMAC-SHA256 of the key with the server's pepper, hex.
    #[serde(skip_serializing)]
    pub key_hash: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// Roles granted.
    pub roles: Vec<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time after which the key is refused, if any.
    pub expires_at: Option<String>,
    /// RFC 3339 time of revocation, if revoked.
    pub revoked_at: Option<String>,
    /// The key that replaced this one by rotation.
    pub replaced_by: Option<String>,
    /// RFC 3339 time of the last accepted use (updated in batches).
    pub last_used_at: Option<String>,
}

/// A change to a key, in the order changes happened. Every instance follows
/// this feed to drop revoked keys from its cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    /// Position in the feed.
    pub seq: i64,
    /// The key that changed.
    pub key_id: String,
    /// `revoked`, `expiry` or `created`.
    pub change: String,
}
