//! The HTTP executor against real local HTTP servers.
//!
//! Every test starts its own server on `127.0.0.1:0` that records each
//! request it receives (method, raw path and query, headers, body), so the
//! assertions are about what really went over the wire. Operations come from
//! small inline specs run through the importer, so the whole pipeline from
//! spec to request is exercised. A few servers are bare TCP to produce what a
//! well-behaved framework would not (endless chunked bodies, garbage, stalls).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use mcpgate_core::ToolOutput;
use mcpgate_openapi::{
    BackendCredential, ExecutorConfig, HttpExecutor, HttpOperation, ParamLocation,
    ParameterBinding, import_str,
};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const SECRET: &str = "s3cr3t-T0KEN-value";

// ---------------------------------------------------------------------------
// The recording backend
// ---------------------------------------------------------------------------

/// One request as the server received it.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    /// Raw path and query, exactly as sent (still percent-encoded).
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Recorded {
    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn raw_query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, query)| query)
    }

    /// The decoded query pairs, in order, duplicates kept.
    fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.raw_query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect()
    }

    /// Every value of one header, in order.
    fn header_all(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect()
    }

    /// The only value of a header; fails if it is missing or repeated.
    #[track_caller]
    fn header(&self, name: &str) -> String {
        let all = self.header_all(name);
        assert_eq!(all.len(), 1, "header {name}: {all:?} in {:?}", self.headers);
        all.into_iter().next().unwrap()
    }

    fn body_text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }

    fn form_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }
}

type Responder = Arc<dyn Fn(&Recorded) -> Response + Send + Sync>;

#[derive(Clone)]
struct ServerState {
    requests: Arc<Mutex<Vec<Recorded>>>,
    respond: Responder,
    delay: Duration,
}

/// A local HTTP server that records every request and answers with a
/// responder of the test's choosing.
struct Backend {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Backend {
    /// Answers `200 {"ok":true}` to everything.
    async fn ok() -> Backend {
        Backend::start(|_| json_reply(StatusCode::OK, r#"{"ok":true}"#)).await
    }

    async fn start(respond: impl Fn(&Recorded) -> Response + Send + Sync + 'static) -> Backend {
        Backend::start_slow(Duration::ZERO, respond).await
    }

    /// Records the request at once, then waits `delay` before answering.
    async fn start_slow(
        delay: Duration,
        respond: impl Fn(&Recorded) -> Response + Send + Sync + 'static,
    ) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            requests: requests.clone(),
            respond: Arc::new(respond),
            delay,
        };
        let app = Router::new().fallback(record).with_state(state);
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Backend { addr, requests }
    }

    fn url(&self) -> Url {
        Url::parse(&format!("http://{}/", self.addr)).unwrap()
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    #[track_caller]
    fn only_request(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "expected one request: {requests:#?}");
        requests.into_iter().next().unwrap()
    }

    #[track_caller]
    fn assert_untouched(&self) {
        let requests = self.requests();
        assert!(requests.is_empty(), "no request expected: {requests:#?}");
    }
}

async fn record(
    State(state): State<ServerState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        method: method.to_string(),
        target: uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| uri.to_string()),
        headers,
        body: body.to_vec(),
    };
    state.requests.lock().unwrap().push(recorded.clone());
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    (state.respond)(&recorded)
}

fn json_reply(status: StatusCode, body: &str) -> Response {
    reply(status, "application/json", body.to_owned())
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, content_type.to_owned())],
        body.into(),
    )
        .into_response()
}

/// A bare TCP server: for each connection the request head is read, then
/// `serve` writes whatever it wants on the socket.
async fn raw_backend<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = Arc::new(serve);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let serve = serve.clone();
            tokio::spawn(async move {
                read_request_head(&mut stream).await;
                serve(stream).await;
            });
        }
    });
    addr
}

async fn read_request_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buffer[..n]),
        }
    }
}

fn raw_url(addr: SocketAddr) -> Url {
    Url::parse(&format!("http://{addr}/")).unwrap()
}

/// A port nothing listens on (bound, then released).
async fn closed_port_url() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    raw_url(addr)
}

// ---------------------------------------------------------------------------
// Executors, specs, arguments
// ---------------------------------------------------------------------------

fn executor_with(
    base_url: Url,
    credential: Option<BackendCredential>,
    timeout: Duration,
    max_response_bytes: usize,
) -> HttpExecutor {
    HttpExecutor::new(ExecutorConfig {
        base_url,
        credential,
        timeout,
        max_response_bytes,
    })
    .unwrap()
}

fn executor(base_url: Url, credential: Option<BackendCredential>) -> HttpExecutor {
    executor_with(base_url, credential, Duration::from_secs(5), 1 << 20)
}

fn header_credential(name: &str) -> BackendCredential {
    BackendCredential::Header {
        name: name.to_owned(),
        value: SECRET.into(),
    }
}

fn query_credential(name: &str) -> BackendCredential {
    BackendCredential::Query {
        name: name.to_owned(),
        value: SECRET.into(),
    }
}

fn cookie_credential(name: &str) -> BackendCredential {
    BackendCredential::Cookie {
        name: name.to_owned(),
        value: SECRET.into(),
    }
}

/// The single operation of a spec, imported the way the gateway does.
#[track_caller]
fn only_operation(spec: &Value) -> HttpOperation {
    let import = import_str(&spec.to_string(), "t").unwrap_or_else(|e| panic!("import: {e}"));
    assert_eq!(
        import.tools.len(),
        1,
        "one tool expected; warnings: {:?}",
        import.warnings
    );
    import.tools.into_iter().next().unwrap().operation
}

