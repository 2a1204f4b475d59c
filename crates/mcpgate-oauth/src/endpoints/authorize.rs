//! The browser's path: `/oauth/authorize` checks the client's request and
//! sends the user to the identity provider; `/oauth/callback` receives them
//! back, checks who they are and shows the consent page; `/oauth/consent`
//! takes the decision and sends the client its code.
//!
//! Errors that cannot be trusted to go back to the client (unknown client,
//! unregistered redirect URI) are shown as a page; the rest go back to the
//! client's redirect URI as RFC 6749 §4.1.2.1 says, with RFC 9207 `iss`.
//! A cookie ties the three steps to one browser, and the consent form
//! carries a token the page alone knows.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::audit::Event;
use crate::clients::Client;
use crate::grants::{GrantIdentity, NewGrant, has_passed, later_text, now_text};
use crate::pages::{self, Consent};
use crate::secrets::{hash, random_secret};
use crate::{AuthorizationServer, paths, pkce, redirect};

/// How long a sign-in may take, from authorize to consent.
const SIGN_IN_TTL: std::time::Duration = std::time::Duration::from_secs(600);
/// The scope that asks for a refresh token (OpenID Connect Core §11).
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";
/// How long an authorization code lives.
const CODE_TTL: std::time::Duration = std::time::Duration::from_secs(60);

/// An authorization request on its way through sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    client_id: String,
    redirect_uri: String,
    state: Option<String>,
    code_challenge: String,
    scopes: Vec<String>,
    resource: String,
    nonce: String,
    upstream_verifier: String,
}

/// A signed-in user waiting to consent.
#[derive(Debug, Serialize, Deserialize)]
struct AwaitingConsent {
    request: Pending,
    subject: String,
    identity: GrantIdentity,
    granted: Vec<String>,
    upstream_refresh: Option<String>,
    csrf_hash: String,
}

/// What an authorization code stands for.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct CodeData {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) resource: String,
    pub(crate) scopes: Vec<String>,
}

/// Query parameters, refusing any given twice (RFC 6749 §3.1).
fn parameters(query: Option<&str>) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if out.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(format!("the parameter {key} is given more than once"));
        }
    }
    Ok(out)
}

fn bad_request(detail: impl AsRef<str>) -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This sign-in request cannot be used",
        detail.as_ref(),
    )
}

/// `redirect_uri` with the answer's parameters appended.
fn redirect_to(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(url) => url,
        Err(_) => return bad_request("the redirect URI is not a URL"),
    };
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in pairs {
            query.append_pair(key, value);
        }
    }
    found(url.as_str())
}

fn found(location: &str) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

impl AuthorizationServer {
    fn error_to_client(&self, pending: &Pending, error: &str, description: &str) -> Response {
        let mut pairs = vec![
            ("error", error),
            ("error_description", description),
            ("iss", self.issuer()),
        ];
        if let Some(state) = &pending.state {
            pairs.push(("state", state));
        }
        redirect_to(&pending.redirect_uri, &pairs)
    }

    fn cookie_name(&self) -> &'static str {
        if self.inner.secure_cookies {
            "__Host-mcpgate_signin"
        } else {
            "mcpgate_signin"
        }
    }

    fn set_cookie(&self, response: &mut Response, value: &str, max_age: u64) {
        let secure = if self.inner.secure_cookies {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.cookie_name()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }

    /// Whether the request's sign-in cookie is `expected`.
    fn cookie_is(&self, headers: &HeaderMap, expected: &str) -> bool {
        let name = self.cookie_name();
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .any(|(key, value)| {
                key == name && bool::from(value.as_bytes().ct_eq(expected.as_bytes()))
            })
    }
}

