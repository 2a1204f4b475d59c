//! How long one authorization decision takes on a large deployment.
//!
//! The gateway decides on every `tools/list` entry and again on every
//! `tools/call`, so a decision must stay in the microseconds even with a
//! big catalog and many policies. This builds 1,000 tools over ten backends
//! and 60 Cedar `forbid` policies of the kinds operators write (tags,
//! backends, arguments, time, authentication method, network), compiles
//! them once, and measures:
//!
//! - a call with arguments that the policies of its backend have to look
//!   at and that they let through (the slowest ordinary path; the policies
//!   of other backends, or that cannot apply to this tool or this caller,
//!   are left out at compile time and when the caller is first seen);
//! - a listing decision (no arguments);
//! - the same call with only the one policy that must read its arguments,
//!   and without any policy, to tell the cost per request from the cost per
//!   policy;
//! - the call by a caller seen for the first time (a new identity each
//!   iteration: roles, scopes and which policies can apply to it are
//!   worked out, then cached);
//! - counting a call against one rate limit.
//!
//! Run: `cargo bench -p mcpgate-authz --bench decision`.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::net::IpAddr;
use std::time::SystemTime;

use criterion::{Criterion, criterion_group, criterion_main};
use mcpgate_authz::{AuthzConfig, Policy, PolicyInputs};
use mcpgate_core::{
    AuthMethod, Authorizer, AuthzRequest, Decision, Identity, SecurityRequirement, ToolAnnotations,
    ToolSpec, parse_rfc3339,
};
use serde_json::{Map, Value, json};

/// Ten backends of 100 tools each: 1,000 tools.
const BACKENDS: [&str; 10] = [
    "crm",
    "billing",
    "inventory",
    "hr",
    "support",
    "shipping",
    "analytics",
    "marketing",
    "identity",
    "catalog",
];
const NOUNS: [&str; 5] = ["customers", "orders", "contacts", "notes", "accounts"];
const VERBS: [(&str, &str); 4] = [
    ("list", "GET"),
    ("get", "GET"),
    ("update", "PATCH"),
    ("delete", "DELETE"),
];

/// The catalog: `{backend}_{verb}_{noun}_{n}`, tagged the way real specs
/// are (finance for billing, pii for hr, admin for deletes), half of them
/// declaring OAuth scopes and half relying on `[[authz.tools]]` rules.
fn catalog() -> Vec<ToolSpec> {
    let mut tools = Vec::new();
    for (b, backend) in BACKENDS.iter().enumerate() {
        for noun in NOUNS {
            for n in 0..5 {
                for (verb, method) in VERBS {
                    let read_only = method == "GET";
                    let mut tags = vec![noun.to_owned()];
                    match *backend {
                        "billing" => tags.push("finance".into()),
                        "hr" => tags.push("pii".into()),
                        _ => {}
                    }
                    if verb == "delete" {
                        tags.push("admin".into());
                    }
                    let security = if b % 2 == 0 {
                        let level = match verb {
                            "delete" => "admin",
                            "update" => "write",
                            _ => "read",
                        };
                        vec![SecurityRequirement {
                            schemes: BTreeMap::from([(
                                "oauth".to_owned(),
                                vec![format!("{level}:{backend}")],
                            )]),
                        }]
                    } else {
                        Vec::new()
                    };
                    tools.push(ToolSpec {
                        name: format!("{backend}_{verb}_{noun}_{n}"),
                        title: None,
                        description: Some(format!("{verb} {noun} in {backend}")),
                        input_schema: Map::from_iter([("type".to_owned(), json!("object"))]),
                        annotations: ToolAnnotations {
                            read_only_hint: Some(read_only),
                            ..ToolAnnotations::default()
                        },
                        security,
                        backend: (*backend).to_owned(),
                        accepted_auth: None,
                        http_method: Some(method.to_owned()),
                        tags,
                    });
                }
            }
        }
    }
    tools
}

