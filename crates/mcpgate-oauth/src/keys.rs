//! The keys access tokens are signed with: Ed25519, the first key signs,
//! every key is published in the JWKS. Rotation: put the new key first and
//! keep the old one listed until the tokens it signed have expired (one
//! access-token lifetime), then remove it.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// One signing key.
pub struct SigningKey {
    /// Key id: the first 16 hex digits of SHA-256 of the public key.
    pub kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    public_x: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.kid)
    }
}

/// Why a key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not base64 of 32 bytes.
    #[error(
        "an authorization-server signing key is the base64 of a 32-byte Ed25519 seed \
         (make one with `mcpgate audit keygen`)"
    )]
    Malformed,
    /// No key at all.
    #[error("the authorization server needs at least one signing key")]
    None,
}

impl SigningKey {
    /// The key whose seed is `seed_base64` (standard base64, 32 bytes).
    pub fn from_seed_base64(seed_base64: &str) -> Result<Self, KeyError> {
        let seed = STANDARD
            .decode(seed_base64.trim())
            .map_err(|_| KeyError::Malformed)?;
        if seed.len() != 32 {
            return Err(KeyError::Malformed);
        }
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed).map_err(|_| KeyError::Malformed)?;
        let pkcs8 = pair.to_pkcs8v1().map_err(|_| KeyError::Malformed)?;
        let public = pair.public_key().as_ref().to_vec();
        let public_x = URL_SAFE_NO_PAD.encode(&public);
        Ok(SigningKey {
            kid: hex::encode(&Sha256::digest(&public)[..8]),
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            decoding: DecodingKey::from_ed_components(&public_x)
                .map_err(|_| KeyError::Malformed)?,
            public_x,
        })
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.public_x,
            "kid": self.kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

/// The signing key and the keys still published.
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<SigningKey>,
}

impl KeySet {
    /// `keys[0]` signs; all are published and accepted.
    pub fn new(keys: Vec<SigningKey>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::None);
        }
        Ok(KeySet { keys })
    }

    /// The key new tokens are signed with.
    pub fn current(&self) -> (&str, &EncodingKey) {
        (&self.keys[0].kid, &self.keys[0].encoding)
    }

    /// The published key `kid`.
    pub fn decoding(&self, kid: &str) -> Option<&DecodingKey> {
        self.keys.iter().find(|k| k.kid == kid).map(|k| &k.decoding)
    }

    /// The JWKS document.
    pub fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(SigningKey::jwk).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_make_stable_keys_and_bad_seeds_are_refused() {
        let seed = STANDARD.encode([7u8; 32]);
        let a = SigningKey::from_seed_base64(&seed).unwrap();
        let b = SigningKey::from_seed_base64(&seed).unwrap();
        assert_eq!(a.kid, b.kid);
        assert_eq!(a.jwk()["x"].as_str().unwrap().len(), 43);
        assert!(SigningKey::from_seed_base64("not base64!").is_err());
        assert!(SigningKey::from_seed_base64(&STANDARD.encode([1u8; 16])).is_err());
        assert!(KeySet::new(Vec::new()).is_err());
    }
}
