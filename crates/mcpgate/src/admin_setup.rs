//! Config → the admin console.

use std::sync::Arc;

use anyhow::Context;
use mcpgate_admin::{AdminConsole, AdminSettings, KeyMinting, ToolRow};
use mcpgate_auth::Authenticator;
use mcpgate_authz::Reloadable;
use mcpgate_server::Gateway;
use mcpgate_store::Store;
use url::Url;

use crate::config::{AdminConfig, LoadedConfig};

/// The console the `[admin]` section asks for, on the gateway's listener.
pub fn console(
    loaded: &LoadedConfig,
    admin: &AdminConfig,
    public_url: &Url,
    store: Arc<dyn Store>,
    authenticator: Arc<dyn Authenticator>,
    gateway: Arc<Gateway>,
    authz: Arc<Reloadable>,
) -> anyhow::Result<AdminConsole> {
    let key_minting = match &loaded.config.auth.api_keys {
        Some(keys) => Some(KeyMinting {
            pepper: crate::auth_setup::pepper(loaded, keys).context("admin console")?,
            environment: keys.environment.clone(),
        }),
        None => None,
    };
    let catalog_of = gateway.clone();
    let tools = Arc::new(move || {
        let policy = authz.current();
        catalog_of
            .catalog()
            .specs()
            .map(|spec| {
                let summary = policy.tool_summary(&spec.name);
                ToolRow {
                    name: spec.name.clone(),
                    backend: spec.backend.clone(),
                    requires: summary
                        .as_ref()
                        .map(|s| s.requires.clone())
                        .unwrap_or_default(),
                    read_only: summary.as_ref().is_some_and(|s| s.read_only),
                    hidden_by_read_only_mode: summary.is_some_and(|s| s.hidden_by_read_only_mode),
                }
            })
            .collect()
    });
    let settings = AdminSettings {
        path: admin.path.clone(),
        roles: admin.roles.clone(),
        session_ttl: admin.session_ttl,
        origin: public_url.origin().ascii_serialization(),
        key_minting,
        tools,
        audit: Arc::new(move |event| {
            let gateway = gateway.clone();
            Box::pin(async move { gateway.record_event(event).await })
        }),
    };
    tracing::info!(path = %admin.path, roles = ?admin.roles, "admin console enabled");
    Ok(AdminConsole::new(settings, store, authenticator))
}
