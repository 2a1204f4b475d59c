//! API keys in the store: expiry, age, environments and breadth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, SystemTime};

use mcpgate_core::parse_rfc3339;
use mcpgate_store::ApiKeyRecord;

use super::authz::is_broad_scope;
use super::finding::Finding;
use crate::audit_setup::describe_store;
use crate::cli::Severity;
use crate::config::LoadedConfig;

/// Check the keys of the config's store. `broad_roles` are the roles that
/// grant a broad scope.
pub async fn check(
    loaded: &LoadedConfig,
    rotation_period: Duration,
    broad_roles: &[String],
) -> Vec<Finding> {
    // Keys in a store no gateway reads them from cannot be used.
    if loaded.config.auth.api_keys.is_none() {
        return Vec::new();
    }
    let keys = match read_keys(loaded).await {
        Ok(Some(keys)) => keys,
        Ok(None) => return Vec::new(),
        Err(why) => {
            return vec![Finding::new(
                "keys-not-checked",
                Severity::Info,
                format!("the API keys were not checked: {why}"),
                Some(loaded.path.display().to_string()),
                "run doctor where the store is reachable (with its env: or file: secrets set)",
            )];
        }
    };
    let now = SystemTime::now();
    let active: Vec<&ApiKeyRecord> = keys
        .iter()
        .filter(|key| key.revoked_at.is_none())
        .filter(|key| {
            key.expires_at
                .as_deref()
                .and_then(parse_rfc3339)
                .is_none_or(|expiry| expiry > now)
        })
        .collect();
    let mut findings = Vec::new();
    for key in &active {
        let location = Some(format!("store: {} ({})", key.id, key.name));
        if key.expires_at.is_none() {
            findings.push(Finding::new(
                "key-no-expiry",
                Severity::Medium,
                format!(
                    "API key {} ({}) never expires: if it leaks it works until someone notices",
                    key.id, key.name
                ),
                location.clone(),
                format!(
                    "create a replacement that expires (`mcpgate keys create --name {} --expires \
                     90d` with the same scopes), hand it over, then `mcpgate keys revoke {}` \
                     (a rotation would keep the missing expiry)",
                    key.name, key.id
                ),
            ));
        }
        let age = parse_rfc3339(&key.created_at).and_then(|t| now.duration_since(t).ok());
        if let Some(age) = age
            && age > rotation_period
        {
            findings.push(Finding::new(
                "key-rotation-overdue",
                Severity::Medium,
                format!(
                    "API key {} ({}) was created {} days ago, longer than the rotation period \
                     ({} days)",
                    key.id,
                    key.name,
                    age.as_secs() / 86_400,
                    rotation_period.as_secs() / 86_400
                ),
                location.clone(),
                format!(
                    "`mcpgate keys rotate {} --overlap 24h`, give the new key to its user, and \
                     let the old one lapse",
                    key.id
                ),
            ));
        }
        let broad: Vec<&str> = key
            .scopes
            .iter()
            .filter(|s| is_broad_scope(s))
            .chain(key.roles.iter().filter(|r| broad_roles.contains(r)))
            .map(String::as_str)
            .collect();
        if !broad.is_empty() {
            findings.push(Finding::new(
                "broad-scope-key",
                Severity::Medium,
                format!(
                    "API key {} ({}) holds broad scopes or roles: {}",
                    key.id,
                    key.name,
                    broad.join(", ")
                ),
                location,
                "create a key with only the scopes its user needs (`--scopes orders:read`), \
                 then revoke this one",
            ));
        }
    }
    let mut by_name: BTreeMap<&str, Vec<&ApiKeyRecord>> = BTreeMap::new();
    for key in &active {
        by_name.entry(key.name.as_str()).or_default().push(key);
    }
    for (name, keys) in by_name {
        let environments: BTreeSet<&str> = keys.iter().map(|k| k.environment.as_str()).collect();
        if environments.len() < 2 {
            continue;
        }
        let listed: Vec<String> = keys
            .iter()
            .map(|k| format!("{} ({})", k.id, k.environment))
            .collect();
        findings.push(Finding::new(
            "key-multi-environment",
            Severity::Low,
            format!(
                "`{name}` has keys for several environments ({}) in one store: whoever holds \
                 one likely holds the others, so a leak from staging reaches production",
                environments.into_iter().collect::<Vec<_>>().join(", ")
            ),
            Some(format!("store: {}", listed.join(", "))),
            "give each environment its own store and its own client names, and keep \
             production keys away from machines that only need staging",
        ));
    }
    findings
}

/// The store's keys; `None` when a SQLite store does not exist yet (no key
/// was ever created, and opening it would create it).
async fn read_keys(loaded: &LoadedConfig) -> Result<Option<Vec<ApiKeyRecord>>, String> {
    let url = loaded.store_url().map_err(|e| format!("store.url: {e}"))?;
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        if !Path::new(path).exists() {
            return Ok(None);
        }
    }
    let store = mcpgate_store::open(&url)
        .await
        .map_err(|e| format!("cannot open the store {}: {e}", describe_store(&url)))?;
    store
        .api_keys()
        .await
        .map(Some)
        .map_err(|e| format!("cannot read the keys: {e}"))
}