/// An OpenAPI 3.0 document holding one operation.
fn openapi3(path: &str, method: &str, operation: Value) -> Value {
    let mut item = Map::new();
    item.insert(method.to_owned(), operation);
    let mut paths = Map::new();
    paths.insert(path.to_owned(), Value::Object(item));
    json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": paths,
    })
}

/// A GET operation with these OpenAPI 3 parameter objects.
#[track_caller]
fn get_with(path: &str, parameters: Value) -> HttpOperation {
    only_operation(&openapi3(
        path,
        "get",
        json!({
            "operationId": "op",
            "parameters": parameters,
            "responses": {"200": {"description": "ok"}},
        }),
    ))
}

/// An operation with an OpenAPI 3 request body of one media type.
#[track_caller]
fn with_body(method: &str, media: &str, schema: Value, required: bool) -> HttpOperation {
    let mut content = Map::new();
    content.insert(media.to_owned(), json!({ "schema": schema }));
    only_operation(&openapi3(
        "/items",
        method,
        json!({
            "operationId": "op",
            "requestBody": {"required": required, "content": content},
            "responses": {"200": {"description": "ok"}},
        }),
    ))
}

fn param(name: &str, location: &str, schema: Value, required: bool) -> Value {
    json!({"name": name, "in": location, "required": required, "schema": schema})
}

/// `GET /items`, no parameters.
fn plain_get() -> HttpOperation {
    get_with("/items", json!([]))
}

fn args(value: Value) -> Map<String, Value> {
    value.as_object().expect("arguments object").clone()
}

fn no_args() -> Map<String, Value> {
    Map::new()
}

#[track_caller]
fn assert_ok(output: &ToolOutput) {
    assert!(!output.is_error, "expected success: {output:?}");
}

#[track_caller]
fn assert_error_mentions(output: &ToolOutput, needles: &[&str]) {
    assert!(output.is_error, "expected an error: {output:?}");
    assert!(output.structured.is_none(), "{output:?}");
    for needle in needles {
        assert!(
            output.text.contains(needle),
            "error text should mention {needle:?}: {:?}",
            output.text
        );
    }
}

#[track_caller]
fn assert_secret_absent(output: &ToolOutput) {
    assert!(
        !output.text.contains(SECRET),
        "the credential leaked into the output: {:?}",
        output.text
    );
    assert!(
        !output.text.contains("api_key="),
        "the credential's query pair leaked into the output: {:?}",
        output.text
    );
}

// ---------------------------------------------------------------------------
// Path templating
// ---------------------------------------------------------------------------

#[tokio::test]
async fn path_values_are_percent_encoded_into_one_segment() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = get_with(
        "/files/{name}/meta",
        json!([param("name", "path", json!({"type": "string"}), true)]),
    );
    let cases: &[(Value, &str)] = &[
        (json!("a/b"), "/files/a%2Fb/meta"),
        (json!("../../admin"), "/files/..%2F..%2Fadmin/meta"),
        (json!("what?x=1"), "/files/what%3Fx%3D1/meta"),
        (json!("frag#ment"), "/files/frag%23ment/meta"),
        (json!("two words"), "/files/two%20words/meta"),
        (json!("100%"), "/files/100%25/meta"),
        (json!("%2e%2e"), "/files/%252e%252e/meta"),
        (json!("café ☕"), "/files/caf%C3%A9%20%E2%98%95/meta"),
        (json!("a;b,c&d=e+f"), "/files/a%3Bb%2Cc%26d%3De%2Bf/meta"),
        (json!("..."), "/files/.../meta"),
        (json!("-._~"), "/files/-._~/meta"),
        (json!(42), "/files/42/meta"),
    ];
    for (value, _) in cases {
        let output = executor
            .execute(&operation, &args(json!({ "name": value })))
            .await;
        assert_ok(&output);
    }
    let requests = backend.requests();
    assert_eq!(requests.len(), cases.len());
    for ((value, expected), request) in cases.iter().zip(&requests) {
        assert_eq!(request.method, "GET");
        assert_eq!(request.target, *expected, "value {value}");
        assert_eq!(request.raw_query(), None, "value {value}");
        assert_eq!(
            request.path().split('/').count(),
            4,
            "value {value} must stay one segment: {}",
            request.target
        );
    }
}

#[tokio::test]
async fn path_value_cannot_inject_another_template_variable() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = get_with(
        "/owners/{owner}/pets/{pet}",
        json!([
            param("owner", "path", json!({"type": "string"}), true),
            param("pet", "path", json!({"type": "string"}), true),
        ]),
    );
    let output = executor
        .execute(&operation, &args(json!({"owner": "{pet}", "pet": "rex"})))
        .await;
    assert_ok(&output);
    assert_eq!(backend.only_request().target, "/owners/%7Bpet%7D/pets/rex");
}

#[tokio::test]
async fn dot_dot_dot_and_empty_path_values_are_refused_without_a_request() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(header_credential("X-API-Key")));
    let operation = get_with(
        "/files/{name}",
        json!([param("name", "path", json!({"type": "string"}), true)]),
    );
    for value in [json!("."), json!(".."), json!(""), json!([])] {
        let output = executor
            .execute(&operation, &args(json!({ "name": value })))
            .await;
        assert_error_mentions(&output, &["`name`"]);
        assert_eq!(output.backend_status, None, "{value}: {output:?}");
    }
    backend.assert_untouched();
}

