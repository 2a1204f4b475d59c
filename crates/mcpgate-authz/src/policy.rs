//! [`Policy`]: the whole `[authz]` section compiled against a catalog, and
//! the decision procedure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use mcpgate_core::{
    AuthMethod, Authorizer, AuthzRequest, Decision, DenyReason, Identity, SecurityRequirement,
    ToolSpec,
};

use crate::cedar::{CedarPolicies, PolicyError};
use crate::config::{AuthzConfig, ToolKind, ToolRule, UnscopedTools};
use crate::eval::{Call, Verdict, caller_entity, tool_entity};
use crate::explain::{Explanation, NoTrace, Steps, Trace};
use crate::rate::RateLimits;
use crate::scopes::ScopeHierarchy;
use mcpgate_core::any_matches;

/// Why a policy could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// A setting is wrong; the message names it and the fix.
    #[error("{message}")]
    Config {
        /// The key it is about, as a path from the top of the config file
        /// (`authz.tools[2]`), so that the file's line can be found.
        key: String,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A Cedar policy file is wrong; the error names file and line.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}

/// What [`Policy::compile`] works from.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInputs<'a> {
    /// The `[authz]` section.
    pub config: &'a AuthzConfig,
    /// Every tool of the catalog.
    pub tools: &'a [ToolSpec],
    /// Per-backend overrides of read-only mode (`backends.NAME.read_only`).
    pub backend_read_only: &'a BTreeMap<String, bool>,
    /// Policy file paths are relative to this directory.
    pub base_dir: &'a Path,
}

/// The authorize stage, compiled: decisions are made in memory from this,
/// without I/O.
pub struct Policy {
    hierarchy: ScopeHierarchy,
    roles: Vec<Role>,
    tools: HashMap<String, CompiledTool>,
    cedar: Option<CedarPolicies>,
    rates: RateLimits,
    unscoped: UnscopedTools,
    warnings: Vec<String>,
    callers: CallerCache,
}

/// Callers already resolved (roles, scopes, Cedar entity), by identity: a
/// client makes many calls with one credential, and `tools/list` decides
/// once per tool. An entry is used only for an identity equal in every
/// field, so a hash collision costs time, never privileges.
#[derive(Default)]
struct CallerCache {
    entries: std::sync::Mutex<HashMap<u64, (Identity, std::sync::Arc<Caller>)>>,
}

/// Entries kept before the cache starts afresh (a bound, not an LRU: a
/// deployment with more active identities than this recomputes some).
const CALLER_CACHE_SIZE: usize = 4096;

impl CallerCache {
    fn key(identity: &Identity) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        identity.subject.hash(&mut hasher);
        identity.credential_id.hash(&mut hasher);
        identity.auth.hash(&mut hasher);
        identity.scopes.hash(&mut hasher);
        hasher.finish()
    }

    fn get(&self, identity: &Identity) -> Option<std::sync::Arc<Caller>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        match entries.get(&Self::key(identity)) {
            Some((known, caller)) if known == identity => Some(caller.clone()),
            _ => None,
        }
    }

    fn put(&self, identity: &Identity, caller: std::sync::Arc<Caller>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CALLER_CACHE_SIZE {
            entries.clear();
        }
        entries.insert(Self::key(identity), (identity.clone(), caller));
    }
}

/// What a tool needs, as [`Policy::tool_summary`] tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolSummary {
    /// Any one of these scope sets (`[[]]`: any authenticated caller;
    /// `[]`: nobody).
    pub requires: Vec<Vec<String>>,
    /// Whether the tool counts as read-only.
    pub read_only: bool,
    /// Whether read-only mode hides it from everyone.
    pub hidden_by_read_only_mode: bool,
}

struct Role {
    name: String,
    scopes: Vec<String>,
    groups: Vec<String>,
    subjects: Vec<String>,
    read_only: bool,
}

