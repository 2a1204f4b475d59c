//! The protocol-independent heart of the request path: authorize, validate,
//! call the backend, audit.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use mcpgate_core::{
    AuditEvent, Authorizer, AuthzRequest, Decision, DenyReason, Identity, Outcome, Redactor,
    ToolOutput,
};
use serde_json::{Map, Value};

use crate::audit::AuditSink;
use crate::catalog::Catalog;
use crate::upstream::Upstreams;

/// Settings of the gateway that are not about any one stage.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Tools per `tools/list` page.
    pub page_size: usize,
    /// Shown to clients as the server's instructions.
    pub instructions: Option<String>,
    /// Refuse calls (and withhold results) when the audit log cannot be
    /// written.
    pub fail_closed: bool,
    /// Removes secrets from arguments before they are audited.
    pub redactor: Redactor,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            page_size: 200,
            instructions: None,
            fail_closed: true,
            redactor: Redactor::default(),
        }
    }
}

/// Who is calling and from where, for one request.
#[derive(Debug, Clone)]
pub struct CallContext {
    /// The authenticated caller.
    pub identity: Identity,
    /// The TCP peer, if any (stdio has none).
    pub source: Option<SocketAddr>,
    /// Correlates the audit record with logs.
    pub request_id: String,
    /// The HTTP transport already allowed this very call (same caller, same
    /// tool, the arguments parsed from the same body) and counted it
    /// against the rate limits — it answers 403 and 429 itself — so
    /// [`Gateway::call_tool`] neither decides it nor counts it again.
    pub admitted: bool,
    /// Where an MCP backend's progress, log messages and requests for this
    /// call are relayed (none: they are not).
    pub downstream: Option<crate::upstream::Downstream>,
}

impl CallContext {
    /// A context with a fresh request id.
    pub fn new(identity: Identity, source: Option<SocketAddr>) -> Self {
        CallContext {
            identity,
            source,
            request_id: new_request_id(),
            admitted: false,
            downstream: None,
        }
    }
}

/// A fresh id for one request's audit record and log lines.
fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A call that was refused before it reached a backend, as a protocol error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// No tool by that name is visible to the caller.
    #[error("unknown tool `{0}`")]
    UnknownTool(String),
    /// Authorization said no.
    #[error("not allowed to call `{tool}`: {reason}")]
    Denied {
        /// The tool.
        tool: String,
        /// Why.
        reason: DenyReason,
        /// Scopes that would allow it.
        missing_scopes: Vec<String>,
    },
    /// The caller used up a rate limit.
    #[error("rate limit exceeded for `{tool}`; retry in {} s", retry_after.as_secs().max(1))]
    RateLimited {
        /// The tool.
        tool: String,
        /// When the call would pass.
        retry_after: Duration,
    },
    /// A `tools/list` cursor this gateway did not hand out.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The audit log cannot be written and the gateway fails closed.
    #[error("{}", if *performed {
        "the call was performed but could not be recorded in the audit log, so its result is withheld"
    } else {
        "the audit log is unavailable, so no calls are performed; try again later"
    })]
    AuditUnavailable {
        /// Whether the backend was called before the failure.
        performed: bool,
    },
}

/// One page of `tools/list`.
pub struct ToolPage {
    /// The tools, as sent.
    pub tools: Vec<rmcp::model::Tool>,
    /// Cursor for the next page, if there is one.
    pub next_cursor: Option<String>,
}

/// The gateway: a catalog of tools, an authorizer and an audit sink.
pub struct Gateway {
    /// Replaced whole when an upstream's tools change.
    catalog: RwLock<Arc<Catalog>>,
    /// Open MCP sessions, told when the tools change.
    sessions: Mutex<Vec<rmcp::service::Peer<rmcp::RoleServer>>>,
    authorizer: Arc<dyn Authorizer>,
    audit: Arc<dyn AuditSink>,
    options: GatewayOptions,
    upstreams: Upstreams,
}

