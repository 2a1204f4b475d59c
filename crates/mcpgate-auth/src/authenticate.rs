//! Credentials → [`Identity`].

use std::net::SocketAddr;

use futures::future::BoxFuture;
use mcpgate_core::Identity;

/// What a request presents for authentication.
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// The request headers (`Authorization`, `X-API-Key`, …).
    pub headers: &'a http::HeaderMap,
    /// The TCP peer, when the transport has one.
    pub peer: Option<SocketAddr>,
    /// The client certificate the TLS layer verified, if any.
    pub client_certificate: Option<&'a mcpgate_core::ClientCertificate>,
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credential was presented, and one is required.
    #[error("authentication required")]
    Missing,
    /// A credential was presented and is not valid; the reason is for logs,
    /// not for the caller.
    #[error("invalid credential: {0}")]
    Invalid(String),
    /// The credential could not be checked (the store is unreachable).
    #[error("cannot check credentials right now: {0}")]
    Unavailable(String),
    /// A credential the gateway knows, that may no longer be used (revoked,
    /// expired): the audit log can name it by its public id.
    #[error("credential {credential_id} refused: {reason}")]
    Rejected {
        /// Its public identifier (`key_…`), never the secret.
        credential_id: String,
        /// Why.
        reason: String,
    },
}

/// Turns a request's credentials into an [`Identity`].
///
/// Implementations must not log or keep the raw credential.
pub trait Authenticator: Send + Sync + 'static {
    /// Authenticate one request.
    fn authenticate<'a>(
        &'a self,
        request: RequestFacts<'a>,
    ) -> BoxFuture<'a, Result<Identity, AuthError>>;

    /// The credential `credential_id` was just revoked by this process (the
    /// admin console): refuse it from now on, instead of when the store's
    /// change feed says so. Other instances learn it from the feed.
    fn revoked(&self, credential_id: &str) {
        let _ = credential_id;
    }
}

/// The strategy `none`: every request is the local user.
///
/// Only sound where every caller *is* the local user: a stdio child process,
/// or HTTP bound to a loopback address. The binary refuses to combine it
/// with any other bind address unless forced.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalUser;

impl Authenticator for LocalUser {
    fn authenticate<'a>(
        &'a self,
        _request: RequestFacts<'a>,
    ) -> BoxFuture<'a, Result<Identity, AuthError>> {
        Box::pin(std::future::ready(Ok(Identity::local())))
    }
}

/// Checks bearer tokens from one issuer: the gateway's own authorization
/// server (defined in another crate, plugged in here).
pub trait BearerVerifier: Send + Sync + 'static {
    /// The exact `iss` of the tokens this verifier checks.
    fn issuer(&self) -> &str;

    /// Verify `token` and return who it speaks for.
    fn verify<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Identity, AuthError>>;
}
