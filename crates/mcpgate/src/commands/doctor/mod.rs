//! `mcpgate doctor`: find the security problems of a deployment's config,
//! explain each, and say how to fix it.
//!
//! It reads what the gateway would read — the config as written, the `.env`
//! files next to it, the backends' specs, the policy compiled from them, the
//! store's API keys — and never starts anything, calls a backend or changes
//! a file. The config is scanned as text first, so a config that does not
//! load (an inline secret is refused by the parser) is still checked as far
//! as it can be. Every check is listed in docs/DOCTOR.md.

mod authz;
mod config_checks;
mod finding;
mod keys;
mod report;
mod secrets;
mod specs;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use mcpgate_core::Redactor;

use crate::cli::{DoctorArgs, Severity};
use crate::config::locate::TomlIndex;
use crate::config::{self, ConfigError, LoadedConfig, parse_duration};
use crate::outln;
use finding::Finding;

pub async fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let rotation_period = parse_duration(&args.rotation_period)
        .map_err(anyhow::Error::msg)
        .context("--rotation-period")?;
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read config file {}", args.config.display()))?;
    let file = args.config.display().to_string();
    let mut findings = diagnose(&args.config, &text, rotation_period).await;
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.id.cmp(b.id))
            .then_with(|| a.location.cmp(&b.location))
    });
    let summary = report::Summary::new(&findings, args.fail_on);
    if args.json {
        outln!("{}", report::json(&file, &findings, &summary)?);
    } else {
        write!(
            std::io::stdout().lock(),
            "{}",
            report::text(&file, &findings, &summary)
        )?;
    }
    Ok(if summary.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Every check on the config at `path`, whose text is `text`.
async fn diagnose(path: &Path, text: &str, rotation_period: std::time::Duration) -> Vec<Finding> {
    let file = path.display().to_string();
    let index = TomlIndex::parse(text, &file);
    let redactor = Redactor::default();
    let mut findings = secrets::scan_config(text, &index, &redactor);
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    findings.extend(secrets::scan_env_files(dir, &redactor));
    let config = match config::parse(text, &file) {
        Ok(config) => config,
        Err(error) => {
            findings.push(load_error(error, &file));
            return findings;
        }
    };
    let loaded = LoadedConfig {
        config,
        path: path.to_owned(),
    };
    findings.extend(config_checks::check(&loaded, &index));
    findings.extend(authz::broad_grants(&loaded.config, &index));
    let specs = specs::check(&loaded, &index, &redactor).await;
    findings.extend(specs.findings);
    if specs.complete {
        findings.extend(authz::check(&loaded, &index, &specs.tools));
    }
    let broad_roles = authz::broad_roles(&loaded.config);
    findings.extend(keys::check(&loaded, rotation_period, &broad_roles).await);
    findings
}

fn load_error(error: ConfigError, file: &str) -> Finding {
    let (location, message) = match error {
        ConfigError::Invalid {
            path,
            line,
            message,
            ..
        } if line > 0 => (format!("{path}:{line}"), message),
        ConfigError::Invalid { path, message, .. } => (path, message),
        other => (file.to_owned(), other.to_string()),
    };
    Finding::new(
        "config-invalid",
        Severity::High,
        format!(
            "the config does not load ({message}); `serve` refuses it, and only the checks of \
             the raw text and of the files next to it ran"
        ),
        Some(location),
        "fix what the message names (`mcpgate check` says the same), then run doctor again",
    )
}
