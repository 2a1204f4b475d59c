//! The embedded authorization server's records: registered clients,
//! grants, and single-use secrets (authorization codes, refresh tokens,
//! sign-ins in progress). Secrets are only ever stored as hashes.

use serde::Serialize;

/// A client that registered itself (RFC 7591) or whose Client ID Metadata
/// Document was fetched. Clients written in the config are not stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthClientRecord {
    /// The client id (a URL for metadata-document clients).
    pub client_id: String,
    /// `registered` or `metadata_document`.
    pub source: String,
    /// The client metadata (RFC 7591 §2), as JSON text.
    pub metadata: String,
    /// Hash of the client secret, for confidential registered clients.
    #[serde(skip_serializing)]
    pub secret_hash: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of revocation, if revoked.
    pub revoked_at: Option<String>,
}

/// What a user (or a client for itself) was granted. Every token descends
/// from one grant; revoking it ends them all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GrantRecord {
    /// Public identifier (`grant_…`), carried by the access tokens.
    pub id: String,
    /// The client the grant was made to.
    pub client_id: String,
    /// The user (or, for client credentials, the client).
    pub subject: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// The resource (RFC 8707) the tokens are bound to.
    pub resource: String,
    /// The subject's roles, groups and claims at sign-in, as JSON text.
    pub identity: String,
    /// The upstream identity provider's refresh token, sealed.
    #[serde(skip_serializing)]
    pub upstream_refresh: Option<String>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time after which no token is issued from the grant.
    pub expires_at: String,
    /// RFC 3339 time of revocation, if revoked.
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

/// A single-use secret, by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeSecret {
    /// SHA-256 of the secret, hex.
    pub hash: String,
    /// `code`, `refresh` or `pending`.
    pub kind: String,
    /// The grant it belongs to, once there is one.
    pub grant_id: Option<String>,
    /// What the secret stands for, as JSON text.
    pub data: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 expiry.
    pub expires_at: String,
    /// RFC 3339 time of its first use; set by [`crate::Store::take_secret`].
    pub used_at: Option<String>,
}

