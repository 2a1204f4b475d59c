//! Migrations: idempotent, safe to race, and refusing a newer schema.

use std::sync::Arc;

use mcpgate_store::StoreError;

use crate::all_records;
use crate::common::{TestDb, entries};

backend_tests!(
    migrate_is_idempotent,
    first_migration_by_several_instances_at_once,
    schema_newer_than_known_is_refused,
);

async fn migrate_is_idempotent(db: TestDb) {
    let store = db.open().await; // `open` migrates once
    let head = store.append_audit(&entries(0..3)).await.unwrap();
    store
        .migrate()
        .await
        .expect("second migrate on the same store");
    store
        .migrate()
        .await
        .expect("third migrate on the same store");

    let second = db.open().await; // another pool over the same database
    second.migrate().await.expect("migrate from a second store");
    assert_eq!(
        second.audit_head().await.unwrap(),
        head,
        "migrating again keeps the data"
    );
    assert_eq!(all_records(&*second).await.len(), 3);

    let raw = db.open_raw().await;
    assert_eq!(
        raw.scalar("SELECT COUNT(*) FROM mcpgate_migrations").await,
        raw.scalar("SELECT MAX(version) FROM mcpgate_migrations")
            .await,
        "each migration recorded once"
    );
    assert!(
        raw.scalar("SELECT MAX(version) FROM mcpgate_migrations")
            .await
            >= 2,
        "the audit log and API key migrations are applied"
    );
}

/// `Store::migrate` promises to be safe when several instances start at once
/// on an empty database. The race is timing-dependent, so it is run for
/// several rounds, emptying the database in between.
async fn first_migration_by_several_instances_at_once(db: TestDb) {
    const INSTANCES: usize = 6;
    const ROUNDS: usize = 10;
    for round in 0..ROUNDS {
        let mut stores = Vec::new();
        for _ in 0..INSTANCES {
            stores.push(db.open_raw_unmigrated().await.store());
        }
        let barrier = Arc::new(tokio::sync::Barrier::new(INSTANCES));
        let tasks: Vec<_> = stores
            .iter()
            .map(|store| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.migrate().await
                })
            })
            .collect();
        for (n, task) in tasks.into_iter().enumerate() {
            task.await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: instance {n} failed to migrate: {e}"));
        }
        let raw = db.open_raw_unmigrated().await;
        assert_eq!(
            raw.scalar("SELECT COUNT(*) FROM mcpgate_migrations").await,
            raw.scalar("SELECT MAX(version) FROM mcpgate_migrations")
                .await,
            "round {round}"
        );
        assert_eq!(
            stores[0].append_audit(&entries(0..2)).await.unwrap().seq,
            2,
            "round {round}"
        );
        for table in [
            "audit_log",
            "audit_checkpoints",
            "api_keys",
            "key_changes",
            "oauth_clients",
            "oauth_grants",
            "oauth_secrets",
            "mcpgate_migrations",
        ] {
            raw.must_exec(&format!("DROP TABLE {table}"), &[]).await;
        }
    }
}

async fn schema_newer_than_known_is_refused(db: TestDb) {
    let raw = db.open_raw().await;
    raw.must_exec(
        "INSERT INTO mcpgate_migrations (version, name, applied_at) VALUES (1000, 'from a future mcpgate', '2099-01-01T00:00:00Z')",
        &[],
    )
    .await;

    let error = db
        .try_open()
        .await
        .err()
        .expect("open refuses a database migrated by a newer mcpgate");
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 1000, known } if known < 1000),
        "expected SchemaTooNew {{ found: 1000, .. }}, got {error:?}"
    );
    assert!(
        error.to_string().contains("1000"),
        "the message names the version: {error}"
    );

    let error = raw
        .store()
        .migrate()
        .await
        .expect_err("migrate refuses too");
    assert!(
        matches!(error, StoreError::SchemaTooNew { found: 1000, .. }),
        "{error:?}"
    );
}
