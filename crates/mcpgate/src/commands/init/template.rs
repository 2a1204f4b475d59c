//! The commented `mcpgate.toml` for a recommendation.
//!
//! Only settings that exist are written: every profile's output is parsed
//! with the real config loader in the tests below. Secrets appear only as
//! `env:`/`file:` references.

use std::fmt::Write as _;
use std::net::SocketAddr;

use url::Url;

use super::answers::{Runs, Users};
use super::spec::{Scopes, SpecSummary};
use super::strategy::{FEDERATION_NOT_BUILT, Recommendation, Strategy};

/// The environment variable holding the API-key pepper.
pub const PEPPER_ENV: &str = "MCPGATE_KEY_PEPPER";

/// Where the mutual-TLS profile expects its files, relative to the config.
pub const TLS_CERT: &str = "tls/server.pem";
/// The server's private key (read through `file:`).
pub const TLS_KEY: &str = "tls/server.key";
/// The CA that issues client certificates.
pub const TLS_CLIENT_CA: &str = "tls/client-ca.pem";

/// Everything the config is written from.
#[derive(Debug)]
pub struct Plan<'a> {
    /// What was recommended.
    pub recommendation: &'a Recommendation,
    /// Where the gateway runs.
    pub runs: Runs,
    /// Who calls it.
    pub users: Users,
    /// The identity provider's issuer, for the token profiles.
    pub idp: Option<&'a Url>,
    /// `server.listen`.
    pub listen: SocketAddr,
    /// `server.public_url`, when known.
    pub public_url: Option<&'a Url>,
    /// `auth.api_keys.environment`.
    pub environment: &'a str,
    /// The backend's name.
    pub backend: &'a str,
    /// `backends.NAME.spec`, as written (relative to the config, or a URL);
    /// `None` when no spec was given.
    pub spec_location: Option<&'a str>,
    /// `backends.NAME.base_url`, when known.
    pub base_url: Option<&'a str>,
    /// What the spec says, when one was given.
    pub spec: Option<&'a SpecSummary>,
}

impl Plan<'_> {
    fn strategy(&self) -> Strategy {
        self.recommendation.strategy
    }

    /// The scopes read-only callers get.
    pub fn read_scopes(&self) -> Vec<String> {
        match self.spec {
            Some(spec) => spec.scopes.read_scopes(self.backend),
            None => vec![format!("read:{}", self.backend)],
        }
    }
}

/// A TOML basic string.
fn q(text: &str) -> String {
    toml::Value::from(text).to_string()
}

/// A TOML array of strings.
fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

/// Text wrapped as `# ` comment lines of at most ~90 characters.
fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + word.len() + 1 > 90 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// The config text.
pub fn render(plan: &Plan<'_>) -> String {
    let mut out = String::new();
    header(&mut out, plan);
    server(&mut out, plan);
    auth(&mut out, plan);
    authz(&mut out, plan);
    store_and_audit(&mut out, plan);
    backend(&mut out, plan);
    out
}

fn header(out: &mut String, plan: &Plan<'_>) {
    let recommendation = plan.recommendation;
    let _ = writeln!(
        out,
        "# mcpgate.toml, written by `mcpgate init` for: {}.",
        plan.strategy().title()
    );
    out.push_str("#\n");
    comment(out, &format!("Why: {}", recommendation.reason));
    for note in &recommendation.notes {
        comment(out, &format!("Note: {note}"));
    }
    out.push_str(
        "#\n# Check it with `mcpgate check --config FILE`. Every key is explained in README.md\n\
         # (Configuration), docs/AUTHORIZATION.md and docs/CHOOSING-A-STRATEGY.md.\n\
         # Secrets are never written here: `env:NAME` reads an environment variable,\n\
         # `file:PATH` a file.\n\n",
    );
}