/// Which grants to revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSelector<'a> {
    /// One grant.
    Id(&'a str),
    /// Every grant of a user.
    Subject(&'a str),
    /// Every grant made to a client.
    Client(&'a str),
}

impl GrantSelector<'_> {
    pub(crate) fn column_and_value(&self) -> (&'static str, &str) {
        match self {
            GrantSelector::Id(v) => ("id", v),
            GrantSelector::Subject(v) => ("subject", v),
            GrantSelector::Client(v) => ("client_id", v),
        }
    }
}

pub(crate) const CLIENT_COLUMNS: &str =
    "client_id, source, metadata, secret_hash, created_at, revoked_at";
pub(crate) const GRANT_COLUMNS: &str = "id, client_id, subject, scopes, resource, identity, \
     upstream_refresh, created_at, expires_at, revoked_at, revoked_reason";
pub(crate) const SECRET_COLUMNS: &str =
    "hash, kind, grant_id, data, created_at, expires_at, used_at";

macro_rules! decode {
    ($row:ty) => {
        pub(crate) fn client_from_row(
            row: &$row,
        ) -> Result<$crate::OAuthClientRecord, sqlx::Error> {
            use sqlx::Row as _;
            Ok($crate::OAuthClientRecord {
                client_id: row.try_get("client_id")?,
                source: row.try_get("source")?,
                metadata: row.try_get("metadata")?,
                secret_hash: row.try_get("secret_hash")?,
                created_at: row.try_get("created_at")?,
                revoked_at: row.try_get("revoked_at")?,
            })
        }

        pub(crate) fn grant_from_row(row: &$row) -> Result<$crate::GrantRecord, sqlx::Error> {
            use sqlx::Row as _;
            let scopes: String = row.try_get("scopes")?;
            Ok($crate::GrantRecord {
                id: row.try_get("id")?,
                client_id: row.try_get("client_id")?,
                subject: row.try_get("subject")?,
                scopes: serde_json::from_str(&scopes)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
                resource: row.try_get("resource")?,
                identity: row.try_get("identity")?,
                upstream_refresh: row.try_get("upstream_refresh")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                revoked_at: row.try_get("revoked_at")?,
                revoked_reason: row.try_get("revoked_reason")?,
            })
        }

        pub(crate) fn secret_from_row(row: &$row) -> Result<$crate::OneTimeSecret, sqlx::Error> {
            use sqlx::Row as _;
            Ok($crate::OneTimeSecret {
                hash: row.try_get("hash")?,
                kind: row.try_get("kind")?,
                grant_id: row.try_get("grant_id")?,
                data: row.try_get("data")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
                used_at: row.try_get("used_at")?,
            })
        }
    };
}
pub(crate) use decode;

/// The OAuth queries, the same text on both databases (`$N` placeholders),
/// as inherent methods of a store with a `pool` field; `$begin` opens a
/// write transaction and `$announce` puts a revocation on the change feed
/// every instance follows (the same feed as API keys).
macro_rules! oauth_queries {
    ($store:ty, $row:ty, $begin:ident, $announce:path) => {
        mod oauth_rows {
            $crate::oauth::decode!($row);
        }

        impl $store {
            pub(crate) async fn oauth_insert_client(
                &self,
                client: &$crate::OAuthClientRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO oauth_clients (client_id, source, metadata, secret_hash, created_at, revoked_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (client_id) DO UPDATE SET metadata = excluded.metadata \
                     WHERE oauth_clients.source = 'metadata_document' AND oauth_clients.revoked_at IS NULL",
                )
                .bind(&client.client_id)
                .bind(&client.source)
                .bind(&client.metadata)
                .bind(&client.secret_hash)
                .bind(&client.created_at)
                .bind(&client.revoked_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            /// One row by `keys` (bound as `$1`, `$2`, …), decoded.
            async fn oauth_find<T>(
                &self,
                sql: String,
                keys: &[&str],
                decode: fn(&$row) -> Result<T, sqlx::Error>,
            ) -> Result<Option<T>, $crate::StoreError> {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for key in keys {
                    query = query.bind(*key);
                }
                let row = query.fetch_optional(&self.pool).await?;
                Ok(row.as_ref().map(decode).transpose()?)
            }

            /// Every row `sql` selects, decoded.
            async fn oauth_list<T>(
                &self,
                sql: String,
                decode: fn(&$row) -> Result<T, sqlx::Error>,
            ) -> Result<Vec<T>, $crate::StoreError> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.iter().map(decode).collect::<Result<_, _>>()?)
            }

            pub(crate) async fn oauth_client_by_id(
                &self,
                client_id: &str,
            ) -> Result<Option<$crate::OAuthClientRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM oauth_clients WHERE client_id = $1",
                    $crate::oauth::CLIENT_COLUMNS
                );
                self.oauth_find(sql, &[client_id], oauth_rows::client_from_row)
                    .await
            }
            pub(crate) async fn oauth_all_clients(
                &self,
            ) -> Result<Vec<$crate::OAuthClientRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM oauth_clients ORDER BY created_at DESC, client_id",
                    $crate::oauth::CLIENT_COLUMNS
                );
                self.oauth_list(sql, oauth_rows::client_from_row).await
            }
            pub(crate) async fn oauth_revoke_client(
                &self,
                client_id: &str,
                at: &str,
            ) -> Result<bool, $crate::StoreError> {
                let mut tx = $begin(&self.pool).await?;
                let changed = sqlx::query(
                    "UPDATE oauth_clients SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL",
                )
                .bind(at)
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                Ok(changed > 0)
            }

            pub(crate) async fn oauth_insert_grant(
                &self,
                grant: &$crate::GrantRecord,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO oauth_grants (id, client_id, subject, scopes, resource, identity, \
                     upstream_refresh, created_at, expires_at, revoked_at, revoked_reason) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&grant.id)
                .bind(&grant.client_id)
                .bind(&grant.subject)
                .bind($crate::sql::json_list(&grant.scopes))
                .bind(&grant.resource)
                .bind(&grant.identity)
                .bind(&grant.upstream_refresh)
                .bind(&grant.created_at)
                .bind(&grant.expires_at)
                .bind(&grant.revoked_at)
                .bind(&grant.revoked_reason)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn oauth_grant_by_id(
                &self,
                id: &str,
            ) -> Result<Option<$crate::GrantRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM oauth_grants WHERE id = $1",
                    $crate::oauth::GRANT_COLUMNS
                );
                self.oauth_find(sql, &[id], oauth_rows::grant_from_row).await
            }
            pub(crate) async fn oauth_all_grants(
                &self,
            ) -> Result<Vec<$crate::GrantRecord>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM oauth_grants ORDER BY created_at DESC, id",
                    $crate::oauth::GRANT_COLUMNS
                );
                self.oauth_list(sql, oauth_rows::grant_from_row).await
            }
            pub(crate) async fn oauth_revoke_grants(
                &self,
                selector: $crate::GrantSelector<'_>,
                at: &str,
                reason: &str,
            ) -> Result<Vec<String>, $crate::StoreError> {
                use sqlx::Row as _;
                let (column, value) = selector.column_and_value();
                let mut tx = $begin(&self.pool).await?;
                let sql = format!(
                    "UPDATE oauth_grants SET revoked_at = $1, revoked_reason = $2 \
                     WHERE {column} = $3 AND revoked_at IS NULL RETURNING id"
                );
                let ids: Vec<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(at)
                    .bind(reason)
                    .bind(value)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(|row| row.try_get("id"))
                    .collect::<Result<_, _>>()?;
                for id in &ids {
                    $announce(&mut tx, id, "revoked", at).await?;
                }
                tx.commit().await?;
                Ok(ids)
            }

            pub(crate) async fn oauth_set_grant_upstream(
                &self,
                id: &str,
                sealed: Option<&str>,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query("UPDATE oauth_grants SET upstream_refresh = $1 WHERE id = $2")
                    .bind(sealed)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            pub(crate) async fn oauth_insert_secret(
                &self,
                secret: &$crate::OneTimeSecret,
            ) -> Result<(), $crate::StoreError> {
                sqlx::query(
                    "INSERT INTO oauth_secrets (hash, kind, grant_id, data, created_at, expires_at, used_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&secret.hash)
                .bind(&secret.kind)
                .bind(&secret.grant_id)
                .bind(&secret.data)
                .bind(&secret.created_at)
                .bind(&secret.expires_at)
                .bind(&secret.used_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            pub(crate) async fn oauth_read_secret(
                &self,
                hash: &str,
                kind: &str,
            ) -> Result<Option<$crate::OneTimeSecret>, $crate::StoreError> {
                let sql = format!(
                    "SELECT {} FROM oauth_secrets WHERE hash = $1 AND kind = $2",
                    $crate::oauth::SECRET_COLUMNS
                );
                self.oauth_find(sql, &[hash, kind], oauth_rows::secret_from_row)
                    .await
            }
            pub(crate) async fn oauth_take_secret(
                &self,
                hash: &str,
                kind: &str,
                at: &str,
            ) -> Result<Option<$crate::OneTimeSecret>, $crate::StoreError> {
                // Read and mark in one transaction: of two concurrent uses,
                // exactly one sees `used_at` empty.
                let mut tx = $begin(&self.pool).await?;
                let sql = format!(
                    "SELECT {} FROM oauth_secrets WHERE hash = $1 AND kind = $2",
                    $crate::oauth::SECRET_COLUMNS
                );
                let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(hash)
                    .bind(kind)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(secret) = row.as_ref().map(oauth_rows::secret_from_row).transpose()? else {
                    return Ok(None);
                };
                let changed = sqlx::query(
                    "UPDATE oauth_secrets SET used_at = $1 WHERE hash = $2 AND used_at IS NULL",
                )
                .bind(at)
                .bind(hash)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                tx.commit().await?;
                if changed == 0 && secret.used_at.is_none() {
                    // Another transaction used it between our read and
                    // write: report it as used.
                    return Ok(Some($crate::OneTimeSecret {
                        used_at: Some(at.to_owned()),
                        ..secret
                    }));
                }
                Ok(Some(secret))
            }

            pub(crate) async fn oauth_purge_secrets(
                &self,
                before: &str,
            ) -> Result<u64, $crate::StoreError> {
                Ok(sqlx::query("DELETE FROM oauth_secrets WHERE expires_at < $1")
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }
    };
}
pub(crate) use oauth_queries;

/// The OAuth `Store` methods, delegating to [`oauth_queries`]; expanded
/// inside each `impl Store`.
macro_rules! oauth_store_methods {
    () => {
        fn insert_oauth_client<'a>(
            &'a self,
            client: &'a $crate::OAuthClientRecord,
        ) -> futures::future::BoxFuture<'a, Result<(), $crate::StoreError>> {
            Box::pin(self.oauth_insert_client(client))
        }

        fn oauth_client<'a>(
            &'a self,
            client_id: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<Option<$crate::OAuthClientRecord>, $crate::StoreError>> {
            Box::pin(self.oauth_client_by_id(client_id))
        }

        fn oauth_clients(&self) -> futures::future::BoxFuture<'_, Result<Vec<$crate::OAuthClientRecord>, $crate::StoreError>> {
            Box::pin(self.oauth_all_clients())
        }

        fn revoke_oauth_client<'a>(
            &'a self,
            client_id: &'a str,
            at: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<bool, $crate::StoreError>> {
            Box::pin(self.oauth_revoke_client(client_id, at))
        }

        fn insert_grant<'a>(
            &'a self,
            grant: &'a $crate::GrantRecord,
        ) -> futures::future::BoxFuture<'a, Result<(), $crate::StoreError>> {
            Box::pin(self.oauth_insert_grant(grant))
        }

        fn grant<'a>(
            &'a self,
            id: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<Option<$crate::GrantRecord>, $crate::StoreError>> {
            Box::pin(self.oauth_grant_by_id(id))
        }

        fn grants(&self) -> futures::future::BoxFuture<'_, Result<Vec<$crate::GrantRecord>, $crate::StoreError>> {
            Box::pin(self.oauth_all_grants())
        }

        fn revoke_grants<'a>(
            &'a self,
            selector: $crate::GrantSelector<'a>,
            at: &'a str,
            reason: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<Vec<String>, $crate::StoreError>> {
            Box::pin(self.oauth_revoke_grants(selector, at, reason))
        }

        fn set_grant_upstream_refresh<'a>(
            &'a self,
            id: &'a str,
            sealed: Option<&'a str>,
        ) -> futures::future::BoxFuture<'a, Result<(), $crate::StoreError>> {
            Box::pin(self.oauth_set_grant_upstream(id, sealed))
        }

        fn insert_secret<'a>(
            &'a self,
            secret: &'a $crate::OneTimeSecret,
        ) -> futures::future::BoxFuture<'a, Result<(), $crate::StoreError>> {
            Box::pin(self.oauth_insert_secret(secret))
        }

        fn take_secret<'a>(
            &'a self,
            hash: &'a str,
            kind: &'a str,
            at: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<Option<$crate::OneTimeSecret>, $crate::StoreError>> {
            Box::pin(self.oauth_take_secret(hash, kind, at))
        }

        fn secret<'a>(
            &'a self,
            hash: &'a str,
            kind: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<Option<$crate::OneTimeSecret>, $crate::StoreError>> {
            Box::pin(self.oauth_read_secret(hash, kind))
        }

        fn purge_secrets<'a>(
            &'a self,
            before: &'a str,
        ) -> futures::future::BoxFuture<'a, Result<u64, $crate::StoreError>> {
            Box::pin(self.oauth_purge_secrets(before))
        }
    };
}
pub(crate) use oauth_store_methods;
