//! OpenAPI operations as MCP tools.
//!
//! [`import_str`] / [`import_file`] read an OpenAPI 3.0, 3.1 or Swagger 2.0
//! document (JSON or YAML) and turn every operation into a
//! [`mcpgate_core::ToolSpec`] with a self-contained JSON Schema for its
//! arguments, behaviour annotations and the operation's effective security
//! requirements, plus an [`HttpOperation`] that says how a call becomes an
//! HTTP request. The spec's security schemes are detected and explained.
//!
//! [`HttpExecutor`] performs such calls against the REST API with the
//! backend's own credential — never the MCP caller's.
//!
//! The importer works on the document as JSON rather than through a typed
//! model of each OpenAPI generation: one code path reads all three, and real
//! specs that bend the rules slightly still import.

mod document;
mod error;
mod executor;
mod import;
mod naming;
mod operation;
mod refs;
mod schema;
mod security;
mod warning;

pub use document::{SpecVersion, parse};
pub use error::ImportError;
pub use executor::{BackendCredential, ExecutorConfig, HttpExecutor};
pub use import::{Import, ImportedTool, import_file, import_str, import_value};
pub use operation::{BodyBinding, BodyEncoding, HttpOperation, ParamLocation, ParameterBinding};
pub use security::{KeyLocation, NamedScheme, OAuthFlow, SecurityScheme};
pub use warning::{Warning, WarningKind};
