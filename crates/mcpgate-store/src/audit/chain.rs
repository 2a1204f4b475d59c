//! The hash chain.

use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The end of the chain: the last record's sequence number and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The last sequence number (0 when the log is empty).
    pub seq: i64,
    /// The last hash ([`GENESIS_HASH`] when empty).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty log.
    pub fn genesis() -> Self {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH.to_owned(),
        }
    }
}

/// The hash of record `seq` with `body`, following the record whose hash is
/// `prev_hash`: hex SHA-256 of `prev_hash | seq | body`.
///
/// ```
/// use mcpgate_store::audit::{GENESIS_HASH, link_hash};
/// let first = link_hash(GENESIS_HASH, 1, "{}");
/// assert_eq!(first.len(), 64);
/// assert_ne!(first, link_hash(GENESIS_HASH, 2, "{}"), "the position is part of the hash");
/// ```
pub fn link_hash(prev_hash: &str, seq: i64, body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(b"|");
    hasher.update(seq.to_string().as_bytes());
    hasher.update(b"|");
    hasher.update(body.as_bytes());
    hex::encode(hasher.finalize())
}
