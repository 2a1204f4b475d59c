//! Security schemes declared by a spec, and the auth config they suggest.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::ImportError;
use crate::document::SpecVersion;
use crate::refs::Resolver;

/// Where an API key travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyLocation {
    /// An HTTP header.
    Header,
    /// A query-string parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// One OAuth 2.0 flow of an `oauth2` scheme.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthFlow {
    /// `authorization_code`, `client_credentials`, `implicit` or `password`
    /// (Swagger 2.0's `accessCode`/`application` are renamed to these).
    pub grant: String,
    /// The authorization endpoint, for interactive flows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    /// The token endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    /// The refresh endpoint, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_url: Option<String>,
    /// Scope → description.
    pub scopes: BTreeMap<String, String>,
}

/// A security scheme as the spec declares it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SecurityScheme {
    /// A static key in a header, query parameter or cookie.
    ApiKey {
        /// Where the key goes.
        location: KeyLocation,
        /// The header, parameter or cookie name.
        name: String,
    },
    /// HTTP Basic authentication.
    HttpBasic,
    /// HTTP Bearer tokens.
    HttpBearer {
        /// A hint such as `JWT`.
        #[serde(skip_serializing_if = "Option::is_none")]
        bearer_format: Option<String>,
    },
    /// Another HTTP authentication scheme (e.g. `digest`).
    Http {
        /// The scheme name as registered with IANA.
        scheme: String,
    },
    /// OAuth 2.0 with one or more flows.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// The flows, in a fixed order.
        flows: Vec<OAuthFlow>,
    },
    /// OpenID Connect discovery.
    OpenIdConnect {
        /// The discovery document URL.
        url: String,
    },
    /// Mutual TLS (OpenAPI 3.1).
    #[serde(rename = "mutualTLS")]
    MutualTls,
}

/// A scheme with its name in the spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedScheme {
    /// The key under `securitySchemes` / `securityDefinitions`.
    pub name: String,
    /// What it is.
    #[serde(flatten)]
    pub scheme: SecurityScheme,
    /// How mcpgate would authenticate callers for operations using it.
    pub suggested_auth: String,
    /// How mcpgate would present the backend's own credential.
    pub suggested_backend_credential: String,
}

/// Read every declared security scheme, in document order.
pub(crate) fn read_schemes(
    doc: &Value,
    version: SpecVersion,
    resolver: Resolver<'_>,
) -> Result<Vec<NamedScheme>, ImportError> {
    let (container, base) = match version {
        SpecVersion::Swagger2 => (doc.get("securityDefinitions"), "#/securityDefinitions"),
        _ => (
            doc.pointer("/components/securitySchemes"),
            "#/components/securitySchemes",
        ),
    };
    let mut schemes = Vec::new();
    for (name, raw) in container.and_then(Value::as_object).into_iter().flatten() {
        let at = format!("{base}/{name}");
        let raw = resolver.follow(raw, &at)?;
        let scheme = parse_scheme(raw, version, &at)?;
        schemes.push(NamedScheme {
            suggested_auth: suggest_auth(&scheme),
            suggested_backend_credential: suggest_backend_credential(&scheme),
            name: name.clone(),
            scheme,
        });
    }
    Ok(schemes)
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn parse_scheme(
    raw: &Value,
    version: SpecVersion,
    at: &str,
) -> Result<SecurityScheme, ImportError> {
    let invalid = |what: &str| ImportError::Invalid(format!("security scheme at {at}: {what}"));
    let kind = text(raw, "type").ok_or_else(|| invalid("it has no `type`"))?;
    Ok(match kind.as_str() {
        "apiKey" => {
            let location = match text(raw, "in").as_deref() {
                Some("header") => KeyLocation::Header,
                Some("query") => KeyLocation::Query,
                Some("cookie") => KeyLocation::Cookie,
                other => {
                    return Err(invalid(&format!(
                        "`in` must be header, query or cookie, found {other:?}"
                    )));
                }
            };
            let name = text(raw, "name").ok_or_else(|| invalid("an apiKey scheme needs `name`"))?;
            SecurityScheme::ApiKey { location, name }
        }
        "basic" => SecurityScheme::HttpBasic,
        "http" => match text(raw, "scheme")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "basic" => SecurityScheme::HttpBasic,
            "bearer" => SecurityScheme::HttpBearer {
                bearer_format: text(raw, "bearerFormat"),
            },
            "" => return Err(invalid("an http scheme needs `scheme`")),
            other => SecurityScheme::Http {
                scheme: other.to_owned(),
            },
        },
        "oauth2" => SecurityScheme::OAuth2 {
            flows: match version {
                SpecVersion::Swagger2 => vec![swagger_flow(raw)],
                _ => openapi3_flows(raw),
            },
        },
        "openIdConnect" => SecurityScheme::OpenIdConnect {
            url: text(raw, "openIdConnectUrl").unwrap_or_default(),
        },
        "mutualTLS" => SecurityScheme::MutualTls,
        other => return Err(invalid(&format!("unknown type `{other}`"))),
    })
}

