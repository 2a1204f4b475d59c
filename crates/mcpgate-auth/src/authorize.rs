//! Identity × tool × arguments → [`Decision`].

use mcpgate_core::{AuthMethod, Decision, DenyReason, Identity, ToolSpec};
use serde_json::{Map, Value};

/// Decides whether an identity may call a tool.
///
/// Decisions are pure and in memory: no I/O, so they can run on every
/// `tools/list` entry and again on every `tools/call`.
pub trait Authorizer: Send + Sync + 'static {
    /// Whether `identity` may call `tool` with `arguments` (`None` when
    /// deciding visibility for `tools/list`, before any arguments exist).
    fn decide(
        &self,
        identity: &Identity,
        tool: &ToolSpec,
        arguments: Option<&Map<String, Value>>,
    ) -> Decision;
}

/// Grants everything to the local user of an unauthenticated gateway and
/// nothing to anyone else (deny by default).
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalUserOnly;

impl Authorizer for LocalUserOnly {
    fn decide(
        &self,
        identity: &Identity,
        _tool: &ToolSpec,
        _arguments: Option<&Map<String, Value>>,
    ) -> Decision {
        if identity.auth == AuthMethod::None {
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

    fn tool() -> ToolSpec {
        ToolSpec {
            name: "t".into(),
            title: None,
            description: None,
            input_schema: Map::new(),
            annotations: Default::default(),
            security: Vec::new(),
            backend: "b".into(),
        }
    }

    #[test]
    fn only_the_local_user_is_allowed() {
        let local = Identity::local();
        assert!(LocalUserOnly.decide(&local, &tool(), None).is_allowed());
        let mut stranger = Identity::local();
        stranger.auth = AuthMethod::ApiKey;
        stranger.subject = "key_1".into();
        assert!(!LocalUserOnly.decide(&stranger, &tool(), None).is_allowed());
    }
}
