//! Walking a document's paths and turning each operation into a tool.

use std::collections::BTreeSet;

use mcpgate_core::{SecurityRequirement, ToolAnnotations, ToolSpec};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::ImportError;
use crate::document::{SpecVersion, detect_version, parse};
use crate::naming::NameAllocator;
use crate::operation::{BodyBinding, BodyEncoding, HttpOperation, ParamLocation, ParameterBinding};
use crate::refs::{Resolver, pointer_segment};
use crate::schema::{SchemaBuilder, SchemaPass};
use crate::security::{NamedScheme, read_schemes};
use crate::warning::{Warning, WarningKind};

/// HTTP methods an OpenAPI path item may hold, in the spec's order.
const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Keywords of a Swagger 2.0 non-body parameter that are JSON Schema too.
const SWAGGER_PARAM_SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "items",
    "default",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "enum",
    "multipleOf",
    "x-nullable",
];

/// One operation, as a tool plus the binding that executes it.
#[derive(Debug, Clone, Serialize)]
pub struct ImportedTool {
    /// The tool as MCP clients see it.
    pub spec: ToolSpec,
    /// How a call becomes an HTTP request.
    pub operation: HttpOperation,
}

/// The result of importing one spec.
#[derive(Debug, Clone, Serialize)]
pub struct Import {
    /// Which OpenAPI generation the document follows.
    pub version: SpecVersion,
    /// `info.title`.
    pub title: String,
    /// `info.version`.
    pub api_version: String,
    /// The first server URL the spec declares (variables filled with their
    /// defaults); may be relative, or absent.
    pub default_server: Option<String>,
    /// One tool per supported operation, in document order.
    pub tools: Vec<ImportedTool>,
    /// Every declared security scheme.
    pub security_schemes: Vec<NamedScheme>,
    /// What a user should look at before serving these tools.
    pub warnings: Vec<Warning>,
}

/// Import a spec from its text (JSON or YAML). `backend` names the backend
/// the tools will be served by.
///
/// ```
/// let spec = r#"{"openapi":"3.0.3","info":{"title":"t","version":"1"},
///   "paths":{"/ping":{"get":{"operationId":"ping","responses":{"200":{"description":"ok"}}}}}}"#;
/// let import = mcpgate_openapi::import_str(spec, "demo").unwrap();
/// assert_eq!(import.tools[0].spec.name, "ping");
/// assert_eq!(import.tools[0].spec.annotations.read_only_hint, Some(true));
/// ```
pub fn import_str(text: &str, backend: &str) -> Result<Import, ImportError> {
    let doc = parse(text)?;
    import_value(&doc, backend)
}

/// Import a spec file (JSON or YAML).
pub fn import_file(path: &std::path::Path, backend: &str) -> Result<Import, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Read {
        path: path.display().to_string(),
        source,
    })?;
    import_str(&text, backend)
}

/// Import an already parsed document.
pub fn import_value(doc: &Value, backend: &str) -> Result<Import, ImportError> {
    let version = detect_version(doc)?;
    let resolver = Resolver::new(doc);
    let security_schemes = read_schemes(doc, version, resolver)?;
    let mut importer = Importer {
        version,
        resolver,
        schemas: SchemaBuilder::new(resolver, version),
        names: NameAllocator::default(),
        backend,
        scheme_names: security_schemes.iter().map(|s| s.name.clone()).collect(),
        global_security: doc.get("security").map(parse_requirements),
        warnings: Vec::new(),
        unprotected: Vec::new(),
    };
    let mut tools = Vec::new();
    let paths = doc.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        let at = format!("#/paths/{}", pointer_segment(path));
        let item = resolver.follow(item, &at)?;
        for (method, operation) in item.as_object().into_iter().flatten() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let op_at = format!("{at}/{method}");
            if let Some(tool) = importer.operation(path, method, item, operation, &op_at)? {
                tools.push(tool);
            }
        }
    }
    importer.finish_warnings(security_schemes.is_empty());
    let info = doc.get("info");
    let info_text = |key: &str| {
        info.and_then(|i| i.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Import {
        version,
        title: info_text("title"),
        api_version: info_text("version"),
        default_server: default_server(doc, version),
        tools,
        security_schemes,
        warnings: importer.warnings,
    })
}

