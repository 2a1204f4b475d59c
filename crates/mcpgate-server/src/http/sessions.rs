//! Binding each MCP session to the identity that opened it.
//!
//! A session id is not a credential: every request is authenticated on its
//! own. But a caller who learns another caller's session id must not be
//! able to use that session (its server-to-client stream, its state), so a
//! request naming a session opened by someone else is answered as if the
//! session did not exist.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use mcpgate_core::Identity;
use serde_json::Value;

use super::json_rpc_error;

/// Most sessions remembered; beyond this the oldest half is forgotten (a
/// forgotten session's requests are then refused, never handed to another).
const CAPACITY: usize = 100_000;

const SESSION_HEADER: &str = "mcp-session-id";

/// Who opened a session: subject, credential id, and order of creation.
type Owner = (String, Option<String>, u64);

/// Session id → its owner.
#[derive(Clone, Default)]
pub(crate) struct SessionOwners {
    owners: Arc<Mutex<HashMap<String, Owner>>>,
    /// Numbers sessions in the order they were opened.
    opened: Arc<std::sync::atomic::AtomicU64>,
}

fn owner_of(identity: Option<&Identity>) -> (String, Option<String>) {
    match identity {
        Some(identity) => (identity.subject.clone(), identity.credential_id.clone()),
        None => (String::new(), None),
    }
}

pub(crate) async fn bind_sessions(
    State(sessions): State<SessionOwners>,
    request: Request,
    next: Next,
) -> Response {
    let caller = owner_of(request.extensions().get::<Identity>());
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let deleting = request.method() == Method::DELETE;
    if let Some(session) = &session {
        let owner = sessions
            .owners
            .lock()
            .ok()
            .and_then(|owners| owners.get(session).cloned());
        match owner {
            Some((subject, credential, _))
                if (subject.as_str(), credential.as_ref())
                    == (caller.0.as_str(), caller.1.as_ref()) => {}
            // Someone else's session, or one never opened through this
            // gateway: the same answer as for an unknown session.
            _ => {
                return json_rpc_error(
                    StatusCode::NOT_FOUND,
                    -32001,
                    "session not found",
                    Value::Null,
                );
            }
        }
    }
    let response = next.run(request).await;
    let opened = response.headers().contains_key(SESSION_HEADER);
    if session.is_none() && !opened {
        // Stateless (2026-07-28) requests: no session to remember, so no
        // lock shared by every request.
        return response;
    }
    let Ok(mut owners) = sessions.owners.lock() else {
        return response;
    };
    match (
        &session,
        response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok()),
    ) {
        (None, Some(created)) => {
            if owners.len() >= CAPACITY {
                forget_oldest_half(&mut owners);
            }
            let order = sessions
                .opened
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            owners.insert(created.to_owned(), (caller.0, caller.1, order));
        }
        (Some(session), _) if deleting && response.status().is_success() => {
            owners.remove(session);
        }
        _ => {}
    }
    response
}

fn forget_oldest_half(owners: &mut HashMap<String, Owner>) {
    let mut orders: Vec<u64> = owners.values().map(|(_, _, n)| *n).collect();
    orders.sort_unstable();
    let cut = orders[orders.len() / 2];
    owners.retain(|_, (_, _, n)| *n > cut);
}
