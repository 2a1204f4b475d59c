//! The admin API: the console's operations as JSON under `/admin/api`,
//! for scripts. Every request carries its own credential
//! (`Authorization: Bearer …`, any the gateway accepts) with an admin role;
//! there are no cookies, so there is nothing to forge across sites.

use std::time::SystemTime;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use mcpgate_auth::api_key::KeyTemplate;
use mcpgate_core::{format_rfc3339, parse_duration};
use mcpgate_store::GrantSelector;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AdminConsole;
use crate::audit_view::{Filters, row};
use crate::html::with_headers;
use crate::session::Admin;

pub(crate) fn router(base: &str) -> Router<AdminConsole> {
    let at = |path: &str| format!("{base}/api{path}");
    Router::new()
        .route(&at("/keys"), get(keys).post(create_key))
        .route(&at("/keys/{id}/revoke"), post(revoke_key))
        .route(&at("/grants"), get(grants))
        .route(&at("/grants/{id}/revoke"), post(revoke_grant))
        .route(&at("/clients"), get(clients))
        .route(&at("/clients/{id}/revoke"), post(revoke_client))
        .route(&at("/tools"), get(tools))
        .route(&at("/audit"), get(audit))
}

fn answer(status: StatusCode, body: Value) -> Response {
    with_headers(
        (status, axum::Json(body)).into_response(),
        "application/json",
    )
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    answer(
        status,
        json!({ "error": code, "error_description": description }),
    )
}

/// The administrator making this request, or the 401/403 to answer.
async fn admin(console: &AdminConsole, headers: &HeaderMap) -> Result<Admin, Response> {
    let credential = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let unauthorized = |why: &str| {
        let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized", why);
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"mcpgate admin\""),
        );
        response
    };
    let Some(credential) = credential else {
        return Err(unauthorized(
            "send an admin credential as Authorization: Bearer",
        ));
    };
    let identity = console
        .authenticate(credential)
        .await
        .map_err(|_| unauthorized("the credential is not accepted"))?;
    let admin = Admin {
        subject: identity.subject.clone(),
        auth: identity.auth,
        credential_id: identity.credential_id.clone(),
        csrf: String::new(),
    };
    if !console.is_admin(&identity) {
        console
            .audit(
                &admin,
                "admin/api",
                json!({}),
                Some("the credential has no admin role".to_owned()),
            )
            .await;
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this credential has no admin role",
        ));
    }
    Ok(admin)
}

macro_rules! admin_or_return {
    ($console:expr, $headers:expr) => {
        match admin(&$console, &$headers).await {
            Ok(admin) => admin,
            Err(response) => return response,
        }
    };
}

async fn keys(State(console): State<AdminConsole>, headers: HeaderMap) -> Response {
    admin_or_return!(console, headers);
    match console.inner.store.api_keys().await {
        Ok(keys) => {
            let rows: Vec<Value> = keys
                .iter()
                .map(|k| {
                    let mut row = serde_json::to_value(k).unwrap_or_default();
                    row["status"] = json!(crate::keys::status(k));
                    row
                })
                .collect();
            answer(StatusCode::OK, json!({ "keys": rows }))
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is unavailable",
        ),
    }
}

#[derive(Deserialize)]
struct NewKey {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    expires: Option<String>,
}

async fn create_key(
    State(console): State<AdminConsole>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let admin = admin_or_return!(console, headers);
    let Some(minting) = &console.inner.settings.key_minting else {
        return error(
            StatusCode::CONFLICT,
            "not_configured",
            "API keys are not configured",
        );
    };
    let request: NewKey = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(why) => return error(StatusCode::BAD_REQUEST, "invalid_request", &why.to_string()),
    };
    let lifetime = match request.expires.as_deref().map(parse_duration).transpose() {
        Ok(lifetime) => lifetime,
        Err(why) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("expires: {why}"),
            );
        }
    };
    let template = KeyTemplate {
        name: request.name,
        environment: minting.environment.clone(),
        scopes: request.scopes,
        roles: request.roles,
        lifetime,
    };
    let (record, secret) = match crate::keys::create_key(&console, &admin, &template).await {
        Ok(created) => created,
        Err((status, why)) => return error(status, "not_created", &why),
    };
    answer(
        StatusCode::CREATED,
        json!({ "id": record.id, "key": secret.expose_secret(), "record": record }),
    )
}

