//! The demo Inventory API over a real socket, as the gateway will call it.

use std::collections::BTreeSet;

use mcpgate_demo::{DemoApi, OPENAPI_YAML};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "test-demo-key";

/// A running demo API: its base URL, a handle on its state, and a client.
struct Running {
    base: String,
    api: DemoApi,
    client: Client,
}

impl Running {
    async fn start() -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let base = format!("http://{}", listener.local_addr().expect("local addr"));
        let api = DemoApi::new(KEY);
        tokio::spawn(api.clone().serve(listener));
        Running {
            base,
            api,
            client: Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request carrying the right `X-Demo-Key`.
    fn authed(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-Demo-Key", KEY)
    }

    async fn get(&self, path: &str) -> Response {
        self.authed(reqwest::Method::GET, path)
            .send()
            .await
            .expect("request")
    }

    async fn send_json(&self, method: reqwest::Method, path: &str, body: &Value) -> Response {
        self.authed(method, path)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    async fn send_raw(&self, method: reqwest::Method, path: &str, body: &'static str) -> Response {
        self.authed(method, path)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request")
    }
}

/// The status and JSON body of a response.
async fn json_of(response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.expect("JSON body");
    (status, body)
}

fn ids(body: &Value) -> Vec<u64> {
    body["items"]
        .as_array()
        .expect("items array")
        .iter()
        .map(|item| item["id"].as_u64().expect("numeric id"))
        .collect()
}

#[tokio::test]
async fn every_route_but_health_and_openapi_needs_the_demo_key() {
    let api = Running::start().await;
    let unauthorized = json!({ "error": "missing or wrong X-Demo-Key" });

    let no_key = api
        .client
        .get(api.url("/items"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        json_of(no_key).await,
        (StatusCode::UNAUTHORIZED, unauthorized.clone())
    );

    let wrong_key = api
        .client
        .delete(api.url("/items/1"))
        .header("X-Demo-Key", "test-demo-kez")
        .send()
        .await
        .expect("request");
    assert_eq!(
        json_of(wrong_key).await,
        (StatusCode::UNAUTHORIZED, unauthorized.clone())
    );

    let bearer_only = api
        .client
        .get(api.url("/items/1"))
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    assert_eq!(
        bearer_only.status(),
        StatusCode::UNAUTHORIZED,
        "only X-Demo-Key counts"
    );

    let health = api
        .client
        .get(api.url("/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(
        json_of(health).await,
        (StatusCode::OK, json!({ "status": "ok" }))
    );

    let spec = api
        .client
        .get(api.url("/openapi.yaml"))
        .send()
        .await
        .expect("request");
    assert_eq!(spec.status(), StatusCode::OK);

    // The rejected DELETE changed nothing.
    assert_eq!(api.get("/items/1").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn lists_items_filtered_by_tag_and_limited() {
    let api = Running::start().await;

    let (status, all) = json_of(api.get("/items").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&all), [1, 2, 3]);
    let names: Vec<&str> = all["items"]
        .as_array()
        .expect("items array")
        .iter()
        .filter_map(|item| item["name"].as_str())
        .collect();
    assert_eq!(names, ["widget", "gadget", "gizmo"]);

    let (_, hardware) = json_of(api.get("/items?tag=hardware").await).await;
    assert_eq!(ids(&hardware), [1, 3]);

    let (_, none) = json_of(api.get("/items?tag=Hardware").await).await;
    assert_eq!(ids(&none), Vec::<u64>::new(), "tags match exactly");

    let (_, first) = json_of(api.get("/items?tag=hardware&limit=1").await).await;
    assert_eq!(ids(&first), [1]);

    for bad in ["/items?limit=0", "/items?limit=101", "/items?limit=many"] {
        let (status, body) = json_of(api.get(bad).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("limit")),
            "{bad}: {body}"
        );
    }
}

#[tokio::test]
async fn gets_one_item_or_a_json_404() {
    let api = Running::start().await;

    let (status, widget) = json_of(api.get("/items/1").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(widget["name"], "widget");
    assert_eq!(widget["quantity"], 12);
    assert_eq!(widget["tags"], json!(["hardware"]));
    let updated_at = widget["updatedAt"].as_str().expect("updatedAt string");
    assert!(
        updated_at.len() == 24 && updated_at.ends_with('Z') && updated_at.as_bytes()[10] == b'T',
        "RFC 3339 date-time: {updated_at}"
    );

    let missing = json_of(api.get("/items/42").await).await;
    assert_eq!(
        missing,
        (
            StatusCode::NOT_FOUND,
            json!({ "error": "item 42 not found" })
        )
    );

    let (status, body) = json_of(api.get("/items/forty-two").await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("itemId")),
        "{body}"
    );

    let (status, body) = json_of(api.get("/no/such/route").await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({ "error": "no route for GET /no/such/route" }));
}

#[tokio::test]
async fn creates_items_and_rejects_invalid_bodies_with_400() {
    let api = Running::start().await;
    let post = reqwest::Method::POST;

    let created = api
        .send_json(
            post.clone(),
            "/items",
            &json!({ "name": "sprocket", "tags": ["hardware"] }),
        )
        .await;
    let (status, item) = json_of(created).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(item["id"], 4);
    assert_eq!(item["quantity"], 0, "quantity defaults to 0");
    assert_eq!(item["tags"], json!(["hardware"]));

    let (_, next) = json_of(
        api.send_json(
            post.clone(),
            "/items",
            &json!({ "name": "cog", "quantity": 7 }),
        )
        .await,
    )
    .await;
    assert_eq!(
        (next["id"].clone(), next["tags"].clone()),
        (json!(5), json!([]))
    );

    let (_, fetched) = json_of(api.get("/items/4").await).await;
    assert_eq!(fetched, item);

    let long_name = "x".repeat(101);
    let invalid = [
        json!({ "quantity": 1 }),
        json!({ "name": "" }),
        json!({ "name": long_name }),
        json!({ "name": "bolt", "quantity": -1 }),
        json!({ "name": "bolt", "quantity": "three" }),
        json!({ "name": "bolt", "colour": "red" }),
        json!(["bolt"]),
    ];
    for body in &invalid {
        let (status, error) = json_of(api.send_json(post.clone(), "/items", body).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(error["error"].is_string(), "{body} → {error}");
    }
    for raw in ["", "{", "not json"] {
        let (status, error) = json_of(api.send_raw(post.clone(), "/items", raw).await).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{raw:?}");
        assert!(
            error["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("invalid JSON body"))
        );
    }

    let (_, all) = json_of(api.get("/items").await).await;
    assert_eq!(
        ids(&all),
        [1, 2, 3, 4, 5],
        "rejected bodies created nothing"
    );
}

#[tokio::test]
async fn adjusting_stock_below_zero_is_a_409_and_changes_nothing() {
    let api = Running::start().await;
    let patch = reqwest::Method::PATCH;

    let (status, gizmo) = json_of(
        api.send_json(patch.clone(), "/items/3/stock", &json!({ "delta": -2 }))
            .await,
    )
    .await;
    assert_eq!(
        (status, gizmo["quantity"].clone()),
        (StatusCode::OK, json!(3))
    );

    let refused = api
        .send_json(patch.clone(), "/items/3/stock", &json!({ "delta": -4 }))
        .await;
    assert_eq!(
        json_of(refused).await,
        (
            StatusCode::CONFLICT,
            json!({ "error": "stock cannot go below zero" })
        )
    );
    let (_, unchanged) = json_of(api.get("/items/3").await).await;
    assert_eq!(unchanged["quantity"], 3);

    let (status, emptied) = json_of(
        api.send_json(patch.clone(), "/items/3/stock", &json!({ "delta": -3 }))
            .await,
    )
    .await;
    assert_eq!(
        (status, emptied["quantity"].clone()),
        (StatusCode::OK, json!(0))
    );

    let missing = api
        .send_json(patch.clone(), "/items/42/stock", &json!({ "delta": 1 }))
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let (status, _) = json_of(
        api.send_json(patch.clone(), "/items/3/stock", &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "delta is required");
}

#[tokio::test]
async fn deleting_an_item_is_204_then_404() {
    let api = Running::start().await;
    let delete = reqwest::Method::DELETE;

    let deleted = api
        .authed(delete.clone(), "/items/2")
        .send()
        .await
        .expect("request");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert!(deleted.bytes().await.expect("body").is_empty());

    let gone = json_of(api.get("/items/2").await).await;
    assert_eq!(
        gone,
        (
            StatusCode::NOT_FOUND,
            json!({ "error": "item 2 not found" })
        )
    );

    let again = api
        .authed(delete, "/items/2")
        .send()
        .await
        .expect("request");
    assert_eq!(again.status(), StatusCode::NOT_FOUND);

    let (_, all) = json_of(api.get("/items").await).await;
    assert_eq!(ids(&all), [1, 3]);
}

#[tokio::test]
async fn the_recorder_sees_exactly_what_reached_the_backend() {
    let api = Running::start().await;

    let created = api
        .authed(reqwest::Method::POST, "/items?dry=false")
        .header("X-Request-Id", "req-123")
        .json(&json!({ "name": "flange" }))
        .send()
        .await
        .expect("request");
    assert_eq!(created.status(), StatusCode::CREATED);
    let rejected = api
        .client
        .get(api.url("/items"))
        .bearer_auth("agent-token")
        .send()
        .await
        .expect("request");
    assert_eq!(rejected.status(), StatusCode::UNAUTHORIZED);

    let recorded = api.api.recorded_requests();
    assert_eq!(recorded.len(), 2, "{recorded:#?}");

    let post = &recorded[0];
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, "/items");
    assert_eq!(post.query.as_deref(), Some("dry=false"));
    assert_eq!(post.body, r#"{"name":"flange"}"#);
    let header = |request: &mcpgate_demo::RecordedRequest, name: &str| {
        request
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header(post, "x-demo-key").as_deref(), Some(KEY));
    assert_eq!(header(post, "x-request-id").as_deref(), Some("req-123"));
    assert_eq!(
        header(post, "content-type").as_deref(),
        Some("application/json")
    );
    assert!(
        post.headers
            .iter()
            .all(|(name, _)| *name == name.to_lowercase()),
        "header names are lower-case: {:?}",
        post.headers
    );

    let get = &recorded[1];
    assert_eq!((get.method.as_str(), get.query.as_deref()), ("GET", None));
    assert_eq!(
        header(get, "authorization").as_deref(),
        Some("Bearer agent-token")
    );
    assert_eq!(header(get, "x-demo-key"), None);
    assert_eq!(get.body, "");
}

#[tokio::test]
async fn serves_its_openapi_document_with_six_operations() {
    let api = Running::start().await;

    let response = api
        .client
        .get(api.url("/openapi.yaml"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/yaml")
    );
    let text = response.text().await.expect("body");
    assert_eq!(text, OPENAPI_YAML);

    let doc: yaml_serde::Value = yaml_serde::from_str(&text).expect("valid YAML");
    assert_eq!(doc["openapi"].as_str(), Some("3.0.3"));
    let methods = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let mut operation_ids = BTreeSet::new();
    for (_, path_item) in doc["paths"].as_mapping().expect("paths mapping") {
        for method in methods {
            if let Some(operation) = path_item.get(method) {
                let id = operation["operationId"].as_str().expect("operationId");
                assert!(operation_ids.insert(id.to_owned()), "duplicate {id}");
            }
        }
    }
    let expected = [
        "adjustStock",
        "createItem",
        "deleteItem",
        "getItem",
        "health",
        "listItems",
    ];
    assert_eq!(
        operation_ids.iter().map(String::as_str).collect::<Vec<_>>(),
        expected
    );
}
