//! API keys and their change feed in SQLite.

use super::SqliteStore;
use crate::StoreError;
use crate::keys::ApiKeyRecord;
use crate::sql::json_list;

impl SqliteStore {
    pub(crate) async fn keys_insert(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        insert_key(&mut tx, key).await?;
        announce(&mut tx, &key.id, "created", &key.created_at).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn keys_revoke(&self, id: &str, at: &str) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let changed =
            sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        if changed > 0 {
            announce(&mut tx, id, "revoked", at).await?;
        }
        tx.commit().await?;
        Ok(changed > 0)
    }

    pub(crate) async fn keys_rotate(
        &self,
        old_id: &str,
        new_key: &ApiKeyRecord,
        old_expires_at: &str,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // The old key's expiry only ever moves earlier.
        let changed = sqlx::query(
            "UPDATE api_keys SET replaced_by = ?, \
             expires_at = CASE WHEN expires_at IS NULL OR expires_at > ? THEN ? ELSE expires_at END \
             WHERE id = ? AND revoked_at IS NULL",
        )
        .bind(&new_key.id)
        .bind(old_expires_at)
        .bind(old_expires_at)
        .bind(old_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        insert_key(&mut tx, new_key).await?;
        announce(&mut tx, old_id, "expiry", &new_key.created_at).await?;
        announce(&mut tx, &new_key.id, "created", &new_key.created_at).await?;
        tx.commit().await?;
        Ok(true)
    }

    pub(crate) async fn keys_record_uses(
        &self,
        uses: &[(String, String)],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (id, at) in uses {
            sqlx::query("UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)")
                .bind(at)
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_key(tx: &mut sqlx::SqliteConnection, key: &ApiKeyRecord) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO api_keys (id, name, environment, key_hash, scopes, roles, created_at, expires_at, revoked_at, replaced_by, last_used_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&key.id)
    .bind(&key.name)
    .bind(&key.environment)
    .bind(&key.key_hash)
    .bind(json_list(&key.scopes))
    .bind(json_list(&key.roles))
    .bind(&key.created_at)
    .bind(&key.expires_at)
    .bind(&key.revoked_at)
    .bind(&key.replaced_by)
    .bind(&key.last_used_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

pub(crate) async fn announce(
    tx: &mut sqlx::SqliteConnection,
    key_id: &str,
    change: &str,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO key_changes (key_id, change, changed_at) VALUES (?, ?, ?)")
        .bind(key_id)
        .bind(change)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    Ok(())
}
