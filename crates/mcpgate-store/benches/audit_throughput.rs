//! Audit log throughput: how many records per second the batching writer
//! ([`AuditLog`]) commits, per backend and per number of concurrent
//! producers, against the ceiling of one raw `append_audit` transaction.
//!
//! ```text
//! cargo bench -p mcpgate-store --bench audit_throughput
//! ```
//!
//! A plain `main` (harness = false). For each backend — SQLite in a
//! temporary file, PostgreSQL in a fresh schema (dropped afterwards) — and
//! each producer count, it appends `AUDIT_BENCH_RECORDS` (default 50,000)
//! realistic entries through `AuditLog`, three runs each on a fresh
//! database, verifies the chain after every run (and exits non-zero if it
//! does not verify), and prints one table.
//!
//! Environment:
//! - `AUDIT_BENCH_RECORDS`: records per run (default 50,000).
//! - `MCPGATE_TEST_POSTGRES_URL`: the PostgreSQL server (default
//!   `postgres://postgres@127.0.0.1:5432/test`, as the tests). When it is
//!   unreachable the PostgreSQL half is skipped, unless `CI` is set: then
//!   the benchmark fails.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcpgate_core::{AuditEvent, AuthMethod, Decision, DenyReason, Outcome};
use mcpgate_store::Store;
use mcpgate_store::audit::{
    AuditEntry, AuditLog, AuditLogOptions, CheckpointSigner, VerifyingKey, verify_chain,
};
use serde_json::json;
use sqlx::Connection as _;

const DEFAULT_RECORDS: usize = 50_000;
const PRODUCERS: [usize; 3] = [16, 64, 256];
const RUNS: usize = 3;
const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// What one scenario is: the raw ceiling or the writer with N producers.
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// One `append_audit` of every record, in one transaction.
    SingleTransaction,
    /// `AuditLog` with this many concurrent producers.
    Producers(usize),
}

/// One measured run.
#[derive(Debug, Clone, Copy)]
struct Run {
    records_per_sec: f64,
    transactions: u64,
}

/// A row of the final table.
struct Row {
    backend: Backend,
    mode: Mode,
    runs: Vec<Run>,
}

type BenchResult<T> = Result<T, String>;

#[tokio::main]
async fn main() -> ExitCode {
    match run_all().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("audit_throughput FAILED: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run_all() -> BenchResult<()> {
    let records = match std::env::var("AUDIT_BENCH_RECORDS") {
        Ok(text) => match text.trim().replace('_', "").parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!(
                    "AUDIT_BENCH_RECORDS={text:?} is not a positive integer"
                ));
            }
        },
        Err(_) => DEFAULT_RECORDS,
    };
    let entries = Arc::new(build_entries(records));
    let mean_body =
        entries.iter().map(|e| e.body.len()).sum::<usize>() as f64 / entries.len() as f64;
    eprintln!("sample body: {}", entries[1].body);
    let workers = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!(
        "audit_throughput: {records} records per run, mean body {mean_body:.0} bytes, \
         {RUNS} runs per row, {workers} CPUs (tokio multi-thread runtime)"
    );

    let mut backends = vec![Backend::Sqlite];
    let postgres_url = std::env::var("MCPGATE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned());
    match admin_connection(&postgres_url).await {
        Ok(connection) => {
            let _ = connection.close().await;
            backends.push(Backend::Postgres);
        }
        Err(error) => {
            if std::env::var_os("CI").is_some() {
                return Err(format!(
                    "PostgreSQL at {postgres_url} is unreachable ({error}) and CI is set: \
                     the PostgreSQL half cannot be skipped"
                ));
            }
            println!(
                "SKIPPED postgres: PostgreSQL at {postgres_url} is unreachable ({error}); \
                 set MCPGATE_TEST_POSTGRES_URL to benchmark it"
            );
        }
    }

    let mut modes = vec![Mode::SingleTransaction];
    modes.extend(PRODUCERS.map(Mode::Producers));

    let mut rows = Vec::new();
    for &backend in &backends {
        for &mode in &modes {
            let mut runs = Vec::with_capacity(RUNS);
            for run_index in 1..=RUNS {
                let db = FreshDb::create(backend, &postgres_url).await?;
                let outcome = measure(&db, mode, &entries).await;
                db.cleanup().await;
                let run = outcome.map_err(|e| {
                    format!("{} {} run {run_index}: {e}", backend.name(), describe(mode))
                })?;
                eprintln!(
                    "  {:<8} {:<22} run {run_index}: {:>9.0} records/s, {} transactions",
                    backend.name(),
                    describe(mode),
                    run.records_per_sec,
                    run.transactions
                );
                runs.push(run);
            }
            rows.push(Row {
                backend,
                mode,
                runs,
            });
        }
    }

    print_table(records, mean_body, &rows);
    Ok(())
}

