//! What `init` takes from an OpenAPI spec: the backend's name, where it
//! runs, its own credential, and the scopes its tools need.

use std::collections::{BTreeMap, BTreeSet};

use mcpgate_core::ToolSpec;
use mcpgate_openapi::{Import, KeyLocation, SecurityScheme};

/// The spec, as the config needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecSummary {
    /// The spec's title.
    pub title: String,
    /// The spec's first absolute http(s) server, if any.
    pub server: Option<String>,
    /// Tools known to be read-only.
    pub read_tools: Vec<String>,
    /// Tools that may write.
    pub write_tools: Vec<String>,
    /// Where the scopes of the tools come from.
    pub scopes: Scopes,
    /// The backend credential suggested by the spec's security schemes.
    pub credential: Option<Credential>,
}

/// Where the tools' scopes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scopes {
    /// The operations declare OAuth scopes; they are kept.
    FromSpec {
        /// Every scope any tool declares.
        all: Vec<String>,
        /// The scopes the read-only tools need: what a read-only caller is
        /// granted.
        read: Vec<String>,
        /// Obvious implications between them (`x:admin` → `x:write` → `x:read`).
        implies: BTreeMap<String, Vec<String>>,
        /// Read-only tools that need a credential but no scope in the spec:
        /// any caller could use them, so rules give them `read:{backend}`.
        open_read_tools: Vec<String>,
        /// The same for tools that may write: `write:{backend}`.
        open_write_tools: Vec<String>,
    },
    /// No operation declares scopes: rules give read-only tools
    /// `read:{backend}` and the others `write:{backend}`.
    Generated,
}

impl Scopes {
    /// The scopes a read-only caller of `backend` needs.
    pub fn read_scopes(&self, backend: &str) -> Vec<String> {
        match self {
            Scopes::FromSpec { read, .. } if !read.is_empty() => read.clone(),
            _ => vec![format!("read:{backend}")],
        }
    }
}

/// The backend's own credential, as `backends.NAME.credential` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The security scheme of the spec it comes from.
    pub scheme: String,
    /// The inline TOML table.
    pub toml: String,
    /// The environment variable holding the secret.
    pub env_var: String,
    /// What the variable holds, for people.
    pub what: &'static str,
}

/// Summarise `import` for a backend named `backend`.
pub fn summarize(import: &Import, backend: &str) -> SpecSummary {
    let specs: Vec<&ToolSpec> = import.tools.iter().map(|t| &t.spec).collect();
    let (read, write): (Vec<&ToolSpec>, Vec<&ToolSpec>) =
        specs.iter().partition(|t| t.is_known_read_only());
    let names = |tools: &[&ToolSpec]| tools.iter().map(|t| t.name.clone()).collect();
    let all: BTreeSet<String> = specs.iter().flat_map(|t| t.declared_scopes()).collect();
    let scopes = if all.is_empty() {
        Scopes::Generated
    } else {
        let read_scopes: BTreeSet<String> = read.iter().flat_map(|t| t.declared_scopes()).collect();
        let open = |tools: &[&ToolSpec]| -> Vec<String> {
            tools
                .iter()
                .filter(|t| needs_a_credential_but_no_scope(t))
                .map(|t| t.name.clone())
                .collect()
        };
        Scopes::FromSpec {
            implies: obvious_implications(&all),
            all: all.into_iter().collect(),
            read: read_scopes.into_iter().collect(),
            open_read_tools: open(&read),
            open_write_tools: open(&write),
        }
    };
    SpecSummary {
        title: import.title.clone(),
        server: import
            .default_server
            .clone()
            .filter(|s| s.starts_with("http://") || s.starts_with("https://")),
        read_tools: names(&read),
        write_tools: names(&write),
        scopes,
        credential: backend_credential(import, backend),
    }
}

/// A tool some alternative of which names a scheme but no scope: any
/// authenticated caller would pass. (`security: []`, an alternative naming
/// nothing, is the spec declaring the operation public, and is kept.)
fn needs_a_credential_but_no_scope(tool: &ToolSpec) -> bool {
    tool.security
        .iter()
        .any(|r| !r.schemes.is_empty() && r.scopes().next().is_none())
}

/// The environment variable for a backend's secret: `inventory` and
/// `API_KEY` → `INVENTORY_API_KEY`.
pub fn env_var(backend: &str, suffix: &str) -> String {
    let stem: String = backend
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{stem}_{suffix}")
}

