//! What an operator does to the authorization server's state, from the
//! command line (or, later, a console): list and revoke grants and clients.
//! Works on the store alone; running gateways learn of revocations from the
//! change feed within about a second.

use mcpgate_store::{GrantSelector, OAuthClientRecord, Store, StoreError};
use serde::Serialize;

use crate::grants::now_text;

/// A grant as `mcpgate tokens list` shows it (never a token).
#[derive(Debug, Clone, Serialize)]
pub struct GrantInfo {
    /// Grant id.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The user (or the client itself, for client credentials).
    pub subject: String,
    /// Scopes granted.
    pub scopes: Vec<String>,
    /// The resource its tokens are bound to.
    pub resource: String,
    /// Created at (RFC 3339).
    pub created_at: String,
    /// Refresh tokens stop working at (RFC 3339).
    pub expires_at: String,
    /// Revoked at (RFC 3339).
    pub revoked_at: Option<String>,
    /// Why it was revoked.
    pub revoked_reason: Option<String>,
}

/// Every grant, newest first.
pub async fn grants(store: &dyn Store) -> Result<Vec<GrantInfo>, StoreError> {
    Ok(store
        .grants()
        .await?
        .into_iter()
        .map(|g| GrantInfo {
            id: g.id,
            client_id: g.client_id,
            subject: g.subject,
            scopes: g.scopes,
            resource: g.resource,
            created_at: g.created_at,
            expires_at: g.expires_at,
            revoked_at: g.revoked_at,
            revoked_reason: g.revoked_reason,
        })
        .collect())
}

/// Revoke the grants `selector` picks; returns those revoked now.
pub async fn revoke_grants(
    store: &dyn Store,
    selector: GrantSelector<'_>,
    reason: &str,
) -> Result<Vec<String>, StoreError> {
    let ids = store.revoke_grants(selector, &now_text(), reason).await?;
    for id in &ids {
        tracing::info!(grant = %id, %reason, "grant revoked");
    }
    Ok(ids)
}

/// Every stored client (registered, or known by its metadata document),
/// newest first. Clients written in the config are not stored.
pub async fn clients(store: &dyn Store) -> Result<Vec<OAuthClientRecord>, StoreError> {
    store.oauth_clients().await
}

/// Revoke a client: it gets no more tokens, and every grant it holds ends.
/// Returns the grants revoked.
pub async fn revoke_client(store: &dyn Store, client_id: &str) -> Result<Vec<String>, StoreError> {
    let now = now_text();
    if store.oauth_client(client_id).await?.is_none() {
        // A client from the config (or not seen yet) has no row: one
        // records the revocation, and lookups refuse it from now on.
        let record = OAuthClientRecord {
            client_id: client_id.to_owned(),
            source: "config".to_owned(),
            metadata: "{}".to_owned(),
            secret_hash: None,
            created_at: now.clone(),
            revoked_at: None,
        };
        store.insert_oauth_client(&record).await?;
    }
    store.revoke_oauth_client(client_id, &now).await?;
    revoke_grants(
        store,
        GrantSelector::Client(client_id),
        "the client was revoked",
    )
    .await
}