struct CompiledTool {
    requirement: Requirement,
    read_only: bool,
    read_only_why: String,
    /// Read-only mode is in force for this tool's backend.
    read_only_mode: bool,
    read_only_mode_why: String,
    accepted_auth: Option<Vec<AuthMethod>>,
    /// The tool as Cedar sees it, when there are policies.
    cedar_entity: Option<std::sync::Arc<cedar_policy_core::ast::Entity>>,
    /// The forbid policies that could forbid calls of this tool.
    cedar_applicable: Vec<u32>,
    rate_limits: Vec<usize>,
}

/// Scopes a tool requires.
enum Requirement {
    /// From `[[authz.tools]]` rule number `rule` (1-based): all of `scopes`.
    Rule { rule: usize, scopes: Vec<String> },
    /// From the spec: any one alternative.
    Spec(Vec<SecurityRequirement>),
    /// Nothing names any.
    Unscoped,
}

impl Requirement {
    fn all_scopes(&self) -> BTreeSet<String> {
        match self {
            Requirement::Rule { scopes, .. } => scopes.iter().cloned().collect(),
            Requirement::Spec(alternatives) => alternatives
                .iter()
                .flat_map(SecurityRequirement::scopes)
                .map(str::to_owned)
                .collect(),
            Requirement::Unscoped => BTreeSet::new(),
        }
    }

    fn describe(&self) -> String {
        match self {
            Requirement::Rule { rule, scopes } if scopes.is_empty() => {
                format!("no scope (authz.tools rule #{rule})")
            }
            Requirement::Rule { rule, scopes } => {
                format!("all of [{}] (authz.tools rule #{rule})", scopes.join(", "))
            }
            Requirement::Spec(alternatives) => {
                let alternatives: Vec<String> = alternatives
                    .iter()
                    .map(|a| {
                        let scopes: Vec<&str> = a.scopes().collect();
                        if scopes.is_empty() {
                            "[] (no scope)".to_owned()
                        } else {
                            format!("[{}]", scopes.join(", "))
                        }
                    })
                    .collect();
                format!(
                    "one of {} (the spec's security requirements)",
                    alternatives.join(" or ")
                )
            }
            Requirement::Unscoped => "nothing declared (authz.unscoped_tools decides)".to_owned(),
        }
    }
}

/// The caller's roles and scopes, resolved once per request.
pub(crate) struct Caller {
    /// The caller as Cedar sees it (only when there are policies).
    entity: Option<std::sync::Arc<cedar_policy_core::ast::Entity>>,
    /// Which forbid policies could apply to this caller at all.
    policies: Vec<bool>,
    /// Scopes that count for every tool.
    scopes: BTreeSet<String>,
    /// Scopes that count for read-only tools (a superset of `scopes`).
    read_scopes: BTreeSet<String>,
}

impl Policy {
    /// Check `inputs.config` against the catalog and compile it.
    pub fn compile(inputs: PolicyInputs<'_>) -> Result<Policy, CompileError> {
        let config = inputs.config;
        let hierarchy = ScopeHierarchy::new(&config.scope_implies)
            .map_err(|m| config_error("authz.scope_implies", m))?;
        let mut warnings = Vec::new();
        let known_backends: BTreeSet<&str> =
            inputs.tools.iter().map(|t| t.backend.as_str()).collect();
        for (index, rule) in config.tools.iter().enumerate() {
            check_rule(index + 1, rule, &known_backends)?;
            if !inputs.tools.iter().any(|t| rule_matches(rule, t)) {
                warnings.push(format!(
                    "authz.tools rule #{} matches no tool of the catalog",
                    index + 1
                ));
            }
        }
        for backend in inputs.backend_read_only.keys() {
            if !known_backends.contains(backend.as_str()) {
                warnings.push(format!(
                    "backends.{backend}.read_only is set but the backend offers no tool"
                ));
            }
        }
        let roles = config
            .roles
            .iter()
            .map(|(name, role)| {
                if role.scopes.is_empty() {
                    warnings.push(format!("authz.roles.{name} grants no scope"));
                }
                Role {
                    name: name.clone(),
                    scopes: role.scopes.clone(),
                    groups: role.groups.clone(),
                    subjects: role.subjects.clone(),
                    read_only: role.read_only,
                }
            })
            .collect();
        let utc_offset = match &config.utc_offset {
            Some(text) => crate::cedar::parse_utc_offset(text)
                .map_err(|m| config_error("authz.utc_offset", m))?,
            None => 0,
        };
        let cedar = if config.policies.is_empty() {
            None
        } else {
            Some(CedarPolicies::load(
                &config.policies,
                inputs.base_dir,
                utc_offset,
            )?)
        };
        let rates = RateLimits::new(&config.rate_limits)
            .map_err(|(index, m)| config_error(&format!("authz.rate_limits[{index}]"), m))?;
        let mut tools = HashMap::with_capacity(inputs.tools.len());
        for tool in inputs.tools {
            let compiled = compile_tool(tool, inputs, cedar.as_ref(), &rates);
            tools.insert(tool.name.clone(), compiled);
        }
        Ok(Policy {
            hierarchy,
            roles,
            tools,
            cedar,
            rates,
            unscoped: config.unscoped_tools,
            warnings,
            callers: CallerCache::default(),
        })
    }

