//! mcpgate as a user deploys it: a config file written here, an API key
//! minted with `mcpgate keys create`, an audit signing key from
//! `mcpgate audit keygen`, and `mcpgate serve` in its own process.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process::{self, Running};

/// The scope every bench tool requires (an `[[authz.tools]]` rule).
pub const SCOPE: &str = "bench:call";

/// How callers authenticate.
pub enum Auth {
    /// `[auth.api_keys]`; the benchmark presents a key minted for it.
    ApiKey,
    /// `[[auth.jwt]]` trusting this issuer (its JWKS at `/jwks`).
    Jwt {
        /// The issuer URL.
        issuer: String,
    },
}

/// Where the audit log (and the key store) lives.
pub enum Store {
    /// `sqlite:gateway.db` next to the config.
    Sqlite,
    /// A PostgreSQL URL (a schema of its own).
    Postgres(String),
}

/// What the gateway serves.
pub enum Backend {
    /// The built-in echo tool (`kind = "echo"`): no backend call at all.
    Echo,
    /// The demo Inventory API at this address, with this key.
    Demo {
        /// `127.0.0.1:PORT`.
        addr: String,
        /// Its `X-Demo-Key`.
        key: String,
    },
}

/// One deployment.
pub struct Deployment {
    /// Authentication.
    pub auth: Auth,
    /// Storage.
    pub store: Store,
    /// Backend.
    pub backend: Backend,
}

/// A running gateway and what a caller needs.
pub struct Gateway {
    /// The process.
    pub process: Running,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `http://127.0.0.1:PORT/mcp`, also the JWT audience.
    pub url: String,
    /// A minted API key, when API keys are configured.
    pub api_key: Option<String>,
    /// Start-up time, until `/healthz` answered.
    pub startup: Duration,
}

/// Write the config for `deployment` in `dir`, mint the keys and start
/// `mcpgate serve`.
pub fn start(dir: &Path, deployment: &Deployment) -> anyhow::Result<Gateway> {
    let mcpgate = process::sibling("mcpgate")?;
    let port = free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let url = format!("http://{addr}/mcp");
    let config = dir.join("mcpgate.toml");
    std::fs::write(&config, config_text(&addr, &url, deployment))?;
    std::fs::write(
        dir.join("bench.cedar"),
        "// Reads the arguments, as many real policies do.\n\
         forbid(principal, action, resource) when {\n  \
         context.arguments.hasTag(\"message\") && context.arguments.getTag(\"message\") == \"drop tables\"\n};\n",
    )?;
    if let Backend::Demo { .. } = deployment.backend {
        std::fs::write(dir.join("openapi.yaml"), mcpgate_demo::OPENAPI_YAML)?;
    }
    let pepper = "bench-pepper-0123456789abcdef0123456789abcdef";
    let audit_key = keygen(&mcpgate)?;
    let env = |command: &mut Command| {
        command
            .env("MCPGATE_KEY_PEPPER", pepper)
            .env("MCPGATE_AUDIT_KEY", &audit_key)
            .env(
                "DEMO_API_KEY",
                match &deployment.backend {
                    Backend::Demo { key, .. } => key.as_str(),
                    Backend::Echo => "",
                },
            );
    };
    let api_key = match deployment.auth {
        Auth::ApiKey => {
            let mut create = Command::new(&mcpgate);
            create
                .args(["keys", "create", "--name", "load", "--scopes", SCOPE])
                .args(["--expires", "1d", "--config"])
                .arg(&config);
            env(&mut create);
            let (stdout, _, _) = process::measure(create).context("mcpgate keys create")?;
            Some(
                stdout
                    .lines()
                    .last()
                    .context("keys create printed nothing")?
                    .to_owned(),
            )
        }
        Auth::Jwt { .. } => None,
    };
    let mut serve = Command::new(&mcpgate);
    serve.arg("serve").arg("--config").arg(&config);
    env(&mut serve);
    let (process, startup) = Running::until_healthy(
        "mcpgate serve",
        serve,
        &dir.join("mcpgate.log"),
        &format!("http://{addr}/healthz"),
    )?;
    Ok(Gateway {
        process,
        addr,
        url,
        api_key,
        startup,
    })
}

fn config_text(addr: &str, url: &str, deployment: &Deployment) -> String {
    let mut text = format!("[server]\nlisten = \"{addr}\"\npath = \"/mcp\"\n\n");
    match &deployment.auth {
        Auth::ApiKey => text.push_str(
            "[auth.api_keys]\nenvironment = \"bench\"\npepper = \"env:MCPGATE_KEY_PEPPER\"\n\n",
        ),
        Auth::Jwt { issuer } => {
            let _ = write!(
                text,
                "[[auth.jwt]]\nissuer = \"{issuer}\"\njwks_uri = \"{issuer}/jwks\"\n\
                 algorithms = [\"EdDSA\"]\naudience = \"{url}\"\n\n"
            );
        }
    }
    match &deployment.store {
        Store::Sqlite => text.push_str("[store]\nurl = \"sqlite:gateway.db\"\n\n"),
        Store::Postgres(url) => {
            let _ = write!(text, "[store]\nurl = \"{url}\"\n\n");
        }
    }
    let _ = write!(
        text,
        "[audit]\nsigning_key = \"env:MCPGATE_AUDIT_KEY\"\n\n\
         [authz]\npolicies = [\"bench.cedar\"]\n\n\
         [[authz.tools]]\ntools = [\"*\"]\nscopes = [\"{SCOPE}\"]\n\n\
         [[authz.rate_limits]]\nper = \"identity\"\nrequests = 1000000000\nwindow = \"1m\"\n\n"
    );
    match &deployment.backend {
        Backend::Echo => text.push_str("[backends.bench]\nkind = \"echo\"\n"),
        Backend::Demo { addr, .. } => {
            let _ = write!(
                text,
                "[backends.inventory]\nspec = \"openapi.yaml\"\nbase_url = \"http://{addr}\"\n\
                 credential = {{ kind = \"header\", name = \"X-Demo-Key\", value = \"env:DEMO_API_KEY\" }}\n"
            );
        }
    }
    text
}

/// A fresh audit signing key (`mcpgate audit keygen`: the line after the
/// "signing key" heading).
fn keygen(mcpgate: &PathBuf) -> anyhow::Result<String> {
    let mut command = Command::new(mcpgate);
    command.args(["audit", "keygen"]);
    let (stdout, _, _) = process::measure(command).context("mcpgate audit keygen")?;
    let mut lines = stdout.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("signing key") {
            return lines
                .next()
                .map(str::to_owned)
                .context("no key after the heading");
        }
    }
    bail!("unexpected output of mcpgate audit keygen: {stdout}")
}

/// A port free right now on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
