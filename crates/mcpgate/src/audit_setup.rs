//! Config → the store and the running audit writer.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use mcpgate_core::Redactor;
use mcpgate_server::StoreAuditSink;
use mcpgate_store::Store;
use mcpgate_store::audit::{AuditLog, AuditLogOptions, CheckpointSigner};
use secrecy::ExposeSecret;

use crate::config::LoadedConfig;

/// How long shutdown waits for queued audit records to be written.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// What the gateway needs to audit, before the writer starts.
pub struct AuditParts {
    /// The store holding the chain.
    pub store: Arc<dyn Store>,
    /// Writer settings (with the checkpoint key, if any).
    pub options: AuditLogOptions,
    /// Refuse calls when the log cannot be written.
    pub fail_closed: bool,
    /// Redacts arguments before they are recorded.
    pub redactor: Redactor,
    /// An extra JSON-lines copy.
    pub jsonl: Option<Box<dyn Write + Send>>,
}

/// The audit writer once started; finish it to flush.
pub struct AuditRuntime {
    writer: mcpgate_store::audit::AuditWriter,
}

impl AuditParts {
    /// Open the configured store (running migrations) and read the audit
    /// settings. `stdio` forbids a JSON-lines copy on stdout, which belongs
    /// to MCP there.
    pub async fn from_config(loaded: &LoadedConfig, stdio: bool) -> anyhow::Result<Self> {
        let url = loaded.store_url().context("store.url")?;
        let store = mcpgate_store::open(&url)
            .await
            .with_context(|| format!("cannot open the store ({})", describe_store(&url)))?;
        let audit = &loaded.config.audit;
        let signer = match &audit.signing_key {
            Some(reference) => Some(
                CheckpointSigner::from_base64(
                    reference.resolve(loaded.base_dir())?.expose_secret(),
                )
                .context("audit.signing_key")?,
            ),
            None => None,
        };
        let jsonl: Option<Box<dyn Write + Send>> = match audit.jsonl.as_deref() {
            None => None,
            Some("stdout") if stdio => bail!(
                "audit.jsonl = \"stdout\" cannot be used with --stdio: stdout carries MCP there"
            ),
            Some("stdout") => Some(Box::new(std::io::stdout())),
            Some(path) => {
                let path = loaded.base_dir().join(path);
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| format!("audit.jsonl: cannot open {}", path.display()))?;
                Some(Box::new(file))
            }
        };
        Ok(AuditParts {
            store,
            options: AuditLogOptions {
                checkpoint_interval: audit.checkpoint_interval,
                signer,
                ..AuditLogOptions::default()
            },
            fail_closed: audit.fail_closed,
            redactor: Redactor::new(&audit.redact_fields),
            jsonl,
        })
    }

    /// Start the writer; returns the sink for the gateway and the handle
    /// that flushes on shutdown. Must run inside the Tokio runtime.
    pub fn start(self) -> (StoreAuditSink, AuditRuntime, bool, Redactor) {
        let (log, writer) = AuditLog::start_closable(self.store, self.options);
        (
            StoreAuditSink::new(log, self.jsonl),
            AuditRuntime { writer },
            self.fail_closed,
            self.redactor,
        )
    }
}

impl AuditRuntime {
    /// Close the log and wait until every queued record (and the last
    /// checkpoint) is written. Background tasks may still hold the
    /// gateway, and with it the queue's sender: closing does not wait for
    /// them; a call arriving after this is refused, not lost.
    pub async fn finish(self) {
        if !self.writer.close(FLUSH_TIMEOUT).await {
            tracing::error!("audit records still queued at shutdown could not be written in time");
        }
    }
}

/// The store URL without anything secret, for messages.
pub fn describe_store(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.scheme().starts_with("postgres") => {
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}
