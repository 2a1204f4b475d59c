//! Logs go to stderr only: stdout belongs to MCP in stdio mode.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Set up logging. `level` is a level or an `EnvFilter` directive;
/// `RUST_LOG` wins over it. The MCP SDK's own chatter is kept at `error`
/// unless asked for by name.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(format!("{level},rmcp=error")))
        .unwrap_or_else(|_| EnvFilter::new("info,rmcp=error"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
