//! Acceptance test of the authorize stage on a realistic configuration.
//!
//! Acme runs mcpgate in front of two internal APIs (`tests/fixtures`): a
//! CRM (customers owned by sales teams, financial invoices and reports,
//! administrative endpoints) whose spec declares OAuth scopes for some
//! operations, and an inventory service that declares none. Its
//! `mcpgate.toml` maps identity-provider groups to roles, lets the CRM be
//! written to while the inventory stays read-only, and adds four Cedar
//! policies (`policies/acme.cedar`).
//!
//! The table in [`EXPECTED`] says, for each of eight callers and each tool,
//! what the gateway must decide when listing the tool and when calling it on
//! a Wednesday morning and on a Saturday. Every expectation follows from the
//! configuration by hand; the comment above each caller says why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use mcpgate_authz::{AuthzConfig, CompileError, Policy, PolicyInputs};
use mcpgate_core::{
    AuthMethod, Authorizer, AuthzRequest, Decision, DenyReason, Identity, ToolSpec, parse_rfc3339,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The parts of `mcpgate.toml` the authorize stage is built from; the
/// fixture holds only those, so the test needs nothing else of the binary.
#[derive(Deserialize)]
struct ConfigExcerpt {
    backends: BTreeMap<String, BackendExcerpt>,
    authz: AuthzConfig,
}

/// `[backends.NAME]`, reduced to what decides the catalog and read-only mode.
#[derive(Deserialize)]
struct BackendExcerpt {
    spec: String,
    read_only: Option<bool>,
}

/// Acme's gateway as it stands after start-up: the catalog, the settings it
/// was compiled from (so tests can vary them) and the compiled policy.
struct Acme {
    tools: Vec<ToolSpec>,
    config: AuthzConfig,
    backend_read_only: BTreeMap<String, bool>,
    policy: Policy,
}

/// The fixtures directory, which is also the config file's directory that
/// policy paths are relative to.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Build Acme's gateway from the fixtures the way `mcpgate` does at
/// start-up: import each backend's spec, then compile `[authz]` against it.
fn acme() -> Acme {
    let dir = fixtures();
    let text = std::fs::read_to_string(dir.join("mcpgate.toml")).expect("the config is readable");
    let excerpt: ConfigExcerpt = toml::from_str(&text).expect("the config parses");
    let mut tools = Vec::new();
    let mut backend_read_only = BTreeMap::new();
    for (name, backend) in &excerpt.backends {
        let spec = std::fs::read_to_string(dir.join(&backend.spec)).expect("the spec is readable");
        let import = mcpgate_openapi::import_str(&spec, name).expect("the spec imports");
        tools.extend(import.tools.into_iter().map(|t| t.spec));
        if let Some(on) = backend.read_only {
            backend_read_only.insert(name.clone(), on);
        }
    }
    let mut acme = Acme {
        policy: Policy::compile(PolicyInputs {
            config: &excerpt.authz,
            tools: &tools,
            backend_read_only: &backend_read_only,
            base_dir: &dir,
        })
        .expect("Acme's authz settings compile"),
        tools: Vec::new(),
        config: excerpt.authz,
        backend_read_only,
    };
    acme.tools = tools;
    acme
}

impl Acme {
    /// A tool of the catalog, by name; panics on a typo in the test.
    fn tool(&self, name: &str) -> &ToolSpec {
        self.tools
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no tool {name} in the catalog"))
    }

    /// Compile a variant of Acme's settings against the same catalog.
    fn compile(&self, config: &AuthzConfig) -> Result<Policy, CompileError> {
        Policy::compile(PolicyInputs {
            config,
            tools: &self.tools,
            backend_read_only: &self.backend_read_only,
            base_dir: &fixtures(),
        })
    }
}

/// An instant, in RFC 3339; policies see it at Acme's offset (+01:00).
fn at(text: &str) -> SystemTime {
    parse_rfc3339(text).unwrap_or_else(|| panic!("{text} is not an RFC 3339 time"))
}

/// A Wednesday, 11:00 in Berlin: business hours.
const WEDNESDAY: &str = "2025-11-19T10:00:00Z";
/// A Saturday, 11:00 in Berlin: not business hours.
const SATURDAY: &str = "2025-11-22T10:00:00Z";

/// A person signed in through the identity provider: its groups, and its
/// team as the `team` claim (policies read it as a tag).
fn person(subject: &str, auth: AuthMethod, groups: &[&str], team: &str) -> Identity {
    let mut identity = Identity::new(subject, auth);
    identity.groups = groups.iter().map(|g| g.to_string()).collect();
    identity.claims.insert("team".into(), json!(team));
    identity
}

/// Scopes as a set, for identities whose credential carries some.
fn scopes(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// The callers of the table, by the short name the table and the failure
/// grid use.
fn callers() -> Vec<(&'static str, Identity)> {
    let alice = person("alice@acme.example", AuthMethod::OAuth, &[], "platform");
    let dana = person(
        "dana@acme.example",
        AuthMethod::Jwt,
        &["data-team"],
        "analytics",
    );
    let sam = person(
        "sam@acme.example",
        AuthMethod::OAuth,
        &["sales", "sales-leads"],
        "emea",
    );
    let carl = person(
        "carl@partner.example",
        AuthMethod::Jwt,
        &["contractors", "finance"],
        "apac",
    );
    let mut ci = Identity::new("key_ci_nightly", AuthMethod::ApiKey);
    ci.client_id = Some("nightly-sync".into());
    ci.scopes = scopes(&["write:crm", "read:inventory"]);
    let mut billing = Identity::new("CN=billing.acme.internal", AuthMethod::MutualTls);
    billing.roles = scopes(&["accountant"]);
    billing.scopes = scopes(&["read:crm"]);
    let eve = person("eve@acme.example", AuthMethod::Jwt, &["marketing"], "brand");
    vec![
        ("alice", alice),
        ("dana", dana),
        ("sam", sam),
        ("carl", carl),
        ("ci", ci),
        ("billing", billing),
        ("eve", eve),
        ("local", Identity::local()),
    ]
}

/// The arguments each tool is called with in the table. Customer records
/// sent belong to the EMEA team; the body is under `body`, as the importer
/// names it, so policies see `body.team`.
fn arguments(tool: &str) -> Map<String, Value> {
    let value = match tool {
        "list_customers" => json!({"team": "emea"}),
        "get_customer" | "delete_customer" => json!({"id": "cus_1042"}),
        "search_customers" => json!({"body": {"query": "initech"}}),
        "create_customer" => json!({"body": {"name": "Globex", "team": "emea"}}),
        "update_customer" => json!({
            "id": "cus_1042",
            "body": {"name": "Initech", "email": "ops@initech.example", "team": "emea"}
        }),
        "list_invoices" => json!({"status": "open"}),
        "refund_invoice" => {
            json!({"id": "inv_77", "body": {"amount_cents": 1500, "reason": "duplicate"}})
        }
        "get_revenue_report" => json!({"year": 2025}),
        "admin_reset_password" => json!({"id": "usr_9"}),
        "list_items" => json!({"warehouse": "ber-1"}),
        "get_item" => json!({"sku": "SKU-1"}),
        "adjust_stock" => json!({"sku": "SKU-1", "body": {"delta": -3, "reason": "breakage"}}),
        "get_health" | "admin_purge_items" => json!({}),
        other => panic!("the table has no arguments for {other}"),
    };
    match value {
        Value::Object(map) => map,
        _ => unreachable!("every value above is an object"),
    }
}

/// An expected decision, written the way the table reads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// `Decision::Allow`.
    Allow,
    /// Refused: the backend is in read-only mode and the tool may write.
    ReadOnly,
    /// Refused: neither a rule nor the spec names scopes for the tool.
    NoGrant,
    /// Refused: the caller lacks these scopes (the step-up hint).
    Scope(&'static [&'static str]),
    /// Refused by these Cedar policies (ids, sorted, `, `-separated).
    Forbid(&'static str),
}

impl Expect {
    /// The exact [`Decision`] this stands for, so cells compare whole
    /// decisions and not just "allowed or not".
    fn decision(self) -> Decision {
        let deny = |reason, missing: &[&str]| Decision::Deny {
            reason,
            missing_scopes: missing.iter().map(|s| s.to_string()).collect(),
        };
        match self {
            Expect::Allow => Decision::Allow,
            Expect::ReadOnly => deny(DenyReason::ReadOnlyMode, &[]),
            Expect::NoGrant => deny(DenyReason::NoMatchingGrant, &[]),
            Expect::Scope(missing) => deny(DenyReason::InsufficientScope, missing),
            Expect::Forbid(ids) => deny(DenyReason::Policy(ids.to_owned()), &[]),
        }
    }
}

use Expect::{Allow, Forbid, NoGrant, ReadOnly, Scope};

/// One caller's row: per tool, `[listing, call on Wednesday, call on Saturday]`.
type Row = (&'static str, &'static [(&'static str, [Expect; 3])]);

const BUSINESS_HOURS: &str = "admin-business-hours";
const OWN_TEAM: &str = "own-team-records";
const CONTRACTORS: &str = "contractors-no-finance";
const API_KEY_WRITES: &str = "no-api-key-writes";

/// What the catalog requires, for reading the table:
///
/// | tool                 | scopes (source)          | read-only      | other          |
/// |----------------------|--------------------------|----------------|----------------|
/// | list/get_customer    | read:crm (spec)          | yes (GET)      |                |
/// | search_customers     | read:crm (spec)          | yes (rule 5)   | a POST         |
/// | create_customer      | write:crm (rule 4)       | no             | own team       |
/// | update_customer      | write:crm (spec)         | no             | own team       |
/// | delete_customer      | admin:crm (spec)         | no             | tagged admin   |
/// | list_invoices        | read:finance (spec)      | yes            | tagged finance |
/// | refund_invoice       | write:finance (rule 2)   | no             | tagged finance |
/// | get_revenue_report   | read:finance (rule 3)    | yes            | tagged finance |
/// | admin_reset_password | admin:crm (rule 1)       | no             | tagged admin   |
/// | get_health           | none: refused (deny)     | yes            |                |
/// | list_items, get_item | read:inventory (rule 6)  | yes            | inventory      |
/// | adjust_stock         | write:inventory (rule 7) | no: read-only mode refuses it |  |
/// | admin_purge_items    | admin:inventory (rule 1) | no: read-only mode refuses it |  |
///
/// Read-only mode is checked first, then scopes, then Cedar; the local user
/// of an unauthenticated gateway skips scopes but not Cedar.
const EXPECTED: &[Row] = &[
    // alice: role admin by subject: admin:crm, admin:inventory and
    // write:finance, which imply write:crm, read:crm, write:inventory,
    // read:inventory and read:finance. OAuth, team "platform"; the own-team
    // rule exempts admins. Administrative calls wait for Monday.
    (
        "alice",
        &[
            ("list_customers", [Allow; 3]),
            ("get_customer", [Allow; 3]),
            ("search_customers", [Allow; 3]),
            ("create_customer", [Allow; 3]),
            ("update_customer", [Allow; 3]),
            ("delete_customer", [Allow, Allow, Forbid(BUSINESS_HOURS)]),
            ("list_invoices", [Allow; 3]),
            ("refund_invoice", [Allow; 3]),
            ("get_revenue_report", [Allow; 3]),
            (
                "admin_reset_password",
                [Allow, Allow, Forbid(BUSINESS_HOURS)],
            ),
            ("get_health", [NoGrant; 3]),
            ("list_items", [Allow; 3]),
            ("get_item", [Allow; 3]),
            ("adjust_stock", [ReadOnly; 3]),
            ("admin_purge_items", [ReadOnly; 3]),
        ],
    ),
    // dana: group data-team → role analyst, which is read-only: its
    // admin:crm (→ write:crm → read:crm), read:finance and read:inventory
    // count for read-only tools only. Tools that may write find no scope.
    (
        "dana",
        &[
            ("list_customers", [Allow; 3]),
            ("get_customer", [Allow; 3]),
            ("search_customers", [Allow; 3]),
            ("create_customer", [Scope(&["write:crm"]); 3]),
            ("update_customer", [Scope(&["write:crm"]); 3]),
            ("delete_customer", [Scope(&["admin:crm"]); 3]),
            ("list_invoices", [Allow; 3]),
            ("refund_invoice", [Scope(&["write:finance"]); 3]),
            ("get_revenue_report", [Allow; 3]),
            ("admin_reset_password", [Scope(&["admin:crm"]); 3]),
            ("get_health", [NoGrant; 3]),
            ("list_items", [Allow; 3]),
            ("get_item", [Allow; 3]),
            ("adjust_stock", [ReadOnly; 3]),
            ("admin_purge_items", [ReadOnly; 3]),
        ],
    ),
    // sam: groups sales and sales-leads → roles read and write: read:crm,
    // write:crm, read:inventory, write:inventory. Team "emea", like the
    // records sent, so the own-team rule lets the writes through. No
    // finance or admin scope.
    (
        "sam",
        &[
            ("list_customers", [Allow; 3]),
            ("get_customer", [Allow; 3]),
            ("search_customers", [Allow; 3]),
            ("create_customer", [Allow; 3]),
            ("update_customer", [Allow; 3]),
            ("delete_customer", [Scope(&["admin:crm"]); 3]),
            ("list_invoices", [Scope(&["read:finance"]); 3]),
            ("refund_invoice", [Scope(&["write:finance"]); 3]),
            ("get_revenue_report", [Scope(&["read:finance"]); 3]),
            ("admin_reset_password", [Scope(&["admin:crm"]); 3]),
            ("get_health", [NoGrant; 3]),
            ("list_items", [Allow; 3]),
            ("get_item", [Allow; 3]),
            ("adjust_stock", [ReadOnly; 3]),
            ("admin_purge_items", [ReadOnly; 3]),
        ],
    ),
    // carl: a contractor helping finance. Groups contractors (→ role write)
    // and finance (→ role accountant: write:finance → read:finance). His
    // scopes would allow the financial tools, but contractors never see or
    // call them. Team "apac": he may not write EMEA's records.
    (
        "carl",
        &[
            ("list_customers", [Allow; 3]),
            ("get_customer", [Allow; 3]),
            ("search_customers", [Allow; 3]),
            (
                "create_customer",
                [Allow, Forbid(OWN_TEAM), Forbid(OWN_TEAM)],
            ),
            (
                "update_customer",
                [Allow, Forbid(OWN_TEAM), Forbid(OWN_TEAM)],
            ),
            ("delete_customer", [Scope(&["admin:crm"]); 3]),
            ("list_invoices", [Forbid(CONTRACTORS); 3]),
            ("refund_invoice", [Forbid(CONTRACTORS); 3]),
            ("get_revenue_report", [Forbid(CONTRACTORS); 3]),
            ("admin_reset_password", [Scope(&["admin:crm"]); 3]),
            ("get_health", [NoGrant; 3]),
            ("list_items", [Allow; 3]),
            ("get_item", [Allow; 3]),
            ("adjust_stock", [ReadOnly; 3]),
            ("admin_purge_items", [ReadOnly; 3]),
        ],
    ),
    // ci: the nightly sync's API key, scopes write:crm (→ read:crm) and
    // read:inventory. API keys may not write, so the CRM's write tools are
    // hidden and refused; a call also lacks a team claim, so the own-team
    // rule forbids it as well. search_customers is read-only by rule 5.
    (
        "ci",
        &[
            ("list_customers", [Allow; 3]),
            ("get_customer", [Allow; 3]),
            ("search_customers", [Allow; 3]),
            (
                "create_customer",
                [
                    Forbid(API_KEY_WRITES),
                    Forbid("no-api-key-writes, own-team-records"),
                    Forbid("no-api-key-writes, own-team-records"),
                ],
            ),
            (
                "update_customer",
                [
                    Forbid(API_KEY_WRITES),
                    Forbid("no-api-key-writes, own-team-records"),
                    Forbid("no-api-key-writes, own-team-records"),
                ],
            ),
            ("delete_customer", [Scope(&["admin:crm"]); 3]),
            ("list_invoices", [Scope(&["read:finance"]); 3]),
            ("refund_invoice", [Scope(&["write:finance"]); 3]),
            ("get_revenue_report", [Scope(&["read:finance"]); 3]),
            ("admin_reset_password", [Scope(&["admin:crm"]); 3]),
            ("get_health", [NoGrant; 3]),
            ("list_items", [Allow; 3]),
            ("get_item", [Allow; 3]),
            ("adjust_stock", [ReadOnly; 3]),
            ("admin_purge_items", [ReadOnly; 3]),
        ],
    ),
    // billing: the billing service, by client certificate. Its credential
    // carries role accountant (write:finance → read:finance) and scope
    // read:crm. mTLS may write, so refunds go through.
    (
        "billing",
        &[
            ("list_customers", [Allow; 3]),
            ("get_customer", [Allow; 3]),
            ("search_customers", [Allow; 3]),
            ("create_customer", [Scope(&["write:crm"]); 3]),
            ("update_customer", [Scope(&["write:crm"]); 3]),
            ("delete_customer", [Scope(&["admin:crm"]); 3]),
            ("list_invoices", [Allow; 3]),
            ("refund_invoice", [Allow; 3]),
            ("get_revenue_report", [Allow; 3]),
            ("admin_reset_password", [Scope(&["admin:crm"]); 3]),
            ("get_health", [NoGrant; 3]),
            ("list_items", [Scope(&["read:inventory"]); 3]),
            ("get_item", [Scope(&["read:inventory"]); 3]),
            ("adjust_stock", [ReadOnly; 3]),
            ("admin_purge_items", [ReadOnly; 3]),
        ],
    ),
    // eve: signed in, but her group (marketing) maps to no role: every tool
    // names the scope she would need.
    (
        "eve",
        &[
            ("list_customers", [Scope(&["read:crm"]); 3]),
            ("get_customer", [Scope(&["read:crm"]); 3]),
            ("search_customers", [Scope(&["read:crm"]); 3]),
            ("create_customer", [Scope(&["write:crm"]); 3]),
            ("update_customer", [Scope(&["write:crm"]); 3]),
            ("delete_customer", [Scope(&["admin:crm"]); 3]),
            ("list_invoices", [Scope(&["read:finance"]); 3]),
            ("refund_invoice", [Scope(&["write:finance"]); 3]),
            ("get_revenue_report", [Scope(&["read:finance"]); 3]),
            ("admin_reset_password", [Scope(&["admin:crm"]); 3]),
            ("get_health", [NoGrant; 3]),
            ("list_items", [Scope(&["read:inventory"]); 3]),
            ("get_item", [Scope(&["read:inventory"]); 3]),
            ("adjust_stock", [ReadOnly; 3]),
            ("admin_purge_items", [ReadOnly; 3]),
        ],
    ),
    // local: the user of a gateway run without authentication needs no
    // scope, but read-only mode and the policies still hold: no team claim
    // (so no customer writes), administrative calls on weekdays only.
    (
        "local",
        &[
            ("list_customers", [Allow; 3]),
            ("get_customer", [Allow; 3]),
            ("search_customers", [Allow; 3]),
            (
                "create_customer",
                [Allow, Forbid(OWN_TEAM), Forbid(OWN_TEAM)],
            ),
            (
                "update_customer",
                [Allow, Forbid(OWN_TEAM), Forbid(OWN_TEAM)],
            ),
            ("delete_customer", [Allow, Allow, Forbid(BUSINESS_HOURS)]),
            ("list_invoices", [Allow; 3]),
            ("refund_invoice", [Allow; 3]),
            ("get_revenue_report", [Allow; 3]),
            (
                "admin_reset_password",
                [Allow, Allow, Forbid(BUSINESS_HOURS)],
            ),
            ("get_health", [Allow; 3]),
            ("list_items", [Allow; 3]),
            ("get_item", [Allow; 3]),
            ("adjust_stock", [ReadOnly; 3]),
            ("admin_purge_items", [ReadOnly; 3]),
        ],
    ),
];

/// The three questions asked of every cell, as the grid names them.
const QUESTIONS: [&str; 3] = ["list", "call on Wednesday", "call on Saturday"];

/// One request of the table: listing (no arguments) or a call at a time.
fn request<'a>(
    identity: &'a Identity,
    tool: &'a ToolSpec,
    arguments: &'a Map<String, Value>,
    question: usize,
) -> AuthzRequest<'a> {
    AuthzRequest {
        identity,
        tool,
        arguments: (question > 0).then_some(arguments),
        source: Some([10, 20, 0, 7].into()),
        time: at(if question == 2 { SATURDAY } else { WEDNESDAY }),
    }
}

#[test]
fn every_caller_gets_the_expected_decision_for_every_tool() {
    let acme = acme();
    let callers = callers();
    let catalog: BTreeSet<&str> = acme.tools.iter().map(|t| t.name.as_str()).collect();
    assert!(catalog.len() >= 10, "a realistic catalog");
    assert_eq!(callers.len(), EXPECTED.len(), "one row per caller");

    // The grid: one line per tool, one column per caller, one mark per
    // question (· as expected, ✗ not).
    let mut grid = format!("{:<22}", "tool \\ caller");
    for (name, _) in &callers {
        let _ = write!(grid, "{name:>9}");
    }
    grid.push('\n');
    let mut failures = String::new();
    let mut wrong = 0;
    let mut checked = 0;
    for tool_name in &catalog {
        let tool = acme.tool(tool_name);
        let arguments = arguments(tool_name);
        let _ = write!(grid, "{tool_name:<22}");
        for ((caller, identity), (row_caller, cells)) in callers.iter().zip(EXPECTED) {
            assert_eq!(caller, row_caller, "rows are in the order of callers()");
            let expected = cells
                .iter()
                .find(|(name, _)| name == tool_name)
                .unwrap_or_else(|| panic!("the row of {caller} has no cell for {tool_name}"))
                .1;
            let mut marks = String::new();
            for (question, expect) in expected.iter().enumerate() {
                let request = request(identity, tool, &arguments, question);
                let actual = acme.policy.decide(&request);
                checked += 1;
                if actual == expect.decision() {
                    marks.push('·');
                    continue;
                }
                marks.push('✗');
                wrong += 1;
                let explanation = acme.policy.explain(&request);
                let _ = writeln!(
                    failures,
                    "\n{caller} × {tool_name}, {}:\n  expected {expect:?}\n  actual   {actual:?}\n  steps:",
                    QUESTIONS[question]
                );
                for step in &explanation.steps {
                    let _ = writeln!(failures, "    - {}", step.replace('\n', "\n      "));
                }
            }
            let _ = write!(grid, "{marks:>9}");
        }
        grid.push('\n');
    }
    for (caller, cells) in EXPECTED {
        for (tool_name, _) in *cells {
            assert!(
                catalog.contains(tool_name),
                "the row of {caller} names {tool_name}, which is not in the catalog"
            );
        }
    }
    assert!(
        wrong == 0,
        "{wrong} of {checked} decisions differ from the table \
         (columns: list, call on Wednesday, call on Saturday):\n\n{grid}{failures}"
    );
}

#[test]
fn the_configuration_is_coherent() {
    let acme = acme();
    assert_eq!(
        acme.policy.warnings(),
        &[] as &[String],
        "every rule matches a tool"
    );
    assert_eq!(acme.policy.policy_count(), 4);
    assert_eq!(
        acme.policy.read_scopes(),
        ["read:crm", "read:finance", "read:inventory"],
        "what a client asks for before stepping up"
    );
    assert_eq!(
        acme.policy.all_scopes(),
        [
            "admin:crm",
            "admin:inventory",
            "read:crm",
            "read:finance",
            "read:inventory",
            "write:crm",
            "write:finance",
            "write:inventory"
        ]
    );
}

#[test]
fn business_hours_are_acme_local_time() {
    let acme = acme();
    let alice = &callers()[0].1;
    let tool = acme.tool("delete_customer");
    let arguments = arguments("delete_customer");
    let decide = |time: &str| {
        acme.policy.decide(&AuthzRequest {
            identity: alice,
            tool,
            arguments: Some(&arguments),
            source: None,
            time: at(time),
        })
    };
    let closed = Forbid(BUSINESS_HOURS).decision();
    // Berlin is UTC+01:00 in November.
    assert_eq!(decide("2025-11-19T07:59:00Z"), closed, "08:59 in Berlin");
    assert_eq!(decide("2025-11-19T08:00:00Z"), Decision::Allow, "09:00");
    assert_eq!(decide("2025-11-19T15:59:00Z"), Decision::Allow, "16:59");
    assert_eq!(decide("2025-11-19T16:00:00Z"), closed, "17:00");
    assert_eq!(
        decide("2025-11-21T15:30:00Z"),
        Decision::Allow,
        "Friday 16:30"
    );
    assert_eq!(decide("2025-11-23T10:00:00Z"), closed, "Sunday");
    assert_eq!(
        decide("2025-11-23T23:30:00Z"),
        closed,
        "Monday 00:30 in Berlin, before opening"
    );
    assert_eq!(
        decide("2025-11-24T08:30:00Z"),
        Decision::Allow,
        "Monday 09:30"
    );
}

#[test]
fn callers_change_only_their_own_teams_records() {
    let acme = acme();
    let callers: BTreeMap<&str, Identity> = callers().into_iter().collect();
    let update = acme.tool("update_customer");
    let decide = |caller: &str, arguments: Option<Value>| {
        let arguments = arguments.map(|a| match a {
            Value::Object(map) => map,
            _ => panic!("arguments are an object"),
        });
        acme.policy.decide(&AuthzRequest {
            identity: &callers[caller],
            tool: update,
            arguments: arguments.as_ref(),
            source: None,
            time: at(WEDNESDAY),
        })
    };
    let record = |team: &str| Some(json!({"id": "cus_7", "body": {"name": "Hooli", "team": team}}));
    let forbidden = Forbid(OWN_TEAM).decision();
    assert_eq!(decide("carl", record("apac")), Decision::Allow);
    assert_eq!(decide("carl", record("emea")), forbidden);
    assert_eq!(decide("sam", record("apac")), forbidden);
    assert_eq!(
        decide(
            "sam",
            Some(json!({"id": "cus_7", "body": {"name": "Hooli"}}))
        ),
        forbidden,
        "a record without a team is refused"
    );
    assert_eq!(
        decide("sam", Some(json!({"id": "cus_7", "team": "emea"}))),
        forbidden,
        "only the record's own team counts, not a top-level argument"
    );
    let spoofed = decide(
        "sam",
        Some(
            json!({"id": "cus_7", "body": {"name": "Hooli", "team": "apac"}, "body.team": "emea"}),
        ),
    );
    assert!(
        matches!(&spoofed, Decision::Deny { reason: DenyReason::Policy(why), .. } if why.contains("body.team")),
        "a dotted name must not stand in for the record's own team: {spoofed:?}"
    );
    assert_eq!(
        decide("sam", None),
        Decision::Allow,
        "listing shows the tool"
    );
    assert_eq!(
        decide("alice", record("apac")),
        Decision::Allow,
        "administrators are exempt"
    );
}

#[test]
fn an_explanation_names_the_forbidding_policy_and_where_it_is() {
    let acme = acme();
    let carl = &callers()[3].1;
    let tool = acme.tool("update_customer");
    let arguments = arguments("update_customer");
    let explanation = acme.policy.explain(&request(carl, tool, &arguments, 1));
    assert_eq!(explanation.decision, Forbid(OWN_TEAM).decision());

    let file = fixtures().join("policies/acme.cedar");
    let text = std::fs::read_to_string(&file).unwrap();
    let line = 1 + text
        .lines()
        .position(|l| l.contains(r#"@id("own-team-records")"#))
        .expect("the fixture has the policy");
    let expected = format!(
        "forbidden by policy own-team-records at {}:{line}:\n",
        file.display()
    );
    let steps = explanation.steps.join("\n");
    let step = explanation
        .steps
        .iter()
        .find(|s| s.starts_with(&expected))
        .unwrap_or_else(|| panic!("no step starts with {expected:?}:\n{steps}"));
    assert!(
        step.contains(r#"principal.getTag("team") == context.arguments.getTag("body.team")"#),
        "the step quotes the policy:\n{step}"
    );
    assert!(
        steps.contains("role write from group contractors"),
        "the steps say where the roles came from:\n{steps}"
    );
    assert!(
        steps.contains("the caller holds [write:crm]"),
        "and that scopes were not the problem:\n{steps}"
    );
}

/// Compile Acme's settings with `file` as the only policy file, expecting
/// the policy error.
fn policy_error(acme: &Acme, file: &str) -> mcpgate_authz::PolicyError {
    let mut config = acme.config.clone();
    config.policies = vec![file.into()];
    match acme.compile(&config) {
        Err(CompileError::Policy(error)) => error,
        Err(other) => panic!("expected a policy error for {file}, got: {other}"),
        Ok(_) => panic!("{file} compiled"),
    }
}

#[test]
fn a_policy_with_a_syntax_error_is_reported_at_its_file_and_line() {
    let acme = acme();
    let error = policy_error(&acme, "broken/syntax.cedar");
    let file = fixtures().join("broken/syntax.cedar");
    assert_eq!(error.file, file.display().to_string());
    assert_eq!(error.line, 9, "{error}");
    let shown = CompileError::Policy(error).to_string();
    assert!(
        shown.starts_with(&format!("{}:9:", file.display())),
        "{shown}"
    );
}

#[test]
fn a_policy_that_does_not_fit_the_schema_is_reported_at_its_file_and_line() {
    let acme = acme();
    let error = policy_error(&acme, "broken/schema.cedar");
    let file = fixtures().join("broken/schema.cedar");
    assert_eq!(error.file, file.display().to_string());
    assert_eq!(error.line, 10, "{error}");
    let shown = CompileError::Policy(error).to_string();
    assert!(
        shown.starts_with(&format!("{}:10:", file.display())),
        "{shown}"
    );
    assert!(shown.contains("departments"), "names the policy: {shown}");
    assert!(shown.contains("nosuchattr"), "names the attribute: {shown}");
}

#[test]
fn refunds_are_rate_limited_per_caller() {
    let acme = acme();
    let callers: BTreeMap<&str, Identity> = callers().into_iter().collect();
    let billing = &callers["billing"];
    let refund = acme.tool("refund_invoice");
    assert_eq!(acme.policy.rate_limits_for("refund_invoice").len(), 2);
    assert_eq!(acme.policy.rate_limits_for("list_invoices").len(), 1);

    for n in 1..=3 {
        assert_eq!(
            acme.policy.admit(billing, refund),
            Ok(()),
            "refund {n} of the burst"
        );
    }
    let retry_after = acme
        .policy
        .admit(billing, refund)
        .expect_err("the fourth refund within a minute waits");
    // Three per minute: the next slot opens 20 s after the burst began.
    assert!(
        retry_after > Duration::from_secs(19) && retry_after <= Duration::from_secs(20),
        "Retry-After {retry_after:?}"
    );
    assert!(acme.policy.admit(billing, refund).is_err(), "still waiting");
    assert_eq!(
        acme.policy.admit(billing, acme.tool("list_invoices")),
        Ok(()),
        "other tools are not held back by the refund limit"
    );
    assert_eq!(
        acme.policy.admit(&callers["alice"], refund),
        Ok(()),
        "each caller has their own refunds"
    );
}
