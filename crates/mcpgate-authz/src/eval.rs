//! Evaluating `forbid` policies fast, with Cedar's own evaluator.
//!
//! `cedar_policy::Authorizer` costs ~60 µs per request before it looks at
//! a single policy (it evaluates every attribute given as an expression,
//! computes the transitive closure of the entity hierarchy, parses the
//! name of the `ip` function) and ~1 µs per policy (it rebuilds each
//! policy's condition). Here the same evaluator from `cedar-policy-core` is
//! driven directly:
//!
//! - entities are built from values, never from expressions to evaluate;
//!   the hierarchy is one level deep (a caller in its roles and groups, a
//!   tool in its backend), so it is given already closed;
//! - each `forbid` condition is built once, when the policies are loaded;
//! - for each tool, the conditions are evaluated once at compile time with
//!   the caller and the context unknown (Cedar's partial evaluation). A
//!   policy that comes out `false` can never forbid a call of that tool and
//!   is not evaluated for it again. Anything else (true, an error, a
//!   residual) is kept.
//!
//! Since every policy set starts with an implicit `permit` and the gateway
//! denies on a `forbid` that errors, the decision is "forbidden if any kept
//! condition is true or fails" — exactly what Cedar's authorizer would
//! answer, without the `permit` work.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::{SystemTime, UNIX_EPOCH};

use cedar_policy_core::ast::{
    Context, Entity, EntityType, EntityUID, EntityUIDEntry, Expr, ExprKind, Literal, Name,
    PartialValue, Request, RestrictedExpr, Value, ValueKind,
};
use cedar_policy_core::entities::{Entities, NoEntitiesSchema, TCComputation};
use cedar_policy_core::evaluator::{Evaluator, RestrictedEvaluator};
use cedar_policy_core::extensions::Extensions;
use mcpgate_core::{Identity, ToolSpec};
use serde_json::Map;
use smol_str::SmolStr;

/// One `forbid` policy, ready to evaluate.
pub(crate) struct Forbid {
    /// Its id (`@id`, or `file#n`).
    pub(crate) id: String,
    /// Scope and conditions as one expression.
    pub(crate) condition: Expr,
    /// The same expression split at its top-level `&&`s: if any one part
    /// is certainly false, so is the whole.
    conjuncts: Vec<Expr>,
    /// Whether it reads `context.source_ip` / `context.arguments`: building
    /// those costs time, so a request builds them only for policies that
    /// read them. (Judged from the text: a false "yes" costs time only.)
    reads_source_ip: bool,
    reads_arguments: bool,
}

impl Forbid {
    /// `text` is the policy's source, to see what it reads.
    pub(crate) fn new(id: String, condition: Expr, text: &str) -> Self {
        let mut conjuncts = Vec::new();
        split_conjunction(&condition, &mut conjuncts);
        Forbid {
            id,
            condition,
            conjuncts,
            reads_source_ip: text.contains("source_ip"),
            reads_arguments: text.contains("arguments"),
        }
    }
}

fn split_conjunction(expr: &Expr, out: &mut Vec<Expr>) {
    match expr.expr_kind() {
        ExprKind::And { left, right } => {
            split_conjunction(left, out);
            split_conjunction(right, out);
        }
        _ => out.push(expr.clone()),
    }
}

/// What the policies said about one call.
#[derive(Debug, PartialEq)]
pub(crate) enum Verdict {
    /// No policy forbids it.
    Allowed,
    /// Forbidden by these policies (ids, sorted).
    Forbidden(Vec<String>),
    /// These forbid policies (or the request itself) could not be
    /// evaluated; refused, fail closed.
    Failed(Vec<String>),
}

/// The pieces of a request that do not change between requests.
pub(crate) struct Evaluation {
    pub(crate) forbids: Vec<Forbid>,
    /// `context.time` for the last second asked about: calls arriving in
    /// the same second share it.
    time: std::sync::Mutex<Option<(i64, Value)>>,
    action: EntityUID,
    arguments: EntityUID,
    ip: Name,
    /// Minutes east of UTC for `context.time`.
    utc_offset_minutes: i64,
}

impl Evaluation {
    pub(crate) fn new(forbids: Vec<Forbid>, utc_offset_minutes: i64) -> Self {
        Evaluation {
            forbids,
            time: std::sync::Mutex::new(None),
            action: euid("Action", "call_tool"),
            arguments: euid("Arguments", "call"),
            ip: "ip".parse().expect("`ip` is a valid name"),
            utc_offset_minutes,
        }
    }