fn scopes_of(raw: &Value) -> BTreeMap<String, String> {
    raw.get("scopes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(scope, description)| {
            (
                scope.clone(),
                description.as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn swagger_flow(raw: &Value) -> OAuthFlow {
    let grant = match text(raw, "flow").as_deref() {
        Some("accessCode") => "authorization_code",
        Some("application") => "client_credentials",
        Some("password") => "password",
        Some("implicit") => "implicit",
        _ => "unknown",
    };
    OAuthFlow {
        grant: grant.to_owned(),
        authorization_url: text(raw, "authorizationUrl"),
        token_url: text(raw, "tokenUrl"),
        refresh_url: None,
        scopes: scopes_of(raw),
    }
}

fn openapi3_flows(raw: &Value) -> Vec<OAuthFlow> {
    [
        ("authorizationCode", "authorization_code"),
        ("clientCredentials", "client_credentials"),
        ("implicit", "implicit"),
        ("password", "password"),
    ]
    .into_iter()
    .filter_map(|(key, grant)| {
        let flow = raw.get("flows")?.get(key)?;
        Some(OAuthFlow {
            grant: grant.to_owned(),
            authorization_url: text(flow, "authorizationUrl"),
            token_url: text(flow, "tokenUrl"),
            refresh_url: text(flow, "refreshUrl"),
            scopes: scopes_of(flow),
        })
    })
    .collect()
}

fn suggest_auth(scheme: &SecurityScheme) -> String {
    match scheme {
        SecurityScheme::ApiKey { .. } | SecurityScheme::HttpBasic | SecurityScheme::Http { .. } => {
            "api_key: issue each caller its own mcpgate key (`mcpgate keys create`)".to_owned()
        }
        SecurityScheme::HttpBearer { bearer_format }
            if bearer_format
                .as_deref()
                .is_some_and(|f| f.eq_ignore_ascii_case("jwt")) =>
        {
            "jwt: accept JWTs from your identity provider (issuer + JWKS)".to_owned()
        }
        SecurityScheme::HttpBearer { .. } => {
            "api_key, or jwt if the bearer tokens are JWTs from your identity provider".to_owned()
        }
        SecurityScheme::OAuth2 { flows } => {
            let issuer = flows
                .iter()
                .find_map(|f| f.token_url.as_deref().or(f.authorization_url.as_deref()))
                .map(|url| format!(" (authorization server near {url})"))
                .unwrap_or_default();
            format!(
                "oauth: accept access tokens for this gateway's resource URL{issuer}; scopes map to tools"
            )
        }
        SecurityScheme::OpenIdConnect { url } => {
            format!("jwt: accept ID-provider tokens; discovery at {url}")
        }
        SecurityScheme::MutualTls => "mtls: require client certificates from your CA".to_owned(),
    }
}

fn suggest_backend_credential(scheme: &SecurityScheme) -> String {
    match scheme {
        SecurityScheme::ApiKey { location, name } => {
            let kind = match location {
                KeyLocation::Header => "header",
                KeyLocation::Query => "query",
                KeyLocation::Cookie => "cookie",
            };
            format!(
                "credential = {{ kind = \"{kind}\", name = \"{name}\", value = \"env:BACKEND_API_KEY\" }}"
            )
        }
        SecurityScheme::HttpBasic => {
            "credential = { kind = \"basic\", username = \"service-user\", \
             password = \"env:BACKEND_PASSWORD\" }"
                .to_owned()
        }
        SecurityScheme::HttpBearer { .. }
        | SecurityScheme::OAuth2 { .. }
        | SecurityScheme::OpenIdConnect { .. } => {
            "credential = { kind = \"bearer\", value = \"env:BACKEND_TOKEN\" }".to_owned()
        }
        SecurityScheme::Http { scheme } => {
            format!("not supported as a backend credential yet (http scheme `{scheme}`)")
        }
        SecurityScheme::MutualTls => {
            "client certificates towards the backend are not supported yet".to_owned()
        }
    }
}
