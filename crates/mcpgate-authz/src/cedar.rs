//! Conditions as Cedar policies.
//!
//! The gateway describes each decision to Cedar as: principal = the caller
//! (`User`, member of its `Role`s and `Group`s, string claims as tags),
//! action = `Action::"call_tool"`, resource = the tool (`Tool`, member of its
//! `Backend`) and context = the arguments (as tags of an `Arguments`
//! entity), the time, the authentication method and the source address.
//! [`SCHEMA`] is that vocabulary; every policy file is validated against it
//! at start-up and on reload.
//!
//! Policies restrict: a built-in `permit` lets through whatever scopes
//! allowed, and a `forbid` that matches refuses the call. A `forbid` that
//! fails to evaluate also refuses it (Cedar itself would skip it).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use cedar_policy::{
    Authorizer as CedarAuthorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, PolicyId, PolicySet, Request, RestrictedExpression, Schema,
    ValidationMode, Validator,
};
use mcpgate_core::{Identity, ToolSpec};
use miette::Diagnostic;
use serde_json::{Map, Value};

/// The entities, action and context policies are written against.
pub const SCHEMA: &str = r#"
// The caller. Tags hold the identity's string claims (e.g. `team`).
entity User in [Role, Group] = {
  subject: String,
  auth_method: String,
  scopes: Set<String>,
  roles: Set<String>,
  groups: Set<String>,
  client_id?: String,
} tags String;
entity Role;
entity Group;

// The tool called, inside its backend.
entity Tool in [Backend] = {
  name: String,
  backend: String,
  method: String,
  read_only: Bool,
  tags: Set<String>,
  scopes: Set<String>,
};
entity Backend;

// The call's arguments: top-level and nested (dotted) scalar values, as text.
entity Arguments tags String;

action call_tool appliesTo {
  principal: [User],
  resource: [Tool],
  context: {
    arguments: Arguments,
    auth_method: String,
    listing: Bool,
    time: { hour: Long, minute: Long, weekday: Long, date: String, unix: Long },
    source_ip?: ipaddr,
  }
};
"#;

/// The policy every set starts with, so that only `forbid`s decide.
const BASELINE: &str = r#"@id("mcpgate-baseline") permit(principal, action, resource);"#;
const BASELINE_ID: &str = "mcpgate-baseline";

/// A policy file that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct PolicyError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Where one policy came from, for messages.
#[derive(Debug, Clone)]
pub(crate) struct PolicySource {
    /// `file:line`.
    pub(crate) location: String,
    /// The policy's text.
    pub(crate) text: String,
}

/// Validated policies, ready to evaluate.
pub(crate) struct CedarPolicies {
    set: PolicySet,
    authorizer: CedarAuthorizer,
    action: EntityUid,
    sources: HashMap<PolicyId, PolicySource>,
    /// Minutes east of UTC for `context.time`.
    utc_offset_minutes: i64,
}

/// What Cedar said about one call.
pub(crate) enum CedarVerdict {
    /// No policy forbids it.
    Allowed,
    /// Forbidden by these policies (ids).
    Forbidden(Vec<String>),
    /// A forbid policy could not be evaluated; refused, fail closed.
    Failed(Vec<String>),
}

