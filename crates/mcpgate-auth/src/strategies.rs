//! Several authentication strategies behind one [`Authenticator`].

use std::sync::Arc;

use futures::future::BoxFuture;
use mcpgate_core::Identity;

use crate::api_key::{ApiKeyAuthenticator, KEY_PREFIX};
use crate::authenticate::{AuthError, Authenticator, BearerVerifier, RequestFacts};
use crate::credentials::presented_credential;
use crate::introspection::Introspector;
use crate::jwt::JwtVerifier;

/// Routes a credential by its form: `mcpg_…` to API keys, a three-part
/// token to the gateway's own authorization server when it names it as
/// issuer, else to the JWT verifier, anything else to introspection. A
/// form whose strategy is not configured is refused.
#[derive(Default)]
pub struct Strategies {
    /// Access tokens of the gateway's own authorization server.
    pub own_tokens: Option<Arc<dyn BearerVerifier>>,
    /// API keys, when configured.
    pub api_keys: Option<Arc<ApiKeyAuthenticator>>,
    /// JWTs from identity providers, when configured.
    pub jwt: Option<Arc<JwtVerifier>>,
    /// Authorization servers that introspect opaque tokens, tried in order.
    pub introspection: Vec<Arc<Introspector>>,
    /// Verified client certificates, when accepted as credentials.
    pub mutual_tls: Option<MutualTls>,
}

impl std::fmt::Debug for Strategies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strategies")
            .field("own_tokens", &self.own_tokens.as_ref().map(|v| v.issuer()))
            .field("api_keys", &self.api_keys)
            .field("jwt", &self.jwt)
            .field("introspection", &self.introspection)
            .field("mutual_tls", &self.mutual_tls)
            .finish()
    }
}

/// Whether the (not yet verified) JWT names `issuer` as its `iss`: only to
/// pick the verifier; the verifier checks the signature and the issuer.
fn issued_by(token: &str, issuer: &str) -> bool {
    jsonwebtoken::dangerous::insecure_decode_claims::<serde_json::Map<String, serde_json::Value>>(
        token,
    )
    .ok()
    .and_then(|claims| {
        claims
            .get("iss")
            .and_then(|v| v.as_str())
            .map(|iss| iss == issuer)
    })
    .unwrap_or(false)
}

/// What a verified client certificate is granted.
#[derive(Debug, Clone, Default)]
pub struct MutualTls {
    /// Scopes of every certificate the CA vouches for.
    pub scopes: Vec<String>,
}

impl MutualTls {
    fn identity(&self, certificate: &mcpgate_core::ClientCertificate) -> Identity {
        let mut identity = Identity::new(
            certificate.subject.clone(),
            mcpgate_core::AuthMethod::MutualTls,
        );
        identity.credential_id = Some(certificate.fingerprint.clone());
        identity.scopes = self.scopes.iter().cloned().collect();
        identity
    }
}

impl Authenticator for Strategies {
    fn revoked(&self, credential_id: &str) {
        if let Some(keys) = &self.api_keys {
            keys.forget(credential_id);
        }
    }

    fn authenticate<'a>(
        &'a self,
        request: RequestFacts<'a>,
    ) -> BoxFuture<'a, Result<Identity, AuthError>> {
        Box::pin(async move {
            // A bearer credential, when sent, speaks for the caller; else a
            // verified client certificate does.
            let credential = match presented_credential(&request) {
                Err(AuthError::Missing) => {
                    return match (&self.mutual_tls, request.client_certificate) {
                        (Some(policy), Some(certificate)) => Ok(policy.identity(certificate)),
                        _ => Err(AuthError::Missing),
                    };
                }
                other => other?,
            };
            if credential.starts_with(KEY_PREFIX) {
                return match &self.api_keys {
                    Some(keys) => keys.check(&credential).await,
                    None => Err(AuthError::Invalid(
                        "API keys are not accepted by this gateway".to_owned(),
                    )),
                };
            }
            if credential.split('.').count() == 3 {
                if let Some(own) = &self.own_tokens
                    && issued_by(&credential, own.issuer())
                {
                    return own.verify(&credential).await;
                }
                return match &self.jwt {
                    Some(jwt) => jwt.verify(&credential).await,
                    None => Err(AuthError::Invalid(
                        "JWTs are not accepted by this gateway".to_owned(),
                    )),
                };
            }
            if self.introspection.is_empty() {
                return Err(AuthError::Invalid("unrecognised credential".to_owned()));
            }
            // Any server that vouches for the token is enough; the last
            // refusal is reported.
            let mut refusal = AuthError::Invalid("token not active".to_owned());
            for server in &self.introspection {
                match server.verify(&credential).await {
                    Ok(identity) => return Ok(identity),
                    Err(error) => refusal = error,
                }
            }
            Err(refusal)
        })
    }
}
