//! `mcpgate-load`: the load benchmark (see BENCHMARKS.md, "Load").
//!
//! In one run, on one machine, with the same load generator:
//!
//! 1. **The ceiling**: `rmcp-echo-baseline`, a bare rmcp + axum server whose
//!    one tool echoes its arguments behind a trivial bearer check (and the
//!    same server built with mimalloc, mcpgate's allocator); then
//!    mcpgate serving its built-in echo tool with an API key, with a JWT,
//!    and with an API key on PostgreSQL — authorization policy, rate limit
//!    and durable, signed audit log in every case. Reported as calls per
//!    second and as a ratio to each ceiling.
//! 2. **Added latency**: the demo Inventory API called directly, then
//!    through mcpgate (`tools/call getItem`), with one connection and with
//!    `--demo-connections` (16) in a closed loop, then with those 16 in an
//!    open loop at `--demo-rate` calls/s (below saturation); reported as the
//!    difference of p50 and p99.
//! 3. **Memory**: an idle gateway's resident memory.
//! 4. **A large spec**: `mcpgate import` of a generated 20,000-operation
//!    spec (time, peak memory), then a full paginated `tools/list`.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use serde_json::{Value, json};

mod gateway;
mod import;
mod issuer;
mod loadgen;
mod process;

use gateway::{Auth, Backend, Deployment, Store};
use loadgen::{Load, Report, Target};
use process::Running;

/// The protocol era of every request: stateless, so each request stands
/// alone and both servers see exactly the same bytes.
pub const PROTOCOL: &str = "2026-07-28";

const USAGE: &str =
    "usage: mcpgate-load [--connections N] [--demo-connections N] [--demo-rate CALLS_PER_S] [--duration SECS] \
[--warm-up SECS] [--operations N] [--only ceiling,latency,import] [--no-postgres]
       mcpgate-load --target 127.0.0.1:PORT --bearer TOKEN [--connections N] [--duration SECS] [--rate CALLS_PER_S]
         (only load a running server's `echo` tool at /mcp, e.g. to profile it; with --rate,
          an open loop at that many calls/s, e.g. to compare CPU per call)

Run it through bench/run, which builds everything in release mode first.
PostgreSQL: MCPGATE_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).";

