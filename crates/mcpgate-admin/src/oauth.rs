//! `/admin/oauth`: the embedded authorization server's grants (a user's
//! sign-ins) and clients, and revoking them.

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mcpgate_oauth::admin;
use mcpgate_store::GrantSelector;
use serde::Deserialize;
use serde_json::json;

use crate::AdminConsole;
use crate::html::{csrf_field, escape, list_or_dash, page, see_other};
use crate::session::{SignedIn, TokenOnly};

/// `GET /admin/oauth`.
pub(crate) async fn list(
    State(console): State<AdminConsole>,
    SignedIn(admin_user): SignedIn,
) -> Response {
    let store = &*console.inner.store;
    let (grants, clients) = match (admin::grants(store).await, admin::clients(store).await) {
        (Ok(grants), Ok(clients)) => (grants, clients),
        _ => (Vec::new(), Vec::new()),
    };
    let base = escape(&console.inner.settings.path);
    let csrf = csrf_field(&admin_user.csrf);
    let mut grant_rows = String::new();
    for g in &grants {
        let state = if g.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        let action = if g.revoked_at.is_none() {
            format!(
                "<form class=\"revoke inline\" method=\"post\" action=\"{base}/oauth/grants/{}/revoke\">{csrf}\
                 <button class=\"danger\" type=\"submit\">Revoke</button></form>",
                escape(&g.id)
            )
        } else {
            escape(g.revoked_reason.as_deref().unwrap_or_default())
        };
        grant_rows.push_str(&format!(
            "<tr data-grant-id=\"{}\"><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>\
             <td>{}</td><td class=\"status {state}\">{state}</td><td>{action}</td></tr>",
            escape(&g.id),
            escape(&g.subject),
            escape(&g.client_id),
            list_or_dash(&g.scopes),
            escape(&g.created_at),
            escape(&g.expires_at),
        ));
    }
    let mut client_rows = String::new();
    for c in &clients {
        let state = if c.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        let name = serde_json::from_str::<serde_json::Value>(&c.metadata)
            .ok()
            .and_then(|m| m["client_name"].as_str().map(str::to_owned))
            .unwrap_or_default();
        let action = if c.revoked_at.is_none() {
            format!(
                "<form class=\"revoke inline\" method=\"post\" action=\"{base}/oauth/clients/{}/revoke\">{csrf}\
                 <button class=\"danger\" type=\"submit\">Revoke</button></form>",
                escape(&url_segment(&c.client_id))
            )
        } else {
            String::new()
        };
        client_rows.push_str(&format!(
            "<tr data-client-id=\"{}\"><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"status {state}\">{state}</td><td>{action}</td></tr>",
            escape(&c.client_id),
            escape(&c.client_id),
            escape(&name),
            escape(&c.source),
            escape(&c.created_at),
        ));
    }
    let user_form = format!(
        "<div class=\"panel\"><form id=\"revoke-user\" class=\"filters\" method=\"post\" \
         action=\"{base}/oauth/users/revoke\">{csrf}<label>User (subject)<input name=\"subject\" required></label>\
         <button class=\"danger\" type=\"submit\">End all of this user's sessions</button></form></div>"
    );
    let body = format!(
        "{user_form}<p class=\"muted\">A grant is one sign-in (or one client-credentials request): revoking it ends its \
         access and refresh tokens on every instance within a second. Revoke a user's sessions by revoking \
         their grants.</p>\
         <h2>Grants</h2><table id=\"grants\"><thead><tr><th>User</th><th>Client</th><th>Scopes</th>\
         <th>Signed in</th><th>Until</th><th>Status</th><th></th></tr></thead><tbody>{grant_rows}</tbody></table>\
         <h2>Registered clients</h2><table id=\"clients\"><thead><tr><th>Client</th><th>Name</th><th>Source</th>\
         <th>Since</th><th>Status</th><th></th></tr></thead><tbody>{client_rows}</tbody></table>"
    );
    page(
        StatusCode::OK,
        "OAuth grants and clients",
        &console.chrome(&admin_user, "oauth"),
        &body,
    )
}

/// A client id (possibly a URL) as one path segment.
fn url_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect()
}

/// `POST /admin/oauth/grants/{id}/revoke`.
pub(crate) async fn revoke_grant(
    State(console): State<AdminConsole>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenOnly>,
) -> Response {
    let admin_user = match console
        .form_admin(&headers, form.csrf_token.as_deref())
        .await
    {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let reason = format!("revoked by {} in the admin console", admin_user.subject);
    let revoked =
        admin::revoke_grants(&*console.inner.store, GrantSelector::Id(&id), &reason).await;
    if revoked.is_ok() {
        console
            .audit(
                &admin_user,
                "admin/grants.revoke",
                json!({ "grant_id": id }),
                None,
            )
            .await;
    }
    see_other(&format!("{}/oauth", console.inner.settings.path))
}

/// `POST /admin/oauth/clients/{id}/revoke`.
pub(crate) async fn revoke_client(
    State(console): State<AdminConsole>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<TokenOnly>,
) -> Response {
    let admin_user = match console
        .form_admin(&headers, form.csrf_token.as_deref())
        .await
    {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    if let Ok(grants) = admin::revoke_client(&*console.inner.store, &id).await {
        console
            .audit(
                &admin_user,
                "admin/clients.revoke",
                json!({ "client_id": id, "grants_revoked": grants }),
                None,
            )
            .await;
    }
    see_other(&format!("{}/oauth", console.inner.settings.path))
}

#[derive(Deserialize)]
pub(crate) struct UserForm {
    csrf_token: Option<String>,
    subject: String,
}

/// `POST /admin/oauth/users/revoke`: every grant of one user.
pub(crate) async fn revoke_user(
    State(console): State<AdminConsole>,
    headers: HeaderMap,
    Form(form): Form<UserForm>,
) -> Response {
    let admin_user = match console
        .form_admin(&headers, form.csrf_token.as_deref())
        .await
    {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let subject = form.subject.trim();
    let reason = format!("revoked by {} in the admin console", admin_user.subject);
    if let Ok(ids) = admin::revoke_grants(
        &*console.inner.store,
        GrantSelector::Subject(subject),
        &reason,
    )
    .await
    {
        console
            .audit(
                &admin_user,
                "admin/grants.revoke",
                json!({ "subject": subject, "grants_revoked": ids }),
                None,
            )
            .await;
    }
    see_other(&format!("{}/oauth", console.inner.settings.path))
}
