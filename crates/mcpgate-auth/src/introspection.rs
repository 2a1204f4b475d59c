//! Opaque OAuth access tokens, checked with the authorization server's
//! introspection endpoint (RFC 7662).
//!
//! An active answer is remembered for at most a minute (never past the
//! token's `exp`), so a token revoked at the authorization server stops
//! working here within a minute without asking on every request. Tokens
//! must be bound to this gateway (`aud`, RFC 8707).

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcpgate_core::{AuthMethod, Identity};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::authenticate::AuthError;
use crate::jwt::MAX_TOKEN_BYTES;

/// The longest an introspection answer is trusted.
const ACTIVE_TTL: Duration = Duration::from_secs(60);
/// How long a token found inactive is not asked about again.
const INACTIVE_TTL: Duration = Duration::from_secs(5);
/// Most answers remembered at once (each kind).
const CACHE_CAPACITY: usize = 100_000;
/// The least time between two discovery attempts after a failure.
const DISCOVERY_RETRY: Duration = Duration::from_secs(10);

/// How to reach one authorization server's introspection endpoint.
pub struct IntrospectionConfig {
    /// The authorization server's issuer identifier.
    pub issuer: String,
    /// The endpoint; discovered from the issuer's metadata when absent.
    pub endpoint: Option<String>,
    /// The gateway's client id at the authorization server.
    pub client_id: String,
    /// Its secret (client_secret_basic).
    pub client_secret: SecretString,
    /// Accepted `aud` values: this gateway's resource URL.
    pub audiences: Vec<String>,
}

/// Checks opaque tokens with one authorization server.
pub struct Introspector {
    config: IntrospectionConfig,
    client: reqwest::Client,
    endpoint: OnceCell<String>,
    discovery_failed_at: Mutex<Option<Instant>>,
    active: RwLock<HashMap<[u8; 32], (Identity, Instant)>>,
    inactive: Mutex<HashMap<[u8; 32], Instant>>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Introspector({})", self.config.issuer)
    }
}

impl Introspector {
    /// An introspector for `config`.
    pub fn new(config: IntrospectionConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Introspector {
            config,
            client,
            endpoint: OnceCell::new(),
            discovery_failed_at: Mutex::new(None),
            active: RwLock::new(HashMap::new()),
            inactive: Mutex::new(HashMap::new()),
        })
    }

    /// The authorization server's issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Check `token`; `Invalid` when the server says it is not active (or
    /// not for this gateway), `Unavailable` when the server cannot be asked.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let invalid = |why: &str| AuthError::Invalid(why.to_owned());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("token too large"));
        }
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = SystemTime::now();
        if let Some((identity, since)) = self
            .active
            .read()
            .ok()
            .and_then(|cache| cache.get(&fingerprint).cloned())
            && since.elapsed() < ACTIVE_TTL
            && identity.expires_at.is_none_or(|expiry| expiry > now)
        {
            return Ok(identity);
        }
        let recently_inactive = self
            .inactive
            .lock()
            .ok()
            .and_then(|cache| cache.get(&fingerprint).copied())
            .is_some_and(|since| since.elapsed() < INACTIVE_TTL);
        if recently_inactive {
            return Err(invalid("token not active"));
        }
        let answer = self.introspect(token).await?;
        match self.identity_from(&answer, now) {
            Ok(identity) => {
                if let Ok(mut cache) = self.active.write() {
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(fingerprint, (identity.clone(), Instant::now()));
                }
                Ok(identity)
            }
            Err(error) => {
                if let Ok(mut cache) = self.inactive.lock() {
                    if cache.len() >= CACHE_CAPACITY {
                        cache.clear();
                    }
                    cache.insert(fingerprint, Instant::now());
                }
                Err(error)
            }
        }
    }

    async fn introspect(&self, token: &str) -> Result<Value, AuthError> {
        let unavailable = |why: String| AuthError::Unavailable(why);
        let endpoint = self.endpoint().await?;
        let response = self
            .client
            .post(endpoint)
            .basic_auth(
                &self.config.client_id,
                Some(self.config.client_secret.expose_secret()),
            )
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| {
                unavailable(format!(
                    "cannot reach the introspection endpoint: {}",
                    e.without_url()
                ))
            })?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "the introspection endpoint answered HTTP {}",
                response.status()
            )));
        }
        response.json::<Value>().await.map_err(|e| {
            unavailable(format!(
                "the introspection answer is not JSON: {}",
                e.without_url()
            ))
        })
    }

    async fn endpoint(&self) -> Result<&String, AuthError> {
        if let Some(endpoint) = self.endpoint.get() {
            return Ok(endpoint);
        }
        let recently_failed = self
            .discovery_failed_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() < DISCOVERY_RETRY);
        if recently_failed {
            return Err(AuthError::Unavailable(format!(
                "the introspection endpoint of {} is not known yet",
                self.config.issuer
            )));
        }
        self.endpoint
            .get_or_try_init(|| async {
                match &self.config.endpoint {
                    Some(endpoint) => Ok(endpoint.clone()),
                    None => self.discover().await.inspect_err(|_| {
                        if let Ok(mut at) = self.discovery_failed_at.lock() {
                            *at = Some(Instant::now());
                        }
                    }),
                }
            })
            .await
    }

    async fn discover(&self) -> Result<String, AuthError> {
        let base = self.config.issuer.trim_end_matches('/');
        for path in [
            "/.well-known/oauth-authorization-server",
            "/.well-known/openid-configuration",
        ] {
            let Ok(response) = self.client.get(format!("{base}{path}")).send().await else {
                continue;
            };
            let Ok(metadata) = response.json::<Value>().await else {
                continue;
            };
            if metadata.get("issuer").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
                continue;
            }
            if let Some(endpoint) = metadata
                .get("introspection_endpoint")
                .and_then(Value::as_str)
            {
                return Ok(endpoint.to_owned());
            }
        }
        Err(AuthError::Unavailable(format!(
            "cannot discover the introspection endpoint of {}",
            self.config.issuer
        )))
    }

    fn identity_from(&self, answer: &Value, now: SystemTime) -> Result<Identity, AuthError> {
        let invalid = |why: &str| AuthError::Invalid(why.to_owned());
        if answer.get("active").and_then(Value::as_bool) != Some(true) {
            return Err(invalid("token not active"));
        }
        let audiences: Vec<&str> = match answer.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences
            .iter()
            .any(|aud| self.config.audiences.iter().any(|ours| ours == aud))
        {
            return Err(invalid("token not issued for this gateway (aud)"));
        }
        if let Some(iss) = answer.get("iss").and_then(Value::as_str)
            && iss != self.config.issuer
        {
            return Err(invalid("token from another issuer"));
        }
        let expires_at = answer
            .get("exp")
            .and_then(Value::as_u64)
            .map(|exp| UNIX_EPOCH + Duration::from_secs(exp));
        if expires_at.is_some_and(|expiry| expiry <= now) {
            return Err(invalid("token expired"));
        }
        let text = |key: &str| answer.get(key).and_then(Value::as_str).map(str::to_owned);
        let subject = text("sub")
            .or_else(|| text("client_id"))
            .ok_or_else(|| invalid("the token has no subject"))?;
        let mut identity = Identity::new(subject, AuthMethod::OAuth);
        identity.client_id = text("client_id");
        identity.credential_id = text("jti");
        identity.scopes = text("scope")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        identity.expires_at = expires_at;
        Ok(identity)
    }
}
