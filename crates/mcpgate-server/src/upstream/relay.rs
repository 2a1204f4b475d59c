//! Traffic from an upstream MCP server back to the callers: server→client
//! requests (sampling, elicitation, roots), progress, log messages and
//! resource updates, each delivered to the session it belongs to.
//!
//! One connection to the upstream serves every caller, and MCP does not say
//! on the wire which call a server→client request belongs to. So:
//!
//! - progress is exact: each upstream call gets its own progress token,
//!   mapped back to the caller's token;
//! - requests (sampling, elicitation, roots) and log messages go to the one
//!   session with calls in flight on this backend. When calls from several
//!   sessions are in flight the owner cannot be known, and the request is
//!   refused rather than shown to somebody else's client;
//! - `resources/updated` goes to the sessions that subscribed to the URI.

// Sampling, roots and logging are deprecated by SEP-2577 (2026-07-28) but
// still spoken by the protocol versions most servers use.
#![allow(deprecated)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rmcp::model::{
    ClientCapabilities, ClientConfig, ClientResult, CreateMessageRequest,
    CreateMessageRequestParams, CreateMessageResult, ElicitRequest, ElicitRequestParams,
    ElicitResult, Implementation, ListRootsRequest, ListRootsResult,
    LoggingMessageNotificationParam, ProgressNotificationParam, ProgressToken, RequestId,
    ResourceUpdatedNotificationParam, ServerRequest,
};
use rmcp::service::{NotificationContext, OriginatingRequestId, Peer, RequestContext};
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient, RoleServer};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::ordered::RelayTally;

/// The caller's side of one request the gateway is serving: where to relay
/// what the upstream sends while it runs.
#[derive(Clone)]
pub struct Downstream {
    /// The caller's MCP session (one per HTTP session or stdio connection).
    pub session: u64,
    /// The caller's connection.
    pub peer: Peer<RoleServer>,
    /// The caller's request id, so relayed requests ride its stream.
    pub request_id: RequestId,
    /// The caller's progress token, if it asked for progress.
    pub progress_token: Option<ProgressToken>,
    /// Cancelled when the caller cancels the request.
    pub cancelled: CancellationToken,
}

impl std::fmt::Debug for Downstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Downstream")
            .field("session", &self.session)
            .field("request_id", &self.request_id)
            .field("progress_token", &self.progress_token)
            .finish_non_exhaustive()
    }
}

/// A session subscribed to a resource, and its connection.
type Subscriber = (u64, Peer<RoleServer>);

/// Who gets what an upstream sends; shared by a backend's connections
/// (they are replaced when the upstream restarts, the routes are not).
#[derive(Default)]
pub(crate) struct Routes {
    /// Calls in flight, by a gateway-local number.
    calls: Mutex<HashMap<u64, Downstream>>,
    next_call: std::sync::atomic::AtomicU64,
    /// Upstream progress token → the caller's peer and token.
    progress: Mutex<HashMap<ProgressToken, (Peer<RoleServer>, ProgressToken)>>,
    /// Resource URI → the sessions subscribed to it.
    subscriptions: Mutex<HashMap<String, Vec<Subscriber>>>,
    /// Signalled when the upstream says its tool list changed.
    pub(crate) tools_changed: Notify,
    /// Log messages and progress read from the upstream and relayed, so an
    /// answer can wait for those read before it ([`super::ordered`]).
    pub(crate) tally: Arc<RelayTally>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not take relaying down with it: the maps stay
    // consistent (every update is a single insert or remove).
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Removes a call from the routes when the call ends, however it ends.
pub(crate) struct InFlight {
    routes: Arc<Routes>,
    call: u64,
    progress: Option<ProgressToken>,
}

impl InFlight {
    /// Map the upstream request's progress token to the caller's.
    pub(crate) fn route_progress(&mut self, upstream: ProgressToken) {
        let caller = lock(&self.routes.calls).get(&self.call).and_then(|d| {
            d.progress_token
                .clone()
                .map(|token| (d.peer.clone(), token))
        });
        if let Some(caller) = caller {
            lock(&self.routes.progress).insert(upstream.clone(), caller);
            self.progress = Some(upstream);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        lock(&self.routes.calls).remove(&self.call);
        if let Some(token) = &self.progress {
            lock(&self.routes.progress).remove(token);
        }
    }
}

impl Routes {
    /// Register a call until the returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>, downstream: Downstream) -> InFlight {
        let call = self
            .next_call
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        lock(&self.calls).insert(call, downstream);
        InFlight {
            routes: self.clone(),
            call,
            progress: None,
        }
    }

    /// The caller a server→client request or log message belongs to: the
    /// newest call of the only session with calls in flight.
    fn sole_caller(&self) -> Result<Downstream, &'static str> {
        let calls = lock(&self.calls);
        let newest = owner(calls.iter().map(|(number, call)| (*number, call.session)))?;
        Ok(calls[&newest].clone())
    }

    /// Remember that `session` subscribed to `uri`.
    pub(crate) fn subscribe(&self, uri: &str, session: u64, peer: Peer<RoleServer>) {
        let mut subscriptions = lock(&self.subscriptions);
        let sessions = subscriptions.entry(uri.to_owned()).or_default();
        if !sessions.iter().any(|(s, _)| *s == session) {
            sessions.push((session, peer));
        }
    }

