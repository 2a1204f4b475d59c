//! API keys: long-lived secrets that machine clients present to the gateway.

mod authenticator;
mod format;
mod mint;

pub use authenticator::ApiKeyAuthenticator;
pub use format::*;
pub use mint::{KeyTemplate, MintError, RotateError, Rotated, mint, rotate};
