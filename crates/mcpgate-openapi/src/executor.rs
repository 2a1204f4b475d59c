//! Performing a tool call as an HTTP request to the REST API.
//!
//! The request is built only from the tool's arguments and the backend's own
//! credential. Nothing from the MCP caller's request (headers, tokens) is in
//! reach of this module, so nothing of it can be forwarded.

use std::time::Duration;

use mcpgate_core::{REDACTED, Redactor, ToolOutput};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use url::Url;

use crate::operation::{BodyEncoding, HttpOperation, ParamLocation};

/// Characters left as they are in a path segment: RFC 3986 "unreserved".
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Characters escaped in a cookie value (RFC 6265 `cookie-octet` excludes these).
const COOKIE_VALUE: &AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

/// The longest piece of an error body shown to the model.
const ERROR_BODY_LIMIT: usize = 2_000;

/// The backend's own credential, presented on every request to it.
pub enum BackendCredential {
    /// A header such as `X-API-Key: …`.
    Header {
        /// Header name.
        name: String,
        /// The secret.
        value: SecretString,
    },
    /// A query parameter such as `?api_key=…`.
    Query {
        /// Parameter name.
        name: String,
        /// The secret.
        value: SecretString,
    },
    /// A cookie.
    Cookie {
        /// Cookie name.
        name: String,
        /// The secret.
        value: SecretString,
    },
    /// `Authorization: Bearer …`.
    Bearer(SecretString),
    /// `Authorization: Basic …`.
    Basic {
        /// User name.
        username: String,
        /// The password.
        password: SecretString,
    },
}

impl std::fmt::Debug for BackendCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Name where the secret goes, never the secret.
        match self {
            BackendCredential::Header { name, .. } => write!(f, "Header({name}: [redacted])"),
            BackendCredential::Query { name, .. } => write!(f, "Query({name}=[redacted])"),
            BackendCredential::Cookie { name, .. } => write!(f, "Cookie({name}=[redacted])"),
            BackendCredential::Bearer(_) => f.write_str("Bearer([redacted])"),
            BackendCredential::Basic { username, .. } => write!(f, "Basic({username}:[redacted])"),
        }
    }
}

/// Where and how the executor reaches one REST API.
#[derive(Debug)]
pub struct ExecutorConfig {
    /// The API's base URL; operation paths are appended to it. The backend
    /// credential is only ever sent here.
    pub base_url: Url,
    /// The backend's credential, if it needs one.
    pub credential: Option<BackendCredential>,
    /// Limit for the whole exchange.
    pub timeout: Duration,
    /// Largest response body accepted.
    pub max_response_bytes: usize,
}

/// Executes tool calls as HTTP requests against one REST API.
#[derive(Debug)]
pub struct HttpExecutor {
    client: reqwest::Client,
    config: ExecutorConfig,
}

/// Why a request could not be built from the arguments.
struct ArgumentError(String);

