//! Who a `client_id` is: a client written in the config, one that
//! registered itself (RFC 7591), or a URL whose Client ID Metadata Document
//! describes it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::cimd::MetadataFetcher;
use crate::error::OAuthError;
use crate::redirect;
use crate::secrets::hash;
use crate::settings::StaticClient;

/// How long a fetched metadata document is trusted before it is fetched
/// again.
const METADATA_TTL: Duration = Duration::from_secs(300);

/// Where a client's description came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientSource {
    /// The config file.
    Config,
    /// Dynamic client registration.
    Registered,
    /// A Client ID Metadata Document.
    MetadataDocument,
}

/// A client, whatever its source.
#[derive(Debug, Clone)]
pub struct Client {
    /// Its id.
    pub id: String,
    /// Where it came from.
    pub source: ClientSource,
    /// Where codes may be sent.
    pub redirect_uris: Vec<String>,
    /// Grants it may use.
    pub grant_types: Vec<String>,
    /// Hash of its secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// For client credentials: the scopes it may have.
    pub scopes: Vec<String>,
    /// Its display name.
    pub name: Option<String>,
    /// The public keys of a `private_key_jwt` client.
    pub jwks: Option<std::sync::Arc<jsonwebtoken::jwk::JwkSet>>,
}

impl Client {
    /// Whether the client may use `grant_type`.
    pub fn may_use(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }

    /// Whether `secret` is this client's secret (constant time).
    pub fn secret_matches(&self, secret: &str) -> bool {
        match &self.secret_hash {
            Some(known) => bool::from(hash(secret).as_bytes().ct_eq(known.as_bytes())),
            None => false,
        }
    }

    /// What the consent page calls it.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Client metadata as registered or published (RFC 7591 §2).
#[derive(Debug, Deserialize)]
pub struct ClientMetadata {
    /// The id (metadata documents only: must equal the document's URL).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Redirect URIs.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Grant types (default `authorization_code`).
    #[serde(default)]
    pub grant_types: Option<Vec<String>>,
    /// Response types (must be `code` when given).
    #[serde(default)]
    pub response_types: Option<Vec<String>>,
    /// `none`, `client_secret_basic` or `client_secret_post`.
    #[serde(default)]
    pub token_endpoint_auth_method: Option<String>,
    /// Display name.
    #[serde(default)]
    pub client_name: Option<String>,
    /// A shared secret in a published document would be public.
    #[serde(default)]
    pub client_secret: Option<Value>,
}

impl ClientMetadata {
    /// The checked grant types, and whether the client is confidential.
    pub fn check(&self) -> Result<(Vec<String>, bool), OAuthError> {
        if self.redirect_uris.is_empty() {
            return Err(OAuthError::invalid_redirect_uri(
                "redirect_uris must name at least one URI",
            ));
        }
        for uri in &self.redirect_uris {
            if let Some(problem) = redirect::registration_problem(uri) {
                return Err(OAuthError::invalid_redirect_uri(format!(
                    "redirect URI {uri} {problem}"
                )));
            }
        }
        if let Some(types) = &self.response_types
            && types.iter().any(|t| t != "code")
        {
            return Err(OAuthError::invalid_client_metadata(
                "only the response type `code` is supported",
            ));
        }
        let grant_types = self
            .grant_types
            .clone()
            .unwrap_or_else(|| vec!["authorization_code".to_owned()]);
        if let Some(bad) = grant_types
            .iter()
            .find(|g| !matches!(g.as_str(), "authorization_code" | "refresh_token"))
        {
            return Err(OAuthError::invalid_client_metadata(format!(
                "grant type {bad} cannot be registered (authorization_code and refresh_token can)"
            )));
        }
        let confidential = match self.token_endpoint_auth_method.as_deref() {
            None | Some("none") => false,
            Some("client_secret_basic") | Some("client_secret_post") => true,
            Some(other) => {
                return Err(OAuthError::invalid_client_metadata(format!(
                    "token_endpoint_auth_method {other} is not supported (none, client_secret_basic, client_secret_post)"
                )));
            }
        };
        Ok((grant_types, confidential))
    }
}

/// Finds clients.
pub struct ClientDirectory {
    configured: HashMap<String, Client>,
    store: std::sync::Arc<dyn mcpgate_store::Store>,
    dynamic_registration: bool,
    metadata: Option<MetadataFetcher>,
    fetched: Mutex<HashMap<String, (Client, Instant)>>,
}

impl std::fmt::Debug for ClientDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientDirectory({} configured)", self.configured.len())
    }
}

impl ClientDirectory {
    /// A directory of `configured` clients, registered ones in `store`, and
    /// metadata documents fetched by `metadata`.
    pub fn new(
        configured: &[StaticClient],
        store: std::sync::Arc<dyn mcpgate_store::Store>,
        dynamic_registration: bool,
        metadata: Option<MetadataFetcher>,
    ) -> Self {
        let configured = configured
            .iter()
            .map(|c| {
                let client = Client {
                    id: c.client_id.clone(),
                    source: ClientSource::Config,
                    redirect_uris: c.redirect_uris.clone(),
                    grant_types: c.grant_types.clone(),
                    secret_hash: c.secret.as_ref().map(|s| hash(s.expose_secret())),
                    scopes: c.scopes.clone(),
                    name: c.name.clone(),
                    jwks: c.jwks.clone().map(std::sync::Arc::new),
                };
                (c.client_id.clone(), client)
            })
            .collect();
        ClientDirectory {
            configured,
            store,
            dynamic_registration,
            metadata,
            fetched: Mutex::new(HashMap::new()),
        }
    }

