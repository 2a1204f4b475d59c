//! JWTs from identity providers: signature by the issuer's published keys,
//! algorithms pinned per issuer (never `none`, never a shared-secret HS*),
//! `iss`, `aud` (this gateway's resource URL, RFC 8707), `exp` and `nbf`
//! with a small leeway, and claims mapped to subject, scopes, groups and
//! roles. A verified token is remembered until it expires, so the hot path
//! neither fetches keys nor verifies a signature twice.

mod jwks;

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, Validation};
use mcpgate_core::{AuthMethod, Identity};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use crate::authenticate::AuthError;
use jwks::Jwks;

/// The longest token accepted; a larger one is refused unread.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Most verified tokens remembered at once.
const CACHE_CAPACITY: usize = 100_000;

/// How one issuer's tokens are checked and read.
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    /// The exact `iss` value.
    pub issuer: String,
    /// The JWKS document; when absent it is found by OpenID Connect
    /// (then RFC 8414) discovery under the issuer URL.
    pub jwks_uri: Option<String>,
    /// Accepted `aud` values: this gateway's resource URL.
    pub audiences: Vec<String>,
    /// Accepted signature algorithms (asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// Clock leeway for `exp` and `nbf`.
    pub leeway: Duration,
    /// Claims that carry scopes (space-separated string or array).
    pub scope_claims: Vec<String>,
    /// The claim that carries groups.
    pub groups_claim: Option<String>,
    /// The claim that carries roles.
    pub roles_claim: Option<String>,
}

/// Why a JWT configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    /// An algorithm that must never be accepted.
    #[error(
        "algorithm {0:?} is not allowed for identity-provider tokens: use RS256, ES256, PS256 or EdDSA"
    )]
    ForbiddenAlgorithm(Algorithm),
    /// No algorithm, or no audience.
    #[error("{0}")]
    Incomplete(&'static str),
}

struct Issuer {
    config: IssuerConfig,
    jwks: OnceCell<Jwks>,
    /// One validation per pinned algorithm: jsonwebtoken requires every
    /// algorithm of a validation to match the key's family, and the
    /// header's algorithm is the one checked against the pin.
    validations: HashMap<Algorithm, Validation>,
    /// When discovery last failed: retried at most every
    /// [`DISCOVERY_RETRY`], so an unreachable IdP is not asked on every
    /// request.
    discovery_failed_at: std::sync::Mutex<Option<std::time::Instant>>,
}

/// The least time between two discovery attempts after a failure.
const DISCOVERY_RETRY: Duration = Duration::from_secs(10);

/// Verifies JWTs from the configured issuers.
pub struct JwtVerifier {
    issuers: Vec<Issuer>,
    client: reqwest::Client,
    verified: RwLock<HashMap<[u8; 32], Identity>>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let issuers: Vec<&str> = self
            .issuers
            .iter()
            .map(|i| i.config.issuer.as_str())
            .collect();
        write!(f, "JwtVerifier({issuers:?})")
    }
}

impl JwtVerifier {
    /// A verifier for `issuers`. Keys are fetched on first use.
    pub fn new(issuers: Vec<IssuerConfig>) -> Result<Self, JwtConfigError> {
        let mut prepared = Vec::new();
        for config in issuers {
            if config.algorithms.is_empty() {
                return Err(JwtConfigError::Incomplete(
                    "an issuer needs at least one algorithm",
                ));
            }
            if config.audiences.is_empty() {
                return Err(JwtConfigError::Incomplete(
                    "an issuer needs the audience (this gateway's resource URL)",
                ));
            }
            if let Some(bad) = config
                .algorithms
                .iter()
                .find(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
            {
                return Err(JwtConfigError::ForbiddenAlgorithm(*bad));
            }
            let validations = config
                .algorithms
                .iter()
                .map(|algorithm| {
                    let mut validation = Validation::new(*algorithm);
                    validation.set_issuer(&[&config.issuer]);
                    validation.set_audience(&config.audiences);
                    validation.leeway = config.leeway.as_secs();
                    validation.validate_nbf = true;
                    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
                    (*algorithm, validation)
                })
                .collect();
            prepared.push(Issuer {
                config,
                jwks: OnceCell::new(),
                validations,
                discovery_failed_at: std::sync::Mutex::new(None),
            });
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| JwtConfigError::Incomplete("cannot build the HTTP client"))?;
        Ok(JwtVerifier {
            issuers: prepared,
            client,
            verified: RwLock::new(HashMap::new()),
        })
    }

    /// The configured issuers, for protected resource metadata.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|i| i.config.issuer.as_str())
    }

