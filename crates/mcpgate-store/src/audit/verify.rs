//! Checking the whole chain and its checkpoints.

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use super::chain::{GENESIS_HASH, link_hash};
use super::checkpoint::{key_id, signature_is_valid};
use super::{AuditFilter, AuditRecord};
use crate::{Store, StoreError};

/// Records read per query while verifying.
const PAGE: i64 = 1_000;
/// Problems listed before the verifier stops collecting.
const MAX_PROBLEMS: usize = 100;

/// Something wrong with the log, naming the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A record whose sequence number comes before where the chain is
    /// (below 1, or repeated): it was inserted.
    OutOfSequence {
        /// The record.
        seq: i64,
    },
    /// Sequence numbers jump: records are missing.
    Missing {
        /// The first missing sequence number.
        from: i64,
        /// The next one present.
        to: i64,
    },
    /// The record does not point at the record before it.
    BrokenLink {
        /// The record.
        seq: i64,
    },
    /// The stored hash is not the hash of the record's content.
    HashMismatch {
        /// The record.
        seq: i64,
    },
    /// A filterable column disagrees with the (hashed) body.
    ColumnMismatch {
        /// The record.
        seq: i64,
        /// The column.
        column: &'static str,
    },
    /// A checkpoint's signature does not verify.
    BadSignature {
        /// The checkpoint's sequence number.
        seq: i64,
    },
    /// A checkpoint was signed by a key other than the one given.
    UnknownKey {
        /// The checkpoint's sequence number.
        seq: i64,
        /// Its key id.
        key_id: String,
    },
    /// The record a checkpoint covers has another hash now.
    CheckpointMismatch {
        /// The checkpoint's sequence number.
        seq: i64,
    },
    /// A checkpoint covers records that no longer exist: the log was cut.
    Truncated {
        /// The checkpoint's sequence number.
        checkpoint: i64,
        /// The last record present.
        last: i64,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing { from, to } if from + 1 == *to => {
                write!(f, "record {from} is missing")
            }
            Problem::Missing { from, to } => write!(f, "records {from} to {} are missing", to - 1),
            Problem::OutOfSequence { seq } => {
                write!(
                    f,
                    "record {seq} is out of sequence (inserted outside the chain)"
                )
            }
            Problem::BrokenLink { seq } => {
                write!(
                    f,
                    "record {seq} does not follow record {} (edited, reordered or inserted)",
                    seq - 1
                )
            }
            Problem::HashMismatch { seq } => write!(
                f,
                "record {seq} was altered: its hash does not match its content"
            ),
            Problem::ColumnMismatch { seq, column } => {
                write!(
                    f,
                    "record {seq} was altered: column `{column}` disagrees with the signed body"
                )
            }
            Problem::BadSignature { seq } => {
                write!(f, "the checkpoint at record {seq} has an invalid signature")
            }
            Problem::UnknownKey { seq, key_id } => {
                write!(
                    f,
                    "the checkpoint at record {seq} was signed by an unknown key {key_id}"
                )
            }
            Problem::CheckpointMismatch { seq } => {
                write!(
                    f,
                    "record {seq} differs from what its signed checkpoint covers (chain rewritten)"
                )
            }
            Problem::Truncated { checkpoint, last } => write!(
                f,
                "the log was truncated: a checkpoint covers record {checkpoint} but the last record is {last}"
            ),
        }
    }
}

