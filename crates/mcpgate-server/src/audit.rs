//! The audit stage: where every decision is written down.

use std::io::Write;
use std::sync::Mutex;

use futures::future::BoxFuture;
use mcpgate_core::AuditEvent;
use mcpgate_store::audit::{AuditEntry, AuditLog};

/// Why an event could not be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit log is unavailable: {0}")]
pub struct AuditUnavailable(pub String);

/// Receives one [`AuditEvent`] per call that reached authorization.
///
/// `record` completes once the event is durable, so a call can be
/// acknowledged only after its record exists. The event's arguments are
/// already redacted.
pub trait AuditSink: Send + Sync + 'static {
    /// Record one event; `Err` when it could not be made durable.
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, Result<(), AuditUnavailable>>;

    /// Whether the sink is currently accepting records (checked before a
    /// call is performed, so a gateway that fails closed refuses early).
    fn is_available(&self) -> bool;
}

/// Writes audit events as structured log lines (target `mcpgate::audit`).
///
/// Not durable and not tamper-evident: for tests and tools that have no
/// store. The gateway itself records into the store ([`StoreAuditSink`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct LogAuditSink;

impl AuditSink for LogAuditSink {
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        log_event(&AuditEntry::from_event(&event).body);
        Box::pin(std::future::ready(Ok(())))
    }

    fn is_available(&self) -> bool {
        true
    }
}

fn log_event(body: &str) {
    tracing::info!(target: "mcpgate::audit", event = %body, "audit");
}

/// The store's copy in the log: at debug level, as the record is already
/// durable and `audit.jsonl` streams it for log shippers. At info level this
/// line, written to stderr on every call, cost 5–13 % of the gateway's
/// throughput under load (BENCHMARKS.md, "Load").
fn log_committed_event(seq: i64, body: &str) {
    tracing::debug!(target: "mcpgate::audit", seq, event = %body, "audit");
}

/// Records into the hash-chained store through the batching [`AuditLog`],
/// then copies the record to the log (debug level) and, optionally, a
/// JSON-lines file.
pub struct StoreAuditSink {
    log: AuditLog,
    jsonl: Option<Mutex<Box<dyn Write + Send>>>,
}

impl StoreAuditSink {
    /// A sink over `log`; `jsonl` receives one line per committed record.
    pub fn new(log: AuditLog, jsonl: Option<Box<dyn Write + Send>>) -> Self {
        StoreAuditSink {
            log,
            jsonl: jsonl.map(Mutex::new),
        }
    }
}

impl AuditSink for StoreAuditSink {
    fn record(&self, event: AuditEvent) -> BoxFuture<'_, Result<(), AuditUnavailable>> {
        Box::pin(async move {
            let entry = AuditEntry::from_event(&event);
            // Copied only for the copies that are made.
            let body = (self.jsonl.is_some()
                || tracing::enabled!(target: "mcpgate::audit", tracing::Level::DEBUG))
            .then(|| entry.body.clone());
            let seq = self
                .log
                .append(entry)
                .await
                .map_err(|e| AuditUnavailable(e.to_string()))?;
            let Some(body) = body else {
                return Ok(());
            };
            log_committed_event(seq, &body);
            if let Some(jsonl) = &self.jsonl {
                let line = format!("{{\"seq\":{seq},\"record\":{body}}}\n");
                if let Ok(mut out) = jsonl.lock()
                    && let Err(error) = out.write_all(line.as_bytes()).and_then(|()| out.flush())
                {
                    tracing::warn!(%error, "audit JSON-lines sink failed; the store has the record");
                }
            }
            Ok(())
        })
    }

    fn is_available(&self) -> bool {
        self.log.health().is_healthy()
    }
}
