//! Grants and the tokens issued from them: minting access and refresh
//! tokens, revoking grants (here and, through the store's change feed, on
//! every instance), and listing them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcpgate_core::format_rfc3339;
use mcpgate_store::{GrantRecord, GrantSelector, OneTimeSecret, Store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AuthorizationServer;
use crate::error::OAuthError;
use crate::secrets::{hash, random_id, random_secret};
use crate::tokens::{AccessClaims, AccessTokenVerifier, sign, unix_now};

/// Prefix of refresh tokens.
pub(crate) const REFRESH_PREFIX: &str = "mcpgr_";

/// Who a grant is for, beyond the subject: kept with the grant so refreshed
/// access tokens carry the same groups and roles.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct GrantIdentity {
    #[serde(default)]
    pub(crate) groups: Vec<String>,
    #[serde(default)]
    pub(crate) roles: Vec<String>,
}

/// What a refresh token stands for.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RefreshData {
    pub(crate) client_id: String,
}

/// What a new grant is made of.
pub(crate) struct NewGrant<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) scopes: Vec<String>,
    pub(crate) resource: &'a str,
    pub(crate) identity: &'a GrantIdentity,
    /// The identity provider's refresh token, sealed.
    pub(crate) upstream_refresh: Option<String>,
    pub(crate) lifetime: Duration,
}

/// Tokens for the client.
pub(crate) struct Issued {
    pub(crate) grant_id: String,
    pub(crate) subject: String,
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) scope: String,
    pub(crate) refresh_token: Option<String>,
}

impl Issued {
    pub(crate) fn body(&self) -> Value {
        let mut body = json!({
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "scope": self.scope,
        });
        if let Some(refresh) = &self.refresh_token {
            body["refresh_token"] = json!(refresh);
        }
        body
    }
}

pub(crate) fn now_text() -> String {
    format_rfc3339(SystemTime::now())
}

pub(crate) fn later_text(after: Duration) -> String {
    format_rfc3339(SystemTime::now() + after)
}

/// Whether an RFC 3339 time has passed.
pub(crate) fn has_passed(time: &str) -> bool {
    mcpgate_core::parse_rfc3339(time).is_none_or(|t| t <= SystemTime::now())
}

impl AuthorizationServer {
    /// A new grant in the store.
    pub(crate) async fn create_grant(&self, new: NewGrant<'_>) -> Result<GrantRecord, OAuthError> {
        let grant = GrantRecord {
            id: random_id("grant_"),
            client_id: new.client_id.to_owned(),
            subject: new.subject.to_owned(),
            scopes: new.scopes,
            resource: new.resource.to_owned(),
            identity: serde_json::to_string(new.identity).unwrap_or_else(|_| "{}".into()),
            upstream_refresh: new.upstream_refresh,
            created_at: now_text(),
            expires_at: later_text(new.lifetime),
            revoked_at: None,
            revoked_reason: None,
        };
        self.inner.store.insert_grant(&grant).await?;
        Ok(grant)
    }

    /// An access token (and a refresh token when `with_refresh`) for
    /// `grant`, with `scopes` (a subset of the grant's).
    pub(crate) async fn issue(
        &self,
        grant: &GrantRecord,
        scopes: &[String],
        with_refresh: bool,
    ) -> Result<Issued, OAuthError> {
        let settings = &self.inner.settings;
        let identity: GrantIdentity = serde_json::from_str(&grant.identity).unwrap_or_default();
        let now = unix_now();
        let ttl = settings.access_token_ttl.as_secs().max(1);
        let claims = AccessClaims {
            iss: settings.issuer.clone(),
            sub: grant.subject.clone(),
            aud: grant.resource.clone(),
            exp: now + ttl,
            iat: now,
            jti: random_id("at_"),
            client_id: grant.client_id.clone(),
            scope: scopes.join(" "),
            gid: grant.id.clone(),
            groups: identity.groups,
            roles: identity.roles,
        };
        let access_token = sign(&self.inner.keys, &claims);
        let refresh_token = if with_refresh {
            let token = random_secret(REFRESH_PREFIX);
            let data = RefreshData {
                client_id: grant.client_id.clone(),
            };
            self.inner
                .store
                .insert_secret(&OneTimeSecret {
                    hash: hash(&token),
                    kind: "refresh".to_owned(),
                    grant_id: Some(grant.id.clone()),
                    data: serde_json::to_string(&data).unwrap_or_default(),
                    created_at: now_text(),
                    expires_at: grant.expires_at.clone(),
                    used_at: None,
                })
                .await?;
            Some(token)
        } else {
            None
        };
        Ok(Issued {
            grant_id: grant.id.clone(),
            subject: grant.subject.clone(),
            access_token,
            expires_in: ttl,
            scope: claims.scope,
            refresh_token,
        })
    }

    /// Revoke one grant, here at once and elsewhere through the change
    /// feed.
    pub(crate) async fn revoke_grant(&self, id: &str, reason: &str) -> Result<(), OAuthError> {
        let ids =
            crate::admin::revoke_grants(&*self.inner.store, GrantSelector::Id(id), reason).await?;
        for id in &ids {
            self.inner.verifier.revoke_grant(id);
        }
        Ok(())
    }
}

/// How often the change feed is read when the store cannot push.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often expired single-use secrets are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// Positions re-read behind the newest seen (see
/// [`Store::key_changes_since`]: a change can commit after a later one).
const REREAD_WINDOW: i64 = 64;

/// Load the revoked grants, then follow the feed (and purge expired
/// secrets now and then).
pub(crate) fn follow_revocations(
    store: Arc<dyn Store>,
    verifier: Arc<AccessTokenVerifier>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        match store.grants().await {
            Ok(grants) => {
                for grant in grants.iter().filter(|g| g.revoked_at.is_some()) {
                    verifier.revoke_grant(&grant.id);
                }
            }
            Err(error) => tracing::warn!(%error, "cannot load revoked grants"),
        }
        let mut seen = 0i64;
        let mut pushed = match store.watch_key_changes().await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for revocations; polling");
                None
            }
        };
        let mut last_purge = std::time::Instant::now();
        loop {
            if last_purge.elapsed() >= PURGE_INTERVAL {
                last_purge = std::time::Instant::now();
                // Expired codes, sign-ins and refresh tokens: kept until
                // expiry so that a replay is recognised, then deleted.
                if let Err(error) = store.purge_secrets(&now_text()).await {
                    tracing::warn!(%error, "cannot purge expired OAuth secrets");
                }
            }
            match store.key_changes_since((seen - REREAD_WINDOW).max(0)).await {
                Ok(changes) => {
                    for change in changes {
                        seen = seen.max(change.seq);
                        if change.change == "revoked" && change.key_id.starts_with("grant_") {
                            verifier.revoke_grant(&change.key_id);
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "cannot read the revocation feed"),
            }
            match &mut pushed {
                Some(stream) => {
                    use futures::StreamExt;
                    // Woken by a notification, or polls anyway each interval;
                    // a stream that ended would wake at once, for ever.
                    if let Ok(None) = tokio::time::timeout(POLL_INTERVAL, stream.next()).await {
                        tracing::warn!("lost the revocation notifications; polling every second");
                        pushed = None;
                    }
                }
                None => tokio::time::sleep(POLL_INTERVAL).await,
            }
        }
    })
}
