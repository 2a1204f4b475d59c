//! `POST /oauth/revoke` (RFC 7009) and `POST /oauth/introspect`
//! (RFC 7662). Revoking either kind of token revokes its whole grant.
//! A client may revoke and introspect only tokens issued to itself.

use std::collections::HashMap;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::client_auth::{ClientAuth, authenticate};
use super::no_store;
use crate::AuthorizationServer;
use crate::audit::Event;
use crate::error::OAuthError;
use crate::grants::{RefreshData, has_passed};
use crate::secrets::hash;

/// What a presented token turned out to be.
enum Found {
    Access(crate::tokens::AccessClaims),
    Refresh {
        grant_id: String,
        client_id: String,
        active: bool,
    },
    Nothing,
}

async fn find(server: &AuthorizationServer, token: &str) -> Result<Found, OAuthError> {
    if token.split('.').count() == 3 {
        return Ok(match server.inner.verifier.claims(token) {
            Ok(claims) => Found::Access(claims),
            Err(_) => Found::Nothing,
        });
    }
    let Some(stored) = server.inner.store.secret(&hash(token), "refresh").await? else {
        return Ok(Found::Nothing);
    };
    let Ok(data) = serde_json::from_str::<RefreshData>(&stored.data) else {
        return Ok(Found::Nothing);
    };
    Ok(Found::Refresh {
        grant_id: stored.grant_id.unwrap_or_default(),
        client_id: data.client_id,
        active: stored.used_at.is_none() && !has_passed(&stored.expires_at),
    })
}

pub(crate) async fn revoke(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result = async {
        let (client, _) = authenticate(&server, &headers, &form).await?;
        let token = form
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        let (grant_id, owner) = match find(&server, token).await? {
            Found::Access(claims) => (claims.gid, claims.client_id),
            Found::Refresh {
                grant_id,
                client_id,
                ..
            } => (grant_id, client_id),
            // RFC 7009 §2.2: an invalid token is not an error.
            Found::Nothing => return Ok(()),
        };
        if owner != client.id {
            return Err(OAuthError::unauthorized_client(
                "the token was issued to another client",
            ));
        }
        server
            .revoke_grant(&grant_id, "revoked by the client")
            .await?;
        let subject = match server.inner.store.grant(&grant_id).await? {
            Some(grant) => grant.subject,
            None => client.id.clone(),
        };
        server
            .audit(Event {
                method: "oauth/revoke",
                subject: &subject,
                grant_id: Some(&grant_id),
                details: json!({ "client_id": client.id }),
                refused: None,
            })
            .await
    }
    .await;
    match result {
        Ok(()) => no_store(json!({})),
        Err(error) => error.into_response(),
    }
}

pub(crate) async fn introspect(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let result = async {
        let (client, auth) = authenticate(&server, &headers, &form).await?;
        if auth != ClientAuth::Confidential {
            return Err(OAuthError::invalid_client(
                "introspection needs an authenticated confidential client",
            )
            .with_basic_challenge());
        }
        let token = form
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
        let inactive = json!({ "active": false });
        Ok(match find(&server, token).await? {
            Found::Access(claims)
                if claims.client_id == client.id
                    && !server.inner.verifier.is_revoked(&claims.gid)
                    && grant_active(&server, &claims.gid).await? =>
            {
                json!({
                    "active": true,
                    "token_type": "Bearer",
                    "scope": claims.scope,
                    "client_id": claims.client_id,
                    "sub": claims.sub,
                    "aud": claims.aud,
                    "iss": claims.iss,
                    "exp": claims.exp,
                    "iat": claims.iat,
                    "jti": claims.jti,
                })
            }
            Found::Refresh {
                grant_id,
                client_id,
                active: true,
            } if client_id == client.id && grant_active(&server, &grant_id).await? => json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": client_id,
            }),
            _ => inactive,
        })
    }
    .await;
    match result {
        Ok(body) => no_store(body),
        Err(error) if error.status == StatusCode::SERVICE_UNAVAILABLE => error.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn grant_active(server: &AuthorizationServer, id: &str) -> Result<bool, OAuthError> {
    Ok(server
        .inner
        .store
        .grant(id)
        .await?
        .is_some_and(|g| g.revoked_at.is_none()))
}
