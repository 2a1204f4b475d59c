//! The authenticate stage of mcpgate's request path.
//!
//! [`Authenticator`] turns what a request presents (headers, peer address,
//! client certificate) into an [`Identity`], or refuses it with an
//! [`AuthError`] that carries the challenge to send back. Strategies (API
//! keys, JWT, introspection, mutual TLS, the local user of a gateway without
//! authentication) are combined by [`Strategies`]. What an identity may do
//! is decided later, by the `mcpgate-authz` crate.

pub mod api_key;
mod authenticate;
mod credentials;
pub mod introspection;
pub mod jwt;
mod strategies;

pub use api_key::ApiKeyAuthenticator;
pub use authenticate::{AuthError, Authenticator, BearerVerifier, LocalUser, RequestFacts};
pub use mcpgate_core::{Decision, DenyReason, Identity};
pub use strategies::{MutualTls, Strategies};
