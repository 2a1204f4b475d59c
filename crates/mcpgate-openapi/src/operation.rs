//! How one tool call maps onto one HTTP request.

use serde::Serialize;

/// Where a tool argument goes in the HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamLocation {
    /// A `{name}` segment of the path template.
    Path,
    /// A query-string parameter.
    Query,
    /// A request header.
    Header,
    /// A cookie.
    Cookie,
    /// A field of an `application/x-www-form-urlencoded` body (Swagger 2.0
    /// `formData`).
    Form,
}

/// One parameter of the operation, bound to one tool argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterBinding {
    /// The name on the wire (path variable, query key, header, cookie).
    pub name: String,
    /// The property name in the tool's arguments.
    pub argument: String,
    /// Where it goes.
    pub location: ParamLocation,
    /// Whether the spec requires it.
    pub required: bool,
}

/// How the request body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyEncoding {
    /// JSON (`application/json` and `+json` types).
    Json,
    /// `application/x-www-form-urlencoded` from an object.
    Form,
    /// The argument is sent as text (`text/*`).
    Text,
}

/// The request body, bound to one tool argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BodyBinding {
    /// The property name in the tool's arguments (usually `body`).
    pub argument: String,
    /// The media type sent as `Content-Type`.
    pub content_type: String,
    /// How the argument is encoded.
    pub encoding: BodyEncoding,
    /// Whether the spec requires a body.
    pub required: bool,
}

/// Everything the executor needs to turn arguments into a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpOperation {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path template relative to the server URL, e.g. `/pets/{petId}`.
    pub path: String,
    /// A server URL declared on the path or operation, overriding the
    /// document's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Parameters, path ones first in template order.
    pub parameters: Vec<ParameterBinding>,
    /// The request body, if the operation takes one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<BodyBinding>,
    /// Form fields go in a body whose type is this (Swagger 2.0 `formData`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_content_type: Option<String>,
}

impl HttpOperation {
    /// Whether the method is one HTTP defines as safe (no side effects).
    pub fn is_safe_method(&self) -> bool {
        matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }
}