fn server(out: &mut String, plan: &Plan<'_>) {
    out.push_str("[server]\n");
    match plan.strategy() {
        Strategy::Stdio => comment(
            out,
            "Loopback only: there is no [auth] section, so `mcpgate serve` refuses any other \
             address. A desktop client starts `mcpgate serve --stdio` instead, which needs no \
             listener at all.",
        ),
        _ if plan.listen.ip().is_loopback() => comment(
            out,
            "Loopback: only clients on this machine can connect, and they must authenticate.",
        ),
        Strategy::MutualTls => comment(
            out,
            "All interfaces, HTTPS only: a client must present a certificate from your CA.",
        ),
        _ => comment(
            out,
            "All interfaces: callers must authenticate (below). Serve HTTPS, here with \
             [server.tls] or at a reverse proxy in front, so that credentials never cross the \
             network in clear text.",
        ),
    }
    let _ = writeln!(out, "listen = {}", q(&plan.listen.to_string()));
    if plan.strategy() != Strategy::Stdio {
        let token_audience = matches!(plan.strategy(), Strategy::Jwt | Strategy::OAuth);
        comment(
            out,
            if token_audience {
                "The URL clients use for the MCP endpoint. Access tokens must be issued for \
                 exactly this URL (their audience), and clients find the identity provider \
                 through it."
            } else {
                "The URL clients use for the MCP endpoint, when it differs from the listen \
                 address (behind a proxy)."
            },
        );
        match plan.public_url {
            Some(url) => {
                let _ = writeln!(out, "public_url = {}", q(url.as_str()));
            }
            None => out.push_str("# public_url = \"https://mcp.example.com/mcp\"\n"),
        }
    }
    out.push('\n');
    match plan.strategy() {
        Strategy::MutualTls => {
            out.push_str("[server.tls]\n");
            comment(
                out,
                "The server's certificate chain (PEM, leaf first) and its private key; paths \
                 are relative to this file.",
            );
            let _ = writeln!(out, "cert = {}", q(TLS_CERT));
            let _ = writeln!(out, "key = {}", q(&format!("file:{TLS_KEY}")));
            comment(
                out,
                "The CA that issues your clients' certificates. Without a valid one a client \
                 is refused in the TLS handshake, before any request is read.",
            );
            let _ = writeln!(out, "client_ca = {}", q(TLS_CLIENT_CA));
            out.push_str("client_certificates = \"required\"\n");
            comment(out, "Revocation lists (PEM) published by that CA:");
            out.push_str("# crls = [\"tls/client-ca.crl\"]\n\n");
        }
        Strategy::Stdio => {}
        _ if plan.runs == Runs::Remote => {
            comment(out, "HTTPS without a proxy:");
            out.push_str(
                "# [server.tls]\n# cert = \"tls/server.pem\"\n# key = \"file:tls/server.key\"\n\n",
            );
        }
        _ => {}
    }
}

fn auth(out: &mut String, plan: &Plan<'_>) {
    match plan.strategy() {
        Strategy::Stdio => {
            comment(
                out,
                "No [auth] section: the caller is the local user, who needs no scopes (read-only \
                 mode still applies). Moving to a server? Run `mcpgate init --runs remote`.",
            );
            out.push('\n');
        }
        Strategy::ApiKeys => {
            out.push_str("[auth.api_keys]\n");
            comment(
                out,
                "Keys are minted for one environment (`mcpg_ENV_...`); a key for another is \
                 refused.",
            );
            let _ = writeln!(out, "environment = {}", q(plan.environment));
            comment(
                out,
                &format!(
                    "The server secret keys are hashed with: at least 32 random bytes, the same \
                     on every instance and for `mcpgate keys`. Losing it invalidates every key. \
                     Create it with `export {PEPPER_ENV}=$(head -c 32 /dev/urandom | base64)` \
                     and keep it in your secret manager."
                ),
            );
            let _ = writeln!(out, "pepper = {}\n", q(&format!("env:{PEPPER_ENV}")));
        }
        Strategy::MutualTls => {
            out.push_str("[auth.mutual_tls]\n");
            comment(
                out,
                "Every certificate the CA vouches for is a caller (its subject: the CN, else the \
                 first DNS name; the fingerprint is audited), holding these read-only scopes. \
                 Grant more to particular certificates with a role in [authz.roles].",
            );
            let _ = writeln!(out, "scopes = {}\n", list(&plan.read_scopes()));
        }
        Strategy::Jwt | Strategy::OAuth => {
            out.push_str("[[auth.jwt]]\n");
            if plan.strategy() == Strategy::OAuth {
                comment(
                    out,
                    "Your identity provider is the OAuth authorization server. MCP clients find \
                     it through this gateway's /.well-known/oauth-protected-resource (RFC 9728), \
                     sign the user in there and send the access token it issues. mcpgate accepts \
                     only tokens whose audience is this gateway (server.public_url), and answers \
                     a missing scope with 403 so that clients can ask for more (step-up).",
                );
                comment(out, FEDERATION_NOT_BUILT);
            } else {
                comment(
                    out,
                    "Your identity provider. Its signing keys are found by OpenID Connect \
                     discovery under the issuer and refetched when it rotates them; tokens must \
                     be issued for this gateway (audience: server.public_url).",
                );
            }
            let issuer = plan
                .idp
                .map(|u| u.as_str().trim_end_matches('/').to_owned())
                .unwrap_or_default();
            let _ = writeln!(out, "issuer = {}", q(&issuer));
            out.push_str("algorithms = [\"RS256\", \"ES256\"]\n");
            comment(
                out,
                "Scopes are read from the `scope`/`scp` claims. The claims holding the user's \
                 groups and roles, mapped to scopes by [authz.roles]:",
            );
            out.push_str("groups_claim = \"groups\"\n# roles_claim = \"roles\"\n\n");
        }
    }
}

