//! The authorization server's records: single use under races, grant
//! revocation announced on the change feed, clients.

use mcpgate_store::{GrantRecord, GrantSelector, OAuthClientRecord, OneTimeSecret};

use crate::common::TestDb;

backend_tests!(
    a_secret_is_used_once_even_when_raced,
    grants_are_revoked_by_id_subject_or_client_and_announced,
    clients_are_stored_revoked_and_metadata_documents_refreshed,
);

fn secret(hash: &str, kind: &str) -> OneTimeSecret {
    OneTimeSecret {
        hash: hash.to_owned(),
        kind: kind.to_owned(),
        grant_id: Some("grant_1".to_owned()),
        data: r#"{"client_id":"c"}"#.to_owned(),
        created_at: "2026-01-01T00:00:00.000Z".to_owned(),
        expires_at: "2099-01-01T00:00:00.000Z".to_owned(),
        used_at: None,
    }
}

fn grant(id: &str, subject: &str, client: &str) -> GrantRecord {
    GrantRecord {
        id: id.to_owned(),
        client_id: client.to_owned(),
        subject: subject.to_owned(),
        scopes: vec!["read".to_owned(), "write".to_owned()],
        resource: "https://mcp.example/mcp".to_owned(),
        identity: r#"{"groups":["g"]}"#.to_owned(),
        upstream_refresh: Some("sealed".to_owned()),
        created_at: format!("2026-01-01T00:00:0{}.000Z", id.len() % 10),
        expires_at: "2099-01-01T00:00:00.000Z".to_owned(),
        revoked_at: None,
        revoked_reason: None,
    }
}

async fn a_secret_is_used_once_even_when_raced(db: TestDb) {
    let store = db.open().await;
    store.insert_secret(&secret("h1", "code")).await.unwrap();
    // Of the wrong kind it is not found, and not spent.
    assert_eq!(store.take_secret("h1", "refresh", "t").await.unwrap(), None);
    assert_eq!(
        store.secret("h1", "code").await.unwrap().unwrap().used_at,
        None
    );

    // Eight instances race to use it: exactly one is first.
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = db.open().await;
        tasks.push(tokio::spawn(async move {
            store
                .take_secret("h1", "code", &format!("2026-01-01T00:00:0{n}.000Z"))
                .await
                .unwrap()
                .unwrap()
        }));
    }
    let mut firsts = 0;
    for task in tasks {
        let taken = task.await.unwrap();
        assert_eq!(taken.grant_id.as_deref(), Some("grant_1"));
        if taken.used_at.is_none() {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1, "exactly one use is the first");
    let after = store.secret("h1", "code").await.unwrap().unwrap();
    assert!(after.used_at.is_some());
    assert_eq!(store.take_secret("nope", "code", "t").await.unwrap(), None);

    // Expired secrets are purged, others stay.
    let mut old = secret("h2", "refresh");
    old.expires_at = "2020-01-01T00:00:00.000Z".to_owned();
    store.insert_secret(&old).await.unwrap();
    assert_eq!(
        store
            .purge_secrets("2026-06-01T00:00:00.000Z")
            .await
            .unwrap(),
        1
    );
    assert!(store.secret("h2", "refresh").await.unwrap().is_none());
    assert!(store.secret("h1", "code").await.unwrap().is_some());
}

