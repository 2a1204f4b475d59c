//! The audit log: what is stored, how records are chained and signed, the
//! batching writer, and the verifier.
//!
//! Every record holds the hash of the one before it, so editing, deleting
//! or reordering a record breaks the chain at that record. Signed
//! checkpoints (Ed25519 over a sequence number and hash) let a verifier
//! also detect that records were cut off the end.

mod chain;
mod checkpoint;
mod entry;
mod verify;
mod writer;

pub use chain::{ChainHead, GENESIS_HASH, link_hash};
pub use checkpoint::{
    CheckpointKeyError, CheckpointSigner, checkpoint_message, verifying_key_from_base64,
};
pub use ed25519_dalek::VerifyingKey;
pub use entry::{AuditEntry, AuditFilter, AuditRecord, Checkpoint};
pub use verify::{Problem, VerifyReport, verify_chain};
pub use writer::{AuditError, AuditHealth, AuditLog, AuditLogOptions, AuditWriter, Enqueued};