struct Importer<'a> {
    version: SpecVersion,
    resolver: Resolver<'a>,
    schemas: SchemaBuilder<'a>,
    names: NameAllocator,
    backend: &'a str,
    scheme_names: BTreeSet<String>,
    global_security: Option<Vec<SecurityRequirement>>,
    warnings: Vec<Warning>,
    /// Tools that declare no security at all (reported as one warning).
    unprotected: Vec<String>,
}

/// The parts of the input schema being assembled for one operation.
#[derive(Default)]
struct InputSchema {
    properties: Map<String, Value>,
    required: Vec<String>,
}

impl InputSchema {
    fn add(&mut self, argument: &str, schema: Value, required: bool) {
        self.properties.insert(argument.to_owned(), schema);
        if required {
            self.required.push(argument.to_owned());
        }
    }

    /// A free argument name: `wanted`, or `wanted` prefixed with where it
    /// goes when two parameters share a name (`id` in path and query).
    fn argument_name(&self, wanted: &str, location: ParamLocation) -> String {
        if !self.properties.contains_key(wanted) {
            return wanted.to_owned();
        }
        let prefix = serde_json::to_value(location)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let mut candidate = format!("{prefix}_{wanted}");
        while self.properties.contains_key(&candidate) {
            candidate.push('_');
        }
        candidate
    }
}

