//! Authenticating callers by API key, without a database round trip once
//! a key is known.
//!
//! Every valid key is held in memory (by its keyed hash). A key not in
//! memory is looked up once, then remembered — as valid, or as unknown for
//! a short while so that guessing cannot hammer the database. A follower
//! task applies the store's key-change feed: pushed by PostgreSQL
//! `NOTIFY`, and polled every second as a backstop (and for SQLite), so a
//! revocation anywhere reaches this instance within a second.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use futures::future::BoxFuture;
use mcpgate_core::{AuthMethod, Identity, format_rfc3339, parse_rfc3339};
use mcpgate_store::{ApiKeyRecord, Store};
use secrecy::{ExposeSecret, SecretSlice};

use super::format::{hashes_match, key_hash, parse};
use crate::authenticate::{AuthError, Authenticator, RequestFacts};

/// How often the change feed is polled when nothing was pushed.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How far behind the newest change seen each poll looks again: a change
/// may commit after changes with higher positions (see
/// `Store::key_changes_since`).
const CHANGE_LOOKBACK: i64 = 1_000;
/// How often every key is re-read, whatever the feed said: the backstop for
/// anything the feed could still miss.
const FULL_RESYNC_INTERVAL: Duration = Duration::from_secs(60);
/// How often last-used times are written.
const USE_FLUSH_INTERVAL: Duration = Duration::from_secs(10);
/// How long an unknown (well-formed) key is remembered as unknown.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// Most unknown keys remembered at once.
const NEGATIVE_CAPACITY: usize = 10_000;

/// A valid key as held in memory.
struct CachedKey {
    record: ApiKeyRecord,
    /// The identity every use of the key gets, built once (it carries the
    /// key's expiry).
    identity: Identity,
    /// When the key was last used and the store not yet told, in
    /// nanoseconds since the Unix epoch; 0 when there is nothing to tell.
    /// An atomic, not a shared map: every request writes it.
    last_used: AtomicU64,
}

impl CachedKey {
    fn new(record: ApiKeyRecord, expires_at: Option<SystemTime>) -> Self {
        let mut identity = Identity::new(record.id.clone(), AuthMethod::ApiKey);
        identity.client_id = Some(record.name.clone());
        identity.credential_id = Some(record.id.clone());
        identity.scopes = record.scopes.iter().cloned().collect();
        identity.roles = record.roles.iter().cloned().collect();
        identity.expires_at = expires_at;
        CachedKey {
            record,
            identity,
            last_used: AtomicU64::new(0),
        }
    }

    fn mark_used(&self, at: SystemTime) {
        let nanos = at
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.last_used.store(nanos.max(1), Ordering::Relaxed);
    }

    /// The use not yet told to the store, if any; forgets it.
    fn take_use(&self) -> Option<SystemTime> {
        match self.last_used.swap(0, Ordering::Relaxed) {
            0 => None,
            nanos => Some(UNIX_EPOCH + Duration::from_nanos(nanos)),
        }
    }
}

/// Checks `Authorization: Bearer mcpg_…` or `X-API-Key: mcpg_…`.
pub struct ApiKeyAuthenticator {
    store: Arc<dyn Store>,
    pepper: SecretSlice<u8>,
    environment: String,
    known: RwLock<HashMap<String, Arc<CachedKey>>>,
    /// Hashes not usable, since when, with the key's id when it exists
    /// (revoked): refused without asking the store again.
    unknown: Mutex<HashMap<String, (Instant, Option<String>)>>,
    /// Uses not yet told to the store of keys no longer held in memory
    /// (revoked, changed or gone since).
    dropped_uses: Mutex<Vec<(String, SystemTime)>>,
}

impl std::fmt::Debug for ApiKeyAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ApiKeyAuthenticator({}, {} keys)",
            self.environment,
            self.known.read().map(|k| k.len()).unwrap_or(0)
        )
    }
}

