//! The authenticate and authorize stages of mcpgate's request path.
//!
//! - [`Authenticator`]: turns what a request presents (headers, peer address,
//!   client certificate) into an [`Identity`], or refuses it with an
//!   [`AuthError`] that carries the challenge to send back.
//! - [`Authorizer`]: decides, purely and in memory, whether an identity may
//!   see and call a tool.
//!
//! Both are traits so that strategies can be combined and tested alone. This
//! first version ships the strategies for a gateway without authentication
//! (a local user on stdio or loopback): [`LocalUser`] and [`LocalUserOnly`].
//! They are deliberately strict: the local user is the only identity they
//! know, so anything else is denied.

pub mod api_key;
mod authenticate;
mod authorize;
mod credentials;
pub mod introspection;
pub mod jwt;
mod strategies;

pub use api_key::ApiKeyAuthenticator;
pub use authenticate::{AuthError, Authenticator, LocalUser, RequestFacts};
pub use authorize::{Authorizer, DeclaredScopes, LocalUserOnly};
pub use mcpgate_core::{Decision, DenyReason, Identity};
pub use strategies::{MutualTls, Strategies};
