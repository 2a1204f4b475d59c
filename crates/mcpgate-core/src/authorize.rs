//! The authorize stage's interface: identity × tool × arguments → [`Decision`].

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

use crate::{AuthMethod, Decision, DenyReason, Identity, ToolSpec};

/// Everything a decision may depend on, for one tool.
#[derive(Debug, Clone, Copy)]
pub struct AuthzRequest<'a> {
    /// The authenticated caller.
    pub identity: &'a Identity,
    /// The tool asked for.
    pub tool: &'a ToolSpec,
    /// The call's arguments; `None` when deciding visibility for
    /// `tools/list`, before any arguments exist.
    pub arguments: Option<&'a Map<String, Value>>,
    /// The caller's network address (none on stdio).
    pub source: Option<IpAddr>,
    /// When the request arrived.
    pub time: SystemTime,
}

impl<'a> AuthzRequest<'a> {
    /// A visibility question (no arguments) asked now, from nowhere.
    pub fn listing(identity: &'a Identity, tool: &'a ToolSpec) -> Self {
        AuthzRequest {
            identity,
            tool,
            arguments: None,
            source: None,
            time: SystemTime::now(),
        }
    }
}

/// Decides whether an identity may call a tool.
///
/// Decisions are pure and in memory: no I/O, so they can run on every
/// `tools/list` entry and again on every `tools/call`.
pub trait Authorizer: Send + Sync + 'static {
    /// Whether the call described by `request` may go ahead.
    fn decide(&self, request: &AuthzRequest<'_>) -> Decision;

    /// Count one call of `tool` by `identity` against the rate limits:
    /// `Err(retry_after)` when a limit is exhausted. Called once per
    /// `tools/call` that authorization allowed.
    fn admit(&self, identity: &Identity, tool: &ToolSpec) -> Result<(), Duration> {
        let _ = (identity, tool);
        Ok(())
    }
}

/// Grants everything to the local user of an unauthenticated gateway and
/// nothing to anyone else (deny by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalUserOnly;

impl Authorizer for LocalUserOnly {
    fn decide(&self, request: &AuthzRequest<'_>) -> Decision {
        if request.identity.auth == AuthMethod::None {
            Decision::Allow
        } else {
            Decision::Deny {
                reason: DenyReason::NoMatchingGrant,
                missing_scopes: Vec::new(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_local_user_is_allowed() {
        let tool = ToolSpec {
            name: "t".into(),
            title: None,
            description: None,
            input_schema: Map::new(),
            annotations: Default::default(),
            security: Vec::new(),
            backend: "b".into(),
            accepted_auth: None,
            http_method: None,
            tags: Vec::new(),
        };
        let local = Identity::local();
        assert!(
            LocalUserOnly
                .decide(&AuthzRequest::listing(&local, &tool))
                .is_allowed()
        );
        let stranger = Identity::new("key_1", AuthMethod::ApiKey);
        assert!(
            !LocalUserOnly
                .decide(&AuthzRequest::listing(&stranger, &tool))
                .is_allowed()
        );
    }
}