impl ApiKeyAuthenticator {
    /// Load every usable key of `environment` from `store` and start
    /// following changes. `pepper` is the server secret keys are hashed
    /// with; it must be the one `mcpgate keys create` used.
    pub async fn start(
        store: Arc<dyn Store>,
        pepper: SecretSlice<u8>,
        environment: String,
    ) -> Result<Arc<Self>, mcpgate_store::StoreError> {
        // Changes visible now are reflected in the keys loaded below, so they
        // count as applied; anything committing later is applied by the
        // follower.
        let head = store.key_changes_head().await?;
        let visible: std::collections::BTreeSet<i64> = store
            .key_changes_since((head - CHANGE_LOOKBACK).max(0))
            .await?
            .iter()
            .map(|change| change.seq)
            .collect();
        let authenticator = Arc::new(ApiKeyAuthenticator {
            store: store.clone(),
            pepper,
            environment,
            known: RwLock::new(HashMap::new()),
            unknown: Mutex::new(HashMap::new()),
            dropped_uses: Mutex::new(Vec::new()),
        });
        for record in store.api_keys().await? {
            authenticator.remember(record);
        }
        let watch = store.watch_key_changes().await.unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot listen for key changes; polling every second instead");
            None
        });
        tokio::spawn(follow_changes(
            Arc::downgrade(&authenticator),
            head,
            visible,
            watch,
        ));
        tokio::spawn(flush_uses(Arc::downgrade(&authenticator)));
        Ok(authenticator)
    }

    /// How many usable keys are held in memory.
    pub fn cached_keys(&self) -> usize {
        self.known.read().map(|k| k.len()).unwrap_or(0)
    }

    /// Stop accepting key `id` now (it was revoked here).
    pub fn forget(&self, id: &str) {
        if let Ok(mut known) = self.known.write() {
            self.drop_keys(&mut known, |cached| cached.record.id == id);
        }
    }

    /// Drop the keys `drop` picks, keeping their last uses for the store.
    fn drop_keys(
        &self,
        known: &mut HashMap<String, Arc<CachedKey>>,
        mut drop: impl FnMut(&CachedKey) -> bool,
    ) {
        let mut uses = Vec::new();
        known.retain(|_, cached| {
            if !drop(cached) {
                return true;
            }
            if let Some(at) = cached.take_use() {
                uses.push((cached.record.id.clone(), at));
            }
            false
        });
        if !uses.is_empty()
            && let Ok(mut dropped) = self.dropped_uses.lock()
        {
            dropped.extend(uses);
        }
    }

    /// Put `record` in memory if it can be used, or drop it if not.
    fn remember(&self, record: ApiKeyRecord) {
        let Ok(mut known) = self.known.write() else {
            return;
        };
        self.drop_keys(&mut known, |cached| cached.record.id == record.id);
        if record.revoked_at.is_some() || record.environment != self.environment {
            return;
        }
        let expires_at = record.expires_at.as_deref().and_then(parse_rfc3339);
        if record.expires_at.is_some() && expires_at.is_none() {
            tracing::warn!(key = %record.id, "key has an unreadable expiry; refusing it");
            return;
        }
        known.insert(
            record.key_hash.clone(),
            Arc::new(CachedKey::new(record, expires_at)),
        );
    }

    /// Re-read every key: keys gone from the store are dropped.
    async fn resync(&self) {
        match self.store.api_keys().await {
            Ok(records) => {
                let present: std::collections::HashSet<String> =
                    records.iter().map(|r| r.id.clone()).collect();
                if let Ok(mut known) = self.known.write() {
                    self.drop_keys(&mut known, |cached| !present.contains(&cached.record.id));
                }
                for record in records {
                    self.remember(record);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot re-read the keys; will retry"),
        }
    }

    /// Re-read one key after a change.
    async fn refresh(&self, key_id: &str) {
        match self.store.api_key(key_id).await {
            Ok(Some(record)) => self.remember(record),
            Ok(None) => {
                if let Ok(mut known) = self.known.write() {
                    self.drop_keys(&mut known, |cached| cached.record.id == key_id);
                }
            }
            Err(error) => tracing::warn!(%error, key = %key_id, "cannot re-read a changed key"),
        }
        if let Ok(mut unknown) = self.unknown.lock() {
            unknown.clear();
        }
    }

    /// Check a presented key.
    pub async fn check(&self, presented: &str) -> Result<Identity, AuthError> {
        let parsed = parse(presented)
            .map_err(|e| AuthError::Invalid(format!("not a valid mcpgate key: {e}")))?;
        if parsed.environment != self.environment {
            return Err(AuthError::Invalid(format!(
                "key for environment `{}` presented to the `{}` gateway",
                parsed.environment, self.environment
            )));
        }
        let hash = key_hash(self.pepper.expose_secret(), parsed.key);
        let cached = self
            .known
            .read()
            .ok()
            .and_then(|known| known.get(&hash).cloned());
        let cached = match cached {
            Some(cached) => cached,
            None => self.look_up(&hash).await?,
        };
        if !hashes_match(&hash, &cached.record.key_hash) {
            return Err(AuthError::Invalid("key hash mismatch".to_owned()));
        }
        let now = SystemTime::now();
        if cached
            .identity
            .expires_at
            .is_some_and(|expiry| expiry <= now)
        {
            return Err(AuthError::Rejected {
                credential_id: cached.record.id.clone(),
                reason: "expired".to_owned(),
            });
        }
        cached.mark_used(now);
        Ok(cached.identity.clone())
    }

    /// A key not in memory: ask the store once, and remember the answer.
    async fn look_up(&self, hash: &str) -> Result<Arc<CachedKey>, AuthError> {
        let recently_unknown = self
            .unknown
            .lock()
            .ok()
            .and_then(|unknown| unknown.get(hash).cloned())
            .filter(|(since, _)| since.elapsed() < NEGATIVE_TTL);
        if let Some((_, known_as)) = recently_unknown {
            return Err(refusal(known_as));
        }
        let record = self
            .store
            .api_key_by_hash(hash)
            .await
            .map_err(|e| AuthError::Unavailable(format!("cannot check the key: {e}")))?;
        // A key that exists but is not kept in memory was revoked (or
        // belongs to another environment): its id names it in the audit.
        let known_as = record.as_ref().map(|r| r.id.clone());
        if let Some(record) = record {
            self.remember(record);
        }
        if let Some(cached) = self
            .known
            .read()
            .ok()
            .and_then(|known| known.get(hash).cloned())
        {
            return Ok(cached);
        }
        if let Ok(mut unknown) = self.unknown.lock() {
            if unknown.len() >= NEGATIVE_CAPACITY {
                unknown.retain(|_, (since, _)| since.elapsed() < NEGATIVE_TTL);
                if unknown.len() >= NEGATIVE_CAPACITY {
                    unknown.clear();
                }
            }
            unknown.insert(hash.to_owned(), (Instant::now(), known_as.clone()));
        }
        Err(refusal(known_as))
    }
}

/// The refusal of a key not in memory: named when the store knows it.
fn refusal(known_as: Option<String>) -> AuthError {
    match known_as {
        Some(credential_id) => AuthError::Rejected {
            credential_id,
            reason: "revoked, or for another environment".to_owned(),
        },
        None => AuthError::Invalid("unknown key".to_owned()),
    }
}

impl Authenticator for ApiKeyAuthenticator {
    fn authenticate<'a>(
        &'a self,
        request: RequestFacts<'a>,
    ) -> BoxFuture<'a, Result<Identity, AuthError>> {
        Box::pin(async move {
            let key = crate::credentials::presented_credential(&request)?;
            self.check(&key).await
        })
    }
}

