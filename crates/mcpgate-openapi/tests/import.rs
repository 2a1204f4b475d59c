//! The importer against hand-written fixtures of every OpenAPI generation
//! (see `fixtures/README.md` for the facts asserted here).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use mcpgate_core::is_valid_tool_name;
use mcpgate_openapi::{
    Import, ImportError, ImportedTool, KeyLocation, ParamLocation, SecurityScheme, SpecVersion,
    WarningKind, import_file, import_str,
};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn import(name: &str) -> Import {
    import_file(&fixture(name), "test").unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn tool<'a>(import: &'a Import, name: &str) -> &'a ImportedTool {
    import
        .tools
        .iter()
        .find(|t| t.spec.name == name)
        .unwrap_or_else(|| panic!("no tool {name}; have {:?}", names(import)))
}

fn tool_at<'a>(import: &'a Import, method: &str, path: &str) -> &'a ImportedTool {
    import
        .tools
        .iter()
        .find(|t| t.operation.method == method && t.operation.path == path)
        .unwrap_or_else(|| panic!("no tool for {method} {path}"))
}

fn names(import: &Import) -> Vec<&str> {
    import.tools.iter().map(|t| t.spec.name.as_str()).collect()
}

fn schema_of(tool: &ImportedTool) -> Value {
    Value::Object(tool.spec.input_schema.clone())
}

/// `[{scheme: [scopes]}]` as plain JSON, for comparing with the README.
fn security_of(tool: &ImportedTool) -> Value {
    serde_json::to_value(&tool.spec.security).unwrap()
}

/// Every tool name valid and unique; every input schema a valid JSON Schema
/// that compiles (all `$ref`s resolve inside it).
fn assert_well_formed(import: &Import) {
    let mut seen = HashSet::new();
    for tool in &import.tools {
        let name = &tool.spec.name;
        assert!(is_valid_tool_name(name), "invalid tool name {name:?}");
        assert!(seen.insert(name.clone()), "duplicate tool name {name}");
        let schema = schema_of(tool);
        assert_eq!(schema["type"], "object", "{name}");
        if let Err(error) = jsonschema::meta::validate(&schema) {
            panic!("{name}: input schema is not valid JSON Schema: {error}\n{schema:#}");
        }
        if let Err(error) = jsonschema::validator_for(&schema) {
            panic!("{name}: input schema does not compile: {error}\n{schema:#}");
        }
        assert!(
            !schema.to_string().contains("#/components/")
                && !schema.to_string().contains("#/definitions/"),
            "{name}: schema still points into the spec: {schema}"
        );
    }
}

fn validates(tool: &ImportedTool, instance: Value) -> bool {
    jsonschema::validator_for(&schema_of(tool))
        .unwrap()
        .is_valid(&instance)
}

