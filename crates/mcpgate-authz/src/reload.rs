//! Swapping a compiled policy while requests are being decided.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use mcpgate_core::{Authorizer, AuthzRequest, Decision, Identity, ToolSpec};

use crate::Policy;

/// A [`Policy`] that can be replaced at run time.
///
/// Each decision reads one policy, whole: a request decided during a swap
/// sees the old or the new policy, never a mixture. A new policy is built
/// (and so checked) before it is swapped in, so a broken one never replaces
/// a working one.
pub struct Reloadable {
    current: ArcSwap<Policy>,
}

impl Reloadable {
    /// Start with `policy`.
    pub fn new(policy: Policy) -> Self {
        Reloadable {
            current: ArcSwap::from_pointee(policy),
        }
    }

    /// Put `policy` in force for every decision from now on.
    pub fn replace(&self, policy: Policy) {
        self.current.store(Arc::new(policy));
    }

    /// The policy in force.
    pub fn current(&self) -> Arc<Policy> {
        self.current.load_full()
    }
}

impl Authorizer for Reloadable {
    fn decide(&self, request: &AuthzRequest<'_>) -> Decision {
        self.current.load().decide(request)
    }

    fn admit(&self, identity: &Identity, tool: &ToolSpec) -> Result<(), Duration> {
        self.current.load().admit(identity, tool)
    }
}
