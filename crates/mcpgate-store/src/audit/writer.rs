//! The batching writer: a bounded queue in front of the store, with group
//! commit.
//!
//! Callers hand over an entry and wait until it is on disk. One task takes
//! whatever has queued up (up to a batch), appends it in one transaction,
//! and answers every waiter. Under load, many calls share one commit; when
//! the queue is full, callers wait (back-pressure) — nothing is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, oneshot, watch};

use super::{AuditEntry, CheckpointSigner};
use crate::Store;

/// Why an entry was not recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The store refused the batch or could not be reached.
    #[error("the audit log could not be written: {0}")]
    Unavailable(String),
    /// The writer has stopped (the gateway is shutting down).
    #[error("the audit log is closed")]
    Closed,
}

/// Settings of the writer.
#[derive(Debug)]
pub struct AuditLogOptions {
    /// Entries that may wait in the queue before callers wait too.
    pub queue_capacity: usize,
    /// Most entries in one transaction.
    pub max_batch: usize,
    /// Sign a checkpoint at least this often while records arrive.
    pub checkpoint_interval: Duration,
    /// The checkpoint key; without one, no checkpoints are written.
    pub signer: Option<CheckpointSigner>,
}

impl Default for AuditLogOptions {
    fn default() -> Self {
        AuditLogOptions {
            queue_capacity: 10_000,
            max_batch: 1_000,
            checkpoint_interval: Duration::from_secs(1),
            signer: None,
        }
    }
}

/// The writer's state as health checks and metrics see it.
#[derive(Debug, Default)]
pub struct AuditHealth {
    healthy: AtomicBool,
    written: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
}

impl AuditHealth {
    /// Whether the last write succeeded (true before the first).
    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
    /// Records written since start.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
    /// Records that could not be written since start.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    /// Transactions committed since start.
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
}

struct Pending {
    entry: AuditEntry,
    done: oneshot::Sender<Result<i64, AuditError>>,
}

/// The audit log's front door. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    queue: mpsc::Sender<Pending>,
    health: Arc<AuditHealth>,
}

impl AuditLog {
    /// Start the writer task over `store`. The task ends, after writing
    /// what is queued, when every `AuditLog` clone has been dropped; await
    /// the handle to know the last record is on disk.
    pub fn start(
        store: Arc<dyn Store>,
        options: AuditLogOptions,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (log, writer) = Self::start_closable(store, options);
        (log, writer.task)
    }

    /// [`AuditLog::start`], with a handle that can also close the log while
    /// clones are still held (by tasks that outlive serving): see
    /// [`AuditWriter::close`].
    pub fn start_closable(store: Arc<dyn Store>, options: AuditLogOptions) -> (Self, AuditWriter) {
        let (queue, receiver) = mpsc::channel(options.queue_capacity.max(1));
        let health = Arc::new(AuditHealth::default());
        health.healthy.store(true, Ordering::Relaxed);
        let (close, closing) = watch::channel(false);
        let task = tokio::spawn(run_writer(
            store,
            options,
            receiver,
            closing,
            health.clone(),
        ));
        (AuditLog { queue, health }, AuditWriter { task, close })
    }

    /// Append `entry` and wait until it is committed; returns its sequence
    /// number.
    pub async fn append(&self, entry: AuditEntry) -> Result<i64, AuditError> {
        self.enqueue(entry).await?.committed().await
    }

    /// Hand `entry` to the writer without waiting for its commit: returns
    /// once the entry is queued (waiting only while the queue is full).
    /// The entry is written whether or not the [`Enqueued`] is awaited; a
    /// caller that acknowledges anything on the strength of the record
    /// must await [`Enqueued::committed`] first, as [`AuditLog::append`]
    /// does. Separate so that the hand-off can be measured on its own.
    pub async fn enqueue(&self, entry: AuditEntry) -> Result<Enqueued, AuditError> {
        let (done, result) = oneshot::channel();
        self.queue
            .send(Pending { entry, done })
            .await
            .map_err(|_| AuditError::Closed)?;
        Ok(Enqueued { result })
    }

    /// The writer's health.
    pub fn health(&self) -> &AuditHealth {
        &self.health
    }
}

