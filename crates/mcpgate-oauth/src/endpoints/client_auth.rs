//! Client authentication at the token, revocation and introspection
//! endpoints: HTTP Basic (`client_secret_basic`), form fields
//! (`client_secret_post`), or a public client naming itself (`none`).

use std::collections::HashMap;

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::AuthorizationServer;
use crate::clients::Client;
use crate::error::OAuthError;

/// How the client authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// With its secret.
    Secret,
    /// A public client, by its id alone.
    Public,
}

/// The client making the request, authenticated.
pub(crate) async fn authenticate(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(Client, ClientAuth), OAuthError> {
    if form.contains_key("client_assertion") {
        return Err(OAuthError::invalid_client(
            "private_key_jwt client authentication is not supported yet; use client_secret_basic",
        ));
    }
    let basic = basic_credentials(headers)?;
    let form_id = form.get("client_id").filter(|s| !s.is_empty());
    if let (Some((id, _)), Some(form_id)) = (&basic, form_id)
        && id != form_id
    {
        return Err(OAuthError::invalid_request(
            "client_id in the form differs from the one in the Authorization header",
        ));
    }
    if let Some((id, secret)) = basic {
        let client = server
            .inner
            .clients
            .find(&id)
            .await
            .map_err(OAuthError::with_basic_challenge)?;
        if !client.secret_matches(&secret) {
            return Err(
                OAuthError::invalid_client("client authentication failed").with_basic_challenge()
            );
        }
        return Ok((client, ClientAuth::Secret));
    }
    let Some(id) = form_id else {
        return Err(OAuthError::invalid_client(
            "the client did not identify itself",
        ));
    };
    let client = server.inner.clients.find(id).await?;
    match (form.get("client_secret"), &client.secret_hash) {
        (Some(secret), Some(_)) if client.secret_matches(secret) => {
            Ok((client, ClientAuth::Secret))
        }
        (Some(_), _) => Err(OAuthError::invalid_client("client authentication failed")),
        (None, Some(_)) => Err(OAuthError::invalid_client(
            "this client is confidential and must authenticate",
        )),
        (None, None) => Ok((client, ClientAuth::Public)),
    }
}

/// `Authorization: Basic` credentials, form-url-decoded (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthError::invalid_client("malformed Basic credentials").with_basic_challenge();
    let text = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = text
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return Err(bad());
    };
    let decoded = STANDARD.decode(encoded).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}
