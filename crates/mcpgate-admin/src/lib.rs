//! mcpgate's admin console and admin API.
//!
//! Security teams revoke access from a screen, not a shell. The console is
//! served by the gateway itself under `/admin` (server-rendered HTML, no
//! script, no build step) and the same operations are a JSON API under
//! `/admin/api`:
//!
//! - API keys: create (the key is shown once), rotate, revoke;
//! - the embedded authorization server's grants and clients: revoke;
//! - the tools, with the scopes they require and their read-only status;
//! - the audit trail, filtered by subject, tool, decision and time, with
//!   charts of calls and denials over time, top tools and top denied
//!   identities.
//!
//! Who may: anyone whose credential (an API key, a JWT, a token of the
//! embedded authorization server — whatever the gateway accepts) carries
//! one of the admin roles. Sessions are store records behind a
//! `__Host-`, `Secure`, `HttpOnly`, `SameSite=Strict` cookie (no prefix and
//! no `Secure` on plain-http loopback), every form carries a per-session
//! token and is refused from another origin, and every admin action is
//! audited in the gateway's chain.

mod api;
mod audit_view;
mod charts;
mod html;
mod keys;
mod oauth;
mod session;
mod tools;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use futures::future::BoxFuture;
use mcpgate_auth::Authenticator;
use mcpgate_core::{AuditEvent, Identity};
use mcpgate_store::Store;
use secrecy::SecretSlice;

pub use tools::ToolRow;

/// Writes an event to the gateway's audit log; `false` when it could not
/// be written and the gateway fails closed.
pub type AuditHook = Arc<dyn Fn(AuditEvent) -> BoxFuture<'static, bool> + Send + Sync>;

/// The tools as the console shows them, fresh on each call.
pub type ToolSource = Arc<dyn Fn() -> Vec<ToolRow> + Send + Sync>;

/// What the console needs to mint API keys (the same as `mcpgate keys`).
pub struct KeyMinting {
    /// The server secret keys are hashed with.
    pub pepper: SecretSlice<u8>,
    /// The environment new keys are bound to.
    pub environment: String,
}

/// The console's settings.
pub struct AdminSettings {
    /// Where it is served, e.g. `/admin`.
    pub path: String,
    /// Credentials carrying one of these roles may administer.
    pub roles: Vec<String>,
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// The console's origin (`https://mcp.example.com`): forms from any
    /// other are refused. Cookies are `Secure` and `__Host-` prefixed when
    /// it is https.
    pub origin: String,
    /// API key creation and rotation, when API keys are configured.
    pub key_minting: Option<KeyMinting>,
    /// The tools.
    pub tools: ToolSource,
    /// Where admin actions are audited.
    pub audit: AuditHook,
}

/// The console: cheap to clone, shared by its routes.
#[derive(Clone)]
pub struct AdminConsole {
    inner: Arc<Inner>,
}

struct Inner {
    settings: AdminSettings,
    store: Arc<dyn Store>,
    authenticator: Arc<dyn Authenticator>,
    secure: bool,
}

impl AdminConsole {
    /// A console over `store`, signing admins in with `authenticator`.
    pub fn new(
        mut settings: AdminSettings,
        store: Arc<dyn Store>,
        authenticator: Arc<dyn Authenticator>,
    ) -> Self {
        settings.path = settings.path.trim_end_matches('/').to_owned();
        let secure = settings.origin.starts_with("https://");
        AdminConsole {
            inner: Arc::new(Inner {
                settings,
                store,
                authenticator,
                secure,
            }),
        }
    }

    /// The routes, to merge into the gateway's router.
    pub fn router(&self) -> Router {
        let base = self.inner.settings.path.clone();
        let at = |path: &str| format!("{base}{path}");
        Router::new()
            .route(&at(""), get(session::to_overview))
            .route(&at("/"), get(audit_view::overview))
            .route(&at("/login"), get(session::login_page).post(session::login))
            .route(&at("/logout"), post(session::logout))
            .route(&at("/static/console.css"), get(stylesheet))
            .route(&at("/keys"), get(keys::list).post(keys::create))
            .route(&at("/keys/{id}/revoke"), post(keys::revoke))
            .route(&at("/keys/{id}/rotate"), post(keys::rotate))
            .route(&at("/oauth"), get(oauth::list))
            .route(&at("/oauth/grants/{id}/revoke"), post(oauth::revoke_grant))
            .route(
                &at("/oauth/clients/{id}/revoke"),
                post(oauth::revoke_client),
            )
            .route(&at("/oauth/users/revoke"), post(oauth::revoke_user))
            .route(&at("/tools"), get(tools::list))
            .route(&at("/audit"), get(audit_view::list))
            .merge(api::router(&base))
            .with_state(self.clone())
            .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
    }

    /// Whether `identity` may administer.
    fn is_admin(&self, identity: &Identity) -> bool {
        identity
            .roles
            .iter()
            .any(|role| self.inner.settings.roles.contains(role))
    }

    /// Audit an admin action by `who` (refused when `refused` says why).
    /// `false` when a done action could not be recorded (fail closed).
    async fn audit(
        &self,
        who: &session::Admin,
        method: &str,
        details: serde_json::Value,
        refused: Option<String>,
    ) -> bool {
        let done = refused.is_none();
        let event = AuditEvent::action(
            session::random_token("admin_"),
            method,
            &who.subject,
            who.auth,
            who.credential_id.clone(),
            details,
            refused,
        );
        (self.inner.settings.audit)(event).await || !done
    }
}

async fn stylesheet() -> axum::response::Response {
    let mut response =
        axum::response::IntoResponse::into_response(include_str!("../static/console.css"));
    response = html::with_headers(response, "text/css; charset=utf-8");
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