    /// Things that are allowed but probably not meant (a rule matching no
    /// tool, a role without scopes).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How many Cedar policies are in force (the built-in one not counted).
    pub fn policy_count(&self) -> usize {
        self.cedar.as_ref().map_or(0, CedarPolicies::len)
    }

    /// The scopes needed for the tools known to be read-only (any one
    /// alternative each): what a client should ask for first, and step up
    /// from when it needs to write.
    pub fn read_scopes(&self) -> Vec<String> {
        let mut scopes: BTreeSet<String> = BTreeSet::new();
        for tool in self.tools.values() {
            if !tool.read_only {
                continue;
            }
            match &tool.requirement {
                Requirement::Rule { scopes: s, .. } => scopes.extend(s.iter().cloned()),
                Requirement::Spec(alternatives) => {
                    if let Some(fewest) = alternatives.iter().min_by_key(|a| a.scopes().count()) {
                        scopes.extend(fewest.scopes().map(str::to_owned));
                    }
                }
                Requirement::Unscoped => {}
            }
        }
        scopes.into_iter().collect()
    }

    /// How many tools read-only mode hides from everyone.
    pub fn hidden_by_read_only_mode(&self) -> usize {
        self.tools
            .values()
            .filter(|t| t.read_only_mode && !t.read_only)
            .count()
    }

    /// Whether the policy counts `tool` as read-only (its spec, or an
    /// `[[authz.tools]]` rule's `read_only`); `None` for a tool not in the
    /// catalog.
    pub fn is_read_only(&self, tool: &str) -> Option<bool> {
        self.tools.get(tool).map(|t| t.read_only)
    }

    /// What `tool` needs, for people: any one of the returned scope sets
    /// (`[[]]`: any authenticated caller; `[]`: nobody), whether it counts
    /// as read-only, and whether read-only mode hides it. `None` for a tool
    /// not in the catalog.
    pub fn tool_summary(&self, tool: &str) -> Option<ToolSummary> {
        let compiled = self.tools.get(tool)?;
        let requires = match &compiled.requirement {
            Requirement::Rule { scopes, .. } => vec![scopes.clone()],
            Requirement::Spec(alternatives) => alternatives
                .iter()
                .map(|alternative| alternative.scopes().map(str::to_owned).collect())
                .collect(),
            Requirement::Unscoped => match self.unscoped {
                UnscopedTools::Deny => Vec::new(),
                UnscopedTools::Authenticated => vec![Vec::new()],
            },
        };
        Some(ToolSummary {
            requires,
            read_only: compiled.read_only,
            hidden_by_read_only_mode: compiled.read_only_mode && !compiled.read_only,
        })
    }

    /// How many rate limits are configured.
    pub fn rate_limit_count(&self) -> usize {
        self.rates.len()
    }

    /// Every scope any tool may require.
    pub fn all_scopes(&self) -> Vec<String> {
        let scopes: BTreeSet<String> = self
            .tools
            .values()
            .flat_map(|t| t.requirement.all_scopes())
            .collect();
        scopes.into_iter().collect()
    }

