//! `POST /oauth/token`: the authorization code, refresh token and client
//! credentials grants. Every other grant type (the implicit and password
//! grants OAuth 2.1 removed, among them) is refused.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::authorize::CodeData;
use super::client_auth::{ClientAuth, authenticate};
use super::no_store;
use crate::audit::Event;
use crate::clients::Client;
use crate::error::OAuthError;
use crate::grants::{GrantIdentity, Issued, NewGrant, RefreshData, has_passed, now_text};
use crate::secrets::hash;
use crate::upstream::UpstreamError;
use crate::{AuthorizationServer, pkce};

pub(crate) async fn token(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    match grant(&server, &headers, &form).await {
        Ok(body) => no_store(body),
        Err(error) => error.into_response(),
    }
}

async fn grant(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<serde_json::Value, OAuthError> {
    let (issued, grant_type, client_id) = issue(server, headers, form).await?;
    server
        .audit(Event {
            method: "oauth/token",
            subject: &issued.subject,
            grant_id: Some(&issued.grant_id),
            details: json!({
                "grant_type": grant_type,
                "client_id": client_id,
                "scope": issued.scope,
                "refresh_token": issued.refresh_token.is_some(),
            }),
            refused: None,
        })
        .await?;
    Ok(issued.body())
}

/// Tokens for a valid request: what was issued, the grant type and the
/// client.
async fn issue(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(Issued, String, String), OAuthError> {
    let grant_type = form
        .get("grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing"))?;
    if !matches!(
        grant_type.as_str(),
        "authorization_code" | "refresh_token" | "client_credentials"
    ) {
        return Err(OAuthError::unsupported_grant_type(format!(
            "grant type {grant_type} is not supported (authorization_code, refresh_token, client_credentials)"
        )));
    }
    let (client, auth) = authenticate(server, headers, form).await?;
    if !client.may_use(grant_type) {
        return Err(OAuthError::unauthorized_client(format!(
            "this client may not use the {grant_type} grant"
        )));
    }
    let issued = match grant_type.as_str() {
        "authorization_code" => authorization_code(server, &client, form).await?,
        "refresh_token" => refresh(server, &client, form).await?,
        _ => client_credentials(server, &client, auth, form).await?,
    };
    Ok((issued, grant_type.clone(), client.id))
}

/// Audit a refusal that ended a grant (theft suspected, or the identity
/// provider dropped the user).
async fn audit_ended(server: &AuthorizationServer, grant_id: &str, client: &Client, why: &str) {
    let subject = match server.inner.store.grant(grant_id).await {
        Ok(Some(grant)) => grant.subject,
        _ => client.id.clone(),
    };
    let _ = server
        .audit(Event {
            method: "oauth/token",
            subject: &subject,
            grant_id: Some(grant_id),
            details: json!({ "client_id": client.id }),
            refused: Some(why.to_owned()),
        })
        .await;
}

fn requested_resource<'a>(
    server: &'a AuthorizationServer,
    form: &'a HashMap<String, String>,
) -> Result<Option<&'a String>, OAuthError> {
    match form.get("resource") {
        Some(resource) if !server.inner.settings.resources.contains(resource) => {
            Err(OAuthError::invalid_target(format!(
                "this server issues no tokens for the resource {resource}"
            )))
        }
        other => Ok(other),
    }
}

async fn authorization_code(
    server: &AuthorizationServer,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<Issued, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let verifier = form.get("code_verifier").ok_or_else(|| {
        OAuthError::invalid_request("code_verifier is missing (PKCE is required)")
    })?;
    let stored = server
        .inner
        .store
        .take_secret(&hash(code), "code", &now_text())
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown authorization code"))?;
    let grant_id = stored.grant_id.clone().unwrap_or_default();
    if stored.used_at.is_some() {
        // RFC 6749 §4.1.2 / OAuth 2.1: a code used twice was stolen; the
        // tokens issued for its first use are revoked.
        server
            .revoke_grant(&grant_id, "authorization code replayed")
            .await?;
        audit_ended(
            server,
            &grant_id,
            client,
            "authorization code replayed; its grant revoked",
        )
        .await;
        return Err(OAuthError::invalid_grant(
            "this authorization code was already used; the tokens issued for it are revoked",
        ));
    }
    if has_passed(&stored.expires_at) {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    let data: CodeData = serde_json::from_str(&stored.data)
        .map_err(|_| OAuthError::invalid_grant("unreadable authorization code"))?;
    if data.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if form.get("redirect_uri") != Some(&data.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request's",
        ));
    }
    if !pkce::verify(verifier, &data.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    if let Some(resource) = requested_resource(server, form)?
        && *resource != data.resource
    {
        return Err(OAuthError::invalid_target(
            "resource differs from the authorization request's",
        ));
    }
    let grant = server
        .inner
        .store
        .grant(&grant_id)
        .await?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(|| OAuthError::invalid_grant("the grant was revoked"))?;
    // A refresh must be able to ask the identity provider about the user
    // (see `check_upstream`); a grant that cannot gets no refresh token.
    let refreshable = server.inner.upstream.is_none() || grant.upstream_refresh.is_some();
    let issued = server
        .issue(
            &grant,
            &data.scopes,
            client.may_use("refresh_token") && refreshable,
        )
        .await?;
    Ok(issued)
}

