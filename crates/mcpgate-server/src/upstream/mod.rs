//! Backends that are MCP servers themselves ("upstreams"): a child process
//! spoken to over stdio, or a Streamable HTTP endpoint.
//!
//! The gateway holds one client connection per upstream, made with the
//! gateway's own credentials: the caller's token never leaves the gateway.
//! A connection that ends (the child died, the server went away) is made
//! again with exponential back-off; calls meanwhile wait for it up to the
//! backend's connect timeout. What the upstream sends back while a call
//! runs is relayed to that call's caller ([`relay`]).

mod connect;
mod extras;
mod ordered;
pub(crate) mod relay;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use mcpgate_core::{ToolAnnotations, ToolOutput, ToolSpec};
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, CancelledNotificationParam,
    ClientRequest, ContentBlock, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions};
use rmcp::{RoleClient, ServiceError};
use serde_json::{Map, Value};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use connect::UpstreamTransport;
pub use extras::{Forwarded, Upstreams};
pub use relay::Downstream;
/// A tool as an upstream MCP server describes it.
pub use rmcp::model::Tool as UpstreamTool;

use crate::backend::Backend;
use crate::gateway::CallContext;
use relay::{Relay, Routes};

/// The first wait before a connection is made again; doubled after each
/// failure up to [`MAX_BACKOFF`].
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long [`McpBackend::shutdown`] waits for the connection to close.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);
/// A connection that lasted this long was healthy: back-off starts over.
const HEALTHY_AFTER: Duration = Duration::from_secs(10);

/// How to reach one upstream MCP server and how long to wait for it.
#[derive(Debug, Clone)]
pub struct UpstreamOptions {
    /// The backend's name in the config (for logs and errors).
    pub name: String,
    /// How the server is reached.
    pub transport: UpstreamTransport,
    /// Time limit for one call; the call is cancelled upstream after it.
    pub timeout: Duration,
    /// How long to wait for the server to start (and, while it is being
    /// restarted, how long a call waits for it).
    pub connect_timeout: Duration,
}

/// Why an upstream could not be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The first connection failed.
    #[error("cannot start MCP backend `{name}`: {reason}")]
    Connect {
        /// The backend.
        name: String,
        /// Why, in words.
        reason: String,
    },
    /// The server answered a request with an error, or not at all.
    #[error("MCP backend `{name}`: {reason}")]
    Request {
        /// The backend.
        name: String,
        /// Why, in words.
        reason: String,
    },
}