#[tokio::test]
async fn base_url_path_prefix_is_kept_with_or_without_trailing_slash() {
    let backend = Backend::ok().await;
    let operation = get_with(
        "/items/{id}",
        json!([param("id", "path", json!({"type": "integer"}), true)]),
    );
    for prefix in ["api/v2", "api/v2/"] {
        let base = Url::parse(&format!("http://{}/{prefix}", backend.addr)).unwrap();
        let output = executor(base, None)
            .execute(&operation, &args(json!({"id": 7})))
            .await;
        assert_ok(&output);
    }
    let targets: Vec<String> = backend.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/api/v2/items/7", "/api/v2/items/7"]);
}

// ---------------------------------------------------------------------------
// Query, header and cookie parameters
// ---------------------------------------------------------------------------

#[tokio::test]
async fn query_scalars_are_encoded_and_arrays_repeated() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = get_with(
        "/search",
        json!([
            param("q", "query", json!({"type": "string"}), true),
            param("limit", "query", json!({"type": "integer"}), false),
            param("verbose", "query", json!({"type": "boolean"}), false),
            param(
                "tag",
                "query",
                json!({"type": "array", "items": {"type": "string"}}),
                false
            ),
            param("unused", "query", json!({"type": "string"}), false),
            param("nothing", "query", json!({"type": "string"}), false),
        ]),
    );
    let output = executor
        .execute(
            &operation,
            &args(json!({
                "q": "a&b=c #d+é",
                "limit": 10,
                "verbose": true,
                "tag": ["x", "y z"],
                "nothing": null,
            })),
        )
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    assert_eq!(request.path(), "/search");
    assert!(
        !request.target.contains('#') && !request.target.contains(' '),
        "{}",
        request.target
    );
    let expected: Vec<(String, String)> = [
        ("q", "a&b=c #d+é"),
        ("limit", "10"),
        ("verbose", "true"),
        ("tag", "x"),
        ("tag", "y z"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(request.query_pairs(), expected);
}

#[tokio::test]
async fn no_query_string_when_nothing_goes_in_the_query() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = get_with(
        "/items",
        json!([param("page", "query", json!({"type": "integer"}), false)]),
    );
    assert_ok(&executor.execute(&operation, &no_args()).await);
    assert_eq!(backend.only_request().target, "/items");
}

#[tokio::test]
async fn header_parameters_are_sent() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = get_with(
        "/items",
        json!([
            param("X-Request-Id", "header", json!({"type": "string"}), true),
            param("X-Count", "header", json!({"type": "integer"}), false),
            param(
                "X-Tags",
                "header",
                json!({"type": "array", "items": {"type": "string"}}),
                false
            ),
            param("X-Absent", "header", json!({"type": "string"}), false),
        ]),
    );
    let output = executor
        .execute(
            &operation,
            &args(json!({"X-Request-Id": "req-1", "X-Count": 3, "X-Tags": ["a", "b"]})),
        )
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    assert_eq!(request.header("x-request-id"), "req-1");
    assert_eq!(request.header("x-count"), "3");
    assert_eq!(request.header("x-tags"), "a,b");
    assert!(request.header_all("x-absent").is_empty());
    assert_eq!(request.target, "/items");
}

#[tokio::test]
async fn header_argument_with_a_line_break_is_refused_without_a_request() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = get_with(
        "/items",
        json!([param("X-Note", "header", json!({"type": "string"}), true)]),
    );
    let output = executor
        .execute(
            &operation,
            &args(json!({"X-Note": "hi\r\nX-Injected: yes"})),
        )
        .await;
    assert_error_mentions(&output, &["X-Note"]);
    backend.assert_untouched();
}

#[tokio::test]
async fn default_accept_and_user_agent_headers() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    assert_ok(&executor.execute(&plain_get(), &no_args()).await);
    let request = backend.only_request();
    assert!(request.header("accept").contains("application/json"));
    assert!(request.header("user-agent").starts_with("mcpgate/"));
    assert!(request.header_all("authorization").is_empty());
    assert!(request.header_all("cookie").is_empty());
}

#[tokio::test]
async fn cookie_parameters_share_one_cookie_header_with_the_cookie_credential() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(cookie_credential("sid")));
    let operation = get_with(
        "/items",
        json!([
            param("theme", "cookie", json!({"type": "string"}), true),
            param("lang", "cookie", json!({"type": "string"}), false),
            param("unset", "cookie", json!({"type": "string"}), false),
        ]),
    );
    let output = executor
        .execute(
            &operation,
            &args(json!({"theme": "dark", "lang": "en gb; admin=1"})),
        )
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    let cookie = request.header("cookie");
    let cookies: Vec<&str> = cookie.split("; ").collect();
    assert_eq!(
        cookies,
        [
            "theme=dark",
            "lang=en%20gb%3B%20admin=1",
            &format!("sid={SECRET}")
        ],
        "a cookie value must not be able to add a cookie"
    );
}

// ---------------------------------------------------------------------------
// Request bodies
// ---------------------------------------------------------------------------

#[tokio::test]
async fn json_body_is_sent_with_its_content_type() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = with_body(
        "post",
        "application/json",
        json!({"type": "object", "properties": {"name": {"type": "string"}}}),
        true,
    );
    let body = json!({"name": "Rex \"the\" dog", "tags": ["a", "é"], "age": 3, "owner": null});
    let output = executor
        .execute(&operation, &args(json!({ "body": body })))
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/items");
    assert_eq!(request.header("content-type"), "application/json");
    let sent: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(sent, body);
}