/// Six policies per backend, 60 in all, each scoped to its backend the way
/// an operator would write them, so that most of them do not apply to a
/// given call.
fn policies() -> String {
    let mut text = String::new();
    for b in BACKENDS {
        text.push_str(&format!(
            r#"
@id("{b}-contractors")
forbid (principal, action, resource in Backend::"{b}")
when {{
  principal in Group::"contractors" &&
  (resource.tags.contains("finance") || resource.tags.contains("pii"))
}};

@id("{b}-admin-business-hours")
forbid (principal, action, resource in Backend::"{b}")
when {{ resource.tags.contains("admin") && !context.listing }}
unless {{ context.time.weekday <= 5 && context.time.hour >= 8 && context.time.hour < 19 }};

@id("{b}-own-team-records")
forbid (principal, action, resource in Backend::"{b}")
when {{ !resource.read_only && !context.listing && context.arguments.hasTag("body.team") }}
unless {{
  principal.hasTag("team") &&
  principal.getTag("team") == context.arguments.getTag("body.team")
}};

@id("{b}-no-api-key-writes")
forbid (principal, action, resource in Backend::"{b}")
when {{ !resource.read_only && context.auth_method == "api_key" }};

@id("{b}-admin-from-office")
forbid (principal, action, resource in Backend::"{b}")
when {{
  resource.tags.contains("admin") &&
  context has source_ip &&
  !context.source_ip.isInRange(ip("10.0.0.0/8"))
}};

@id("{b}-no-cn-regions")
forbid (principal, action, resource in Backend::"{b}")
when {{
  context.arguments.hasTag("region") &&
  context.arguments.getTag("region") like "cn-*"
}}
unless {{ principal in Role::"admin" }};
"#
        ));
    }
    text
}

/// The `[authz]` section: roles from groups, scope implications, rules for
/// the backends whose specs declare nothing, one rate limit and the policy
/// file, if any.
fn config(policy_file: Option<&str>) -> AuthzConfig {
    // Top-level keys must come before the first table in TOML.
    let policies = match policy_file {
        Some(file) => format!("policies = [\"{file}\"]"),
        None => String::new(),
    };
    let mut text = format!(
        r#"
        {policies}
        read_only = false
        rate_limits = [{{ per = "identity", tools = ["crm_*"], requests = 4000000000, window = "1h" }}]

        [scope_implies]
        "admin:*" = ["write:*"]
        "write:*" = ["read:*"]

        [roles.read]
        scopes = ["read:crm", "read:support", "read:inventory"]
        groups = ["sales", "support"]

        [roles.write]
        scopes = ["write:crm", "write:support"]
        groups = ["sales-leads"]

        [roles.admin]
        scopes = ["admin:crm", "admin:billing", "admin:hr"]
        groups = ["it-admins"]

        [roles.analyst]
        scopes = ["read:analytics", "read:billing"]
        groups = ["data-team"]
        read_only = true
        "#,
    );
    for backend in BACKENDS.iter().skip(1).step_by(2) {
        text.push_str(&format!(
            r#"
            [[tools]]
            backends = ["{backend}"]
            kind = "read"
            scopes = ["read:{{backend}}"]
            [[tools]]
            backends = ["{backend}"]
            tools = ["*_delete_*"]
            scopes = ["admin:{{backend}}"]
            [[tools]]
            backends = ["{backend}"]
            scopes = ["write:{{backend}}"]
            "#
        ));
    }
    toml::from_str(&text).expect("the bench config parses")
}

/// A sales lead of the EMEA team, signed in with OAuth from the office
/// network: roles come from groups, the team from a claim.
fn caller() -> Identity {
    let mut identity = Identity::new("sam@acme.example", AuthMethod::OAuth);
    identity.client_id = Some("claude-desktop".into());
    identity.groups = ["sales", "sales-leads", "emea-sales"]
        .map(String::from)
        .into();
    identity.claims.insert("team".into(), json!("emea"));
    identity.claims.insert("department".into(), json!("sales"));
    identity
        .claims
        .insert("employee_number".into(), json!(4711));
    identity
}