/// `GET /oauth/authorize`.
pub(crate) async fn authorize(
    State(server): State<AuthorizationServer>,
    RawQuery(query): RawQuery,
) -> Response {
    let params = match parameters(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return bad_request(why),
    };
    let Some(client_id) = params.get("client_id") else {
        return bad_request("the request names no client (client_id)");
    };
    let client = match server.inner.clients.find(client_id).await {
        Ok(client) => client,
        Err(error) => return bad_request(&error.description),
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if redirect::matches(&client.redirect_uris, uri) => uri.clone(),
        Some(uri) => {
            return bad_request(format!(
                "the redirect URI {uri} is not registered for this client (it must match exactly)"
            ));
        }
        None if client.redirect_uris.len() == 1 => client.redirect_uris[0].clone(),
        None => return bad_request("the request names no redirect_uri"),
    };
    let mut pending = Pending {
        client_id: client.id.clone(),
        redirect_uri,
        state: params.get("state").cloned(),
        code_challenge: String::new(),
        scopes: Vec::new(),
        resource: String::new(),
        nonce: random_secret(""),
        upstream_verifier: random_secret(""),
    };
    // From here on the redirect URI is trusted: errors go back to it.
    match check_request(&server, &client, &params) {
        Ok((challenge, scopes, resource)) => {
            pending.code_challenge = challenge;
            pending.scopes = scopes;
            pending.resource = resource;
        }
        Err((error, description)) => {
            return server.error_to_client(&pending, error, &description);
        }
    }
    let Some(upstream) = &server.inner.upstream else {
        return server.error_to_client(
            &pending,
            "server_error",
            "no identity provider is configured for signing in",
        );
    };
    let login_id = random_secret("mcpgl_");
    let stored = mcpgate_store::OneTimeSecret {
        hash: hash(&login_id),
        kind: "pending".to_owned(),
        grant_id: None,
        data: serde_json::to_string(&pending).unwrap_or_default(),
        created_at: now_text(),
        expires_at: later_text(SIGN_IN_TTL),
        used_at: None,
    };
    if let Err(error) = server.inner.store.insert_secret(&stored).await {
        tracing::error!(%error, "cannot store a sign-in");
        return server.error_to_client(&pending, "temporarily_unavailable", "try again later");
    }
    let location = match upstream
        .authorization_url(
            &login_id,
            &pending.nonce,
            &pkce::challenge_of(&pending.upstream_verifier),
        )
        .await
    {
        Ok(location) => location,
        Err(error) => {
            tracing::warn!(%error, "cannot start a sign-in at the identity provider");
            return server.error_to_client(
                &pending,
                "temporarily_unavailable",
                "the identity provider is unavailable",
            );
        }
    };
    let mut response = found(&location);
    server.set_cookie(&mut response, &login_id, SIGN_IN_TTL.as_secs());
    response
}