#[test]
fn openapi_3_0_petstore() {
    let import = import("petstore-3.0.yaml");
    assert_eq!(import.version, SpecVersion::OpenApi30);
    assert_eq!(import.tools.len(), 17);
    assert_well_formed(&import);
    assert_eq!(
        import.default_server.as_deref(),
        Some("https://petstore.example.com/v1")
    );

    let read_only = import
        .tools
        .iter()
        .filter(|t| t.spec.annotations.read_only_hint == Some(true))
        .count();
    let destructive = import
        .tools
        .iter()
        .filter(|t| t.spec.annotations.destructive_hint == Some(true))
        .count();
    assert_eq!((read_only, destructive), (10, 2));

    // Naming: the sanitiser collision, invalid characters and length.
    let by_id = tool_at(&import, "GET", "/pets/{petId}");
    let by_name = tool_at(&import, "GET", "/pets/by-name/{name}");
    assert_eq!(by_id.spec.name, "get_pet");
    assert_eq!(by_name.spec.name, "get_pet_2");
    assert_eq!(
        tool_at(&import, "GET", "/pets/search").spec.name,
        "pets_list_all"
    );
    assert_eq!(
        tool_at(&import, "GET", "/store/inventory").spec.name.len(),
        64
    );
    let renamed: Vec<_> = import
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::NameChanged)
        .collect();
    assert_eq!(renamed.len(), 4, "{renamed:#?}");

    // Effective security: global default, overrides, AND-ed schemes, public.
    assert_eq!(
        security_of(tool(&import, "listPets")),
        json!([{"bearer_auth": []}, {"petstore_oauth": ["read:pets"]}])
    );
    assert_eq!(
        security_of(tool(&import, "createPet")),
        json!([{"petstore_oauth": ["write:pets", "read:pets"]}])
    );
    assert_eq!(
        security_of(tool_at(&import, "PATCH", "/pets/{petId}")),
        json!([{"api_key_header": [], "basic_auth": []}])
    );
    // `security: []` (public) is one alternative that needs nothing.
    assert_eq!(security_of(tool(&import, "healthCheck")), json!([{}]));
    assert_eq!(
        tool(&import, "deletePet").spec.declared_scopes(),
        vec!["admin:pets", "write:pets"]
    );

    // Every security scheme type of 3.0.
    let schemes: BTreeMap<_, _> = import
        .security_schemes
        .iter()
        .map(|s| (s.name.as_str(), &s.scheme))
        .collect();
    assert_eq!(schemes.len(), 7);
    assert!(
        matches!(schemes["api_key_header"], SecurityScheme::ApiKey { location: KeyLocation::Header, name } if name == "X-API-Key")
    );
    assert!(matches!(
        schemes["api_key_query"],
        SecurityScheme::ApiKey {
            location: KeyLocation::Query,
            ..
        }
    ));
    assert!(matches!(
        schemes["api_key_cookie"],
        SecurityScheme::ApiKey {
            location: KeyLocation::Cookie,
            ..
        }
    ));
    assert!(matches!(schemes["basic_auth"], SecurityScheme::HttpBasic));
    assert!(
        matches!(schemes["bearer_auth"], SecurityScheme::HttpBearer { bearer_format: Some(f) } if f == "JWT")
    );
    assert!(
        matches!(schemes["openid"], SecurityScheme::OpenIdConnect { url } if url.contains("openid-configuration"))
    );
    let SecurityScheme::OAuth2 { flows } = schemes["petstore_oauth"] else {
        panic!("oauth2")
    };
    let grants: Vec<&str> = flows.iter().map(|f| f.grant.as_str()).collect();
    assert_eq!(
        grants,
        [
            "authorization_code",
            "client_credentials",
            "implicit",
            "password"
        ]
    );
    assert!(flows.iter().any(|f| f.scopes.contains_key("admin:pets")));

    // Parameters in all four locations, path-level ones shared.
    let delete = tool(&import, "deletePet");
    let locations: Vec<_> = delete
        .operation
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.location))
        .collect();
    assert!(locations.contains(&("petId", ParamLocation::Path)));
    assert!(locations.contains(&("X-Request-Id", ParamLocation::Header)));
    assert!(locations.contains(&("reason", ParamLocation::Query)));
    let search = tool_at(&import, "GET", "/pets/search");
    assert!(
        search
            .operation
            .parameters
            .iter()
            .any(|p| p.location == ParamLocation::Cookie)
    );
    assert_eq!(schema_of(search)["required"], json!(["q"]));

    // 3.0 dialect normalised: boolean exclusive bounds, nullable.
    let list = tool(&import, "listPets");
    let limit = &schema_of(list)["properties"]["limit"];
    assert_eq!(limit["exclusiveMinimum"], json!(0));
    assert!(limit.get("minimum").is_none(), "{limit}");
    let create = schema_of(tool(&import, "createPet"));
    let new_pet = &create["properties"]["body"];
    assert_eq!(
        new_pet["properties"]["tag"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(
        new_pet["properties"]["ageYears"]["exclusiveMaximum"],
        json!(50)
    );
    assert!(!create.to_string().contains("\"nullable\""));
    assert!(!create.to_string().contains("discriminator"));
    assert_eq!(create["required"], json!(["body"]));

    // A six-level chain is inlined completely.
    let chain = schema_of(tool(&import, "submitChain"));
    let leaf = chain.pointer("/properties/body/properties/next/properties/next/properties/next/properties/next/properties/next");
    assert!(
        leaf.is_some_and(|l| l["required"] == json!(["leaf"])),
        "{chain:#}"
    );
    assert!(
        chain.get("$defs").is_none(),
        "an acyclic chain needs no $defs"
    );

    // Cycles become $defs and still validate nested data.
    let tree = tool(&import, "updatePet");
    let tree_schema = schema_of(tree);
    assert!(
        tree_schema["$defs"]
            .as_object()
            .is_some_and(|d| d.contains_key("Person")),
        "{tree_schema:#}"
    );
}

#[test]
fn cyclic_schemas_validate_recursive_instances() {
    let spec = r##"{"openapi":"3.0.3","info":{"title":"t","version":"1"},
      "paths":{"/nodes":{"post":{"operationId":"addNode",
        "requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/Node"}}}},
        "responses":{"200":{"description":"ok"}}}}},
      "components":{"schemas":{"Node":{"type":"object","required":["name"],
        "properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/components/schemas/Node"}}}}}}}"##;
    let import = import_str(spec, "t").unwrap();
    assert_well_formed(&import);
    let add = &import.tools[0];
    let good =
        json!({"body": {"name": "a", "children": [{"name": "b", "children": [{"name": "c"}]}]}});
    let bad = json!({"body": {"name": "a", "children": [{"name": "b", "children": [{"nameless": true}]}]}});
    assert!(validates(add, good));
    assert!(
        !validates(add, bad),
        "the recursion must be enforced at depth"
    );
    assert!(!validates(add, json!({})), "body is required");
    assert!(
        !validates(add, json!({"body": {"name": "a"}, "extra": 1})),
        "unknown arguments are refused"
    );
}