    /// Whether URL-shaped client ids are looked up.
    pub fn accepts_metadata_documents(&self) -> bool {
        self.metadata.is_some()
    }

    /// The client `id`, or why there is none.
    pub async fn find(&self, id: &str) -> Result<Client, OAuthError> {
        if let Some(client) = self.configured.get(id) {
            self.refuse_if_revoked(id).await?;
            return Ok(client.clone());
        }
        if id.starts_with("https://") || id.starts_with("http://") {
            return self.described_by_document(id).await;
        }
        if !self.dynamic_registration {
            return Err(OAuthError::invalid_client(format!("unknown client {id}")));
        }
        let record = self
            .store
            .oauth_client(id)
            .await?
            .filter(|r| r.source == "registered")
            .ok_or_else(|| OAuthError::invalid_client(format!("unknown client {id}")))?;
        if record.revoked_at.is_some() {
            return Err(OAuthError::invalid_client(format!(
                "client {id} was revoked"
            )));
        }
        let metadata: ClientMetadata = serde_json::from_str(&record.metadata)
            .map_err(|_| OAuthError::invalid_client("the stored registration is unreadable"))?;
        Ok(Client {
            id: record.client_id,
            source: ClientSource::Registered,
            redirect_uris: metadata.redirect_uris,
            grant_types: metadata
                .grant_types
                .unwrap_or_else(|| vec!["authorization_code".to_owned()]),
            secret_hash: record.secret_hash,
            scopes: Vec::new(),
            name: metadata.client_name,
            jwks: None,
        })
    }

    async fn described_by_document(&self, url: &str) -> Result<Client, OAuthError> {
        let Some(fetcher) = &self.metadata else {
            return Err(OAuthError::invalid_client(
                "client metadata documents are not accepted by this server",
            ));
        };
        if let Some((client, at)) = self.fetched.lock().ok().and_then(|m| m.get(url).cloned())
            && at.elapsed() < METADATA_TTL
        {
            self.refuse_if_revoked(url).await?;
            return Ok(client);
        }
        self.refuse_if_revoked(url).await?;
        let document = fetcher.fetch(url).await.map_err(|e| {
            OAuthError::invalid_client(format!("client metadata document {url}: {e}"))
        })?;
        let metadata: ClientMetadata = serde_json::from_slice(&document).map_err(|e| {
            OAuthError::invalid_client(format!("client metadata document {url} is not valid: {e}"))
        })?;
        if metadata.client_id.as_deref() != Some(url) {
            return Err(OAuthError::invalid_client(format!(
                "the metadata document at {url} names client_id {:?}, not its own URL",
                metadata.client_id.as_deref().unwrap_or("(none)")
            )));
        }
        if metadata.client_secret.is_some() {
            return Err(OAuthError::invalid_client(
                "a published metadata document cannot carry a client secret",
            ));
        }
        let (grant_types, confidential) = metadata
            .check()
            .map_err(|e| OAuthError::invalid_client(format!("{url}: {}", e.description)))?;
        if confidential {
            return Err(OAuthError::invalid_client(
                "a metadata-document client has no shared secret: use token_endpoint_auth_method none",
            ));
        }
        let client = Client {
            id: url.to_owned(),
            source: ClientSource::MetadataDocument,
            redirect_uris: metadata.redirect_uris,
            grant_types,
            secret_hash: None,
            scopes: Vec::new(),
            name: metadata.client_name,
            jwks: None,
        };
        let record = mcpgate_store::OAuthClientRecord {
            client_id: url.to_owned(),
            source: "metadata_document".to_owned(),
            metadata: String::from_utf8_lossy(&document).into_owned(),
            secret_hash: None,
            created_at: mcpgate_core::format_rfc3339(std::time::SystemTime::now()),
            revoked_at: None,
        };
        self.store.insert_oauth_client(&record).await?;
        if let Ok(mut fetched) = self.fetched.lock() {
            if fetched.len() > 10_000 {
                fetched.clear();
            }
            fetched.insert(url.to_owned(), (client.clone(), Instant::now()));
        }
        Ok(client)
    }

    async fn refuse_if_revoked(&self, id: &str) -> Result<(), OAuthError> {
        if let Some(record) = self.store.oauth_client(id).await?
            && record.revoked_at.is_some()
        {
            return Err(OAuthError::invalid_client(format!(
                "client {id} was revoked"
            )));
        }
        Ok(())
    }

    /// Forget a cached metadata document (after revocation).
    pub fn forget(&self, id: &str) {
        if let Ok(mut fetched) = self.fetched.lock() {
            fetched.remove(id);
        }
    }
}
