//! `/admin/keys`: API keys — create (shown once), rotate, revoke.

use std::time::{Duration, SystemTime};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mcpgate_auth::api_key::{KeyTemplate, mint};
use mcpgate_core::{format_rfc3339, parse_duration, parse_rfc3339};
use mcpgate_store::ApiKeyRecord;
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use crate::AdminConsole;
use crate::html::{csrf_field, escape, list_or_dash, page, see_other};
use crate::session::Admin;
use crate::session::{SignedIn, TokenOnly};

/// How long a rotated key keeps working.
const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// `active`, `revoked`, `expired` or `rotated`.
pub(crate) fn status(key: &ApiKeyRecord) -> &'static str {
    if key.revoked_at.is_some() {
        "revoked"
    } else if key
        .expires_at
        .as_deref()
        .and_then(parse_rfc3339)
        .is_some_and(|t| t <= SystemTime::now())
    {
        "expired"
    } else if key.replaced_by.is_some() {
        "rotated"
    } else {
        "active"
    }
}

/// Words separated by commas or spaces.
pub(crate) fn words(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn render(
    console: &AdminConsole,
    admin: &Admin,
    notice: &str,
    status_code: StatusCode,
) -> Response {
    let keys = match console.inner.store.api_keys().await {
        Ok(keys) => keys,
        Err(error) => {
            tracing::error!(%error, "admin console: cannot list keys");
            Vec::new()
        }
    };
    let base = escape(&console.inner.settings.path);
    let csrf = csrf_field(&admin.csrf);
    let mut rows = String::new();
    for key in &keys {
        let state = status(key);
        let actions = if state == "active" {
            format!(
                "<form class=\"revoke inline\" method=\"post\" action=\"{base}/keys/{id}/revoke\">{csrf}\
                 <button class=\"danger\" type=\"submit\">Revoke</button></form> \
                 <form class=\"rotate inline\" method=\"post\" action=\"{base}/keys/{id}/rotate\">{csrf}\
                 <button type=\"submit\">Rotate</button></form>",
                id = escape(&key.id),
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            "<tr data-key-id=\"{id}\"><td><code>{id}</code></td><td>{name}</td><td>{env}</td>\
             <td>{scopes}</td><td>{roles}</td><td>{created}</td><td>{expires}</td><td>{used}</td>\
             <td class=\"status {state}\">{state}</td><td>{actions}</td></tr>",
            id = escape(&key.id),
            name = escape(&key.name),
            env = escape(&key.environment),
            scopes = list_or_dash(&key.scopes),
            roles = list_or_dash(&key.roles),
            created = escape(&key.created_at),
            expires = escape(key.expires_at.as_deref().unwrap_or("never")),
            used = escape(key.last_used_at.as_deref().unwrap_or("—")),
        ));
    }
    let create = match &console.inner.settings.key_minting {
        Some(minting) => format!(
            "<div class=\"panel\"><form id=\"create-key\" class=\"filters\" method=\"post\" action=\"{base}/keys\">{csrf}\
             <label>Name<input name=\"name\" required maxlength=\"64\"></label>\
             <label>Scopes<input name=\"scopes\" placeholder=\"inventory:read\"></label>\
             <label>Roles<input name=\"roles\"></label>\
             <label>Expires in<input name=\"expires\" placeholder=\"90d\"></label>\
             <button type=\"submit\">Create key</button></form>\
             <p class=\"muted\">For environment <code>{}</code>. The key is shown once.</p></div>",
            escape(&minting.environment)
        ),
        None => "<p class=\"muted\">API keys are not configured ([auth.api_keys]): keys cannot be created here.</p>".to_owned(),
    };
    let body = format!(
        "{notice}{create}<table id=\"keys\"><thead><tr><th>Id</th><th>Name</th><th>Env</th><th>Scopes</th>\
         <th>Roles</th><th>Created</th><th>Expires</th><th>Last used</th><th>Status</th><th></th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    );
    page(
        status_code,
        "API keys",
        &console.chrome(admin, "keys"),
        &body,
    )
}

/// `GET /admin/keys`.
pub(crate) async fn list(
    State(console): State<AdminConsole>,
    SignedIn(admin): SignedIn,
) -> Response {
    render(&console, &admin, "", StatusCode::OK).await
}

/// Mint, store and audit a key for `admin`. A key whose creation cannot
/// be audited is revoked at once (fail closed).
pub(crate) async fn create_key(
    console: &AdminConsole,
    admin: &Admin,
    template: &KeyTemplate,
) -> Result<(ApiKeyRecord, secrecy::SecretString), (StatusCode, String)> {
    let Some(minting) = &console.inner.settings.key_minting else {
        return Err((
            StatusCode::CONFLICT,
            "API keys are not configured".to_owned(),
        ));
    };
    let (record, secret) = mint(minting.pepper.expose_secret(), template)
        .map_err(|why| (StatusCode::BAD_REQUEST, why.to_string()))?;
    if let Err(why) = console.inner.store.insert_api_key(&record).await {
        tracing::error!(%why, "admin console: cannot store a key");
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the store is unavailable".to_owned(),
        ));
    }
    let details = json!({
        "key_id": record.id, "name": record.name, "scopes": record.scopes,
        "roles": record.roles, "expires_at": record.expires_at,
    });
    if !console
        .audit(admin, "admin/keys.create", details, None)
        .await
    {
        let _ = console
            .inner
            .store
            .revoke_api_key(&record.id, &format_rfc3339(SystemTime::now()))
            .await;
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "the audit log is unavailable: the key was not created".to_owned(),
        ));
    }
    Ok((record, secret))
}