    /// The forbid policies (by index) that could forbid a call of the tool
    /// `tool` describes, whoever calls it with whatever context.
    pub(crate) fn applicable(&self, tool: &Entity) -> Vec<u32> {
        self.possibly_true(tool, EntityUIDEntry::unknown(), tool_entry(tool))
    }

    /// Whether each forbid policy (by index) could forbid a call by the
    /// caller `caller` describes, of whatever tool with whatever context.
    pub(crate) fn applicable_to_caller(&self, caller: &Entity) -> Vec<bool> {
        let mut mask = vec![false; self.forbids.len()];
        let entry = EntityUIDEntry::known(caller.uid().clone(), None);
        for index in self.possibly_true(caller, entry, EntityUIDEntry::unknown()) {
            mask[index as usize] = true;
        }
        mask
    }

    /// The forbid policies none of whose conjuncts, partially evaluated
    /// with only `known` (and the action) given, is certainly `false`.
    ///
    /// Each conjunct is looked at on its own, because Cedar's partial
    /// evaluation stops at the first unknown one (`principal in …` for a
    /// tool, `resource in …` for a caller). A policy left out this way can
    /// never be satisfied for this tool (or caller); it could only have
    /// failed to evaluate, which Cedar itself ignores.
    fn possibly_true(
        &self,
        known: &Entity,
        principal: EntityUIDEntry,
        resource: EntityUIDEntry,
    ) -> Vec<u32> {
        let every = || (0..self.forbids.len() as u32).collect();
        let entities = match Entities::from_entities(
            [known.clone()],
            None::<&NoEntitiesSchema>,
            TCComputation::AssumeAlreadyComputed,
            Extensions::all_available(),
        ) {
            Ok(entities) => entities,
            // Keep everything: evaluated at run time, an error there denies.
            Err(_) => return every(),
        };
        let request = Request::new_unchecked(
            principal,
            EntityUIDEntry::known(self.action.clone(), None),
            resource,
            None,
        );
        let evaluator = Evaluator::new(request, &entities, Extensions::all_available());
        let slots = HashMap::new();
        self.forbids
            .iter()
            .enumerate()
            .filter(|(_, forbid)| {
                !forbid.conjuncts.iter().any(|conjunct| {
                    matches!(
                        evaluator.partial_interpret(conjunct, &slots),
                        Ok(PartialValue::Value(value)) if as_bool(&value) == Some(false)
                    )
                })
            })
            .map(|(index, _)| index as u32)
            .collect()
    }

    /// Evaluate the `applicable` forbid policies for one call.
    pub(crate) fn evaluate(
        &self,
        call: Call<'_>,
        applicable: impl IntoIterator<Item = u32> + Clone,
    ) -> Verdict {
        let (mut any, mut source_ip, mut arguments) = (false, false, false);
        for index in applicable.clone() {
            let forbid = &self.forbids[index as usize];
            any = true;
            source_ip |= forbid.reads_source_ip;
            arguments |= forbid.reads_arguments;
        }
        if !any {
            return Verdict::Allowed;
        }
        let mut tags = Vec::new();
        if let (true, Some(arguments)) = (arguments, call.arguments) {
            flatten_arguments(arguments, "", &mut tags);
        }
        // `{"a.b": 1}` and `{"a": {"b": 2}}` both flatten to `a.b`; a store
        // would keep one silently, so a caller could show policies a value
        // other than the one the backend acts on. Refuse instead.
        tags.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if let Some(pair) = tags.windows(2).find(|pair| pair[0].0 == pair[1].0) {
            return Verdict::Failed(vec![format!(
                "arguments: `{}` is given twice, nested and as a dotted name",
                pair[0].0
            )]);
        }
        let arguments = Entity::new_with_attr_partial_value(
            self.arguments.clone(),
            [],
            HashSet::new(),
            HashSet::new(),
            tags.into_iter()
                .map(|(k, v)| (k, PartialValue::Value(Value::from(v)))),
        );
        // Shared, not copied: the caller and the tool are built once.
        let entities = match Entities::new().add_entities(
            [call.caller.clone(), call.tool.clone(), Arc::new(arguments)],
            None::<&NoEntitiesSchema>,
            TCComputation::AssumeAlreadyComputed,
            Extensions::all_available(),
        ) {
            Ok(entities) => entities,
            Err(e) => return Verdict::Failed(vec![format!("entities: {e}")]),
        };
        let mut context: BTreeMap<SmolStr, Value> = BTreeMap::new();
        context.insert("arguments".into(), Value::from(self.arguments.clone()));
        context.insert(
            "auth_method".into(),
            Value::from(call.identity.auth.as_str()),
        );
        context.insert("listing".into(), Value::from(call.arguments.is_none()));
        context.insert("time".into(), self.time_value(call.time));
        if source_ip && let Some(ip) = call.source {
            match self.ip_value(ip) {
                Ok(value) => {
                    context.insert("source_ip".into(), value);
                }
                Err(e) => return Verdict::Failed(vec![format!("source_ip: {e}")]),
            }
        }
        let request = Request::new_unchecked(
            EntityUIDEntry::known(call.caller.uid().clone(), None),
            EntityUIDEntry::known(self.action.clone(), None),
            EntityUIDEntry::known(call.tool.uid().clone(), None),
            Some(Context::Value(Arc::new(context))),
        );
        let evaluator = Evaluator::new(request, &entities, Extensions::all_available());
        let slots = HashMap::new();
        let mut forbidden = Vec::new();
        let mut failed = Vec::new();
        for index in applicable {
            let forbid = &self.forbids[index as usize];
            match evaluator
                .interpret(&forbid.condition, &slots)
                .map(|v| as_bool(&v))
            {
                Ok(Some(true)) => forbidden.push(forbid.id.clone()),
                Ok(Some(false)) => {}
                // An error, or a condition that is not a boolean (Cedar
                // counts that as an error too).
                Ok(None) | Err(_) => failed.push(forbid.id.clone()),
            }
        }
        if !failed.is_empty() {
            failed.sort();
            return Verdict::Failed(failed);
        }
        if forbidden.is_empty() {
            Verdict::Allowed
        } else {
            forbidden.sort();
            Verdict::Forbidden(forbidden)
        }
    }

