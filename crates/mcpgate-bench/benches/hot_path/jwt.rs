//! A local identity provider for JWTs: an RSA, a P-256 and an Ed25519 key
//! made here (with aws-lc-rs, the backend jsonwebtoken uses), their public
//! halves served as a JWKS document on 127.0.0.1, and access tokens signed
//! with them, shaped like an IdP's (scopes, groups, roles, client id).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcpgate_auth::jwt::{IssuerConfig, JwtVerifier};
use serde_json::json;

/// The audience of every token: the bench gateway's resource URL.
pub const AUDIENCE: &str = "https://mcp.acme.example/mcp";

/// The algorithms measured, each with its own key.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];

/// The issuer: its keys and where its JWKS is served.
pub struct Idp {
    /// `http://127.0.0.1:PORT`, also the `iss` of its tokens.
    pub issuer: String,
    keys: Vec<(Algorithm, EncodingKey)>,
}

impl Idp {
    /// Make the keys and serve their JWKS from a task on the current
    /// Tokio runtime.
    pub async fn start() -> Idp {
        let rsa = RsaKeyPair::generate(KeySize::Rsa2048).expect("an RSA key");
        let rsa_pkcs8 = rsa.as_der().expect("PKCS#8");
        let random = SystemRandom::new();
        let ec_pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &random)
            .expect("a P-256 key");
        // Version 1 (no public key inside): the form jsonwebtoken reads.
        let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8v1(&random).expect("an Ed25519 key");
        let keys = vec![
            (
                Algorithm::RS256,
                // jsonwebtoken reads RSA keys as PKCS#1.
                EncodingKey::from_rsa_der(pkcs1_of(rsa_pkcs8.as_ref())),
            ),
            (
                Algorithm::ES256,
                EncodingKey::from_ec_der(ec_pkcs8.as_ref()),
            ),
            (
                Algorithm::EdDSA,
                EncodingKey::from_ed_der(ed_pkcs8.as_ref()),
            ),
        ];
        let jwks = JwkSet {
            keys: keys
                .iter()
                .map(|(alg, key)| {
                    let mut jwk = Jwk::from_encoding_key(key, *alg).expect("a JWK");
                    jwk.common.key_id = Some(kid(*alg));
                    jwk
                })
                .collect(),
        };
        let body = serde_json::to_string(&jwks).expect("JSON");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let issuer = format!("http://{}", listener.local_addr().expect("an address"));
        let app = axum::Router::new().route(
            "/jwks",
            axum::routing::get(move || {
                let body = body.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Idp { issuer, keys }
    }

    /// A verifier for this issuer, as `mcpgate serve` configures one with
    /// `jwks_uri` set; it has fetched nothing yet.
    pub fn verifier(&self) -> Arc<JwtVerifier> {
        Arc::new(
            JwtVerifier::new(vec![IssuerConfig {
                issuer: self.issuer.clone(),
                jwks_uri: Some(format!("{}/jwks", self.issuer)),
                audiences: vec![AUDIENCE.to_owned()],
                algorithms: ALGORITHMS.to_vec(),
                leeway: Duration::from_secs(30),
                scope_claims: vec!["scope".to_owned(), "scp".to_owned()],
                groups_claim: Some("groups".to_owned()),
                roles_claim: Some("roles".to_owned()),
            }])
            .expect("a valid issuer config"),
        )
    }

    /// An access token signed with `alg`, its `jti` (and so the token)
    /// unique to `n`, valid for an hour.
    pub fn token(&self, alg: Algorithm, n: u64) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let claims = json!({
            "iss": self.issuer,
            "sub": "sam@acme.example",
            "aud": AUDIENCE,
            "exp": now + 3600,
            "nbf": now - 5,
            "iat": now,
            "jti": format!("at-{alg:?}-{n}"),
            "client_id": "claude-desktop",
            "scope": "openid read:crm write:crm read:billing",
            "groups": ["sales", "sales-leads", "emea-sales"],
            "roles": ["crm-user"],
            "email": "sam@acme.example",
            "name": "Sam Example",
            "team": "emea",
        });
        let mut header = Header::new(alg);
        header.kid = Some(kid(alg));
        header.typ = Some("at+jwt".to_owned());
        let key = &self
            .keys
            .iter()
            .find(|(a, _)| *a == alg)
            .expect("a key per algorithm")
            .1;
        jsonwebtoken::encode(&header, &claims, key).expect("signed")
    }
}

fn kid(alg: Algorithm) -> String {
    format!("bench-{alg:?}").to_lowercase()
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo`:
/// `SEQUENCE { INTEGER version, SEQUENCE algorithm, OCTET STRING key }`.
fn pkcs1_of(pkcs8: &[u8]) -> &[u8] {
    let (info, _) = der_element(pkcs8, 0x30);
    let (_, rest) = der_element(info, 0x02);
    let (_, rest) = der_element(rest, 0x30);
    let (key, _) = der_element(rest, 0x04);
    key
}

/// The contents of the DER element at the start of `input`, which must
/// have `tag`, and what follows it.
fn der_element(input: &[u8], tag: u8) -> (&[u8], &[u8]) {
    assert_eq!(input[0], tag, "unexpected DER tag");
    let (len, header) = match input[1] {
        short if short < 0x80 => (usize::from(short), 2),
        long => {
            let count = usize::from(long & 0x7f);
            let len = input[2..2 + count]
                .iter()
                .fold(0usize, |len, byte| len << 8 | usize::from(*byte));
            (len, 2 + count)
        }
    };
    (&input[header..header + len], &input[header + len..])
}