    /// Every scope `identity` holds through its credential and roles (and
    /// what they imply), for read-only tools at least. An authorization
    /// server grants a user no scope outside this set.
    pub fn entitled_scopes(&self, identity: &Identity) -> BTreeSet<String> {
        self.caller(identity, &mut crate::explain::NoTrace)
            .read_scopes
    }

    /// Decide, and say why, step by step.
    pub fn explain(&self, request: &AuthzRequest<'_>) -> Explanation {
        let mut steps = Steps::default();
        let decision = self.evaluate(request, &mut steps);
        Explanation {
            decision,
            steps: steps.0,
        }
    }

    pub(crate) fn caller(&self, identity: &Identity, trace: &mut impl Trace) -> Caller {
        let mut roles: BTreeSet<String> = identity.roles.clone();
        if !identity.roles.is_empty() {
            trace.note(|| format!("roles from the credential: {}", join(identity.roles.iter())));
        }
        for role in &self.roles {
            if roles.contains(&role.name) {
                continue;
            }
            if let Some(group) = role.groups.iter().find(|g| identity.groups.contains(*g)) {
                trace.note(|| format!("role {} from group {group}", role.name));
                roles.insert(role.name.clone());
            } else if role.subjects.contains(&identity.subject) {
                trace.note(|| format!("role {} from subject {}", role.name, identity.subject));
                roles.insert(role.name.clone());
            }
        }
        let mut scopes: BTreeSet<String> = identity.scopes.clone();
        if !scopes.is_empty() {
            trace.note(|| format!("scopes from the credential: {}", join(scopes.iter())));
        }
        let mut read_only_scopes = BTreeSet::new();
        for name in &roles {
            match self.roles.iter().find(|r| r.name == *name) {
                Some(role) if role.read_only => {
                    trace.note(|| {
                        format!(
                            "role {name} grants {} for read-only tools",
                            join(role.scopes.iter())
                        )
                    });
                    read_only_scopes.extend(role.scopes.iter().cloned());
                }
                Some(role) => {
                    trace.note(|| format!("role {name} grants {}", join(role.scopes.iter())));
                    scopes.extend(role.scopes.iter().cloned());
                }
                None => trace.note(|| format!("role {name} is not defined in authz.roles")),
            }
        }
        self.hierarchy.expand(&mut scopes, |implied, by| {
            trace.note(|| format!("scope {implied} implied by {by}"));
        });
        let mut read_scopes = scopes.clone();
        read_scopes.extend(read_only_scopes);
        self.hierarchy.expand(&mut read_scopes, |_, _| {});
        if let Some(limit) = &identity.scope_limit {
            let mut limit = limit.clone();
            self.hierarchy.expand(&mut limit, |_, _| {});
            trace.note(|| {
                format!(
                    "the credential limits scopes to {} (what was consented to)",
                    join(limit.iter())
                )
            });
            scopes.retain(|scope| limit.contains(scope));
            read_scopes.retain(|scope| limit.contains(scope));
        }
        let entity = self
            .cedar
            .as_ref()
            .map(|_| std::sync::Arc::new(caller_entity(identity, &roles, &scopes)));
        let policies = match (&self.cedar, &entity) {
            (Some(cedar), Some(entity)) => cedar.evaluation.applicable_to_caller(entity),
            _ => Vec::new(),
        };
        Caller {
            entity,
            policies,
            scopes,
            read_scopes,
        }
    }

    /// The caller resolved, from the cache when nobody is tracing.
    fn resolve<T: Trace>(&self, identity: &Identity, trace: &mut T) -> std::sync::Arc<Caller> {
        if T::ENABLED {
            return std::sync::Arc::new(self.caller(identity, trace));
        }
        if let Some(caller) = self.callers.get(identity) {
            return caller;
        }
        let caller = std::sync::Arc::new(self.caller(identity, trace));
        self.callers.put(identity, caller.clone());
        caller
    }