#[test]
fn openapi_3_1_museum() {
    let import = import("museum-3.1.json");
    assert_eq!(import.version, SpecVersion::OpenApi31);
    assert_eq!(
        import.tools.len(),
        11,
        "webhooks must not become tools: {:?}",
        names(&import)
    );
    assert!(!names(&import).contains(&"publishNewEvent"));
    assert_well_formed(&import);

    // Path items reached through components/pathItems.
    let get_event = tool(&import, "getSpecialEvent");
    assert_eq!(get_event.operation.path, "/special-events/{eventId}");
    assert_eq!(
        get_event.operation.parameters[0].location,
        ParamLocation::Path
    );
    assert_eq!(security_of(tool(&import, "getMuseumHours")), json!([{}]));
    assert_eq!(
        security_of(tool(&import, "buyMuseumTickets")),
        json!([{"museum_mtls": []}])
    );
    assert!(
        import
            .security_schemes
            .iter()
            .any(|s| s.scheme == SecurityScheme::MutualTls)
    );

    // 3.1 keeps type arrays and numeric exclusive bounds; $ref siblings apply.
    let hours = schema_of(tool(&import, "getMuseumHours"));
    assert_eq!(hours["properties"]["page"]["exclusiveMinimum"], json!(0));
    assert!(
        hours["properties"]["startDate"]["description"].is_string(),
        "{hours:#}"
    );
    let create = schema_of(tool(&import, "createSpecialEvent"));
    assert_eq!(
        create["properties"]["body"]["properties"]["capacity"]["type"],
        json!(["integer", "null"])
    );
}

