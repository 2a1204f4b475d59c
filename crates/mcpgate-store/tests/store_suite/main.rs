//! The store suite: every test runs twice, as `…::sqlite::NAME` against a
//! fresh SQLite file and as `…::postgres::NAME` against a fresh schema in a
//! real PostgreSQL (see `tests/common/mod.rs` for the harness and for what
//! happens when PostgreSQL is unreachable).
//!
//! - `schema`: migrations.
//! - `chain`: append, head, queries, and the verifier on a clean log.
//! - `tamper`: the verifier against tampering done with raw SQL.
//! - `writer`: the batching writer (group commit, checkpoints, failure,
//!   several instances, throughput).
//!
//! The throughput figure is printed, not asserted:
//! `cargo test --release -p mcpgate-store --test store_suite throughput -- --nocapture`.

#[path = "../common/mod.rs"]
#[macro_use]
mod common;

mod chain;
mod oauth;
mod schema;
mod tamper;
mod writer;

use std::time::Duration;

use mcpgate_store::Store;
use mcpgate_store::audit::{AuditFilter, AuditRecord};

/// Every record, in sequence order.
pub(crate) async fn all_records(store: &dyn Store) -> Vec<AuditRecord> {
    store
        .audit_records(&AuditFilter::default())
        .await
        .expect("audit_records")
}

/// The sequence numbers of `records`.
pub(crate) fn seqs(records: &[AuditRecord]) -> Vec<i64> {
    records.iter().map(|r| r.seq).collect()
}

/// The request id of fixture entry `i` (see `common::event`).
pub(crate) fn request_id(i: usize) -> String {
    format!("req-{i:06}")
}

/// `body` with the JSON field `key` set to `value`.
pub(crate) fn with_field(body: &str, key: &str, value: &str) -> String {
    let mut json: serde_json::Value = serde_json::from_str(body).expect("bodies are JSON");
    json[key] = value.into();
    json.to_string()
}

/// Await the writer task, failing rather than hanging if it does not end.
pub(crate) async fn shut_down(writer: tokio::task::JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .expect("the writer ends within 30 s once every AuditLog is dropped")
        .expect("the writer task does not panic");
}
