//! Benchmarks of mcpgate's request path, across its stages; nothing to
//! use here (the crate is not published).
//!
//! The per-call cost of the gateway is spread over several crates —
//! `mcpgate-auth` (authenticate), `mcpgate-authz` (authorize) and
//! `mcpgate-store` (the audit writer) — and no library crate depends on
//! all three; only the `mcpgate` binary wires them, and a binary's code
//! cannot be linked into a benchmark. So the benchmarks that cross stages
//! live in this crate, with the stage crates (and criterion) as
//! development dependencies only: no production crate gains a dependency,
//! and each stage's own benchmark (such as `mcpgate-authz`'s `decision`)
//! stays next to its code.
//!
//! Run: `cargo bench -p mcpgate-bench --bench hot_path`; what each figure
//! means is in `benches/hot_path/main.rs` and in `BENCHMARKS.md`.