async fn revoke_key(
    State(console): State<AdminConsole>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(console, headers);
    let now = format_rfc3339(SystemTime::now());
    match console.inner.store.revoke_api_key(&id, &now).await {
        Ok(revoked) => {
            if revoked {
                console.inner.authenticator.revoked(&id);
                console
                    .audit(&admin, "admin/keys.revoke", json!({ "key_id": id }), None)
                    .await;
            }
            answer(StatusCode::OK, json!({ "revoked": revoked }))
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is unavailable",
        ),
    }
}

async fn grants(State(console): State<AdminConsole>, headers: HeaderMap) -> Response {
    admin_or_return!(console, headers);
    match mcpgate_oauth::admin::grants(&*console.inner.store).await {
        Ok(grants) => answer(StatusCode::OK, json!({ "grants": grants })),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is unavailable",
        ),
    }
}

async fn revoke_grant(
    State(console): State<AdminConsole>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(console, headers);
    let reason = format!("revoked by {} through the admin API", admin.subject);
    match mcpgate_oauth::admin::revoke_grants(
        &*console.inner.store,
        GrantSelector::Id(&id),
        &reason,
    )
    .await
    {
        Ok(ids) => {
            console
                .audit(
                    &admin,
                    "admin/grants.revoke",
                    json!({ "grant_id": id }),
                    None,
                )
                .await;
            answer(StatusCode::OK, json!({ "revoked": ids }))
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is unavailable",
        ),
    }
}

async fn clients(State(console): State<AdminConsole>, headers: HeaderMap) -> Response {
    admin_or_return!(console, headers);
    match mcpgate_oauth::admin::clients(&*console.inner.store).await {
        Ok(clients) => answer(StatusCode::OK, json!({ "clients": clients })),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is unavailable",
        ),
    }
}

async fn revoke_client(
    State(console): State<AdminConsole>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let admin = admin_or_return!(console, headers);
    match mcpgate_oauth::admin::revoke_client(&*console.inner.store, &id).await {
        Ok(grants) => {
            console
                .audit(
                    &admin,
                    "admin/clients.revoke",
                    json!({ "client_id": id, "grants_revoked": grants }),
                    None,
                )
                .await;
            answer(StatusCode::OK, json!({ "grants_revoked": grants }))
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the store is unavailable",
        ),
    }
}

async fn tools(State(console): State<AdminConsole>, headers: HeaderMap) -> Response {
    admin_or_return!(console, headers);
    answer(
        StatusCode::OK,
        json!({ "tools": (console.inner.settings.tools)() }),
    )
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(flatten)]
    filters: Filters,
    limit: Option<i64>,
}

async fn audit(
    State(console): State<AdminConsole>,
    headers: HeaderMap,
    Query(query): Query<AuditQuery>,
) -> Response {
    admin_or_return!(console, headers);
    let filter = match query
        .filters
        .to_store(query.limit.unwrap_or(200).clamp(1, 5_000))
    {
        Ok(filter) => filter,
        Err(why) => return error(StatusCode::BAD_REQUEST, "invalid_request", &why),
    };
    match console.inner.store.audit_records(&filter).await {
        Ok(records) => {
            let rows: Vec<Value> = records
                .iter()
                .map(|record| {
                    let r = row(record);
                    json!({
                        "seq": r.seq, "time": r.time, "subject": r.subject, "auth_method": r.auth_method,
                        "method": r.method, "tool": r.tool, "decision": r.decision, "reason": r.reason,
                        "outcome": r.outcome,
                    })
                })
                .collect();
            answer(StatusCode::OK, json!({ "records": rows }))
        }
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the audit log cannot be read",
        ),
    }
}