impl CedarPolicies {
    /// Read, parse and validate `files` (relative to `base_dir`).
    pub(crate) fn load(
        files: &[PathBuf],
        base_dir: &Path,
        utc_offset_minutes: i64,
    ) -> Result<Self, PolicyError> {
        let schema = schema();
        let mut set = PolicySet::from_str(BASELINE).expect("the baseline policy parses");
        let mut sources = HashMap::new();
        // Texts by policy id, to place validation errors.
        let mut texts: HashMap<PolicyId, (String, std::sync::Arc<str>)> = HashMap::new();
        for file in files {
            let path = base_dir.join(file);
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(&path).map_err(|e| PolicyError {
                file: shown.clone(),
                line: 0,
                column: 0,
                message: format!("cannot read the policy file: {e}"),
            })?;
            let parsed = PolicySet::from_str(&text).map_err(|errors| {
                let (line, column) = first_label(&errors, &text);
                PolicyError {
                    file: shown.clone(),
                    line,
                    column,
                    message: format!("not a valid Cedar policy: {}", describe(&errors)),
                }
            })?;
            if parsed.templates().next().is_some() {
                return Err(PolicyError {
                    file: shown,
                    line: 0,
                    column: 0,
                    message: "policy templates (`?principal`, `?resource`) are not supported; \
                              write the entity out"
                        .to_owned(),
                });
            }
            let shared: std::sync::Arc<str> = std::sync::Arc::from(text.as_str());
            let stem = file.display().to_string();
            for (number, policy) in ordered(&parsed, &text).into_iter().enumerate() {
                let (line, _) = line_and_column(&text, policy.1);
                let name = match policy.0.annotation("id") {
                    Some(id) if !id.is_empty() => id.to_owned(),
                    _ => format!("{stem}#{}", number + 1),
                };
                let id = PolicyId::new(&name);
                if sources.contains_key(&id) || name == BASELINE_ID {
                    return Err(PolicyError {
                        file: shown.clone(),
                        line,
                        column: 1,
                        message: format!(
                            "a second policy has the id `{name}`; policy ids must be unique"
                        ),
                    });
                }
                sources.insert(
                    id.clone(),
                    PolicySource {
                        location: format!("{shown}:{line}"),
                        text: policy.0.to_string(),
                    },
                );
                texts.insert(id.clone(), (shown.clone(), shared.clone()));
                set.add(policy.0.new_id(id)).map_err(|e| PolicyError {
                    file: shown.clone(),
                    line,
                    column: 1,
                    message: e.to_string(),
                })?;
            }
        }
        let validation = Validator::new(schema).validate(&set, ValidationMode::Strict);
        if let Some(error) = validation.validation_errors().next() {
            let (file, text) = texts
                .get(error.policy_id())
                .cloned()
                .unwrap_or_else(|| ("<policies>".to_owned(), std::sync::Arc::from("")));
            let (line, column) = first_label(error, &text);
            return Err(PolicyError {
                file,
                line,
                column,
                message: format!(
                    "policy `{}` does not fit the schema (see `mcpgate authz schema`): {}",
                    error.policy_id(),
                    describe(error)
                ),
            });
        }
        Ok(CedarPolicies {
            set,
            authorizer: CedarAuthorizer::new(),
            action: uid("Action", "call_tool"),
            sources,
            utc_offset_minutes,
        })
    }

    /// How many policies the files held.
    pub(crate) fn len(&self) -> usize {
        self.sources.len()
    }

    /// Where a policy came from.
    pub(crate) fn source(&self, id: &str) -> Option<&PolicySource> {
        self.sources.get(&PolicyId::new(id))
    }

