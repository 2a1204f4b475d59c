//! PostgreSQL, for several stateless gateway instances sharing one state.
//!
//! Appends from different instances take a transaction-scoped advisory
//! lock, so the chain stays one line however many instances write.

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::postgres::{PgPool, PgPoolOptions, PgQueryResult};
use sqlx::{AssertSqlSafe, Postgres, QueryBuilder, Row};

use crate::audit::{AuditEntry, ChainHead};
use crate::migrate::{self, Migration};
use crate::sql::{
    INSERT_CHUNK, KnownHead, Linked, RECORD_COLUMNS, append_after_known_head, insert_linked,
    link_entries, push_linked_values,
};
use crate::{Store, StoreError};

/// Advisory lock ids (arbitrary, fixed): one for migrations, one for the
/// audit chain's head.
const MIGRATION_LOCK: i64 = 0x6d63_7067_0001;
const CHAIN_LOCK: i64 = 0x6d63_7067_0002;

pub(crate) mod keys;

crate::sql::shared_queries!(PostgresStore, sqlx::Postgres);
crate::oauth::oauth_queries!(
    PostgresStore,
    sqlx::postgres::PgRow,
    begin_write,
    keys::announce
);

/// A [`Store`] in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// The audit chain's head as this store's last append left it, so the
    /// next append can skip reading it (see `append_audit`).
    audit_head: KnownHead,
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
        Ok(PostgresStore {
            pool,
            audit_head: KnownHead::default(),
        })
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

    fn append_audit<'a>(
        &'a self,
        entries: &'a [AuditEntry],
    ) -> BoxFuture<'a, Result<ChainHead, StoreError>> {
        Box::pin(async move {
            // Fast path: one statement after the head this store remembers
            // — one round trip instead of five (begin, lock, read the head,
            // insert, commit) — which inserts only if it can take the
            // chain's advisory lock at once, so it never slips between a
            // locked appender's reading of the head and its insert.
            if let Some(head) = append_after_known_head(
                &self.pool,
                &self.audit_head,
                entries,
                insert_if_chain_unlocked,
                PgQueryResult::rows_affected,
            )
            .await?
            {
                return Ok(head);
            }
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
            self.audit_head.remember(&head);
            Ok(head)
        })
    }

    crate::sql::shared_store_methods!();
    crate::oauth::oauth_store_methods!();

    fn watch_key_changes(
        &self,
    ) -> BoxFuture<'_, Result<Option<BoxStream<'static, ()>>, StoreError>> {
        Box::pin(async move { self.keys_watch().await.map(Some) })
    }
}

/// A write transaction. Rows read for update are locked by the statements
/// themselves (`UPDATE … WHERE used_at IS NULL` decides single use).
async fn begin_write(pool: &PgPool) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
    pool.begin().await
}

/// `rows` appended in one statement, in its own transaction, only if that
/// transaction can take the chain's advisory lock at once; otherwise it
/// inserts nothing.
fn insert_if_chain_unlocked<'a>(rows: &'a [Linked<'a>]) -> QueryBuilder<Postgres> {
    let mut query = QueryBuilder::<Postgres>::new(format!(
        "WITH chain_lock AS (SELECT pg_try_advisory_xact_lock({CHAIN_LOCK}) AS held) \
         INSERT INTO audit_log ({RECORD_COLUMNS}) SELECT v.* FROM ("
    ));
    push_linked_values(&mut query, rows);
    query.push(format!(
        ") AS v ({RECORD_COLUMNS}) CROSS JOIN chain_lock WHERE chain_lock.held"
    ));
    query
}
