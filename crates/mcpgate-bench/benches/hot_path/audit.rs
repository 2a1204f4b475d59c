//! The audit writer as the gateway runs it, and the event of the measured
//! call.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mcpgate_core::{AuditEvent, Decision, Identity, Outcome, Redactor, ToolSpec};
use mcpgate_store::Store;
use mcpgate_store::audit::{AuditLog, AuditLogOptions, CheckpointSigner, Enqueued};
use serde_json::{Map, Value};

/// Calls timed in one go before the bench waits for their commits: well
/// under the queue's 10,000, so a timed call never waits for room.
const CHUNK: u64 = 4_096;

/// The writer with a gateway's settings when `audit.signing_key` is set.
/// Must run inside the Tokio runtime that will drive it.
pub fn start(store: Arc<dyn Store>) -> AuditLog {
    let (signer, _) = CheckpointSigner::generate().expect("a checkpoint key");
    let (log, _task) = AuditLog::start(
        store,
        AuditLogOptions {
            signer: Some(signer),
            ..AuditLogOptions::default()
        },
    );
    log
}

/// The event `Gateway::call_tool` records for `identity`'s successful
/// call of `tool`.
pub fn event(
    identity: &Identity,
    source: SocketAddr,
    tool: &ToolSpec,
    arguments: &Map<String, Value>,
) -> AuditEvent {
    let mut redacted = Value::Object(arguments.clone());
    Redactor::default().redact_value(&mut redacted);
    call_event(
        identity,
        source,
        tool,
        redacted,
        Decision::Allow,
        SystemTime::now(),
    )
}

/// An event built field by field as `Gateway::call_tool` builds it.
pub fn call_event(
    identity: &Identity,
    source: SocketAddr,
    tool: &ToolSpec,
    redacted: Value,
    decision: Decision,
    arrived: SystemTime,
) -> AuditEvent {
    AuditEvent {
        time: arrived,
        request_id: "0b6f3c5e-4d1a-4f7e-9a8b-2c3d4e5f6a7b".to_owned(),
        subject: identity.subject.clone(),
        auth_method: identity.auth,
        credential_id: identity.credential_id.clone(),
        source: Some(source.to_string()),
        method: "tools/call".to_owned(),
        tool: Some(tool.name.clone()),
        arguments: Some(redacted),
        decision,
        outcome: Outcome::Success,
        backend_status: Some(200),
        latency: Duration::from_micros(1_830),
    }
}

/// Time `iters` calls of `enqueue`, [`CHUNK`] at a time; after each chunk,
/// untimed, wait until the writer has committed what it was given.
pub async fn timed_enqueues(iters: u64, mut enqueue: impl AsyncFnMut() -> Enqueued) -> Duration {
    let mut total = Duration::ZERO;
    let mut pending = Vec::with_capacity(CHUNK as usize);
    let mut left = iters;
    while left > 0 {
        let chunk = left.min(CHUNK);
        left -= chunk;
        let start = Instant::now();
        for _ in 0..chunk {
            pending.push(enqueue().await);
        }
        total += start.elapsed();
        for enqueued in pending.drain(..) {
            enqueued.committed().await.expect("committed");
        }
    }
    total
}
