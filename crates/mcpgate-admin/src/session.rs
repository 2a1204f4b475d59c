//! Signing in and out, sessions, and the checks every form post passes.
//!
//! A session is a store record (`oauth_secrets`, kind `admin_session`)
//! found by the hash of a random cookie value, so every gateway instance
//! knows it and none keeps the cookie itself. Sign-in has its own
//! double-submit token (a short-lived cookie and a form field); after
//! that, every form carries the session's token, and a form posted from
//! another origin is refused whatever it carries.

use std::time::SystemTime;

use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcpgate_auth::RequestFacts;
use mcpgate_core::{AuthMethod, format_rfc3339, parse_rfc3339};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::AdminConsole;
use crate::html::{Chrome, csrf_field, escape, page, see_other};

/// How long the sign-in form's token lives.
const LOGIN_TTL_SECS: u64 = 600;
const SESSION_KIND: &str = "admin_session";

/// A signed-in administrator.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Admin {
    pub(crate) subject: String,
    pub(crate) auth: AuthMethod,
    pub(crate) credential_id: Option<String>,
    /// The anti-CSRF token of this session.
    pub(crate) csrf: String,
}

/// 256 random bits, hex, after `prefix`.
pub(crate) fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    format!("{prefix}{}", hex::encode(bytes))
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn same(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl AdminConsole {
    fn session_cookie(&self) -> &'static str {
        if self.inner.secure {
            "__Host-mcpgate_admin"
        } else {
            "mcpgate_admin"
        }
    }

    fn login_cookie(&self) -> &'static str {
        if self.inner.secure {
            "__Host-mcpgate_admin_login"
        } else {
            "mcpgate_admin_login"
        }
    }

    fn set_cookie(&self, response: &mut Response, name: &str, value: &str, max_age: u64) {
        let secure = if self.inner.secure { "; Secure" } else { "" };
        let cookie =
            format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }

    fn cookie<'h>(&self, headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
    }

    /// Whether a form may come from where it came from: a browser names
    /// the page's origin, and it must be the console's.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        match headers.get(header::ORIGIN) {
            Some(origin) => origin.as_bytes() == self.inner.settings.origin.as_bytes(),
            None => true,
        }
    }

    fn login_url(&self) -> String {
        format!("{}/login", self.inner.settings.path)
    }

    /// The signed-in administrator, or a redirect to the sign-in page.
    pub(crate) async fn signed_in(&self, headers: &HeaderMap) -> Result<Admin, Response> {
        let to_login = || see_other(&self.login_url());
        let token = self
            .cookie(headers, self.session_cookie())
            .ok_or_else(to_login)?;
        let record = match self.inner.store.secret(&hash(token), SESSION_KIND).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(to_login()),
            Err(error) => {
                tracing::error!(%error, "admin console: the store is unavailable");
                return Err(unavailable());
            }
        };
        let expired = parse_rfc3339(&record.expires_at).is_none_or(|t| t <= SystemTime::now());
        if record.used_at.is_some() || expired {
            return Err(to_login());
        }
        let admin: Admin = serde_json::from_str(&record.data).map_err(|_| to_login())?;
        // A session lasts no longer than the API key it was opened with.
        if admin.auth == AuthMethod::ApiKey
            && let Some(id) = &admin.credential_id
        {
            match self.inner.store.api_key(id).await {
                Ok(Some(key))
                    if key.revoked_at.is_none()
                        && key
                            .expires_at
                            .as_deref()
                            .and_then(parse_rfc3339)
                            .is_none_or(|t| t > SystemTime::now()) => {}
                Ok(_) => return Err(to_login()),
                Err(_) => return Err(unavailable()),
            }
        }
        Ok(admin)
    }

    /// The checks of a form post in a session: same origin, and the
    /// session's token.
    fn form_ok(&self, admin: &Admin, headers: &HeaderMap, token: Option<&str>) -> bool {
        self.same_origin(headers) && token.is_some_and(|t| same(t, &admin.csrf))
    }

    /// The administrator posting a form: signed in, and the form is one of
    /// this session's pages (token and origin); else what to answer.
    pub(crate) async fn form_admin(
        &self,
        headers: &HeaderMap,
        token: Option<&str>,
    ) -> Result<Admin, Response> {
        let admin = self.signed_in(headers).await?;
        if !self.form_ok(&admin, headers, token) {
            return Err(refused_form());
        }
        Ok(admin)
    }

    /// The page chrome for `admin` on `section`.
    pub(crate) fn chrome<'a>(&'a self, admin: &'a Admin, section: &'a str) -> Chrome<'a> {
        Chrome {
            base: &self.inner.settings.path,
            who: Some(&admin.subject),
            csrf: &admin.csrf,
            current: section,
        }
    }

    /// Who `credential` is, if the gateway accepts it (any strategy).
    pub(crate) async fn authenticate(
        &self,
        credential: &str,
    ) -> Result<mcpgate_core::Identity, String> {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(&format!("Bearer {credential}"))
            .map_err(|_| "not a credential".to_owned())?;
        headers.insert(header::AUTHORIZATION, value);
        self.inner
            .authenticator
            .authenticate(RequestFacts {
                headers: &headers,
                peer: None,
                client_certificate: None,
            })
            .await
            .map_err(|e| e.to_string())
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the admin console's store is unavailable",
    )
        .into_response()
}

