//! What the audit log stores.

use mcpgate_core::{AuditEvent, Decision, Outcome};
use serde::Serialize;

/// A record about to be appended: the event as canonical JSON (`body`),
/// plus copies of the fields queries filter on. The verifier checks that
/// the copies agree with the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// RFC 3339 time of the call.
    pub time: String,
    /// The request id.
    pub request_id: String,
    /// Who called.
    pub subject: String,
    /// How they authenticated.
    pub auth_method: String,
    /// The tool, for `tools/call`.
    pub tool: Option<String>,
    /// `allow` or `deny`.
    pub decision: String,
    /// `success`, `backend_error` or `not_executed`.
    pub outcome: String,
    /// The whole event as JSON; this is what the hash covers.
    pub body: String,
}

impl AuditEntry {
    /// The entry for `event`. The event's arguments must already be
    /// redacted: the body is stored and hashed as it is.
    pub fn from_event(event: &AuditEvent) -> Self {
        // Written straight to text, on every call's path: the same bytes
        // as through a `serde_json::Value`, without building and dropping
        // one (which cost more than the rest of the hand-off).
        let body = serde_json::to_string(event).unwrap_or_else(|e| {
            serde_json::json!({ "unserialisable_event": e.to_string() }).to_string()
        });
        AuditEntry {
            time: mcpgate_core::format_rfc3339(event.time),
            request_id: event.request_id.clone(),
            subject: event.subject.clone(),
            auth_method: event.auth_method.as_str().to_owned(),
            tool: event.tool.clone(),
            decision: decision_name(&event.decision).to_owned(),
            outcome: outcome_name(event.outcome).to_owned(),
            body,
        }
    }
}

/// How `outcome` is written in the body (its serde name).
fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::BackendError => "backend_error",
        Outcome::NotExecuted => "not_executed",
    }
}

/// `allow` or `deny`.
pub fn decision_name(decision: &Decision) -> &'static str {
    if decision.is_allowed() {
        "allow"
    } else {
        "deny"
    }
}

/// A stored record: the entry and its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The stored fields.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// The previous record's hash.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
}

/// Which records a query wants. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only records after this sequence number (for paging and following).
    pub after_seq: Option<i64>,
    /// Only this subject.
    pub subject: Option<String>,
    /// Only this tool.
    pub tool: Option<String>,
    /// Only `allow` or `deny`.
    pub decision: Option<String>,
    /// Only records at or after this RFC 3339 time.
    pub since: Option<String>,
    /// At most this many records.
    pub limit: Option<i64>,
    /// The newest records (still returned in sequence order) instead of the oldest.
    pub newest_first: bool,
}

/// A signature over the chain up to `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// The last record covered.
    pub seq: i64,
    /// That record's hash.
    pub hash: String,
    /// Which key signed (a fingerprint of its public key).
    pub key_id: String,
    /// Base64 Ed25519 signature over [`super::checkpoint_message`].
    pub signature: String,
    /// When it was signed (RFC 3339).
    pub time: String,
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use mcpgate_core::{AuthMethod, DenyReason};
    use serde_json::{Value, json};

    use super::*;

    fn event(decision: Decision, outcome: Outcome) -> AuditEvent {
        AuditEvent {
            time: UNIX_EPOCH + Duration::from_millis(1_763_900_000_123),
            request_id: "req-1".to_owned(),
            subject: "sam@acme.example".to_owned(),
            auth_method: AuthMethod::Jwt,
            credential_id: Some("at-1".to_owned()),
            source: Some("10.0.0.7:51234".to_owned()),
            method: "tools/call".to_owned(),
            tool: Some("crm_get_customer".to_owned()),
            arguments: Some(json!({"id": "cus_1", "z": 1, "a": [1.5, null, "\"x\""]})),
            decision,
            outcome,
            backend_status: Some(200),
            latency: Duration::from_micros(1_830),
        }
    }

    /// The body is byte for byte what the event was always written as
    /// (through a `Value`), and the copied fields agree with it, for every
    /// outcome — what `verify_chain` checks of stored records.
    #[test]
    fn body_and_copies_agree_with_the_event() {
        let deny = Decision::Deny {
            reason: DenyReason::InsufficientScope,
            missing_scopes: vec!["write:crm".to_owned()],
        };
        for (decision, outcome) in [
            (Decision::Allow, Outcome::Success),
            (Decision::Allow, Outcome::BackendError),
            (deny, Outcome::NotExecuted),
        ] {
            let event = event(decision, outcome);
            let entry = AuditEntry::from_event(&event);
            let value = serde_json::to_value(&event).unwrap();
            assert_eq!(entry.body, value.to_string());
            let body: Value = serde_json::from_str(&entry.body).unwrap();
            assert_eq!(body["time"], json!(entry.time));
            assert_eq!(body["outcome"], json!(entry.outcome));
            assert_eq!(body["decision"]["decision"], json!(entry.decision));
        }
    }
}
