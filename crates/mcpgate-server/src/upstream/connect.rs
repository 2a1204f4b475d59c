//! Making one connection to an upstream MCP server.

use std::path::PathBuf;
use std::process::Stdio;

use http::{HeaderName, HeaderValue};
use rmcp::service::RunningService;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::UpstreamOptions;
use super::ordered::Ordered;
use super::relay::Relay;

/// Environment variables a child keeps from the gateway's own environment.
/// Everything else (the gateway's secrets among it) is withheld; the
/// config passes what the server needs explicitly.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "TZ"];

/// How an upstream MCP server is reached.
#[derive(Clone)]
pub enum UpstreamTransport {
    /// A child process speaking MCP on stdin/stdout.
    Stdio {
        /// The program.
        command: PathBuf,
        /// Its arguments.
        args: Vec<String>,
        /// Environment variables set for it (on top of a minimal inherited
        /// set: `PATH`, `HOME`, `USER`, `LANG`, `LC_ALL`, `TMPDIR`, `TZ`).
        env: Vec<(String, String)>,
        /// Its working directory.
        cwd: Option<PathBuf>,
    },
    /// A Streamable HTTP endpoint.
    Http {
        /// The MCP endpoint's URL.
        url: String,
        /// Headers sent with every request: the backend's own credential.
        headers: Vec<(HeaderName, HeaderValue)>,
    },
}

impl std::fmt::Debug for UpstreamTransport {
    // Values of `env` and `headers` are secrets: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamTransport::Stdio {
                command, args, env, ..
            } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", args)
                .field("env", &env.iter().map(|(k, _)| k).collect::<Vec<_>>())
                .finish_non_exhaustive(),
            UpstreamTransport::Http { url, headers } => f
                .debug_struct("Http")
                .field("url", url)
                .field(
                    "headers",
                    &headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
                )
                .finish(),
        }
    }
}

/// Connect and initialize, within the connect timeout.
pub(super) async fn connect(
    options: &UpstreamOptions,
    relay: Relay,
) -> Result<RunningService<RoleClient, Relay>, String> {
    let serving = async {
        match &options.transport {
            UpstreamTransport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                let mut child = tokio::process::Command::new(command);
                child.args(args).env_clear().kill_on_drop(true);
                for name in INHERITED_ENV {
                    if let Some(value) = std::env::var_os(name) {
                        child.env(name, value);
                    }
                }
                child.envs(env.iter().map(|(k, v)| (k, v)));
                if let Some(cwd) = cwd {
                    child.current_dir(cwd);
                }
                let (transport, stderr) = TokioChildProcess::builder(child)
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("cannot run `{}`: {e}", command.display()))?;
                if let Some(stderr) = stderr {
                    tokio::spawn(log_stderr(options.name.clone(), stderr));
                }
                let transport = Ordered::new(transport, relay.routes.tally.clone());
                relay
                    .serve(transport)
                    .await
                    .map_err(|e| format!("`{}` did not initialize: {e}", command.display()))
            }
            UpstreamTransport::Http { url, headers } => {
                let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                    .custom_headers(headers.iter().cloned().collect());
                let transport = Ordered::new(
                    StreamableHttpClientTransport::from_config(config),
                    relay.routes.tally.clone(),
                );
                relay
                    .serve(transport)
                    .await
                    .map_err(|e| format!("{url} did not initialize: {e}"))
            }
        }
    };
    match tokio::time::timeout(options.connect_timeout, serving).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no answer to initialize within {} s",
            options.connect_timeout.as_secs_f32()
        )),
    }
}

/// The child's stderr, line by line, into the gateway's log.
async fn log_stderr(backend: String, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "mcpgate::upstream", backend = %backend, "stderr: {line}");
    }
}
