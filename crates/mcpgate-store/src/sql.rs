//! SQL both databases share: columns, row decoding, filters, and linking
//! a batch of entries into the chain as one multi-row INSERT.

use sqlx::{QueryBuilder, Row};

use crate::StoreError;
use crate::audit::{AuditEntry, AuditFilter, AuditRecord, ChainHead, link_hash};
use crate::keys::ApiKeyRecord;

/// Rows per INSERT statement: 11 binds each stays under both databases'
/// bind limits (SQLite 32,766; PostgreSQL 65,535).
pub(crate) const INSERT_CHUNK: usize = 1_000;

pub(crate) const RECORD_COLUMNS: &str =
    "seq, time, request_id, subject, auth_method, tool, decision, outcome, body, prev_hash, hash";

pub(crate) fn record_from_row<R: Row>(row: &R) -> Result<AuditRecord, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        entry: AuditEntry {
            time: row.try_get("time")?,
            request_id: row.try_get("request_id")?,
            subject: row.try_get("subject")?,
            auth_method: row.try_get("auth_method")?,
            tool: row.try_get("tool")?,
            decision: row.try_get("decision")?,
            outcome: row.try_get("outcome")?,
            body: row.try_get("body")?,
        },
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// The `WHERE … ORDER BY … LIMIT` part shared by both databases.
pub(crate) fn push_filter<DB: sqlx::Database>(query: &mut QueryBuilder<DB>, filter: &AuditFilter)
where
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query.push(" WHERE 1 = 1");
    if let Some(after) = filter.after_seq {
        query.push(" AND seq > ").push_bind(after);
    }
    if let Some(subject) = &filter.subject {
        query.push(" AND subject = ").push_bind(subject.clone());
    }
    if let Some(tool) = &filter.tool {
        query.push(" AND tool = ").push_bind(tool.clone());
    }
    if let Some(decision) = &filter.decision {
        query.push(" AND decision = ").push_bind(decision.clone());
    }
    if let Some(since) = &filter.since {
        // Stored times are all `…SS.mmmZ`; bring `since` to that form so
        // the text comparison is a time comparison.
        let since = mcpgate_core::parse_rfc3339(since)
            .map_or_else(|| since.clone(), mcpgate_core::format_rfc3339);
        query.push(" AND time >= ").push_bind(since);
    }
    query.push(if filter.newest_first {
        " ORDER BY seq DESC"
    } else {
        " ORDER BY seq"
    });
    if let Some(limit) = filter.limit {
        query.push(" LIMIT ").push_bind(limit.max(0));
    }
}

/// One entry with its place in the chain.
pub(crate) struct Linked<'a> {
    pub(crate) seq: i64,
    pub(crate) entry: &'a AuditEntry,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

/// Link `entries` after `head`; returns the rows and the new head.
pub(crate) fn link_entries<'a>(
    head: ChainHead,
    entries: &'a [AuditEntry],
) -> (Vec<Linked<'a>>, ChainHead) {
    let mut head = head;
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let seq = head.seq + 1;
        let hash = link_hash(&head.hash, seq, &entry.body);
        let prev_hash = std::mem::replace(&mut head.hash, hash.clone());
        head.seq = seq;
        rows.push(Linked {
            seq,
            entry,
            prev_hash,
            hash,
        });
    }
    (rows, head)
}

/// `INSERT INTO audit_log … VALUES (…), (…), …` for `rows`.
pub(crate) fn insert_linked<'a, DB: sqlx::Database>(rows: &'a [Linked<'a>]) -> QueryBuilder<DB>
where
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut query = QueryBuilder::<DB>::new(format!("INSERT INTO audit_log ({RECORD_COLUMNS}) "));
    push_linked_values(&mut query, rows);
    query
}

/// `VALUES (…), (…), …` for `rows`, in [`RECORD_COLUMNS`] order.
pub(crate) fn push_linked_values<'a, DB: sqlx::Database>(
    query: &mut QueryBuilder<DB>,
    rows: &'a [Linked<'a>],
) where
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query.push_values(rows, |mut row, linked| {
        row.push_bind(linked.seq)
            .push_bind(linked.entry.time.clone())
            .push_bind(linked.entry.request_id.clone())
            .push_bind(linked.entry.subject.clone())
            .push_bind(linked.entry.auth_method.clone())
            .push_bind(linked.entry.tool.clone())
            .push_bind(linked.entry.decision.clone())
            .push_bind(linked.entry.outcome.clone())
            .push_bind(linked.entry.body.clone())
            .push_bind(linked.prev_hash.clone())
            .push_bind(linked.hash.clone());
    });
}