impl Gateway {
    /// A gateway over `catalog`.
    pub fn new(
        catalog: Catalog,
        authorizer: Arc<dyn Authorizer>,
        audit: Arc<dyn AuditSink>,
        options: GatewayOptions,
    ) -> Self {
        Gateway {
            catalog: RwLock::new(Arc::new(catalog)),
            sessions: Mutex::default(),
            authorizer,
            audit,
            options: GatewayOptions {
                page_size: options.page_size.max(1),
                ..options
            },
            upstreams: Upstreams::default(),
        }
    }

    /// Serve the resources, prompts and completions of these upstream MCP
    /// backends too (their tools are in the catalog).
    pub fn with_upstreams(mut self, upstreams: Upstreams) -> Self {
        self.upstreams = upstreams;
        self
    }

    /// The upstream MCP backends.
    pub fn upstreams(&self) -> &Upstreams {
        &self.upstreams
    }

    /// Whether the caller may use what `backend` offers besides tools
    /// (resources, prompts, completions): only if it may call at least one
    /// of the backend's tools. Nothing else grants it.
    pub fn may_use_backend(
        &self,
        identity: &Identity,
        source: Option<SocketAddr>,
        backend: &str,
    ) -> bool {
        let now = SystemTime::now();
        self.catalog()
            .entries()
            .iter()
            .filter(|entry| entry.spec.backend == backend)
            .any(|entry| self.listable(identity, source, entry, now))
    }

    /// Whether `identity` may see `entry` in `tools/list` (decided without
    /// arguments, at `now`).
    fn listable(
        &self,
        identity: &Identity,
        source: Option<SocketAddr>,
        entry: &crate::catalog::Entry,
        now: SystemTime,
    ) -> bool {
        self.authorizer
            .decide(&AuthzRequest {
                identity,
                tool: &entry.spec,
                arguments: None,
                source: source.map(|s| s.ip()),
                time: now,
            })
            .is_allowed()
    }

