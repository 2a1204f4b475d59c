//! Config → the embedded authorization server.

use std::sync::Arc;

use anyhow::Context;
use mcpgate_authz::Reloadable;
use mcpgate_oauth::keys::SigningKey;
use mcpgate_oauth::{AccessTokenVerifier, AuthorizationServer, Settings, StaticClient};
use mcpgate_store::Store;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::config::{LoadedConfig, OAuthServerConfig};

/// The issuer of a gateway whose MCP endpoint is `public_url`: its origin.
pub fn issuer(public_url: &Url) -> String {
    public_url.origin().ascii_serialization()
}

/// The verifier of the server's own tokens, when `[oauth_server]` is set.
pub fn verifier(
    loaded: &LoadedConfig,
    public_url: &Url,
) -> anyhow::Result<Option<Arc<AccessTokenVerifier>>> {
    let Some(config) = &loaded.config.oauth_server else {
        return Ok(None);
    };
    let keys = config
        .signing_keys
        .iter()
        .enumerate()
        .map(|(n, reference)| {
            let seed = reference
                .resolve(loaded.base_dir())
                .with_context(|| format!("oauth_server.signing_keys[{n}]"))?;
            SigningKey::from_seed_base64(seed.expose_secret())
                .with_context(|| format!("oauth_server.signing_keys[{n}]"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Some(AuthorizationServer::token_verifier(
        &issuer(public_url),
        vec![public_url.to_string()],
        keys,
    )?))
}

/// The authorization server, its scopes and entitlements taken from the
/// authorization policy in force.
pub fn server(
    loaded: &LoadedConfig,
    config: &OAuthServerConfig,
    verifier: Arc<AccessTokenVerifier>,
    store: Arc<dyn Store>,
    authz: Arc<Reloadable>,
    gateway: Arc<mcpgate_server::Gateway>,
) -> anyhow::Result<AuthorizationServer> {
    let base = loaded.base_dir();
    let secret =
        |reference: &crate::config::SecretRef, key: &str| -> anyhow::Result<SecretString> {
            let value = reference.resolve(base).context(key.to_owned())?;
            Ok(SecretString::from(value.expose_secret().to_owned()))
        };
    let clients = config
        .clients
        .iter()
        .enumerate()
        .map(|(n, client)| {
            Ok(StaticClient {
                client_id: client.client_id.clone(),
                secret: client
                    .client_secret
                    .as_ref()
                    .map(|s| secret(s, &format!("oauth_server.clients[{n}].client_secret")))
                    .transpose()?,
                redirect_uris: client.redirect_uris.clone(),
                grant_types: client.grant_types.clone(),
                scopes: client.scopes.clone(),
                name: client.name.clone(),
                jwks: client
                    .jwks
                    .as_ref()
                    .map(|path| read_jwks(&base.join(path)))
                    .transpose()
                    .with_context(|| format!("oauth_server.clients[{n}].jwks"))?,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let upstream = &config.upstream;
    let entitled_by = authz.clone();
    let settings = Settings {
        issuer: verifier.issuer_id().to_owned(),
        resources: verifier.audiences().to_vec(),
        scopes_supported: authz.current().all_scopes(),
        access_token_ttl: config.access_token_ttl,
        refresh_token_ttl: config.refresh_token_ttl,
        refresh_grace: config.refresh_grace,
        clients,
        dynamic_registration: config.dynamic_registration,
        client_metadata_documents: config.client_metadata_documents,
        metadata_document_private_hosts: config.metadata_document_private_hosts.clone(),
        upstream: Some(mcpgate_oauth::UpstreamSettings {
            issuer: upstream.issuer.as_str().trim_end_matches('/').to_owned(),
            client_id: upstream.client_id.clone(),
            client_secret: secret(
                &upstream.client_secret,
                "oauth_server.upstream.client_secret",
            )?,
            scopes: upstream.scopes.clone(),
            groups_claim: upstream.groups_claim.clone(),
            roles_claim: upstream.roles_claim.clone(),
        }),
        entitlement: Arc::new(move |identity| entitled_by.current().entitled_scopes(identity)),
        sealing_secret: secret(&config.secret, "oauth_server.secret")?,
        // Into the gateway's own audit chain, failing closed with it.
        audit: Some(Arc::new(move |event| {
            let gateway = gateway.clone();
            Box::pin(async move { gateway.record_event(event).await })
        })),
    };
    Ok(AuthorizationServer::new(settings, verifier, store)?)
}

/// A client's public keys.
fn read_jwks(path: &std::path::Path) -> anyhow::Result<jsonwebtoken::jwk::JwkSet> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let not_jwks = || {
        format!(
            "{} is not a JWKS document ({{\"keys\": [...]}})",
            path.display()
        )
    };
    let raw: serde_json::Value = serde_json::from_str(&text).with_context(not_jwks)?;
    // A private key here would sit in a file mcpgate can read for no reason.
    if raw["keys"]
        .as_array()
        .is_some_and(|keys| keys.iter().any(|k| k.get("d").is_some()))
    {
        anyhow::bail!(
            "{} holds a private key: give mcpgate only the client's public keys",
            path.display()
        );
    }
    serde_json::from_value(raw).with_context(not_jwks)
}