/// Apply the change feed until the authenticator is dropped.
///
/// Each round re-reads the changes from [`CHANGE_LOOKBACK`] positions
/// behind the newest one seen and applies those not applied yet, so a
/// change that committed late is still picked up; every
/// [`FULL_RESYNC_INTERVAL`] all keys are re-read.
async fn follow_changes(
    authenticator: std::sync::Weak<ApiKeyAuthenticator>,
    mut newest: i64,
    mut applied: std::collections::BTreeSet<i64>,
    mut pushed: Option<futures::stream::BoxStream<'static, ()>>,
) {
    let mut last_resync = Instant::now();
    loop {
        match &mut pushed {
            Some(stream) => {
                tokio::select! {
                    next = stream.next() => if next.is_none() {
                        tracing::warn!("lost the key-change notifications; polling every second");
                        pushed = None;
                    },
                    _ = tokio::time::sleep(POLL_INTERVAL) => {}
                }
            }
            None => tokio::time::sleep(POLL_INTERVAL).await,
        }
        let Some(authenticator) = authenticator.upgrade() else {
            return;
        };
        if last_resync.elapsed() >= FULL_RESYNC_INTERVAL {
            authenticator.resync().await;
            last_resync = Instant::now();
        }
        let since = (newest - CHANGE_LOOKBACK).max(0);
        match authenticator.store.key_changes_since(since).await {
            Ok(changes) => {
                for change in changes {
                    if applied.insert(change.seq) {
                        tracing::debug!(seq = change.seq, key = %change.key_id, change = %change.change, "applying key change");
                        authenticator.refresh(&change.key_id).await;
                    }
                    newest = newest.max(change.seq);
                }
                // Forget what has fallen out of the window.
                let floor = (newest - CHANGE_LOOKBACK).max(0);
                applied = applied.split_off(&floor);
            }
            Err(error) => tracing::warn!(%error, "cannot read key changes; will retry"),
        }
    }
}

/// Write last-used times in batches, off the request path.
async fn flush_uses(authenticator: std::sync::Weak<ApiKeyAuthenticator>) {
    loop {
        tokio::time::sleep(USE_FLUSH_INTERVAL).await;
        let Some(authenticator) = authenticator.upgrade() else {
            return;
        };
        let mut uses: Vec<(String, SystemTime)> = authenticator
            .dropped_uses
            .lock()
            .map(|mut dropped| std::mem::take(&mut *dropped))
            .unwrap_or_default();
        if let Ok(known) = authenticator.known.read() {
            uses.extend(
                known
                    .values()
                    .filter_map(|cached| Some((cached.record.id.clone(), cached.take_use()?))),
            );
        }
        let uses: Vec<(String, String)> = uses
            .into_iter()
            .map(|(id, at)| (id, format_rfc3339(at)))
            .collect();
        if !uses.is_empty()
            && let Err(error) = authenticator.store.record_key_uses(&uses).await
        {
            tracing::warn!(%error, "cannot record key use times");
        }
    }
}