    /// Evaluate the policies for one call.
    pub(crate) fn evaluate(
        &self,
        caller: &CedarCaller,
        tool: &Entity,
        arguments: Option<&Map<String, Value>>,
        source: Option<IpAddr>,
        time: SystemTime,
    ) -> CedarVerdict {
        let arguments_uid = uid("Arguments", "call");
        let mut tags = Vec::new();
        if let Some(arguments) = arguments {
            flatten_arguments(arguments, "", &mut tags);
        }
        // `{"a.b": 1}` and `{"a": {"b": 2}}` both flatten to `a.b`; Cedar
        // would keep the last silently, so a caller could show policies a
        // value other than the one the backend acts on. Refuse instead.
        let mut seen = std::collections::HashSet::with_capacity(tags.len());
        if let Some((key, _)) = tags.iter().find(|(key, _)| !seen.insert(key.as_str())) {
            return CedarVerdict::Failed(vec![format!(
                "arguments: `{key}` is given twice, nested and as a dotted name"
            )]);
        }
        let arguments_entity = match Entity::new_with_tags(
            arguments_uid.clone(),
            [],
            [],
            tags.into_iter()
                .map(|(k, v)| (k, RestrictedExpression::new_string(v))),
        ) {
            Ok(entity) => entity,
            Err(e) => return CedarVerdict::Failed(vec![format!("arguments: {e}")]),
        };
        let entities = match Entities::from_entities(
            [caller.entity.clone(), tool.clone(), arguments_entity],
            None,
        ) {
            Ok(entities) => entities,
            Err(e) => return CedarVerdict::Failed(vec![format!("entities: {e}")]),
        };
        let mut pairs = vec![
            (
                "arguments".to_owned(),
                RestrictedExpression::new_entity_uid(arguments_uid),
            ),
            (
                "auth_method".to_owned(),
                RestrictedExpression::new_string(caller.auth_method.clone()),
            ),
            (
                "listing".to_owned(),
                RestrictedExpression::new_bool(arguments.is_none()),
            ),
            (
                "time".to_owned(),
                time_record(time, self.utc_offset_minutes),
            ),
        ];
        if let Some(ip) = source {
            pairs.push((
                "source_ip".to_owned(),
                RestrictedExpression::new_ip(ip.to_string()),
            ));
        }
        let context = match Context::from_pairs(pairs) {
            Ok(context) => context,
            Err(e) => return CedarVerdict::Failed(vec![format!("context: {e}")]),
        };
        let request = match Request::new(
            caller.uid.clone(),
            self.action.clone(),
            tool.uid(),
            context,
            None,
        ) {
            Ok(request) => request,
            Err(e) => return CedarVerdict::Failed(vec![format!("request: {e}")]),
        };
        let response = self
            .authorizer
            .is_authorized(&request, &self.set, &entities);
        let failed: Vec<String> = response
            .diagnostics()
            .errors()
            .map(|e| match e {
                cedar_policy::AuthorizationError::PolicyEvaluationError(e) => {
                    e.policy_id().to_string()
                }
            })
            .filter(|id| {
                self.set
                    .policy(&PolicyId::new(id))
                    .is_some_and(|p| p.effect() == cedar_policy::Effect::Forbid)
            })
            .collect();
        if !failed.is_empty() {
            return CedarVerdict::Failed(failed);
        }
        match response.decision() {
            CedarDecision::Allow => CedarVerdict::Allowed,
            CedarDecision::Deny => {
                let mut forbidding: Vec<String> = response
                    .diagnostics()
                    .reason()
                    .map(|id| id.to_string())
                    .collect();
                forbidding.sort();
                CedarVerdict::Forbidden(forbidding)
            }
        }
    }
}

/// The caller as Cedar sees it, built once per request.
pub(crate) struct CedarCaller {
    uid: EntityUid,
    entity: Entity,
    auth_method: String,
}

impl CedarCaller {
    /// Describe `identity`, holding `roles` and `scopes` (both already
    /// resolved by the role and scope stages).
    pub(crate) fn new(
        identity: &Identity,
        roles: &BTreeSet<String>,
        scopes: &BTreeSet<String>,
    ) -> Result<Self, String> {
        let principal = uid("User", &identity.subject);
        let strings = |set: &BTreeSet<String>| {
            RestrictedExpression::new_set(
                set.iter()
                    .map(|s| RestrictedExpression::new_string(s.clone())),
            )
        };
        let mut attrs = vec![
            (
                "subject".to_owned(),
                RestrictedExpression::new_string(identity.subject.clone()),
            ),
            (
                "auth_method".to_owned(),
                RestrictedExpression::new_string(identity.auth.as_str().to_owned()),
            ),
            ("scopes".to_owned(), strings(scopes)),
            ("roles".to_owned(), strings(roles)),
            ("groups".to_owned(), strings(&identity.groups)),
        ];
        if let Some(client) = &identity.client_id {
            attrs.push((
                "client_id".to_owned(),
                RestrictedExpression::new_string(client.clone()),
            ));
        }
        let parents = roles
            .iter()
            .map(|r| uid("Role", r))
            .chain(identity.groups.iter().map(|g| uid("Group", g)));
        let tags = identity.claims.iter().filter_map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            Some((name.clone(), RestrictedExpression::new_string(text)))
        });
        let entity = Entity::new_with_tags(principal.clone(), attrs, parents, tags)
            .map_err(|e| e.to_string())?;
        Ok(CedarCaller {
            uid: principal,
            entity,
            auth_method: identity.auth.as_str().to_owned(),
        })
    }
}

