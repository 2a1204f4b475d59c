use serde::Serialize;

/// The authorize stage's verdict on one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// The call may go ahead.
    Allow,
    /// The call is refused.
    Deny {
        /// Why, in words safe to show the caller (never a secret).
        reason: DenyReason,
        /// Scopes that would have allowed the call, for a step-up challenge.
        missing_scopes: Vec<String>,
    },
}

impl Decision {
    /// Whether the call may go ahead.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }
}

/// Why a call was denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum DenyReason {
    /// No rule grants the call (deny by default).
    NoMatchingGrant,
    /// The tool does not exist (or is not visible to the caller).
    UnknownTool,
    /// The request carried no valid credential; the string says which way.
    Unauthenticated(String),
    /// The tool does not accept the way the caller authenticated (e.g. a
    /// write tool that demands OAuth or mTLS, called with an API key).
    AuthMethodNotAccepted(String),
    /// The caller lacks scopes the tool requires.
    InsufficientScope,
    /// The tool may write and the gateway is in read-only mode.
    ReadOnlyMode,
    /// A policy forbids the call; the string names the policy.
    Policy(String),
    /// The caller exceeded a rate limit.
    RateLimited,
    /// The authorization server refused (a replayed code, a reused refresh
    /// token, a user the identity provider no longer vouches for, …); the
    /// string says what.
    Refused(String),
}

impl std::fmt::Display for DenyReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DenyReason::NoMatchingGrant => f.write_str("no rule grants this call"),
            DenyReason::UnknownTool => f.write_str("no such tool"),
            DenyReason::Unauthenticated(how) => write!(f, "not authenticated: {how}"),
            DenyReason::AuthMethodNotAccepted(method) => {
                write!(
                    f,
                    "this tool does not accept callers authenticated by {method}"
                )
            }
            DenyReason::InsufficientScope => f.write_str("the caller lacks a required scope"),
            DenyReason::ReadOnlyMode => {
                f.write_str("the gateway is in read-only mode and this tool may write")
            }
            DenyReason::Policy(name) => write!(f, "forbidden by policy {name}"),
            DenyReason::RateLimited => f.write_str("rate limit exceeded"),
            DenyReason::Refused(why) => f.write_str(why),
        }
    }
}