impl<'a> Importer<'a> {
    fn operation(
        &mut self,
        path: &str,
        method: &str,
        item: &'a Value,
        operation: &'a Value,
        at: &str,
    ) -> Result<Option<ImportedTool>, ImportError> {
        let operation_id = operation.get("operationId").and_then(Value::as_str);
        let display = format!("{} {path}", method.to_ascii_uppercase());
        let mut pass = SchemaPass::default();
        let mut input = InputSchema::default();
        let mut parameters = Vec::new();

        for (param, param_at) in self.merged_parameters(item, operation, at)? {
            let Some(location) = param_location(param) else {
                continue;
            };
            let name = param
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if name.is_empty() {
                return Err(ImportError::Invalid(format!(
                    "parameter at {param_at} has no `name`"
                )));
            }
            if location == ParamLocation::Header
                && ["accept", "content-type", "authorization"]
                    .contains(&name.to_ascii_lowercase().as_str())
            {
                // The OpenAPI spec says such parameters are ignored; the
                // gateway sets these headers itself.
                continue;
            }
            if location == ParamLocation::Path && !path.contains(&format!("{{{name}}}")) {
                continue;
            }
            let required = location == ParamLocation::Path
                || param
                    .get("required")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
            let schema = self.parameter_schema(&mut pass, param, &param_at)?;
            let argument = input.argument_name(name, location);
            input.add(&argument, schema, required);
            parameters.push(ParameterBinding {
                name: name.to_owned(),
                argument,
                location,
                required,
            });
        }

        let body = match self.request_body(&mut pass, operation, at, &mut input)? {
            Ok(body) => body,
            Err(unsupported) => {
                self.warnings.push(Warning::new(
                    WarningKind::OperationSkipped,
                    None,
                    format!("{display} was skipped: {unsupported}"),
                ));
                return Ok(None);
            }
        };
        let form_content_type = parameters
            .iter()
            .any(|p| p.location == ParamLocation::Form)
            .then(|| "application/x-www-form-urlencoded".to_owned());
        if form_content_type.is_some()
            && self
                .consumes(operation)
                .iter()
                .all(|c| c == "multipart/form-data")
        {
            self.warnings.push(Warning::new(
                WarningKind::OperationSkipped,
                None,
                format!("{display} was skipped: multipart/form-data bodies are not supported yet"),
            ));
            return Ok(None);
        }

        let allocated = self.names.allocate(operation_id, method, path);
        if let Some(changed) = allocated.changed {
            self.warnings.push(Warning::new(
                WarningKind::NameChanged,
                Some(&allocated.name),
                changed,
            ));
        }
        let name = allocated.name;
        let method_upper = method.to_ascii_uppercase();
        let security = self.effective_security(operation, &name);
        let annotations = annotations_for(&method_upper);
        if annotations.read_only_hint != Some(true) {
            self.warn_write_with_read_scope(&name, &display, &security);
        }

        let mut schema = Map::new();
        schema.insert("type".to_owned(), json!("object"));
        schema.insert("properties".to_owned(), Value::Object(input.properties));
        if !input.required.is_empty() {
            schema.insert("required".to_owned(), json!(input.required));
        }
        schema.insert("additionalProperties".to_owned(), json!(false));
        if !pass.defs.is_empty() {
            schema.insert("$defs".to_owned(), Value::Object(pass.defs));
        }

        let text = |key: &str| {
            operation
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let summary = text("summary");
        let mut description = text("description").or_else(|| summary.clone());
        if operation.get("deprecated") == Some(&Value::Bool(true)) {
            description = Some(
                format!("Deprecated. {}", description.unwrap_or_default())
                    .trim()
                    .to_owned(),
            );
        }
        Ok(Some(ImportedTool {
            spec: ToolSpec {
                name,
                title: summary,
                description,
                input_schema: schema,
                annotations,
                security,
                backend: self.backend.to_owned(),
                accepted_auth: None,
                http_method: Some(method_upper.clone()),
                tags: operation
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|tags| {
                        tags.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            operation: HttpOperation {
                method: method_upper,
                path: path.to_owned(),
                server: operation_server(item, operation),
                parameters,
                body,
                form_content_type,
            },
        }))
    }

    /// Path-level parameters overridden by operation-level ones with the
    /// same name and location, each with the pointer where it was found.
    fn merged_parameters(
        &self,
        item: &'a Value,
        operation: &'a Value,
        at: &str,
    ) -> Result<Vec<(&'a Value, String)>, ImportError> {
        let item_at = at.rsplit_once('/').map_or(at, |(head, _)| head);
        let mut merged: Vec<(&'a Value, String)> = Vec::new();
        for (owner, owner_at) in [(item, item_at), (operation, at)] {
            let list = owner.get("parameters").and_then(Value::as_array);
            for (index, raw) in list.into_iter().flatten().enumerate() {
                let param_at = format!("{owner_at}/parameters/{index}");
                let param = self.resolver.follow(raw, &param_at)?;
                let key = |p: &Value| {
                    (
                        p.get("name").and_then(Value::as_str).map(str::to_owned),
                        p.get("in").and_then(Value::as_str).map(str::to_owned),
                    )
                };
                merged.retain(|(existing, _)| key(existing) != key(param));
                merged.push((param, param_at));
            }
        }
        // Path parameters first, in template order, then the rest as declared.
        merged.sort_by_key(|(p, _)| p.get("in").and_then(Value::as_str) != Some("path"));
        Ok(merged)
    }

    fn parameter_schema(
        &mut self,
        pass: &mut SchemaPass,
        param: &Value,
        at: &str,
    ) -> Result<Value, ImportError> {
        let raw_schema = if let Some(schema) = param.get("schema") {
            schema.clone()
        } else if let Some(content) = param.get("content").and_then(Value::as_object) {
            content
                .values()
                .find_map(|media| media.get("schema").cloned())
                .unwrap_or(json!({}))
        } else {
            // Swagger 2.0: the schema keywords sit on the parameter itself.
            let mut schema = Map::new();
            for key in SWAGGER_PARAM_SCHEMA_KEYS {
                if let Some(value) = param.get(*key) {
                    schema.insert((*key).to_owned(), value.clone());
                }
            }
            Value::Object(schema)
        };
        let mut schema = self.schemas.convert(pass, &raw_schema, at)?;
        if let (Some(object), Some(description)) = (
            schema.as_object_mut(),
            param.get("description").and_then(Value::as_str),
        ) {
            object
                .entry("description")
                .or_insert_with(|| json!(description));
        }
        Ok(schema)
    }

    /// The body binding (`Ok(Ok(None))` when there is none) or, as
    /// `Ok(Err(why))`, a reason the operation cannot be served.
    fn request_body(
        &mut self,
        pass: &mut SchemaPass,
        operation: &'a Value,
        at: &str,
        input: &mut InputSchema,
    ) -> Result<Result<Option<BodyBinding>, String>, ImportError> {
        let (schema, content_type, required) = if self.version == SpecVersion::Swagger2 {
            let body_param = operation
                .get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| self.resolver.follow(p, at))
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .find(|p| p.get("in").and_then(Value::as_str) == Some("body"));
            let Some(param) = body_param else {
                return Ok(Ok(None));
            };
            let content_type = self
                .consumes(operation)
                .into_iter()
                .find(|c| is_json(c))
                .unwrap_or_else(|| "application/json".to_owned());
            let required = param
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            (
                param.get("schema").cloned().unwrap_or(json!({})),
                content_type,
                required,
            )
        } else {
            let Some(raw) = operation.get("requestBody") else {
                return Ok(Ok(None));
            };
            let body_at = format!("{at}/requestBody");
            let body = self.resolver.follow(raw, &body_at)?;
            let required = body
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let content = body.get("content").and_then(Value::as_object);
            let chosen = content
                .into_iter()
                .flatten()
                .min_by_key(|(media, _)| media_preference(media));
            let Some((media, media_object)) = chosen else {
                return Ok(Ok(None));
            };
            if media_preference(media) == usize::MAX {
                return Ok(Err(format!(
                    "its request body type `{media}` is not supported (JSON, form and text bodies are)"
                )));
            }
            (
                media_object.get("schema").cloned().unwrap_or(json!({})),
                media.clone(),
                required,
            )
        };
        // A wildcard says "anything goes"; we send JSON and say so.
        let content_type = if content_type.trim().starts_with("*/*") {
            "application/json".to_owned()
        } else {
            content_type
        };
        let encoding = if is_json(&content_type) {
            BodyEncoding::Json
        } else if content_type.starts_with("application/x-www-form-urlencoded") {
            BodyEncoding::Form
        } else {
            BodyEncoding::Text
        };
        let mut body_schema = self
            .schemas
            .convert(pass, &schema, &format!("{at}/requestBody"))?;
        if encoding == BodyEncoding::Text {
            body_schema = json!({ "type": "string" });
        }
        let argument = if input.properties.contains_key("body") {
            "requestBody"
        } else {
            "body"
        };
        input.add(argument, body_schema, required);
        Ok(Ok(Some(BodyBinding {
            argument: argument.to_owned(),
            content_type,
            encoding,
            required,
        })))
    }

    /// Swagger 2.0 `consumes` of the operation, or of the document.
    fn consumes(&self, operation: &Value) -> Vec<String> {
        operation
            .get("consumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    }

    fn effective_security(&mut self, operation: &Value, tool: &str) -> Vec<SecurityRequirement> {
        let declared = operation.get("security").map(parse_requirements);
        let explicit_public = matches!(&declared, Some(list) if list.is_empty());
        let security = declared
            .or_else(|| self.global_security.clone())
            .unwrap_or_default();
        for requirement in &security {
            for scheme in requirement.schemes.keys() {
                if !self.scheme_names.contains(scheme) {
                    self.warnings.push(Warning::new(
                        WarningKind::UnknownSecurityScheme,
                        Some(tool),
                        format!("`{tool}` requires security scheme `{scheme}`, which the spec does not declare"),
                    ));
                }
            }
        }
        if security.is_empty() || security.iter().any(|r| r.schemes.is_empty()) {
            let why = if explicit_public {
                " (declared public)"
            } else {
                ""
            };
            self.unprotected.push(format!("{tool}{why}"));
        }
        if explicit_public {
            // `security: []` says "no credential needed": keep that as one
            // alternative that asks for nothing, so that it is not mistaken
            // for "nothing declared" (which authorization denies by default).
            return vec![SecurityRequirement::default()];
        }
        security
    }

    fn warn_write_with_read_scope(
        &mut self,
        tool: &str,
        display: &str,
        security: &[SecurityRequirement],
    ) {
        let read_only_alternative = security.iter().find(|r| {
            let scopes: Vec<&str> = r.scopes().collect();
            !scopes.is_empty() && scopes.iter().all(|s| looks_read_only(s))
        });
        if let Some(requirement) = read_only_alternative {
            let scopes: Vec<&str> = requirement.scopes().collect();
            self.warnings.push(Warning::new(
                WarningKind::WriteWithReadScope,
                Some(tool),
                format!(
                    "`{tool}` ({display}) may write but is reachable with read scope(s) {}; \
                     require a write scope for it in the spec or in mcpgate.toml",
                    scopes.join(", ")
                ),
            ));
        }
    }

    fn finish_warnings(&mut self, no_schemes: bool) {
        if no_schemes {
            self.warnings.insert(0, Warning::new(
                WarningKind::NoSecuritySchemes,
                None,
                "the spec declares no security schemes: mcpgate cannot derive required scopes; \
                 protect its tools with authorization rules in mcpgate.toml"
                    .to_owned(),
            ));
        }
        if !self.unprotected.is_empty() {
            let count = self.unprotected.len();
            let mut listed: Vec<String> = self.unprotected.iter().take(20).cloned().collect();
            if count > listed.len() {
                listed.push(format!("… and {} more", count - listed.len()));
            }
            self.warnings.push(Warning::new(
                WarningKind::OperationsWithoutSecurity,
                None,
                format!(
                    "{count} operation(s) can be called without any credential in the spec: {}; \
                     behind mcpgate they are protected by its authentication and authorization alone, with no scope from the spec",
                    listed.join(", ")
                ),
            ));
        }
    }
}

fn looks_read_only(scope: &str) -> bool {
    let lower = scope.to_ascii_lowercase();
    lower.contains("read") && !lower.contains("write")
}

fn parse_requirements(value: &Value) -> Vec<SecurityRequirement> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .map(|alternative| SecurityRequirement {
            schemes: alternative
                .iter()
                .map(|(scheme, scopes)| {
                    let scopes = scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect();
                    (scheme.clone(), scopes)
                })
                .collect(),
        })
        .collect()
}

fn param_location(param: &Value) -> Option<ParamLocation> {
    match param.get("in").and_then(Value::as_str)? {
        "path" => Some(ParamLocation::Path),
        "query" => Some(ParamLocation::Query),
        "header" => Some(ParamLocation::Header),
        "cookie" => Some(ParamLocation::Cookie),
        "formData" => Some(ParamLocation::Form),
        _ => None, // `body` is handled as the request body
    }
}

fn annotations_for(method: &str) -> ToolAnnotations {
    let safe = matches!(method, "GET" | "HEAD" | "OPTIONS");
    ToolAnnotations {
        read_only_hint: Some(safe),
        destructive_hint: (method == "DELETE").then_some(true),
        idempotent_hint: matches!(method, "PUT" | "DELETE").then_some(true),
        open_world_hint: None,
    }
}

fn is_json(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or_default().trim();
    essence == "application/json" || essence.ends_with("+json") || essence == "*/*"
}

/// Lower is preferred; `usize::MAX` means unsupported.
fn media_preference(media: &str) -> usize {
    if is_json(media) {
        0
    } else if media.starts_with("application/x-www-form-urlencoded") {
        1
    } else if media.starts_with("text/") {
        2
    } else {
        usize::MAX
    }
}

fn operation_server(item: &Value, operation: &Value) -> Option<String> {
    [operation, item]
        .into_iter()
        .find_map(|owner| owner.get("servers").and_then(first_server_url))
}

fn default_server(doc: &Value, version: SpecVersion) -> Option<String> {
    if version == SpecVersion::Swagger2 {
        let base_path = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
        let host = doc.get("host").and_then(Value::as_str)?;
        let scheme = doc
            .get("schemes")
            .and_then(Value::as_array)
            .and_then(|s| {
                let names: Vec<&str> = s.iter().filter_map(Value::as_str).collect();
                names
                    .iter()
                    .find(|n| **n == "https")
                    .or(names.first())
                    .map(|s| s.to_string())
            })
            .unwrap_or_else(|| "https".to_owned());
        return Some(format!("{scheme}://{host}{base_path}"));
    }
    doc.get("servers").and_then(first_server_url)
}

/// The first server's URL with `{variables}` replaced by their defaults.
fn first_server_url(servers: &Value) -> Option<String> {
    let server = servers.as_array()?.first()?;
    let mut url = server.get("url")?.as_str()?.to_owned();
    if let Some(variables) = server.get("variables").and_then(Value::as_object) {
        for (name, variable) in variables {
            if let Some(default) = variable.get("default").and_then(Value::as_str) {
                url = url.replace(&format!("{{{name}}}"), default);
            }
        }
    }
    Some(url)
}