struct Options {
    connections: usize,
    demo_connections: usize,
    demo_rate: f64,
    duration: Duration,
    warm_up: Duration,
    operations: usize,
    parts: Vec<String>,
    postgres: bool,
    /// `--target ADDR --bearer TOKEN`: only load an already running server.
    target: Option<(String, String)>,
    /// `--rate N` with `--target`: an open loop at N calls/s (for measuring
    /// CPU per call at a fixed load) instead of a closed one.
    target_rate: Option<f64>,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options {
        connections: 64,
        demo_connections: 16,
        demo_rate: 1000.0,
        duration: Duration::from_secs(10),
        warm_up: Duration::from_secs(2),
        operations: 20_000,
        parts: vec!["ceiling".into(), "latency".into(), "import".into()],
        postgres: true,
        target: None,
        target_rate: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--connections" => options.connections = value()?.parse()?,
            "--demo-connections" => options.demo_connections = value()?.parse()?,
            "--demo-rate" => options.demo_rate = value()?.parse()?,
            "--duration" => options.duration = Duration::from_secs_f64(value()?.parse()?),
            "--warm-up" => options.warm_up = Duration::from_secs_f64(value()?.parse()?),
            "--operations" => options.operations = value()?.parse()?,
            "--only" => options.parts = value()?.split(',').map(str::to_owned).collect(),
            "--no-postgres" => options.postgres = false,
            "--rate" => options.target_rate = Some(value()?.parse()?),
            "--target" => {
                let addr = value()?;
                let bearer = args.next().filter(|a| a == "--bearer").and(args.next());
                let bearer =
                    bearer.with_context(|| format!("--target needs --bearer TOKEN\n{USAGE}"))?;
                options.target = Some((addr, bearer));
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if options.target_rate.is_some() && options.target.is_none() {
        bail!("--rate goes with --target (the latency part's rate is --demo-rate)\n{USAGE}");
    }
    Ok(options)
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    // The load generator: two workers, like the servers it measures.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "mcpgate-load: {} cores, warm-up {:?}, {:?} per run",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        options.warm_up,
        options.duration
    );
    if let Some((addr, bearer)) = &options.target {
        let target = call_target(
            addr,
            bearer,
            "echo",
            &json!({"message": "hello", "count": 3, "tags": ["a", "b"]}),
        )?;
        let load = Load {
            connections: options.connections,
            warm_up: options.warm_up,
            duration: options.duration,
            rate: options.target_rate,
        };
        let report = runtime.block_on(measured(addr, &target, load))?;
        println!(
            "{addr}: {:.0} calls/s, p50 {:.2} ms, p99 {:.2} ms",
            report.throughput(),
            report.percentile_ms(50.0),
            report.percentile_ms(99.0)
        );
        return Ok(());
    }
    if options.parts.iter().any(|p| p == "ceiling") {
        runtime.block_on(ceiling(&options))?;
    }
    if options.parts.iter().any(|p| p == "latency") {
        runtime.block_on(latency(&options))?;
    }
    if options.parts.iter().any(|p| p == "import") {
        large_spec(&options)?;
    }
    Ok(())
}

/// Part 1: calls per second of mcpgate against the bare rmcp server.
async fn ceiling(options: &Options) -> anyhow::Result<()> {
    let load = Load {
        connections: options.connections,
        warm_up: options.warm_up,
        duration: options.duration,
        rate: None,
    };
    let arguments = json!({"message": "hello", "count": 3, "tags": ["a", "b"]});
    let mut rows: Vec<(String, Report)> = Vec::new();

    // The ceiling as the issue defines it (a bare server, the default
    // allocator), then the same server with mcpgate's allocator.
    let dir = tempfile::tempdir()?;
    let token = "baseline-token-0123456789";
    for (binary, name) in [
        ("rmcp-echo-baseline", "rmcp + axum echo (ceiling)"),
        (
            "rmcp-echo-baseline-mimalloc",
            "rmcp + axum echo, with mimalloc",
        ),
    ] {
        let port = gateway::free_port()?;
        let mut command = Command::new(process::sibling(binary)?);
        command.arg(port.to_string()).arg(token);
        let mut baseline =
            Running::until_listening(binary, command, &dir.path().join(format!("{binary}.log")))?;
        let target = call_target(&format!("127.0.0.1:{port}"), token, "echo", &arguments)?;
        let report = measured(name, &target, load).await?;
        baseline.check_alive()?;
        rows.push((name.into(), report));
    }

    let issuer = issuer::Issuer::start().await?;
    let postgres = if options.postgres {
        match PostgresSchema::create() {
            Ok(schema) => Some(schema),
            Err(error) => {
                println!("  (PostgreSQL skipped: {error:#})");
                None
            }
        }
    } else {
        None
    };
    let mut deployments = vec![
        ("mcpgate, API key, SQLite", Auth::ApiKey, Store::Sqlite),
        (
            "mcpgate, JWT (EdDSA), SQLite",
            Auth::Jwt {
                issuer: issuer.url.clone(),
            },
            Store::Sqlite,
        ),
    ];
    if let Some(schema) = &postgres {
        deployments.push((
            "mcpgate, API key, PostgreSQL",
            Auth::ApiKey,
            Store::Postgres(schema.url.clone()),
        ));
    }
    for (name, auth, store) in deployments {
        let dir = tempfile::tempdir()?;
        let deployment = Deployment {
            auth,
            store,
            backend: Backend::Echo,
        };
        let mut gateway = gateway::start(dir.path(), &deployment)?;
        let credential = match &gateway.api_key {
            Some(key) => key.clone(),
            None => issuer.token(&gateway.url, gateway::SCOPE)?,
        };
        let target = call_target(&gateway.addr, &credential, "echo", &arguments)?;
        let report = measured(name, &target, load).await?;
        gateway.process.check_alive()?;
        rows.push((name.into(), report));
    }
    drop(postgres);

    let ceiling = rows[0].1.throughput();
    let ceiling_mimalloc = rows[1].1.throughput();
    println!(
        "\nCeiling: tools/call of an echo tool, {} connections\n",
        options.connections
    );
    println!("| server | calls/s | p50 ms | p99 ms | vs ceiling | vs ceiling with mimalloc |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, report) in &rows {
        println!(
            "| {name} | {:.0} | {:.2} | {:.2} | {:.0} % | {:.0} % |",
            report.throughput(),
            report.percentile_ms(50.0),
            report.percentile_ms(99.0),
            100.0 * report.throughput() / ceiling,
            100.0 * report.throughput() / ceiling_mimalloc
        );
    }
    println!();
    Ok(())
}

/// Part 2 and 3: latency added in front of the demo API (with one
/// connection, then `--demo-connections`), and idle memory.
async fn latency(options: &Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let key = "demo-key-0123456789abcdef";
    let port = gateway::free_port()?;
    let mut command = Command::new(process::sibling("demo-api")?);
    command.arg(port.to_string()).arg(key);
    let mut api = Running::until_listening("demo-api", command, &dir.path().join("api.log"))?;
    let api_addr = format!("127.0.0.1:{port}");
    let direct = Target {
        addr: api_addr.parse()?,
        method: http::Method::GET,
        path: "/items/1".into(),
        headers: vec![("x-demo-key".into(), key.into())],
        body: Bytes::new(),
        expect: "\"name\"".into(),
    };

    let gateway_dir = tempfile::tempdir()?;
    let mut gateway = gateway::start(
        gateway_dir.path(),
        &Deployment {
            auth: Auth::ApiKey,
            store: Store::Sqlite,
            backend: Backend::Demo {
                addr: api_addr.clone(),
                key: key.into(),
            },
        },
    )?;
    // Idle: started, nothing called yet.
    let (idle_rss, _) = gateway.process.memory_mib()?;
    let through = call_target(
        &gateway.addr,
        gateway.api_key.as_deref().context("an API key")?,
        "getItem",
        &json!({"itemId": 1}),
    )?;

    println!("\nAdded latency: the demo API's getItem, directly and through mcpgate\n");
    println!("| connections | path | calls/s | p50 ms | p99 ms |");
    println!("|---:|---|---:|---:|---:|");
    // Closed loop with 1 and 16 connections (16 saturate these 2 cores, so
    // that row is mostly queueing), then the same 16 connections below
    // saturation: an open loop at `--demo-rate` calls/s in all.
    let runs = [
        (1, None),
        (options.demo_connections, None),
        (options.demo_connections, Some(options.demo_rate)),
    ];
    for (connections, rate) in runs {
        let load = Load {
            connections,
            warm_up: options.warm_up,
            duration: options.duration,
            rate,
        };
        let direct_report = measured("demo API, direct", &direct, load).await?;
        let via_report = measured("demo API, through mcpgate", &through, load).await?;
        gateway.process.check_alive()?;
        api.check_alive()?;
        let label = match rate {
            Some(rate) => format!("{connections} at {rate:.0}/s"),
            None => connections.to_string(),
        };
        for (name, report) in [
            ("direct (GET /items/1)", &direct_report),
            ("through mcpgate (tools/call getItem)", &via_report),
        ] {
            println!(
                "| {label} | {name} | {:.0} | {:.3} | {:.3} |",
                report.throughput(),
                report.percentile_ms(50.0),
                report.percentile_ms(99.0)
            );
        }
        println!(
            "| {label} | **added by mcpgate** | | **{:+.3}** | **{:+.3}** |",
            via_report.percentile_ms(50.0) - direct_report.percentile_ms(50.0),
            via_report.percentile_ms(99.0) - direct_report.percentile_ms(99.0)
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (after_rss, peak_rss) = gateway.process.memory_mib()?;
    println!(
        "\nMemory of that gateway (one backend, 5 tools): idle after start {idle_rss:.1} MiB; \
         2 s after the load {after_rss:.1} MiB; peak {peak_rss:.1} MiB; started in {:.0} ms\n",
        gateway.startup.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// Part 4: the large spec.
fn large_spec(options: &Options) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let report = import::run(dir.path(), options.operations)?;
    println!(
        "\nLarge spec: {} operations ({:.1} MiB of JSON)\n",
        report.operations, report.spec_mib
    );
    println!("| step | time | memory |");
    println!("|---|---:|---:|");
    println!(
        "| `mcpgate import --json` | {:.2} s | {:.0} MiB peak |",
        report.import_time.as_secs_f64(),
        report.import_peak_mib
    );
    println!(
        "| `mcpgate serve` until healthy | {:.2} s | |",
        report.serve_startup.as_secs_f64()
    );
    println!(
        "| full `tools/list` ({} pages, {} tools) | {:.2} s | {:.0} MiB resident after, {:.0} MiB peak |",
        report.pages,
        report.listed,
        report.list_time.as_secs_f64(),
        report.serve_rss_mib.0,
        report.serve_rss_mib.1
    );
    println!();
    Ok(())
}

/// Run `load` against `target`, failing on any bad answer.
async fn measured(name: &str, target: &Target, load: Load) -> anyhow::Result<Report> {
    eprintln!("  measuring {name} ...");
    let report = loadgen::run(target, load).await?;
    if report.errors > 0 || report.requests == 0 {
        bail!(
            "{name}: {} bad answers of {} (first: {})",
            report.errors,
            report.errors + report.requests,
            report.first_error.as_deref().unwrap_or("none")
        );
    }
    Ok(report)
}

/// A stateless `tools/call` of `tool` at `http://ADDR/mcp` with a bearer
/// credential.
fn call_target(addr: &str, bearer: &str, tool: &str, arguments: &Value) -> anyhow::Result<Target> {
    let params = mcp_params(json!({"name": tool, "arguments": arguments}));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
    Ok(Target {
        addr: addr.parse::<SocketAddr>()?,
        method: http::Method::POST,
        path: "/mcp".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {bearer}")),
            ("content-type".into(), "application/json".into()),
            (
                "accept".into(),
                "application/json, text/event-stream".into(),
            ),
            ("mcp-protocol-version".into(), PROTOCOL.into()),
            ("mcp-method".into(), "tools/call".into()),
            ("mcp-name".into(), tool.into()),
        ],
        body: Bytes::from(body.to_string()),
        expect: "\"isError\":false".into(),
    })
}

/// `params` with the `_meta` a stateless request carries instead of a
/// session.
pub fn mcp_params(mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": PROTOCOL,
        "io.modelcontextprotocol/clientInfo": {"name": "mcpgate-load", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    });
    params
}

/// The JSON-RPC message of an answer, sent as JSON or as one SSE event.
pub fn json_message(body: &[u8]) -> anyhow::Result<Value> {
    let text = std::str::from_utf8(body)?;
    if let Ok(value) = serde_json::from_str(text) {
        return Ok(value);
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message.get("id").is_some())
        .with_context(|| format!("no JSON-RPC answer in: {text}"))
}

/// A schema of its own on the PostgreSQL server, dropped afterwards.
struct PostgresSchema {
    admin_url: String,
    name: String,
    url: String,
}

impl PostgresSchema {
    fn create() -> anyhow::Result<Self> {
        let admin_url = std::env::var("MCPGATE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let name = format!("bench_{}", std::process::id());
        psql(&admin_url, &format!("CREATE SCHEMA {name}"))?;
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        let url = format!("{admin_url}{separator}options=-c%20search_path%3D{name}");
        Ok(PostgresSchema {
            admin_url,
            name,
            url,
        })
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        if let Err(error) = psql(
            &self.admin_url,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        ) {
            eprintln!("could not drop schema {}: {error:#}", self.name);
        }
    }
}

fn psql(url: &str, sql: &str) -> anyhow::Result<()> {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .context("cannot run psql")?;
    if !output.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}
