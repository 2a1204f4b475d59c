//! PostgreSQL, for several stateless gateway instances sharing one state.
//!
//! Appends from different instances take a transaction-scoped advisory
//! lock, so the chain stays one line however many instances write.

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Postgres, Row};

use crate::audit::{AuditEntry, AuditFilter, AuditRecord, ChainHead, Checkpoint};
use crate::keys::{ApiKeyRecord, KeyChange};
use crate::migrate::{self, Migration};
use crate::sql::{INSERT_CHUNK, insert_linked, link_entries};
use crate::{Store, StoreError};

/// Advisory lock ids (arbitrary, fixed): one for migrations, one for the
/// audit chain's head.
const MIGRATION_LOCK: i64 = 0x6d63_7067_0001;
const CHAIN_LOCK: i64 = 0x6d63_7067_0002;

pub(crate) mod keys;

crate::sql::shared_queries!(PostgresStore, sqlx::Postgres);

/// A [`Store`] in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user@host:port/db`). Call
    /// [`Store::migrate`] before use (or use [`crate::open`]).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok(PostgresStore { pool })
    }

    /// The connection pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn run_migrations(&self, migrations: &[Migration]) -> Result<(), StoreError> {
        let mut connection = self.pool.acquire().await?;
        // One instance migrates at a time; the others wait, then find
        // nothing left to do.
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *connection)
            .await?;
        let result = async {
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS mcpgate_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .execute(&mut *connection)
            .await?;
            let current: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0)::BIGINT AS v FROM mcpgate_migrations")
                .fetch_one(&mut *connection)
                .await?
                .try_get("v")?;
            let known = migrations.last().map_or(0, |m| m.version);
            if current > known {
                return Err(StoreError::SchemaTooNew { found: current, known });
            }
            for migration in migrations.iter().filter(|m| m.version > current) {
                let fail = |source| StoreError::Migration { version: migration.version, name: migration.name, source };
                let mut tx = sqlx::Connection::begin(&mut *connection).await?;
                for statement in migrate::statements(migration.sql) {
                    sqlx::query(AssertSqlSafe(statement)).execute(&mut *tx).await.map_err(fail)?;
                }
                sqlx::query("INSERT INTO mcpgate_migrations (version, name) VALUES ($1, $2)")
                    .bind(migration.version)
                    .bind(migration.name)
                    .execute(&mut *tx)
                    .await
                    .map_err(fail)?;
                tx.commit().await.map_err(fail)?;
                tracing::info!(version = migration.version, name = migration.name, "postgres migration applied");
            }
            Ok(())
        }
        .await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *connection)
            .await?;
        result
    }
}

impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    fn migrate(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.run_migrations(migrate::POSTGRES))
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
    }

    fn append_audit<'a>(
        &'a self,
        entries: &'a [AuditEntry],
    ) -> BoxFuture<'a, Result<ChainHead, StoreError>> {
        Box::pin(async move {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(CHAIN_LOCK)
                .execute(&mut *tx)
                .await?;
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
                insert_linked::<Postgres>(chunk)
                    .build()
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(head)
        })
    }

    fn audit_head(&self) -> BoxFuture<'_, Result<ChainHead, StoreError>> {
        Box::pin(self.read_audit_head())
    }

    fn audit_records<'a>(
        &'a self,
        filter: &'a AuditFilter,
    ) -> BoxFuture<'a, Result<Vec<AuditRecord>, StoreError>> {
        Box::pin(self.read_audit_records(filter))
    }

    fn add_checkpoint<'a>(
        &'a self,
        checkpoint: &'a Checkpoint,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.write_checkpoint(checkpoint))
    }

    fn checkpoints(&self) -> BoxFuture<'_, Result<Vec<Checkpoint>, StoreError>> {
        Box::pin(self.read_checkpoints())
    }

    fn insert_api_key<'a>(
        &'a self,
        key: &'a ApiKeyRecord,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.keys_insert(key))
    }

    fn api_key_by_hash<'a>(
        &'a self,
        key_hash: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>> {
        Box::pin(self.keys_by("key_hash", key_hash))
    }

    fn api_key<'a>(
        &'a self,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<ApiKeyRecord>, StoreError>> {
        Box::pin(self.keys_by("id", id))
    }

    fn api_keys(&self) -> BoxFuture<'_, Result<Vec<ApiKeyRecord>, StoreError>> {
        Box::pin(self.keys_all())
    }

    fn revoke_api_key<'a>(
        &'a self,
        id: &'a str,
        at: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.keys_revoke(id, at))
    }

    fn rotate_api_key<'a>(
        &'a self,
        old_id: &'a str,
        new_key: &'a ApiKeyRecord,
        old_expires_at: &'a str,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(self.keys_rotate(old_id, new_key, old_expires_at))
    }

    fn key_changes_since(&self, seq: i64) -> BoxFuture<'_, Result<Vec<KeyChange>, StoreError>> {
        Box::pin(self.keys_changes_since(seq))
    }

    fn key_changes_head(&self) -> BoxFuture<'_, Result<i64, StoreError>> {
        Box::pin(self.keys_changes_head())
    }

    fn record_key_uses<'a>(
        &'a self,
        uses: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.keys_record_uses(uses))
    }

    fn watch_key_changes(
        &self,
    ) -> BoxFuture<'_, Result<Option<BoxStream<'static, ()>>, StoreError>> {
        Box::pin(async move { self.keys_watch().await.map(Some) })
    }
}
