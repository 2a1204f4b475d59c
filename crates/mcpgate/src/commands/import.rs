//! `mcpgate import`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use mcpgate_openapi::{Import, ImportedTool};
use serde_json::{Value, json};

use crate::assemble::read_spec;
use crate::cli::ImportArgs;
use crate::outln;

pub async fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let text = read_spec(&args.spec, Path::new(".")).await?;
    let import = mcpgate_openapi::import_str(&text, "imported")
        .with_context(|| format!("cannot import {}", args.spec))?;
    if args.json {
        let document = json!({
            "spec_version": import.version,
            "title": import.title,
            "default_server": import.default_server,
            "tools": import.tools.iter().map(tool_json).collect::<Vec<_>>(),
            "security_schemes": import.security_schemes,
            "warnings": import.warnings,
        });
        outln!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print_text(&import)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn tool_json(tool: &ImportedTool) -> Value {
    json!({
        "name": tool.spec.name,
        "title": tool.spec.title,
        "method": tool.operation.method,
        "path": tool.operation.path,
        "read_only": tool.spec.is_known_read_only(),
        "destructive": tool.spec.annotations.destructive_hint == Some(true),
        "required_scopes": tool.spec.declared_scopes(),
        "security": tool.spec.security,
        "input_schema": tool.spec.input_schema,
    })
}

fn print_text(import: &Import) -> std::io::Result<()> {
    outln!(
        "{} {} (OpenAPI {}), {} tool(s){}",
        if import.title.is_empty() {
            "(untitled)"
        } else {
            &import.title
        },
        import.api_version,
        serde_json::to_value(import.version)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        import.tools.len(),
        import
            .default_server
            .as_deref()
            .map(|s| format!(", server {s}"))
            .unwrap_or_default(),
    );
    outln!();
    let width = import
        .tools
        .iter()
        .map(|t| t.spec.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    outln!(
        "{:<width$}  {:<7} {:<5} {:<40} SCOPES",
        "TOOL",
        "METHOD",
        "READ",
        "PATH"
    );
    for tool in &import.tools {
        let scopes = tool.spec.declared_scopes();
        outln!(
            "{:<width$}  {:<7} {:<5} {:<40} {}",
            tool.spec.name,
            tool.operation.method,
            if tool.spec.is_known_read_only() {
                "yes"
            } else {
                "no"
            },
            tool.operation.path,
            if scopes.is_empty() {
                "-".to_owned()
            } else {
                scopes.join(" ")
            },
        );
    }
    outln!();
    if import.security_schemes.is_empty() {
        outln!("Security schemes: none declared");
    } else {
        outln!("Security schemes:");
        for scheme in &import.security_schemes {
            let detail = serde_json::to_value(&scheme.scheme).unwrap_or_default();
            outln!(
                "  {} ({})",
                scheme.name,
                detail["type"].as_str().unwrap_or("?")
            );
            outln!("    callers:  {}", scheme.suggested_auth);
            outln!("    backend:  {}", scheme.suggested_backend_credential);
        }
    }
    if !import.warnings.is_empty() {
        outln!();
        outln!("Warnings:");
        for warning in &import.warnings {
            outln!("  - {warning}");
        }
    }
    Ok(())
}