/// The verifier's findings.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Records read.
    pub records: i64,
    /// The last sequence number present.
    pub last_seq: i64,
    /// Checkpoints read.
    pub checkpoints: usize,
    /// The highest sequence number covered by a valid checkpoint.
    pub last_signed_seq: Option<i64>,
    /// What is wrong, in log order (chain first, then checkpoints).
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Read the whole log and its checkpoints and report every inconsistency.
/// Without `key`, signatures are not checked (but checkpoint hashes are).
pub async fn verify_chain(
    store: &dyn Store,
    key: Option<&VerifyingKey>,
) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport::default();
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut hashes = std::collections::HashMap::new();
    let checkpoints = store.checkpoints().await?;
    let wanted: std::collections::HashSet<i64> = checkpoints.iter().map(|c| c.seq).collect();
    loop {
        let filter = AuditFilter {
            // The first page starts before 1 so that forged records with
            // a sequence number below 1 are read too.
            after_seq: (report.records > 0).then_some(report.last_seq),
            limit: Some(PAGE),
            ..AuditFilter::default()
        };
        let page = store.audit_records(&filter).await?;
        if page.is_empty() {
            break;
        }
        for record in &page {
            check_record(record, &mut expected_seq, &mut prev_hash, &mut report);
            if wanted.contains(&record.seq) {
                hashes.insert(record.seq, record.hash.clone());
            }
            report.records += 1;
            report.last_seq = record.seq;
        }
        if report.problems.len() >= MAX_PROBLEMS {
            break;
        }
    }

    report.checkpoints = checkpoints.len();
    for checkpoint in &checkpoints {
        if let Some(key) = key {
            if checkpoint.key_id != key_id(key) {
                report.problems.push(Problem::UnknownKey {
                    seq: checkpoint.seq,
                    key_id: checkpoint.key_id.clone(),
                });
                continue;
            }
            if !signature_is_valid(checkpoint, key) {
                report.problems.push(Problem::BadSignature {
                    seq: checkpoint.seq,
                });
                continue;
            }
        }
        match hashes.get(&checkpoint.seq) {
            Some(hash) if *hash == checkpoint.hash => {
                report.last_signed_seq =
                    Some(report.last_signed_seq.unwrap_or(0).max(checkpoint.seq));
            }
            Some(_) => report.problems.push(Problem::CheckpointMismatch {
                seq: checkpoint.seq,
            }),
            None if checkpoint.seq > report.last_seq => report.problems.push(Problem::Truncated {
                checkpoint: checkpoint.seq,
                last: report.last_seq,
            }),
            // The record is missing; the chain check already reported it.
            None => {}
        }
    }
    report.problems.truncate(MAX_PROBLEMS);
    Ok(report)
}

fn check_record(
    record: &AuditRecord,
    expected_seq: &mut i64,
    prev_hash: &mut String,
    report: &mut VerifyReport,
) {
    if record.seq < *expected_seq {
        // Not part of the chain: report it and keep the chain's position.
        report
            .problems
            .push(Problem::OutOfSequence { seq: record.seq });
        return;
    }
    if record.seq > *expected_seq {
        report.problems.push(Problem::Missing {
            from: *expected_seq,
            to: record.seq,
        });
    } else if record.prev_hash != *prev_hash {
        report
            .problems
            .push(Problem::BrokenLink { seq: record.seq });
    }
    if link_hash(&record.prev_hash, record.seq, &record.entry.body) != record.hash {
        report
            .problems
            .push(Problem::HashMismatch { seq: record.seq });
    }
    if let Some(column) = column_disagreeing_with_body(record) {
        report.problems.push(Problem::ColumnMismatch {
            seq: record.seq,
            column,
        });
    }
    // Continue from this record so one bad record is reported once.
    *expected_seq = record.seq + 1;
    *prev_hash = record.hash.clone();
}

fn column_disagreeing_with_body(record: &AuditRecord) -> Option<&'static str> {
    let Ok(body) = serde_json::from_str::<Value>(&record.entry.body) else {
        return Some("body");
    };
    let entry = &record.entry;
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    let decision = body.pointer("/decision/decision").and_then(Value::as_str);
    [
        ("time", text("time") == Some(entry.time.as_str())),
        (
            "request_id",
            text("request_id") == Some(entry.request_id.as_str()),
        ),
        ("subject", text("subject") == Some(entry.subject.as_str())),
        (
            "auth_method",
            text("auth_method") == Some(entry.auth_method.as_str()),
        ),
        ("tool", text("tool") == entry.tool.as_deref()),
        ("decision", decision == Some(entry.decision.as_str())),
        ("outcome", text("outcome") == Some(entry.outcome.as_str())),
    ]
    .into_iter()
    .find(|(_, agrees)| !agrees)
    .map(|(column, _)| column)
}