/// The `Tool` entity for `tool`, which requires `scopes` and counts as
/// read-only or not.
pub(crate) fn tool_entity(
    tool: &ToolSpec,
    read_only: bool,
    scopes: &BTreeSet<String>,
) -> Result<Entity, String> {
    let strings = |items: &mut dyn Iterator<Item = &String>| {
        RestrictedExpression::new_set(items.map(|s| RestrictedExpression::new_string(s.clone())))
    };
    Entity::new(
        uid("Tool", &tool.name),
        HashMap::from([
            (
                "name".to_owned(),
                RestrictedExpression::new_string(tool.name.clone()),
            ),
            (
                "backend".to_owned(),
                RestrictedExpression::new_string(tool.backend.clone()),
            ),
            (
                "method".to_owned(),
                RestrictedExpression::new_string(tool.http_method.clone().unwrap_or_default()),
            ),
            (
                "read_only".to_owned(),
                RestrictedExpression::new_bool(read_only),
            ),
            ("tags".to_owned(), strings(&mut tool.tags.iter())),
            ("scopes".to_owned(), strings(&mut scopes.iter())),
        ]),
        std::collections::HashSet::from([uid("Backend", &tool.backend)]),
    )
    .map_err(|e| e.to_string())
}

/// The generated schema, parsed.
pub(crate) fn schema() -> Schema {
    Schema::from_cedarschema_str(SCHEMA)
        .expect("the built-in Cedar schema parses")
        .0
}

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(
        EntityTypeName::from_str(kind).expect("built-in entity type names parse"),
        EntityId::new(id),
    )
}

/// Scalar arguments as `name` → text; nested objects as `outer.inner`.
/// Arrays and nulls are left out.
fn flatten_arguments(
    arguments: &Map<String, Value>,
    prefix: &str,
    out: &mut Vec<(String, String)>,
) {
    for (name, value) in arguments {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            Value::String(s) => out.push((key, s.clone())),
            Value::Number(n) => out.push((key, n.to_string())),
            Value::Bool(b) => out.push((key, b.to_string())),
            Value::Object(inner) => flatten_arguments(inner, &key, out),
            Value::Array(_) | Value::Null => {}
        }
    }
}

