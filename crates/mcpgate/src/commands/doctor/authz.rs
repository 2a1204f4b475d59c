//! Who can write: decided by the real policy, compiled from the config and
//! the catalog, for synthetic callers.

use std::collections::BTreeMap;

use mcpgate_authz::Policy;
use mcpgate_core::{AuthMethod, Authorizer, AuthzRequest, Identity, ToolSpec};

use super::finding::Finding;
use super::specs::Tool;
use crate::assemble::AuthzParts;
use crate::cli::Severity;
use crate::config::locate::TomlIndex;
use crate::config::{Config, LoadedConfig};

/// Scope segments that grant everything, or administration.
const BROAD_SEGMENTS: &[&str] = &["*", "admin", "administrator", "root", "superuser", "sudo"];

/// Whether `scope` is a wildcard or administrative scope (`*`, `admin`,
/// `inventory:admin`, `admin:*`, `write:*`); wildcards that only read
/// (`read:*`) are not.
pub fn is_broad_scope(scope: &str) -> bool {
    let lower = scope.trim().to_ascii_lowercase();
    if is_read_scope(&lower) {
        return false;
    }
    lower == "all"
        || lower
            .split([':', '.', '/', '-', '_', ' '])
            .any(|segment| BROAD_SEGMENTS.contains(&segment))
}

/// Whether `scope` only reads (`read`, `orders:read`, `read:*`): a segment
/// says `read` and none says otherwise.
fn is_read_scope(scope: &str) -> bool {
    let lower = scope.to_ascii_lowercase();
    let segments: Vec<&str> = lower.split([':', '.', '/', '-', '_']).collect();
    segments.iter().any(|s| *s == "read" || *s == "readonly")
        && !segments.iter().any(|s| {
            ["write", "admin", "delete", "manage", "create", "update"].contains(s)
                || (*s != "*" && BROAD_SEGMENTS.contains(s))
        })
}

/// The authentication methods the config turns on.
fn configured_methods(config: &Config) -> Vec<AuthMethod> {
    let auth = &config.auth;
    let mut methods = Vec::new();
    if auth.api_keys.is_some() {
        methods.push(AuthMethod::ApiKey);
    }
    if !auth.jwt.is_empty() {
        methods.push(AuthMethod::Jwt);
    }
    if !auth.introspection.is_empty() {
        methods.push(AuthMethod::OAuth);
    }
    if auth.mutual_tls.is_some() {
        methods.push(AuthMethod::MutualTls);
    }
    methods
}

/// Compile the policy and check who can reach the tools that may write.
pub fn check(loaded: &LoadedConfig, index: &TomlIndex, tools: &[Tool]) -> Vec<Finding> {
    let specs: Vec<ToolSpec> = tools.iter().map(|t| t.spec.clone()).collect();
    let policy = match AuthzParts::from_config(loaded).compile(&specs) {
        Ok(policy) => policy,
        Err(error) => {
            return vec![Finding::new(
                "authz-invalid",
                Severity::High,
                format!(
                    "the authorization settings do not compile ({error:#}): `serve` refuses \
                     this config, and the authorization checks did not run"
                ),
                Some(index.at("authz")),
                "fix the setting or policy named (`mcpgate check` says the same), then run \
                 doctor again",
            )];
        }
    };
    let mut findings = write_with_read_scope(&policy, loaded, tools);
    findings.extend(write_by_api_key(&policy, loaded, index, tools));
    findings
}

/// A may-write tool some read-only caller can call.
fn write_with_read_scope(policy: &Policy, loaded: &LoadedConfig, tools: &[Tool]) -> Vec<Finding> {
    let read_scopes: Vec<String> = policy
        .all_scopes()
        .into_iter()
        .filter(|s| is_read_scope(s))
        .collect();
    let methods = configured_methods(&loaded.config);
    let mut findings = Vec::new();
    for tool in tools {
        if policy.is_read_only(&tool.spec.name) != Some(false) {
            continue;
        }
        let reader = methods.iter().find_map(|&method| {
            let mut identity = Identity::new("doctor-read-only-caller", method);
            identity.scopes = read_scopes.iter().cloned().collect();
            policy
                .decide(&AuthzRequest::listing(&identity, &tool.spec))
                .is_allowed()
                .then_some(identity)
        });
        let Some(reader) = reader else {
            continue;
        };
        let requirement = policy
            .explain(&AuthzRequest::listing(&reader, &tool.spec))
            .steps
            .iter()
            .find_map(|step| step.strip_prefix("the tool requires ").map(str::to_owned))
            .unwrap_or_else(|| "no scope".to_owned());
        let held = if read_scopes.is_empty() {
            "no scope at all".to_owned()
        } else {
            format!("only read scopes ({})", read_scopes.join(", "))
        };
        findings.push(Finding::new(
            "write-with-read-scope",
            Severity::High,
            format!(
                "`{}` ({}) may write, yet a caller holding {held} can call it: it requires {requirement}",
                tool.spec.name, tool.operation
            ),
            Some(tool.location.clone()),
            format!(
                "require a write scope for it: in the spec's `security`, or with an \
                 [[authz.tools]] rule such as `methods = [\"POST\", \"PUT\", \"PATCH\", \
                 \"DELETE\"]`, `scopes = [\"write:{{backend}}\"]`; or keep read-only mode on for \
                 backend `{}`",
                tool.spec.backend
            ),
        ));
    }
    findings
}

