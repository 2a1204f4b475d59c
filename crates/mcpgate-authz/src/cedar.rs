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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{Effect, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;

use crate::eval::{Evaluation, Forbid};

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
    /// The `forbid` policies, ready to evaluate.
    pub(crate) evaluation: Evaluation,
    sources: HashMap<PolicyId, PolicySource>,
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
        let mut forbids: Vec<Forbid> = set
            .policies()
            .filter(|p| p.effect() == Effect::Forbid)
            .map(|p| {
                let text = sources.get(p.id()).map_or("", |s| s.text.as_str());
                Forbid::new(p.id().to_string(), p.as_ref().condition(), text)
            })
            .collect();
        forbids.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(CedarPolicies {
            evaluation: Evaluation::new(forbids, utc_offset_minutes),
            sources,
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
}

/// The generated schema, parsed.
pub(crate) fn schema() -> Schema {
    Schema::from_cedarschema_str(SCHEMA)
        .expect("the built-in Cedar schema parses")
        .0
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
        use mcpgate_core::civil_from_days;
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