/// `{hour, minute, weekday (1 = Monday … 7 = Sunday), date, unix}` at
/// `offset` minutes east of UTC.
fn time_record(time: SystemTime, offset_minutes: i64) -> RestrictedExpression {
    let unix = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let local = unix + offset_minutes * 60;
    let days = local.div_euclid(86_400);
    let seconds_of_day = local.rem_euclid(86_400);
    // 1970-01-01 was a Thursday (4 with Monday = 1).
    let weekday = (days + 3).rem_euclid(7) + 1;
    let (year, month, day) = civil_from_days(days);
    RestrictedExpression::new_record([
        (
            "hour".to_owned(),
            RestrictedExpression::new_long(seconds_of_day / 3600),
        ),
        (
            "minute".to_owned(),
            RestrictedExpression::new_long(seconds_of_day % 3600 / 60),
        ),
        (
            "weekday".to_owned(),
            RestrictedExpression::new_long(weekday),
        ),
        (
            "date".to_owned(),
            RestrictedExpression::new_string(format!("{year:04}-{month:02}-{day:02}")),
        ),
        ("unix".to_owned(), RestrictedExpression::new_long(unix)),
    ])
    .expect("distinct record keys")
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Parse `+HH:MM` / `-HH:MM` / `Z` into minutes east of UTC.
pub(crate) fn parse_utc_offset(text: &str) -> Result<i64, String> {
    if text == "Z" || text == "+00:00" || text == "-00:00" {
        return Ok(0);
    }
    let bad = || format!("authz.utc_offset `{text}` must look like `+01:00` or `-05:30`");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let (hours, minutes) = rest.split_once(':').ok_or_else(bad)?;
    let hours: i64 = hours.parse().map_err(|_| bad())?;
    let minutes: i64 = minutes.parse().map_err(|_| bad())?;
    if hours > 14 || minutes > 59 {
        return Err(bad());
    }
    Ok(sign * (hours * 60 + minutes))
}

/// The policies of a parsed file with their offsets, in file order.
fn ordered(set: &PolicySet, text: &str) -> Vec<(cedar_policy::Policy, usize)> {
    // `from_str` numbers policies `policy0`, `policy1`, … in file order.
    let mut policies: Vec<(usize, cedar_policy::Policy)> = set
        .policies()
        .map(|p| {
            let n = p
                .id()
                .to_string()
                .strip_prefix("policy")
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            (n, p.clone())
        })
        .collect();
    policies.sort_by_key(|(n, _)| *n);
    let mut from = 0;
    policies
        .into_iter()
        .map(|(_, policy)| {
            let offset = policy_offset(text, from);
            from = statement_end(text, offset);
            (policy, offset)
        })
        .collect()
}

/// Where the next policy starts at or after `from`: its first
/// non-blank, non-comment character.
fn policy_offset(text: &str, from: usize) -> usize {
    let mut offset = from;
    let bytes = text.as_bytes();
    while offset < bytes.len() {
        if bytes[offset].is_ascii_whitespace() {
            offset += 1;
        } else if text[offset..].starts_with("//") {
            offset = text[offset..]
                .find('\n')
                .map_or(bytes.len(), |n| offset + n);
        } else {
            break;
        }
    }
    offset
}

/// Just after the `;` that ends the statement starting at `from`, skipping
/// string literals and comments.
fn statement_end(text: &str, from: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = from;
    let mut in_string = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_string => i += 1,
            b'"' => in_string = !in_string,
            b'/' if !in_string && bytes.get(i + 1) == Some(&b'/') => {
                i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                continue;
            }
            b';' if !in_string => return i + 1,
            _ => {}
        }
        i += 1;
    }
    bytes.len()
}

fn first_label(diagnostic: &dyn Diagnostic, text: &str) -> (usize, usize) {
    let label = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .or_else(|| {
            diagnostic
                .related()
                .and_then(|mut related| related.find_map(|d| d.labels().and_then(|mut l| l.next())))
        });
    match label {
        Some(label) => line_and_column(text, label.offset()),
        None => (0, 0),
    }
}

/// One line: the message and, when Cedar has one, its help.
fn describe(diagnostic: &(impl Diagnostic + std::fmt::Display)) -> String {
    let mut message = diagnostic.to_string();
    if let Some(related) = diagnostic.related() {
        for inner in related.take(3) {
            message.push_str("; ");
            message.push_str(&inner.to_string());
            if let Some(help) = inner.help() {
                message.push_str(&format!(" ({help})"));
            }
        }
    }
    if let Some(help) = diagnostic.help() {
        message.push_str(&format!(" ({help})"));
    }
    message
}

fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |i| before.len() - i - 1)
        + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parses() {
        schema();
    }

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_415), (2025, 11, 23));
        assert_eq!(parse_utc_offset("+01:30"), Ok(90));
        assert_eq!(parse_utc_offset("-05:00"), Ok(-300));
        assert!(parse_utc_offset("CET").is_err());
    }

    #[test]
    fn statements_are_found_in_order() {
        let text = "// a comment; with a semicolon\npermit(principal, action, resource);\n\n\
                    @id(\"x;y\")\nforbid(principal, action, resource) when { \"a;b\" == \"c\" };\n";
        let set = PolicySet::from_str(text).unwrap();
        let ordered = ordered(&set, text);
        assert_eq!(ordered.len(), 2);
        assert_eq!(line_and_column(text, ordered[0].1), (2, 1));
        assert_eq!(line_and_column(text, ordered[1].1), (4, 1));
    }
}
