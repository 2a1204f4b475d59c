//! An identity provider that cannot be reached is asked again at most every
//! ten seconds, not on every request, and its tokens are refused as
//! "cannot check right now" (503), not as invalid.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use mcpgate_auth::AuthError;
use mcpgate_auth::jwt::{IssuerConfig, JwtVerifier};

#[tokio::test]
async fn an_unreachable_issuer_is_not_asked_on_every_request() {
    // A "server" that accepts connections and closes them at once.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
            drop(stream);
        }
    });
    let verifier = JwtVerifier::new(vec![IssuerConfig {
        issuer: issuer.clone(),
        jwks_uri: None,
        audiences: vec!["http://127.0.0.1:1/mcp".into()],
        algorithms: vec![Algorithm::RS256],
        leeway: Duration::from_secs(30),
        scope_claims: vec!["scope".into()],
        groups_claim: None,
        roles_claim: None,
    }])
    .unwrap();
    let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k1"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(
        r#"{{"iss":"{issuer}","sub":"s","aud":"x","exp":4102444800}}"#
    ));
    let token = format!("{header}.{claims}.c2lnbmF0dXJl");

    let first = verifier.verify(&token).await;
    assert!(matches!(first, Err(AuthError::Unavailable(_))), "{first:?}");
    let asked = connections.load(Ordering::SeqCst);
    assert!(asked >= 1, "discovery was attempted");
    for _ in 0..20 {
        assert!(matches!(
            verifier.verify(&token).await,
            Err(AuthError::Unavailable(_))
        ));
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        asked,
        "no new attempt within the retry window"
    );
}

#[test]
fn shared_secret_algorithms_are_refused_at_configuration() {
    let config = IssuerConfig {
        issuer: "https://idp.example".into(),
        jwks_uri: None,
        audiences: vec!["https://mcp.example/mcp".into()],
        algorithms: vec![Algorithm::RS256, Algorithm::HS256],
        leeway: Duration::from_secs(30),
        scope_claims: vec![],
        groups_claim: None,
        roles_claim: None,
    };
    assert!(JwtVerifier::new(vec![config]).is_err());
}
