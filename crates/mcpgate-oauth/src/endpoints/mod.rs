//! The authorization server's HTTP endpoints.

mod authorize;
mod client_auth;
mod register;
mod revoke;
mod token;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::{AuthorizationServer, paths};

/// The largest request body the endpoints read.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every endpoint, with a body limit of its own. No CORS headers are sent
/// anywhere: the authorization endpoint is for browsers navigating, not
/// for scripts on other sites.
pub fn router(server: AuthorizationServer) -> Router {
    let mut router = Router::new()
        .route(paths::METADATA, get(metadata))
        .route(paths::OPENID_CONFIGURATION, get(metadata))
        .route(paths::JWKS, get(jwks))
        .route(paths::AUTHORIZE, get(authorize::authorize))
        .route(paths::CALLBACK, get(authorize::callback))
        .route(paths::CONSENT, post(authorize::consent))
        .route(paths::TOKEN, post(token::token))
        .route(paths::REVOKE, post(revoke::revoke))
        .route(paths::INTROSPECT, post(revoke::introspect));
    if server.inner.settings.dynamic_registration {
        router = router.route(paths::REGISTER, post(register::register));
    }
    router
        .with_state(server)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The RFC 8414 metadata document.
pub fn metadata_document(server: &AuthorizationServer) -> Value {
    let settings = &server.inner.settings;
    let issuer = &settings.issuer;
    let mut document = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}{}", paths::AUTHORIZE),
        "token_endpoint": format!("{issuer}{}", paths::TOKEN),
        "jwks_uri": format!("{issuer}{}", paths::JWKS),
        "revocation_endpoint": format!("{issuer}{}", paths::REVOKE),
        "introspection_endpoint": format!("{issuer}{}", paths::INTROSPECT),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": settings
            .scopes_supported
            .iter()
            .map(String::as_str)
            .chain([authorize::OFFLINE_ACCESS])
            .collect::<Vec<_>>(),
        "authorization_response_iss_parameter_supported": true,
        "client_id_metadata_document_supported": settings.client_metadata_documents,
        "subject_types_supported": ["public"],
    });
    if settings.dynamic_registration {
        document["registration_endpoint"] = json!(format!("{issuer}{}", paths::REGISTER));
    }
    document
}

async fn metadata(State(server): State<AuthorizationServer>) -> Response {
    cacheable(metadata_document(&server))
}

async fn jwks(State(server): State<AuthorizationServer>) -> Response {
    cacheable(server.inner.keys.jwks())
}

fn cacheable(document: Value) -> Response {
    let mut response = axum::Json(document).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// A JSON answer that must not be cached (it holds tokens).
pub(crate) fn no_store(document: Value) -> Response {
    let mut response = axum::Json(document).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
