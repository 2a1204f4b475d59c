//! Config → the authenticate stage.

use std::sync::Arc;

use anyhow::{Context, bail};
use jsonwebtoken::Algorithm;
use mcpgate_auth::introspection::{IntrospectionConfig, Introspector};
use mcpgate_auth::jwt::{IssuerConfig, JwtVerifier};
use mcpgate_auth::{ApiKeyAuthenticator, Authenticator, LocalUser, MutualTls, Strategies};
use mcpgate_store::Store;
use secrecy::{ExposeSecret, SecretSlice};

use crate::config::{ApiKeysConfig, JwtIssuerConfig, LoadedConfig};

/// The shortest pepper accepted, in bytes.
const MIN_PEPPER_BYTES: usize = 32;

/// The authenticator the config asks for: the configured strategies, or
/// the local user when there are none (loopback or stdio only; `serve`
/// enforces that). `resource` is this gateway's resource URL, the default
/// audience of JWTs; `own_tokens` checks the embedded authorization
/// server's tokens.
pub async fn authenticator(
    loaded: &LoadedConfig,
    store: Arc<dyn Store>,
    resource: &str,
    own_tokens: Option<Arc<dyn mcpgate_auth::BearerVerifier>>,
) -> anyhow::Result<Arc<dyn Authenticator>> {
    let auth = &loaded.config.auth;
    if loaded.config.no_auth() {
        return Ok(Arc::new(LocalUser));
    }
    let mut strategies = Strategies {
        own_tokens,
        ..Strategies::default()
    };
    if let Some(keys) = &auth.api_keys {
        let pepper = pepper(loaded, keys)?;
        let authenticator = ApiKeyAuthenticator::start(store, pepper, keys.environment.clone())
            .await
            .context("cannot load the API keys")?;
        tracing::info!(environment = %keys.environment, keys = authenticator.cached_keys(), "API key authentication enabled");
        strategies.api_keys = Some(authenticator);
    }
    if !auth.jwt.is_empty() {
        strategies.jwt = Some(Arc::new(jwt_verifier(&auth.jwt, resource)?));
    }
    if let Some(mutual_tls) = &auth.mutual_tls {
        strategies.mutual_tls = Some(MutualTls {
            scopes: mutual_tls.scopes.clone(),
        });
    }
    for server in &auth.introspection {
        let issuer = server.issuer.as_str().trim_end_matches('/').to_owned();
        let introspector = Introspector::new(IntrospectionConfig {
            issuer: issuer.clone(),
            endpoint: server.endpoint.as_ref().map(|u| u.to_string()),
            client_id: server.client_id.clone(),
            client_secret: server
                .client_secret
                .resolve(loaded.base_dir())
                .with_context(|| format!("auth.introspection client_secret for {issuer}"))?,
            audiences: vec![
                server
                    .audience
                    .clone()
                    .unwrap_or_else(|| resource.to_owned()),
            ],
        })
        .context("cannot build the HTTP client")?;
        tracing::info!(%issuer, "opaque token introspection enabled");
        strategies.introspection.push(Arc::new(introspector));
    }
    Ok(Arc::new(strategies))
}

/// The JWT verifier for the configured identity providers.
pub fn jwt_verifier(issuers: &[JwtIssuerConfig], resource: &str) -> anyhow::Result<JwtVerifier> {
    let configs = issuers
        .iter()
        .map(|issuer| {
            let algorithms = issuer
                .algorithms
                .iter()
                .map(|name| {
                    name.parse::<Algorithm>()
                        .map_err(|_| anyhow::anyhow!("unknown algorithm `{name}`"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            // `Url` adds a trailing slash to a bare origin; `iss` has none.
            let issuer_text = issuer.issuer.as_str().trim_end_matches('/').to_owned();
            tracing::info!(issuer = %issuer_text, "JWT authentication enabled");
            Ok(IssuerConfig {
                issuer: issuer_text,
                jwks_uri: issuer.jwks_uri.as_ref().map(|u| u.to_string()),
                audiences: vec![
                    issuer
                        .audience
                        .clone()
                        .unwrap_or_else(|| resource.to_owned()),
                ],
                algorithms,
                leeway: issuer.leeway,
                scope_claims: issuer.scope_claims.clone(),
                groups_claim: issuer.groups_claim.clone(),
                roles_claim: issuer.roles_claim.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    JwtVerifier::new(configs).context("auth.jwt")
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