fn describe(mode: Mode) -> String {
    match mode {
        Mode::SingleTransaction => "1 tx (raw ceiling)".to_owned(),
        Mode::Producers(n) => format!("{n} producers"),
    }
}

/// One run on a fresh database: append every entry, then verify the chain.
async fn measure(db: &FreshDb, mode: Mode, entries: &Arc<Vec<AuditEntry>>) -> BenchResult<Run> {
    let store = mcpgate_store::open(&db.url)
        .await
        .map_err(|e| format!("cannot open {}: {e}", db.url))?;
    let records = entries.len();
    let (elapsed, transactions, key) = match mode {
        Mode::SingleTransaction => {
            let start = Instant::now();
            let head = store
                .append_audit(entries)
                .await
                .map_err(|e| format!("append_audit failed: {e}"))?;
            let elapsed = start.elapsed();
            if head.seq != records as i64 {
                return Err(format!("head is {} after {records} records", head.seq));
            }
            (elapsed, 1, None)
        }
        Mode::Producers(producers) => {
            let (elapsed, transactions, key) =
                through_writer(store.clone(), producers, entries).await?;
            (elapsed, transactions, Some(key))
        }
    };

    let report = verify_chain(&*store, key.as_ref())
        .await
        .map_err(|e| format!("verify_chain could not read the log: {e}"))?;
    if !report.is_ok() {
        let problems: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        return Err(format!(
            "THE CHAIN DOES NOT VERIFY: {}",
            problems.join("; ")
        ));
    }
    if report.records != records as i64 || report.last_seq != records as i64 {
        return Err(format!(
            "THE CHAIN DOES NOT VERIFY: {} records (last seq {}), expected {records}",
            report.records, report.last_seq
        ));
    }
    if key.is_some() && report.last_signed_seq != Some(records as i64) {
        return Err(format!(
            "THE CHAIN DOES NOT VERIFY: last signed record is {:?}, expected {records}",
            report.last_signed_seq
        ));
    }

    Ok(Run {
        records_per_sec: records as f64 / elapsed.as_secs_f64(),
        transactions,
    })
}

/// `producers` tasks share the entries and append them one at a time
/// through one `AuditLog` (each waits for its record to be committed before
/// sending the next, as a request handler does). Returns the time until
/// the last append was acknowledged, the append transactions committed,
/// and the checkpoint key.
async fn through_writer(
    store: Arc<dyn Store>,
    producers: usize,
    entries: &Arc<Vec<AuditEntry>>,
) -> BenchResult<(Duration, u64, VerifyingKey)> {
    let (signer, _) =
        CheckpointSigner::generate().map_err(|e| format!("cannot generate a key: {e}"))?;
    let key = signer.verifying_key();
    // What a gateway with `audit.signing_key` runs: the default queue and
    // batch size, a checkpoint every second.
    let options = AuditLogOptions {
        signer: Some(signer),
        ..AuditLogOptions::default()
    };
    let (log, writer) = AuditLog::start(store, options);

    let records = entries.len();
    let start = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let log = log.clone();
            let entries = entries.clone();
            tokio::spawn(async move {
                // Producer p takes entries p, p + producers, p + 2·producers…
                for i in (p..records).step_by(producers) {
                    log.append(entries[i].clone())
                        .await
                        .map_err(|e| format!("append of entry {i} failed: {e}"))?;
                }
                Ok::<(), String>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .map_err(|e| format!("a producer panicked: {e}"))??;
    }
    let elapsed = start.elapsed();

    let health = log.health();
    let (written, failed, transactions) = (health.written(), health.failed(), health.batches());
    drop(log);
    // Let the writer sign its final checkpoint and stop before verifying.
    writer
        .await
        .map_err(|e| format!("the writer task failed: {e}"))?;
    if written != records as u64 || failed != 0 {
        return Err(format!(
            "the writer reports {written} written and {failed} failed, expected {records} and 0"
        ));
    }
    Ok((elapsed, transactions, key))
}

/// A fresh, empty database for one run.
struct FreshDb {
    url: String,
    admin_url: String,
    schema: Option<String>,
    // Keeps the SQLite file's directory alive for the run.
    _dir: Option<tempfile::TempDir>,
}

impl FreshDb {
    async fn create(backend: Backend, postgres_url: &str) -> BenchResult<FreshDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir()
                    .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
                let path = dir.path().join("audit-bench.db");
                Ok(FreshDb {
                    url: format!("sqlite:{}", path.display()),
                    admin_url: String::new(),
                    schema: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let mut admin = admin_connection(postgres_url).await?;
                let schema = format!("bench_{}", unique_suffix());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await
                    .map_err(|e| format!("cannot create schema {schema}: {e}"))?;
                let _ = admin.close().await;
                let separator = if postgres_url.contains('?') { '&' } else { '?' };
                Ok(FreshDb {
                    url: format!("{postgres_url}{separator}options=-c%20search_path%3D{schema}"),
                    admin_url: postgres_url.to_owned(),
                    schema: Some(schema),
                    _dir: None,
                })
            }
        }
    }

    /// Drop the PostgreSQL schema (the SQLite directory goes with `self`).
    async fn cleanup(self) {
        let Some(schema) = &self.schema else { return };
        match admin_connection(&self.admin_url).await {
            Ok(mut admin) => {
                let _ = sqlx::query("SET lock_timeout = '10s'")
                    .execute(&mut admin)
                    .await;
                if let Err(error) = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE"
                )))
                .execute(&mut admin)
                .await
                {
                    eprintln!("could not drop schema {schema}: {error}");
                }
                let _ = admin.close().await;
            }
            Err(error) => eprintln!("could not drop schema {schema}: {error}"),
        }
    }
}