fn authz(out: &mut String, plan: &Plan<'_>) {
    out.push_str("[authz]\n");
    comment(
        out,
        "Read-only mode: only tools known to be read-only (GET, HEAD, OPTIONS) are listed and \
         callable. Turn it off for one backend with backends.NAME.read_only = false, once \
         callers that may write hold write scopes.",
    );
    out.push_str("read_only = true\n");
    comment(
        out,
        "A tool for which neither a rule below nor its spec names scopes is refused.",
    );
    out.push_str("unscoped_tools = \"deny\"\n");
    let backend = plan.backend;
    let mut rules: Vec<(String, Option<Vec<String>>, &str)> = Vec::new();
    match plan.spec.map(|s| &s.scopes) {
        Some(Scopes::FromSpec {
            all,
            read,
            implies,
            open_read_tools,
            open_write_tools,
        }) => {
            comment(
                out,
                &format!(
                    "The spec's operations declare OAuth scopes, and tools require them: {}. \
                     Read-only tools need {}.",
                    all.join(", "),
                    if read.is_empty() {
                        "none of them".to_owned()
                    } else {
                        read.join(", ")
                    }
                ),
            );
            if !implies.is_empty() {
                comment(out, "Broader scopes imply narrower ones:");
                let pairs: Vec<String> = implies
                    .iter()
                    .map(|(k, v)| format!("{} = {}", q(k), list(v)))
                    .collect();
                let _ = writeln!(out, "scope_implies = {{ {} }}", pairs.join(", "));
            }
            if !open_read_tools.is_empty() {
                rules.push((
                    "These read-only tools need a credential but no scope in the spec: require \
                     one, so that a caller must be granted them."
                        .to_owned(),
                    Some(open_read_tools.clone()),
                    "read",
                ));
            }
            if !open_write_tools.is_empty() {
                rules.push((
                    "These tools may write and need a credential but no scope in the spec: \
                     require one."
                        .to_owned(),
                    Some(open_write_tools.clone()),
                    "write",
                ));
            }
        }
        Some(Scopes::Generated) | None => {
            comment(
                out,
                &if plan.spec.is_some() {
                    "The spec declares no OAuth scopes, so these rules give every tool one: \
                     `read:BACKEND` for read-only tools, `write:BACKEND` for the others."
                        .to_owned()
                } else {
                    "No spec was given, so these rules give every tool a scope: `read:BACKEND` \
                     for read-only tools, `write:BACKEND` for the others. They override scopes \
                     the spec declares: remove them to use those instead."
                        .to_owned()
                },
            );
            comment(out, "Write scopes imply read scopes:");
            out.push_str("scope_implies = { \"write:*\" = [\"read:*\"] }\n");
            rules.push((String::new(), None, "read"));
            rules.push((String::new(), None, "write"));
        }
    }
    out.push('\n');
    for (why, tools, kind) in rules {
        if !why.is_empty() {
            comment(out, &why);
        }
        out.push_str("[[authz.tools]]\n");
        if let Some(tools) = tools {
            let _ = writeln!(out, "tools = {}", list(&tools));
        }
        let _ = writeln!(out, "kind = \"{kind}\"");
        let _ = writeln!(out, "scopes = [\"{kind}:{{backend}}\"]\n");
    }
    let write_scope = match plan.spec.map(|s| &s.scopes) {
        Some(Scopes::FromSpec { all, read, .. }) => {
            let beyond_read: Vec<&String> = all.iter().filter(|s| !read.contains(s)).collect();
            beyond_read
                .iter()
                .find(|s| s.contains("write"))
                .or(beyond_read.first())
                .map(|s| s.to_string())
                .unwrap_or_else(|| format!("write:{backend}"))
        }
        _ => format!("write:{backend}"),
    };
    match plan.strategy() {
        Strategy::Jwt | Strategy::OAuth => {
            comment(
                out,
                "Scopes for members of identity-provider groups (the groups claim), e.g.:",
            );
            if plan.strategy() == Strategy::OAuth {
                comment(
                    out,
                    "Careful: a role's scopes add to the token's, beyond what the user granted \
                     the agent; map groups to roles only where that is what you mean.",
                );
            }
            let _ = writeln!(
                out,
                "# [authz.roles.editors]\n# scopes = [{}]\n# groups = [\"{backend}-editors\"]\n",
                q(&write_scope)
            );
        }
        Strategy::MutualTls => {
            comment(
                out,
                "More scopes for particular certificates (by subject: the certificate's CN), e.g.:",
            );
            let _ = writeln!(
                out,
                "# [authz.roles.deployer]\n# scopes = [{}]\n# subjects = [\"deploy-bot\"]\n",
                q(&write_scope)
            );
        }
        Strategy::ApiKeys | Strategy::Stdio => {}
    }
    if plan.strategy() != Strategy::Stdio {
        comment(
            out,
            "At most 600 calls a minute per caller: a looping agent is stopped, a busy one is not.",
        );
        out.push_str(
            "[[authz.rate_limits]]\nper = \"identity\"\nrequests = 600\nwindow = \"1m\"\n\n",
        );
    }
}