#[tokio::test]
async fn vendor_json_body_keeps_the_spec_media_type() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = with_body(
        "patch",
        "application/merge-patch+json",
        json!({"type": "object"}),
        false,
    );
    let output = executor
        .execute(&operation, &args(json!({"body": {"name": null}})))
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    assert_eq!(request.method, "PATCH");
    assert_eq!(
        request.header("content-type"),
        "application/merge-patch+json"
    );
    assert_eq!(request.body_text(), r#"{"name":null}"#);
}

#[tokio::test]
async fn optional_body_left_out_sends_no_body() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = with_body("put", "application/json", json!({"type": "object"}), false);
    assert_ok(&executor.execute(&operation, &no_args()).await);
    let request = backend.only_request();
    assert_eq!(request.method, "PUT");
    assert!(request.body.is_empty());
    assert!(request.header_all("content-type").is_empty());
}

#[tokio::test]
async fn swagger2_form_data_parameters_become_a_urlencoded_body() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = only_operation(&json!({
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "host": "example.com",
        "paths": {"/pets/{id}": {"post": {
            "operationId": "updatePet",
            "consumes": ["application/x-www-form-urlencoded"],
            "parameters": [
                {"name": "id", "in": "path", "required": true, "type": "integer"},
                {"name": "name", "in": "formData", "required": true, "type": "string"},
                {"name": "note", "in": "formData", "type": "string"},
                {"name": "count", "in": "formData", "type": "integer"},
                {"name": "unset", "in": "formData", "type": "string"},
            ],
            "responses": {"200": {"description": "ok"}},
        }}},
    }));
    assert!(
        operation
            .parameters
            .iter()
            .any(|p| p.location == ParamLocation::Form)
    );
    let output = executor
        .execute(
            &operation,
            &args(json!({"id": 5, "name": "Rex", "note": "a&b=c d+é", "count": 2})),
        )
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.target, "/pets/5");
    assert_eq!(
        request.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let expected: Vec<(String, String)> = [("name", "Rex"), ("note", "a&b=c d+é"), ("count", "2")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(request.form_pairs(), expected);
}

#[tokio::test]
async fn swagger2_missing_required_form_field_is_refused_without_a_request() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = only_operation(&json!({
        "swagger": "2.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/login": {"post": {
            "operationId": "login",
            "consumes": ["application/x-www-form-urlencoded"],
            "parameters": [
                {"name": "user", "in": "formData", "required": true, "type": "string"},
            ],
            "responses": {"200": {"description": "ok"}},
        }}},
    }));
    let output = executor.execute(&operation, &no_args()).await;
    assert_error_mentions(&output, &["`user`"]);
    backend.assert_untouched();
}

#[tokio::test]
async fn openapi3_urlencoded_body_is_form_encoded() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = with_body(
        "post",
        "application/x-www-form-urlencoded",
        json!({"type": "object", "properties": {
            "grant_type": {"type": "string"},
            "scope": {"type": "string"},
            "n": {"type": "integer"},
        }}),
        true,
    );
    let output = executor
        .execute(
            &operation,
            &args(
                json!({"body": {"grant_type": "client_credentials", "scope": "a b&c=d", "n": 2}}),
            ),
        )
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    assert_eq!(
        request.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    let expected: Vec<(String, String)> = [
        ("grant_type", "client_credentials"),
        ("scope", "a b&c=d"),
        ("n", "2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(request.form_pairs(), expected);
}

#[tokio::test]
async fn text_body_is_sent_verbatim() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = with_body("post", "text/plain", json!({"type": "string"}), true);
    let text = "line one\nline \"two\" ✓ {not json}";
    let output = executor
        .execute(&operation, &args(json!({ "body": text })))
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    assert_eq!(request.header("content-type"), "text/plain");
    assert_eq!(request.body_text(), text);
}

#[tokio::test]
async fn wildcard_media_type_body_is_sent_as_json() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = with_body("post", "*/*", json!({"type": "object"}), true);
    let output = executor
        .execute(&operation, &args(json!({"body": {"a": 1}})))
        .await;
    assert_ok(&output);
    let request = backend.only_request();
    assert_eq!(request.body_text(), r#"{"a":1}"#);
    assert_eq!(
        request.header("content-type"),
        "application/json",
        "`*/*` is a range for Accept, not a Content-Type"
    );
}

#[tokio::test]
async fn missing_required_body_is_refused_without_a_request() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), None);
    let operation = with_body("post", "application/json", json!({"type": "object"}), true);
    let output = executor.execute(&operation, &no_args()).await;
    assert_error_mentions(&output, &["missing required argument", "`body`"]);
    backend.assert_untouched();
}

// ---------------------------------------------------------------------------
// Missing arguments
// ---------------------------------------------------------------------------

#[tokio::test]
async fn missing_or_null_required_arguments_are_refused_without_a_request() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(header_credential("X-API-Key")));
    let operation = get_with(
        "/items/{id}",
        json!([
            param("id", "path", json!({"type": "string"}), true),
            param("q", "query", json!({"type": "string"}), true),
            param("X-Trace", "header", json!({"type": "string"}), true),
        ]),
    );
    let cases = [
        (json!({"q": "x", "X-Trace": "t"}), "`id`"),
        (json!({"id": null, "q": "x", "X-Trace": "t"}), "`id`"),
        (json!({"id": "1", "X-Trace": "t"}), "`q`"),
        (json!({"id": "1", "q": null, "X-Trace": "t"}), "`q`"),
        (json!({"id": "1", "q": "x"}), "`X-Trace`"),
    ];
    for (arguments, missing) in cases {
        let output = executor.execute(&operation, &args(arguments)).await;
        assert_error_mentions(&output, &["missing required argument", missing]);
        assert_eq!(output.backend_status, None);
    }
    backend.assert_untouched();
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

