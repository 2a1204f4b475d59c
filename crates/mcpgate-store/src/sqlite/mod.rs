//! The embedded default: one SQLite file in WAL mode with full sync, so an
//! acknowledged record survives a crash of the process or the machine.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteQueryResult,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite};

use crate::audit::{AuditEntry, ChainHead};
use crate::migrate::{self, Migration};
use crate::sql::{INSERT_CHUNK, KnownHead, append_after_known_head, insert_linked, link_entries};
use crate::{Store, StoreError};

pub(crate) mod keys;

crate::sql::shared_queries!(SqliteStore, sqlx::Sqlite);
crate::oauth::oauth_queries!(
    SqliteStore,
    sqlx::sqlite::SqliteRow,
    begin_write,
    keys::announce
);

/// A [`Store`] in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The audit chain's head as this store's last append left it, so the
    /// next append can skip reading it (see `append_audit`).
    audit_head: KnownHead,
}

impl SqliteStore {
    /// Open (or create) the database file at `path`. Call
    /// [`Store::migrate`] before use (or use [`crate::open`]).
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // A connection to a local file does not go stale; checking it
            // on every acquire was one more round trip to SQLite's thread
            // for each audit batch.
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            pool,
            audit_head: KnownHead::default(),
        })
    }

    /// The connection pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    async fn run_migrations(&self, migrations: &[Migration]) -> Result<(), StoreError> {
        // Everything under one IMMEDIATE transaction: a second instance
        // starting at the same time waits for the write lock, then finds
        // the schema current.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS mcpgate_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        let current: i64 =
            sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM mcpgate_migrations")
                .fetch_one(&mut *tx)
                .await?
                .try_get("v")?;
        let known = migrations.last().map_or(0, |m| m.version);
        if current > known {
            return Err(StoreError::SchemaTooNew {
                found: current,
                known,
            });
        }
        for migration in migrations.iter().filter(|m| m.version > current) {
            let fail = |source| StoreError::Migration {
                version: migration.version,
                name: migration.name,
                source,
            };
            for statement in migrate::statements(migration.sql) {
                sqlx::query(sqlx::AssertSqlSafe(statement))
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
            }
            sqlx::query("INSERT INTO mcpgate_migrations (version, name, applied_at) VALUES (?, ?, datetime('now'))")
                .bind(migration.version)
                .bind(migration.name)
                .execute(&mut *tx)
                .await
                .map_err(fail)?;
            tracing::info!(
                version = migration.version,
                name = migration.name,
                "sqlite migration applied"
            );
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store for SqliteStore {
    fn kind(&self) -> &'static str {
        "sqlite"
    }

    fn migrate(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.run_migrations(migrate::SQLITE))
    }

    fn append_audit<'a>(
        &'a self,
        entries: &'a [AuditEntry],
    ) -> BoxFuture<'a, Result<ChainHead, StoreError>> {
        Box::pin(async move {
            // Fast path: one INSERT in autocommit mode after the head this
            // store remembers — one round trip to SQLite's thread instead
            // of four (begin, read the head, insert, commit), each a thread
            // wake-up either way. It needs SQLite's write lock, so it cannot
            // slip between the transaction below reading the head and
            // inserting.
            if let Some(head) = append_after_known_head(
                &self.pool,
                &self.audit_head,
                entries,
                insert_linked,
                SqliteQueryResult::rows_affected,
            )
            .await?
            {
                return Ok(head);
            }
            // IMMEDIATE takes the write lock first, so reading the head and
            // appending after it cannot interleave with another writer.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            let head =
                match sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?
                {
                    Some(row) => ChainHead {
                        seq: row.try_get("seq")?,
                        hash: row.try_get("hash")?,
                    },
                    None => ChainHead::genesis(),
                };
            let (rows, head) = link_entries(head, entries);
            for chunk in rows.chunks(INSERT_CHUNK) {
                insert_linked::<Sqlite>(chunk)
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            self.audit_head.remember(&head);
            Ok(head)
        })
    }

    crate::sql::shared_store_methods!();
    crate::oauth::oauth_store_methods!();

    fn watch_key_changes(
        &self,
    ) -> BoxFuture<'_, Result<Option<BoxStream<'static, ()>>, StoreError>> {
        // SQLite cannot push; followers poll `key_changes_since`.
        Box::pin(std::future::ready(Ok(None)))
    }
}

/// A write transaction that takes SQLite's write lock at once, so a read
/// inside it cannot be overtaken by another writer.
async fn begin_write(pool: &SqlitePool) -> Result<sqlx::Transaction<'static, Sqlite>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}
