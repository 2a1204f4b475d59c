//! Tampering with the log through raw SQL on the database underneath the
//! store; every attack must be reported, naming the record.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mcpgate_store::Store;
use mcpgate_store::audit::{
    AuditRecord, CheckpointSigner, GENESIS_HASH, Problem, VerifyReport, link_hash, verify_chain,
};

use crate::common::{RawStore, TestDb, entries, entry};
use crate::{all_records, with_field};

backend_tests!(
    edited_body_is_a_hash_mismatch,
    edited_columns_are_column_mismatches,
    deleted_record_is_missing,
    swapped_records_break_the_chain,
    cut_tail_after_checkpoint_is_truncated,
    rewritten_chain_is_caught_by_the_checkpoint,
    altered_checkpoint_signature_is_bad_signature,
    moved_checkpoint_is_bad_signature,
    record_inserted_before_the_first_is_reported,
    another_key_is_unknown_key,
);

/// A log of 20 records with checkpoints at 10 and 20, already verified clean,
/// for the tampering tests.
struct SignedLog {
    raw: RawStore,
    store: Arc<dyn Store>,
    signer: CheckpointSigner,
    records: Vec<AuditRecord>,
}

impl SignedLog {
    const LEN: i64 = 20;

    async fn new(db: &TestDb) -> SignedLog {
        let raw = db.open_raw().await;
        let store = raw.store();
        let (signer, _) = CheckpointSigner::generate().expect("generate a key");
        for range in [0..10, 10..20] {
            let head = store.append_audit(&entries(range)).await.expect("append");
            store
                .add_checkpoint(&signer.sign(
                    head.seq,
                    &head.hash,
                    "2024-01-01T00:00:00.000Z".into(),
                ))
                .await
                .unwrap();
        }
        let log = SignedLog {
            records: all_records(&*store).await,
            raw,
            store,
            signer,
        };
        let report = log.verify().await;
        assert!(
            report.is_ok(),
            "the untouched log verifies: {:?}",
            report.problems
        );
        assert_eq!(report.last_signed_seq, Some(Self::LEN));
        log
    }

    async fn verify(&self) -> VerifyReport {
        verify_chain(&*self.store, Some(&self.signer.verifying_key()))
            .await
            .expect("verify_chain")
    }

    fn record(&self, seq: i64) -> &AuditRecord {
        &self.records[seq as usize - 1]
    }

    /// Overwrite every stored field of row `seq` (not the seq itself).
    async fn overwrite(&self, seq: i64, record: &AuditRecord) {
        let e = &record.entry;
        let rows = self
            .raw
            .must_exec(
                "UPDATE audit_log SET time = ?, request_id = ?, subject = ?, auth_method = ?, tool = ?, decision = ?, \
                 outcome = ?, body = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                &[
                    e.time.clone().into(),
                    e.request_id.clone().into(),
                    e.subject.clone().into(),
                    e.auth_method.clone().into(),
                    e.tool.clone().into(),
                    e.decision.clone().into(),
                    e.outcome.clone().into(),
                    e.body.clone().into(),
                    record.prev_hash.clone().into(),
                    record.hash.clone().into(),
                    seq.into(),
                ],
            )
            .await;
        assert_eq!(rows, 1, "row {seq} overwritten");
    }
}

async fn edited_body_is_a_hash_mismatch(db: TestDb) {
    let log = SignedLog::new(&db).await;
    // Change a field that has no column copy, so only the hash can tell.
    let body = with_field(&log.record(7).entry.body, "source", "203.0.113.66:1");
    log.raw
        .must_exec(
            "UPDATE audit_log SET body = ? WHERE seq = 7",
            &[body.into()],
        )
        .await;
    let report = log.verify().await;
    assert_eq!(report.problems, vec![Problem::HashMismatch { seq: 7 }]);
    assert!(
        report.problems[0].to_string().contains("record 7"),
        "{}",
        report.problems[0]
    );
}

async fn edited_columns_are_column_mismatches(db: TestDb) {
    let log = SignedLog::new(&db).await;
    assert_eq!(log.record(9).entry.decision, "deny");
    assert!(log.record(14).entry.tool.is_some());
    log.raw
        .must_exec(
            "UPDATE audit_log SET subject = 'mallory' WHERE seq = 4",
            &[],
        )
        .await;
    log.raw
        .must_exec("UPDATE audit_log SET decision = 'allow' WHERE seq = 9", &[])
        .await;
    log.raw
        .must_exec("UPDATE audit_log SET tool = NULL WHERE seq = 14", &[])
        .await;
    log.raw
        .must_exec(
            "UPDATE audit_log SET time = '2000-01-01T00:00:00.000Z' WHERE seq = 17",
            &[],
        )
        .await;
    let report = log.verify().await;
    assert_eq!(
        report.problems,
        vec![
            Problem::ColumnMismatch {
                seq: 4,
                column: "subject"
            },
            Problem::ColumnMismatch {
                seq: 9,
                column: "decision"
            },
            Problem::ColumnMismatch {
                seq: 14,
                column: "tool"
            },
            Problem::ColumnMismatch {
                seq: 17,
                column: "time"
            },
        ]
    );
}

async fn deleted_record_is_missing(db: TestDb) {
    let log = SignedLog::new(&db).await;
    assert_eq!(
        log.raw
            .must_exec("DELETE FROM audit_log WHERE seq = 13", &[])
            .await,
        1
    );
    let report = log.verify().await;
    assert_eq!(report.problems, vec![Problem::Missing { from: 13, to: 14 }]);
    assert_eq!(report.problems[0].to_string(), "record 13 is missing");
}

