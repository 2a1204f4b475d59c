//! Turning OpenAPI schema objects into self-contained JSON Schema 2020-12.
//!
//! Local `$ref`s are inlined. A reference that leads back into itself (a tree
//! node with children, two schemas that point at each other) cannot be
//! inlined; it is placed once under `$defs` and referred to from there, which
//! keeps the result self-contained. The 3.0 and 2.0 dialects are normalised
//! on the way: `nullable`, boolean `exclusiveMinimum`/`exclusiveMaximum`,
//! `example`, `type: file`, and OpenAPI-only keywords JSON Schema lacks.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use crate::ImportError;
use crate::document::SpecVersion;
use crate::refs::{Resolver, ref_of};

/// Beyond this many schema nodes in one tool's input schema, further shared
/// references go to `$defs` instead of being copied, so that a spec whose
/// schemas fan out cannot blow up memory.
const INLINE_NODE_BUDGET: usize = 20_000;

/// Keywords whose value is one schema.
const SCHEMA_KEYWORDS: &[&str] = &[
    "items",
    "additionalProperties",
    "additionalItems",
    "not",
    "contains",
    "propertyNames",
    "if",
    "then",
    "else",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
];
/// Keywords whose value is an array of schemas.
const SCHEMA_ARRAY_KEYWORDS: &[&str] = &["allOf", "anyOf", "oneOf", "prefixItems"];
/// Keywords whose value maps names to schemas.
const SCHEMA_MAP_KEYWORDS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// OpenAPI-only keywords, and identifiers that would confuse a validator
/// once the schema is moved out of its document.
const DROPPED_KEYWORDS: &[&str] = &[
    "discriminator",
    "xml",
    "externalDocs",
    "$id",
    "$schema",
    "$anchor",
    "$dynamicAnchor",
];

/// Builds self-contained JSON Schemas from one document's schema objects.
pub(crate) struct SchemaBuilder<'a> {
    resolver: Resolver<'a>,
    version: SpecVersion,
    /// Inlined references that contain no `$defs` reference, reusable by
    /// every tool: (schema, node count).
    cache: HashMap<String, (Value, usize)>,
}

/// State of building one tool's input schema.
#[derive(Default)]
pub(crate) struct SchemaPass {
    /// Definitions for references that could not be inlined.
    pub(crate) defs: Map<String, Value>,
    /// Reference → key under `$defs`.
    keys: HashMap<String, String>,
    /// References that turned out to be recursive.
    recursive: HashSet<String>,
    /// References being inlined right now (the path from the root).
    stack: Vec<String>,
    nodes: usize,
}

impl SchemaPass {
    fn def_key(&mut self, reference: &str) -> String {
        if let Some(key) = self.keys.get(reference) {
            return key.clone();
        }
        let base: String = reference
            .rsplit('/')
            .next()
            .unwrap_or("def")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = if base.is_empty() {
            "def".to_owned()
        } else {
            base
        };
        let mut key = base.clone();
        let mut n = 2;
        while self.keys.values().any(|k| *k == key) {
            key = format!("{base}_{n}");
            n += 1;
        }
        self.keys.insert(reference.to_owned(), key.clone());
        key
    }
}

fn def_ref(key: &str) -> Value {
    json!({ "$ref": format!("#/$defs/{key}") })
}

impl<'a> SchemaBuilder<'a> {
    pub(crate) fn new(resolver: Resolver<'a>, version: SpecVersion) -> Self {
        SchemaBuilder {
            resolver,
            version,
            cache: HashMap::new(),
        }
    }

    /// Convert `schema` (found at JSON pointer `at`) within `pass`.
    pub(crate) fn convert(
        &mut self,
        pass: &mut SchemaPass,
        schema: &Value,
        at: &str,
    ) -> Result<Value, ImportError> {
        self.walk(pass, schema, at).map(|(value, _pure)| value)
    }

    /// Returns the converted schema and whether it is "pure": free of
    /// references into this pass's `$defs`, and so safe to cache.
    fn walk(
        &mut self,
        pass: &mut SchemaPass,
        schema: &Value,
        at: &str,
    ) -> Result<(Value, bool), ImportError> {
        let Some(object) = schema.as_object() else {
            // `true`/`false` schemas (3.1), or malformed input kept as is.
            return Ok((schema.clone(), true));
        };
        match ref_of(schema) {
            Some(reference) => self.walk_reference(pass, reference, object, at),
            None => self.walk_object(pass, object, at),
        }
    }

    fn walk_reference(
        &mut self,
        pass: &mut SchemaPass,
        reference: &str,
        object: &Map<String, Value>,
        at: &str,
    ) -> Result<(Value, bool), ImportError> {
        let (target, pure) = self.inline_reference(pass, reference, at)?;
        let siblings: Map<String, Value> = object
            .iter()
            .filter(|(k, _)| k.as_str() != "$ref")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // OpenAPI 3.0 and Swagger ignore keywords beside `$ref`; 3.1 (JSON
        // Schema 2020-12) applies them as well.
        if siblings.is_empty() || self.version != SpecVersion::OpenApi31 {
            return Ok((target, pure));
        }
        let (siblings, siblings_pure) = self.walk_object(pass, &siblings, at)?;
        let annotation_only = siblings.as_object().is_some_and(|s| {
            s.keys()
                .all(|k| matches!(k.as_str(), "description" | "title"))
        });
        let combined = match (annotation_only, target) {
            (true, Value::Object(mut target)) => {
                target.extend(siblings.as_object().cloned().unwrap_or_default());
                Value::Object(target)
            }
            (_, target) => {
                let mut combined = siblings.as_object().cloned().unwrap_or_default();
                combined.insert("allOf".to_owned(), Value::Array(vec![target]));
                Value::Object(combined)
            }
        };
        Ok((combined, pure && siblings_pure))
    }