/// The checks that, when they fail, are answered at the redirect URI:
/// returns the PKCE challenge, the scopes asked for and the resource.
fn check_request(
    server: &AuthorizationServer,
    client: &Client,
    params: &HashMap<String, String>,
) -> Result<(String, Vec<String>, String), (&'static str, String)> {
    let settings = &server.inner.settings;
    match params.get("response_type").map(String::as_str) {
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response type {other} is not supported: only `code` (with PKCE)"),
            ));
        }
        None => return Err(("invalid_request", "response_type is missing".into())),
    }
    if !client.may_use("authorization_code") {
        return Err((
            "unauthorized_client",
            "this client may not use the authorization code grant".into(),
        ));
    }
    let challenge = params.get("code_challenge").ok_or((
        "invalid_request",
        "PKCE is required: send code_challenge".to_owned(),
    ))?;
    if params.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return Err((
            "invalid_request",
            "code_challenge_method must be S256 (plain is not accepted)".into(),
        ));
    }
    if !pkce::challenge_is_valid(challenge) {
        return Err((
            "invalid_request",
            "code_challenge is not a base64url SHA-256".into(),
        ));
    }
    let resource = match params.get("resource") {
        Some(resource) if settings.resources.contains(resource) => resource.clone(),
        Some(resource) => {
            return Err((
                "invalid_target",
                format!("this server issues no tokens for the resource {resource}"),
            ));
        }
        None => settings.resources[0].clone(),
    };
    // `offline_access` asks for a refresh token: a client that may use the
    // refresh grant gets one anyway, so it is not a scope to consent to.
    let scopes: BTreeSet<String> = params
        .get("scope")
        .map(|s| {
            s.split_whitespace()
                .filter(|s| *s != OFFLINE_ACCESS)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok((challenge.clone(), scopes.into_iter().collect(), resource))
}

/// `GET /oauth/callback`: back from the identity provider.
pub(crate) async fn callback(
    State(server): State<AuthorizationServer>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = match parameters(query.as_deref()) {
        Ok(params) => params,
        Err(why) => return bad_request(why),
    };
    let Some(login_id) = params.get("state") else {
        return bad_request("the identity provider's answer has no state");
    };
    if !server.cookie_is(&headers, login_id) {
        return pages::error(
            StatusCode::FORBIDDEN,
            "This sign-in was started elsewhere",
            "The sign-in cookie is missing or belongs to another sign-in. Start again from \
             your application, in one browser, with cookies enabled.",
        );
    }
    let now = now_text();
    let stored = match server
        .inner
        .store
        .take_secret(&hash(login_id), "pending", &now)
        .await
    {
        Ok(Some(stored)) if stored.used_at.is_none() && !has_passed(&stored.expires_at) => stored,
        Ok(_) => return bad_request("this sign-in has expired or was already completed"),
        Err(error) => {
            tracing::error!(%error, "cannot read a sign-in");
            return pages::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "The authorization server cannot reach its store.",
            );
        }
    };
    let Ok(pending) = serde_json::from_str::<Pending>(&stored.data) else {
        return bad_request("this sign-in is unreadable");
    };
    let Some(upstream) = &server.inner.upstream else {
        return bad_request("no identity provider is configured");
    };
    // RFC 9207: an answer naming another issuer comes from a mix-up attack.
    if params
        .get("iss")
        .is_some_and(|iss| iss != upstream.issuer())
    {
        tracing::warn!("an answer at the callback names another issuer; refused");
        return server.error_to_client(
            &pending,
            "access_denied",
            "the sign-in answer is not from the identity provider",
        );
    }
    if let Some(error) = params.get("error") {
        tracing::info!(%error, "the identity provider did not sign the user in");
        return server.error_to_client(&pending, "access_denied", "the sign-in was not completed");
    }
    let Some(code) = params.get("code") else {
        return server.error_to_client(&pending, "access_denied", "the sign-in returned no code");
    };
    let sign_in = match upstream
        .sign_in(code, &pending.upstream_verifier, &pending.nonce)
        .await
    {
        Ok(sign_in) => sign_in,
        Err(error) => {
            tracing::warn!(%error, "sign-in at the identity provider failed");
            return server.error_to_client(&pending, "access_denied", "the sign-in failed");
        }
    };
    if sign_in.refresh_token.is_none() {
        tracing::warn!(
            "the identity provider gave no refresh token (is offline_access in \
             oauth_server.upstream.scopes, and allowed for mcpgate's client there?): \
             this sign-in cannot be refreshed"
        );
    }
    let identity = sign_in.identity;
    let entitled = (server.inner.settings.entitlement)(&identity);
    let supported: BTreeSet<&String> = server.inner.settings.scopes_supported.iter().collect();
    let (granted, withheld): (Vec<String>, Vec<String>) = if pending.scopes.is_empty() {
        (
            entitled
                .iter()
                .filter(|s| supported.contains(s))
                .cloned()
                .collect(),
            Vec::new(),
        )
    } else {
        pending
            .scopes
            .iter()
            .cloned()
            .partition(|s| entitled.contains(s))
    };
    let csrf_token = random_secret("");
    let consent_id = random_secret("mcpgk_");
    let grant_identity = GrantIdentity {
        groups: identity.groups.iter().cloned().collect(),
        roles: identity.roles.iter().cloned().collect(),
    };
    let awaiting = AwaitingConsent {
        request: pending.clone(),
        subject: identity.subject.clone(),
        identity: grant_identity,
        granted: granted.clone(),
        upstream_refresh: sign_in
            .refresh_token
            .as_deref()
            .map(|t| server.inner.sealer.seal(t)),
        csrf_hash: hash(&csrf_token),
    };
    let stored = mcpgate_store::OneTimeSecret {
        hash: hash(&consent_id),
        kind: "consent".to_owned(),
        grant_id: None,
        data: serde_json::to_string(&awaiting).unwrap_or_default(),
        created_at: now_text(),
        expires_at: later_text(SIGN_IN_TTL),
        used_at: None,
    };
    if let Err(error) = server.inner.store.insert_secret(&stored).await {
        tracing::error!(%error, "cannot store a consent request");
        return server.error_to_client(&pending, "temporarily_unavailable", "try again later");
    }
    let client = match server.inner.clients.find(&pending.client_id).await {
        Ok(client) => client,
        Err(error) => return bad_request(&error.description),
    };
    let redirect = url::Url::parse(&pending.redirect_uri).ok();
    let redirect_host = redirect
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| pending.redirect_uri.clone());
    let redirect_source = redirect
        .as_ref()
        .map(|u| match u.scheme() {
            "http" | "https" => u.origin().ascii_serialization(),
            scheme => format!("{scheme}:"),
        })
        .unwrap_or_default();
    let user = identity
        .claims
        .get("email")
        .and_then(|v| v.as_str())
        .unwrap_or(&identity.subject)
        .to_owned();
    let mut response = pages::consent(&Consent {
        client_name: client.display_name(),
        client_id: &client.id,
        redirect_host: &redirect_host,
        user: &user,
        scopes: &granted,
        withheld: &withheld,
        request_id: &consent_id,
        csrf_token: &csrf_token,
        action: paths::CONSENT,
        form_action_sources: &format!("'self' {redirect_source}"),
    });
    server.set_cookie(&mut response, &consent_id, SIGN_IN_TTL.as_secs());
    response
}

