//! Logs go to stderr only: stdout belongs to MCP in stdio mode.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

use crate::cli::LogFormat;

/// Crates that log request or response contents (tool arguments, headers,
/// SQL) at debug level. They are capped whatever `RUST_LOG` asks for, so
/// that no credential reaches a log line at any level.
const CAPPED: &[&str] = &[
    "rmcp=warn",
    "h2=info",
    "hyper=info",
    "hyper_util=info",
    "reqwest=info",
    "sqlx=warn",
];

/// Set up logging. `level` is a level or an `EnvFilter` directive;
/// `RUST_LOG` wins over it, except for the caps in [`CAPPED`].
pub fn init(level: &str, format: LogFormat) {
    let mut filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    for cap in CAPPED {
        if let Ok(directive) = cap.parse::<Directive>() {
            filter = filter.add_directive(directive);
        }
    }
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
