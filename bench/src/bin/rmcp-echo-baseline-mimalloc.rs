//! The ceiling with mcpgate's allocator: `rmcp-echo-baseline` built with
//! mimalloc, as `mcpgate` is (crates/mcpgate/src/main.rs), so that the
//! benchmark can show how much of mcpgate's ratio to the ceiling is the
//! allocator. Same arguments and output as `rmcp-echo-baseline`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "rmcp-echo-baseline.rs"]
mod baseline;

fn main() -> anyhow::Result<()> {
    baseline::main()
}