/// The consent form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct ConsentForm {
    request: String,
    csrf_token: String,
    decision: String,
}

/// `POST /oauth/consent`.
pub(crate) async fn consent(
    State(server): State<AuthorizationServer>,
    headers: HeaderMap,
    Form(form): Form<ConsentForm>,
) -> Response {
    let refused = || {
        pages::error(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form was not sent from the consent page of this sign-in.",
        )
    };
    // A browser names the page a form came from: it must be this server.
    if let Some(origin) = headers.get(header::ORIGIN)
        && origin.as_bytes() != server.issuer().as_bytes()
    {
        return refused();
    }
    if !server.cookie_is(&headers, &form.request) {
        return refused();
    }
    let now = now_text();
    let stored = match server
        .inner
        .store
        .take_secret(&hash(&form.request), "consent", &now)
        .await
    {
        Ok(Some(stored)) if stored.used_at.is_none() && !has_passed(&stored.expires_at) => stored,
        Ok(_) => return bad_request("this consent has expired or was already given"),
        Err(error) => {
            tracing::error!(%error, "cannot read a consent request");
            return pages::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "The authorization server cannot reach its store.",
            );
        }
    };
    let Ok(awaiting) = serde_json::from_str::<AwaitingConsent>(&stored.data) else {
        return bad_request("this consent request is unreadable");
    };
    if !bool::from(
        hash(&form.csrf_token)
            .as_bytes()
            .ct_eq(awaiting.csrf_hash.as_bytes()),
    ) {
        return refused();
    }
    let pending = &awaiting.request;
    let mut response = if form.decision != "approve" {
        let _ = server
            .audit(Event {
                method: "oauth/consent",
                subject: &awaiting.subject,
                grant_id: None,
                details: consent_details(&awaiting),
                refused: Some("the user denied access".to_owned()),
            })
            .await;
        server.error_to_client(pending, "access_denied", "the user denied access")
    } else {
        match server.approve(&awaiting).await {
            Ok(code) => {
                let mut pairs = vec![("code", code.as_str()), ("iss", server.issuer())];
                if let Some(state) = &pending.state {
                    pairs.push(("state", state));
                }
                redirect_to(&pending.redirect_uri, &pairs)
            }
            Err(error) => {
                tracing::error!(error = %error.description, "cannot record a grant");
                server.error_to_client(pending, "temporarily_unavailable", "try again later")
            }
        }
    };
    server.set_cookie(&mut response, "", 0);
    response
}

impl AuthorizationServer {
    /// Record the grant and mint its authorization code.
    async fn approve(&self, awaiting: &AwaitingConsent) -> Result<String, crate::OAuthError> {
        let pending = &awaiting.request;
        let grant = self
            .create_grant(NewGrant {
                client_id: &pending.client_id,
                subject: &awaiting.subject,
                scopes: awaiting.granted.clone(),
                resource: &pending.resource,
                identity: &awaiting.identity,
                upstream_refresh: awaiting.upstream_refresh.clone(),
                lifetime: self.inner.settings.refresh_token_ttl,
            })
            .await?;
        let code = random_secret("mcpgc_");
        let data = CodeData {
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            code_challenge: pending.code_challenge.clone(),
            resource: pending.resource.clone(),
            scopes: awaiting.granted.clone(),
        };
        self.inner
            .store
            .insert_secret(&mcpgate_store::OneTimeSecret {
                hash: hash(&code),
                kind: "code".to_owned(),
                grant_id: Some(grant.id.clone()),
                data: serde_json::to_string(&data).unwrap_or_default(),
                created_at: now_text(),
                expires_at: later_text(CODE_TTL),
                used_at: None,
            })
            .await?;
        let audited = self
            .audit(Event {
                method: "oauth/consent",
                subject: &awaiting.subject,
                grant_id: Some(&grant.id),
                details: consent_details(awaiting),
                refused: None,
            })
            .await;
        if let Err(error) = audited {
            // Not recorded, not granted.
            self.revoke_grant(&grant.id, "its consent could not be audited")
                .await?;
            return Err(error);
        }
        tracing::info!(grant = %grant.id, client = %grant.client_id, subject = %grant.subject, "authorization granted");
        Ok(code)
    }
}

/// What a consent is about, for the audit log.
fn consent_details(awaiting: &AwaitingConsent) -> serde_json::Value {
    serde_json::json!({
        "client_id": awaiting.request.client_id,
        "scopes": awaiting.granted,
        "resource": awaiting.request.resource,
        "redirect_uri": awaiting.request.redirect_uri,
    })
}
