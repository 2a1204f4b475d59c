//! Signing and checking checkpoints with Ed25519.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::Checkpoint;

/// Why a checkpoint key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointKeyError {
    /// Not base64, or not 32 bytes.
    #[error(
        "an audit signing key must be 32 bytes in base64 (generate one with `mcpgate audit keygen`)"
    )]
    Malformed,
    /// The system's random source failed.
    #[error("cannot generate a key: {0}")]
    Random(String),
}

/// What is signed for a checkpoint: domain, sequence number and hash.
pub fn checkpoint_message(seq: i64, hash: &str) -> String {
    format!("mcpgate-audit-checkpoint|{seq}|{hash}")
}

/// Signs checkpoints with an Ed25519 key.
pub struct CheckpointSigner {
    key: SigningKey,
    key_id: String,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CheckpointSigner({})", self.key_id)
    }
}

impl CheckpointSigner {
    /// A signer from a base64 32-byte seed (what `audit keygen` prints).
    pub fn from_base64(seed: &str) -> Result<Self, CheckpointKeyError> {
        let bytes = STANDARD
            .decode(seed.trim())
            .map_err(|_| CheckpointKeyError::Malformed)?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CheckpointKeyError::Malformed)?;
        Ok(Self::from_seed(seed))
    }

    /// A fresh random key; returns the signer and its base64 seed.
    pub fn generate() -> Result<(Self, String), CheckpointKeyError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| CheckpointKeyError::Random(e.to_string()))?;
        Ok((Self::from_seed(seed), STANDARD.encode(seed)))
    }

    fn from_seed(seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        let key_id = key_id(&key.verifying_key());
        CheckpointSigner { key, key_id }
    }

    /// The public half, for verifiers.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// The public key in base64, to hand to auditors.
    pub fn public_key_base64(&self) -> String {
        STANDARD.encode(self.key.verifying_key().as_bytes())
    }

    /// Sign the chain up to `seq` whose hash is `hash`.
    pub fn sign(&self, seq: i64, hash: &str, time: String) -> Checkpoint {
        let signature = self.key.sign(checkpoint_message(seq, hash).as_bytes());
        Checkpoint {
            seq,
            hash: hash.to_owned(),
            key_id: self.key_id.clone(),
            signature: STANDARD.encode(signature.to_bytes()),
            time,
        }
    }
}

/// A fingerprint of a public key: the first 16 hex digits of its SHA-256.
pub(crate) fn key_id(key: &VerifyingKey) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))[..16].to_owned()
}

/// A public key from base64.
pub fn verifying_key_from_base64(text: &str) -> Result<VerifyingKey, CheckpointKeyError> {
    let bytes = STANDARD
        .decode(text.trim())
        .map_err(|_| CheckpointKeyError::Malformed)?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| CheckpointKeyError::Malformed)?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| CheckpointKeyError::Malformed)
}

/// Whether `checkpoint` carries a valid signature by `key`.
pub(crate) fn signature_is_valid(checkpoint: &Checkpoint, key: &VerifyingKey) -> bool {
    let Ok(bytes) = STANDARD.decode(&checkpoint.signature) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(&bytes) else {
        return false;
    };
    key.verify(
        checkpoint_message(checkpoint.seq, &checkpoint.hash).as_bytes(),
        &signature,
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_check_out_and_forgeries_do_not() {
        let (signer, seed) = CheckpointSigner::generate().unwrap();
        let again = CheckpointSigner::from_base64(&seed).unwrap();
        assert_eq!(signer.public_key_base64(), again.public_key_base64());
        let checkpoint = signer.sign(7, "abc", "t".into());
        let key = verifying_key_from_base64(&signer.public_key_base64()).unwrap();
        assert!(signature_is_valid(&checkpoint, &key));
        let mut moved = checkpoint.clone();
        moved.seq = 6;
        assert!(
            !signature_is_valid(&moved, &key),
            "a signature covers the sequence number"
        );
        let (other, _) = CheckpointSigner::generate().unwrap();
        assert!(!signature_is_valid(&checkpoint, &other.verifying_key()));
        assert!(CheckpointSigner::from_base64("too short").is_err());
    }
}
