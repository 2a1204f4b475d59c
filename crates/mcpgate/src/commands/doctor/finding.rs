//! What `mcpgate doctor` reports: one problem, where it is, and the fix.

use serde::Serialize;

use crate::cli::Severity;

/// One problem found by a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check that found it (stable, listed in docs/DOCTOR.md).
    pub id: &'static str,
    /// How bad it is.
    pub severity: Severity,
    /// What is wrong. Never repeats a secret.
    pub message: String,
    /// Where: `file:line`, a file, or a store record.
    pub location: Option<String>,
    /// What to do about it.
    pub fix: String,
}

impl Finding {
    /// A finding of check `id`.
    pub fn new(
        id: &'static str,
        severity: Severity,
        message: impl Into<String>,
        location: Option<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            id,
            severity,
            message: message.into(),
            location,
            fix: fix.into(),
        }
    }
}

impl Severity {
    /// The name used in reports and by `--fail-on`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Every severity, worst first.
    pub const WORST_FIRST: [Severity; 5] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ];
}
