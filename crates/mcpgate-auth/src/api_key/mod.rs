//! API keys: long-lived secrets that machine clients present to the gateway.

mod authenticator;
mod format;

pub use authenticator::ApiKeyAuthenticator;
pub use format::*;