async fn grants_are_revoked_by_id_subject_or_client_and_announced(db: TestDb) {
    let store = db.open().await;
    for g in [
        grant("grant_a1", "alice", "c1"),
        grant("grant_a22", "alice", "c2"),
        grant("grant_b333", "bob", "c1"),
        grant("grant_b4444", "bob", "c2"),
    ] {
        store.insert_grant(&g).await.unwrap();
    }
    let stored = store.grant("grant_a1").await.unwrap().unwrap();
    assert_eq!(stored, grant("grant_a1", "alice", "c1"));
    assert_eq!(store.grants().await.unwrap().len(), 4);
    let head = store.key_changes_head().await.unwrap();

    let mut revoked = store
        .revoke_grants(
            GrantSelector::Subject("alice"),
            "2026-02-01T00:00:00.000Z",
            "user left",
        )
        .await
        .unwrap();
    revoked.sort();
    assert_eq!(revoked, ["grant_a1", "grant_a22"]);
    // Only grants not yet revoked are revoked (and announced) again.
    let revoked = store
        .revoke_grants(
            GrantSelector::Client("c1"),
            "2026-02-02T00:00:00.000Z",
            "client gone",
        )
        .await
        .unwrap();
    assert_eq!(revoked, ["grant_b333"]);
    let revoked = store
        .revoke_grants(
            GrantSelector::Id("grant_a1"),
            "2026-02-03T00:00:00.000Z",
            "again",
        )
        .await
        .unwrap();
    assert!(revoked.is_empty());

    let a1 = store.grant("grant_a1").await.unwrap().unwrap();
    assert_eq!(a1.revoked_at.as_deref(), Some("2026-02-01T00:00:00.000Z"));
    assert_eq!(a1.revoked_reason.as_deref(), Some("user left"));
    assert_eq!(
        store
            .grant("grant_b4444")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        None
    );
    // Every instance learns of it from the feed.
    let mut announced: Vec<(String, String)> = store
        .key_changes_since(head)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.key_id, c.change))
        .collect();
    announced.sort();
    assert_eq!(
        announced,
        [
            ("grant_a1".to_owned(), "revoked".to_owned()),
            ("grant_a22".to_owned(), "revoked".to_owned()),
            ("grant_b333".to_owned(), "revoked".to_owned()),
        ]
    );

    store
        .set_grant_upstream_refresh("grant_b4444", Some("sealed-2"))
        .await
        .unwrap();
    assert_eq!(
        store
            .grant("grant_b4444")
            .await
            .unwrap()
            .unwrap()
            .upstream_refresh
            .as_deref(),
        Some("sealed-2")
    );
}

async fn clients_are_stored_revoked_and_metadata_documents_refreshed(db: TestDb) {
    let store = db.open().await;
    let registered = OAuthClientRecord {
        client_id: "mcpc_1".to_owned(),
        source: "registered".to_owned(),
        metadata: r#"{"redirect_uris":["https://a.example/cb"]}"#.to_owned(),
        secret_hash: Some("hash".to_owned()),
        created_at: "2026-01-01T00:00:00.000Z".to_owned(),
        revoked_at: None,
    };
    store.insert_oauth_client(&registered).await.unwrap();
    assert_eq!(
        store.oauth_client("mcpc_1").await.unwrap(),
        Some(registered.clone())
    );
    // A registered client is never overwritten by a later insert.
    let impostor = OAuthClientRecord {
        metadata: "{}".to_owned(),
        ..registered.clone()
    };
    store.insert_oauth_client(&impostor).await.unwrap();
    assert_eq!(
        store.oauth_client("mcpc_1").await.unwrap(),
        Some(registered.clone())
    );

    // A metadata document's copy is refreshed.
    let document = OAuthClientRecord {
        client_id: "https://app.example/client.json".to_owned(),
        source: "metadata_document".to_owned(),
        metadata: r#"{"v":1}"#.to_owned(),
        secret_hash: None,
        created_at: "2026-01-02T00:00:00.000Z".to_owned(),
        revoked_at: None,
    };
    store.insert_oauth_client(&document).await.unwrap();
    let newer = OAuthClientRecord {
        metadata: r#"{"v":2}"#.to_owned(),
        ..document.clone()
    };
    store.insert_oauth_client(&newer).await.unwrap();
    let stored = store
        .oauth_client(&document.client_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.metadata, r#"{"v":2}"#);

    assert!(
        store
            .revoke_oauth_client("mcpc_1", "2026-03-01T00:00:00.000Z")
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_oauth_client("mcpc_1", "2026-03-02T00:00:00.000Z")
            .await
            .unwrap()
    );
    assert!(
        !store
            .revoke_oauth_client("unknown", "2026-03-02T00:00:00.000Z")
            .await
            .unwrap()
    );
    let clients = store.oauth_clients().await.unwrap();
    assert_eq!(clients.len(), 2);
    assert_eq!(
        clients[0].client_id, "https://app.example/client.json",
        "newest first"
    );
    assert_eq!(
        clients[1].revoked_at.as_deref(),
        Some("2026-03-01T00:00:00.000Z")
    );
}
