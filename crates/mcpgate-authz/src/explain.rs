//! Saying why: the steps of a decision, for `mcpgate authz explain`.
//!
//! The decision procedure is written once, generic over a [`Trace`]. The
//! hot path passes [`NoTrace`], whose notes compile to nothing, so
//! explaining costs nothing when nobody asks.

use mcpgate_core::Decision;

/// Receives the steps of a decision.
pub(crate) trait Trace {
    /// Whether anyone listens (a constant, so checks compile away).
    const ENABLED: bool;

    /// Record one step; `step` runs only when someone listens.
    fn note(&mut self, step: impl FnOnce() -> String);
}

/// Listens to nothing.
pub(crate) struct NoTrace;

impl Trace for NoTrace {
    const ENABLED: bool = false;

    #[inline(always)]
    fn note(&mut self, _step: impl FnOnce() -> String) {}
}

/// Keeps every step.
#[derive(Default)]
pub(crate) struct Steps(pub(crate) Vec<String>);

impl Trace for Steps {
    const ENABLED: bool = true;

    fn note(&mut self, step: impl FnOnce() -> String) {
        self.0.push(step());
    }
}

/// A decision and the steps that led to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    /// What was decided.
    pub decision: Decision,
    /// Each rule consulted, in order, in words.
    pub steps: Vec<String>,
}
