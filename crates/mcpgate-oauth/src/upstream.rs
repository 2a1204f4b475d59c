//! Sign-in federated to the company's OpenID Connect provider: the
//! authorization code flow with PKCE and a nonce, ID tokens checked by the
//! gateway's JWT verifier (issuer, audience = our client id, signature by
//! the provider's published keys), and refreshes that tell us when the
//! provider no longer vouches for the user.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use mcpgate_auth::jwt::{IssuerConfig, JwtVerifier};
use mcpgate_core::{AuthMethod, Identity};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::OnceCell;

use crate::settings::UpstreamSettings;

/// Why a sign-in or refresh at the provider failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The provider refused (the user is disabled, the token revoked, …).
    #[error("the identity provider refused: {0}")]
    Refused(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
}

#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    refresh_token: Option<String>,
}

/// A signed-in user as the provider described them.
#[derive(Debug)]
pub struct SignIn {
    /// Subject, groups, roles and the other ID-token claims.
    pub identity: Identity,
    /// The provider's refresh token, when it gave one.
    pub refresh_token: Option<String>,
}

/// The provider.
pub struct Upstream {
    settings: UpstreamSettings,
    redirect_uri: String,
    client: reqwest::Client,
    metadata: OnceCell<Metadata>,
    id_tokens: JwtVerifier,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upstream({})", self.settings.issuer)
    }
}

impl Upstream {
    /// The provider in `settings`; users come back to `redirect_uri`.
    pub fn new(settings: UpstreamSettings, redirect_uri: String) -> Result<Self, String> {
        let id_tokens = JwtVerifier::new(vec![IssuerConfig {
            issuer: settings.issuer.clone(),
            jwks_uri: None,
            audiences: vec![settings.client_id.clone()],
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ],
            leeway: Duration::from_secs(60),
            scope_claims: Vec::new(),
            groups_claim: settings.groups_claim.clone(),
            roles_claim: settings.roles_claim.clone(),
        }])
        .map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Upstream {
            settings,
            redirect_uri,
            client,
            metadata: OnceCell::new(),
            id_tokens,
        })
    }

    /// The provider's issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.settings.issuer
    }

    async fn metadata(&self) -> Result<&Metadata, UpstreamError> {
        self.metadata
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let unavailable = |e: reqwest::Error| UpstreamError::Unavailable(e.to_string());
                let metadata: Metadata = self
                    .client
                    .get(&url)
                    .send()
                    .await
                    .map_err(unavailable)?
                    .error_for_status()
                    .map_err(unavailable)?
                    .json()
                    .await
                    .map_err(unavailable)?;
                if metadata.issuer != self.settings.issuer {
                    return Err(UpstreamError::Unavailable(format!(
                        "its discovery document names issuer {} instead of {}",
                        metadata.issuer, self.settings.issuer
                    )));
                }
                Ok(metadata)
            })
            .await
    }

    /// Where to send the user's browser.
    pub async fn authorization_url(
        &self,
        state: &str,
        nonce: &str,
        code_challenge: &str,
    ) -> Result<String, UpstreamError> {
        let metadata = self.metadata().await?;
        let mut url = url::Url::parse(&metadata.authorization_endpoint)
            .map_err(|e| UpstreamError::Unavailable(format!("bad authorization_endpoint: {e}")))?;
        let mut scopes = vec!["openid".to_owned()];
        scopes.extend(
            self.settings
                .scopes
                .iter()
                .filter(|s| *s != "openid")
                .cloned(),
        );
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &scopes.join(" "))
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", code_challenge)
            .append_pair("code_challenge_method", "S256");
        if scopes.iter().any(|s| s == "offline_access") {
            // Providers issue refresh tokens for offline access only after
            // explicit consent.
            url.query_pairs_mut().append_pair("prompt", "consent");
        }
        Ok(url.into())
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Result<TokenAnswer, UpstreamError> {
        let metadata = self.metadata().await?;
        let response = self
            .client
            .post(&metadata.token_endpoint)
            .basic_auth(
                &self.settings.client_id,
                Some(self.settings.client_secret.expose_secret()),
            )
            .form(form)
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable(e.to_string()))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("unreadable answer: {e}")))?;
        if status.is_client_error() {
            let error = body
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("refused");
            let description = body
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or_default();
            return Err(UpstreamError::Refused(
                format!("{error} {description}").trim().to_owned(),
            ));
        }
        if !status.is_success() {
            return Err(UpstreamError::Unavailable(format!("status {status}")));
        }
        serde_json::from_value(body).map_err(|e| UpstreamError::Unavailable(e.to_string()))
    }

    /// Redeem the code the provider sent back, and check its ID token.
    pub async fn sign_in(
        &self,
        code: &str,
        code_verifier: &str,
        nonce: &str,
    ) -> Result<SignIn, UpstreamError> {
        let answer = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
                ("code_verifier", code_verifier),
            ])
            .await?;
        let id_token = answer
            .id_token
            .ok_or_else(|| UpstreamError::Refused("no ID token in the answer".to_owned()))?;
        let mut identity = self
            .id_tokens
            .verify(&id_token)
            .await
            .map_err(|e| UpstreamError::Refused(format!("ID token: {e}")))?;
        // The nonce ties the ID token to this sign-in: a token from another
        // sign-in (replayed or injected) does not carry it.
        if identity.claims.get("nonce").and_then(Value::as_str) != Some(nonce) {
            return Err(UpstreamError::Refused(
                "the ID token's nonce does not match this sign-in".to_owned(),
            ));
        }
        for transient in [
            "nonce",
            "at_hash",
            "c_hash",
            "auth_time",
            "sid",
            "jti",
            "azp",
        ] {
            identity.claims.remove(transient);
        }
        identity.auth = AuthMethod::OAuth;
        Ok(SignIn {
            identity,
            refresh_token: answer.refresh_token,
        })
    }

    /// Ask the provider whether it still vouches for the user: refresh its
    /// token. Returns the token to keep (a new one when it rotates them).
    pub async fn refresh(&self, refresh_token: &str) -> Result<String, UpstreamError> {
        let answer = self
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .await?;
        Ok(answer
            .refresh_token
            .unwrap_or_else(|| refresh_token.to_owned()))
    }
}