/// An upstream MCP server as a backend of the gateway.
pub struct McpBackend {
    options: UpstreamOptions,
    /// Put before each upstream tool (and prompt) name in the gateway.
    prefix: String,
    relay: Relay,
    /// The current connection; `None` while it is being made again.
    peer: watch::Receiver<Option<Peer<RoleClient>>>,
    stop: CancellationToken,
    /// The task keeping the connection, until [`McpBackend::shutdown`].
    supervisor: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for McpBackend {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl McpBackend {
    /// Connect to the upstream (failing if it cannot be reached within the
    /// connect timeout) and keep it connected from then on.
    pub async fn start(
        options: UpstreamOptions,
        prefix: String,
    ) -> Result<Arc<Self>, UpstreamError> {
        let relay = Relay {
            backend: Arc::from(options.name.as_str()),
            routes: Arc::new(Routes::default()),
        };
        let running = connect::connect(&options, relay.clone())
            .await
            .map_err(|reason| UpstreamError::Connect {
                name: options.name.clone(),
                reason,
            })?;
        let (sender, receiver) = watch::channel(Some(running.peer().clone()));
        let stop = CancellationToken::new();
        let supervisor = tokio::spawn(supervise(
            options.clone(),
            relay.clone(),
            running,
            sender,
            stop.clone(),
        ));
        Ok(Arc::new(McpBackend {
            options,
            prefix,
            relay,
            peer: receiver,
            stop,
            supervisor: std::sync::Mutex::new(Some(supervisor)),
        }))
    }

    /// Close the connection (a child process gets its stdin closed, then
    /// is killed if it has not exited) and wait for that, at most
    /// [`SHUTDOWN_WAIT`]. No restart follows.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let supervisor = self
            .supervisor
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(supervisor) = supervisor
            && tokio::time::timeout(SHUTDOWN_WAIT, supervisor)
                .await
                .is_err()
        {
            tracing::warn!(backend = %self.options.name, "MCP backend did not stop in time");
        }
    }

    /// The backend's name in the config.
    pub fn name(&self) -> &str {
        &self.options.name
    }

    /// The prefix of this backend's tool and prompt names in the gateway.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Resolves when the upstream says its tools changed.
    pub async fn tools_changed(&self) {
        self.relay.routes.tools_changed.notified().await;
    }

    /// The current connection, waiting (up to the connect timeout) while
    /// it is being made again.
    pub(crate) async fn peer(&self) -> Result<Peer<RoleClient>, UpstreamError> {
        let mut receiver = self.peer.clone();
        let ready = tokio::time::timeout(
            self.options.connect_timeout,
            receiver.wait_for(|peer| peer.as_ref().is_some_and(|p| !p.is_transport_closed())),
        )
        .await;
        match ready {
            Ok(Ok(peer)) => Ok(peer.clone().expect("checked by wait_for")),
            _ => Err(self.error(format!(
                "the server is not running (restart did not succeed within {} s)",
                self.options.connect_timeout.as_secs_f32()
            ))),
        }
    }

    pub(crate) fn routes(&self) -> &Arc<Routes> {
        &self.relay.routes
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> UpstreamError {
        UpstreamError::Request {
            name: self.options.name.clone(),
            reason: reason.into(),
        }
    }

    /// Every tool the upstream offers, as it describes them.
    pub async fn list_tools(&self) -> Result<Vec<rmcp::model::Tool>, UpstreamError> {
        let peer = self.peer().await?;
        peer.list_all_tools()
            .await
            .map_err(|e| self.error(format!("tools/list failed: {e}")))
    }

    /// Perform one call upstream, relaying progress, log messages and
    /// server→client requests to `downstream`.
    async fn call_upstream(
        &self,
        tool: &str,
        arguments: &Map<String, Value>,
        downstream: Option<&Downstream>,
    ) -> ToolOutput {
        let Some(upstream_name) = tool.strip_prefix(self.prefix.as_str()) else {
            return ToolOutput::error(format!("backend `{}` has no tool `{tool}`", self.name()));
        };
        let mut in_flight = downstream.map(|d| self.relay.routes.begin(d.clone()));
        let mut params = CallToolRequestParams::new(upstream_name.to_owned());
        params.arguments = Some(arguments.clone());
        let request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
        let mut options = PeerRequestOptions::no_options();
        options.timeout = Some(self.options.timeout);
        let (peer, handle) = match self.send(request, options).await {
            Ok(sent) => sent,
            Err(error) => return ToolOutput::error(error.to_string()),
        };
        if let Some(in_flight) = &mut in_flight {
            in_flight.route_progress(handle.progress_token.clone());
        }
        let id = handle.id.clone();
        let cancelled = downstream.map_or_else(CancellationToken::new, |d| d.cancelled.clone());
        let answer = tokio::select! {
            answer = handle.await_response() => {
                // The log messages and progress sent before the answer
                // reach the caller before it.
                self.relay.routes.tally.settled().await;
                answer
            }
            () = cancelled.cancelled() => {
                let _ = peer
                    .notify_cancelled(CancelledNotificationParam::new(
                        Some(id),
                        Some("cancelled by the caller".to_owned()),
                    ))
                    .await;
                return ToolOutput::error("cancelled by the caller");
            }
        };
        match answer {
            Ok(ServerResult::CallToolResult(result)) => to_output(result),
            Ok(_) => ToolOutput::error(format!(
                "backend `{}` answered tools/call with something that is not a tool result",
                self.name()
            )),
            Err(ServiceError::McpError(error)) => ToolOutput::error(format!(
                "backend `{}` refused the call: {} (JSON-RPC error {})",
                self.name(),
                error.message,
                error.code.0
            )),
            Err(ServiceError::Timeout { timeout }) => ToolOutput::error(format!(
                "backend `{}` did not answer within {} s; the call was cancelled",
                self.name(),
                timeout.as_secs_f32()
            )),
            Err(error) => {
                // The transport's own words name SDK types: logged, not shown.
                tracing::warn!(backend = %self.name(), %error, "MCP backend call failed");
                ToolOutput::error(format!(
                    "backend `{}` stopped before answering (its connection failed); mcpgate restarts or reconnects it, so the call can be tried again",
                    self.name()
                ))
            }
        }
    }

    /// Send `request`; a connection found closed before anything was sent
    /// is waited for once more (the request cannot have run).
    async fn send(
        &self,
        request: ClientRequest,
        options: PeerRequestOptions,
    ) -> Result<(Peer<RoleClient>, rmcp::service::RequestHandle<RoleClient>), UpstreamError> {
        let peer = self.peer().await?;
        match peer
            .send_request_with_option(request.clone(), clone_options(&options))
            .await
        {
            Ok(handle) => Ok((peer, handle)),
            Err(ServiceError::TransportClosed) => {
                let peer = self.peer().await?;
                let handle = peer
                    .send_request_with_option(request, options)
                    .await
                    .map_err(|e| self.error(format!("cannot send the request: {e}")))?;
                Ok((peer, handle))
            }
            Err(e) => Err(self.error(format!("cannot send the request: {e}"))),
        }
    }

    /// The gateway's description of an upstream tool: renamed with the
    /// prefix, and with read-only status from the gateway's config, never
    /// from the upstream (whose annotations are an untrusted party's
    /// hints).
    pub fn tool_spec(&self, tool: &rmcp::model::Tool, read_only: bool) -> ToolSpec {
        let hints = tool.annotations.as_ref();
        ToolSpec {
            name: format!("{}{}", self.prefix, tool.name),
            title: tool.title.clone(),
            description: tool.description.as_deref().map(str::to_owned),
            input_schema: (*tool.input_schema).clone(),
            annotations: ToolAnnotations {
                read_only_hint: Some(read_only),
                destructive_hint: if read_only {
                    Some(false)
                } else {
                    hints.and_then(|h| h.destructive_hint)
                },
                idempotent_hint: hints.and_then(|h| h.idempotent_hint),
                open_world_hint: hints.and_then(|h| h.open_world_hint),
            },
            security: Vec::new(),
            backend: self.options.name.clone(),
            accepted_auth: None,
            http_method: None,
            tags: Vec::new(),
        }
    }
}

fn clone_options(options: &PeerRequestOptions) -> PeerRequestOptions {
    let mut copy = PeerRequestOptions::no_options();
    copy.timeout = options.timeout;
    copy.meta = options.meta.clone();
    copy.reset_timeout_on_progress = options.reset_timeout_on_progress;
    copy.max_total_timeout = options.max_total_timeout;
    copy
}

impl Backend for McpBackend {
    fn call<'a>(
        &'a self,
        tool: &'a str,
        arguments: &'a Map<String, Value>,
        context: &'a CallContext,
    ) -> BoxFuture<'a, ToolOutput> {
        Box::pin(self.call_upstream(tool, arguments, context.downstream.as_ref()))
    }

