//! The chain as the `Store` trait shows it: append, head, every query
//! filter, and the verifier on a clean log.

use std::time::Duration;

use mcpgate_store::audit::{
    AuditEntry, AuditFilter, ChainHead, CheckpointSigner, GENESIS_HASH, link_hash, verify_chain,
};

use crate::common::{SUBJECTS, TOOLS, TestDb, entries, entry, event_time};
use crate::{all_records, seqs};

backend_tests!(
    append_head_and_every_filter,
    since_accepts_rfc3339_without_fraction,
    batch_larger_than_one_insert_statement,
    verify_accepts_a_clean_log,
    oauth_records_verify_clean,
    instances_taking_turns_keep_one_chain,
);

async fn append_head_and_every_filter(db: TestDb) {
    let store = db.open().await;
    assert_eq!(store.audit_head().await.unwrap(), ChainHead::genesis());
    assert!(all_records(&*store).await.is_empty());

    const N: usize = 40;
    let all = entries(0..N);
    let mut head = ChainHead::genesis();
    // Batches of different sizes, one of them empty.
    for batch in [&all[..1], &all[1..1], &all[1..17], &all[17..]] {
        let new_head = store.append_audit(batch).await.expect("append_audit");
        assert_eq!(
            new_head.seq,
            head.seq + batch.len() as i64,
            "head after a batch of {}",
            batch.len()
        );
        head = new_head;
    }
    assert_eq!(store.audit_head().await.unwrap(), head);

    let records = all_records(&*store).await;
    assert_eq!(
        seqs(&records),
        (1..=N as i64).collect::<Vec<_>>(),
        "seqs start at 1 without gaps"
    );
    assert_eq!(records[0].prev_hash, GENESIS_HASH);
    for (i, record) in records.iter().enumerate() {
        assert_eq!(
            record.entry, all[i],
            "record {} reads back as appended",
            record.seq
        );
        let prev = if i == 0 {
            GENESIS_HASH
        } else {
            records[i - 1].hash.as_str()
        };
        assert_eq!(
            record.prev_hash, prev,
            "record {} links to the one before",
            record.seq
        );
        assert_eq!(
            record.hash,
            link_hash(prev, record.seq, &record.entry.body),
            "record {} hash",
            record.seq
        );
    }
    assert_eq!(head.hash, records[N - 1].hash);

    let query = async |filter: AuditFilter| {
        seqs(&store.audit_records(&filter).await.expect("audit_records"))
    };
    let expect = |wanted: &dyn Fn(usize) -> bool| {
        (0..N)
            .filter(|&i| wanted(i))
            .map(|i| i as i64 + 1)
            .collect::<Vec<_>>()
    };

    // after_seq + limit: paging through everything.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = query(AuditFilter {
            after_seq: Some(after),
            limit: Some(7),
            ..Default::default()
        })
        .await;
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        after = *page.last().unwrap();
        paged.extend(page);
    }
    assert_eq!(paged, expect(&|_| true), "paging with after_seq");
    assert_eq!(
        query(AuditFilter {
            after_seq: Some(33),
            ..Default::default()
        })
        .await,
        vec![34, 35, 36, 37, 38, 39, 40]
    );
    assert!(
        query(AuditFilter {
            after_seq: Some(N as i64),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    for subject in SUBJECTS {
        let got = query(AuditFilter {
            subject: Some(subject.into()),
            ..Default::default()
        })
        .await;
        assert_eq!(
            got,
            expect(&|i| all[i].subject == subject),
            "subject {subject}"
        );
        assert!(!got.is_empty());
    }
    assert!(
        query(AuditFilter {
            subject: Some("nobody".into()),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    for tool in TOOLS.into_iter().flatten() {
        let got = query(AuditFilter {
            tool: Some(tool.into()),
            ..Default::default()
        })
        .await;
        assert_eq!(
            got,
            expect(&|i| all[i].tool.as_deref() == Some(tool)),
            "tool {tool}"
        );
        assert!(!got.is_empty(), "tool {tool}");
    }

    let denied = query(AuditFilter {
        decision: Some("deny".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(denied, expect(&|i| i % 3 == 2), "decision deny");
    let allowed = query(AuditFilter {
        decision: Some("allow".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(allowed, expect(&|i| i % 3 != 2), "decision allow");

    // since: inclusive at an exact record time, and between two records.
    let at = all[25].time.clone();
    assert_eq!(
        query(AuditFilter {
            since: Some(at),
            ..Default::default()
        })
        .await,
        expect(&|i| i >= 25)
    );
    let between = mcpgate_core::format_rfc3339(event_time(25) + Duration::from_millis(1));
    assert_eq!(
        query(AuditFilter {
            since: Some(between),
            ..Default::default()
        })
        .await,
        expect(&|i| i >= 26)
    );

    assert_eq!(
        query(AuditFilter {
            limit: Some(5),
            ..Default::default()
        })
        .await,
        vec![1, 2, 3, 4, 5]
    );
    assert_eq!(
        query(AuditFilter {
            limit: Some(5),
            newest_first: true,
            ..Default::default()
        })
        .await,
        vec![36, 37, 38, 39, 40],
        "newest_first: the newest five, still in ascending order"
    );
    assert_eq!(
        query(AuditFilter {
            newest_first: true,
            ..Default::default()
        })
        .await,
        expect(&|_| true)
    );

    // Everything at once.
    let alice_denied = expect(&|i| all[i].subject == "alice" && i % 3 == 2);
    assert_eq!(alice_denied, vec![6, 21, 36]);
    assert_eq!(
        query(AuditFilter {
            subject: Some("alice".into()),
            decision: Some("deny".into()),
            newest_first: true,
            limit: Some(2),
            ..Default::default()
        })
        .await,
        vec![21, 36]
    );
    assert_eq!(
        query(AuditFilter {
            after_seq: Some(5),
            tool: Some("get_weather".into()),
            since: Some(all[10].time.clone()),
            limit: Some(3),
            ..Default::default()
        })
        .await,
        vec![13, 17, 21]
    );
}

/// `since` is documented as an RFC 3339 time; `…:20Z` is the same instant as
/// `…:20.000Z` and must include a record at that instant.
async fn since_accepts_rfc3339_without_fraction(db: TestDb) {
    let store = db.open().await;
    store.append_audit(&entries(0..3)).await.unwrap();
    assert_eq!(entry(0).time, "2023-11-14T22:13:20.000Z");
    let got = store
        .audit_records(&AuditFilter {
            since: Some("2023-11-14T22:13:20Z".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        seqs(&got),
        vec![1, 2, 3],
        "records at or after 2023-11-14T22:13:20Z"
    );
}

async fn batch_larger_than_one_insert_statement(db: TestDb) {
    let store = db.open().await;
    store.append_audit(&entries(0..1)).await.unwrap();
    // PostgreSQL inserts 5,000 rows per statement; cross that boundary.
    let big = entries(1..6_002);
    let head = store.append_audit(&big).await.expect("a batch of 6,001");
    assert_eq!(head.seq, 6_002);
    let report = verify_chain(&*store, None).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!((report.records, report.last_seq), (6_002, 6_002));
    let last = store
        .audit_records(&AuditFilter {
            after_seq: Some(6_001),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(last[0].entry, entry(6_001));
    assert_eq!(last[0].hash, head.hash);
}

async fn verify_accepts_a_clean_log(db: TestDb) {
    let store = db.open().await;
    let (signer, _) = CheckpointSigner::generate().unwrap();
    let key = signer.verifying_key();

    let empty = verify_chain(&*store, Some(&key)).await.unwrap();
    assert!(empty.is_ok(), "{:?}", empty.problems);
    assert_eq!(
        (
            empty.records,
            empty.last_seq,
            empty.checkpoints,
            empty.last_signed_seq
        ),
        (0, 0, 0, None)
    );

    let mut checkpoints = Vec::new();
    for range in [0..10, 10..25] {
        let head = store.append_audit(&entries(range)).await.unwrap();
        let checkpoint = signer.sign(
            head.seq,
            &head.hash,
            mcpgate_core::format_rfc3339(std::time::SystemTime::now()),
        );
        store.add_checkpoint(&checkpoint).await.unwrap();
        store
            .add_checkpoint(&checkpoint)
            .await
            .expect("adding the same checkpoint again is harmless");
        checkpoints.push(checkpoint);
    }
    store.append_audit(&entries(25..30)).await.unwrap(); // unsigned tail
    assert_eq!(store.checkpoints().await.unwrap(), checkpoints);

    for key in [Some(&key), None] {
        let report = verify_chain(&*store, key).await.unwrap();
        assert!(
            report.is_ok(),
            "a clean log verifies: {:?}",
            report.problems
        );
        assert_eq!(report.records, 30);
        assert_eq!(report.last_seq, 30);
        assert_eq!(report.checkpoints, 2);
        assert_eq!(
            report.last_signed_seq,
            Some(25),
            "the newest checkpoint covers 25, not the tail"
        );
    }
}

/// Callers who authenticated with OAuth are recorded like any other: the
/// `auth_method` column agrees with the body, and a clean log verifies.
async fn oauth_records_verify_clean(db: TestDb) {
    let store = db.open().await;
    let mut event = crate::common::event(0);
    event.auth_method = mcpgate_core::AuthMethod::OAuth;
    let entry = AuditEntry::from_event(&event);
    let body: serde_json::Value = serde_json::from_str(&entry.body).unwrap();
    assert_eq!(
        body["auth_method"],
        entry.auth_method.as_str(),
        "the column copies the body"
    );
    store.append_audit(&[entry]).await.unwrap();
    let report = verify_chain(&*store, None).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
}

/// Two instances on one database append in turns. Each remembers the head
/// its own last append left (SQLite appends after it without reading it
/// again), so each turn finds the other's records in the way: the append
/// must notice, link after them, and leave one unbroken chain.
async fn instances_taking_turns_keep_one_chain(db: TestDb) {
    let (first, second) = (db.open().await, db.open().await);
    let mut expected = 0;
    for (turn, range) in [0..3, 3..6, 6..9, 9..12, 12..13].into_iter().enumerate() {
        let store = if turn % 2 == 0 { &first } else { &second };
        expected += range.len() as i64;
        let head = store
            .append_audit(&entries(range))
            .await
            .expect("an append after the other instance's records");
        assert_eq!(head.seq, expected);
        assert_eq!(first.audit_head().await.unwrap(), head);
    }
    // And again in a row: the fast path after an append of its own.
    let head = first.append_audit(&entries(13..15)).await.unwrap();
    assert_eq!(head.seq, 15);
    assert_eq!(
        seqs(&all_records(&*second).await),
        (1..=15).collect::<Vec<_>>()
    );
    let report = verify_chain(&*second, None).await.unwrap();
    assert!(report.is_ok(), "one chain: {:?}", report.problems);
    assert_eq!(report.records, 15);
}