    fn inline_reference(
        &mut self,
        pass: &mut SchemaPass,
        reference: &str,
        at: &str,
    ) -> Result<(Value, bool), ImportError> {
        if pass.stack.iter().any(|r| r == reference) {
            pass.recursive.insert(reference.to_owned());
            return Ok((def_ref(&pass.def_key(reference)), false));
        }
        if pass.recursive.contains(reference) {
            return Ok((def_ref(&pass.def_key(reference)), false));
        }
        if let Some((cached, nodes)) = self.cache.get(reference)
            && pass.nodes + nodes <= INLINE_NODE_BUDGET
        {
            pass.nodes += nodes;
            return Ok((cached.clone(), true));
        }
        let over_budget = pass.nodes > INLINE_NODE_BUDGET;
        let target = self.resolver.lookup(reference, at)?;
        let nodes_before = pass.nodes;
        pass.stack.push(reference.to_owned());
        let walked = self.walk(pass, target, reference);
        pass.stack.pop();
        let (inlined, pure) = walked?;
        if pass.recursive.contains(reference) || over_budget {
            pass.recursive.insert(reference.to_owned());
            let key = pass.def_key(reference);
            pass.defs.insert(key.clone(), inlined);
            return Ok((def_ref(&key), false));
        }
        if pure {
            self.cache.insert(
                reference.to_owned(),
                (inlined.clone(), pass.nodes - nodes_before),
            );
        }
        Ok((inlined, pure))
    }

    fn walk_object(
        &mut self,
        pass: &mut SchemaPass,
        object: &Map<String, Value>,
        at: &str,
    ) -> Result<(Value, bool), ImportError> {
        pass.nodes += 1;
        let mut pure = true;
        let mut out = Map::with_capacity(object.len());
        for (key, value) in object {
            let key_str = key.as_str();
            if DROPPED_KEYWORDS.contains(&key_str) || key_str.starts_with("x-") {
                continue;
            }
            let converted = if SCHEMA_KEYWORDS.contains(&key_str) && value.is_object() {
                let (v, p) = self.walk(pass, value, at)?;
                pure &= p;
                v
            } else if SCHEMA_ARRAY_KEYWORDS.contains(&key_str) && value.is_array() {
                let mut items = Vec::new();
                for item in value.as_array().into_iter().flatten() {
                    let (v, p) = self.walk(pass, item, at)?;
                    pure &= p;
                    items.push(v);
                }
                Value::Array(items)
            } else if SCHEMA_MAP_KEYWORDS.contains(&key_str) && value.is_object() {
                let mut map = Map::new();
                for (name, item) in value.as_object().into_iter().flatten() {
                    let (v, p) = self.walk(pass, item, at)?;
                    pure &= p;
                    map.insert(name.clone(), v);
                }
                Value::Object(map)
            } else if key_str == "example" && self.version != SpecVersion::OpenApi31 {
                out.insert("examples".to_owned(), Value::Array(vec![value.clone()]));
                continue;
            } else {
                value.clone()
            };
            out.insert(key.clone(), converted);
        }
        if self.version != SpecVersion::OpenApi31 {
            normalise_legacy(&mut out, object);
        }
        Ok((Value::Object(out), pure))
    }
}

/// Apply the OpenAPI 3.0 / Swagger 2.0 dialect rules to one schema object.
fn normalise_legacy(out: &mut Map<String, Value>, original: &Map<String, Value>) {
    if out.get("type").and_then(Value::as_str) == Some("file") {
        out.insert("type".to_owned(), json!("string"));
        out.insert("format".to_owned(), json!("binary"));
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(Value::Bool(flag)) = out.get(exclusive).cloned() {
            out.remove(exclusive);
            if flag && let Some(limit) = out.remove(bound) {
                out.insert(exclusive.to_owned(), limit);
            }
        }
    }
    let nullable = [original.get("nullable"), original.get("x-nullable")]
        .into_iter()
        .any(|v| v == Some(&Value::Bool(true)));
    out.remove("nullable");
    if nullable {
        make_nullable(out);
    }
}

fn make_nullable(out: &mut Map<String, Value>) {
    if let Some(Value::Array(values)) = out.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
    match out.get_mut("type") {
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            out.insert("type".to_owned(), json!([t, "null"]));
        }
        Some(Value::Array(types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
        }
        _ => {
            // No type to widen (e.g. a bare allOf): allow null beside it.
            let inner = std::mem::take(out);
            out.insert("anyOf".to_owned(), json!([inner, { "type": "null" }]));
        }
    }
}