    fn notifies_caller(&self) -> bool {
        true
    }
}

/// An upstream tool result as the gateway's output, content kept as sent.
fn to_output(result: CallToolResult) -> ToolOutput {
    let text = result
        .content
        .iter()
        .filter_map(|block| match block {
            ContentBlock::Text(text) => Some(text.text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    ToolOutput {
        text,
        structured: result.structured_content,
        is_error: result.is_error.unwrap_or(false),
        backend_status: None,
        content: serde_json::to_value(&result.content).ok(),
    }
}

/// Keep the upstream connected until `stop`: when the connection ends,
/// make it again with exponential back-off.
async fn supervise(
    options: UpstreamOptions,
    relay: Relay,
    mut running: rmcp::service::RunningService<RoleClient, Relay>,
    current: watch::Sender<Option<Peer<RoleClient>>>,
    stop: CancellationToken,
) {
    let mut backoff = INITIAL_BACKOFF;
    loop {
        let since = Instant::now();
        let closer = running.cancellation_token();
        let waiting = running.waiting();
        tokio::pin!(waiting);
        let ended = tokio::select! {
            ended = &mut waiting => ended,
            () = stop.cancelled() => {
                // Closing the transport ends a child process: its stdin
                // closes, and it is killed if it lingers.
                closer.cancel();
                let _ = waiting.await;
                return;
            }
        };
        current.send_replace(None);
        tracing::warn!(
            backend = %options.name,
            reason = ?ended,
            "MCP backend connection ended; restarting it"
        );
        if since.elapsed() >= HEALTHY_AFTER {
            backoff = INITIAL_BACKOFF;
        }
        running = loop {
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                () = stop.cancelled() => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            match connect::connect(&options, relay.clone()).await {
                Ok(running) => break running,
                Err(reason) => tracing::warn!(
                    backend = %options.name,
                    %reason,
                    retry_in_ms = backoff.as_millis() as u64,
                    "MCP backend could not be restarted"
                ),
            }
        };
        tracing::info!(backend = %options.name, "MCP backend connected again");
        current.send_replace(Some(running.peer().clone()));
        // The tools may differ after a restart.
        relay.routes.tools_changed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_keeps_content_blocks_and_text() {
        let result = CallToolResult::success(vec![
            ContentBlock::text("one"),
            ContentBlock::image("aGk=", "image/png"),
            ContentBlock::text("two"),
        ]);
        let output = to_output(result);
        assert_eq!(output.text, "one\ntwo");
        assert!(!output.is_error);
        let blocks = output.content.unwrap();
        assert_eq!(blocks.as_array().unwrap().len(), 3);
        assert_eq!(blocks[1]["type"], "image");
        assert_eq!(blocks[1]["mimeType"], "image/png");
    }
}