    pub(crate) fn evaluate(&self, request: &AuthzRequest<'_>, trace: &mut impl Trace) -> Decision {
        let identity = request.identity;
        trace.note(|| {
            format!(
                "caller {} authenticated by {}",
                identity.subject,
                identity.auth.as_str()
            )
        });
        let Some(tool) = self.tools.get(&request.tool.name) else {
            trace.note(|| format!("tool {} is not in the catalog", request.tool.name));
            return deny(DenyReason::UnknownTool, Vec::new());
        };
        trace.note(|| {
            format!(
                "tool {} (backend {}) {}: {}",
                request.tool.name,
                request.tool.backend,
                if tool.read_only {
                    "is read-only"
                } else {
                    "may write"
                },
                tool.read_only_why
            )
        });
        if tool.read_only_mode && !tool.read_only {
            trace.note(|| format!("read-only mode is on: {}", tool.read_only_mode_why));
            return deny(DenyReason::ReadOnlyMode, Vec::new());
        }
        let local = identity.auth == AuthMethod::None;
        let caller = self.resolve(identity, trace);
        if local {
            trace.note(|| {
                "the local user of a gateway without authentication needs no scope".to_owned()
            });
        } else {
            if let Some(accepted) = &tool.accepted_auth
                && !accepted.contains(&identity.auth)
            {
                trace.note(|| {
                    format!(
                        "the tool accepts only callers authenticated by {}",
                        join(accepted.iter().map(|m| m.as_str()))
                    )
                });
                return deny(
                    DenyReason::AuthMethodNotAccepted(identity.auth.as_str().to_owned()),
                    Vec::new(),
                );
            }
            let held = if tool.read_only {
                &caller.read_scopes
            } else {
                &caller.scopes
            };
            trace.note(|| format!("the tool requires {}", tool.requirement.describe()));
            if let Err(decision) = self.check_scopes(&tool.requirement, held, trace) {
                return decision;
            }
        }
        if let (Some(cedar), Some(entity)) = (&self.cedar, &tool.cedar_entity) {
            let caller_entity = caller
                .entity
                .as_ref()
                .expect("built when there are policies");
            // Policies that could apply to both this tool and this caller.
            let applicable = tool
                .cedar_applicable
                .iter()
                .copied()
                .filter(|&index| caller.policies[index as usize]);
            let call = Call {
                identity,
                caller: caller_entity,
                tool: entity,
                arguments: request.arguments,
                source: request.source,
                time: request.time,
            };
            let verdict = if tool.cedar_applicable.is_empty() {
                Verdict::Allowed
            } else {
                cedar.evaluation.evaluate(call, applicable)
            };
            // Debug builds (every test) check that leaving out the policies
            // found not to apply at compile time changed nothing.
            #[cfg(debug_assertions)]
            {
                let every = 0..cedar.evaluation.forbids.len() as u32;
                let unpruned = cedar.evaluation.evaluate(call, every);
                assert_eq!(
                    verdict, unpruned,
                    "policies left out for tool {} would have changed the verdict",
                    request.tool.name
                );
            }
            match verdict {
                Verdict::Allowed if tool.cedar_applicable.is_empty() => trace.note(|| {
                    format!(
                        "none of the {} policies can forbid calls of this tool",
                        cedar.len()
                    )
                }),
                Verdict::Allowed => trace.note(|| {
                    format!(
                        "no policy forbids it ({} of {} apply to this tool)",
                        tool.cedar_applicable.len(),
                        cedar.len()
                    )
                }),
                Verdict::Forbidden(ids) => {
                    for id in &ids {
                        trace.note(|| match cedar.source(id) {
                            Some(source) => format!(
                                "forbidden by policy {id} at {}:\n{}",
                                source.location, source.text
                            ),
                            None => format!("forbidden by policy {id}"),
                        });
                    }
                    return deny(DenyReason::Policy(ids.join(", ")), Vec::new());
                }
                Verdict::Failed(ids) => {
                    trace.note(|| {
                        format!(
                            "refused because these forbid policies could not be evaluated: {}",
                            ids.join(", ")
                        )
                    });
                    return deny(DenyReason::Policy(ids.join(", ")), Vec::new());
                }
            }
        }
        trace.note(|| "allowed".to_owned());
        Decision::Allow
    }