#[tokio::test]
async fn header_credential_is_sent_as_configured() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(header_credential("X-API-Key")));
    assert_ok(&executor.execute(&plain_get(), &no_args()).await);
    let request = backend.only_request();
    assert_eq!(request.header("x-api-key"), SECRET);
    assert_eq!(request.target, "/items");
    assert!(request.header_all("authorization").is_empty());
}

#[tokio::test]
async fn query_credential_is_appended_after_the_query_arguments() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(query_credential("api_key")));
    let operation = get_with(
        "/items",
        json!([param("q", "query", json!({"type": "string"}), false)]),
    );
    assert_ok(&executor.execute(&operation, &args(json!({"q": "x"}))).await);
    assert_ok(&executor.execute(&operation, &no_args()).await);
    let requests = backend.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].query_pairs(),
        [
            ("q".to_owned(), "x".to_owned()),
            ("api_key".to_owned(), SECRET.to_owned())
        ]
    );
    assert_eq!(
        requests[1].query_pairs(),
        [("api_key".to_owned(), SECRET.to_owned())]
    );
    assert!(requests[0].header_all("authorization").is_empty());
}

#[tokio::test]
async fn cookie_credential_is_sent_as_a_cookie() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(cookie_credential("session")));
    assert_ok(&executor.execute(&plain_get(), &no_args()).await);
    let request = backend.only_request();
    assert_eq!(request.header("cookie"), format!("session={SECRET}"));
    assert_eq!(request.target, "/items");
}

#[tokio::test]
async fn bearer_credential_is_sent_as_authorization() {
    let backend = Backend::ok().await;
    let executor = executor(
        backend.url(),
        Some(BackendCredential::Bearer(SECRET.into())),
    );
    assert_ok(&executor.execute(&plain_get(), &no_args()).await);
    let request = backend.only_request();
    assert_eq!(request.header("authorization"), format!("Bearer {SECRET}"));
    assert_eq!(request.target, "/items");
}

#[tokio::test]
async fn basic_credential_is_base64_of_user_colon_password() {
    let backend = Backend::ok().await;
    let executor = executor(
        backend.url(),
        Some(BackendCredential::Basic {
            username: "alice".to_owned(),
            password: "p@ss:wörd".into(),
        }),
    );
    assert_ok(&executor.execute(&plain_get(), &no_args()).await);
    let request = backend.only_request();
    let authorization = request.header("authorization");
    let encoded = authorization
        .strip_prefix("Basic ")
        .unwrap_or_else(|| panic!("not Basic: {authorization}"));
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    assert_eq!(String::from_utf8(decoded).unwrap(), "alice:p@ss:wörd");
}

#[tokio::test]
async fn header_argument_cannot_override_the_header_credential() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(header_credential("X-API-Key")));
    // Same header, different spelling: header names are case-insensitive.
    let operation = get_with(
        "/items",
        json!([param(
            "x-api-key",
            "header",
            json!({"type": "string"}),
            true
        )]),
    );
    let output = executor
        .execute(&operation, &args(json!({"x-api-key": "forged"})))
        .await;
    assert_ok(&output);
    assert_eq!(backend.only_request().header("x-api-key"), SECRET);
}

#[tokio::test]
async fn authorization_header_parameter_is_ignored_by_the_importer() {
    let spec = openapi3(
        "/items",
        "get",
        json!({
            "operationId": "op",
            "parameters": [
                param("Authorization", "header", json!({"type": "string"}), true),
                param("accept", "header", json!({"type": "string"}), true),
                param("Content-Type", "header", json!({"type": "string"}), false),
                param("q", "query", json!({"type": "string"}), false),
            ],
            "responses": {"200": {"description": "ok"}},
        }),
    );
    let import = import_str(&spec.to_string(), "t").unwrap();
    let tool = &import.tools[0];
    let bound: Vec<&str> = tool
        .operation
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(bound, ["q"]);
    let properties = tool.spec.input_schema["properties"].as_object().unwrap();
    assert_eq!(properties.keys().collect::<Vec<_>>(), ["q"]);
    assert!(tool.spec.input_schema.get("required").is_none());

    // Even when passed anyway, such an argument goes nowhere.
    let forged = args(json!({"Authorization": "Bearer forged", "accept": "text/evil", "q": "x"}));
    let backend = Backend::ok().await;
    let with_credential = executor(
        backend.url(),
        Some(BackendCredential::Bearer(SECRET.into())),
    );
    assert_ok(&with_credential.execute(&tool.operation, &forged).await);
    let without_credential = executor(backend.url(), None);
    assert_ok(&without_credential.execute(&tool.operation, &forged).await);
    let requests = backend.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0].header("authorization"),
        format!("Bearer {SECRET}")
    );
    assert!(requests[1].header_all("authorization").is_empty());
    for request in &requests {
        assert!(!request.header("accept").contains("evil"));
    }
}