async fn admin_connection(url: &str) -> BenchResult<sqlx::PgConnection> {
    match tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect(url)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// Lower-case hex, unique enough for a schema name (time and process id).
fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    format!("{:x}_{:x}", nanos & 0xffff_ffff_ffff, std::process::id())
}

// ---------------------------------------------------------------------------
// Entries

/// `n` entries shaped like real records: 183 subjects, eleven tools with
/// their own argument shapes, some `tools/list`, about one call in six
/// denied; bodies around 435 bytes.
fn build_entries(n: usize) -> Vec<AuditEntry> {
    (0..n).map(|i| AuditEntry::from_event(&event(i))).collect()
}

/// A small deterministic generator (SplitMix64), so runs see the same data.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const FIRST_NAMES: [&str; 12] = [
    "alice", "bob", "carol", "dmitri", "eve", "farah", "gustavo", "hana", "ivan", "jun", "kofi",
    "léa",
];
const CITIES: [&str; 8] = [
    "Zürich",
    "Lisbon",
    "Osaka",
    "Nairobi",
    "Montréal",
    "Berlin",
    "Austin",
    "São Paulo",
];
const REPOS: [&str; 6] = [
    "acme/api",
    "acme/web",
    "acme/infra",
    "acme/billing",
    "platform/gateway",
    "data/pipelines",
];
const WORDS: [&str; 16] = [
    "timeout",
    "retry",
    "flaky",
    "login",
    "invoice",
    "export",
    "latency",
    "cache",
    "deploy",
    "rollback",
    "quota",
    "webhook",
    "schema",
    "migration",
    "token",
    "dashboard",
];

fn subject(r: u64) -> String {
    let k = r % 240;
    let name = FIRST_NAMES[(k % 12) as usize];
    match k % 4 {
        0 => format!("{name}.{}@example.com", k / 12),
        1 => format!("{name}{}", k / 12),
        2 => format!("svc:{}-bot-{}", WORDS[(k % 16) as usize], k / 16),
        _ => format!("{name}@corp.example.org"),
    }
}

