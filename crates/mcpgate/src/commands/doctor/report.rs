//! The report: text for people, JSON for CI.

use std::fmt::Write as _;

use serde::Serialize;

use super::finding::Finding;
use crate::cli::Severity;

/// Counts by severity, and whether the run fails.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Findings in all.
    pub total: usize,
    /// Critical findings.
    pub critical: usize,
    /// High findings.
    pub high: usize,
    /// Medium findings.
    pub medium: usize,
    /// Low findings.
    pub low: usize,
    /// Informational findings.
    pub info: usize,
    /// The `--fail-on` threshold.
    pub fail_on: Severity,
    /// Whether some finding is at or above it (the exit status is 1).
    pub failed: bool,
}

impl Summary {
    /// Count `findings` against `fail_on`.
    pub fn new(findings: &[Finding], fail_on: Severity) -> Self {
        let count = |severity| findings.iter().filter(|f| f.severity == severity).count();
        Summary {
            total: findings.len(),
            critical: count(Severity::Critical),
            high: count(Severity::High),
            medium: count(Severity::Medium),
            low: count(Severity::Low),
            info: count(Severity::Info),
            fail_on,
            failed: findings.iter().any(|f| f.severity >= fail_on),
        }
    }
}

/// The `--json` document.
#[derive(Serialize)]
struct JsonReport<'a> {
    config: &'a str,
    findings: &'a [Finding],
    summary: &'a Summary,
}

/// `{config, findings: [...], summary: {...}}`.
pub fn json(config: &str, findings: &[Finding], summary: &Summary) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&JsonReport {
        config,
        findings,
        summary,
    })
}

/// Findings grouped by severity, worst first, each with its location and fix.
pub fn text(config: &str, findings: &[Finding], summary: &Summary) -> String {
    let mut out = format!("mcpgate doctor: {config}\n");
    if findings.is_empty() {
        out.push_str("no findings\n");
        return out;
    }
    for severity in Severity::WORST_FIRST {
        let group: Vec<&Finding> = findings.iter().filter(|f| f.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "\n{} ({})",
            severity.label().to_ascii_uppercase(),
            group.len()
        );
        for finding in group {
            let _ = writeln!(
                out,
                "  [{}] {}",
                finding.id,
                finding.location.as_deref().unwrap_or("")
            );
            let _ = writeln!(out, "    {}", finding.message);
            let _ = writeln!(out, "    fix: {}", finding.fix);
        }
    }
    let counts: Vec<String> = Severity::WORST_FIRST
        .iter()
        .map(|&s| (s, findings.iter().filter(|f| f.severity == s).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(s, n)| format!("{n} {}", s.label()))
        .collect();
    let _ = writeln!(
        out,
        "\n{} finding(s): {}. {}",
        summary.total,
        counts.join(", "),
        if summary.failed {
            format!(
                "Failing: some are at or above --fail-on {}.",
                summary.fail_on.label()
            )
        } else {
            format!("None is at or above --fail-on {}.", summary.fail_on.label())
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding::new("x", severity, "m", Some("f:1".into()), "do")
    }

    #[test]
    fn the_threshold_is_inclusive() {
        let findings = [finding(Severity::Medium), finding(Severity::Low)];
        assert!(Summary::new(&findings, Severity::Medium).failed);
        assert!(!Summary::new(&findings, Severity::High).failed);
        assert!(!Summary::new(&[], Severity::Info).failed);
        let summary = Summary::new(&findings, Severity::High);
        let report = text("m.toml", &findings, &summary);
        assert!(
            report.find("MEDIUM (1)") < report.find("LOW (1)"),
            "{report}"
        );
        assert!(
            report.contains("2 finding(s): 1 medium, 1 low."),
            "{report}"
        );
    }
}
