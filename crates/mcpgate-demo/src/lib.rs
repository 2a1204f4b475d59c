//! A small, realistic REST API to put behind mcpgate.
//!
//! [`DemoApi`] serves "Inventory": items with a name, a stock quantity and
//! tags, kept in memory. It is described by [`OPENAPI_YAML`] (also served at
//! `GET /openapi.yaml`), whose operations carry OAuth scopes
//! (`inventory:read`, `inventory:write`, `inventory:admin`) for the gateway
//! to enforce, while the API itself only checks its *own* credential: the
//! `X-Demo-Key` header. That split is the point of the demo — the gateway
//! authenticates and authorizes the agent, then calls the backend with the
//! backend's key, never with the agent's token.
//!
//! Every request is recorded ([`DemoApi::recorded_requests`]) so end-to-end
//! tests can check exactly what reached the backend.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let api = mcpgate_demo::DemoApi::new("demo-secret");
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await?;
//! api.serve(listener).await
//! # }
//! ```

mod auth;
mod recorder;
mod routes;
mod store;

use std::fmt;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, patch};

pub use recorder::RecordedRequest;

use recorder::Recorder;
use store::Inventory;

/// The demo API's OpenAPI document.
pub const OPENAPI_YAML: &str = include_str!("../../../examples/demo/openapi.yaml");

/// The Inventory API: in-memory state, its credential and its request log.
///
/// Clones share the same state, so a test can keep one clone to inspect
/// [`recorded_requests`](DemoApi::recorded_requests) while another serves.
#[derive(Clone)]
pub struct DemoApi {
    api_key: Arc<str>,
    inventory: routes::SharedInventory,
    recorder: Recorder,
}

impl DemoApi {
    /// A demo API that requires `api_key` in the `X-Demo-Key` header on every
    /// route except `/health` and `/openapi.yaml`.
    ///
    /// It starts with three items: 1 "widget" (quantity 12, tags
    /// `[hardware]`), 2 "gadget" (quantity 0, tags `[electronics]`) and
    /// 3 "gizmo" (quantity 5, tags `[hardware, electronics]`). New items get
    /// ids from 4 upwards; ids are never reused.
    pub fn new(api_key: impl Into<String>) -> Self {
        DemoApi {
            api_key: Arc::from(api_key.into()),
            inventory: Arc::new(Mutex::new(Inventory::seeded())),
            recorder: Recorder::default(),
        }
    }

    /// The axum router: the operations of [`OPENAPI_YAML`] plus a public
    /// `GET /openapi.yaml` serving that document as `application/yaml`.
    ///
    /// Every error, including an unknown path, is a JSON `{"error": "..."}`.
    pub fn router(&self) -> Router {
        let protected = Router::new()
            .route("/items", get(routes::list_items).post(routes::create_item))
            .route(
                "/items/{item_id}",
                get(routes::get_item).delete(routes::delete_item),
            )
            .route("/items/{item_id}/stock", patch(routes::adjust_stock))
            .route_layer(from_fn_with_state(
                Arc::clone(&self.api_key),
                auth::require_key,
            ));
        let public = Router::new()
            .route("/health", get(routes::health))
            .route("/openapi.yaml", get(routes::openapi));
        protected
            .merge(public)
            .fallback(routes::not_found)
            .with_state(Arc::clone(&self.inventory))
            .layer(from_fn_with_state(self.recorder.clone(), recorder::record))
    }

    /// Serve on `listener` until the future is dropped.
    ///
    /// Returns only if accepting connections fails.
    pub async fn serve(self, listener: tokio::net::TcpListener) -> std::io::Result<()> {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "demo Inventory API listening");
        }
        axum::serve(listener, self.router()).await
    }

    /// Every request received so far (most recent last, at most the last
    /// 1,000), for tests that check what reached the backend.
    ///
    /// Requests are recorded before the key is checked, so rejected ones
    /// appear too.
    pub fn recorded_requests(&self) -> Vec<RecordedRequest> {
        self.recorder.snapshot()
    }
}

impl fmt::Debug for DemoApi {
    /// Never prints the API key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoApi")
            .field("api_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}