/// How a refresh token's grant stands.
async fn refresh(
    server: &AuthorizationServer,
    client: &Client,
    form: &HashMap<String, String>,
) -> Result<Issued, OAuthError> {
    let token = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let store = &server.inner.store;
    // Checked before it is used, so that another client presenting it
    // cannot burn it.
    let peek = store
        .secret(&hash(token), "refresh")
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    let data: RefreshData = serde_json::from_str(&peek.data)
        .map_err(|_| OAuthError::invalid_grant("unreadable refresh token"))?;
    if data.client_id != client.id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let now = now_text();
    let stored = store
        .take_secret(&hash(token), "refresh", &now)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("unknown refresh token"))?;
    let grant_id = stored.grant_id.clone().unwrap_or_default();
    if let Some(used_at) = &stored.used_at {
        let within_grace = mcpgate_core::parse_rfc3339(used_at).is_some_and(|at| {
            at + server.inner.settings.refresh_grace >= std::time::SystemTime::now()
        });
        if !within_grace {
            server
                .revoke_grant(&grant_id, "refresh token reused")
                .await?;
            audit_ended(
                server,
                &grant_id,
                client,
                "refresh token reused; its grant revoked",
            )
            .await;
            return Err(OAuthError::invalid_grant(
                "this refresh token was already used; the whole grant is revoked",
            ));
        }
    }
    if has_passed(&stored.expires_at) {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let grant = store
        .grant(&grant_id)
        .await?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(|| OAuthError::invalid_grant("the grant was revoked"))?;
    if let Some(resource) = requested_resource(server, form)?
        && *resource != grant.resource
    {
        return Err(OAuthError::invalid_target(
            "resource differs from the grant's",
        ));
    }
    let scopes = match form.get("scope") {
        None => grant.scopes.clone(),
        Some(asked) => {
            let asked: BTreeSet<&str> = asked
                .split_whitespace()
                .filter(|s| *s != super::authorize::OFFLINE_ACCESS)
                .collect();
            if let Some(extra) = asked.iter().find(|s| !grant.scopes.iter().any(|g| g == *s)) {
                return Err(OAuthError::invalid_scope(format!(
                    "scope {extra} was not granted"
                )));
            }
            asked.into_iter().map(str::to_owned).collect()
        }
    };
    check_upstream(server, &grant).await?;
    server.issue(&grant, &scopes, true).await
}

/// Ask the identity provider whether the user is still there: a refused
/// refresh ends the grant.
async fn check_upstream(
    server: &AuthorizationServer,
    grant: &mcpgate_store::GrantRecord,
) -> Result<(), OAuthError> {
    let Some(upstream) = &server.inner.upstream else {
        return Ok(());
    };
    let Some(sealed) = &grant.upstream_refresh else {
        // Without the provider's refresh token nobody can ask it whether
        // the user is still there: a user it disabled would keep refreshing
        // here for the grant's whole life. They sign in again instead.
        return Err(OAuthError::invalid_grant(
            "sign in again: the identity provider gave no refresh token to check this user with \
             (the gateway's operator can add offline_access to oauth_server.upstream.scopes)",
        ));
    };
    let Some(upstream_token) = server.inner.sealer.open(sealed) else {
        server
            .revoke_grant(
                &grant.id,
                "the identity provider's token cannot be unsealed",
            )
            .await?;
        return Err(OAuthError::invalid_grant("sign in again"));
    };
    match upstream.refresh(&upstream_token).await {
        Ok(next) => {
            if next != upstream_token {
                let sealed = server.inner.sealer.seal(&next);
                server
                    .inner
                    .store
                    .set_grant_upstream_refresh(&grant.id, Some(&sealed))
                    .await?;
            }
            Ok(())
        }
        Err(UpstreamError::Refused(why)) => {
            let why = format!("the identity provider refused to refresh: {why}");
            server.revoke_grant(&grant.id, &why).await?;
            let _ = server
                .audit(Event {
                    method: "oauth/token",
                    subject: &grant.subject,
                    grant_id: Some(&grant.id),
                    details: json!({ "client_id": grant.client_id }),
                    refused: Some(format!("{why}; its grant revoked")),
                })
                .await;
            Err(OAuthError::invalid_grant(
                "the identity provider no longer vouches for this user; sign in again",
            ))
        }
        Err(UpstreamError::Unavailable(why)) => {
            tracing::warn!(%why, "cannot refresh at the identity provider");
            Err(OAuthError::unavailable(
                "the identity provider is unavailable",
            ))
        }
    }
}

async fn client_credentials(
    server: &AuthorizationServer,
    client: &Client,
    auth: ClientAuth,
    form: &HashMap<String, String>,
) -> Result<Issued, OAuthError> {
    if auth != ClientAuth::Confidential {
        return Err(OAuthError::invalid_client(
            "the client credentials grant needs an authenticated confidential client",
        ));
    }
    let scopes: Vec<String> = match form.get("scope") {
        None => client.scopes.clone(),
        Some(asked) => {
            let asked: BTreeSet<&str> = asked.split_whitespace().collect();
            if let Some(extra) = asked
                .iter()
                .find(|s| !client.scopes.iter().any(|c| c == *s))
            {
                return Err(OAuthError::invalid_scope(format!(
                    "this client may not have the scope {extra}"
                )));
            }
            asked.into_iter().map(str::to_owned).collect()
        }
    };
    let resource = requested_resource(server, form)?
        .cloned()
        .unwrap_or_else(|| server.inner.settings.resources[0].clone());
    let grant = server
        .create_grant(NewGrant {
            client_id: &client.id,
            subject: &client.id,
            scopes: scopes.clone(),
            resource: &resource,
            identity: &GrantIdentity::default(),
            upstream_refresh: None,
            lifetime: server.inner.settings.access_token_ttl,
        })
        .await?;
    server.issue(&grant, &scopes, false).await
}
