//! What the audit log stores.

use mcpgate_core::{AuditEvent, Decision};
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
        let body = serde_json::to_value(event)
            .unwrap_or_else(|e| serde_json::json!({ "unserialisable_event": e.to_string() }));
        let text = |key: &str| body.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        AuditEntry {
            time: text("time").unwrap_or_default(),
            request_id: event.request_id.clone(),
            subject: event.subject.clone(),
            auth_method: event.auth_method.as_str().to_owned(),
            tool: event.tool.clone(),
            decision: decision_name(&event.decision).to_owned(),
            outcome: text("outcome").unwrap_or_default(),
            body: body.to_string(),
        }
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
