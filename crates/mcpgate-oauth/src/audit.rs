//! The authorization server's events in the gateway's audit log: consent
//! given or refused, tokens issued, codes replayed, refresh tokens reused,
//! users the identity provider dropped, revocations, registrations. The
//! gateway passes a hook that writes to its tamper-evident chain.

use std::sync::Arc;

use futures::future::BoxFuture;
use mcpgate_core::{AuditEvent, AuthMethod};
use serde_json::Value;

use crate::AuthorizationServer;
use crate::error::OAuthError;
use crate::secrets::random_id;

/// Writes an event to the audit log; `false` when it could not be written
/// and the gateway fails closed (what it records must then not happen).
pub type AuditHook = Arc<dyn Fn(AuditEvent) -> BoxFuture<'static, bool> + Send + Sync>;

/// One event.
pub(crate) struct Event<'a> {
    /// `oauth/consent`, `oauth/token`, `oauth/revoke`, `oauth/register`.
    pub(crate) method: &'static str,
    /// The user (or client) it is about.
    pub(crate) subject: &'a str,
    /// The grant, when there is one.
    pub(crate) grant_id: Option<&'a str>,
    /// What was asked for (client, scopes, grant type, …); never a secret.
    pub(crate) details: Value,
    /// Why it was refused; `None` when it was done.
    pub(crate) refused: Option<String>,
}

impl AuthorizationServer {
    /// Record `event`. An event that was done but could not be recorded
    /// is an error: the caller undoes what it can and answers 503.
    pub(crate) async fn audit(&self, event: Event<'_>) -> Result<(), OAuthError> {
        let Some(hook) = &self.inner.settings.audit else {
            return Ok(());
        };
        let done = event.refused.is_none();
        let record = AuditEvent::action(
            random_id("oauth_"),
            event.method,
            event.subject,
            AuthMethod::OAuth,
            event.grant_id.map(str::to_owned),
            event.details,
            event.refused,
        );
        if hook(record).await || !done {
            Ok(())
        } else {
            Err(OAuthError::unavailable("the audit log is unavailable"))
        }
    }
}
