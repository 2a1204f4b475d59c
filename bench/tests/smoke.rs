//! `bench/run` is not part of the test run (it needs release builds and
//! minutes of load), so this runs the same program briefly on the debug
//! builds: every part must start its servers, get only good answers and
//! print its table. The numbers themselves mean nothing here.

use std::process::Command;

#[test]
fn every_part_of_the_load_benchmark_runs() {
    let output = Command::new(env!("CARGO_BIN_EXE_mcpgate-load"))
        .args("--duration 0.5 --warm-up 0.2 --connections 4".split(' '))
        .args("--demo-connections 2 --operations 400 --no-postgres".split(' '))
        .output()
        .expect("mcpgate-load runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "mcpgate-load failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for row in [
        "| rmcp + axum echo (ceiling) |",
        "| rmcp + axum echo, with mimalloc |",
        "| mcpgate, API key, SQLite |",
        "| mcpgate, JWT (EdDSA), SQLite |",
        "| 2 | through mcpgate (tools/call getItem) |",
        "| 2 at 1000/s | through mcpgate (tools/call getItem) |",
        "idle after start",
        "full `tools/list` (2 pages, 400 tools)",
    ] {
        assert!(stdout.contains(row), "no `{row}` in:\n{stdout}");
    }
}
