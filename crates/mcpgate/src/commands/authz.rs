//! `mcpgate authz`: ask the authorization policy questions.

use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::{Context, bail};
use mcpgate_authz::Policy;
use mcpgate_core::{AuthMethod, AuthzRequest, Decision, Identity, ToolSpec};
use serde_json::{Map, Value};

use crate::assemble::{self, AuthzParts};
use crate::cli::{AuthzArgs, AuthzCommand, CallerArgs};
use crate::config::{self, LoadedConfig};
use crate::outln;

/// Exit status of `explain` when the call would be refused.
const DENIED: u8 = 3;

pub async fn run(args: AuthzArgs) -> anyhow::Result<ExitCode> {
    if let AuthzCommand::Schema = args.command {
        outln!("{}", mcpgate_authz::SCHEMA.trim());
        return Ok(ExitCode::SUCCESS);
    }
    let loaded = config::load(&args.config)?;
    let tools = assemble::tools_of(&loaded).await?;
    let policy = AuthzParts::from_config(&loaded)
        .compile(&tools)
        .with_context(|| loaded.path.display().to_string())?;
    for warning in policy.warnings() {
        eprintln!("warning: {warning}");
    }
    match args.command {
        AuthzCommand::Schema => unreachable!("answered above"),
        AuthzCommand::Explain {
            caller,
            tool,
            args,
            time,
            source,
        } => {
            let identity = resolve(&loaded, &caller).await?;
            let arguments: Map<String, Value> = serde_json::from_str(&args)
                .context("--args must be a JSON object, e.g. '{\"id\": 7}'")?;
            let time = match time {
                Some(text) => mcpgate_core::parse_rfc3339(&text).with_context(|| {
                    format!("--time `{text}` is not an RFC 3339 time, e.g. 2026-11-23T10:00:00Z")
                })?,
                None => SystemTime::now(),
            };
            let unknown;
            let spec = match tools.iter().find(|t| t.name == tool) {
                Some(spec) => spec,
                None => {
                    unknown = unknown_tool(&tool);
                    &unknown
                }
            };
            let explanation = policy.explain(&AuthzRequest {
                identity: &identity,
                tool: spec,
                arguments: Some(&arguments),
                source,
                time,
            });
            outln!("{}", verdict(&explanation.decision));
            for (number, step) in explanation.steps.iter().enumerate() {
                let mut lines = step.lines();
                outln!("  {:>2}. {}", number + 1, lines.next().unwrap_or_default());
                for line in lines {
                    outln!("        {line}");
                }
            }
            let limits = policy.rate_limits_for(&tool);
            if explanation.decision.is_allowed() && !limits.is_empty() {
                outln!("  and, when called, counted against: {}", limits.join("; "));
            }
            Ok(if explanation.decision.is_allowed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(DENIED)
            })
        }
        AuthzCommand::List { caller, denied } => {
            let identity = resolve(&loaded, &caller).await?;
            list(&policy, &identity, &tools, denied)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(
    policy: &Policy,
    identity: &Identity,
    tools: &[ToolSpec],
    denied: bool,
) -> anyhow::Result<()> {
    use mcpgate_core::Authorizer;
    let mut allowed = 0;
    let mut refused = Vec::new();
    for tool in tools {
        match policy.decide(&AuthzRequest::listing(identity, tool)) {
            Decision::Allow => {
                allowed += 1;
                outln!(
                    "{:<40} {:<12} {}",
                    tool.name,
                    tool.backend,
                    if tool.is_known_read_only() {
                        "read-only"
                    } else {
                        "may write"
                    }
                );
            }
            Decision::Deny { reason, .. } => refused.push((tool, reason)),
        }
    }
    outln!(
        "\n{} may call {allowed} of {} tool(s).",
        identity.subject,
        tools.len()
    );
    if denied && !refused.is_empty() {
        outln!("\nRefused:");
        for (tool, reason) in refused {
            outln!("{:<40} {reason}", tool.name);
        }
    }
    Ok(())
}

fn verdict(decision: &Decision) -> String {
    match decision {
        Decision::Allow => "ALLOWED".to_owned(),
        Decision::Deny {
            reason,
            missing_scopes,
        } if !missing_scopes.is_empty() => {
            format!("DENIED: {reason} (missing {})", missing_scopes.join(", "))
        }
        Decision::Deny { reason, .. } => format!("DENIED: {reason}"),
    }
}

/// The identity `--as` names.
async fn resolve(loaded: &LoadedConfig, caller: &CallerArgs) -> anyhow::Result<Identity> {
    let who = caller.who.trim();
    let mut identity = if who.starts_with("key_") && !who.contains('.') {
        key_identity(loaded, who).await?
    } else if who.starts_with("mcpg_") || who.split('.').count() == 3 {
        credential_identity(loaded, who).await?
    } else {
        let method = match caller.auth_method.as_str() {
            "none" => AuthMethod::None,
            "api_key" => AuthMethod::ApiKey,
            "jwt" => AuthMethod::Jwt,
            "oauth" => AuthMethod::OAuth,
            "mutual_tls" => AuthMethod::MutualTls,
            other => {
                bail!("--auth-method `{other}` is not one of none, api_key, jwt, oauth, mutual_tls")
            }
        };
        Identity::new(who, method)
    };
    identity.scopes.extend(caller.scopes.iter().cloned());
    identity.roles.extend(caller.roles.iter().cloned());
    identity.groups.extend(caller.groups.iter().cloned());
    for claim in &caller.claims {
        let (name, value) = claim
            .split_once('=')
            .with_context(|| format!("--claim `{claim}` must be NAME=VALUE, e.g. team=blue"))?;
        identity
            .claims
            .insert(name.to_owned(), Value::String(value.to_owned()));
    }
    Ok(identity)
}

/// An API key's identity, from the store (without its secret).
async fn key_identity(loaded: &LoadedConfig, id: &str) -> anyhow::Result<Identity> {
    let url = loaded.store_url().context("store.url")?;
    let store = mcpgate_store::open(&url)
        .await
        .context("cannot open the store to look the key up")?;
    let Some(record) = store.api_key(id).await? else {
        bail!("there is no API key {id} in the store (see `mcpgate keys list`)");
    };
    if let Some(revoked) = &record.revoked_at {
        eprintln!(
            "note: {id} was revoked at {revoked}; the gateway refuses it before authorization"
        );
    }
    if let Some(expires) = &record.expires_at
        && mcpgate_core::parse_rfc3339(expires).is_some_and(|t| t <= SystemTime::now())
    {
        eprintln!("note: {id} expired at {expires}; the gateway refuses it before authorization");
    }
    let mut identity = Identity::new(record.id.clone(), AuthMethod::ApiKey);
    identity.client_id = Some(record.name);
    identity.credential_id = Some(record.id);
    identity.scopes = record.scopes.into_iter().collect();
    identity.roles = record.roles.into_iter().collect();
    Ok(identity)
}

/// The identity a credential authenticates as, checked by the configured
/// strategies exactly as a request's would be.
async fn credential_identity(loaded: &LoadedConfig, credential: &str) -> anyhow::Result<Identity> {
    let url = loaded.store_url().context("store.url")?;
    let store = mcpgate_store::open(&url)
        .await
        .context("cannot open the store")?;
    let resource = assemble::public_url(&loaded.config.server)?;
    let own_tokens = crate::oauth_setup::verifier(loaded, &resource)?
        .map(|v| v as std::sync::Arc<dyn mcpgate_auth::BearerVerifier>);
    let authenticator =
        crate::auth_setup::authenticator(loaded, store, resource.as_str(), own_tokens).await?;
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {credential}"))
            .context("the credential holds characters a header cannot")?,
    );
    authenticator
        .authenticate(mcpgate_auth::RequestFacts {
            headers: &headers,
            peer: None,
            client_certificate: None,
        })
        .await
        .map_err(|e| anyhow::anyhow!("the credential is refused by authentication: {e}"))
}

/// A stand-in for a tool the catalog does not have, so that the explanation
/// says so.
fn unknown_tool(name: &str) -> ToolSpec {
    ToolSpec {
        name: name.to_owned(),
        title: None,
        description: None,
        input_schema: Map::new(),
        annotations: Default::default(),
        security: Vec::new(),
        backend: "(none)".to_owned(),
        accepted_auth: None,
        http_method: None,
        tags: Vec::new(),
    }
}
