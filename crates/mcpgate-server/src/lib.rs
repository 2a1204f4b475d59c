//! mcpgate's request path, one stage per module:
//!
//! ```text
//! transport ──► authenticate ──► protocol ──► authorize ──► backend ──► audit
//! (http, stdio)  (mcpgate-auth)   (mcp)        (gateway)     (backend)   (audit)
//! ```
//!
//! - [`http`] and [`stdio`] are the transports. HTTP checks `Host`/`Origin`
//!   and runs the [`mcpgate_auth::Authenticator`] before any MCP parsing, so
//!   the protocol layer only ever sees authenticated requests.
//! - [`mcp`] speaks MCP through `rmcp` (both protocol eras), and hands every
//!   request to the [`Gateway`] with the caller's [`mcpgate_core::Identity`].
//! - The [`Gateway`] authorizes, validates arguments, calls the [`Backend`]
//!   and hands one [`mcpgate_core::AuditEvent`] per call to the [`AuditSink`].
//!
//! Nothing in this crate reads configuration files: the binary builds the
//! pieces and wires them together.

mod audit;
mod backend;
mod catalog;
mod gateway;
pub mod http;
pub mod mcp;
pub mod stdio;
pub mod tls;
pub mod upstream;
mod validate;

pub use audit::{AuditSink, AuditUnavailable, LogAuditSink, StoreAuditSink};
pub use backend::{Backend, EchoBackend, OpenApiBackend};
pub use catalog::{Catalog, CatalogError};
pub use gateway::{CallContext, CallError, Gateway, GatewayOptions, ToolPage};