fn store_and_audit(out: &mut String, plan: &Plan<'_>) {
    comment(
        out,
        "The audit log (and API keys) live in the store: sqlite:mcpgate.db next to this file by \
         default. Several instances share PostgreSQL: url = \"env:DATABASE_URL\".",
    );
    out.push_str("# [store]\n# url = \"sqlite:mcpgate.db\"\n\n");
    comment(
        out,
        "Calls are refused while the audit log cannot be written (fail_closed, the default). \
         Signed checkpoints reveal records cut off the end: create a key with `mcpgate audit \
         keygen` and reference it.",
    );
    out.push_str("[audit]\nfail_closed = true\n");
    if plan.strategy() == Strategy::Stdio {
        out.push_str("# signing_key = \"env:MCPGATE_AUDIT_KEY\"\n\n");
    } else {
        out.push_str("# signing_key = \"env:MCPGATE_AUDIT_KEY\"\n# jsonl = \"audit.jsonl\"  # a copy to ship to your SIEM\n\n");
    }
}

fn backend(out: &mut String, plan: &Plan<'_>) {
    let _ = writeln!(out, "[backends.{}]", plan.backend);
    match plan.spec_location {
        Some(location) => {
            comment(
                out,
                "The OpenAPI spec (relative to this file, or an http(s) URL fetched at start).",
            );
            let _ = writeln!(out, "spec = {}", q(location));
        }
        None => {
            comment(
                out,
                "CHANGE THIS: your API's OpenAPI file (relative to this file), or an http(s) URL.",
            );
            out.push_str("spec = \"openapi.yaml\"\n");
        }
    }
    match plan.base_url {
        Some(url) => {
            comment(
                out,
                "Where calls go; the backend credential is sent only here.",
            );
            let _ = writeln!(out, "base_url = {}", q(url));
        }
        None => {
            comment(
                out,
                "Where calls go (the spec names no absolute server URL): set it.",
            );
            out.push_str("# base_url = \"https://api.example.com\"\n");
        }
    }
    match plan.spec.and_then(|s| s.credential.as_ref()) {
        Some(credential) => {
            comment(
                out,
                &format!(
                    "The backend's own credential (the spec's `{}` scheme), never a caller's: \
                     set {} to {}.",
                    credential.scheme, credential.env_var, credential.what
                ),
            );
            let _ = writeln!(out, "credential = {}", credential.toml);
        }
        None => {
            comment(out, "The backend's own credential, if it needs one, e.g.:");
            let _ = writeln!(
                out,
                "# credential = {{ kind = \"header\", name = \"X-API-Key\", value = \"env:{}\" }}",
                super::spec::env_var(plan.backend, "API_KEY")
            );
        }
    }
    out.push_str("timeout = \"30s\"\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::init::spec::summarize;

    fn recommendation(strategy: Strategy) -> Recommendation {
        Recommendation {
            strategy,
            rule: 1,
            reason: "Because \"quotes\" and\nnewlines must stay in comments.".to_owned(),
            notes: vec!["A note.".to_owned()],
        }
    }

    fn plan<'a>(
        recommendation: &'a Recommendation,
        spec: Option<&'a SpecSummary>,
        idp: Option<&'a Url>,
    ) -> Plan<'a> {
        let local = recommendation.strategy == Strategy::Stdio;
        Plan {
            recommendation,
            runs: if local { Runs::Local } else { Runs::Remote },
            users: Users::One,
            idp,
            listen: if local {
                "127.0.0.1:8080".parse().unwrap()
            } else {
                "0.0.0.0:8080".parse().unwrap()
            },
            public_url: None,
            environment: "prod",
            backend: "inventory",
            spec_location: spec.map(|_| "openapi.yaml"),
            base_url: spec.and_then(|s| s.server.as_deref()),
            spec,
        }
    }

    const ALL: [Strategy; 5] = [
        Strategy::Stdio,
        Strategy::ApiKeys,
        Strategy::MutualTls,
        Strategy::Jwt,
        Strategy::OAuth,
    ];

    #[test]
    fn every_profile_parses_with_the_real_loader() {
        let import = mcpgate_openapi::import_str(mcpgate_demo::OPENAPI_YAML, "inventory").unwrap();
        let demo = summarize(&import, "inventory");
        let idp = Url::parse("https://login.example.com/realms/acme").unwrap();
        for strategy in ALL {
            let recommendation = recommendation(strategy);
            for spec in [Some(&demo), None] {
                let text = render(&plan(&recommendation, spec, Some(&idp)));
                let config = crate::config::parse(&text, "generated")
                    .unwrap_or_else(|e| panic!("{strategy:?}: {e}\n{text}"));
                assert!(config.authz.read_only, "{strategy:?}");
                assert_eq!(
                    config.auth.is_none(),
                    strategy == Strategy::Stdio,
                    "{strategy:?}"
                );
                assert!(config.backends.contains_key("inventory"));
                assert_eq!(
                    config.auth.api_keys.is_some(),
                    strategy == Strategy::ApiKeys
                );
                assert_eq!(
                    config.auth.mutual_tls.is_some(),
                    strategy == Strategy::MutualTls
                );
                assert_eq!(
                    !config.auth.jwt.is_empty(),
                    matches!(strategy, Strategy::Jwt | Strategy::OAuth)
                );
                // Scopes: the spec's own, or rules for every tool.
                assert_eq!(
                    config.authz.tools.is_empty(),
                    spec.is_some(),
                    "{strategy:?}"
                );
            }
        }
    }

    #[test]
    fn secrets_are_only_referenced() {
        let import = mcpgate_openapi::import_str(mcpgate_demo::OPENAPI_YAML, "inventory").unwrap();
        let demo = summarize(&import, "inventory");
        for strategy in [Strategy::ApiKeys, Strategy::MutualTls] {
            let recommendation = recommendation(strategy);
            let text = render(&plan(&recommendation, Some(&demo), None));
            let config = crate::config::parse(&text, "generated").unwrap();
            if let Some(keys) = &config.auth.api_keys {
                assert_eq!(
                    keys.pepper,
                    crate::config::SecretRef::Env(PEPPER_ENV.into())
                );
            }
            if let Some(tls) = &config.server.tls {
                assert_eq!(tls.key, crate::config::SecretRef::File(TLS_KEY.into()));
            }
            let backend = &config.backends["inventory"];
            let Some(crate::config::CredentialConfig::Header { name, value }) = &backend.credential
            else {
                panic!("{text}");
            };
            assert_eq!(name, "X-Demo-Key");
            assert_eq!(
                value,
                &crate::config::SecretRef::Env("INVENTORY_API_KEY".into())
            );
        }
    }

    #[test]
    fn the_oauth_profile_says_what_is_not_built() {
        let recommendation = recommendation(Strategy::OAuth);
        let idp = Url::parse("https://login.example.com").unwrap();
        let text = render(&plan(&recommendation, None, Some(&idp)));
        let flat = text.replace("\n# ", " ");
        assert!(flat.contains("is planned, not built"), "{text}");
        assert!(
            text.contains("issuer = \"https://login.example.com\"\n"),
            "{text}"
        );
        let config = crate::config::parse(&text, "generated").unwrap();
        assert_eq!(config.auth.jwt[0].groups_claim.as_deref(), Some("groups"));
    }
}
