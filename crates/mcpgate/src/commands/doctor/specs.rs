//! The backends' OpenAPI specs: loaded without failing the whole run, and
//! checked for missing security and credentials in their examples.

use mcpgate_authz::UnscopedTools;
use mcpgate_core::{Redactor, ToolSpec};
use mcpgate_openapi::WarningKind;

use super::finding::Finding;
use super::secrets;
use crate::assemble;
use crate::cli::Severity;
use crate::config::locate::{TomlIndex, find_line};
use crate::config::{BackendKind, LoadedConfig};

/// A tool as served, and where its operation is written.
pub struct Tool {
    /// The tool as the gateway offers it (prefixed, with its backend).
    pub spec: ToolSpec,
    /// `POST /items`.
    pub operation: String,
    /// `spec-file:line` of the operation's path, or the spec file.
    pub location: String,
}

/// What loading the specs gave.
pub struct Specs {
    /// Problems found in them.
    pub findings: Vec<Finding>,
    /// The tools of every backend whose spec loaded.
    pub tools: Vec<Tool>,
    /// Whether every spec loaded (authorization can only be judged on the
    /// whole catalog).
    pub complete: bool,
}

/// Load and check the spec of every backend.
pub async fn check(loaded: &LoadedConfig, index: &TomlIndex, redactor: &Redactor) -> Specs {
    let mut specs = Specs {
        findings: Vec::new(),
        tools: Vec::new(),
        complete: true,
    };
    for (name, backend) in &loaded.config.backends {
        // The echo backend has no spec, and its one tool writes nothing; an
        // MCP backend has no spec either (its tools come from the server).
        if matches!(backend.kind, BackendKind::Echo | BackendKind::Mcp) {
            continue;
        }
        let spec_name =
            if backend.spec.starts_with("http://") || backend.spec.starts_with("https://") {
                backend.spec.clone()
            } else {
                loaded.base_dir().join(&backend.spec).display().to_string()
            };
        let unreadable = |why: String| {
            Finding::new(
                "spec-unreadable",
                Severity::High,
                format!(
                    "the spec of backend `{name}` cannot be used ({why}); its tools, and the \
                     authorization checks, were not examined"
                ),
                Some(index.at(&format!("backends.{name}.spec"))),
                "fix the spec or the path (`mcpgate import SPEC` shows what is wrong), then run \
                 doctor again",
            )
        };
        let text = match assemble::read_spec(&backend.spec, loaded.base_dir()).await {
            Ok(text) => text,
            Err(error) => {
                specs.findings.push(unreadable(format!("{error:#}")));
                specs.complete = false;
                continue;
            }
        };
        let imported = mcpgate_openapi::parse(&text)
            .and_then(|doc| mcpgate_openapi::import_value(&doc, name).map(|import| (doc, import)));
        let (doc, import) = match imported {
            Ok(parts) => parts,
            Err(error) => {
                specs.findings.push(unreadable(error.to_string()));
                specs.complete = false;
                continue;
            }
        };
        specs.findings.extend(secrets::scan_spec_examples(
            &doc, &text, &spec_name, redactor,
        ));
        let no_schemes = import
            .warnings
            .iter()
            .any(|w| w.kind == WarningKind::NoSecuritySchemes);
        if no_schemes {
            let open = loaded.config.authz.unscoped_tools == UnscopedTools::Authenticated;
            specs.findings.push(Finding::new(
                "spec-no-security-schemes",
                if open {
                    Severity::Medium
                } else {
                    Severity::Low
                },
                format!(
                    "the spec of backend `{name}` declares no security schemes, so no tool gets \
                     required scopes from it{}",
                    if open {
                        "; with authz.unscoped_tools = \"authenticated\" any authenticated caller \
                         may call the tools no rule gives scopes"
                    } else {
                        "; they are refused unless an [[authz.tools]] rule gives them scopes"
                    }
                ),
                Some(spec_name.clone()),
                "declare the API's security schemes and per-operation scopes in the spec, or give \
                 every tool scopes with [[authz.tools]] rules (read and write scopes apart)",
            ));
        }
        let mut unprotected = Vec::new();
        for tool in import.tools {
            let operation = format!("{} {}", tool.operation.method, tool.operation.path);
            let location = [
                format!("\"{}\":", tool.operation.path),
                format!("{}:", tool.operation.path),
            ]
            .iter()
            .find_map(|needle| find_line(&text, needle))
            .map_or_else(|| spec_name.clone(), |line| format!("{spec_name}:{line}"));
            if !no_schemes
                && (tool.spec.security.is_empty()
                    || tool.spec.security.iter().any(|r| r.schemes.is_empty()))
            {
                unprotected.push((
                    format!("{} ({operation})", tool.spec.name),
                    location.clone(),
                ));
            }
            match assemble::finish_spec(
                name,
                &backend.tool_prefix(name),
                &backend.accepted_auth,
                tool.spec,
            ) {
                Ok(spec) => specs.tools.push(Tool {
                    spec,
                    operation,
                    location,
                }),
                Err(error) => {
                    specs.findings.push(unreadable(format!("{error:#}")));
                    specs.complete = false;
                }
            }
        }
        if let Some((_, first)) = unprotected.first() {
            let names: Vec<&str> = unprotected.iter().map(|(n, _)| n.as_str()).collect();
            specs.findings.push(Finding::new(
                "spec-operations-without-security",
                Severity::Low,
                format!(
                    "{} operation(s) of backend `{name}` need no credential according to the \
                     spec: {}; behind mcpgate one declared public (`security: []`) needs no scope \
                     (any authenticated caller may call it), one with no security at all is \
                     refused unless an [[authz.tools]] rule gives it scopes",
                    names.len(),
                    names.join(", ")
                ),
                Some(first.clone()),
                "give each operation a `security` requirement with scopes (or the spec a global \
                 one), or require scopes for these tools with an [[authz.tools]] rule; keep \
                 `security: []` for what is really public",
            ));
        }
    }
    specs
}