    /// Audit a request other than `tools/call` that was passed to an
    /// upstream (`method`, about `target`): refused ones before they go,
    /// performed ones before they are answered (withheld when that fails
    /// and the gateway fails closed).
    pub async fn audit_forwarded<T, E>(
        &self,
        context: &CallContext,
        method: &str,
        target: &str,
        allowed: bool,
        perform: impl Future<Output = Result<T, E>>,
    ) -> Result<Result<T, E>, CallError> {
        let started = Instant::now();
        let arrived = SystemTime::now();
        let event = |decision: Decision, outcome: Outcome| AuditEvent {
            time: arrived,
            request_id: context.request_id.clone(),
            subject: context.identity.subject.clone(),
            auth_method: context.identity.auth,
            credential_id: context.identity.credential_id.clone(),
            source: context.source.map(|s| s.to_string()),
            method: method.to_owned(),
            tool: None,
            arguments: Some(serde_json::json!({ "target": target })),
            decision,
            outcome,
            backend_status: None,
            latency: started.elapsed(),
        };
        if !allowed {
            let decision = Decision::Deny {
                reason: DenyReason::NoMatchingGrant,
                missing_scopes: Vec::new(),
            };
            self.record_refusal(event(decision.clone(), Outcome::NotExecuted))
                .await;
            return Err(CallError::Denied {
                tool: target.to_owned(),
                reason: DenyReason::NoMatchingGrant,
                missing_scopes: Vec::new(),
            });
        }
        if self.options.fail_closed && !self.audit.is_available() {
            return Err(CallError::AuditUnavailable { performed: false });
        }
        let result = perform.await;
        let outcome = if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::BackendError
        };
        self.record_outcome(event(Decision::Allow, outcome), true)
            .await?;
        Ok(result)
    }

    /// The catalog as it is now.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Serve `catalog` from now on (calls in flight finish with the old
    /// one), and tell every open session that the tools changed.
    pub async fn replace_catalog(&self, catalog: Catalog) {
        *self
            .catalog
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(catalog);
        let sessions: Vec<_> = {
            let mut sessions = self
                .sessions
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            sessions.retain(|peer| !peer.is_transport_closed());
            sessions.clone()
        };
        for peer in sessions {
            let _ = peer.notify_tool_list_changed().await;
        }
    }

    /// Remember an open session, to tell it when the tools change.
    pub(crate) fn add_session(&self, peer: rmcp::service::Peer<rmcp::RoleServer>) {
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        sessions.retain(|peer| !peer.is_transport_closed());
        sessions.push(peer);
    }

    /// Whether the audit log is accepting records.
    pub fn audit_available(&self) -> bool {
        self.audit.is_available()
    }

    /// The options.
    pub fn options(&self) -> &GatewayOptions {
        &self.options
    }

    /// One page of the tools `identity` may call. Cursors are opaque to
    /// clients; here they are the catalog position to resume from.
    pub fn list_tools(
        &self,
        identity: &Identity,
        source: Option<SocketAddr>,
        cursor: Option<&str>,
    ) -> Result<ToolPage, CallError> {
        let start = match cursor {
            None => 0,
            Some(cursor) => decode_cursor(cursor).ok_or(CallError::InvalidCursor)?,
        };
        let catalog = self.catalog();
        let entries = catalog.entries();
        if start > entries.len() {
            return Err(CallError::InvalidCursor);
        }
        let now = SystemTime::now();
        let visible = |entry: &crate::catalog::Entry| self.listable(identity, source, entry, now);
        let mut tools = Vec::new();
        let mut position = start;
        while position < entries.len() && tools.len() < self.options.page_size {
            let entry = &entries[position];
            if visible(entry) {
                tools.push(entry.listed.clone());
            }
            position += 1;
        }
        let more = entries[position..].iter().any(visible);
        Ok(ToolPage {
            tools,
            next_cursor: more.then(|| encode_cursor(position)),
        })
    }

    /// Perform one `tools/call`: authorize, validate, call, audit.
    ///
    /// The answer is returned only after its audit record is durable. When
    /// the audit log cannot be written and the gateway fails closed, calls
    /// are refused before they reach the backend, and a result that could
    /// not be recorded is withheld.
    pub async fn call_tool(
        &self,
        context: &CallContext,
        name: &str,
        arguments: Map<String, Value>,
    ) -> Result<ToolOutput, CallError> {
        let started = Instant::now();
        let arrived = SystemTime::now();
        let mut redacted = Value::Object(arguments.clone());
        self.options.redactor.redact_value(&mut redacted);
        // Called once, on whichever path the call ends: it takes the
        // redacted arguments instead of copying them.
        let event =
            move |decision: Decision, outcome: Outcome, backend_status: Option<u16>| AuditEvent {
                time: arrived,
                request_id: context.request_id.clone(),
                subject: context.identity.subject.clone(),
                auth_method: context.identity.auth,
                credential_id: context.identity.credential_id.clone(),
                source: context.source.map(|s| s.to_string()),
                method: "tools/call".to_owned(),
                tool: Some(name.to_owned()),
                arguments: Some(redacted),
                decision,
                outcome,
                backend_status,
                latency: started.elapsed(),
            };

        let catalog = self.catalog();
        let Some(entry) = catalog.get(name) else {
            let decision = Decision::Deny {
                reason: DenyReason::UnknownTool,
                missing_scopes: Vec::new(),
            };
            self.record_refusal(event(decision, Outcome::NotExecuted, None))
                .await;
            return Err(CallError::UnknownTool(name.to_owned()));
        };
        // Stdio calls, and HTTP calls the admission layer passed on
        // undecided (refused for a reason HTTP has no status for), are
        // decided and counted here. An HTTP call it allowed was decided on
        // this request, for the same caller and arguments: deciding it again
        // would only double the policy's cost.
        let decision = if context.admitted {
            Decision::Allow
        } else {
            self.authorizer.decide(&AuthzRequest {
                identity: &context.identity,
                tool: &entry.spec,
                arguments: Some(&arguments),
                source: context.source.map(|s| s.ip()),
                time: arrived,
            })
        };
        if let Decision::Deny {
            reason,
            missing_scopes,
        } = &decision
        {
            self.record_refusal(event(decision.clone(), Outcome::NotExecuted, None))
                .await;
            return Err(CallError::Denied {
                tool: name.to_owned(),
                reason: reason.clone(),
                missing_scopes: missing_scopes.clone(),
            });
        }
        if !context.admitted
            && let Err(retry_after) = self.authorizer.admit(&context.identity, &entry.spec)
        {
            let decision = Decision::Deny {
                reason: DenyReason::RateLimited,
                missing_scopes: Vec::new(),
            };
            self.record_refusal(event(decision, Outcome::NotExecuted, None))
                .await;
            return Err(CallError::RateLimited {
                tool: name.to_owned(),
                retry_after,
            });
        }
        if self.options.fail_closed && !self.audit.is_available() {
            return Err(CallError::AuditUnavailable { performed: false });
        }
        if let Err(problems) = entry.validator.check(&arguments) {
            self.record_outcome(event(decision, Outcome::NotExecuted, None), false)
                .await?;
            return Ok(ToolOutput::error(format!(
                "The arguments do not match the input schema of `{name}`; nothing was sent to the backend.\n{problems}"
            )));
        }
        let output = entry.backend.call(name, &arguments, context).await;
        let outcome = if output.is_error {
            Outcome::BackendError
        } else {
            Outcome::Success
        };
        self.record_outcome(event(decision, outcome, output.backend_status), true)
            .await?;
        Ok(output)
    }

    /// Decide a `tools/call` before the MCP layer sees it, for transports
    /// that answer some refusals with their own status codes (HTTP: 403
    /// for missing scopes, 429 for rate limits). Those refusals are audited
    /// here and returned; every other outcome is `Ok`, and the call then
    /// goes through [`Gateway::call_tool`]. `Ok(true)` means the call is
    /// allowed and was counted against the rate limits: `call_tool` with
    /// [`CallContext::admitted`] set neither decides nor counts it again.
    /// `Ok(false)`: not decided here (unknown tool, or refused for a reason
    /// `call_tool` answers and audits itself).
    pub async fn admit_call(
        &self,
        identity: &Identity,
        source: Option<SocketAddr>,
        name: &str,
        arguments: &Map<String, Value>,
    ) -> Result<bool, CallError> {
        let catalog = self.catalog();
        let Some(entry) = catalog.get(name) else {
            return Ok(false);
        };
        let arrived = SystemTime::now();
        let decision = self.authorizer.decide(&AuthzRequest {
            identity,
            tool: &entry.spec,
            arguments: Some(arguments),
            source: source.map(|s| s.ip()),
            time: arrived,
        });
        let refusal = match &decision {
            Decision::Deny {
                reason: DenyReason::InsufficientScope,
                missing_scopes,
            } => CallError::Denied {
                tool: name.to_owned(),
                reason: DenyReason::InsufficientScope,
                missing_scopes: missing_scopes.clone(),
            },
            Decision::Deny { .. } => return Ok(false),
            Decision::Allow => match self.authorizer.admit(identity, &entry.spec) {
                Ok(()) => return Ok(true),
                Err(retry_after) => CallError::RateLimited {
                    tool: name.to_owned(),
                    retry_after,
                },
            },
        };
        let recorded = match &refusal {
            CallError::RateLimited { .. } => Decision::Deny {
                reason: DenyReason::RateLimited,
                missing_scopes: Vec::new(),
            },
            _ => decision,
        };
        let mut redacted = Value::Object(arguments.clone());
        self.options.redactor.redact_value(&mut redacted);
        self.record_refusal(AuditEvent {
            time: arrived,
            request_id: new_request_id(),
            subject: identity.subject.clone(),
            auth_method: identity.auth,
            credential_id: identity.credential_id.clone(),
            source: source.map(|s| s.to_string()),
            method: "tools/call".to_owned(),
            tool: Some(name.to_owned()),
            arguments: Some(redacted),
            decision: recorded,
            outcome: Outcome::NotExecuted,
            backend_status: None,
            latency: Duration::ZERO,
        })
        .await;
        Err(refusal)
    }

    /// Record a request refused by authentication.
    pub async fn audit_authentication_failure(
        &self,
        source: Option<SocketAddr>,
        error: &mcpgate_auth::AuthError,
    ) {
        let (reason, known) = match error {
            mcpgate_auth::AuthError::Missing => ("no credential".to_owned(), None),
            mcpgate_auth::AuthError::Invalid(_) => ("invalid credential".to_owned(), None),
            mcpgate_auth::AuthError::Unavailable(_) => {
                ("credentials could not be checked".to_owned(), None)
            }
            mcpgate_auth::AuthError::Rejected {
                credential_id,
                reason,
            } => (format!("credential {reason}"), Some(credential_id.clone())),
        };
        let event = AuditEvent {
            time: SystemTime::now(),
            request_id: new_request_id(),
            // A known credential (a revoked key) is named: who tried matters.
            subject: known.clone().unwrap_or_else(|| "anonymous".to_owned()),
            auth_method: mcpgate_core::AuthMethod::None,
            credential_id: known,
            source: source.map(|s| s.to_string()),
            method: "authenticate".to_owned(),
            tool: None,
            arguments: None,
            decision: Decision::Deny {
                reason: DenyReason::Unauthenticated(reason.to_owned()),
                missing_scopes: Vec::new(),
            },
            outcome: Outcome::NotExecuted,
            backend_status: None,
            latency: std::time::Duration::ZERO,
        };
        self.record_refusal(event).await;
    }

    /// Record an event that is not an MCP request (the embedded
    /// authorization server's grants, refusals and revocations; the admin
    /// console's actions). `false`
    /// when it could not be written and the gateway fails closed: the
    /// caller must then not act on it.
    pub async fn record_event(&self, event: AuditEvent) -> bool {
        let refusal = !event.decision.is_allowed();
        match self.audit.record(event).await {
            Ok(()) => true,
            Err(error) if refusal => {
                tracing::error!(%error, "a refusal could not be audited");
                true
            }
            Err(error) if self.options.fail_closed => {
                tracing::error!(%error, "not done: its audit record could not be written");
                false
            }
            Err(error) => {
                tracing::warn!(%error, "audit record lost (audit.fail_closed = false)");
                true
            }
        }
    }

    /// Record a refused call. The refusal stands whether or not the record
    /// could be written; a failure is logged.
    async fn record_refusal(&self, event: AuditEvent) {
        if let Err(error) = self.audit.record(event).await {
            tracing::error!(%error, "a refused call could not be audited");
        }
    }

    /// Record a call's outcome; when that fails and the gateway fails
    /// closed, the answer is withheld.
    async fn record_outcome(&self, event: AuditEvent, performed: bool) -> Result<(), CallError> {
        match self.audit.record(event).await {
            Ok(()) => Ok(()),
            Err(error) if self.options.fail_closed => {
                tracing::error!(%error, performed, "call not acknowledged: its audit record could not be written");
                Err(CallError::AuditUnavailable { performed })
            }
            Err(error) => {
                tracing::warn!(%error, "audit record lost (audit.fail_closed = false)");
                Ok(())
            }
        }
    }
}

fn encode_cursor(position: usize) -> String {
    format!("p{position}")
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    cursor.strip_prefix('p')?.parse().ok()
}
