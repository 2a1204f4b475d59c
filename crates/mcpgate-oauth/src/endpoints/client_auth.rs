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
    /// With its secret or a signed assertion: a confidential client.
    Confidential,
    /// A public client, by its id alone.
    Public,
}

/// RFC 7523 §2.2.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may be valid for.
const MAX_ASSERTION_LIFETIME: u64 = 300;

/// The client making the request, authenticated.
pub(crate) async fn authenticate(
    server: &AuthorizationServer,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(Client, ClientAuth), OAuthError> {
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_client(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
        let client = private_key_jwt(server, assertion, form.get("client_id")).await?;
        return Ok((client, ClientAuth::Confidential));
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
        return Ok((client, ClientAuth::Confidential));
    }
    let Some(id) = form_id else {
        return Err(OAuthError::invalid_client(
            "the client did not identify itself",
        ));
    };
    let client = server.inner.clients.find(id).await?;
    match (form.get("client_secret"), &client.secret_hash) {
        (Some(secret), Some(_)) if client.secret_matches(secret) => {
            Ok((client, ClientAuth::Confidential))
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

/// A client authenticating with a JWT signed by its own key (RFC 7523
/// `private_key_jwt`): `iss` = `sub` = the client id, `aud` = this issuer,
/// short-lived, and each `jti` accepted once.
async fn private_key_jwt(
    server: &AuthorizationServer,
    assertion: &str,
    form_client_id: Option<&String>,
) -> Result<Client, OAuthError> {
    use jsonwebtoken::{Algorithm, Validation};

    let bad = |why: &str| OAuthError::invalid_client(format!("client assertion: {why}"));
    if assertion.len() > 8 * 1024 {
        return Err(bad("too large"));
    }
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| bad("malformed"))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::PS256 | Algorithm::ES256 | Algorithm::EdDSA
    ) {
        return Err(bad("use RS256, PS256, ES256 or EdDSA"));
    }
    // Who it claims to be, only to find the keys to check that with.
    let claimed: serde_json::Map<String, serde_json::Value> =
        jsonwebtoken::dangerous::insecure_decode_claims(assertion).map_err(|_| bad("malformed"))?;
    let client_id = claimed
        .get("sub")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("no sub"))?
        .to_owned();
    if form_client_id.is_some_and(|id| *id != client_id) {
        return Err(bad("sub differs from client_id"));
    }
    let client = server.inner.clients.find(&client_id).await?;
    let Some(jwks) = &client.jwks else {
        return Err(bad("this client has no registered keys"));
    };
    let jwk = match &header.kid {
        Some(kid) => jwks.find(kid),
        None if jwks.keys.len() == 1 => jwks.keys.first(),
        None => None,
    }
    .ok_or_else(|| bad("unknown key"))?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|_| bad("unusable key"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&client_id]);
    validation.sub = Some(client_id.clone());
    validation.set_audience(&[server.issuer()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.leeway = 30;
    let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
        assertion,
        &key,
        &validation,
    )
    .map_err(|e| bad(&e.to_string()))?
    .claims;
    let exp = claims.get("exp").and_then(|v| v.as_u64()).unwrap_or(0);
    if exp > crate::tokens::unix_now() + MAX_ASSERTION_LIFETIME + 30 {
        return Err(bad("valid for too long (at most 5 minutes)"));
    }
    let jti = claims
        .get("jti")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("no jti"))?;
    // Each assertion once: its jti is remembered until it expires.
    let key = crate::secrets::hash(&format!("{client_id}\n{jti}"));
    let store = &server.inner.store;
    if store.secret(&key, "assertion").await?.is_some() {
        return Err(bad("already used"));
    }
    let expires = std::time::UNIX_EPOCH + std::time::Duration::from_secs(exp + 60);
    store
        .insert_secret(&mcpgate_store::OneTimeSecret {
            hash: key,
            kind: "assertion".to_owned(),
            grant_id: None,
            data: "{}".to_owned(),
            created_at: crate::grants::now_text(),
            expires_at: mcpgate_core::format_rfc3339(expires),
            used_at: None,
        })
        // A concurrent use of the same jti fails on the primary key.
        .await
        .map_err(|_| bad("already used"))?;
    Ok(client)
}