#[test]
fn swagger_2_0_legacy() {
    let import = import("legacy-swagger-2.0.yaml");
    assert_eq!(import.version, SpecVersion::Swagger2);
    assert_eq!(import.tools.len(), 8);
    assert_well_formed(&import);
    assert_eq!(
        import.default_server.as_deref(),
        Some("https://legacy.example.com:8443/api/v2")
    );

    let create = tool(&import, "createUser");
    assert!(
        create.operation.body.is_some(),
        "`in: body` becomes the body"
    );
    assert_eq!(schema_of(create)["required"], json!(["body"]));
    let form_tool = import
        .tools
        .iter()
        .find(|t| {
            t.operation
                .parameters
                .iter()
                .any(|p| p.location == ParamLocation::Form)
        })
        .expect("a formData operation");
    assert_eq!(
        form_tool.operation.form_content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );

    let grants: Vec<String> = import
        .security_schemes
        .iter()
        .filter_map(|s| match &s.scheme {
            SecurityScheme::OAuth2 { flows } => Some(flows[0].grant.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        grants,
        [
            "implicit",
            "password",
            "client_credentials",
            "authorization_code"
        ]
    );
    assert_eq!(
        security_of(tool(&import, "getUserById")),
        json!([{"api_key_query": []}, {"oauth_implicit": ["users:read"]}])
    );
}

#[test]
fn a_spec_without_security_is_flagged() {
    let import = import("no-security-3.0.json");
    assert_eq!(import.tools.len(), 3);
    assert_well_formed(&import);
    let kinds: Vec<WarningKind> = import.warnings.iter().map(|w| w.kind).collect();
    assert!(kinds.contains(&WarningKind::NoSecuritySchemes), "{kinds:?}");
    let unprotected = import
        .warnings
        .iter()
        .find(|w| w.kind == WarningKind::OperationsWithoutSecurity)
        .unwrap();
    assert!(
        unprotected.message.starts_with("3 operation(s)"),
        "{}",
        unprotected.message
    );
}

#[test]
fn write_operations_reachable_with_read_scopes_are_flagged() {
    let import = import("petstore-3.0.yaml");
    let flagged: Vec<&str> = import
        .warnings
        .iter()
        .filter(|w| w.kind == WarningKind::WriteWithReadScope)
        .filter_map(|w| w.tool.as_deref())
        .collect();
    // DELETE /store/orders/{orderId} and POST /chains inherit `read:pets`.
    assert!(flagged.contains(&"submitChain"), "{flagged:?}");
    assert!(
        flagged.contains(&"delete_store_orders_orderId"),
        "{flagged:?}"
    );
    assert!(!flagged.contains(&"listPets"), "reads are not flagged");
    assert!(
        !flagged.contains(&"createPet"),
        "write:pets alongside read:pets is fine"
    );
}

#[test]
fn broken_specs_are_refused_with_a_clear_error() {
    // (fixture, is the error the expected kind, text it must mention)
    type Case = (&'static str, fn(&ImportError) -> bool, &'static str);
    let cases: &[Case] = &[
        (
            "broken/empty.json",
            |e| matches!(e, ImportError::Empty),
            "empty",
        ),
        (
            "broken/not-yaml.yaml",
            |e| matches!(e, ImportError::Syntax { format: "YAML", line, .. } if *line > 0),
            "line",
        ),
        (
            "broken/not-openapi.json",
            |e| matches!(e, ImportError::NotOpenApi(_)),
            "not an OpenAPI",
        ),
        (
            "broken/unsupported-version.yaml",
            |e| matches!(e, ImportError::UnsupportedVersion(_)),
            "4.0.0",
        ),
        (
            "broken/dangling-ref.yaml",
            |e| matches!(e, ImportError::Reference { .. }),
            "#/components/schemas/Missing",
        ),
        (
            "broken/external-ref.yaml",
            |e| matches!(e, ImportError::Reference { .. }),
            "other.yaml#/Foo",
        ),
    ];
    for (file, is_expected, mentions) in cases {
        let error = import_file(&fixture(file), "t").expect_err(file);
        assert!(is_expected(&error), "{file}: unexpected error {error:?}");
        assert!(
            error.to_string().contains(mentions),
            "{file}: `{error}` should mention {mentions}"
        );
    }
    let missing = import_file(&fixture("does-not-exist.yaml"), "t").expect_err("missing file");
    assert!(
        missing.to_string().contains("does-not-exist.yaml"),
        "{missing}"
    );
}

#[test]
fn arbitrary_garbage_never_panics() {
    for text in [
        "",
        "   ",
        "{",
        "[]",
        "null",
        "42",
        "openapi: 3.0.0",
        "openapi: [1]",
        r#"{"openapi":"3.0.0","paths":[]}"#,
        r#"{"openapi":"3.0.0","paths":{"/a":{"get":"nope"}}}"#,
        r#"{"openapi":"3.0.0","paths":{"/a":{"get":{"parameters":[{"in":"query"}]}}}}"#,
        r##"{"openapi":"3.0.0","paths":{"/a":{"$ref":"#/paths/~1a"}}}"##,
        r##"{"openapi":"3.0.0","paths":{"/a":{"get":{"parameters":[{"$ref":"#/x"}]}}},"x":{"$ref":"#/x"}}"##,
        r#"{"openapi":"3.0.0","components":{"securitySchemes":{"s":{"type":"apiKey"}}}}"#,
        "swagger: '2.0'\npaths:\n  /a:\n    get:\n      parameters:\n        - {in: body}\n",
        "? [a, b]\n: c\n",
    ] {
        let _ = import_str(text, "t");
    }
}

/// 20,000 operations with shared and cyclic schemas import correctly; the
/// time taken is printed for the record (benchmarks live elsewhere).
#[test]
fn a_spec_with_twenty_thousand_operations() {
    let spec = generated_spec(10_000);
    let started = std::time::Instant::now();
    let import = import_str(&spec, "big").unwrap();
    eprintln!(
        "imported {} operations in {:?}",
        import.tools.len(),
        started.elapsed()
    );
    assert_eq!(import.tools.len(), 20_000);
    let unique: HashSet<&str> = names(&import).into_iter().collect();
    assert_eq!(unique.len(), 20_000);
    // Check the schemas of a sample across the whole range.
    for tool in import.tools.iter().step_by(997) {
        assert!(is_valid_tool_name(&tool.spec.name));
        jsonschema::meta::validate(&schema_of(tool)).unwrap();
        jsonschema::validator_for(&schema_of(tool)).unwrap();
    }
}

/// A spec with `resources` paths, each with a GET (no operationId, so the
/// name is derived) and a POST whose body is a cyclic schema.
pub fn generated_spec(resources: usize) -> String {
    let mut paths = serde_json::Map::new();
    for i in 0..resources {
        paths.insert(
            format!("/tenants/{{tenantId}}/resource{i}/{{id}}"),
            json!({
                "parameters": [{"name": "tenantId", "in": "path", "required": true, "schema": {"type": "string"}}],
                "get": {
                    "parameters": [
                        {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                        {"$ref": "#/components/parameters/Limit"}
                    ],
                    "security": [{"oauth": [format!("read:r{i}")]}],
                    "responses": {"200": {"description": "ok"}}
                },
                "post": {
                    "operationId": format!("updateResource{i}"),
                    "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Folder"}}}},
                    "responses": {"200": {"description": "ok"}}
                }
            }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "generated", "version": "1"},
        "security": [{"oauth": ["write:all"]}],
        "paths": paths,
        "components": {
            "parameters": {"Limit": {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}}},
            "securitySchemes": {"oauth": {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "https://auth.example/token", "scopes": {"write:all": "w"}}}}},
            "schemas": {
                "Folder": {"type": "object", "properties": {
                    "name": {"type": "string", "nullable": true},
                    "owner": {"$ref": "#/components/schemas/Owner"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Folder"}}}},
                "Owner": {"type": "object", "properties": {"id": {"type": "string"}, "email": {"type": "string", "format": "email"}}}
            }
        }
    })
    .to_string()
}