/// May-write tools an API key can call, per backend.
fn write_by_api_key(
    policy: &Policy,
    loaded: &LoadedConfig,
    index: &TomlIndex,
    tools: &[Tool],
) -> Vec<Finding> {
    if loaded.config.auth.api_keys.is_none() {
        return Vec::new();
    }
    // A key holding every scope and role: if it cannot call a tool, no key can.
    let mut key = Identity::new("doctor-api-key", AuthMethod::ApiKey);
    key.scopes = policy.all_scopes().into_iter().collect();
    key.roles = loaded.config.authz.roles.keys().cloned().collect();
    let mut by_backend: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for tool in tools {
        if policy.is_read_only(&tool.spec.name) == Some(false)
            && policy
                .decide(&AuthzRequest::listing(&key, &tool.spec))
                .is_allowed()
        {
            by_backend
                .entry(tool.spec.backend.as_str())
                .or_default()
                .push(tool.spec.name.as_str());
        }
    }
    let others: Vec<&str> = configured_methods(&loaded.config)
        .into_iter()
        .filter(|m| *m != AuthMethod::ApiKey)
        .map(AuthMethod::as_str)
        .collect();
    by_backend
        .into_iter()
        .map(|(backend, names)| {
            let fix = if others.is_empty() {
                format!(
                    "API keys are long-lived shared secrets; for writes prefer tokens from an \
                     identity provider or mutual TLS: configure one, then set \
                     `backends.{backend}.accepted_auth.write` to it, or keep read-only mode on \
                     for the backend"
                )
            } else {
                format!(
                    "set `backends.{backend}.accepted_auth.write = [\"{}\"]`, or add a Cedar \
                     policy forbidding writes by API key (docs/AUTHORIZATION.md, \
                     `no-api-key-writes`)",
                    others.join("\", \"")
                )
            };
            Finding::new(
                "write-by-api-key",
                Severity::Medium,
                format!(
                    "an API key with the right scopes can call {} tool(s) of backend \
                     `{backend}` that may write: {}; neither accepted_auth.write nor a policy \
                     excludes API keys",
                    names.len(),
                    names.join(", ")
                ),
                Some(index.at(&format!("backends.{backend}"))),
                fix,
            )
        })
        .collect()
}

/// Wildcard or administrative scopes granted to whole groups of callers:
/// roles held by identity-provider groups, and `auth.mutual_tls.scopes`
/// (every certificate the CA vouches for).
pub fn broad_grants(config: &Config, index: &TomlIndex) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (name, role) in &config.authz.roles {
        let broad: Vec<&str> = role
            .scopes
            .iter()
            .filter(|s| is_broad_scope(s))
            .map(String::as_str)
            .collect();
        if broad.is_empty() || role.groups.is_empty() || role.read_only {
            continue;
        }
        findings.push(Finding::new(
            "broad-scope-grant",
            Severity::Medium,
            format!(
                "role `{name}` grants {} to everyone in group(s) {}",
                broad.join(", "),
                role.groups.join(", ")
            ),
            Some(index.at(&format!("authz.roles.{name}"))),
            "grant narrow scopes per backend and action (`orders:write`), give administrative \
             scopes to named subjects rather than groups, or set `read_only = true` on the role",
        ));
    }
    if let Some(mtls) = &config.auth.mutual_tls {
        let broad: Vec<&str> = mtls
            .scopes
            .iter()
            .filter(|s| is_broad_scope(s))
            .map(String::as_str)
            .collect();
        if !broad.is_empty() {
            findings.push(Finding::new(
                "broad-scope-grant",
                Severity::Medium,
                format!(
                    "auth.mutual_tls.scopes grants {} to every client certificate the CA vouches for",
                    broad.join(", ")
                ),
                Some(index.at("auth.mutual_tls.scopes")),
                "grant certificates narrow scopes, and give more to particular certificate \
                 subjects through `authz.roles.NAME.subjects`",
            ));
        }
    }
    findings
}

/// Roles whose scopes include a broad one (for keys that carry them).
pub fn broad_roles(config: &Config) -> Vec<String> {
    config
        .authz
        .roles
        .iter()
        .filter(|(_, role)| !role.read_only && role.scopes.iter().any(|s| is_broad_scope(s)))
        .map(|(name, _)| name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broad_scopes_for_every_certificate_or_a_group_are_reported() {
        let text = "[server.tls]\ncert = \"c.pem\"\nkey = \"file:k.pem\"\nclient_ca = \"ca.pem\"\n\n\
                    [auth.mutual_tls]\nscopes = [\"read\", \"shop:admin\"]\n\n\
                    [authz.roles.ops]\nscopes = [\"*\"]\nsubjects = [\"CN=deploy\"]\n\n\
                    [authz.roles.readers]\nscopes = [\"admin\"]\ngroups = [\"all\"]\nread_only = true\n";
        let config = crate::config::parse(text, "m.toml").unwrap();
        let index = TomlIndex::parse(text, "m.toml");
        let findings = broad_grants(&config, &index);
        // Subjects are named on purpose, and a read-only role cannot write.
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].location.as_deref(), Some("m.toml:7"));
        assert!(findings[0].message.contains("shop:admin"));
        assert_eq!(broad_roles(&config), ["ops"]);
    }

    #[test]
    fn broad_and_read_scopes() {
        for broad in [
            "*",
            "admin",
            "inventory:admin",
            "admin:*",
            "write:*",
            "all",
            "Root",
        ] {
            assert!(is_broad_scope(broad), "{broad}");
        }
        for narrow in [
            "read",
            "read:*",
            "orders:write",
            "administer_nothing",
            "thread:list",
            "allow",
        ] {
            assert!(!is_broad_scope(narrow), "{narrow}");
        }
        for read in [
            "read",
            "orders:read",
            "read:orders",
            "read_only",
            "read:*",
            "*:read",
        ] {
            assert!(is_read_scope(read), "{read}");
        }
        for not_read in [
            "write",
            "read:admin",
            "readwrite",
            "read:write",
            "thread",
            "orders",
        ] {
            assert!(!is_read_scope(not_read), "{not_read}");
        }
    }
}
