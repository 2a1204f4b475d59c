//! The batching writer (`AuditLog`): several instances over one database,
//! group commit, checkpoints, failure, and a throughput figure.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use mcpgate_store::audit::{
    AuditEntry, AuditError, AuditLog, AuditLogOptions, CheckpointSigner, verify_chain,
};

use crate::common::{TestDb, entries, entry};
use crate::{all_records, request_id, shut_down};

backend_tests!(
    two_instances_append_into_one_chain,
    group_commits_2000_concurrent_appends,
    signs_checkpoints_while_writing,
    reports_an_unavailable_store,
    throughput_50k_through_audit_log,
);

async fn two_instances_append_into_one_chain(db: TestDb) {
    let instances = [db.open().await, db.open().await]; // two pools
    let (log_a, writer_a) = AuditLog::start(instances[0].clone(), AuditLogOptions::default());
    let (log_b, writer_b) = AuditLog::start(instances[1].clone(), AuditLogOptions::default());

    // 16 tasks through the two writers, 4 more appending batches directly.
    let mut tasks = Vec::new();
    for t in 0..16 {
        let log = if t % 2 == 0 {
            log_a.clone()
        } else {
            log_b.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut placed = Vec::new();
            for i in t * 25..(t + 1) * 25 {
                placed.push((log.append(entry(i)).await.expect("append"), i));
            }
            placed
        }));
    }
    for t in 0..4 {
        let store = instances[t % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut placed = Vec::new();
            for b in 0..10 {
                let first = 1_000 + t * 50 + b * 5;
                let head = store
                    .append_audit(&entries(first..first + 5))
                    .await
                    .expect("append_audit");
                placed.extend((0..5).map(|k| (head.seq - 4 + k as i64, first + k)));
            }
            placed
        }));
    }
    let mut by_seq = BTreeMap::new();
    for task in tasks {
        for (seq, i) in task.await.unwrap() {
            assert!(
                by_seq.insert(seq, i).is_none(),
                "seq {seq} handed out twice"
            );
        }
    }
    drop((log_a, log_b));
    shut_down(writer_a).await;
    shut_down(writer_b).await;

    assert_eq!(
        by_seq.keys().copied().collect::<Vec<_>>(),
        (1..=600).collect::<Vec<_>>(),
        "one contiguous chain"
    );
    let records = all_records(&*instances[0]).await;
    assert_eq!(records.len(), 600);
    for record in &records {
        assert_eq!(
            record.entry.request_id,
            request_id(by_seq[&record.seq]),
            "record {} holds what was acknowledged",
            record.seq
        );
    }
    assert_eq!(
        instances[0].audit_head().await.unwrap(),
        instances[1].audit_head().await.unwrap()
    );
    let report = verify_chain(&*instances[1], None).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.records, 600);
}

async fn group_commits_2000_concurrent_appends(db: TestDb) {
    const N: usize = 2_000;
    let store = db.open().await;
    let (signer, _) = CheckpointSigner::generate().unwrap();
    let key = signer.verifying_key();
    let options = AuditLogOptions {
        // No timed checkpoint during the run: the one found afterwards is the
        // shutdown checkpoint.
        checkpoint_interval: Duration::from_secs(3_600),
        signer: Some(signer),
        ..AuditLogOptions::default()
    };
    let (log, writer) = AuditLog::start(store.clone(), options);

    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { (i, log.append(entry(i)).await) })
        })
        .collect();
    let mut by_seq = HashMap::new();
    for task in tasks {
        let (i, result) = task.await.unwrap();
        let seq = result.unwrap_or_else(|e| panic!("append {i} failed: {e}"));
        assert!(
            by_seq.insert(seq, i).is_none(),
            "seq {seq} handed out twice"
        );
    }
    let mut handed_out: Vec<i64> = by_seq.keys().copied().collect();
    handed_out.sort_unstable();
    assert_eq!(handed_out, (1..=N as i64).collect::<Vec<_>>());

    let health = log.health();
    assert!(health.is_healthy());
    assert_eq!((health.written(), health.failed()), (N as u64, 0));
    let batches = health.batches();
    assert!(
        (1..N as u64).contains(&batches),
        "group commit: {N} appends took {batches} transactions"
    );
    eprintln!(
        "{:?}: {N} concurrent appends in {batches} transactions",
        db.backend()
    );

    for record in all_records(&*store).await {
        assert_eq!(
            record.entry,
            entry(by_seq[&record.seq]),
            "record {} holds what was acknowledged",
            record.seq
        );
    }
    assert!(
        store.checkpoints().await.unwrap().is_empty(),
        "no checkpoint before shutdown"
    );

    drop(log);
    shut_down(writer).await;
    let checkpoints = store.checkpoints().await.unwrap();
    assert_eq!(checkpoints.len(), 1, "one checkpoint at shutdown");
    assert_eq!(checkpoints[0].seq, N as i64);
    assert_eq!(checkpoints[0].hash, store.audit_head().await.unwrap().hash);
    let report = verify_chain(&*store, Some(&key)).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(
        (report.records, report.last_signed_seq),
        (N as i64, Some(N as i64))
    );
}

