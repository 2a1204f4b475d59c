//! The shared vocabulary of mcpgate.
//!
//! Every stage of the request path (transport → authenticate → protocol →
//! authorize → backend → audit) speaks in these types, so that each stage can
//! be written, tested and replaced on its own:
//!
//! - [`Identity`]: who is calling, produced by authentication.
//! - [`ToolSpec`]: what may be called, produced by an importer (OpenAPI) or an
//!   upstream MCP server.
//! - [`Decision`]: whether the call may go ahead, produced by an
//!   [`Authorizer`].
//! - [`ToolOutput`]: what the backend answered.
//! - [`AuditEvent`]: what happened, handed to the audit stage.
//! - [`Redactor`]: removes secrets from arguments and text before they are
//!   audited or logged.
//!
//! This crate does no I/O and has no async code on purpose: it must stay cheap
//! to depend on for every other crate, including third-party ones.

mod audit;
mod authorize;
mod certificate;
mod decision;
mod glob;
mod identity;
mod output;
mod redact;
mod time;
mod tool;

pub use audit::{AuditEvent, Outcome};
pub use authorize::{Authorizer, AuthzRequest, LocalUserOnly};
pub use certificate::ClientCertificate;
pub use decision::{Decision, DenyReason};
pub use glob::{any_matches, glob_matches};
pub use identity::{AuthMethod, Identity};
pub use output::ToolOutput;
pub use redact::{REDACTED, Redactor};
pub use time::{civil_from_days, format_rfc3339, parse_duration, parse_rfc3339};
pub use tool::{SecurityRequirement, ToolAnnotations, ToolSpec, is_valid_tool_name};