fn words(r: u64, count: usize) -> String {
    (0..count)
        .map(|j| WORDS[(mix(r ^ j as u64) % 16) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// The tool called and its (already redacted) arguments; `None` is
/// `tools/list`.
fn tool_call(i: usize, r: u64) -> Option<(&'static str, serde_json::Value)> {
    let repo = REPOS[(r % 6) as usize];
    let city = CITIES[(r >> 8) as usize % CITIES.len()];
    Some(match r % 13 {
        0 => return None,
        1 | 2 => (
            "get_weather",
            json!({ "city": city, "units": "metric", "days": 1 + r % 7 }),
        ),
        3 => (
            "create_issue",
            json!({
                "repo": repo,
                "title": format!("{} when {}", words(r, 3), words(r >> 3, 2)),
                "labels": ["bug", WORDS[(r >> 5) as usize % 16]],
                "assignee": FIRST_NAMES[(r >> 9) as usize % 12],
            }),
        ),
        4 => (
            "list_pull_requests",
            json!({ "repo": repo, "state": "open", "per_page": 50, "page": 1 + r % 4 }),
        ),
        5 => (
            "search_docs",
            json!({ "query": words(r, 4), "limit": 20, "space": "engineering" }),
        ),
        6 => (
            "run_query",
            json!({
                "database": "analytics",
                "sql": format!(
                    "SELECT day, count(*) FROM events WHERE kind = '{}' AND day > now() - interval '{} days' GROUP BY day",
                    WORDS[(r >> 4) as usize % 16],
                    1 + r % 30
                ),
            }),
        ),
        7 => (
            "send_email",
            json!({
                "to": format!("{}@example.com", FIRST_NAMES[(r >> 7) as usize % 12]),
                "subject": words(r, 5),
                "body": "[REDACTED]",
            }),
        ),
        8 => (
            "get_invoice",
            json!({ "invoice_id": format!("in_{:012x}", r >> 16), "expand": ["lines", "customer"] }),
        ),
        9 => (
            "deploy_service",
            json!({ "service": REPOS[(r >> 3) as usize % 6], "environment": "staging", "version": format!("v{}.{}.{}", r % 4, r % 19, r % 41), "api_token": "[REDACTED]" }),
        ),
        10 => (
            "read_file",
            json!({ "path": format!("/srv/{}/{}/config.yaml", REPOS[(r >> 2) as usize % 6], WORDS[(r >> 6) as usize % 16]) }),
        ),
        11 => (
            "slack_post_message",
            json!({ "channel": format!("#{}", WORDS[(r >> 2) as usize % 16]), "text": words(r, 8) }),
        ),
        _ => (
            "delete_repo",
            json!({ "repo": format!("{repo}-sandbox-{}", i % 97), "confirm": true }),
        ),
    })
}

fn event(i: usize) -> AuditEvent {
    let r = mix(i as u64);
    let call = tool_call(i, r);
    let denied = (r >> 20).is_multiple_of(6);
    let decision = if denied {
        Decision::Deny {
            reason: match (r >> 24) % 4 {
                0 => DenyReason::NoMatchingGrant,
                1 => DenyReason::Policy("no-prod-writes".into()),
                2 => DenyReason::RateLimited,
                _ => DenyReason::InsufficientScope,
            },
            missing_scopes: vec!["repo:write".into()],
        }
    } else {
        Decision::Allow
    };
    let outcome = match (denied, (r >> 28) % 25) {
        (true, _) => Outcome::NotExecuted,
        (false, 0) => Outcome::BackendError,
        (false, _) => Outcome::Success,
    };
    let auth_method = match (r >> 32) % 10 {
        0..=4 => AuthMethod::OAuth,
        5..=7 => AuthMethod::ApiKey,
        8 => AuthMethod::Jwt,
        _ => AuthMethod::MutualTls,
    };
    let (method, tool, arguments) = match call {
        Some((tool, arguments)) => ("tools/call", Some(tool.to_owned()), Some(arguments)),
        None => ("tools/list", None, None),
    };
    AuditEvent {
        time: UNIX_EPOCH
            + Duration::from_secs(1_760_000_000)
            + Duration::from_micros(i as u64 * 1_733),
        request_id: format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            r >> 32,
            (r >> 16) & 0xffff,
            r & 0xfff,
            0x8000 | (mix(r) & 0x3fff),
            mix(r ^ 1) & 0xffff_ffff_ffff
        ),
        subject: subject(r >> 40),
        auth_method,
        credential_id: Some(format!("key_{:08x}", mix(r >> 40) & 0xffff_ffff)),
        source: Some(format!(
            "10.{}.{}.{}:{}",
            (r >> 8) % 4,
            (r >> 12) % 256,
            (r >> 16) % 254 + 1,
            32_768 + (r >> 24) % 28_000
        )),
        method: method.to_owned(),
        tool,
        arguments,
        decision,
        outcome,
        backend_status: match outcome {
            Outcome::Success => Some(200),
            Outcome::BackendError => Some(if r.is_multiple_of(2) { 502 } else { 504 }),
            Outcome::NotExecuted => None,
        },
        latency: Duration::from_micros(800 + (r >> 44) % 400_000),
    }
}

// ---------------------------------------------------------------------------
// Report

fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value);
    let mut out = String::new();
    for (index, c) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn print_table(records: usize, mean_body: f64, rows: &[Row]) {
    println!();
    println!(
        "Audit log throughput: {records} records per run (mean body {mean_body:.0} bytes), \
         median of {RUNS} runs, each on a fresh database"
    );
    println!();
    println!(
        "| backend  | producers              | median records/s | min records/s | max records/s | mean batch (records/tx) |"
    );
    println!(
        "|----------|------------------------|-----------------:|--------------:|--------------:|------------------------:|"
    );
    for row in rows {
        let mut rates: Vec<f64> = row.runs.iter().map(|r| r.records_per_sec).collect();
        rates.sort_by(f64::total_cmp);
        let transactions: u64 = row.runs.iter().map(|r| r.transactions).sum();
        let mean_batch = (records * row.runs.len()) as f64 / transactions.max(1) as f64;
        println!(
            "| {:<8} | {:<22} | {:>16} | {:>13} | {:>13} | {:>23.1} |",
            row.backend.name(),
            describe(row.mode),
            thousands(median(&rates)),
            thousands(rates[0]),
            thousands(rates[rates.len() - 1]),
            mean_batch
        );
    }
    println!();
}