#[tokio::test]
async fn hand_built_authorization_binding_cannot_override_bearer_or_basic() {
    // Defence in depth: even an operation not made by the importer cannot
    // replace the credential's Authorization header.
    let operation = HttpOperation {
        method: "GET".to_owned(),
        path: "/items".to_owned(),
        server: None,
        parameters: vec![ParameterBinding {
            name: "Authorization".to_owned(),
            argument: "auth".to_owned(),
            location: ParamLocation::Header,
            required: true,
        }],
        body: None,
        form_content_type: None,
    };
    let backend = Backend::ok().await;
    let forged = args(json!({"auth": "Bearer forged"}));
    let bearer = executor(
        backend.url(),
        Some(BackendCredential::Bearer(SECRET.into())),
    );
    assert_ok(&bearer.execute(&operation, &forged).await);
    let basic = executor(
        backend.url(),
        Some(BackendCredential::Basic {
            username: "u".to_owned(),
            password: SECRET.into(),
        }),
    );
    assert_ok(&basic.execute(&operation, &forged).await);
    let requests = backend.requests();
    assert_eq!(
        requests[0].header("authorization"),
        format!("Bearer {SECRET}")
    );
    assert!(requests[1].header("authorization").starts_with("Basic "));
}

#[tokio::test]
async fn query_argument_cannot_override_the_query_credential() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(query_credential("api_key")));
    let operation = get_with(
        "/items",
        json!([param("api_key", "query", json!({"type": "string"}), false)]),
    );
    let _ = executor
        .execute(&operation, &args(json!({"api_key": "forged"})))
        .await;
    let request = backend.only_request();
    let values: Vec<String> = request
        .query_pairs()
        .into_iter()
        .filter(|(k, _)| k == "api_key")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(values, [SECRET], "target: {}", request.target);
}

#[tokio::test]
async fn cookie_argument_cannot_override_the_cookie_credential() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(cookie_credential("sid")));
    let operation = get_with(
        "/items",
        json!([param("sid", "cookie", json!({"type": "string"}), false)]),
    );
    let _ = executor
        .execute(&operation, &args(json!({"sid": "forged"})))
        .await;
    let cookie = backend.only_request().header("cookie");
    let sids: Vec<&str> = cookie
        .split("; ")
        .filter_map(|c| c.strip_prefix("sid="))
        .collect();
    assert_eq!(sids, [SECRET], "cookie header: {cookie}");
}

#[tokio::test]
async fn cookie_header_argument_cannot_replace_the_cookie_credential() {
    let backend = Backend::ok().await;
    let executor = executor(backend.url(), Some(cookie_credential("sid")));
    let operation = get_with(
        "/items",
        json!([param("Cookie", "header", json!({"type": "string"}), false)]),
    );
    let output = executor
        .execute(&operation, &args(json!({"Cookie": "sid=forged"})))
        .await;
    assert_ok(&output);
    assert_eq!(
        backend.only_request().header("cookie"),
        format!("sid={SECRET}")
    );
}

#[tokio::test]
async fn executor_debug_output_hides_every_credential() {
    let base = Url::parse("http://127.0.0.1:9/").unwrap();
    let credentials = [
        header_credential("X-API-Key"),
        query_credential("api_key"),
        cookie_credential("sid"),
        BackendCredential::Bearer(SECRET.into()),
        BackendCredential::Basic {
            username: "alice".to_owned(),
            password: SECRET.into(),
        },
    ];
    for credential in credentials {
        let debug = format!("{:?}", executor(base.clone(), Some(credential)));
        assert!(!debug.contains(SECRET), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
    }
}

// ---------------------------------------------------------------------------
// The query-string credential stays out of error texts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn query_credential_is_not_in_the_connection_refused_error() {
    let executor = executor(closed_port_url().await, Some(query_credential("api_key")));
    let operation = get_with(
        "/items",
        json!([param("q", "query", json!({"type": "string"}), false)]),
    );
    let output = executor.execute(&operation, &args(json!({"q": "x"}))).await;
    assert_error_mentions(&output, &["connect"]);
    assert_eq!(output.backend_status, None);
    assert_secret_absent(&output);
}

#[tokio::test]
async fn query_credential_is_not_in_the_timeout_error() {
    let backend =
        Backend::start_slow(Duration::from_secs(3), |_| json_reply(StatusCode::OK, "{}")).await;
    let executor = executor_with(
        backend.url(),
        Some(query_credential("api_key")),
        Duration::from_millis(300),
        1 << 20,
    );
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_error_mentions(&output, &["did not answer"]);
    assert_secret_absent(&output);
    // The request did go out with the credential: only the text is clean.
    assert_eq!(
        backend.only_request().query_pairs(),
        [("api_key".to_owned(), SECRET.to_owned())]
    );
}

#[tokio::test]
async fn query_credential_is_not_in_the_malformed_response_error() {
    let addr = raw_backend(|mut stream| async move {
        let _ = stream.write_all(b"this is not HTTP at all\r\n\r\n").await;
    })
    .await;
    let executor = executor(raw_url(addr), Some(query_credential("api_key")));
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert!(output.is_error, "{output:?}");
    assert_secret_absent(&output);
}

#[tokio::test]
async fn query_credential_is_not_in_the_connection_closed_error() {
    let addr = raw_backend(|stream| async move { drop(stream) }).await;
    let executor = executor(raw_url(addr), Some(query_credential("api_key")));
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert!(output.is_error, "{output:?}");
    assert_secret_absent(&output);
}

#[tokio::test]
async fn query_credential_is_not_in_the_truncated_body_error() {
    let addr = raw_backend(|mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"partial\":")
            .await;
    })
    .await;
    let executor = executor(raw_url(addr), Some(query_credential("api_key")));
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert!(output.is_error, "{output:?}");
    assert_eq!(output.backend_status, Some(200));
    assert_secret_absent(&output);
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