/// The one-statement audit append both stores try first: after its own last
/// append a store knows the head (`known`, taken, not copied) and appends
/// after it with `statement` in autocommit mode (`inserted` reads how many
/// rows it inserted: sqlx has no common method for that). `Ok(None)` when it could
/// not — no known head, a batch too large for one statement, `seq` (the
/// primary key) already taken by another writer, or a statement that
/// inserted nothing — and the caller's locked path must read the real head.
pub(crate) async fn append_after_known_head<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    known: &KnownHead,
    entries: &[AuditEntry],
    statement: for<'a> fn(&'a [Linked<'a>]) -> QueryBuilder<DB>,
    inserted: fn(&DB::QueryResult) -> u64,
) -> Result<Option<ChainHead>, StoreError>
where
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    DB::Arguments: sqlx::IntoArguments<DB>,
{
    let Some(head) = known.take() else {
        return Ok(None);
    };
    if entries.is_empty() || entries.len() > INSERT_CHUNK {
        return Ok(None);
    }
    let (rows, head) = link_entries(head, entries);
    match statement(&rows).build().execute(pool).await {
        Ok(done) if inserted(&done) == rows.len() as u64 => {
            known.remember(&head);
            Ok(Some(head))
        }
        Ok(_) => Ok(None),
        Err(sqlx::Error::Database(error)) if error.is_unique_violation() => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// The audit chain's head as a store's last append left it, so that its
/// next append can skip reading it. Taken, not copied, by the append that
/// uses it: two appends at once in one process cannot both use it.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownHead(std::sync::Arc<std::sync::Mutex<Option<ChainHead>>>);

impl KnownHead {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<ChainHead>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The head, if this store's last append left it known.
    pub(crate) fn take(&self) -> Option<ChainHead> {
        self.slot().take()
    }

    /// Remember `head` after an append that ended there.
    pub(crate) fn remember(&self, head: &ChainHead) {
        *self.slot() = Some(head.clone());
    }
}

pub(crate) const KEY_COLUMNS: &str = "id, name, environment, key_hash, scopes, roles, created_at, expires_at, \
     revoked_at, replaced_by, last_used_at";

/// Decode a key row; scopes and roles are stored as JSON arrays.
pub(crate) fn key_from_row<R: Row>(row: &R) -> Result<ApiKeyRecord, sqlx::Error>
where
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    let list = |column: &str| -> Result<Vec<String>, sqlx::Error> {
        let text: String = row.try_get(column)?;
        serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
    };
    Ok(ApiKeyRecord {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        environment: row.try_get("environment")?,
        key_hash: row.try_get("key_hash")?,
        scopes: list("scopes")?,
        roles: list("roles")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        replaced_by: row.try_get("replaced_by")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

pub(crate) fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

/// The queries whose text and handling are the same on both databases
/// (placeholders are `$N`, which SQLite accepts too), as inherent methods of
/// a store with a `pool` field. Writes that differ (SQLite's `BEGIN
/// IMMEDIATE`, PostgreSQL's `NOTIFY`) stay with each store.
macro_rules! shared_queries {
    ($store:ty, $db:ty) => {
        impl $store {
            pub(crate) async fn read_audit_head(
                &self,
            ) -> Result<$crate::audit::ChainHead, $crate::StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(match row {
                    Some(row) => $crate::audit::ChainHead {
                        seq: row.try_get("seq")?,
                        hash: row.try_get("hash")?,
                    },
                    None => $crate::audit::ChainHead::genesis(),
                })
            }

            pub(crate) async fn read_audit_records(
                &self,
                filter: &$crate::audit::AuditFilter,
            ) -> Result<Vec<$crate::audit::AuditRecord>, $crate::StoreError> {
                let mut query = sqlx::QueryBuilder::<$db>::new(format!(
                    "SELECT {} FROM audit_log",
                    $crate::sql::RECORD_COLUMNS
                ));
                $crate::sql::push_filter(&mut query, filter);
                let rows = query.build().fetch_all(&self.pool).await?;
                let mut records = rows
                    .iter()
                    .map($crate::sql::record_from_row)
                    .collect::<Result<Vec<_>, _>>()?;
                if filter.newest_first {
                    records.reverse();
                }
                Ok(records)
            }

            pub(crate) async fn write_checkpoint(
                &self,
                checkpoint: &$crate::audit::Checkpoint,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO audit_checkpoints (seq, hash, key_id, signature, time) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING",
                )
                .bind(checkpoint.seq)
                .bind(&checkpoint.hash)
                .bind(&checkpoint.key_id)
                .bind(&checkpoint.signature)
                .bind(&checkpoint.time)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn read_checkpoints(
                &self,
            ) -> Result<Vec<$crate::audit::Checkpoint>, $crate::StoreError> {
                use sqlx::Row as _;
                let rows = sqlx::query(
                    "SELECT seq, hash, key_id, signature, time FROM audit_checkpoints ORDER BY seq",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::audit::Checkpoint {
                            seq: row.try_get("seq")?,
                            hash: row.try_get("hash")?,
                            key_id: row.try_get("key_id")?,
                            signature: row.try_get("signature")?,
                            time: row.try_get("time")?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn keys_by(
                &self,
                column: &'static str,
                value: &str,
            ) -> Result<Option<$crate::ApiKeyRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM api_keys WHERE {column} = $1",
                    $crate::sql::KEY_COLUMNS
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(value)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.as_ref().map($crate::sql::key_from_row).transpose()?)
            }

            pub(crate) async fn keys_all(
                &self,
            ) -> Result<Vec<$crate::ApiKeyRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM api_keys ORDER BY created_at DESC, id",
                    $crate::sql::KEY_COLUMNS
                );
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .iter()
                    .map($crate::sql::key_from_row)
                    .collect::<Result<_, _>>()?)
            }

            pub(crate) async fn keys_changes_since(
                &self,
                seq: i64,
            ) -> Result<Vec<$crate::KeyChange>, $crate::StoreError> {
                use sqlx::Row as _;
                let rows = sqlx::query(
                    "SELECT seq, key_id, change FROM key_changes WHERE seq > $1 ORDER BY seq",
                )
                .bind(seq)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|row| {
                        Ok($crate::KeyChange {
                            seq: row.try_get("seq")?,
                            key_id: row.try_get("key_id")?,
                            change: row.try_get("change")?,
                        })
                    })
                    .collect()
            }

            pub(crate) async fn keys_changes_head(&self) -> Result<i64, $crate::StoreError> {
                use sqlx::Row as _;
                let row = sqlx::query(
                    "SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) AS seq FROM key_changes",
                )
                .fetch_one(&self.pool)
                .await?;
                Ok(row.try_get("seq")?)
            }
        }
    };
}
pub(crate) use shared_queries;

