//! The `mcpgate` binary: parses the command line and wires the library
//! crates together. All behaviour lives in the crates.

mod admin_setup;
mod assemble;
mod audit_setup;
mod auth_setup;
mod cli;
mod commands;
mod config;
mod logging;
mod oauth_setup;
mod tls_setup;

/// `println!` for command output: a closed stdout (`mcpgate audit export |
/// head`) ends the command quietly instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use outln;

use std::process::ExitCode;

/// mimalloc instead of glibc's allocator: a request is allocated on one
/// thread and often freed on another (the audit writer frees what handlers
/// built), and glibc then serialises both threads on its arena locks —
/// under load a quarter of the gateway's CPU went to `malloc`/`free` and
/// the futex calls around them, and mimalloc carried 60 % more calls per
/// second (BENCHMARKS.md, "Load"). Built with `no_thp`: with transparent
/// huge pages an idle gateway held 40 MiB instead of 25.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(&cli.log_level, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(code) => code,
        Err(error) if is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the command failed only because its reader went away.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