async fn swapped_records_break_the_chain(db: TestDb) {
    let log = SignedLog::new(&db).await;
    // Reorder: rows 6 and 7 exchange everything but their seq.
    log.overwrite(6, log.record(7)).await;
    log.overwrite(7, log.record(6)).await;
    let report = log.verify().await;
    assert_eq!(
        report.problems,
        vec![
            Problem::BrokenLink { seq: 6 },
            Problem::HashMismatch { seq: 6 },
            Problem::BrokenLink { seq: 7 },
            Problem::HashMismatch { seq: 7 },
            Problem::BrokenLink { seq: 8 },
        ]
    );
}

async fn cut_tail_after_checkpoint_is_truncated(db: TestDb) {
    let log = SignedLog::new(&db).await;
    assert_eq!(
        log.raw
            .must_exec("DELETE FROM audit_log WHERE seq > 15", &[])
            .await,
        5
    );
    let report = log.verify().await;
    assert_eq!(
        report.problems,
        vec![Problem::Truncated {
            checkpoint: 20,
            last: 15
        }]
    );
    assert_eq!(report.last_seq, 15);
    assert_eq!(
        report.last_signed_seq,
        Some(10),
        "the checkpoint at 10 still holds"
    );
}

async fn rewritten_chain_is_caught_by_the_checkpoint(db: TestDb) {
    let log = SignedLog::new(&db).await;
    // From record 12 on, erase alice: body and column agree, every hash is
    // recomputed, so the chain itself is flawless.
    let mut prev = log.record(11).hash.clone();
    for seq in 12..=SignedLog::LEN {
        let mut record = log.record(seq).clone();
        record.entry.subject = "someone-else".into();
        record.entry.body = with_field(&record.entry.body, "subject", "someone-else");
        record.prev_hash = prev;
        record.hash = link_hash(&record.prev_hash, seq, &record.entry.body);
        prev = record.hash.clone();
        log.overwrite(seq, &record).await;
    }
    let report = log.verify().await;
    assert_eq!(
        report.problems,
        vec![Problem::CheckpointMismatch { seq: 20 }]
    );
    assert_eq!(report.last_signed_seq, Some(10));
    // The checkpoint's hash is checked even without the public key.
    let unsigned = verify_chain(&*log.store, None).await.unwrap();
    assert_eq!(
        unsigned.problems,
        vec![Problem::CheckpointMismatch { seq: 20 }]
    );
}

async fn altered_checkpoint_signature_is_bad_signature(db: TestDb) {
    let log = SignedLog::new(&db).await;
    let checkpoint = &log.store.checkpoints().await.unwrap()[1];
    assert_eq!(checkpoint.seq, 20);
    let mut signature = STANDARD.decode(&checkpoint.signature).unwrap();
    signature[10] ^= 0x01;
    log.raw
        .must_exec(
            "UPDATE audit_checkpoints SET signature = ? WHERE seq = 20",
            &[STANDARD.encode(signature).into()],
        )
        .await;
    let report = log.verify().await;
    assert_eq!(report.problems, vec![Problem::BadSignature { seq: 20 }]);
    assert_eq!(report.last_signed_seq, Some(10));
}

async fn moved_checkpoint_is_bad_signature(db: TestDb) {
    let log = SignedLog::new(&db).await;
    // Claim the checkpoint at 20 covers only 15 (to hide the cut of 16..20).
    log.raw
        .must_exec("UPDATE audit_checkpoints SET seq = 15 WHERE seq = 20", &[])
        .await;
    log.raw
        .must_exec("DELETE FROM audit_log WHERE seq > 15", &[])
        .await;
    let report = log.verify().await;
    assert_eq!(report.problems, vec![Problem::BadSignature { seq: 15 }]);
}

/// A forged record slipped in before the genesis record shows up in every
/// query (`audit_records` with no filter lists it first), so the verifier
/// must not call such a log clean.
async fn record_inserted_before_the_first_is_reported(db: TestDb) {
    let log = SignedLog::new(&db).await;
    let forged = entry(999);
    let hash = link_hash(GENESIS_HASH, 0, &forged.body);
    log.raw
        .must_exec(
            "INSERT INTO audit_log (seq, time, request_id, subject, auth_method, tool, decision, outcome, body, prev_hash, hash) \
             VALUES (0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                forged.time.into(),
                forged.request_id.into(),
                forged.subject.into(),
                forged.auth_method.into(),
                forged.tool.into(),
                forged.decision.into(),
                forged.outcome.into(),
                forged.body.into(),
                GENESIS_HASH.into(),
                hash.into(),
            ],
        )
        .await;
    assert_eq!(
        all_records(&*log.store).await[0].seq,
        0,
        "queries show the forged record"
    );
    let report = log.verify().await;
    assert!(
        !report.is_ok(),
        "a record outside the chain (seq 0) must be reported; got a clean report: {report:?}"
    );
}

async fn another_key_is_unknown_key(db: TestDb) {
    let log = SignedLog::new(&db).await;
    let (other, _) = CheckpointSigner::generate().unwrap();
    let key_id = log.store.checkpoints().await.unwrap()[0].key_id.clone();
    let report = verify_chain(&*log.store, Some(&other.verifying_key()))
        .await
        .unwrap();
    assert_eq!(
        report.problems,
        vec![
            Problem::UnknownKey {
                seq: 10,
                key_id: key_id.clone()
            },
            Problem::UnknownKey { seq: 20, key_id }
        ]
    );
    assert_eq!(report.last_signed_seq, None);
}
