//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// mcpgate: an MCP gateway that gives AI agents' tools real authentication,
/// authorization and an audit log.
///
/// It turns the operations of an OpenAPI spec into MCP tools and serves them
/// over stdio or Streamable HTTP, calling the REST API with the backend's own
/// credential — never the caller's.
#[derive(Debug, Parser)]
#[command(
    name = "mcpgate",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Log verbosity (overridden by RUST_LOG). Logs always go to stderr.
    #[arg(long, global = true, default_value = "info", value_name = "LEVEL")]
    pub log_level: String,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the configured backends as MCP tools (Streamable HTTP, or stdio).
    Serve(ServeArgs),
    /// Show the tools and security schemes an OpenAPI spec would give.
    Import(ImportArgs),
    /// Check a config file: parse it, load its specs, report warnings.
    Check(CheckArgs),
    /// Run the demo: an example REST API behind mcpgate, on this machine.
    Demo(DemoArgs),
}

/// `mcpgate serve`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mcpgate serve --config mcpgate.toml\n  \
    mcpgate serve --config mcpgate.toml --stdio      # for a desktop MCP client")]
pub struct ServeArgs {
    /// The config file.
    #[arg(long, short, default_value = "mcpgate.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// Serve one MCP session on stdin/stdout instead of HTTP.
    #[arg(long)]
    pub stdio: bool,
    /// Listen here instead of server.listen.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Allow serving without authentication on a non-loopback address.
    /// Anyone who can reach the address can then call every tool.
    #[arg(long)]
    pub insecure_no_auth: bool,
}

/// `mcpgate import`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mcpgate import openapi.yaml\n  \
    mcpgate import https://api.example.com/openapi.json --json > tools.json")]
pub struct ImportArgs {
    /// The OpenAPI 3.0/3.1 or Swagger 2.0 file (JSON or YAML), or an http(s) URL.
    #[arg(value_name = "SPEC")]
    pub spec: String,
    /// Print a JSON document `{tools, security_schemes, warnings}` instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `mcpgate check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config file.
    #[arg(long, short, default_value = "mcpgate.toml", value_name = "FILE")]
    pub config: PathBuf,
}

/// `mcpgate demo`.
#[derive(Debug, Args)]
#[command(
    after_help = "The demo starts the example Inventory API (examples/demo/openapi.yaml) on \
    127.0.0.1 and puts mcpgate in front of it. Connect any MCP client to the printed URL, or use \
    `mcpgate demo --stdio` as the command of a desktop MCP client."
)]
pub struct DemoArgs {
    /// Port for the gateway's MCP endpoint.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Port for the demo REST API.
    #[arg(long, default_value_t = 8081)]
    pub api_port: u16,
    /// Serve MCP on stdin/stdout instead of HTTP (the API still runs on --api-port).
    #[arg(long)]
    pub stdio: bool,
}