#[tokio::test]
async fn error_status_is_an_error_with_status_and_trimmed_body() {
    let backend = Backend::start(|_| {
        reply(
            StatusCode::NOT_FOUND,
            "application/json",
            "\n  {\"error\":\"no such pet\"}  \n",
        )
    })
    .await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_error_mentions(&output, &["404", r#"{"error":"no such pet"}"#]);
    assert_eq!(output.backend_status, Some(404));
    assert!(
        !output.text.ends_with(char::is_whitespace),
        "{:?}",
        output.text
    );
}

#[tokio::test]
async fn empty_error_body_says_so() {
    let backend = Backend::start(|_| StatusCode::SERVICE_UNAVAILABLE.into_response()).await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_error_mentions(&output, &["503", "empty body"]);
    assert_eq!(output.backend_status, Some(503));
}

#[tokio::test]
async fn long_error_body_is_cut_to_about_2000_chars_and_says_how_long_it_was() {
    let body = format!("START{}END", "x".repeat(10_240 - 8));
    assert_eq!(body.len(), 10_240);
    let backend = Backend::start(move |_| {
        reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            body.clone(),
        )
    })
    .await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_error_mentions(&output, &["500", "START", "10240 bytes"]);
    assert!(!output.text.contains("END"), "the tail must be cut");
    let chars = output.text.chars().count();
    assert!(
        (2_000..2_200).contains(&chars),
        "about 2,000 characters expected, got {chars}"
    );
    assert_eq!(output.backend_status, Some(500));
}

#[tokio::test]
async fn long_multibyte_error_body_is_cut_on_a_character_boundary() {
    // 1 + 3 × 3413 = 10,240 bytes; byte 2,000 falls inside a `€`.
    let body = format!("a{}", "€".repeat(3_413));
    let backend =
        Backend::start(move |_| reply(StatusCode::BAD_REQUEST, "text/plain", body.clone())).await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_error_mentions(&output, &["400", "10240 bytes"]);
    assert!(!output.text.contains('\u{FFFD}'), "{:?}", output.text);
}

#[tokio::test]
async fn json_object_response_is_structured() {
    let backend = Backend::start(|_| json_reply(StatusCode::OK, r#"{"id":1,"tags":["a"]}"#)).await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_ok(&output);
    assert_eq!(output.structured, Some(json!({"id": 1, "tags": ["a"]})));
    assert_eq!(output.backend_status, Some(200));
    assert!(output.text.contains("\"id\""), "{:?}", output.text);
}

#[tokio::test]
async fn json_array_response_is_wrapped_in_result() {
    let backend = Backend::start(|_| json_reply(StatusCode::OK, r#"[{"id":1},{"id":2}]"#)).await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_ok(&output);
    assert_eq!(
        output.structured,
        Some(json!({"result": [{"id": 1}, {"id": 2}]}))
    );
}

#[tokio::test]
async fn vendor_json_response_with_parameters_is_structured() {
    let backend = Backend::start(|_| {
        reply(
            StatusCode::CREATED,
            "application/vnd.api+json; charset=utf-8",
            r#"{"data":{"id":"1"}}"#,
        )
    })
    .await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_ok(&output);
    assert_eq!(output.backend_status, Some(201));
    assert_eq!(output.structured, Some(json!({"data": {"id": "1"}})));
}

#[tokio::test]
async fn no_content_response_says_so() {
    let backend = Backend::start(|_| StatusCode::NO_CONTENT.into_response()).await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_ok(&output);
    assert_eq!(output.backend_status, Some(204));
    assert!(output.structured.is_none());
    assert!(output.text.contains("204"), "{:?}", output.text);
    assert!(output.text.contains("no content"), "{:?}", output.text);
}

#[tokio::test]
async fn non_json_success_has_no_structured_content() {
    let backend =
        Backend::start(|_| reply(StatusCode::OK, "text/plain", r#"{"looks":"like json"}"#)).await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_ok(&output);
    assert!(output.structured.is_none(), "{output:?}");
    assert_eq!(output.text, r#"{"looks":"like json"}"#);
}

#[tokio::test]
async fn invalid_json_with_a_json_content_type_is_kept_as_text() {
    let backend = Backend::start(|_| json_reply(StatusCode::OK, "{not json")).await;
    let executor = executor(backend.url(), None);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_ok(&output);
    assert!(output.structured.is_none());
    assert_eq!(output.text, "{not json");
}

// ---------------------------------------------------------------------------
// Response size limit
// ---------------------------------------------------------------------------

#[tokio::test]
async fn response_larger_than_the_limit_is_an_error() {
    let backend =
        Backend::start(|_| json_reply(StatusCode::OK, &format!("\"{}\"", "x".repeat(4_094)))).await;
    let executor = executor_with(backend.url(), None, Duration::from_secs(5), 1_024);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_error_mentions(&output, &["1024-byte limit"]);
    assert_eq!(output.backend_status, Some(200));
}

#[tokio::test]
async fn response_exactly_at_the_limit_is_accepted() {
    let backend = Backend::start(|_| reply(StatusCode::OK, "text/plain", "y".repeat(1_024))).await;
    let executor = executor_with(backend.url(), None, Duration::from_secs(5), 1_024);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_ok(&output);
    assert_eq!(output.text.len(), 1_024);
}

/// A chunked body of `chunks` × 512 bytes of a JSON string (endless when
/// `None`), a chunk every few milliseconds.
async fn chunked_backend(chunks: Option<usize>) -> SocketAddr {
    raw_backend(move |mut stream| async move {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                    Transfer-Encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let mut sent = 0;
        while chunks.is_none_or(|n| sent < n) {
            let mut data = vec![b'z'; 512];
            if sent == 0 {
                data[0] = b'"';
            }
            if Some(sent + 1) == chunks {
                data[511] = b'"';
            }
            let mut frame = format!("{:x}\r\n", data.len()).into_bytes();
            frame.extend_from_slice(&data);
            frame.extend_from_slice(b"\r\n");
            if stream.write_all(&frame).await.is_err() {
                return;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    })
    .await
}

#[tokio::test]
async fn chunked_response_within_the_limit_is_read_whole() {
    let addr = chunked_backend(Some(8)).await;
    let executor = executor_with(raw_url(addr), None, Duration::from_secs(5), 4_096);
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_ok(&output);
    assert_eq!(output.text.len(), 4_096);
    assert_eq!(
        output.structured,
        Some(json!({"result": "z".repeat(4_094)}))
    );
}

#[tokio::test]
async fn endless_chunked_response_is_cut_at_the_limit() {
    let addr = chunked_backend(None).await;
    let executor = executor_with(raw_url(addr), None, Duration::from_secs(5), 4_000);
    let started = Instant::now();
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_error_mentions(&output, &["4000-byte limit"]);
    assert_eq!(output.backend_status, Some(200));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "must stop reading at the limit, not at the timeout: {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------

#[tokio::test]
async fn redirects_are_not_followed() {
    let elsewhere = Backend::ok().await;
    let target = format!("http://{}/stolen?from=redirect", elsewhere.addr);
    for status in [301u16, 302, 303, 307, 308] {
        let location = target.clone();
        let backend = Backend::start(move |_| {
            (
                StatusCode::from_u16(status).unwrap(),
                [(header::LOCATION, location.clone())],
            )
                .into_response()
        })
        .await;
        let executor = executor(backend.url(), Some(header_credential("X-API-Key")));
        let output = executor.execute(&plain_get(), &no_args()).await;
        assert!(output.is_error, "{status}: {output:?}");
        assert_eq!(output.backend_status, Some(status));
        assert!(output.text.contains(&status.to_string()), "{output:?}");
        assert_eq!(backend.only_request().header("x-api-key"), SECRET);
    }
    elsewhere.assert_untouched();
}

// ---------------------------------------------------------------------------
// Timeouts
// ---------------------------------------------------------------------------

#[tokio::test]
async fn slow_backend_times_out() {
    let backend =
        Backend::start_slow(Duration::from_secs(3), |_| json_reply(StatusCode::OK, "{}")).await;
    let executor = executor_with(backend.url(), None, Duration::from_millis(300), 1 << 20);
    let started = Instant::now();
    let output = executor.execute(&plain_get(), &no_args()).await;
    let elapsed = started.elapsed();
    assert_error_mentions(&output, &["did not answer within", "0.3 s"]);
    assert_eq!(output.backend_status, None);
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    assert_eq!(backend.requests().len(), 1);
}

#[tokio::test]
async fn stalled_response_body_times_out() {
    let addr = raw_backend(|mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\nfirst bytes")
            .await;
        tokio::time::sleep(Duration::from_secs(3)).await;
    })
    .await;
    let executor = executor_with(raw_url(addr), None, Duration::from_millis(300), 1 << 20);
    let started = Instant::now();
    let output = executor.execute(&plain_get(), &no_args()).await;
    assert_error_mentions(&output, &["did not answer within"]);
    assert_eq!(output.backend_status, Some(200));
    assert!(started.elapsed() < Duration::from_secs(2));
}

// ---------------------------------------------------------------------------
// What comes back from the backend
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_backend_echoing_its_own_credential_does_not_hand_it_to_the_caller() {
    // A success body and an error body that both repeat the key they got.
    let backend = Backend::start(|request| {
        let key = request
            .headers
            .get("x-backend-key")
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let status = if request.target.contains("fail") {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        json_reply(
            status,
            &format!(r#"{{"you_sent":"{key}","note":"key {key} accepted"}}"#),
        )
    })
    .await;
    let executor = executor(backend.url(), Some(header_credential("X-Backend-Key")));
    for path in ["/ok", "/fail"] {
        let output = executor
            .execute(&get_with(path, json!([])), &no_args())
            .await;
        assert_secret_absent(&output);
        assert!(output.text.contains("[REDACTED]"), "{}", output.text);
        if let Some(structured) = &output.structured {
            assert_eq!(
                structured["you_sent"], "[REDACTED]",
                "structured content is scrubbed too"
            );
        }
    }
}

#[tokio::test]
async fn credentials_in_backend_error_bodies_are_redacted() {
    let leaked = "db connect postgres://svc:dbpass-9911@db.internal/app failed; \
                  session Bearer abcdefgh12345678; key sk_live_0123456789abcdefghij";
    let backend =
        Backend::start(move |_| reply(StatusCode::BAD_GATEWAY, "text/plain", leaked)).await;
    let output = executor(backend.url(), None)
        .execute(&plain_get(), &no_args())
        .await;
    assert!(output.is_error);
    for secret in [
        "dbpass-9911",
        "abcdefgh12345678",
        "sk_live_0123456789abcdefghij",
    ] {
        assert!(
            !output.text.contains(secret),
            "{secret} leaked: {}",
            output.text
        );
    }
    assert!(
        output.text.contains("502") && output.text.contains("db.internal"),
        "{}",
        output.text
    );
}