    fn check_scopes(
        &self,
        requirement: &Requirement,
        held: &BTreeSet<String>,
        trace: &mut impl Trace,
    ) -> Result<(), Decision> {
        let missing_from = |scopes: &mut dyn Iterator<Item = &str>| -> Vec<String> {
            let mut missing: Vec<String> = scopes
                .filter(|s| !held.contains(*s))
                .map(str::to_owned)
                .collect();
            missing.sort();
            missing.dedup();
            missing
        };
        match requirement {
            Requirement::Unscoped => match self.unscoped {
                UnscopedTools::Authenticated => {
                    trace.note(|| {
                        "authz.unscoped_tools = \"authenticated\": any authenticated caller"
                            .to_owned()
                    });
                    Ok(())
                }
                UnscopedTools::Deny => {
                    trace.note(|| {
                        "no rule grants it: add an [[authz.tools]] rule with scopes, or set \
                         authz.unscoped_tools = \"authenticated\""
                            .to_owned()
                    });
                    Err(deny(DenyReason::NoMatchingGrant, Vec::new()))
                }
            },
            Requirement::Rule { scopes, .. } => {
                let missing = missing_from(&mut scopes.iter().map(String::as_str));
                if missing.is_empty() {
                    trace.note(|| "the caller holds the required scopes".to_owned());
                    Ok(())
                } else {
                    trace.note(|| format!("missing scopes: {}", missing.join(", ")));
                    Err(deny(DenyReason::InsufficientScope, missing))
                }
            }
            Requirement::Spec(alternatives) => {
                let mut fewest: Option<Vec<String>> = None;
                for alternative in alternatives {
                    let missing = missing_from(&mut alternative.scopes());
                    if missing.is_empty() {
                        trace.note(|| {
                            format!(
                                "the caller holds [{}]",
                                alternative.scopes().collect::<Vec<_>>().join(", ")
                            )
                        });
                        return Ok(());
                    }
                    if fewest.as_ref().is_none_or(|f| missing.len() < f.len()) {
                        fewest = Some(missing);
                    }
                }
                let missing = fewest.unwrap_or_default();
                trace.note(|| format!("missing scopes: {}", missing.join(", ")));
                Err(deny(DenyReason::InsufficientScope, missing))
            }
        }
    }
}

impl Authorizer for Policy {
    fn decide(&self, request: &AuthzRequest<'_>) -> Decision {
        self.evaluate(request, &mut NoTrace)
    }

    fn admit(&self, identity: &Identity, tool: &ToolSpec) -> Result<(), Duration> {
        if self.rates.is_empty() {
            return Ok(());
        }
        let Some(compiled) = self.tools.get(&tool.name) else {
            return Ok(());
        };
        self.rates.admit(
            &compiled.rate_limits,
            &identity.subject,
            &tool.name,
            Instant::now(),
        )
    }
}

