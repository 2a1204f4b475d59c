//! Secrets written where they should not be: inline in the config (values
//! and comments), in `.env` files next to it, and in a spec's examples.
//!
//! Findings say where a secret is and never repeat it.

use std::path::Path;

use mcpgate_core::Redactor;
use serde_json::Value;

use super::finding::Finding;
use crate::cli::Severity;
use crate::config::locate::{TomlIndex, find_line};

/// Config keys whose value is a secret whatever it looks like (the config
/// parser accepts only `env:`/`file:` references there).
const SECRET_KEYS: &[&str] = &[
    "value",
    "password",
    "pepper",
    "client_secret",
    "signing_key",
];

/// Names in `.env` files that hold secrets beyond what [`Redactor`] knows
/// (`MCPGATE_KEY_PEPPER`).
const EXTRA_SECRET_NAMES: &[&str] = &["pepper", "signingkey"];

/// OpenAPI members whose content is sample data.
const EXAMPLE_KEYS: &[&str] = &["example", "examples", "default", "x-example", "x-examples"];

const INLINE_FIX: &str = "move the secret out of the file and reference it: `env:NAME` (an \
    environment variable) or `file:/run/secrets/NAME`; then rotate it, since it has been stored \
    in this file (and perhaps in version control)";

/// Whether `value` is a secret reference rather than a secret.
fn is_reference(value: &str) -> bool {
    value.starts_with("env:") || value.starts_with("file:")
}

/// Inline secrets in the config text: string values under secret keys that
/// are not references, anything that looks like a credential, and
/// credentials in comments.
pub fn scan_config(text: &str, index: &TomlIndex, redactor: &Redactor) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut reported_lines = Vec::new();
    for (path, value, line) in index.strings() {
        if value.is_empty() || is_reference(value) {
            continue;
        }
        let key = path.rsplit('.').next().unwrap_or(path);
        // `server.tls.key` written as a path (not `file:PATH`) is a mistake
        // the loader reports; written as PEM it is the private key itself.
        let secret_key = SECRET_KEYS.contains(&key)
            || (path == "server.tls.key" && value.contains("PRIVATE KEY"))
            || (path != "server.tls.key" && redactor.is_sensitive_field(key));
        let looks_like_credential = has_credential(redactor, value);
        if !(secret_key || looks_like_credential) || reported_lines.contains(line) {
            continue;
        }
        reported_lines.push(*line);
        let why = if secret_key {
            "is a secret written inline (the loader refuses it)"
        } else {
            "holds what looks like a credential"
        };
        findings.push(Finding::new(
            "inline-secret",
            Severity::Critical,
            format!("`{path}` {why}"),
            Some(format!("{}:{line}", index.file())),
            INLINE_FIX,
        ));
    }
    for (number, comment) in comments(text) {
        if reported_lines.contains(&number) {
            continue;
        }
        if has_credential(redactor, comment) {
            reported_lines.push(number);
            findings.push(Finding::new(
                "inline-secret",
                Severity::Critical,
                "a comment holds what looks like a credential",
                Some(format!("{}:{number}", index.file())),
                "delete it from the comment and rotate it: comments are committed like \
                 everything else",
            ));
        }
    }
    findings
}

/// Whether `text` holds something [`Redactor`] takes for a credential that
/// is not a reference or a placeholder (`API_KEY=...` in a how-to comment).
fn has_credential(redactor: &Redactor, text: &str) -> bool {
    redactor.find_secrets(text).into_iter().any(|span| {
        let found = &text[span];
        !is_reference(found) && !looks_like_placeholder(found)
    })
}

/// (1-based line, comment text) of each TOML comment, found by reading
/// each line up to a `#` outside a string. Lines inside multi-line strings
/// may be misread; their values are checked by [`scan_config`] anyway.
fn comments(text: &str) -> Vec<(usize, &str)> {
    let mut found = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let mut quote: Option<char> = None;
        let mut escaped = false;
        for (i, c) in line.char_indices() {
            match quote {
                Some('"') if escaped => escaped = false,
                Some('"') if c == '\\' => escaped = true,
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == '#' => {
                    found.push((number + 1, &line[i + 1..]));
                    break;
                }
                None => {}
            }
        }
    }
    found
}