/// The backend credential the spec's schemes suggest: an API key first (the
/// usual credential of a service), then Basic, then a bearer token.
fn backend_credential(import: &Import, backend: &str) -> Option<Credential> {
    let schemes = &import.security_schemes;
    let quote = |s: &str| toml::Value::from(s).to_string();
    if let Some((name, location, key_name)) = schemes.iter().find_map(|s| match &s.scheme {
        SecurityScheme::ApiKey { location, name } => Some((&s.name, *location, name)),
        _ => None,
    }) {
        let kind = match location {
            KeyLocation::Header => "header",
            KeyLocation::Query => "query",
            KeyLocation::Cookie => "cookie",
        };
        let env_var = env_var(backend, "API_KEY");
        return Some(Credential {
            scheme: name.clone(),
            toml: format!(
                "{{ kind = \"{kind}\", name = {}, value = \"env:{env_var}\" }}",
                quote(key_name)
            ),
            env_var,
            what: "the API's own key",
        });
    }
    if let Some(scheme) = schemes
        .iter()
        .find(|s| s.scheme == SecurityScheme::HttpBasic)
    {
        let env_var = env_var(backend, "PASSWORD");
        return Some(Credential {
            scheme: scheme.name.clone(),
            toml: format!(
                "{{ kind = \"basic\", username = \"mcpgate\", password = \"env:{env_var}\" }}"
            ),
            env_var,
            what: "the password of the API account mcpgate uses (set username to that account)",
        });
    }
    schemes
        .iter()
        .find(|s| {
            matches!(
                s.scheme,
                SecurityScheme::HttpBearer { .. }
                    | SecurityScheme::OAuth2 { .. }
                    | SecurityScheme::OpenIdConnect { .. }
            )
        })
        .map(|scheme| {
            let env_var = env_var(backend, "TOKEN");
            Credential {
                scheme: scheme.name.clone(),
                toml: format!("{{ kind = \"bearer\", value = \"env:{env_var}\" }}"),
                env_var,
                what: "a token the API accepts for mcpgate itself (never a caller's)",
            }
        })
}

/// The access levels `obvious_implications` recognises, lowest first.
const LEVELS: [&str; 3] = ["read", "write", "admin"];

/// Implications that follow from the names alone: for scopes of one
/// resource written the same way (`inventory:read`, `inventory:write`,
/// `inventory:admin`, or `read:orders`, `write:orders`), each level implies
/// the next lower one that exists. Anything less regular implies nothing.
pub fn obvious_implications(scopes: &BTreeSet<String>) -> BTreeMap<String, Vec<String>> {
    // (resource, separator, level first?) → level index → scope
    let mut families: BTreeMap<(String, char, bool), BTreeMap<usize, String>> = BTreeMap::new();
    for scope in scopes {
        for separator in [':', '.'] {
            let Some((left, right)) = scope.rsplit_once(separator) else {
                continue;
            };
            if let Some(level) = LEVELS.iter().position(|l| *l == right)
                && !left.is_empty()
            {
                families
                    .entry((left.to_owned(), separator, false))
                    .or_default()
                    .insert(level, scope.clone());
            }
            if let Some((left, right)) = scope.split_once(separator)
                && let Some(level) = LEVELS.iter().position(|l| *l == left)
                && !right.is_empty()
            {
                families
                    .entry((right.to_owned(), separator, true))
                    .or_default()
                    .insert(level, scope.clone());
            }
        }
    }
    let mut implies = BTreeMap::new();
    for levels in families.values() {
        let present: Vec<&String> = levels.values().collect();
        for pair in present.windows(2) {
            implies
                .entry(pair[1].clone())
                .or_insert_with(Vec::new)
                .push(pair[0].clone());
        }
    }
    implies
}