impl Policy {
    /// The rate limits that cover `tool`, described.
    pub fn rate_limits_for(&self, tool: &str) -> Vec<String> {
        self.tools
            .get(tool)
            .map(|t| {
                t.rate_limits
                    .iter()
                    .map(|&i| self.rates.describe(i))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn deny(reason: DenyReason, missing_scopes: Vec<String>) -> Decision {
    Decision::Deny {
        reason,
        missing_scopes,
    }
}

fn join<'a>(items: impl Iterator<Item = impl AsRef<str> + 'a>) -> String {
    let items: Vec<String> = items.map(|s| s.as_ref().to_owned()).collect();
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        items.join(", ")
    }
}

fn config_error(key: &str, message: String) -> CompileError {
    CompileError::Config {
        key: key.to_owned(),
        message,
    }
}

fn check_rule(
    number: usize,
    rule: &ToolRule,
    backends: &BTreeSet<&str>,
) -> Result<(), CompileError> {
    let key = format!("authz.tools[{}]", number - 1);
    for backend in &rule.backends {
        if !backends.contains(backend.as_str()) {
            return Err(config_error(
                &key,
                format!(
                    "authz.tools rule #{number}: there is no backend `{backend}` (known: {})",
                    join(backends.iter())
                ),
            ));
        }
    }
    for method in &rule.methods {
        if !matches!(
            method.as_str(),
            "GET" | "HEAD" | "OPTIONS" | "POST" | "PUT" | "PATCH" | "DELETE" | "TRACE"
        ) {
            return Err(config_error(
                &key,
                format!(
                    "authz.tools rule #{number}: `{method}` is not an HTTP method; write it in upper case, e.g. `GET`"
                ),
            ));
        }
    }
    if rule.scopes.is_none() && rule.read_only.is_none() {
        return Err(config_error(
            &key,
            format!(
                "authz.tools rule #{number} sets nothing: give it `scopes = [...]` or `read_only = true|false`"
            ),
        ));
    }
    Ok(())
}

fn rule_matches(rule: &ToolRule, tool: &ToolSpec) -> bool {
    any_matches(&rule.tools, &tool.name)
        && (rule.backends.is_empty() || rule.backends.contains(&tool.backend))
        && (rule.methods.is_empty()
            || tool
                .http_method
                .as_ref()
                .is_some_and(|m| rule.methods.contains(m)))
        && match rule.kind {
            None => true,
            Some(ToolKind::Read) => tool.is_known_read_only(),
            Some(ToolKind::Write) => !tool.is_known_read_only(),
        }
}

fn compile_tool(
    tool: &ToolSpec,
    inputs: PolicyInputs<'_>,
    cedar: Option<&CedarPolicies>,
    rates: &RateLimits,
) -> CompiledTool {
    let config = inputs.config;
    let mut requirement = None;
    let mut read_only = None;
    for (index, rule) in config.tools.iter().enumerate() {
        if !rule_matches(rule, tool) {
            continue;
        }
        if requirement.is_none()
            && let Some(scopes) = &rule.scopes
        {
            requirement = Some(Requirement::Rule {
                rule: index + 1,
                scopes: scopes
                    .iter()
                    .map(|s| {
                        s.replace("{backend}", &tool.backend)
                            .replace("{tool}", &tool.name)
                    })
                    .collect(),
            });
        }
        if read_only.is_none()
            && let Some(value) = rule.read_only
        {
            read_only = Some((value, format!("authz.tools rule #{} says so", index + 1)));
        }
    }
    let requirement = requirement.unwrap_or_else(|| {
        if tool.security.is_empty() {
            Requirement::Unscoped
        } else {
            Requirement::Spec(tool.security.clone())
        }
    });
    let (read_only, read_only_why) = read_only.unwrap_or_else(|| {
        if tool.is_known_read_only() {
            (
                true,
                match &tool.http_method {
                    Some(method) => format!("{method} is a safe HTTP method"),
                    None => "it is annotated read-only".to_owned(),
                },
            )
        } else {
            (
                false,
                match &tool.http_method {
                    Some(method) => format!("{method} is not a safe HTTP method"),
                    None => "nothing says it is read-only".to_owned(),
                },
            )
        }
    });
    let (read_only_mode, read_only_mode_why) = match inputs.backend_read_only.get(&tool.backend) {
        Some(&on) => (on, format!("backends.{}.read_only = {on}", tool.backend)),
        None => (
            config.read_only,
            format!(
                "authz.read_only = {}{}",
                config.read_only,
                if config.read_only {
                    " (on unless turned off: backends.NAME.read_only = false for one backend)"
                } else {
                    ""
                }
            ),
        ),
    };
    let cedar_entity =
        cedar.map(|_| std::sync::Arc::new(tool_entity(tool, read_only, &requirement.all_scopes())));
    let cedar_applicable = match (cedar, &cedar_entity) {
        (Some(cedar), Some(entity)) => cedar.evaluation.applicable(entity),
        _ => Vec::new(),
    };
    CompiledTool {
        requirement,
        read_only,
        read_only_why,
        read_only_mode,
        read_only_mode_why,
        accepted_auth: tool.accepted_auth.clone(),
        cedar_entity,
        cedar_applicable,
        rate_limits: rates.covering(&tool.name),
    }
}
