//! `mcpgate tokens …` and `mcpgate clients …`: the embedded authorization
//! server's grants and clients, read and revoked in the store. Running
//! gateways learn of revocations from the store's change feed.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use mcpgate_oauth::admin;
use mcpgate_store::{GrantSelector, Store};

use crate::audit_setup::describe_store;
use crate::cli::{ClientsArgs, ClientsCommand, TokensArgs, TokensCommand};
use crate::config;
use crate::outln;

async fn open_store(path: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    let loaded = config::load(path)?;
    let url = loaded.store_url().context("store.url")?;
    mcpgate_store::open(&url)
        .await
        .with_context(|| format!("cannot open the store {}", describe_store(&url)))
}

pub async fn tokens(args: TokensArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.config).await?;
    match args.command {
        TokensCommand::List { json, all } => {
            let now = mcpgate_core::format_rfc3339(std::time::SystemTime::now());
            let grants: Vec<_> = admin::grants(&*store)
                .await?
                .into_iter()
                .filter(|g| all || (g.revoked_at.is_none() && g.expires_at > now))
                .collect();
            if json {
                outln!("{}", serde_json::to_string_pretty(&grants)?);
                return Ok(ExitCode::SUCCESS);
            }
            if grants.is_empty() {
                outln!(
                    "No grants{}.",
                    if all {
                        ""
                    } else {
                        " in force (--all shows revoked and expired ones)"
                    }
                );
                return Ok(ExitCode::SUCCESS);
            }
            for g in grants {
                let status = match (&g.revoked_at, &g.revoked_reason) {
                    (Some(at), Some(why)) => format!("revoked {at} ({why})"),
                    (Some(at), None) => format!("revoked {at}"),
                    _ if g.expires_at <= now => format!("expired {}", g.expires_at),
                    _ => format!("active until {}", g.expires_at),
                };
                outln!(
                    "{}  user {}  client {}  scopes {}  {status}",
                    g.id,
                    g.subject,
                    g.client_id,
                    if g.scopes.is_empty() {
                        "-".to_owned()
                    } else {
                        g.scopes.join(",")
                    }
                );
            }
        }
        TokensCommand::Revoke {
            grant,
            user,
            client,
        } => {
            let (selector, what) = match (&grant, &user, &client) {
                (Some(id), _, _) => (GrantSelector::Id(id), format!("grant {id}")),
                (_, Some(user), _) => (
                    GrantSelector::Subject(user),
                    format!("the grants of user {user}"),
                ),
                (_, _, Some(client)) => (
                    GrantSelector::Client(client),
                    format!("the grants of client {client}"),
                ),
                _ => bail!("say what to revoke: --grant ID, --user SUBJECT or --client ID"),
            };
            let revoked = admin::revoke_grants(&*store, selector, "revoked by an operator").await?;
            if revoked.is_empty() {
                outln!("Nothing to revoke: {what} — none in force.");
            } else {
                outln!(
                    "Revoked {} grant(s) ({what}): {}. Every gateway instance on this store refuses their tokens within a second.",
                    revoked.len(),
                    revoked.join(", ")
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn clients(args: ClientsArgs) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.config).await?;
    match args.command {
        ClientsCommand::List { json } => {
            let clients = admin::clients(&*store).await?;
            if json {
                outln!("{}", serde_json::to_string_pretty(&clients)?);
                return Ok(ExitCode::SUCCESS);
            }
            if clients.is_empty() {
                outln!("No registered clients.");
            }
            for c in clients {
                let name = serde_json::from_str::<serde_json::Value>(&c.metadata)
                    .ok()
                    .and_then(|m| {
                        m.get("client_name")
                            .and_then(|n| n.as_str())
                            .map(str::to_owned)
                    })
                    .unwrap_or_else(|| "-".to_owned());
                let status = match &c.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => "active".to_owned(),
                };
                outln!(
                    "{}  {}  {name}  since {}  {status}",
                    c.client_id,
                    c.source,
                    c.created_at
                );
            }
        }
        ClientsCommand::Revoke { id } => {
            let grants = admin::revoke_client(&*store, &id).await?;
            outln!(
                "Revoked client {id}: it gets no more tokens; {} grant(s) ended. Every gateway instance on this store refuses their tokens within a second.",
                grants.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