    /// Forget `session`'s subscription to `uri`; whether another session is
    /// still subscribed (then the upstream subscription stays).
    pub(crate) fn unsubscribe(&self, uri: &str, session: u64) -> bool {
        let mut subscriptions = lock(&self.subscriptions);
        let Some(sessions) = subscriptions.get_mut(uri) else {
            return false;
        };
        sessions.retain(|(s, _)| *s != session);
        let others = !sessions.is_empty();
        if !others {
            subscriptions.remove(uri);
        }
        others
    }
}

/// Of the calls in flight (number, session), the newest one, if they all
/// belong to one session.
fn owner(calls: impl Iterator<Item = (u64, u64)>) -> Result<u64, &'static str> {
    let mut newest: Option<(u64, u64)> = None;
    for (number, session) in calls {
        match newest {
            Some((_, other)) if other != session => {
                return Err(
                    "calls from several sessions are in flight on this backend, so mcpgate cannot tell whose request this is",
                );
            }
            Some((n, _)) if n > number => {}
            _ => newest = Some((number, session)),
        }
    }
    newest
        .map(|(number, _)| number)
        .ok_or("no call is in flight on this backend, so there is no caller to ask")
}

/// The gateway as the upstream's client.
#[derive(Clone)]
pub(crate) struct Relay {
    pub(crate) backend: Arc<str>,
    pub(crate) routes: Arc<Routes>,
}

impl Relay {
    /// Send a server→client request to the caller it belongs to, on the
    /// stream of the caller's own request.
    async fn ask_caller(
        &self,
        what: &str,
        mut request: ServerRequest,
    ) -> Result<ClientResult, McpError> {
        let caller = self.routes.sole_caller().map_err(|why| {
            tracing::warn!(backend = %self.backend, "upstream {what} request refused: {why}");
            McpError::internal_error(format!("mcpgate refused to relay {what}: {why}"), None)
        })?;
        use rmcp::model::GetExtensions;
        request
            .extensions_mut()
            .insert(OriginatingRequestId(caller.request_id.clone()));
        // Sent from a task of its own: inside this handler rmcp would tag
        // the request with the *upstream's* request id (a task-local),
        // replacing the caller's id set above.
        let peer = caller.peer.clone();
        let sent = tokio::spawn(async move { peer.send_request(request).await })
            .await
            .map_err(|e| McpError::internal_error(format!("relaying {what} failed: {e}"), None))?;
        sent.map_err(|error| match error {
            rmcp::ServiceError::McpError(error) => error,
            other => McpError::internal_error(
                format!("the caller did not answer the relayed {what} request: {other}"),
                None,
            ),
        })
    }
}

fn unexpected(what: &str) -> McpError {
    McpError::internal_error(
        format!("the caller answered the {what} request with something else"),
        None,
    )
}

impl ClientHandler for Relay {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.sampling = Some(Default::default());
        capabilities.elicitation = Some(Default::default());
        capabilities.roots = Some(Default::default());
        ClientConfig::new(
            capabilities,
            Implementation::new("mcpgate", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, McpError> {
        let request = ServerRequest::CreateMessageRequest(CreateMessageRequest::new(params));
        match self.ask_caller("sampling", request).await? {
            ClientResult::CreateMessageResult(result) => Ok(*result),
            _ => Err(unexpected("sampling")),
        }
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let request = ServerRequest::ElicitRequest(ElicitRequest::new(params));
        match self.ask_caller("elicitation", request).await? {
            ClientResult::ElicitResult(result) => Ok(result),
            _ => Err(unexpected("elicitation")),
        }
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, McpError> {
        let request = ServerRequest::ListRootsRequest(ListRootsRequest {
            method: Default::default(),
            extensions: Default::default(),
        });
        match self.ask_caller("roots", request).await? {
            ClientResult::ListRootsResult(result) => Ok(result),
            _ => Err(unexpected("roots")),
        }
    }

    async fn on_progress(
        &self,
        mut params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _handled = self.routes.tally.handling();
        let caller = lock(&self.routes.progress)
            .get(&params.progress_token)
            .cloned();
        if let Some((peer, token)) = caller {
            params.progress_token = token;
            if let Err(error) = peer.notify_progress(params).await {
                tracing::debug!(backend = %self.backend, %error, "progress not relayed");
            }
        }
    }

    async fn on_logging_message(
        &self,
        params: LoggingMessageNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _handled = self.routes.tally.handling();
        match self.routes.sole_caller() {
            Ok(caller) => {
                if let Err(error) = caller.peer.notify_logging_message(params).await {
                    tracing::debug!(backend = %self.backend, %error, "log message not relayed");
                }
            }
            Err(why) => {
                tracing::debug!(backend = %self.backend, "upstream log message dropped: {why}")
            }
        }
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let peers: Vec<Peer<RoleServer>> = lock(&self.routes.subscriptions)
            .get(&params.uri)
            .map(|sessions| sessions.iter().map(|(_, peer)| peer.clone()).collect())
            .unwrap_or_default();
        for peer in peers {
            let _ = peer.notify_resource_updated(params.clone()).await;
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.routes.tools_changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::owner;

    #[test]
    fn relayed_requests_go_only_to_an_unambiguous_session() {
        assert!(owner(std::iter::empty()).is_err());
        assert_eq!(owner([(4, 7)].into_iter()), Ok(4));
        // Several calls of one session: the newest.
        assert_eq!(owner([(4, 7), (9, 7), (6, 7)].into_iter()), Ok(9));
        // Two sessions: nobody (never the wrong user).
        assert!(owner([(4, 7), (5, 8)].into_iter()).is_err());
        assert!(owner([(5, 8), (4, 7), (6, 8)].into_iter()).is_err());
    }
}
