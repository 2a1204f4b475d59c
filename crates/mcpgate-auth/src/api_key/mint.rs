//! A new key and the record that stores it: what `mcpgate keys create` and
//! the admin console both do.

use std::time::{Duration, SystemTime};

use mcpgate_core::format_rfc3339;
use mcpgate_store::ApiKeyRecord;
use secrecy::{ExposeSecret, SecretString};

use super::format::{KeyFormatError, generate, key_hash, new_key_id};

/// What a new key is made of.
#[derive(Debug, Clone, Default)]
pub struct KeyTemplate {
    /// A name for people: who or what uses the key.
    pub name: String,
    /// The environment it is bound to.
    pub environment: String,
    /// Scopes it grants.
    pub scopes: Vec<String>,
    /// Roles it carries.
    pub roles: Vec<String>,
    /// How long it lives; forever when `None`.
    pub lifetime: Option<Duration>,
}

/// Why a key cannot be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The name is empty, too long or holds control characters.
    #[error("a key's name must be 1 to 64 printable characters")]
    Name,
    /// The environment is malformed, or the random source failed.
    #[error(transparent)]
    Format(#[from] KeyFormatError),
}

/// A new key for `template`: the record to store (its keyed hash, never
/// the key) and the key, to show once.
pub fn mint(
    pepper: &[u8],
    template: &KeyTemplate,
) -> Result<(ApiKeyRecord, SecretString), MintError> {
    let name = template.name.trim();
    if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
        return Err(MintError::Name);
    }
    let key = generate(&template.environment)?;
    let now = SystemTime::now();
    let record = ApiKeyRecord {
        id: new_key_id()?,
        name: name.to_owned(),
        environment: key.environment,
        key_hash: key_hash(pepper, key.secret.expose_secret()),
        scopes: template.scopes.clone(),
        roles: template.roles.clone(),
        created_at: format_rfc3339(now),
        expires_at: template.lifetime.map(|d| format_rfc3339(now + d)),
        revoked_at: None,
        replaced_by: None,
        last_used_at: None,
    };
    Ok((record, key.secret))
}

/// A key replaced by [`rotate`].
#[derive(Debug)]
pub struct Rotated {
    /// The new key's record.
    pub record: ApiKeyRecord,
    /// The new key, to show once.
    pub secret: SecretString,
    /// Until when the old key still works (RFC 3339).
    pub old_until: String,
}

/// Why a key cannot be rotated.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// No key has that id.
    #[error("there is no key `{0}`")]
    Unknown(String),
    /// It is revoked: make a new one instead.
    #[error("{0} is revoked; create a new key instead")]
    Revoked(String),
    /// Minting failed.
    #[error(transparent)]
    Mint(#[from] MintError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] mcpgate_store::StoreError),
}

/// Replace key `id` with a new one of the same name, environment, scopes,
/// roles and remaining lifetime; the old key keeps working for `overlap`.
pub async fn rotate(
    store: &dyn mcpgate_store::Store,
    pepper: &[u8],
    id: &str,
    overlap: Duration,
) -> Result<Rotated, RotateError> {
    let Some(old) = store.api_key(id).await? else {
        return Err(RotateError::Unknown(id.to_owned()));
    };
    if old.revoked_at.is_some() {
        return Err(RotateError::Revoked(id.to_owned()));
    }
    // The new key keeps the old one's remaining lifetime, if it had one.
    let remaining = old
        .expires_at
        .as_deref()
        .and_then(mcpgate_core::parse_rfc3339)
        .map(|expiry| {
            expiry
                .duration_since(SystemTime::now())
                .unwrap_or_default()
                .max(Duration::from_secs(1))
        });
    let template = KeyTemplate {
        name: old.name.clone(),
        environment: old.environment.clone(),
        scopes: old.scopes.clone(),
        roles: old.roles.clone(),
        lifetime: remaining,
    };
    let (record, secret) = mint(pepper, &template)?;
    let old_until = format_rfc3339(SystemTime::now() + overlap);
    if !store.rotate_api_key(id, &record, &old_until).await? {
        return Err(RotateError::Revoked(id.to_owned()));
    }
    Ok(Rotated {
        record,
        secret,
        old_until,
    })
}