impl HttpExecutor {
    /// A new executor. Redirects are not followed: a redirect could carry
    /// the backend credential to a host nobody configured.
    pub fn new(config: ExecutorConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("mcpgate/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpExecutor { client, config })
    }

    /// The configured base URL.
    pub fn base_url(&self) -> &Url {
        &self.config.base_url
    }

    /// Perform `operation` with `arguments` (already validated against the
    /// tool's input schema). Failures become error outputs the model can
    /// read; this never panics on input.
    pub async fn execute(
        &self,
        operation: &HttpOperation,
        arguments: &Map<String, Value>,
    ) -> ToolOutput {
        let request = match self.build(operation, arguments) {
            Ok(request) => request,
            Err(ArgumentError(message)) => return ToolOutput::error(message),
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return ToolOutput::error(self.describe_network_error(error)),
        };
        self.read_response(response).await
    }

    fn build(
        &self,
        operation: &HttpOperation,
        arguments: &Map<String, Value>,
    ) -> Result<reqwest::RequestBuilder, ArgumentError> {
        let mut path = operation.path.clone();
        let mut query: Vec<(String, String)> = Vec::new();
        let mut headers = HeaderMap::new();
        let mut cookies: Vec<String> = Vec::new();
        let mut form: Vec<(String, String)> = Vec::new();

        for param in &operation.parameters {
            let Some(value) = arguments.get(&param.argument).filter(|v| !v.is_null()) else {
                if param.required {
                    return Err(ArgumentError(format!(
                        "missing required argument `{}`",
                        param.argument
                    )));
                }
                continue;
            };
            match param.location {
                ParamLocation::Path => {
                    let text = simple_text(value);
                    if text.is_empty() || text == "." || text == ".." {
                        return Err(ArgumentError(format!(
                            "argument `{}` must be a non-empty path segment other than `.` or `..`",
                            param.argument
                        )));
                    }
                    let encoded = utf8_percent_encode(&text, PATH_SEGMENT).to_string();
                    path = path.replace(&format!("{{{}}}", param.name), &encoded);
                }
                ParamLocation::Query => match value {
                    Value::Array(items) => query.extend(
                        items
                            .iter()
                            .map(|item| (param.name.clone(), simple_text(item))),
                    ),
                    other => query.push((param.name.clone(), simple_text(other))),
                },
                ParamLocation::Header => {
                    let name = HeaderName::from_bytes(param.name.as_bytes()).map_err(|_| {
                        ArgumentError(format!("`{}` is not a valid header name", param.name))
                    })?;
                    let value = HeaderValue::from_str(&simple_text(value)).map_err(|_| {
                        ArgumentError(format!(
                            "argument `{}` cannot be sent as a header (control characters?)",
                            param.argument
                        ))
                    })?;
                    headers.insert(name, value);
                }
                ParamLocation::Cookie => cookies.push(format!(
                    "{}={}",
                    param.name,
                    utf8_percent_encode(&simple_text(value), COOKIE_VALUE)
                )),
                ParamLocation::Form => form.push((param.name.clone(), simple_text(value))),
            }
        }

        // An argument must not shadow the credential: servers that read the
        // first of repeated query keys or cookies would take the argument.
        match &self.config.credential {
            Some(BackendCredential::Query { name, .. }) => query.retain(|(key, _)| key != name),
            Some(BackendCredential::Cookie { name, .. }) => cookies
                .retain(|cookie| cookie.split_once('=').map(|(key, _)| key) != Some(name.as_str())),
            _ => {}
        }
        let base = self.config.base_url.as_str().trim_end_matches('/');
        let mut url = Url::parse(&format!("{base}{path}"))
            .map_err(|e| ArgumentError(format!("the arguments do not make a valid URL: {e}")))?;
        {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in &query {
                pairs.append_pair(name, value);
            }
            if let Some(BackendCredential::Query { name, value }) = &self.config.credential {
                pairs.append_pair(name, value.expose_secret());
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }

        let method = reqwest::Method::from_bytes(operation.method.as_bytes())
            .map_err(|_| ArgumentError(format!("unsupported HTTP method {}", operation.method)))?;
        if !headers.contains_key(ACCEPT) {
            headers.insert(
                ACCEPT,
                HeaderValue::from_static("application/json, */*;q=0.5"),
            );
        }
        // The credential goes in last so that no argument can replace it.
        match &self.config.credential {
            Some(BackendCredential::Header { name, value }) => {
                let name = HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| ArgumentError(format!("`{name}` is not a valid header name")))?;
                headers.insert(name, sensitive(value.expose_secret())?);
            }
            Some(BackendCredential::Bearer(token)) => {
                headers.insert(
                    AUTHORIZATION,
                    sensitive(&format!("Bearer {}", token.expose_secret()))?,
                );
            }
            Some(BackendCredential::Basic { username, password }) => {
                use base64::Engine as _;
                let pair = format!("{username}:{}", password.expose_secret());
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                headers.insert(AUTHORIZATION, sensitive(&format!("Basic {encoded}"))?);
            }
            Some(BackendCredential::Cookie { name, value }) => cookies.push(format!(
                "{name}={}",
                utf8_percent_encode(value.expose_secret(), COOKIE_VALUE)
            )),
            Some(BackendCredential::Query { .. }) | None => {}
        }
        if !cookies.is_empty() {
            let mut value = HeaderValue::from_str(&cookies.join("; ")).map_err(|_| {
                ArgumentError("a cookie argument holds characters a cookie cannot".to_owned())
            })?;
            value.set_sensitive(true);
            headers.insert(COOKIE, value);
        }

        let mut request = self.client.request(method, url);
        if let Some(body) = &operation.body {
            if let Some(value) = arguments.get(&body.argument).filter(|v| !v.is_null()) {
                headers.insert(
                    CONTENT_TYPE,
                    HeaderValue::from_str(&body.content_type)
                        .unwrap_or(HeaderValue::from_static("application/json")),
                );
                request = match body.encoding {
                    BodyEncoding::Json => request.body(value.to_string()),
                    BodyEncoding::Text => request.body(simple_text(value)),
                    BodyEncoding::Form => {
                        let fields = value
                            .as_object()
                            .into_iter()
                            .flatten()
                            .map(|(k, v)| (k.clone(), simple_text(v)));
                        request.body(form_encode(fields))
                    }
                };
            } else if body.required {
                return Err(ArgumentError(format!(
                    "missing required argument `{}`",
                    body.argument
                )));
            }
        } else if let Some(content_type) = &operation.form_content_type
            && !form.is_empty()
        {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static(
                    "application/x-www-form-urlencoded",
                )),
            );
            request = request.body(form_encode(form));
        }
        Ok(request.headers(headers))
    }

    async fn read_response(&self, mut response: reqwest::Response) -> ToolOutput {
        let status = response.status();
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let essence = ct.split(';').next().unwrap_or_default().trim();
                essence == "application/json" || essence.ends_with("+json")
            });
        let limit = self.config.max_response_bytes;
        let mut body: Vec<u8> = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > limit {
                        return ToolOutput {
                            text: format!(
                                "The backend's response (HTTP {}) is larger than the {limit}-byte limit; \
                                 ask for less (filters, paging) or raise max_response_bytes for this backend.",
                                status.as_u16()
                            ),
                            structured: None,
                            is_error: true,
                            backend_status: Some(status.as_u16()),
                            content: None,
                        };
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(error) => {
                    let mut output = ToolOutput::error(self.describe_network_error(error));
                    output.backend_status = Some(status.as_u16());
                    return output;
                }
            }
        }
        // A backend that echoes its own credential must not hand it to the
        // MCP caller.
        let text = self.scrub_credential(String::from_utf8_lossy(&body).into_owned());
        if status.is_success() {
            let structured = if is_json {
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .map(|value| match value {
                        Value::Object(_) => value,
                        other => serde_json::json!({ "result": other }),
                    })
            } else {
                None
            };
            let text = if text.is_empty() {
                format!("HTTP {status} (no content)")
            } else {
                text
            };
            ToolOutput {
                text,
                structured,
                is_error: false,
                backend_status: Some(status.as_u16()),
                content: None,
            }
        } else {
            ToolOutput {
                // Error bodies (stack traces, echoed requests) are where
                // secrets leak; credential-looking text is removed too.
                text: format!(
                    "The backend answered HTTP {status}: {}",
                    trim_for_error(&Redactor::default().redact_text(&text))
                ),
                structured: None,
                is_error: true,
                backend_status: Some(status.as_u16()),
                content: None,
            }
        }
    }

    /// `text` with every occurrence of the backend credential replaced.
    fn scrub_credential(&self, text: String) -> String {
        let secrets: Vec<String> = match &self.config.credential {
            Some(
                BackendCredential::Header { value, .. }
                | BackendCredential::Query { value, .. }
                | BackendCredential::Cookie { value, .. }
                | BackendCredential::Bearer(value),
            ) => vec![value.expose_secret().to_owned()],
            Some(BackendCredential::Basic { username, password }) => {
                use base64::Engine as _;
                let pair = format!("{username}:{}", password.expose_secret());
                vec![
                    password.expose_secret().to_owned(),
                    base64::engine::general_purpose::STANDARD.encode(pair),
                ]
            }
            None => Vec::new(),
        };
        secrets
            .iter()
            // Very short secrets would match ordinary text; they are weak anyway.
            .filter(|secret| secret.len() >= 6)
            .fold(text, |text, secret| {
                if text.contains(secret.as_str()) {
                    text.replace(secret.as_str(), REDACTED)
                } else {
                    text
                }
            })
    }

    fn describe_network_error(&self, error: reqwest::Error) -> String {
        let host = self.config.base_url.host_str().unwrap_or("?");
        let port = self.config.base_url.port_or_known_default().unwrap_or(0);
        if error.is_timeout() {
            return format!(
                "The backend at {host}:{port} did not answer within {} s.",
                self.config.timeout.as_secs_f32()
            );
        }
        if error.is_connect() {
            return format!("Could not connect to the backend at {host}:{port}; is it running?");
        }
        // The request URL may hold a query-string credential: drop it from
        // the error, then redact the secret itself in case a cause repeats it.
        let error = error.without_url();
        let mut plain = String::new();
        let mut source: Option<&dyn std::error::Error> = Some(&error);
        while let Some(current) = source {
            let message = current.to_string();
            if !plain.contains(&message) {
                if !plain.is_empty() {
                    plain.push_str(": ");
                }
                plain.push_str(&message);
            }
            source = current.source();
        }
        if let Some(BackendCredential::Query { value, .. }) = &self.config.credential {
            plain = plain.replace(value.expose_secret(), "[redacted]");
        }
        format!("The request to the backend at {host}:{port} failed: {plain}")
    }
}

/// A secret header value, marked so that HTTP debugging never prints it.
fn sensitive(value: &str) -> Result<HeaderValue, ArgumentError> {
    let mut header = HeaderValue::from_str(value).map_err(|_| {
        ArgumentError("the backend credential is not a valid header value".to_owned())
    })?;
    header.set_sensitive(true);
    Ok(header)
}

/// A scalar argument as text; arrays as comma-separated values (OpenAPI
/// "simple" style); objects as JSON.
fn simple_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(simple_text).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn form_encode(fields: impl IntoIterator<Item = (String, String)>) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        serializer.append_pair(&name, &value);
    }
    serializer.finish()
}

fn trim_for_error(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        return "(empty body)".to_owned();
    }
    if body.len() <= ERROR_BODY_LIMIT {
        return body.to_owned();
    }
    let mut end = ERROR_BODY_LIMIT;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &body[..end], body.len())
}