async fn signs_checkpoints_while_writing(db: TestDb) {
    let store = db.open().await;
    let (signer, _) = CheckpointSigner::generate().unwrap();
    let key = signer.verifying_key();
    let options = AuditLogOptions {
        checkpoint_interval: Duration::ZERO,
        signer: Some(signer),
        ..AuditLogOptions::default()
    };
    let (log, writer) = AuditLog::start(store.clone(), options);
    let tasks: Vec<_> = (0..30)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                for i in t * 10..(t + 1) * 10 {
                    log.append(entry(i)).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let batches = log.health().batches();
    drop(log);
    shut_down(writer).await;

    let checkpoints = store.checkpoints().await.unwrap();
    assert_eq!(
        checkpoints.len() as u64,
        batches,
        "with a zero interval, every transaction is signed"
    );
    assert_eq!(checkpoints.last().unwrap().seq, 300);
    let report = verify_chain(&*store, Some(&key)).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.last_signed_seq, Some(300));
}

async fn reports_an_unavailable_store(db: TestDb) {
    let raw = db.open_raw().await;
    let (log, writer) = AuditLog::start(raw.store(), AuditLogOptions::default());
    assert_eq!(log.append(entry(0)).await, Ok(1));
    assert!(log.health().is_healthy());

    raw.must_exec("DROP TABLE audit_log", &[]).await;

    let error = log
        .append(entry(1))
        .await
        .expect_err("append after the table is gone");
    let AuditError::Unavailable(cause) = &error else {
        panic!("expected AuditError::Unavailable, got {error:?}");
    };
    assert!(
        cause.contains("audit_log"),
        "the cause names the table: {cause}"
    );
    assert!(!log.health().is_healthy(), "health reports the failure");

    // Concurrent callers are all refused, none hangs.
    let tasks: Vec<_> = (2..12)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(entry(i)).await })
        })
        .collect();
    for task in tasks {
        let result = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("no append hangs")
            .unwrap();
        assert!(
            matches!(result, Err(AuditError::Unavailable(_))),
            "{result:?}"
        );
    }
    let health = log.health();
    assert_eq!(
        (health.written(), health.failed(), health.is_healthy()),
        (1, 11, false)
    );
    drop(log);
    shut_down(writer).await;
}

async fn throughput_50k_through_audit_log(db: TestDb) {
    const TOTAL: usize = 50_000;
    const TASKS: usize = 64;
    let store = db.open().await;
    let work: Vec<Vec<AuditEntry>> = (0..TASKS)
        .map(|t| (t..TOTAL).step_by(TASKS).map(entry).collect())
        .collect();
    let (log, writer) = AuditLog::start(store.clone(), AuditLogOptions::default());

    let started = Instant::now();
    let tasks: Vec<_> = work
        .into_iter()
        .map(|entries| {
            let log = log.clone();
            tokio::spawn(async move {
                for entry in entries {
                    log.append(entry).await.expect("append");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let batches = log.health().batches();
    drop(log);
    shut_down(writer).await;

    assert_eq!(store.audit_head().await.unwrap().seq, TOTAL as i64);
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    eprintln!(
        "throughput {:?} ({profile}): {TOTAL} records, {TASKS} tasks, in {:.2?} = {:.0} records/s \
         ({batches} transactions, {:.1} records each)",
        db.backend(),
        elapsed,
        TOTAL as f64 / elapsed.as_secs_f64(),
        TOTAL as f64 / batches as f64,
    );
}