/// 403 for a form that did not come from this console's pages.
pub(crate) fn refused_form() -> Response {
    let chrome = Chrome {
        base: "",
        who: None,
        csrf: "",
        current: "",
    };
    page(
        StatusCode::FORBIDDEN,
        "Request refused",
        &chrome,
        "<p class=\"error\">This form was not sent from a page of this console \
         (missing or wrong anti-CSRF token, or another origin). Nothing was changed.</p>",
    )
}

/// `GET /admin` → `/admin/`.
pub(crate) async fn to_overview(State(console): State<AdminConsole>) -> Response {
    see_other(&format!("{}/", console.inner.settings.path))
}

fn login_form(console: &AdminConsole, status: StatusCode, token: &str, error: &str) -> Response {
    let chrome = Chrome {
        base: &console.inner.settings.path,
        who: None,
        csrf: "",
        current: "",
    };
    let error = if error.is_empty() {
        String::new()
    } else {
        format!("<p class=\"error\">{}</p>", escape(error))
    };
    let body = format!(
        "<div class=\"login\">{error}<form id=\"login\" method=\"post\" action=\"{}\">\
         <label>Admin credential (an API key or token with the admin role)\
         <input name=\"key\" type=\"password\" autocomplete=\"off\" required></label>{}\
         <button type=\"submit\">Sign in</button></form>\
         <p class=\"muted\">The credential is checked like any request to the gateway and is not kept.</p></div>",
        escape(&console.login_url()),
        csrf_field(token),
    );
    let mut response = page(status, "Sign in", &chrome, &body);
    console.set_cookie(&mut response, console.login_cookie(), token, LOGIN_TTL_SECS);
    response
}

/// `GET /admin/login`.
pub(crate) async fn login_page(State(console): State<AdminConsole>) -> Response {
    login_form(&console, StatusCode::OK, &random_token(""), "")
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    key: String,
    csrf_token: String,
}

/// `POST /admin/login`.
pub(crate) async fn login(
    State(console): State<AdminConsole>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = console
        .cookie(&headers, console.login_cookie())
        .unwrap_or("");
    if !console.same_origin(&headers) || expected.is_empty() || !same(expected, &form.csrf_token) {
        return refused_form();
    }
    let again = |error: &str| login_form(&console, StatusCode::FORBIDDEN, &random_token(""), error);
    let identity = match console.authenticate(form.key.trim()).await {
        Ok(identity) => identity,
        Err(why) => {
            let nobody = Admin {
                subject: "unknown".to_owned(),
                auth: AuthMethod::None,
                credential_id: None,
                csrf: String::new(),
            };
            console
                .audit(&nobody, "admin/login", serde_json::json!({}), Some(why))
                .await;
            return again("This credential is not accepted by the gateway.");
        }
    };
    let admin = Admin {
        subject: identity.subject.clone(),
        auth: identity.auth,
        credential_id: identity.credential_id.clone(),
        csrf: random_token(""),
    };
    if !console.is_admin(&identity) {
        console
            .audit(
                &admin,
                "admin/login",
                serde_json::json!({ "roles": identity.roles }),
                Some("the credential has no admin role".to_owned()),
            )
            .await;
        return again("This credential has no admin role.");
    }
    let token = random_token("mcpga_");
    let mut ttl = console.inner.settings.session_ttl;
    if let Some(expiry) = identity.expires_at {
        ttl = ttl.min(expiry.duration_since(SystemTime::now()).unwrap_or_default());
    }
    let record = mcpgate_store::OneTimeSecret {
        hash: hash(&token),
        kind: SESSION_KIND.to_owned(),
        grant_id: None,
        data: serde_json::to_string(&admin).unwrap_or_default(),
        created_at: format_rfc3339(SystemTime::now()),
        expires_at: format_rfc3339(SystemTime::now() + ttl),
        used_at: None,
    };
    if console.inner.store.insert_secret(&record).await.is_err() {
        return unavailable();
    }
    if !console
        .audit(&admin, "admin/login", serde_json::json!({}), None)
        .await
    {
        return unavailable();
    }
    let mut response = see_other(&format!("{}/", console.inner.settings.path));
    console.set_cookie(
        &mut response,
        console.session_cookie(),
        &token,
        ttl.as_secs(),
    );
    console.set_cookie(&mut response, console.login_cookie(), "", 0);
    response
}

/// A form that carries only the anti-CSRF token (revoke, rotate, sign out).
#[derive(Deserialize)]
pub(crate) struct TokenOnly {
    pub(crate) csrf_token: Option<String>,
}

/// The administrator of a page request; without a session, the request is
/// sent to the sign-in page.
pub(crate) struct SignedIn(pub(crate) Admin);

impl axum::extract::FromRequestParts<AdminConsole> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        console: &AdminConsole,
    ) -> Result<Self, Response> {
        console.signed_in(&parts.headers).await.map(SignedIn)
    }
}

/// `POST /admin/logout`.
pub(crate) async fn logout(
    State(console): State<AdminConsole>,
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
    if let Some(token) = console.cookie(&headers, console.session_cookie()) {
        let now = format_rfc3339(SystemTime::now());
        let _ = console
            .inner
            .store
            .take_secret(&hash(token), SESSION_KIND, &now)
            .await;
    }
    console
        .audit(&admin, "admin/logout", serde_json::json!({}), None)
        .await;
    let mut response = see_other(&console.login_url());
    console.set_cookie(&mut response, console.session_cookie(), "", 0);
    response
}
