//! A token issuer for the JWT run: an Ed25519 key made here, its JWKS
//! served from this process on 127.0.0.1, and one access token shaped like
//! an identity provider's, which every request presents (so the gateway
//! verifies it once and then finds it in its cache, as with a real client
//! that reuses its token until it expires).

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::Ed25519KeyPair;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

/// An issuer whose JWKS is being served.
pub struct Issuer {
    /// `http://127.0.0.1:PORT`: its `iss`, and where `/jwks` is.
    pub url: String,
    key: EncodingKey,
}

impl Issuer {
    /// Make a key and serve its JWKS from a task on this runtime.
    pub async fn start() -> anyhow::Result<Issuer> {
        let random = SystemRandom::new();
        // Version 1 (no public key inside): the form jsonwebtoken reads.
        let pkcs8 = Ed25519KeyPair::generate_pkcs8v1(&random)
            .map_err(|_| anyhow::anyhow!("cannot make an Ed25519 key"))?;
        let key = EncodingKey::from_ed_der(pkcs8.as_ref());
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA)?;
        jwk.common.key_id = Some("bench".to_owned());
        let body = serde_json::to_string(&JwkSet { keys: vec![jwk] })?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let body = body.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Issuer { url, key })
    }

    /// An access token for `audience` with `scope`, valid for an hour.
    pub fn token(&self, audience: &str, scope: &str) -> anyhow::Result<String> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
        let claims = json!({
            "iss": self.url,
            "sub": "load@bench.example",
            "aud": audience,
            "exp": now + 3600,
            "iat": now,
            "jti": format!("bench-{now}"),
            "client_id": "mcpgate-load",
            "scope": scope,
        });
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("bench".to_owned());
        Ok(jsonwebtoken::encode(&header, &claims, &self.key)?)
    }
}