/// The `Store` methods that only delegate to the shared queries above or to
/// same-named methods of each store, written once and expanded inside each
/// `impl Store` (a macro in item position).
macro_rules! shared_store_methods {
    () => {
        fn ping(&self) -> futures::future::BoxFuture<'_, Result<(), $crate::StoreError>> {
            Box::pin(async move {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            })
        }

        fn audit_head(&self) -> futures::future::BoxFuture<'_, Result<$crate::audit::ChainHead, $crate::StoreError>> {
            Box::pin(self.read_audit_head())
        }

        fn audit_records<'a>(
            &'a self,
            filter: &'a $crate::audit::AuditFilter,
        ) -> futures::future::BoxFuture<'a, Result<Vec<$crate::audit::AuditRecord>, $crate::StoreError>> {
            Box::pin(self.read_audit_records(filter))
        }

        fn add_checkpoint<'a>(
            &'a self,
            checkpoint: &'a $crate::audit::Checkpoint,
        ) -> futures::future::BoxFuture<'a, Result<(), $crate::StoreError>> {
            Box::pin(self.write_checkpoint(checkpoint))
        }

        fn checkpoints(&self) -> futures::future::BoxFuture<'_, Result<Vec<$crate::audit::Checkpoint>, $crate::StoreError>> {
            Box::pin(self.read_checkpoints())
        }

        fn insert_api_key<'a>(
            &'a self,
            key: &'a $crate::ApiKeyRecord,
        ) -> futures::future::BoxFuture<'a, Result<(), $crate::StoreError>> {
            Box::pin(self.keys_insert(key))
        }

        fn api_key_by_hash<'a>(
            &'a self,
            key_hash: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<Option<$crate::ApiKeyRecord>, $crate::StoreError>> {
            Box::pin(self.keys_by("key_hash", key_hash))
        }

        fn api_key<'a>(
            &'a self,
            id: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<Option<$crate::ApiKeyRecord>, $crate::StoreError>> {
            Box::pin(self.keys_by("id", id))
        }

        fn api_keys(&self) -> futures::future::BoxFuture<'_, Result<Vec<$crate::ApiKeyRecord>, $crate::StoreError>> {
            Box::pin(self.keys_all())
        }

        fn revoke_api_key<'a>(
            &'a self,
            id: &'a str,
            at: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<bool, $crate::StoreError>> {
            Box::pin(self.keys_revoke(id, at))
        }

        fn rotate_api_key<'a>(
            &'a self,
            old_id: &'a str,
            new_key: &'a $crate::ApiKeyRecord,
            old_expires_at: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<bool, $crate::StoreError>> {
            Box::pin(self.keys_rotate(old_id, new_key, old_expires_at))
        }

        fn key_changes_since(&self, seq: i64) -> futures::future::BoxFuture<'_, Result<Vec<$crate::KeyChange>, $crate::StoreError>> {
            Box::pin(self.keys_changes_since(seq))
        }

        fn key_changes_head(&self) -> futures::future::BoxFuture<'_, Result<i64, $crate::StoreError>> {
            Box::pin(self.keys_changes_head())
        }

        fn record_key_uses<'a>(
            &'a self,
            uses: &'a [(String, String)],
        ) -> futures::future::BoxFuture<'a, Result<(), $crate::StoreError>> {
            Box::pin(self.keys_record_uses(uses))
        }
    };
}
pub(crate) use shared_store_methods;
