//! The authorize stage of mcpgate: may this identity call this tool, with
//! these arguments, now?
//!
//! An operator's `[authz]` settings ([`AuthzConfig`]) are compiled against
//! the catalog once, at start-up and on reload, into a [`Policy`]. Deciding
//! is then pure and in memory:
//!
//! 1. **Read-only mode** (on by default, per backend or globally): a tool
//!    that may write is neither listed nor callable. Only tools the gateway
//!    knows are read-only count as such.
//! 2. **Authentication method**: a tool may accept only some methods.
//! 3. **Scopes**: a tool requires the scopes of the first `[[authz.tools]]`
//!    rule that matches it, else those of its OpenAPI security
//!    requirements; a tool with neither is refused unless
//!    `unscoped_tools = "authenticated"`. The caller holds the scopes of its
//!    credential and of its roles (from the credential, its identity
//!    provider groups or its subject), expanded by `scope_implies`.
//! 4. **Cedar policies**: a `forbid` that matches refuses the call, with
//!    the caller, the tool and the arguments, time, method and address in
//!    view ([`SCHEMA`]).
//!
//! Rate limits ([`mcpgate_core::Authorizer::admit`]) are counted after a
//! call is allowed. [`Reloadable`] swaps policies atomically, and
//! [`Policy::explain`] tells every step of a decision.
//!
//! ```
//! use std::collections::BTreeMap;
//! use mcpgate_authz::{AuthzConfig, Policy, PolicyInputs};
//! use mcpgate_core::{AuthMethod, AuthzRequest, Authorizer, Identity};
//!
//! let tools = mcpgate_openapi::import_str(r#"{
//!   "openapi": "3.0.3", "info": {"title": "t", "version": "1"},
//!   "paths": {"/items": {
//!     "get": {"operationId": "list_items", "responses": {"200": {"description": "ok"}}},
//!     "post": {"operationId": "add_item", "responses": {"200": {"description": "ok"}}}}}
//! }"#, "shop").unwrap().tools.into_iter().map(|t| t.spec).collect::<Vec<_>>();
//! let config: AuthzConfig = toml::from_str(r#"
//!     read_only = false
//!     [[tools]]
//!     kind = "read"
//!     scopes = ["shop:read"]
//!     [[tools]]
//!     scopes = ["shop:write"]
//! "#).unwrap();
//! let policy = Policy::compile(PolicyInputs {
//!     config: &config,
//!     tools: &tools,
//!     backend_read_only: &BTreeMap::new(),
//!     base_dir: ".".as_ref(),
//! }).unwrap();
//!
//! let mut reader = Identity::new("key_1", AuthMethod::ApiKey);
//! reader.scopes.insert("shop:read".into());
//! assert!(policy.decide(&AuthzRequest::listing(&reader, &tools[0])).is_allowed());
//! assert!(!policy.decide(&AuthzRequest::listing(&reader, &tools[1])).is_allowed());
//! assert_eq!(policy.is_read_only("add_item"), Some(false));
//! assert_eq!(policy.is_read_only("no_such_tool"), None);
//! ```

mod cedar;
mod config;
mod eval;
mod explain;
mod policy;
mod rate;
mod reload;
mod scopes;

pub use cedar::{PolicyError, SCHEMA};
pub use config::{
    AuthzConfig, RateLimitConfig, RateLimitKey, RoleConfig, ToolKind, ToolRule, UnscopedTools,
};
pub use explain::Explanation;
pub use mcpgate_core::glob_matches;
pub use policy::{CompileError, Policy, PolicyInputs, ToolSummary};
pub use reload::Reloadable;
