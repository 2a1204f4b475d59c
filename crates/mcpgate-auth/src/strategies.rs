//! Several authentication strategies behind one [`Authenticator`].

use std::sync::Arc;

use futures::future::BoxFuture;
use mcpgate_core::Identity;

use crate::api_key::{ApiKeyAuthenticator, KEY_PREFIX};
use crate::authenticate::{AuthError, Authenticator, RequestFacts};
use crate::credentials::presented_credential;
use crate::jwt::JwtVerifier;

/// Routes a credential by its form: `mcpg_…` to API keys, a three-part
/// token to the JWT verifier. A form whose strategy is not configured is
/// refused.
#[derive(Debug, Default)]
pub struct Strategies {
    /// API keys, when configured.
    pub api_keys: Option<Arc<ApiKeyAuthenticator>>,
    /// JWTs from identity providers, when configured.
    pub jwt: Option<Arc<JwtVerifier>>,
}

impl Authenticator for Strategies {
    fn authenticate<'a>(
        &'a self,
        request: RequestFacts<'a>,
    ) -> BoxFuture<'a, Result<Identity, AuthError>> {
        Box::pin(async move {
            let credential = presented_credential(&request)?;
            if credential.starts_with(KEY_PREFIX) {
                return match &self.api_keys {
                    Some(keys) => keys.check(&credential).await,
                    None => Err(AuthError::Invalid(
                        "API keys are not accepted by this gateway".to_owned(),
                    )),
                };
            }
            if credential.split('.').count() == 3 {
                return match &self.jwt {
                    Some(jwt) => jwt.verify(&credential).await,
                    None => Err(AuthError::Invalid(
                        "JWTs are not accepted by this gateway".to_owned(),
                    )),
                };
            }
            Err(AuthError::Invalid("unrecognised credential".to_owned()))
        })
    }
}
