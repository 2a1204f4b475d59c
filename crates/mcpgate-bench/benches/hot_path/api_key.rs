//! An API-key caller, set up as `mcpgate serve` and `mcpgate keys create`
//! do: the key minted by `mcpgate_auth::api_key`, its record in a SQLite
//! store, and `ApiKeyAuthenticator::start` over that store.

use std::sync::Arc;
use std::time::SystemTime;

use mcpgate_auth::ApiKeyAuthenticator;
use mcpgate_auth::api_key::{generate, key_hash, new_key_id};
use mcpgate_core::format_rfc3339;
use mcpgate_store::{ApiKeyRecord, Store};
use secrecy::{ExposeSecret, SecretSlice};

/// The environment of the bench gateway's keys.
pub const ENVIRONMENT: &str = "prod";

/// The scopes of the bench key: read access to the CRM and billing
/// backends of [`crate::authz`].
pub const SCOPES: [&str; 2] = ["read:crm", "read:billing"];

/// A key in the store and the authenticator that knows it.
pub struct KeyFixture {
    /// The authenticator, with every key of the store in memory.
    pub authenticator: Arc<ApiKeyAuthenticator>,
    /// The whole key, `mcpg_prod_…`, as a client sends it.
    pub secret: String,
}

/// Mint a key the way `mcpgate keys create` does (plus 49 others, so the
/// key is not alone in memory), store them, and start the authenticator.
/// Must run inside a Tokio runtime: the authenticator's follower tasks
/// keep running in it.
pub async fn fixture(store: Arc<dyn Store>) -> KeyFixture {
    let pepper: Vec<u8> = (0..32u8).map(|b| b.wrapping_mul(37) ^ 0x5a).collect();
    let mut secret = String::new();
    for n in 0..50 {
        let key = generate(ENVIRONMENT).expect("a key is minted");
        let text = key.secret.expose_secret().to_owned();
        let now = format_rfc3339(SystemTime::now());
        let record = ApiKeyRecord {
            id: new_key_id().expect("a key id"),
            name: format!("service-{n}"),
            environment: key.environment,
            key_hash: key_hash(&pepper, &text),
            scopes: SCOPES.map(String::from).to_vec(),
            roles: Vec::new(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            replaced_by: None,
            last_used_at: None,
        };
        store
            .insert_api_key(&record)
            .await
            .expect("the key is stored");
        if n == 0 {
            secret = text;
        }
    }
    let authenticator =
        ApiKeyAuthenticator::start(store, SecretSlice::from(pepper), ENVIRONMENT.to_owned())
            .await
            .expect("the authenticator starts");
    assert_eq!(authenticator.cached_keys(), 50);
    KeyFixture {
        authenticator,
        secret,
    }
}