    /// Verify `token` and return who it speaks for.
    pub async fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let invalid = |why: &str| AuthError::Invalid(why.to_owned());
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid("token too large"));
        }
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = SystemTime::now();
        if let Some(identity) = self
            .verified
            .read()
            .ok()
            .and_then(|cache| cache.get(&fingerprint).cloned())
            && identity.expires_at.is_some_and(|expiry| expiry > now)
        {
            return Ok(identity);
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| invalid(&format!("malformed JWT header: {e}")))?;
        // The issuer is read before the signature is checked only to pick
        // whose keys to check it with; nothing else is trusted yet.
        let unverified: Map<String, Value> = jsonwebtoken::dangerous::insecure_decode_claims(token)
            .map_err(|e| invalid(&format!("malformed JWT claims: {e}")))?;
        let iss = unverified
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.config.issuer == iss)
            .ok_or_else(|| invalid("unknown issuer"))?;
        let validation = issuer.validations.get(&header.alg).ok_or_else(|| {
            invalid(&format!(
                "algorithm {:?} is not accepted for this issuer",
                header.alg
            ))
        })?;
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| invalid("the token names no key (kid)"))?;
        let recently_failed = issuer
            .discovery_failed_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() < DISCOVERY_RETRY);
        if recently_failed && !issuer.jwks.initialized() {
            return Err(AuthError::Unavailable(format!(
                "the signing keys of issuer {iss} are not available yet"
            )));
        }
        let jwks = issuer
            .jwks
            .get_or_try_init(|| async {
                let uri = match &issuer.config.jwks_uri {
                    Some(uri) => uri.clone(),
                    None => discover_jwks_uri(&self.client, &issuer.config.issuer)
                        .await
                        .inspect_err(|_| {
                            if let Ok(mut at) = issuer.discovery_failed_at.lock() {
                                *at = Some(std::time::Instant::now());
                            }
                        })?,
                };
                Ok::<_, AuthError>(Jwks::new(uri, self.client.clone()))
            })
            .await?;
        let key = jwks
            .key(kid)
            .await
            .ok_or_else(|| invalid("unknown signing key"))?;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, validation)
            .map_err(|e| invalid(&format!("rejected: {e}")))?;
        let identity = identity_from(&issuer.config, data.claims)?;
        if let Ok(mut cache) = self.verified.write() {
            if cache.len() >= CACHE_CAPACITY {
                cache.retain(|_, identity| identity.expires_at.is_some_and(|expiry| expiry > now));
                if cache.len() >= CACHE_CAPACITY {
                    cache.clear();
                }
            }
            cache.insert(fingerprint, identity.clone());
        }
        Ok(identity)
    }
}

/// `jwks_uri` from the issuer's OpenID Connect or RFC 8414 metadata.
async fn discover_jwks_uri(client: &reqwest::Client, issuer: &str) -> Result<String, AuthError> {
    let base = issuer.trim_end_matches('/');
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let Ok(response) = client.get(format!("{base}{path}")).send().await else {
            continue;
        };
        if !response.status().is_success() {
            continue;
        }
        let Ok(metadata) = response.json::<Value>().await else {
            continue;
        };
        if metadata.get("issuer").and_then(Value::as_str) != Some(issuer) {
            // RFC 8414 §3.3: metadata for another issuer must not be used.
            continue;
        }
        if let Some(uri) = metadata.get("jwks_uri").and_then(Value::as_str) {
            return Ok(uri.to_owned());
        }
    }
    Err(AuthError::Unavailable(format!(
        "cannot discover the signing keys of issuer {issuer}"
    )))
}

fn identity_from(
    config: &IssuerConfig,
    mut claims: Map<String, Value>,
) -> Result<Identity, AuthError> {
    let text = |claims: &Map<String, Value>, key: &str| {
        claims.get(key).and_then(Value::as_str).map(str::to_owned)
    };
    let list = |value: Option<&Value>| -> Vec<String> {
        match value {
            Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    };
    let subject = text(&claims, "sub")
        .ok_or_else(|| AuthError::Invalid("the token has no subject".to_owned()))?;
    let mut identity = Identity::new(subject, AuthMethod::Jwt);
    identity.client_id = text(&claims, "client_id").or_else(|| text(&claims, "azp"));
    identity.credential_id = text(&claims, "jti");
    identity.scopes = config
        .scope_claims
        .iter()
        .flat_map(|claim| list(claims.get(claim)))
        .collect();
    identity.groups = config
        .groups_claim
        .as_deref()
        .map(|c| list(claims.get(c)))
        .unwrap_or_default()
        .into_iter()
        .collect();
    identity.roles = config
        .roles_claim
        .as_deref()
        .map(|c| list(claims.get(c)))
        .unwrap_or_default()
        .into_iter()
        .collect();
    identity.expires_at = claims
        .get("exp")
        .and_then(Value::as_u64)
        .map(|exp| UNIX_EPOCH + Duration::from_secs(exp));
    for registered in ["iss", "aud", "exp", "nbf", "iat"] {
        claims.remove(registered);
    }
    identity.claims = claims;
    Ok(identity)
}