/// `.env` files in `dir` (`.env`, `.env.local`, `prod.env`, …) holding
/// secret-looking values.
pub fn scan_env_files(dir: &Path, redactor: &Redactor) -> Vec<Finding> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == ".env" || n.starts_with(".env.") || n.ends_with(".env"))
        })
        .collect();
    files.sort();
    let mut findings = Vec::new();
    for path in files {
        // Not UTF-8 or unreadable: not an env file this check understands.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            let line = line.strip_prefix("export ").unwrap_or(line);
            if line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            let name = name.trim();
            let value = unquote(value.trim());
            if looks_like_placeholder(value) || is_reference(value) {
                continue;
            }
            let normalized: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .flat_map(|c| c.to_lowercase())
                .collect();
            let secret_name = redactor.is_sensitive_field(name)
                || EXTRA_SECRET_NAMES.iter().any(|n| normalized.ends_with(n));
            if secret_name || has_credential(redactor, value) {
                findings.push(Finding::new(
                    "env-file-secret",
                    Severity::High,
                    format!(
                        "`{name}` in {} holds a secret; env files next to a config are easily committed",
                        path.file_name().and_then(|n| n.to_str()).unwrap_or(".env")
                    ),
                    Some(format!("{}:{}", path.display(), number + 1)),
                    "keep secrets in a secret manager or a file outside the repository \
                     (referenced as `file:PATH`); if this file must stay, list it in .gitignore, \
                     and rotate the secret if it was ever committed",
                ));
            }
        }
    }
    findings
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Values that stand for a secret without being one.
fn looks_like_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.len() < 6
        || value.starts_with('$')
        || value.starts_with('<')
        || value
            .chars()
            .all(|c| c == value.chars().next().unwrap_or('x'))
        || [
            "changeme",
            "change-me",
            "change_me",
            "your",
            "replace",
            "placeholder",
            "xxx",
            "...",
        ]
        .iter()
        .any(|p| lower.contains(p))
}

/// Credentials in the sample data of a spec (`example`, `examples`,
/// `default`). `spec_name` names the file (or URL) in findings.
pub fn scan_spec_examples(
    doc: &Value,
    text: &str,
    spec_name: &str,
    redactor: &Redactor,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    walk_spec(doc, "#", false, &mut |pointer, value| {
        let Some(span) = redactor.find_secrets(value).into_iter().find(|span| {
            let found = &value[span.clone()];
            !is_reference(found) && !looks_like_placeholder(found)
        }) else {
            return;
        };
        let location = match find_line(text, &value[span]) {
            Some(line) => format!("{spec_name}:{line}"),
            None => spec_name.to_owned(),
        };
        findings.push(Finding::new(
            "spec-example-secret",
            Severity::High,
            format!("the example at `{pointer}` holds what looks like a real credential"),
            Some(location),
            "replace it with an obvious placeholder (`YOUR_API_KEY`), and revoke the credential: \
             published specs are read by everyone, including every agent given the tools",
        ));
    });
    findings
}

/// Calls `found` with (JSON pointer, text) of every string under an example
/// member of `value`.
fn walk_spec(value: &Value, pointer: &str, in_example: bool, found: &mut dyn FnMut(&str, &str)) {
    match value {
        Value::String(text) if in_example => found(pointer, text),
        Value::Object(members) => {
            // `responses.default` is a response, not a default value.
            let is_responses = pointer.ends_with("/responses");
            for (name, member) in members {
                let inside = in_example
                    || (EXAMPLE_KEYS.contains(&name.as_str())
                        && !(is_responses && name == "default"));
                let escaped = name.replace('~', "~0").replace('/', "~1");
                walk_spec(member, &format!("{pointer}/{escaped}"), inside, found);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_spec(item, &format!("{pointer}/{i}"), in_example, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_placeholders_and_ordinary_values_are_not_secrets() {
        let text = "[backends.a]\nspec = \"a.yaml\"\ncredential = { kind = \"bearer\", value = \"env:A_TOKEN\" }\n# see https://example.com/#anchor\nname = \"a # not a comment sk_live_4eC39HqLyjWDarjtT1zdp7dc\"\n";
        let index = TomlIndex::parse(text, "m.toml");
        let findings = scan_config(text, &index, &Redactor::default());
        // Only the credential-looking string value, not the `#` inside it.
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert_eq!(findings[0].location.as_deref(), Some("m.toml:5"));
        assert!(!findings[0].message.contains("sk_live"));
        for placeholder in ["", "changeme", "${TOKEN}", "<your key>", "xxxxxxxx", "abc"] {
            assert!(looks_like_placeholder(placeholder), "{placeholder}");
        }
        assert!(!looks_like_placeholder("8f3a9c0d1e2b4f5a"));
    }

    #[test]
    fn only_examples_of_a_spec_are_scanned() {
        let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let text = format!(
            "{{\"paths\": {{\"/a\": {{\"get\": {{\"description\": \"{token}\",\n\"responses\": {{\"default\": {{\"description\": \"{token}\"}}}},\n\"parameters\": [{{\"name\": \"k\", \"example\": \"{token}\"}}]}}}}}}}}"
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        let findings = scan_spec_examples(&doc, &text, "s.json", &Redactor::default());
        assert_eq!(findings.len(), 1, "{findings:#?}");
        assert!(findings[0].message.contains("/parameters/0/example"));
        // The line of the first occurrence of the secret: good enough to look at.
        assert_eq!(findings[0].location.as_deref(), Some("s.json:1"));
        assert!(!findings[0].message.contains(token));
    }

    #[test]
    fn comments_are_found_outside_strings_only() {
        let found = comments("a = \"x#y\" # real\nb = 'it''s' # two\n# whole line");
        let texts: Vec<&str> = found.iter().map(|(_, c)| c.trim()).collect();
        assert_eq!(texts, ["real", "two", "whole line"]);
    }
}
