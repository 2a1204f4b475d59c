//! The audit stage: where every decision is written down.

use mcpgate_core::AuditEvent;

/// Receives one [`AuditEvent`] per call that reached authorization.
///
/// `record` runs on the request path before the answer is sent, so
/// implementations must be quick (hand the event to a queue, not to a disk).
pub trait AuditSink: Send + Sync + 'static {
    /// Record one event.
    fn record(&self, event: AuditEvent);
}

/// Writes audit events as structured log lines (target `mcpgate::audit`).
///
/// This is the sink until the durable, hash-chained store lands; it is
/// synchronous and lossless but not tamper-evident.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogAuditSink;

impl AuditSink for LogAuditSink {
    fn record(&self, event: AuditEvent) {
        let json = serde_json::to_string(&event)
            .unwrap_or_else(|e| format!("{{\"unserialisable\":\"{e}\"}}"));
        tracing::info!(target: "mcpgate::audit", event = %json, "audit");
    }
}
