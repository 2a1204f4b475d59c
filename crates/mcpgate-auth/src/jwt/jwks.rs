//! An issuer's signing keys, fetched from its JWKS document and refetched
//! (rate-limited) when a token names a key we do not have — which is how
//! key rotation at the identity provider reaches us.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Mutex;

/// The least time between two fetches of one JWKS document. Short enough
/// that a token signed with a freshly rotated key is accepted within
/// seconds; long enough that tokens naming made-up key ids cost at most one
/// fetch per interval.
const MIN_REFETCH: Duration = Duration::from_secs(2);
/// The largest JWKS document accepted.
const MAX_JWKS_BYTES: usize = 256 * 1024;

/// The keys of one issuer, by key id.
pub(crate) struct Jwks {
    uri: String,
    client: reqwest::Client,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    /// When the last fetch started; also serialises fetches.
    last_fetch: Mutex<Option<Instant>>,
}

impl Jwks {
    pub(crate) fn new(uri: String, client: reqwest::Client) -> Self {
        Jwks {
            uri,
            client,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
        }
    }

    /// The key `kid`, fetching the document again if it is unknown and the
    /// last fetch is old enough. `None` when the issuer does not have it.
    pub(crate) async fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        {
            let mut last = self.last_fetch.lock().await;
            // Someone else may have fetched while we waited.
            if let Some(key) = self.cached(kid) {
                return Some(key);
            }
            if last.is_some_and(|at| at.elapsed() < MIN_REFETCH) {
                return None;
            }
            *last = Some(Instant::now());
            if let Err(error) = self.fetch().await {
                tracing::warn!(uri = %self.uri, %error, "cannot fetch the issuer's JWKS");
            }
        }
        self.cached(kid)
    }

    fn cached(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        self.keys.read().ok()?.get(kid).cloned()
    }

    async fn fetch(&self) -> Result<(), String> {
        let mut response = self
            .client
            .get(&self.uri)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| e.without_url().to_string())?
        {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(format!(
                    "the JWKS document is larger than {MAX_JWKS_BYTES} bytes"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("not a JWKS document: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, Arc::new(key));
                }
                Err(error) => tracing::debug!(%kid, %error, "skipping a JWK mcpgate cannot use"),
            }
        }
        tracing::info!(uri = %self.uri, keys = keys.len(), "fetched the issuer's signing keys");
        if let Ok(mut current) = self.keys.write() {
            *current = keys;
        }
        Ok(())
    }
}
