//! `mcpgate keys …`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Context, bail};
use mcpgate_auth::api_key::KeyTemplate;
use mcpgate_core::{format_rfc3339, parse_rfc3339};
use mcpgate_store::{ApiKeyRecord, Store};
use secrecy::{ExposeSecret, SecretSlice};

use crate::audit_setup::describe_store;
use crate::auth_setup::{api_keys_config, pepper};
use crate::cli::{KeysArgs, KeysCommand};
use crate::config::{self, LoadedConfig, parse_duration};
use crate::outln;

pub async fn run(args: KeysArgs) -> anyhow::Result<ExitCode> {
    let loaded = config::load(&args.config)?;
    let url = loaded.store_url().context("store.url")?;
    let store = mcpgate_store::open(&url)
        .await
        .with_context(|| format!("cannot open the store {}", describe_store(&url)))?;
    match args.command {
        KeysCommand::Create {
            name,
            scopes,
            roles,
            expires,
            env,
        } => {
            let pepper = pepper(&loaded, api_keys_config(&loaded)?)?;
            let environment = env.unwrap_or_else(|| {
                api_keys_config(&loaded)
                    .map(|k| k.environment.clone())
                    .unwrap_or_default()
            });
            let template = KeyTemplate {
                name,
                environment,
                scopes: clean_list(scopes)?,
                roles: clean_list(roles)?,
                lifetime: lifetime(expires.as_deref())?,
            };
            let (record, secret) = mint(&pepper, &template)?;
            store.insert_api_key(&record).await?;
            outln!(
                "Created {} ({}) for environment `{}`.",
                record.id,
                record.name,
                record.environment
            );
            outln!("  scopes:  {}", list_or_dash(&record.scopes));
            outln!("  roles:   {}", list_or_dash(&record.roles));
            outln!(
                "  expires: {}",
                record.expires_at.as_deref().unwrap_or("never")
            );
            outln!("\nThe key (shown only this once; store it in a secret manager now):\n{secret}");
        }
        KeysCommand::List { json } => list(&*store, &loaded, json).await?,
        KeysCommand::Revoke { id } => {
            let now = format_rfc3339(SystemTime::now());
            if store.revoke_api_key(&id, &now).await? {
                outln!(
                    "Revoked {id}. Every gateway instance on this store refuses it within a second."
                );
            } else {
                match store.api_key(&id).await? {
                    None => bail!("there is no key `{id}`; `mcpgate keys list` shows the ids"),
                    Some(key) => outln!(
                        "{id} was already revoked at {}.",
                        key.revoked_at.unwrap_or_default()
                    ),
                }
            }
        }
        KeysCommand::Rotate { id, overlap } => rotate(store, &loaded, &id, &overlap).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A new key from the command line's words.
fn mint(
    pepper: &SecretSlice<u8>,
    template: &KeyTemplate,
) -> anyhow::Result<(ApiKeyRecord, String)> {
    let (record, secret) = mcpgate_auth::api_key::mint(pepper.expose_secret(), template)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((record, secret.expose_secret().to_owned()))
}

/// `--expires 30d` → its duration.
fn lifetime(expires: Option<&str>) -> anyhow::Result<Option<std::time::Duration>> {
    expires
        .map(|text| {
            parse_duration(text)
                .map_err(anyhow::Error::msg)
                .context("--expires")
        })
        .transpose()
}

async fn rotate(
    store: Arc<dyn Store>,
    loaded: &LoadedConfig,
    id: &str,
    overlap: &str,
) -> anyhow::Result<()> {
    let pepper = pepper(loaded, api_keys_config(loaded)?)?;
    let overlap = parse_duration(overlap)
        .map_err(anyhow::Error::msg)
        .context("--overlap")?;
    let rotated = mcpgate_auth::api_key::rotate(&*store, pepper.expose_secret(), id, overlap)
        .await
        .map_err(|e| match e {
            mcpgate_auth::api_key::RotateError::Unknown(_) => {
                anyhow::anyhow!("{e}; `mcpgate keys list` shows the ids")
            }
            other => anyhow::anyhow!("{other}"),
        })?;
    outln!(
        "Rotated {id} → {} ({}).",
        rotated.record.id,
        rotated.record.name
    );
    outln!(
        "  the old key keeps working until {}, then is refused",
        rotated.old_until
    );
    outln!(
        "\nThe new key (shown only this once):\n{}",
        rotated.secret.expose_secret()
    );
    Ok(())
}

async fn list(store: &dyn Store, loaded: &LoadedConfig, json: bool) -> anyhow::Result<()> {
    let keys = store.api_keys().await?;
    let now = SystemTime::now();
    let status = |key: &ApiKeyRecord| -> String {
        if key.revoked_at.is_some() {
            return "revoked".to_owned();
        }
        match key.expires_at.as_deref().and_then(parse_rfc3339) {
            Some(expiry) if expiry <= now => "expired".to_owned(),
            _ if key.replaced_by.is_some() => {
                format!("rotated to {}", key.replaced_by.as_deref().unwrap_or("?"))
            }
            _ => "active".to_owned(),
        }
    };
    if json {
        let rows: Vec<serde_json::Value> = keys
            .iter()
            .map(|key| {
                let mut row = serde_json::to_value(key).unwrap_or_default();
                row["status"] = serde_json::Value::String(status(key));
                row
            })
            .collect();
        outln!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let configured_env = loaded
        .config
        .auth
        .api_keys
        .as_ref()
        .map(|k| k.environment.as_str());
    outln!(
        "{:<21} {:<20} {:<8} {:<30} {:<24} {:<24} STATUS",
        "ID",
        "NAME",
        "ENV",
        "SCOPES",
        "EXPIRES",
        "LAST USED"
    );
    for key in &keys {
        let foreign = configured_env.is_some_and(|env| env != key.environment);
        outln!(
            "{:<21} {:<20} {:<8} {:<30} {:<24} {:<24} {}{}",
            key.id,
            key.name,
            key.environment,
            list_or_dash(&key.scopes),
            key.expires_at.as_deref().unwrap_or("never"),
            key.last_used_at.as_deref().unwrap_or("never"),
            status(key),
            if foreign { " (other environment)" } else { "" }
        );
    }
    Ok(())
}

fn clean_list(items: Vec<String>) -> anyhow::Result<Vec<String>> {
    let mut clean: Vec<String> = items
        .iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    if let Some(bad) = clean.iter().find(|s| {
        s.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    }) {
        bail!("`{bad}` is not a valid scope or role (no spaces or quotes)");
    }
    clean.sort();
    clean.dedup();
    Ok(clean)
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(",")
    }
}
