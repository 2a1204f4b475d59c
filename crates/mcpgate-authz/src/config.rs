//! `[authz]` in `mcpgate.toml`: what the operator writes.
//!
//! These types only describe the settings; [`crate::Policy::compile`]
//! checks them against the catalog and turns them into the form decisions
//! are made from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use mcpgate_core::parse_duration;
use serde::Deserialize;

/// The `[authz]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzConfig {
    /// Read-only mode: only tools the gateway knows are read-only are
    /// listed and callable. On unless turned off, here or per backend.
    #[serde(default = "yes")]
    pub read_only: bool,
    /// What a tool needs when neither a rule nor its spec names scopes:
    /// `deny` (default) or `authenticated` (any authenticated caller).
    #[serde(default)]
    pub unscoped_tools: UnscopedTools,
    /// Broader scopes imply narrower ones: `admin = ["write"]`,
    /// `write = ["read"]`, `"write:*" = ["read:*"]` (a `*` at the end stands
    /// for the same suffix on both sides).
    #[serde(default)]
    pub scope_implies: BTreeMap<String, Vec<String>>,
    /// Named bundles of scopes, by role name.
    #[serde(default)]
    pub roles: BTreeMap<String, RoleConfig>,
    /// Rules that set the scopes a tool requires (and, optionally, whether it
    /// counts as read-only). For each tool, each setting comes from the first
    /// rule that matches it and sets it; a rule overrides the spec.
    #[serde(default)]
    pub tools: Vec<ToolRule>,
    /// Cedar policy files (relative to the config file); `forbid` policies
    /// restrict what scopes allow.
    #[serde(default)]
    pub policies: Vec<PathBuf>,
    /// Calls per time window, per identity or per tool.
    #[serde(default)]
    pub rate_limits: Vec<RateLimitConfig>,
    /// The UTC offset policies see `context.time` in, e.g. `+01:00`.
    #[serde(default)]
    pub utc_offset: Option<String>,
}

impl Default for AuthzConfig {
    fn default() -> Self {
        AuthzConfig {
            read_only: true,
            unscoped_tools: UnscopedTools::default(),
            scope_implies: BTreeMap::new(),
            roles: BTreeMap::new(),
            tools: Vec::new(),
            policies: Vec::new(),
            rate_limits: Vec::new(),
            utc_offset: None,
        }
    }
}

fn yes() -> bool {
    true
}

/// Who may call a tool for which no scopes are known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnscopedTools {
    /// Nobody but the local user of an unauthenticated gateway.
    #[default]
    Deny,
    /// Any authenticated caller.
    Authenticated,
}

/// `[authz.roles.NAME]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Scopes the role grants.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Identity-provider groups whose members hold the role.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Subjects (user ids, key ids, certificate subjects) that hold the role.
    #[serde(default)]
    pub subjects: Vec<String>,
    /// The role's scopes count only for tools known to be read-only.
    #[serde(default)]
    pub read_only: bool,
}

/// `[[authz.tools]]`: which tools a rule applies to, and what it sets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolRule {
    /// Tool name patterns (`*` and `?` wildcards); every tool when empty.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Backend names; every backend when empty.
    #[serde(default)]
    pub backends: Vec<String>,
    /// HTTP methods (`GET`, `POST`, …); any when empty.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Match only tools the gateway knows are read-only (`read`) or only
    /// the others (`write`).
    pub kind: Option<ToolKind>,
    /// Scopes the tool requires, all of them. `{backend}` and `{tool}` are
    /// replaced by the tool's backend and name. An empty list requires no
    /// scope (any authenticated caller).
    pub scopes: Option<Vec<String>>,
    /// Overrides whether the tool counts as read-only.
    pub read_only: Option<bool>,
}

/// A tool's kind, for rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolKind {
    /// Known to be read-only.
    Read,
    /// May write.
    Write,
}

/// `[[authz.rate_limits]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// What is counted separately: each `identity`, each `tool`, or each
    /// `identity_and_tool` pair.
    pub per: RateLimitKey,
    /// Tool name patterns the limit covers; every tool when empty.
    #[serde(default)]
    pub tools: Vec<String>,
    /// Calls allowed per window (also the largest burst).
    pub requests: u32,
    /// The window, e.g. `1m`.
    #[serde(deserialize_with = "deserialize_duration")]
    pub window: Duration,
}

/// What a rate limit counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitKey {
    /// Each caller (subject), across the tools the limit covers.
    Identity,
    /// Each tool, across all callers.
    Tool,
    /// Each caller and tool pair.
    IdentityAndTool,
}

fn deserialize_duration<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("1 fortnight").is_err());
        assert!(parse_duration("m").is_err());
        assert!(
            parse_duration("999999999999999999d").is_err(),
            "too long, not an overflow"
        );
    }
}
