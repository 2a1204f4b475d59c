//! Config → the authenticate stage.

use std::sync::Arc;

use anyhow::{Context, bail};
use mcpgate_auth::{ApiKeyAuthenticator, Authenticator, LocalUser};
use mcpgate_store::Store;
use secrecy::{ExposeSecret, SecretSlice};

use crate::config::{ApiKeysConfig, LoadedConfig};

/// The shortest pepper accepted, in bytes.
const MIN_PEPPER_BYTES: usize = 32;

/// The authenticator the config asks for: API keys when configured, else
/// the local user (loopback or stdio only; `serve` enforces that).
pub async fn authenticator(
    loaded: &LoadedConfig,
    store: Arc<dyn Store>,
) -> anyhow::Result<Arc<dyn Authenticator>> {
    let Some(keys) = &loaded.config.auth.api_keys else {
        return Ok(Arc::new(LocalUser));
    };
    let pepper = pepper(loaded, keys)?;
    let authenticator = ApiKeyAuthenticator::start(store, pepper, keys.environment.clone())
        .await
        .context("cannot load the API keys")?;
    tracing::info!(environment = %keys.environment, keys = authenticator.cached_keys(), "API key authentication enabled");
    Ok(authenticator)
}

/// The configured API-key settings, or a clear error naming the fix.
pub fn api_keys_config(loaded: &LoadedConfig) -> anyhow::Result<&ApiKeysConfig> {
    match &loaded.config.auth.api_keys {
        Some(keys) => Ok(keys),
        None => bail!(
            "{}: API keys are not configured; add\n\n[auth.api_keys]\nenvironment = \"prod\"\npepper = \"env:MCPGATE_KEY_PEPPER\"\n\n\
             and set MCPGATE_KEY_PEPPER to at least {MIN_PEPPER_BYTES} random bytes (e.g. `head -c 32 /dev/urandom | base64`)",
            loaded.path.display()
        ),
    }
}

/// The server secret API keys are hashed with.
pub fn pepper(loaded: &LoadedConfig, keys: &ApiKeysConfig) -> anyhow::Result<SecretSlice<u8>> {
    let secret = keys
        .pepper
        .resolve(loaded.base_dir())
        .context("auth.api_keys.pepper")?;
    let bytes = secret.expose_secret().as_bytes().to_vec();
    if bytes.len() < MIN_PEPPER_BYTES {
        bail!(
            "auth.api_keys.pepper is {} bytes; use at least {MIN_PEPPER_BYTES} random bytes (e.g. `head -c 32 /dev/urandom | base64`)",
            bytes.len()
        );
    }
    Ok(SecretSlice::from(bytes))
}