    fn time_value(&self, time: SystemTime) -> Value {
        let second = time
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut cached = self.time.lock().unwrap_or_else(|p| p.into_inner());
        match &*cached {
            Some((at, value)) if *at == second => value.clone(),
            _ => {
                let value = time_record(time, self.utc_offset_minutes);
                *cached = Some((second, value.clone()));
                value
            }
        }
    }

    fn ip_value(&self, ip: IpAddr) -> Result<Value, String> {
        let call = RestrictedExpr::call_extension_fn(
            self.ip.clone(),
            [RestrictedExpr::val(ip.to_string())],
        );
        RestrictedEvaluator::new(Extensions::all_available())
            .interpret(call.as_borrowed())
            .map_err(|e| e.to_string())
    }
}

/// One call, as the policies see it.
#[derive(Clone, Copy)]
pub(crate) struct Call<'a> {
    pub(crate) identity: &'a Identity,
    /// From [`caller_entity`].
    pub(crate) caller: &'a Arc<Entity>,
    /// From [`tool_entity`].
    pub(crate) tool: &'a Arc<Entity>,
    pub(crate) arguments: Option<&'a Map<String, serde_json::Value>>,
    pub(crate) source: Option<IpAddr>,
    pub(crate) time: SystemTime,
}

/// The `User` entity for `identity`, holding `roles` and `scopes` (both
/// already resolved), member of its roles and groups; its scalar claims are
/// its tags.
pub(crate) fn caller_entity(
    identity: &Identity,
    roles: &std::collections::BTreeSet<String>,
    scopes: &std::collections::BTreeSet<String>,
) -> Entity {
    let strings = |items: &mut dyn Iterator<Item = &String>| {
        PartialValue::Value(Value::set(items.map(|s| Value::from(s.as_str())), None))
    };
    let mut attrs: Vec<(SmolStr, PartialValue)> = vec![
        (
            "subject".into(),
            PartialValue::Value(Value::from(identity.subject.as_str())),
        ),
        (
            "auth_method".into(),
            PartialValue::Value(Value::from(identity.auth.as_str())),
        ),
        ("scopes".into(), strings(&mut scopes.iter())),
        ("roles".into(), strings(&mut roles.iter())),
        ("groups".into(), strings(&mut identity.groups.iter())),
    ];
    if let Some(client) = &identity.client_id {
        attrs.push((
            "client_id".into(),
            PartialValue::Value(Value::from(client.as_str())),
        ));
    }
    let parents: HashSet<EntityUID> = roles
        .iter()
        .map(|r| euid("Role", r))
        .chain(identity.groups.iter().map(|g| euid("Group", g)))
        .collect();
    let tags = identity.claims.iter().filter_map(|(name, value)| {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        Some((
            SmolStr::from(name.as_str()),
            PartialValue::Value(Value::from(text)),
        ))
    });
    // Roles and groups have no parents of their own: the hierarchy is closed.
    Entity::new_with_attr_partial_value(
        euid("User", &identity.subject),
        attrs,
        HashSet::new(),
        parents,
        tags,
    )
}

