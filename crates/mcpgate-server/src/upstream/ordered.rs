//! Relayed notifications reach the caller before the answer they preceded.
//!
//! An upstream sends a call's log messages and progress, then its answer,
//! in that order on one stream. rmcp reads them in order but hands each
//! notification to the handler in a task of its own and the answer straight
//! to the waiting call, so the answer can overtake the last notifications:
//! the call returns, its caller gets the result and closes the stream, and
//! the relayed log line arrives too late or finds no call to go to (the MCP
//! conformance scenario `tools-call-with-logging` through mcpgate saw two
//! of three log messages on a busy machine).
//!
//! [`Ordered`] wraps the upstream transport and counts the notifications
//! the relay handles as they are read, before rmcp sees them; the relay
//! counts them again once handled. A call that has its answer waits until
//! every notification read before that answer has been handled
//! ([`RelayTally::settled`]), for at most a short while: a caller too slow
//! to take its notifications does not hold the answer back for long.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rmcp::RoleClient;
use rmcp::model::{GetMeta, JsonRpcMessage, ServerNotification};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::Notify;

/// The longest an answer waits for the notifications read before it.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(1);

/// Notifications read from an upstream and handled by the relay.
#[derive(Default)]
pub(crate) struct RelayTally {
    read: AtomicU64,
    handled: AtomicU64,
    changed: Notify,
}

impl RelayTally {
    /// Whether the relay handles `notification` (and will count it).
    fn relays(notification: &ServerNotification) -> bool {
        // One that rides a subscription goes to its subscriber inside
        // rmcp, never to the relay.
        matches!(
            notification,
            ServerNotification::LoggingMessageNotification(_)
                | ServerNotification::ProgressNotification(_)
        ) && notification.get_meta().subscription_id().is_none()
    }

    /// Marks one notification handled when dropped, however its handler
    /// ends.
    pub(crate) fn handling(&self) -> Handled<'_> {
        Handled(self)
    }

    /// Wait until every notification read so far has been handled, or
    /// [`SETTLE_TIMEOUT`] has passed.
    pub(crate) async fn settled(&self) {
        let read = self.read.load(Ordering::Acquire);
        let _ = tokio::time::timeout(SETTLE_TIMEOUT, async {
            loop {
                let changed = self.changed.notified();
                tokio::pin!(changed);
                // Registered before the check, so a handler finishing in
                // between still wakes this call.
                changed.as_mut().enable();
                if self.handled.load(Ordering::Acquire) >= read {
                    return;
                }
                changed.await;
            }
        })
        .await;
    }
}

/// See [`RelayTally::handling`].
pub(crate) struct Handled<'a>(&'a RelayTally);

impl Drop for Handled<'_> {
    fn drop(&mut self) {
        self.0.handled.fetch_add(1, Ordering::AcqRel);
        self.0.changed.notify_waiters();
    }
}

/// An upstream transport that counts, in [`RelayTally`], the notifications
/// the relay will handle, as they are read.
pub(crate) struct Ordered<T> {
    inner: T,
    tally: std::sync::Arc<RelayTally>,
}

impl<T> Ordered<T> {
    pub(crate) fn new(inner: T, tally: std::sync::Arc<RelayTally>) -> Self {
        Ordered { inner, tally }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for Ordered<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        let message = self.inner.receive().await;
        if let Some(JsonRpcMessage::Notification(notification)) = &message
            && RelayTally::relays(&notification.notification)
        {
            self.tally.read.fetch_add(1, Ordering::AcqRel);
        }
        message
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settled_waits_for_what_was_read_and_no_longer() {
        let tally = std::sync::Arc::new(RelayTally::default());
        // Nothing read: settled at once.
        tokio::time::timeout(Duration::from_millis(50), tally.settled())
            .await
            .expect("nothing to wait for");

        tally.read.fetch_add(2, Ordering::AcqRel);
        let waiting = tokio::spawn({
            let tally = tally.clone();
            async move { tally.settled().await }
        });
        drop(tally.handling());
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "one of two handled: still waiting");
        drop(tally.handling());
        tokio::time::timeout(Duration::from_millis(500), waiting)
            .await
            .expect("settled once both are handled")
            .expect("no panic");
    }

    #[tokio::test]
    async fn a_notification_never_handled_holds_an_answer_only_briefly() {
        let tally = RelayTally::default();
        tally.read.fetch_add(1, Ordering::AcqRel);
        let started = std::time::Instant::now();
        tally.settled().await;
        let waited = started.elapsed();
        assert!(
            waited >= SETTLE_TIMEOUT && waited < SETTLE_TIMEOUT * 3,
            "waited {waited:?}"
        );
    }
}
