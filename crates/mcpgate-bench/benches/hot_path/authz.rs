//! A small, realistic deployment to authorize against: two backends of 12
//! tools each (CRM and billing), roles from groups, scope implications,
//! one rate limit and four Cedar `forbid` policies of the kinds operators
//! write first.

use std::collections::BTreeMap;
use std::path::Path;

use mcpgate_authz::{AuthzConfig, Policy, PolicyInputs};
use mcpgate_core::{SecurityRequirement, ToolAnnotations, ToolSpec};
use serde_json::{Map, json};

const BACKENDS: [(&str, &str); 2] = [("crm", "customers"), ("billing", "invoices")];
const NOUNS: [&str; 3] = ["", "_notes", "_contacts"];
const VERBS: [(&str, &str); 4] = [
    ("list", "GET"),
    ("get", "GET"),
    ("update", "PATCH"),
    ("delete", "DELETE"),
];

/// `{backend}_{verb}_{noun}`: 24 tools with OAuth scopes from their specs
/// and the tags real specs carry.
pub fn catalog() -> Vec<ToolSpec> {
    let mut tools = Vec::new();
    for (backend, noun) in BACKENDS {
        for suffix in NOUNS {
            for (verb, method) in VERBS {
                let level = match verb {
                    "delete" => "admin",
                    "update" => "write",
                    _ => "read",
                };
                let mut tags = vec![noun.to_owned()];
                if backend == "billing" {
                    tags.push("finance".to_owned());
                }
                if verb == "delete" {
                    tags.push("admin".to_owned());
                }
                tools.push(ToolSpec {
                    name: format!("{backend}_{verb}_{noun}{suffix}"),
                    title: None,
                    description: Some(format!("{verb} {noun}{suffix} in {backend}")),
                    input_schema: Map::from_iter([("type".to_owned(), json!("object"))]),
                    annotations: ToolAnnotations {
                        read_only_hint: Some(method == "GET"),
                        ..ToolAnnotations::default()
                    },
                    security: vec![SecurityRequirement {
                        schemes: BTreeMap::from([(
                            "oauth".to_owned(),
                            vec![format!("{level}:{backend}")],
                        )]),
                    }],
                    backend: backend.to_owned(),
                    accepted_auth: None,
                    http_method: Some(method.to_owned()),
                    tags,
                });
            }
        }
    }
    tools
}

const POLICIES: &str = r#"
@id("contractors-no-finance")
forbid (principal, action, resource)
when { principal in Group::"contractors" && resource.tags.contains("finance") };

@id("no-api-key-writes")
forbid (principal, action, resource)
when { !resource.read_only && context.auth_method == "api_key" };

@id("admin-business-hours")
forbid (principal, action, resource)
when { resource.tags.contains("admin") && !context.listing }
unless { context.time.weekday <= 5 && context.time.hour >= 8 && context.time.hour < 19 };

@id("no-cn-regions")
forbid (principal, action, resource in Backend::"crm")
when { context.arguments.hasTag("region") && context.arguments.getTag("region") like "cn-*" };
"#;

const CONFIG: &str = r#"
policies = ["policies.cedar"]
read_only = false
rate_limits = [{ per = "identity", tools = ["crm_*"], requests = 4000000000, window = "1h" }]

[scope_implies]
"admin:*" = ["write:*"]
"write:*" = ["read:*"]

[roles.crm-user]
scopes = ["read:crm", "write:crm"]
groups = ["sales"]

[roles.finance]
scopes = ["read:billing", "write:billing"]
groups = ["finance"]

[roles.admin]
scopes = ["admin:crm", "admin:billing"]
groups = ["it-admins"]
"#;

/// The policy, compiled once as `mcpgate serve` does (the policy file is
/// written to `dir`).
pub fn policy(tools: &[ToolSpec], dir: &Path) -> Policy {
    std::fs::write(dir.join("policies.cedar"), POLICIES).expect("the policy file is written");
    let config: AuthzConfig = toml::from_str(CONFIG).expect("the bench config parses");
    let policy = Policy::compile(PolicyInputs {
        config: &config,
        tools,
        backend_read_only: &BTreeMap::new(),
        base_dir: dir,
    })
    .expect("the bench policy compiles");
    assert_eq!(policy.policy_count(), 4);
    policy
}
