//! `POST /oauth/register`: dynamic client registration (RFC 7591), for
//! clients that cannot use a metadata document. Only the authorization
//! code and refresh token grants can be registered; a confidential client
//! gets its secret once, in this answer.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::no_store;
use crate::AuthorizationServer;
use crate::audit::Event;
use crate::clients::ClientMetadata;
use crate::error::OAuthError;
use crate::grants::now_text;
use crate::secrets::{hash, random_id, random_secret};

/// The most redirect URIs one registration may carry.
const MAX_REDIRECT_URIS: usize = 20;

pub(crate) async fn register(
    State(server): State<AuthorizationServer>,
    body: axum::body::Bytes,
) -> Response {
    match registration(&server, &body).await {
        Ok(answer) => {
            let mut response = no_store(answer);
            *response.status_mut() = StatusCode::CREATED;
            response
        }
        Err(error) => error.into_response(),
    }
}

async fn registration(server: &AuthorizationServer, body: &[u8]) -> Result<Value, OAuthError> {
    let mut document: Value = serde_json::from_slice(body).map_err(|e| {
        OAuthError::invalid_client_metadata(format!("the body is not a JSON object: {e}"))
    })?;
    let object = document
        .as_object_mut()
        .ok_or_else(|| OAuthError::invalid_client_metadata("the body is not a JSON object"))?;
    // The server picks the id and the secret.
    object.remove("client_id");
    object.remove("client_secret");
    let metadata: ClientMetadata = serde_json::from_value(document.clone())
        .map_err(|e| OAuthError::invalid_client_metadata(e.to_string()))?;
    if metadata.redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(OAuthError::invalid_redirect_uri(format!(
            "at most {MAX_REDIRECT_URIS} redirect URIs"
        )));
    }
    let (grant_types, confidential) = metadata.check()?;
    let client_id = random_id("mcpc_");
    let secret = confidential.then(|| random_secret("mcpcs_"));
    let auth_method = metadata
        .token_endpoint_auth_method
        .clone()
        .unwrap_or_else(|| "none".to_owned());
    document["grant_types"] = json!(grant_types);
    document["token_endpoint_auth_method"] = json!(auth_method);
    let record = mcpgate_store::OAuthClientRecord {
        client_id: client_id.clone(),
        source: "registered".to_owned(),
        metadata: document.to_string(),
        secret_hash: secret.as_deref().map(hash),
        created_at: now_text(),
        revoked_at: None,
    };
    server
        .audit(Event {
            method: "oauth/register",
            subject: &client_id,
            grant_id: None,
            details: json!({
                "client_name": metadata.client_name,
                "redirect_uris": metadata.redirect_uris,
                "grant_types": grant_types,
                "confidential": confidential,
            }),
            refused: None,
        })
        .await?;
    server.inner.store.insert_oauth_client(&record).await?;
    tracing::info!(client = %client_id, name = ?metadata.client_name, "client registered");
    let mut answer = document;
    answer["client_id"] = json!(client_id);
    answer["client_id_issued_at"] = json!(crate::tokens::unix_now());
    answer["response_types"] = json!(["code"]);
    if let Some(secret) = secret {
        answer["client_secret"] = json!(secret);
        answer["client_secret_expires_at"] = json!(0);
    }
    Ok(answer)
}
