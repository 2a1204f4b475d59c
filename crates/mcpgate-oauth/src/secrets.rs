//! Random secrets, their hashes, and sealing the one secret the server must
//! be able to read back (the upstream identity provider's refresh token).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A fresh random secret: 256 bits, base64url, with a prefix that says what
/// it is (`mcpgr_` refresh token, `mcpgc_` code, …) so a leaked one is
/// recognisable by secret scanners.
pub fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random public identifier (`grant_…`, `mcpc_…`): 128 bits, hex.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{prefix}{}", hex::encode(bytes))
}

/// How a secret is stored: SHA-256, hex. The secrets are 256-bit random
/// values, so a plain hash cannot be reversed by guessing.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Encrypts and decrypts small values with AES-256-GCM under a key derived
/// from the server's secret, so a copy of the database alone does not
/// reveal them.
pub struct Sealer {
    key: LessSafeKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// A sealer keyed by SHA-256 of `purpose` and `secret`.
    pub fn new(secret: &[u8], purpose: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(purpose.as_bytes());
        hasher.update([0]);
        hasher.update(secret);
        let key = UnboundKey::new(&AES_256_GCM, &hasher.finalize())
            .expect("a 32-byte key is valid for AES-256-GCM");
        Sealer {
            key: LessSafeKey::new(key),
        }
    }

    /// `plaintext` sealed: nonce and ciphertext, base64url.
    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source failed");
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut data)
            .expect("sealing a small value cannot fail");
        let mut out = nonce.to_vec();
        out.extend(data);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// The plaintext of a value [`Sealer::seal`] made with the same key;
    /// `None` when it was altered or sealed with another key.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < NONCE_LEN {
            return None;
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = rest.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut data)
            .ok()?;
        String::from_utf8(plain.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_prefixed() {
        let a = random_secret("mcpgr_");
        let b = random_secret("mcpgr_");
        assert_ne!(a, b);
        assert!(a.starts_with("mcpgr_") && a.len() == 6 + 43);
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_unaltered() {
        let sealer = Sealer::new(b"server secret 0123456789abcdef!!", "upstream refresh");
        let sealed = sealer.seal("refresh-token-value");
        assert!(!sealed.contains("refresh-token-value"));
        assert_eq!(sealer.open(&sealed).as_deref(), Some("refresh-token-value"));
        let other = Sealer::new(b"another secret 0123456789abcdef!", "upstream refresh");
        assert_eq!(other.open(&sealed), None);
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(sealer.open(&String::from_utf8(tampered).unwrap()), None);
    }
}