#[derive(Deserialize)]
pub(crate) struct CreateForm {
    csrf_token: Option<String>,
    name: Option<String>,
    scopes: Option<String>,
    roles: Option<String>,
    expires: Option<String>,
}

/// `POST /admin/keys`: the new key, shown once.
pub(crate) async fn create(
    State(console): State<AdminConsole>,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> Response {
    let admin = match console
        .form_admin(&headers, form.csrf_token.as_deref())
        .await
    {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let error = |text: &str| format!("<p class=\"error\">{}</p>", escape(text));
    let Some(minting) = &console.inner.settings.key_minting else {
        return render(
            &console,
            &admin,
            &error("API keys are not configured."),
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let lifetime = match form
        .expires
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(text) => match parse_duration(text) {
            Ok(lifetime) => Some(lifetime),
            Err(why) => {
                return render(
                    &console,
                    &admin,
                    &error(&format!("Expires: {why}")),
                    StatusCode::BAD_REQUEST,
                )
                .await;
            }
        },
    };
    let template = KeyTemplate {
        name: form.name.unwrap_or_default(),
        environment: minting.environment.clone(),
        scopes: words(form.scopes.as_deref().unwrap_or_default()),
        roles: words(form.roles.as_deref().unwrap_or_default()),
        lifetime,
    };
    let (record, secret) = match create_key(&console, &admin, &template).await {
        Ok(created) => created,
        Err((status, why)) => return render(&console, &admin, &error(&why), status).await,
    };
    let notice = format!(
        "<div class=\"secret\"><p>Created <span id=\"new-key-id\">{id}</span> ({name}). \
         Copy the key now: it is shown only this once and stored only as a keyed hash.</p>\
         <p><code id=\"new-key-secret\">{secret}</code></p></div>",
        id = escape(&record.id),
        name = escape(&record.name),
        secret = escape(secret.expose_secret()),
    );
    render(&console, &admin, &notice, StatusCode::OK).await
}

/// `POST /admin/keys/{id}/revoke`.
pub(crate) async fn revoke(
    State(console): State<AdminConsole>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenOnly>,
) -> Response {
    let admin = match console
        .form_admin(&headers, form.csrf_token.as_deref())
        .await
    {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let now = format_rfc3339(SystemTime::now());
    match console.inner.store.revoke_api_key(&id, &now).await {
        Ok(true) => {
            console.inner.authenticator.revoked(&id);
            console
                .audit(&admin, "admin/keys.revoke", json!({ "key_id": id }), None)
                .await;
            see_other(&format!("{}/keys", console.inner.settings.path))
        }
        Ok(false) => {
            let notice = format!("<p class=\"error\">No active key {}.</p>", escape(&id));
            render(&console, &admin, &notice, StatusCode::NOT_FOUND).await
        }
        Err(error) => {
            tracing::error!(%error, "admin console: cannot revoke a key");
            render(
                &console,
                &admin,
                "<p class=\"error\">The store is unavailable.</p>",
                StatusCode::SERVICE_UNAVAILABLE,
            )
            .await
        }
    }
}

/// `POST /admin/keys/{id}/rotate`: the new key, shown once.
pub(crate) async fn rotate(
    State(console): State<AdminConsole>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenOnly>,
) -> Response {
    let admin = match console
        .form_admin(&headers, form.csrf_token.as_deref())
        .await
    {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let Some(minting) = &console.inner.settings.key_minting else {
        return render(
            &console,
            &admin,
            "<p class=\"error\">API keys are not configured.</p>",
            StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let rotated = match mcpgate_auth::api_key::rotate(
        &*console.inner.store,
        minting.pepper.expose_secret(),
        &id,
        ROTATION_OVERLAP,
    )
    .await
    {
        Ok(rotated) => rotated,
        Err(why) => {
            let notice = format!("<p class=\"error\">{}</p>", escape(&why.to_string()));
            return render(&console, &admin, &notice, StatusCode::BAD_REQUEST).await;
        }
    };
    console
        .audit(
            &admin,
            "admin/keys.rotate",
            json!({ "key_id": id, "new_key_id": rotated.record.id, "old_until": rotated.old_until }),
            None,
        )
        .await;
    let notice = format!(
        "<div class=\"secret\"><p>Rotated {old} → <span id=\"new-key-id\">{id}</span>; the old key works until {until}. \
         Copy the new key now: it is shown only this once.</p><p><code id=\"new-key-secret\">{secret}</code></p></div>",
        old = escape(&id),
        id = escape(&rotated.record.id),
        until = escape(&rotated.old_until),
        secret = escape(rotated.secret.expose_secret()),
    );
    render(&console, &admin, &notice, StatusCode::OK).await
}