/// The `Tool` entity for `tool`, which requires `scopes` and counts as
/// read-only or not, member of its backend.
pub(crate) fn tool_entity(
    tool: &ToolSpec,
    read_only: bool,
    scopes: &std::collections::BTreeSet<String>,
) -> Entity {
    let strings = |items: &mut dyn Iterator<Item = &String>| {
        PartialValue::Value(Value::set(items.map(|s| Value::from(s.as_str())), None))
    };
    let attrs: Vec<(SmolStr, PartialValue)> = vec![
        (
            "name".into(),
            PartialValue::Value(Value::from(tool.name.as_str())),
        ),
        (
            "backend".into(),
            PartialValue::Value(Value::from(tool.backend.as_str())),
        ),
        (
            "method".into(),
            PartialValue::Value(Value::from(tool.http_method.as_deref().unwrap_or(""))),
        ),
        (
            "read_only".into(),
            PartialValue::Value(Value::from(read_only)),
        ),
        ("tags".into(), strings(&mut tool.tags.iter())),
        ("scopes".into(), strings(&mut scopes.iter())),
    ];
    Entity::new_with_attr_partial_value(
        euid("Tool", &tool.name),
        attrs,
        HashSet::new(),
        HashSet::from([euid("Backend", &tool.backend)]),
        [],
    )
}

/// The boolean a condition evaluated to, if it is one.
fn as_bool(value: &Value) -> Option<bool> {
    match value.value_kind() {
        ValueKind::Lit(Literal::Bool(b)) => Some(*b),
        _ => None,
    }
}

/// The entity types of the schema, parsed once: Cedar's parser builds a
/// regex-based lexer per call, which costs ~10 µs — more than a decision.
static ENTITY_TYPES: LazyLock<HashMap<&'static str, EntityType>> = LazyLock::new(|| {
    [
        "User",
        "Role",
        "Group",
        "Tool",
        "Backend",
        "Arguments",
        "Action",
    ]
    .into_iter()
    .map(|name| {
        (
            name,
            name.parse().expect("built-in entity type names parse"),
        )
    })
    .collect()
});

fn tool_entry(tool: &Entity) -> EntityUIDEntry {
    EntityUIDEntry::known(tool.uid().clone(), None)
}

fn euid(kind: &'static str, id: &str) -> EntityUID {
    EntityUID::from_components(
        ENTITY_TYPES[kind].clone(),
        cedar_policy_core::ast::Eid::new(id),
        None,
    )
}

/// Scalar arguments as `name` → text; nested objects as `outer.inner`.
/// Arrays and nulls are left out.
fn flatten_arguments(
    arguments: &Map<String, serde_json::Value>,
    prefix: &str,
    out: &mut Vec<(SmolStr, String)>,
) {
    for (name, value) in arguments {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            serde_json::Value::String(s) => out.push((key.into(), s.clone())),
            serde_json::Value::Number(n) => out.push((key.into(), n.to_string())),
            serde_json::Value::Bool(b) => out.push((key.into(), b.to_string())),
            serde_json::Value::Object(inner) => flatten_arguments(inner, &key, out),
            serde_json::Value::Array(_) | serde_json::Value::Null => {}
        }
    }
}

/// `{hour, minute, weekday (1 = Monday … 7 = Sunday), date, unix}` at
/// `offset` minutes east of UTC.
fn time_record(time: SystemTime, offset_minutes: i64) -> Value {
    let unix = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let local = unix + offset_minutes * 60;
    let days = local.div_euclid(86_400);
    let seconds_of_day = local.rem_euclid(86_400);
    // 1970-01-01 was a Thursday (4 with Monday = 1).
    let weekday = (days + 3).rem_euclid(7) + 1;
    let (year, month, day) = mcpgate_core::civil_from_days(days);
    Value::record(
        [
            ("hour", Value::from(seconds_of_day / 3600)),
            ("minute", Value::from(seconds_of_day % 3600 / 60)),
            ("weekday", Value::from(weekday)),
            (
                "date",
                Value::from(format!("{year:04}-{month:02}-{day:02}")),
            ),
            ("unix", Value::from(unix)),
        ],
        None,
    )
}
