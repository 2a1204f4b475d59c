//! Checks of the loaded config on its own: exposure (authentication, TLS),
//! token handling and the audit log's durability.

use std::time::Duration;

use url::Url;

use super::finding::Finding;
use crate::cli::Severity;
use crate::config::LoadedConfig;
use crate::config::locate::TomlIndex;

/// Above this, clock leeway is no longer about clocks.
const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Directories whose contents do not survive a reboot (or are shared with
/// every user of the machine).
const VOLATILE_DIRS: &[&str] = &["/tmp/", "/dev/shm/", "/run/shm/"];

/// Every check of this module.
pub fn check(loaded: &LoadedConfig, index: &TomlIndex) -> Vec<Finding> {
    let mut findings = Vec::new();
    findings.extend(no_auth_public_bind(loaded, index));
    findings.extend(tls_off_public_url(loaded, index));
    findings.extend(jwt_long_leeway(loaded, index));
    findings.extend(audit(loaded, index));
    findings
}

/// Whether `url`'s host is this machine.
pub fn host_is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            name.eq_ignore_ascii_case("localhost")
                || name.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

fn no_auth_public_bind(loaded: &LoadedConfig, index: &TomlIndex) -> Option<Finding> {
    let server = &loaded.config.server;
    if !loaded.config.no_auth() || server.listen.ip().is_loopback() {
        return None;
    }
    Some(Finding::new(
        "no-auth-public-bind",
        Severity::Critical,
        format!(
            "server.listen is {} (not loopback) and no authentication is configured: `serve` \
             refuses to start, and with --insecure-no-auth anyone who can reach the address \
             can call every tool",
            server.listen
        ),
        Some(index.at("server.listen")),
        "configure authentication ([auth.api_keys], [[auth.jwt]], [[auth.introspection]] or \
         [auth.mutual_tls]; `mcpgate init` recommends one), or listen on 127.0.0.1",
    ))
}

fn tls_off_public_url(loaded: &LoadedConfig, index: &TomlIndex) -> Option<Finding> {
    let server = &loaded.config.server;
    let public_http = server
        .public_url
        .as_ref()
        .filter(|url| url.scheme() == "http" && !host_is_loopback(url));
    let public_https = server
        .public_url
        .as_ref()
        .is_some_and(|url| url.scheme() == "https");
    let plain_listen = server.tls.is_none() && !server.listen.ip().is_loopback() && !public_https;
    let (what, key) = if let Some(url) = public_http {
        (
            format!("server.public_url `{url}` is plain http on a host other than this machine"),
            "server.public_url",
        )
    } else if plain_listen {
        (
            format!(
                "server.listen {} is reachable from the network without [server.tls], and no \
                 https server.public_url says a TLS proxy is in front",
                server.listen
            ),
            "server.listen",
        )
    } else {
        return None;
    };
    Some(Finding::new(
        "tls-off-public-url",
        Severity::High,
        format!(
            "{what}: credentials (API keys, access tokens) and tool results cross the network in \
             clear text"
        ),
        Some(index.at(key)),
        "serve HTTPS with [server.tls] cert/key, or terminate TLS at a proxy and set \
         server.public_url to its https:// URL",
    ))
}

fn jwt_long_leeway(loaded: &LoadedConfig, index: &TomlIndex) -> Vec<Finding> {
    loaded
        .config
        .auth
        .jwt
        .iter()
        .enumerate()
        .filter(|(_, issuer)| issuer.leeway > MAX_LEEWAY)
        .map(|(i, issuer)| {
            Finding::new(
                "jwt-long-leeway",
                Severity::Medium,
                format!(
                    "auth.jwt issuer {} accepts tokens up to {}s after they expire (leeway); \
                     the lifetime of its access tokens is set at the identity provider, which \
                     the config cannot show, but this extends every one of them",
                    issuer.issuer,
                    issuer.leeway.as_secs()
                ),
                Some(index.at(&format!("auth.jwt[{i}].leeway"))),
                "set leeway to what clock skew needs (the default 30s, at most a few minutes), \
                 and keep access tokens short-lived (minutes to an hour) at the identity provider",
            )
        })
        .collect()
}

fn audit(loaded: &LoadedConfig, index: &TomlIndex) -> Vec<Finding> {
    let audit = &loaded.config.audit;
    let mut findings = Vec::new();
    if !audit.fail_closed {
        findings.push(Finding::new(
            "audit-not-fail-closed",
            Severity::Medium,
            "audit.fail_closed = false: when the audit log cannot be written, calls still run \
             and leave no record",
            Some(index.at("audit.fail_closed")),
            "remove `fail_closed = false` (the default is true) unless availability matters \
             more than a complete record of every call",
        ));
    }
    // A store URL that cannot be resolved here (an unset env:) is not judged.
    if let Ok(url) = loaded.store_url()
        && let Some(path) = url.strip_prefix("sqlite:")
    {
        let path = path.trim_start_matches("//");
        let path = path.split('?').next().unwrap_or(path);
        let in_memory = path == ":memory:" || url.contains("mode=memory");
        if in_memory || VOLATILE_DIRS.iter().any(|dir| path.starts_with(dir)) {
            findings.push(Finding::new(
                "audit-store-volatile",
                Severity::Medium,
                format!(
                    "the audit log (and API keys) are kept in {}, which does not survive a \
                     reboot or is shared with every user of the machine",
                    if in_memory { "memory" } else { path }
                ),
                Some(index.at("store.url")),
                "put the store on persistent storage the gateway's user alone can write \
                 (`url = \"sqlite:/var/lib/mcpgate/mcpgate.db\"`), or use PostgreSQL",
            ));
        }
    }
    if audit.signing_key.is_none() {
        findings.push(Finding::new(
            "audit-no-signing-key",
            Severity::Low,
            "audit.signing_key is not set: the hash chain shows edited records, but records cut \
             off the end of the log, or a rewritten chain, go unnoticed",
            Some(index.at("audit")),
            "run `mcpgate audit keygen`, store the key as a secret and set \
             `signing_key = \"env:MCPGATE_AUDIT_KEY\"` in [audit]",
        ));
    }
    findings
}