/// A backend name from the spec's title or file name: `Inventory API` →
/// `inventory`; `api` when nothing usable is left.
pub fn backend_name(title: &str, file_stem: &str) -> String {
    for candidate in [title, file_stem] {
        let mut name = String::new();
        for c in candidate.chars() {
            if c.is_ascii_alphanumeric() {
                name.push(c.to_ascii_lowercase());
            } else if !name.ends_with('-') && !name.is_empty() {
                name.push('-');
            }
        }
        let mut name = name.trim_end_matches('-').to_owned();
        for suffix in ["-api", "-service"] {
            if let Some(stem) = name.strip_suffix(suffix) {
                name = stem.to_owned();
            }
        }
        name.truncate(32);
        let name = name.trim_end_matches('-').to_owned();
        if !name.is_empty() && !["openapi", "swagger", "spec", "api"].contains(&name.as_str()) {
            return name;
        }
    }
    "api".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn implications_follow_regular_names_only() {
        let found = obvious_implications(&set(&[
            "inventory:read",
            "inventory:write",
            "inventory:admin",
        ]));
        assert_eq!(
            found,
            BTreeMap::from([
                (
                    "inventory:admin".to_owned(),
                    vec!["inventory:write".to_owned()]
                ),
                (
                    "inventory:write".to_owned(),
                    vec!["inventory:read".to_owned()]
                ),
            ])
        );
        let prefixed = obvious_implications(&set(&["read:orders", "admin:orders", "read:users"]));
        assert_eq!(
            prefixed,
            BTreeMap::from([("admin:orders".to_owned(), vec!["read:orders".to_owned()])])
        );
        // Different resources and irregular names imply nothing.
        assert!(
            obvious_implications(&set(&["orders:read", "users:write", "manage", "pets"]))
                .is_empty()
        );
        assert!(obvious_implications(&set(&[":read", ":write"])).is_empty());
    }

    #[test]
    fn backend_names_are_valid_config_keys() {
        assert_eq!(backend_name("Inventory API", "openapi"), "inventory");
        assert_eq!(
            backend_name("Swagger Petstore - OpenAPI 3.0", "x"),
            "swagger-petstore-openapi-3-0"
        );
        assert_eq!(backend_name("", "billing-service"), "billing");
        assert_eq!(backend_name("API", "openapi"), "api");
        assert_eq!(backend_name("Ünïcode ✓", ""), "n-code");
        for title in [
            "",
            "---",
            "API",
            "a b c d e f g h i j k l m n o p q r s t u v w x y z",
        ] {
            let name = backend_name(title, "openapi");
            assert!(
                !name.is_empty()
                    && name.len() <= 32
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !name.ends_with('-'),
                "{name}"
            );
        }
        assert_eq!(env_var("my-shop", "API_KEY"), "MY_SHOP_API_KEY");
    }

    #[test]
    fn the_demo_spec_keeps_its_scopes_and_suggests_its_key() {
        let import = mcpgate_openapi::import_str(mcpgate_demo::OPENAPI_YAML, "inventory").unwrap();
        let summary = summarize(&import, "inventory");
        assert_eq!(summary.server.as_deref(), Some("http://127.0.0.1:8081"));
        assert_eq!(summary.read_tools, ["listItems", "getItem", "health"]);
        assert_eq!(
            summary.write_tools,
            ["createItem", "deleteItem", "adjustStock"]
        );
        let Scopes::FromSpec {
            all,
            read,
            implies,
            open_read_tools,
            open_write_tools,
        } = &summary.scopes
        else {
            panic!("{summary:?}");
        };
        assert_eq!(
            all,
            &["inventory:admin", "inventory:read", "inventory:write"]
        );
        assert_eq!(read, &["inventory:read"]);
        assert_eq!(implies.len(), 2);
        assert!(open_read_tools.is_empty() && open_write_tools.is_empty());
        let credential = summary.credential.unwrap();
        assert_eq!(
            credential.toml,
            r#"{ kind = "header", name = "X-Demo-Key", value = "env:INVENTORY_API_KEY" }"#
        );
        assert_eq!(credential.scheme, "demoKey");
    }

    #[test]
    fn a_spec_without_scopes_gets_generated_rules() {
        let spec = r#"
openapi: 3.0.3
info: {title: Pets, version: "1"}
components:
  securitySchemes:
    basic: {type: http, scheme: basic}
security: [{basic: []}]
paths:
  /pets:
    get: {operationId: listPets, responses: {'200': {description: ok}}}
    post: {operationId: addPet, responses: {'200': {description: ok}}}
"#;
        let import = mcpgate_openapi::import_str(spec, "pets").unwrap();
        let summary = summarize(&import, "pets");
        assert_eq!(summary.scopes, Scopes::Generated);
        assert_eq!(summary.scopes.read_scopes("pets"), ["read:pets"]);
        assert_eq!(summary.server, None);
        let credential = summary.credential.unwrap();
        assert_eq!(credential.env_var, "PETS_PASSWORD");
        assert!(credential.toml.contains(r#"kind = "basic""#));
    }

    #[test]
    fn scope_free_alternatives_beside_scoped_ones_are_found() {
        let spec = r#"
openapi: 3.0.3
info: {title: Mixed, version: "1"}
components:
  securitySchemes:
    key: {type: apiKey, in: query, name: api_key}
    oauth:
      type: oauth2
      flows: {clientCredentials: {tokenUrl: "https://a.example/token", scopes: {"orders:read": r}}}
paths:
  /orders:
    get: {operationId: listOrders, security: [{oauth: ["orders:read"]}], responses: {'200': {description: ok}}}
  /ping:
    get: {operationId: ping, security: [{key: []}], responses: {'200': {description: ok}}}
  /health:
    get: {operationId: health, security: [], responses: {'200': {description: ok}}}
  /orders/purge:
    post: {operationId: purge, security: [{key: []}], responses: {'200': {description: ok}}}
"#;
        let import = mcpgate_openapi::import_str(spec, "mixed").unwrap();
        let summary = summarize(&import, "mixed");
        let Scopes::FromSpec {
            open_read_tools,
            open_write_tools,
            ..
        } = &summary.scopes
        else {
            panic!("{summary:?}");
        };
        assert_eq!(
            open_read_tools,
            &["ping"],
            "health is declared public and kept"
        );
        assert_eq!(open_write_tools, &["purge"]);
        assert_eq!(
            summary.credential.unwrap().toml,
            r#"{ kind = "query", name = "api_key", value = "env:MIXED_API_KEY" }"#
        );
    }
}
