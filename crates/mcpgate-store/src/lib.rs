//! mcpgate's state.
//!
//! A [`Store`] keeps what must outlive a process and be shared by every
//! instance of a gateway: today the audit log and its signed checkpoints
//! API keys, and the embedded authorization server's clients, grants and
//! single-use secrets. Two implementations, one per database, with no in-memory fake:
//!
//! - [`SqliteStore`] — the embedded default: one file, WAL mode, full sync.
//! - [`PostgresStore`] — for several stateless instances behind a load
//!   balancer.
//!
//! [`open`] picks one from a URL and runs the migrations. The [`audit`]
//! module holds the hash chain, the batching writer and the verifier, which
//! work the same over either store.

pub mod audit;
mod error;
mod keys;
mod migrate;
mod oauth;
mod postgres;
mod sql;
mod sqlite;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

pub use error::StoreError;
pub use keys::{ApiKeyRecord, KeyChange};
pub use oauth::{GrantRecord, GrantSelector, OAuthClientRecord, OneTimeSecret};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

use crate::audit::{AuditEntry, AuditFilter, AuditRecord, ChainHead, Checkpoint};

/// Persistent state shared by every instance of a gateway.
///
/// Methods return boxed futures so the trait can be used as
/// `Arc<dyn Store>`; the hot path never calls it directly (audit writes go
/// through the batching [`audit::AuditLog`]).
pub trait Store: Send + Sync + 'static {
    /// `"sqlite"` or `"postgres"`.
    fn kind(&self) -> &'static str;

    /// Bring the schema up to date. Safe to run concurrently from several
    /// instances.
    fn migrate(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Check that the database answers.
    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Append `entries` to the audit chain in one transaction, in order,
    /// and return the new head. Each record's hash covers the previous
    /// record's hash, its sequence number and its body.
    fn append_audit<'a>(
        &'a self,
        entries: &'a [AuditEntry],
    ) -> BoxFuture<'a, Result<ChainHead, StoreError>>;

    /// The last record's sequence number and hash (genesis when empty).
    fn audit_head(&self) -> BoxFuture<'_, Result<ChainHead, StoreError>>;

    /// Records matching `filter`, in sequence order.
    fn audit_records<'a>(
        &'a self,
        filter: &'a AuditFilter,
    ) -> BoxFuture<'a, Result<Vec<AuditRecord>, StoreError>>;

    /// Store a signed checkpoint.
    fn add_checkpoint<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Every checkpoint, in sequence order.
    fn checkpoints(&self) -> BoxFuture<'_, Result<Vec<Checkpoint>, StoreError>>;

    /// Store a new API key (announced on the change feed).
    fn insert_api_key<'a>(&'a self, key: &'a ApiKeyRecord)
    -> BoxFuture<'a, Result<(), StoreError>>;

    /// The key whose keyed hash is `key_hash`.
    fn api_key_by_hash<'a>(
        &'a self,
        key_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>>;

    /// The key with public id `id`.
    fn api_key<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>>;

    /// Every key, newest first.
    fn api_keys(&self) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>>;

    /// Revoke key `id` as of `at` (RFC 3339). `false` when there is no such
    /// key or it was already revoked. Announced on the change feed.
    fn revoke_api_key<'a>(
        &'a self,
        id: &'a str,
        at: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Replace `old_id` with `new_key` in one transaction: the old key stays
    /// valid until `old_expires_at` (the overlap). `false` when the old key
    /// does not exist or is revoked.
    fn rotate_api_key<'a>(
        &'a self,
        old_id: &'a str,
        new_key: &'a ApiKeyRecord,
        old_expires_at: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Key changes after position `seq`, in order.
    ///
    /// Positions are handed out when a change is written but become visible
    /// when its transaction commits, so a change can appear after a higher
    /// position was already read: followers must re-read a window behind
    /// the newest position they saw.
    fn key_changes_since(&self, seq: i64) -> BoxFuture<'_, Result<Vec<KeyChange>, StoreError>>;

    /// The newest change's position (0 when none).
    fn key_changes_head(&self) -> BoxFuture<'_, Result<i64, StoreError>>;

    /// Record accepted uses, `(key id, RFC 3339 time)`; keeps the latest.
    fn record_key_uses<'a>(
        &'a self,
        uses: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// A stream that yields whenever any instance announces a key change,
    /// where the database can push (PostgreSQL `LISTEN`); `None` where it
    /// cannot (SQLite), and followers poll [`Store::key_changes_since`].
    fn watch_key_changes(
        &self,
    ) -> BoxFuture<'_, Result<Option<BoxStream<'static, ()>>, StoreError>>;

    /// Store a registered client; a metadata-document client already
    /// stored gets its metadata refreshed.
    fn insert_oauth_client<'a>(
        &'a self,
        client: &'a OAuthClientRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The stored client `client_id`.
    fn oauth_client<'a>(
        &'a self,
        client_id: &'a str,
    ) -> BoxFuture<'a, Result<Option<OAuthClientRecord>, StoreError>>;

    /// Every stored client, newest first.
    fn oauth_clients(&self) -> BoxFuture<'_, Result<Vec<OAuthClientRecord>, StoreError>>;

    /// Revoke a stored client as of `at`; `false` when unknown or already
    /// revoked. Its grants are revoked separately ([`Store::revoke_grants`]).
    fn revoke_oauth_client<'a>(
        &'a self,
        client_id: &'a str,
        at: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Store a new grant.
    fn insert_grant<'a>(&'a self, grant: &'a GrantRecord) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The grant `id`.
    fn grant<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<GrantRecord>, StoreError>>;

    /// Every grant, newest first.
    fn grants(&self) -> BoxFuture<'_, Result<Vec<GrantRecord>, StoreError>>;

    /// Revoke the grants `selector` picks, as of `at`, and announce each on
    /// the change feed; returns the ids revoked now.
    fn revoke_grants<'a>(
        &'a self,
        selector: GrantSelector<'a>,
        at: &'a str,
        reason: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, StoreError>>;

    /// Replace a grant's sealed upstream refresh token.
    fn set_grant_upstream_refresh<'a>(
        &'a self,
        id: &'a str,
        sealed: Option<&'a str>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Store a single-use secret (by hash).
    fn insert_secret<'a>(
        &'a self,
        secret: &'a OneTimeSecret,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Mark the secret `hash` of `kind` used as of `at`, and return it as it
    /// was before: `used_at` is `None` for exactly one caller, the first.
    fn take_secret<'a>(
        &'a self,
        hash: &'a str,
        kind: &'a str,
        at: &'a str,
    ) -> BoxFuture<'a, Result<Option<OneTimeSecret>, StoreError>>;

    /// The secret `hash` of `kind`, without using it.
    fn secret<'a>(
        &'a self,
        hash: &'a str,
        kind: &'a str,
    ) -> BoxFuture<'a, Result<Option<OneTimeSecret>, StoreError>>;

    /// Delete secrets that expired before `before`; returns how many.
    fn purge_secrets<'a>(&'a self, before: &'a str) -> BoxFuture<'a, Result<u64, StoreError>>;
}

/// Open the store at `url` and bring its schema up to date.
///
/// `sqlite:PATH` (or a bare path ending in `.db`) opens or creates a SQLite
/// file; `postgres://…`/`postgresql://…` connects to PostgreSQL.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    let store: std::sync::Arc<dyn Store> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            std::sync::Arc::new(PostgresStore::connect(url).await?)
        } else if let Some(path) = url.strip_prefix("sqlite:") {
            std::sync::Arc::new(
                SqliteStore::open(std::path::Path::new(path.trim_start_matches("//"))).await?,
            )
        } else if url.ends_with(".db") {
            std::sync::Arc::new(SqliteStore::open(std::path::Path::new(url)).await?)
        } else {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        };
    store.migrate().await?;
    Ok(store)
}
