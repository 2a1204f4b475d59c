use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::{AuthMethod, Decision};

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The backend answered successfully.
    Success,
    /// The backend answered with an error, or could not be reached.
    BackendError,
    /// The call never reached the backend (denied or invalid).
    NotExecuted,
}

/// Everything the audit stage is told about one call.
///
/// Arguments arrive here already redacted; the audit stage decides how to
/// store, chain and ship the event.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEvent {
    /// When the call arrived (RFC 3339 in UTC when serialized).
    #[serde(serialize_with = "as_rfc3339")]
    pub time: SystemTime,
    /// Correlates the event with logs.
    pub request_id: String,
    /// Who called.
    pub subject: String,
    /// How they authenticated.
    pub auth_method: AuthMethod,
    /// The credential's identifier (never the secret).
    pub credential_id: Option<String>,
    /// Where the request came from, when known (HTTP peer address).
    pub source: Option<String>,
    /// The MCP method (`tools/call`, `tools/list`, …).
    pub method: String,
    /// The tool called, for `tools/call`.
    pub tool: Option<String>,
    /// The arguments, with secrets redacted.
    pub arguments: Option<serde_json::Value>,
    /// The authorization decision.
    pub decision: Decision,
    /// How the call ended.
    pub outcome: Outcome,
    /// The backend's HTTP status, when there was one.
    pub backend_status: Option<u16>,
    /// Time from arrival to answer (milliseconds when serialized).
    #[serde(rename = "latency_ms", serialize_with = "as_millis")]
    pub latency: Duration,
}

impl AuditEvent {
    /// An event that is not an MCP request — an administrator's action, or
    /// the authorization server's — done now, or refused because of
    /// `refused`. `details` says what it was about (never a secret).
    pub fn action(
        request_id: String,
        method: &str,
        subject: &str,
        auth_method: AuthMethod,
        credential_id: Option<String>,
        details: serde_json::Value,
        refused: Option<String>,
    ) -> Self {
        let done = refused.is_none();
        AuditEvent {
            time: SystemTime::now(),
            request_id,
            subject: subject.to_owned(),
            auth_method,
            credential_id,
            source: None,
            method: method.to_owned(),
            tool: None,
            arguments: Some(details),
            decision: match refused {
                None => Decision::Allow,
                Some(why) => Decision::Deny {
                    reason: crate::DenyReason::Refused(why),
                    missing_scopes: Vec::new(),
                },
            },
            outcome: if done {
                Outcome::Success
            } else {
                Outcome::NotExecuted
            },
            backend_status: None,
            latency: Duration::ZERO,
        }
    }
}

fn as_rfc3339<S: serde::Serializer>(time: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&crate::format_rfc3339(*time))
}

fn as_millis<S: serde::Serializer>(latency: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(latency.as_secs_f64() * 1000.0)
}
