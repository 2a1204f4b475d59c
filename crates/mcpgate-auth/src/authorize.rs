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

/// Grants tools by the scopes their OpenAPI security requirements name.
///
/// - The local user of an unauthenticated gateway may call everything.
/// - Anyone else may call a tool when their scopes cover one of its
///   security alternatives (OpenAPI semantics: any one alternative, and
///   within it every scope of every scheme).
/// - A tool whose spec declares no security requirement is granted to any
///   authenticated caller; `mcpgate import` warns about such operations.
/// - A tool that names the authentication methods it accepts refuses
///   callers who authenticated otherwise, whatever their scopes.
///
/// Refusals name the scopes that would have allowed the call (the
/// alternative needing the fewest), for a step-up challenge.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeclaredScopes;

impl Authorizer for DeclaredScopes {
    fn decide(
        &self,
        identity: &Identity,
        tool: &ToolSpec,
        _arguments: Option<&Map<String, Value>>,
    ) -> Decision {
        if identity.auth == AuthMethod::None {
            return Decision::Allow;
        }
        if let Some(accepted) = &tool.accepted_auth
            && !accepted.contains(&identity.auth)
        {
            return Decision::Deny {
                reason: DenyReason::AuthMethodNotAccepted(identity.auth.as_str().to_owned()),
                missing_scopes: Vec::new(),
            };
        }
        if tool.security.is_empty() {
            return Decision::Allow;
        }
        let mut fewest_missing: Option<Vec<String>> = None;
        for alternative in &tool.security {
            let mut missing: Vec<String> = alternative
                .scopes()
                .filter(|scope| !identity.scopes.contains(*scope))
                .map(str::to_owned)
                .collect();
            if missing.is_empty() {
                return Decision::Allow;
            }
            missing.sort();
            missing.dedup();
            if fewest_missing
                .as_ref()
                .is_none_or(|fewest| missing.len() < fewest.len())
            {
                fewest_missing = Some(missing);
            }
        }
        Decision::Deny {
            reason: DenyReason::InsufficientScope,
            missing_scopes: fewest_missing.unwrap_or_default(),
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
            accepted_auth: None,
        }
    }

    fn caller(scopes: &[&str]) -> Identity {
        let mut identity = Identity::local();
        identity.auth = AuthMethod::ApiKey;
        identity.subject = "key_1".into();
        identity.scopes = scopes.iter().map(|s| s.to_string()).collect();
        identity
    }

    fn secured(alternatives: &[&[(&str, &[&str])]]) -> ToolSpec {
        let mut spec = tool();
        spec.security = alternatives
            .iter()
            .map(|schemes| mcpgate_core::SecurityRequirement {
                schemes: schemes
                    .iter()
                    .map(|(scheme, scopes)| {
                        (
                            scheme.to_string(),
                            scopes.iter().map(|s| s.to_string()).collect(),
                        )
                    })
                    .collect(),
            })
            .collect();
        spec
    }

    #[test]
    fn declared_scopes_decide() {
        let read = secured(&[&[("oauth", &["inventory:read"])]]);
        let write_or_admin = secured(&[
            &[("oauth", &["inventory:write", "audit:write"])],
            &[("oauth", &["admin"])],
        ]);
        let key_only = secured(&[&[("apiKey", &[])]]);
        let undeclared = tool();

        assert!(
            DeclaredScopes
                .decide(&caller(&["inventory:read"]), &read, None)
                .is_allowed()
        );
        assert!(
            !DeclaredScopes
                .decide(&caller(&[]), &read, None)
                .is_allowed()
        );
        assert!(
            DeclaredScopes
                .decide(&caller(&["admin"]), &write_or_admin, None)
                .is_allowed()
        );
        assert!(
            DeclaredScopes
                .decide(&caller(&[]), &key_only, None)
                .is_allowed(),
            "a scheme without scopes needs none"
        );
        assert!(
            DeclaredScopes
                .decide(&caller(&[]), &undeclared, None)
                .is_allowed()
        );
        assert!(
            DeclaredScopes
                .decide(&Identity::local(), &write_or_admin, None)
                .is_allowed()
        );
        assert_eq!(
            DeclaredScopes.decide(&caller(&[]), &write_or_admin, None),
            Decision::Deny {
                reason: DenyReason::InsufficientScope,
                missing_scopes: vec!["admin".into()]
            },
            "names the alternative needing the fewest scopes"
        );
        assert_eq!(
            DeclaredScopes.decide(&caller(&["inventory:readx"]), &read, None),
            Decision::Deny {
                reason: DenyReason::InsufficientScope,
                missing_scopes: vec!["inventory:read".into()]
            },
            "scopes match exactly"
        );
    }

    #[test]
    fn a_tool_may_demand_how_its_callers_authenticated() {
        let mut write = secured(&[&[("oauth", &["inventory:write"])]]);
        write.accepted_auth = Some(vec![
            AuthMethod::OAuth,
            AuthMethod::Jwt,
            AuthMethod::MutualTls,
        ]);
        let key = caller(&["inventory:write"]);
        let mut jwt = caller(&["inventory:write"]);
        jwt.auth = AuthMethod::Jwt;
        assert_eq!(
            DeclaredScopes.decide(&key, &write, None),
            Decision::Deny {
                reason: DenyReason::AuthMethodNotAccepted("api_key".into()),
                missing_scopes: vec![]
            },
            "an API key is refused even with the right scope"
        );
        assert!(DeclaredScopes.decide(&jwt, &write, None).is_allowed());
        assert!(
            DeclaredScopes
                .decide(&Identity::local(), &write, None)
                .is_allowed()
        );
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