/// Compile `config` against `tools`, policy files relative to `dir`.
fn compile(config: &AuthzConfig, tools: &[ToolSpec], dir: &std::path::Path) -> Policy {
    Policy::compile(PolicyInputs {
        config,
        tools,
        backend_read_only: &BTreeMap::new(),
        base_dir: dir,
    })
    .expect("the bench policy compiles")
}

fn decision(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let all = policies();
    std::fs::write(dir.path().join("bench.cedar"), &all).expect("the policy file is written");
    // One policy that applies to the call and reads its arguments: what a
    // request costs once policies must be evaluated (entities, context),
    // to tell it from the cost per policy.
    let start = all
        .find("@id(\"crm-own-team-records\")")
        .expect("the policy is there");
    let end = start + all[start..].find("};").expect("a policy ends") + 2;
    std::fs::write(dir.path().join("one.cedar"), &all[start..end])
        .expect("the policy file is written");
    let tools = catalog();
    assert_eq!(tools.len(), 1000);
    let with_cedar = compile(&config(Some("bench.cedar")), &tools, dir.path());
    let one_policy = compile(&config(Some("one.cedar")), &tools, dir.path());
    let without_cedar = compile(&config(None), &tools, dir.path());
    assert_eq!(with_cedar.policy_count(), 60);
    assert_eq!(one_policy.policy_count(), 1);
    assert_eq!(without_cedar.policy_count(), 0);

    let identity = caller();
    let update = tools
        .iter()
        .find(|t| t.name == "crm_update_customers_3")
        .expect("in the catalog");
    let list = tools
        .iter()
        .find(|t| t.name == "crm_list_orders_1")
        .expect("in the catalog");
    let arguments: Map<String, Value> = match json!({
        "id": "cus_1042",
        "region": "eu-west-1",
        "body": {"name": "Initech", "team": "emea", "address": {"city": "Berlin", "country": "DE"}}
    }) {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    let source: IpAddr = [10, 20, 0, 7].into();
    let wednesday = parse_rfc3339("2025-11-19T10:00:00Z").expect("a valid time");
    let call = AuthzRequest {
        identity: &identity,
        tool: update,
        arguments: Some(&arguments),
        source: Some(source),
        time: wednesday,
    };
    let listing = AuthzRequest {
        identity: &identity,
        tool: list,
        arguments: None,
        source: Some(source),
        time: SystemTime::now(),
    };
    // Measure the paths meant: allowed after every stage, not refused early.
    for (policy, request) in [
        (&with_cedar, &call),
        (&with_cedar, &listing),
        (&one_policy, &call),
        (&without_cedar, &call),
    ] {
        let explanation = policy.explain(request);
        assert_eq!(
            explanation.decision,
            Decision::Allow,
            "{}",
            explanation.steps.join("\n")
        );
    }

    c.bench_function("call, 60 policies, 1000 tools", |b| {
        b.iter(|| with_cedar.decide(black_box(&call)))
    });
    c.bench_function("list, 60 policies, 1000 tools", |b| {
        b.iter(|| with_cedar.decide(black_box(&listing)))
    });
    c.bench_function("call, 1 applicable policy, 1000 tools", |b| {
        b.iter(|| one_policy.decide(black_box(&call)))
    });
    c.bench_function("call, no policies, 1000 tools", |b| {
        b.iter(|| without_cedar.decide(black_box(&call)))
    });
    let mut n = 0u64;
    c.bench_function("call by a new caller, 60 policies, 1000 tools", |b| {
        b.iter(|| {
            n += 1;
            let mut stranger = identity.clone();
            stranger.subject = format!("user-{n}@acme.example");
            with_cedar.decide(black_box(&AuthzRequest {
                identity: &stranger,
                ..call
            }))
        })
    });
    c.bench_function("admit, one rate limit", |b| {
        b.iter(|| with_cedar.admit(black_box(&identity), black_box(update)))
    });
}

criterion_group!(benches, decision);
criterion_main!(benches);