/// The writer task and the switch that closes the log.
#[derive(Debug)]
pub struct AuditWriter {
    task: tokio::task::JoinHandle<()>,
    close: watch::Sender<bool>,
}

impl AuditWriter {
    /// Stop taking entries (appends fail with [`AuditError::Closed`]),
    /// write every entry already queued and the last checkpoint, and wait
    /// for that up to `timeout`; `false` when it took longer.
    pub async fn close(self, timeout: Duration) -> bool {
        let _ = self.close.send(true);
        tokio::time::timeout(timeout, self.task).await.is_ok()
    }
}

/// An entry in the writer's queue, not yet known to be committed.
#[derive(Debug)]
#[must_use = "an entry is durable only once `committed` has returned Ok"]
pub struct Enqueued {
    result: oneshot::Receiver<Result<i64, AuditError>>,
}

impl Enqueued {
    /// Wait until the entry is committed; returns its sequence number.
    pub async fn committed(self) -> Result<i64, AuditError> {
        self.result.await.map_err(|_| AuditError::Closed)?
    }
}

async fn run_writer(
    store: Arc<dyn Store>,
    options: AuditLogOptions,
    mut receiver: mpsc::Receiver<Pending>,
    mut closing: watch::Receiver<bool>,
    health: Arc<AuditHealth>,
) {
    let max_batch = options.max_batch.max(1);
    let mut batch: Vec<Pending> = Vec::with_capacity(max_batch);
    let mut entries: Vec<AuditEntry> = Vec::with_capacity(max_batch);
    let mut waiting: Vec<oneshot::Sender<Result<i64, AuditError>>> = Vec::with_capacity(max_batch);
    let mut last_checkpoint = Instant::now();
    let mut unsigned = false;
    let mut watching = true;
    loop {
        let received = tokio::select! {
            // `recv_many` is cancel-safe: nothing is lost when closing wins.
            received = receiver.recv_many(&mut batch, max_batch) => received,
            changed = closing.changed(), if watching => {
                watching = false;
                // A dropped handle (Err) only stops the watching; a close
                // refuses new entries, and what is queued is still written
                // before `recv_many` reports the end.
                if changed.is_ok() {
                    receiver.close();
                }
                continue;
            }
        };
        if received == 0 {
            break;
        }
        // The entries are moved to the store, not copied.
        entries.clear();
        for pending in batch.drain(..) {
            entries.push(pending.entry);
            waiting.push(pending.done);
        }
        match store.append_audit(&entries).await {
            Ok(head) => {
                health.healthy.store(true, Ordering::Relaxed);
                health
                    .written
                    .fetch_add(waiting.len() as u64, Ordering::Relaxed);
                health.batches.fetch_add(1, Ordering::Relaxed);
                let first = head.seq - waiting.len() as i64 + 1;
                for (index, done) in waiting.drain(..).enumerate() {
                    let _ = done.send(Ok(first + index as i64));
                }
                unsigned = true;
                if last_checkpoint.elapsed() >= options.checkpoint_interval {
                    sign(&*store, options.signer.as_ref(), &head).await;
                    last_checkpoint = Instant::now();
                    unsigned = false;
                }
            }
            Err(error) => {
                tracing::error!(%error, records = waiting.len(), "audit batch not written; the calls are refused");
                health.healthy.store(false, Ordering::Relaxed);
                health
                    .failed
                    .fetch_add(waiting.len() as u64, Ordering::Relaxed);
                let error = AuditError::Unavailable(error.to_string());
                for done in waiting.drain(..) {
                    let _ = done.send(Err(error.clone()));
                }
            }
        }
    }
    if unsigned && let Ok(head) = store.audit_head().await {
        sign(&*store, options.signer.as_ref(), &head).await;
    }
}

async fn sign(store: &dyn Store, signer: Option<&CheckpointSigner>, head: &super::ChainHead) {
    let Some(signer) = signer else { return };
    let checkpoint = signer.sign(
        head.seq,
        &head.hash,
        mcpgate_core::format_rfc3339(SystemTime::now()),
    );
    if let Err(error) = store.add_checkpoint(&checkpoint).await {
        tracing::warn!(%error, seq = head.seq, "audit checkpoint not written");
    }
}
