//! Access tokens: short-lived JWTs (RFC 9068 `at+jwt`) signed with the
//! server's Ed25519 key, bound to one resource (RFC 8707), naming the grant
//! they descend from so that revoking the grant ends them — and the
//! resource-server side that checks them on the hot path without touching
//! the database.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, Header, Validation};
use mcpgate_auth::{AuthError, BearerVerifier};
use mcpgate_core::{AuthMethod, Identity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::KeySet;

/// The `typ` header of access tokens (RFC 9068 §2.1): an ID token or any
/// other JWT signed with the same key is not an access token.
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// The longest token accepted.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Most verified tokens remembered at once.
const CACHE_CAPACITY: usize = 100_000;

/// What an access token says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// This authorization server.
    pub iss: String,
    /// The user, or the client itself for client credentials.
    pub sub: String,
    /// The one resource the token is for.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
    /// Issue time.
    pub iat: u64,
    /// Token id.
    pub jti: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// The grant the token descends from.
    pub gid: String,
    /// The user's groups at the identity provider.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The user's roles at the identity provider.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// Sign `claims` with the current key.
pub fn sign(keys: &KeySet, claims: &AccessClaims) -> String {
    let (kid, key) = keys.current();
    let mut header = Header::new(Algorithm::EdDSA);
    header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("signing with an Ed25519 key cannot fail")
}

/// Seconds since the epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks the server's own access tokens for the resource server.
pub struct AccessTokenVerifier {
    issuer: String,
    audiences: Vec<String>,
    keys: Arc<KeySet>,
    validation: Validation,
    revoked: RwLock<HashSet<String>>,
    verified: RwLock<HashMap<[u8; 32], (Identity, String)>>,
}

impl std::fmt::Debug for AccessTokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AccessTokenVerifier({})", self.issuer)
    }
}

impl AccessTokenVerifier {
    /// Tokens from `issuer`, signed by `keys`, for one of `audiences`.
    pub fn new(issuer: String, audiences: Vec<String>, keys: Arc<KeySet>) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&audiences);
        validation.leeway = 30;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        AccessTokenVerifier {
            issuer,
            audiences,
            keys,
            validation,
            revoked: RwLock::new(HashSet::new()),
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// From now on, refuse every token of grant `id`.
    pub fn revoke_grant(&self, id: &str) {
        if let Ok(mut revoked) = self.revoked.write() {
            revoked.insert(id.to_owned());
        }
    }

    /// Whether grant `id` is known to be revoked.
    pub fn is_revoked(&self, id: &str) -> bool {
        self.revoked.read().is_ok_and(|r| r.contains(id))
    }

    /// The claims of a valid token, signature and all; `None` otherwise.
    /// Revocation is not checked here.
    pub fn claims(&self, token: &str) -> Result<AccessClaims, String> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err("token too large".to_owned());
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| format!("malformed JWT header: {e}"))?;
        if header.alg != Algorithm::EdDSA {
            return Err(format!("algorithm {:?} is not accepted", header.alg));
        }
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err("not an access token (typ is not at+jwt)".to_owned());
        }
        let kid = header.kid.ok_or("the token names no key (kid)")?;
        let key = self.keys.decoding(&kid).ok_or("unknown signing key")?;
        jsonwebtoken::decode::<AccessClaims>(token, key, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| format!("rejected: {e}"))
    }

    fn identity(claims: AccessClaims) -> Identity {
        let mut identity = Identity::new(claims.sub, AuthMethod::OAuth);
        identity.client_id = Some(claims.client_id);
        // The grant, not the token: a refreshed token is the same credential
        // (an MCP session opened with it survives the refresh), and the
        // audit log names what `mcpgate tokens revoke --grant` takes.
        identity.credential_id = Some(claims.gid.clone());
        identity
            .claims
            .insert("token_id".to_owned(), claims.jti.into());
        identity.scopes = claims.scope.split_whitespace().map(str::to_owned).collect();
        identity.scope_limit = Some(identity.scopes.iter().cloned().collect::<BTreeSet<_>>());
        identity.groups = claims.groups.into_iter().collect();
        identity.roles = claims.roles.into_iter().collect();
        identity
            .claims
            .insert("grant_id".to_owned(), claims.gid.into());
        identity.expires_at = Some(UNIX_EPOCH + Duration::from_secs(claims.exp));
        identity
    }

    fn check(&self, token: &str) -> Result<Identity, AuthError> {
        let fingerprint: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = SystemTime::now();
        let cached = self
            .verified
            .read()
            .ok()
            .and_then(|cache| cache.get(&fingerprint).cloned());
        let (identity, grant) = match cached {
            Some((identity, grant)) if identity.expires_at.is_some_and(|e| e > now) => {
                (identity, grant)
            }
            _ => {
                let claims = self.claims(token).map_err(AuthError::Invalid)?;
                let grant = claims.gid.clone();
                let identity = Self::identity(claims);
                if let Ok(mut cache) = self.verified.write() {
                    if cache.len() >= CACHE_CAPACITY {
                        cache.retain(|_, (i, _)| i.expires_at.is_some_and(|e| e > now));
                        if cache.len() >= CACHE_CAPACITY {
                            cache.clear();
                        }
                    }
                    cache.insert(fingerprint, (identity.clone(), grant.clone()));
                }
                (identity, grant)
            }
        };
        if self.is_revoked(&grant) {
            return Err(AuthError::Invalid(
                "the token's grant was revoked".to_owned(),
            ));
        }
        Ok(identity)
    }

    /// The keys tokens are signed and checked with.
    pub fn keys(&self) -> Arc<KeySet> {
        self.keys.clone()
    }

    /// The issuer whose tokens are checked.
    pub fn issuer_id(&self) -> &str {
        &self.issuer
    }

    /// The resources tokens may be bound to.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }
}

impl BearerVerifier for AccessTokenVerifier {
    fn issuer(&self) -> &str {
        &self.issuer
    }

    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, AuthError>> {
        Box::pin(std::future::ready(self.check(token)))
    }
}
