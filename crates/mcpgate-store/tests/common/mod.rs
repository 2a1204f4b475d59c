//! Runs one store test suite against both databases.
//!
//! Every test is an `async fn(TestDb)`; [`backend_tests!`] instantiates it
//! twice, as `sqlite::NAME` (a fresh file in a temporary directory) and
//! `postgres::NAME` (a fresh schema in a real PostgreSQL), so both stores are
//! held to exactly the same assertions.
//!
//! ```ignore
//! #[macro_use]
//! mod common;
//! use common::TestDb;
//!
//! backend_tests!(appends_one);
//!
//! async fn appends_one(db: TestDb) {
//!     let store = db.open().await;
//!     let head = store.append_audit(&common::entries(0..1)).await.unwrap();
//!     assert_eq!(head.seq, 1);
//! }
//! ```
//!
//! # PostgreSQL
//!
//! The server is `postgres://postgres@127.0.0.1:5432/test` unless
//! `MCPGATE_TEST_POSTGRES_URL` names another. Each test gets its own schema
//! (`CREATE SCHEMA t_<random>`), reached by adding
//! `options=-c search_path=t_<random>` to the URL, and drops it afterwards
//! (best effort: also when the test panics, not when the process is killed).
//!
//! When the server cannot be reached, see [`postgres_unavailable`]: a
//! PostgreSQL test fails, unless `MCPGATE_SKIP_POSTGRES=1` is set outside CI.

// Each test binary compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcpgate_core::{AuditEvent, AuthMethod, Decision, DenyReason, Outcome};
use mcpgate_store::audit::AuditEntry;
use mcpgate_store::{PostgresStore, SqliteStore, Store, StoreError};
use sqlx::Connection as _;
use sqlx::postgres::PgConnection;

/// The PostgreSQL server the tests use when `MCPGATE_TEST_POSTGRES_URL` is
/// not set.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// How long to wait for PostgreSQL before calling it unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Instantiate each listed `async fn(TestDb)` once per backend, as
/// `sqlite::NAME` and `postgres::NAME`.
///
/// Attributes written before a name (`#[ignore = "…"]`) apply to both;
/// attributes for one backend only follow the name in braces:
/// `NAME `.
macro_rules! backend_tests {
    ($(
        $(#[$meta:meta])* $name:ident
        $({ $(sqlite: #[$sqlite:meta])* $(postgres: #[$postgres:meta])* })?
    ),* $(,)?) => {
        mod sqlite {
            $(
                $(#[$meta])*
                $($(#[$sqlite])*)?
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::common::run(crate::common::Backend::Sqlite, stringify!($name), super::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                $(#[$meta])*
                $($(#[$postgres])*)?
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::common::run(crate::common::Backend::Postgres, stringify!($name), super::$name).await;
                }
            )*
        }
    };
}

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A schema of its own in a real PostgreSQL.
    Postgres,
}

/// Run `test` against a fresh database of `backend`, then clean up.
///
/// The test runs as its own task so that a panic still lets the
/// PostgreSQL schema be dropped before the panic is passed on.
pub async fn run<F, Fut>(backend: Backend, name: &str, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(db) = TestDb::create(backend, name).await else {
        return;
    };
    let schema = db.schema.clone();
    let outcome = tokio::spawn(test(db)).await;
    if let Some(schema) = schema {
        drop_schema(&schema).await;
    }
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("{name}: the test task did not finish: {error}"),
        }
    }
}

/// A fresh, empty database for one test.
#[derive(Debug)]
pub struct TestDb {
    backend: Backend,
    url: String,
    sqlite_path: Option<PathBuf>,
    schema: Option<String>,
    // Keeps the SQLite file's directory alive for the test.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database, or `None` when PostgreSQL is unreachable and the
    /// caller asked to skip (see [`postgres_unavailable`]).
    pub async fn create(backend: Backend, test: &str) -> Option<TestDb> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("cannot create a temporary directory");
                let path = dir.path().join("mcpgate.db");
                Some(TestDb {
                    backend,
                    url: format!("sqlite:{}", path.display()),
                    sqlite_path: Some(path),
                    schema: None,
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let mut admin = match admin_connection().await {
                    Ok(connection) => connection,
                    Err(error) => {
                        postgres_unavailable(test, &error);
                        return None;
                    }
                };
                let schema = format!("t_{}", random_hex());
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut admin)
                    .await
                    .unwrap_or_else(|e| {
                        panic!("cannot create schema {schema} in {}: {e}", postgres_url())
                    });
                let _ = admin.close().await;
                let base = postgres_url();
                let separator = if base.contains('?') { '&' } else { '?' };
                Some(TestDb {
                    backend,
                    url: format!("{base}{separator}options=-c%20search_path%3D{schema}"),
                    sqlite_path: None,
                    schema: Some(schema),
                    _dir: None,
                })
            }
        }
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The store URL, as a user would give it to [`mcpgate_store::open`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// [`mcpgate_store::open`]: a new store (its own pool), migrated.
    pub async fn open(&self) -> Arc<dyn Store> {
        self.try_open()
            .await
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.url))
    }

    /// [`mcpgate_store::open`], keeping its error.
    pub async fn try_open(&self) -> Result<Arc<dyn Store>, StoreError> {
        mcpgate_store::open(&self.url).await
    }

    /// A new concrete store (its own pool) with access to raw SQL, not yet
    /// migrated.
    pub async fn open_raw_unmigrated(&self) -> RawStore {
        match self.backend {
            Backend::Sqlite => {
                let path = self
                    .sqlite_path
                    .as_deref()
                    .expect("a SQLite test has a path");
                RawStore::Sqlite(SqliteStore::open(path).await.expect("SqliteStore::open"))
            }
            Backend::Postgres => RawStore::Postgres(
                PostgresStore::connect(&self.url)
                    .await
                    .expect("PostgresStore::connect"),
            ),
        }
    }

    /// A new concrete store (its own pool) with access to raw SQL, migrated.
    pub async fn open_raw(&self) -> RawStore {
        let raw = self.open_raw_unmigrated().await;
        raw.store().migrate().await.expect("Store::migrate");
        raw
    }
}

/// A concrete store, for tests that go around the [`Store`] trait with raw
/// SQL (to tamper with the log, or to break the database).
#[derive(Debug, Clone)]
pub enum RawStore {
    /// `SqliteStore`.
    Sqlite(SqliteStore),
    /// `PostgresStore`.
    Postgres(PostgresStore),
}

/// A value bound to a `?` in [`RawStore::exec`].
#[derive(Debug, Clone)]
pub enum Arg {
    /// An integer.
    Int(i64),
    /// Text, or NULL.
    Text(Option<String>),
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Arg::Int(value)
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Arg::Text(Some(value.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Arg::Text(Some(value))
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        Arg::Text(value)
    }
}

/// Bind `args` to a query of either database (one code path, two types).
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(value) => query.bind(*value),
                Arg::Text(value) => query.bind(value.clone()),
            };
        }
        query
    }};
}

impl RawStore {
    /// The same store (same pool) behind the trait.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            RawStore::Sqlite(store) => Arc::new(store.clone()),
            RawStore::Postgres(store) => Arc::new(store.clone()),
        }
    }

    /// Run one statement through the store's own pool; `?` placeholders
    /// (written the SQLite way) become `$1`, `$2`, … for PostgreSQL.
    /// Returns the rows affected.
    pub async fn exec(&self, sql: &str, args: &[Arg]) -> Result<u64, sqlx::Error> {
        Ok(match self {
            RawStore::Sqlite(store) => {
                bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())), args)
                    .execute(store.pool())
                    .await?
                    .rows_affected()
            }
            RawStore::Postgres(store) => bind_args!(
                sqlx::query(sqlx::AssertSqlSafe(numbered_placeholders(sql))),
                args
            )
            .execute(store.pool())
            .await?
            .rows_affected(),
        })
    }

    /// [`RawStore::exec`] that must succeed.
    pub async fn must_exec(&self, sql: &str, args: &[Arg]) -> u64 {
        self.exec(sql, args)
            .await
            .unwrap_or_else(|e| panic!("raw SQL `{sql}` failed: {e}"))
    }

    /// The single integer a query returns (e.g. `SELECT COUNT(*) …`).
    pub async fn scalar(&self, sql: &str) -> i64 {
        let result = match self {
            RawStore::Sqlite(store) => {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(store.pool())
                    .await
            }
            RawStore::Postgres(store) => {
                sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_owned()))
                    .fetch_one(store.pool())
                    .await
            }
        };
        result.unwrap_or_else(|e| panic!("raw SQL `{sql}` failed: {e}"))
    }
}

fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 0;
    for c in sql.chars() {
        if c == '?' {
            next += 1;
            out.push_str(&format!("${next}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// The PostgreSQL server under test.
pub fn postgres_url() -> String {
    std::env::var("MCPGATE_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

async fn admin_connection() -> Result<PgConnection, String> {
    let url = postgres_url();
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(&url)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
    }
}

/// Decide what a PostgreSQL test does when the server cannot be reached.
///
/// - `CI` set (to anything): panic. CI must never skip the PostgreSQL half
///   of the suite silently, so `MCPGATE_SKIP_POSTGRES` is ignored there.
/// - otherwise, `MCPGATE_SKIP_POSTGRES=1`: print that the test was skipped
///   and return (the test passes without running).
/// - otherwise: panic, saying how to start PostgreSQL or skip.
pub fn postgres_unavailable(test: &str, error: &str) {
    let url = postgres_url();
    if std::env::var_os("CI").is_some() {
        panic!(
            "{test}: PostgreSQL at {url} is unreachable ({error}), and CI is set, so the PostgreSQL tests \
             cannot be skipped: start PostgreSQL (or point MCPGATE_TEST_POSTGRES_URL at one)"
        );
    }
    if std::env::var("MCPGATE_SKIP_POSTGRES").as_deref() == Ok("1") {
        eprintln!(
            "SKIPPED postgres::{test}: PostgreSQL at {url} is unreachable ({error}) and MCPGATE_SKIP_POSTGRES=1"
        );
        return;
    }
    panic!(
        "{test}: PostgreSQL at {url} is unreachable ({error}). Start it (user `postgres`, trust auth, \
         database `test`), point MCPGATE_TEST_POSTGRES_URL at another, or set MCPGATE_SKIP_POSTGRES=1 \
         to skip the PostgreSQL tests locally"
    );
}

async fn drop_schema(schema: &str) {
    let Ok(mut admin) = admin_connection().await else {
        eprintln!("could not drop schema {schema}: PostgreSQL went away");
        return;
    };
    // A connection left in a transaction by a panicking test could hold a
    // lock forever; give up rather than hang.
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

/// 16 random hex digits (lower case, so a schema name needs no quoting).
pub fn random_hex() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the system's random source failed");
    hex::encode(bytes)
}

/// Subjects of the fixture events: plain names, an e-mail, a service, and
/// one with non-ASCII and a quote.
pub const SUBJECTS: [&str; 5] = [
    "alice",
    "bob",
    "carol@example.com",
    "svc:ci-bot",
    "José O'Brien",
];

/// Tools of the fixture events; `None` is a `tools/list` call.
pub const TOOLS: [Option<&str>; 4] = [
    Some("get_weather"),
    Some("create_issue"),
    Some("delete_repo"),
    None,
];

/// Auth methods of the fixture events: every one, so each stored name is
/// checked against the body by the verifier.
pub const AUTH_METHODS: [AuthMethod; 5] = [
    AuthMethod::ApiKey,
    AuthMethod::Jwt,
    AuthMethod::OAuth,
    AuthMethod::MutualTls,
    AuthMethod::None,
];

/// The time of fixture event 0; event `i` is `i × 1.25 s` later.
pub const BASE_TIME_SECS: u64 = 1_700_000_000;

/// The time of fixture event `i`.
pub fn event_time(i: usize) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(BASE_TIME_SECS) + Duration::from_millis(i as u64 * 1_250)
}

/// Fixture event `i`, varied by `i`: subject `SUBJECTS[i % 5]`, tool
/// `TOOLS[i % 4]`, denied when `i % 3 == 2`, request id `req-<i>`.
pub fn event(i: usize) -> AuditEvent {
    let denied = i % 3 == 2;
    let tool = TOOLS[i % TOOLS.len()];
    let decision = if denied {
        let reason = match i % 4 {
            0 => DenyReason::NoMatchingGrant,
            1 => DenyReason::Policy("no-prod-writes".into()),
            2 => DenyReason::RateLimited,
            _ => DenyReason::InsufficientScope,
        };
        Decision::Deny {
            reason,
            missing_scopes: vec!["repo:write".into()],
        }
    } else {
        Decision::Allow
    };
    let outcome = match (denied, i % 7) {
        (true, _) => Outcome::NotExecuted,
        (false, 0) => Outcome::BackendError,
        (false, _) => Outcome::Success,
    };
    AuditEvent {
        time: event_time(i),
        request_id: format!("req-{i:06}"),
        subject: SUBJECTS[i % SUBJECTS.len()].to_owned(),
        auth_method: AUTH_METHODS[i / 2 % AUTH_METHODS.len()],
        credential_id: Some(format!("key_{}", i % 3)),
        source: Some(format!(
            "10.0.{}.{}:{}",
            i / 256 % 256,
            i % 256,
            40_000 + i % 20_000
        )),
        method: if tool.is_some() {
            "tools/call"
        } else {
            "tools/list"
        }
        .to_owned(),
        tool: tool.map(str::to_owned),
        arguments: tool.map(
            |_| serde_json::json!({ "city": "Zürich", "n": i, "note": "a \"quoted\" \\ path" }),
        ),
        decision,
        outcome,
        backend_status: match outcome {
            Outcome::Success => Some(200),
            Outcome::BackendError => Some(502),
            Outcome::NotExecuted => None,
        },
        latency: Duration::from_micros(i as u64 * 137 % 90_000),
    }
}

/// [`AuditEntry::from_event`] of fixture event `i`.
pub fn entry(i: usize) -> AuditEntry {
    AuditEntry::from_event(&event(i))
}

/// Fixture entries for `range`.
pub fn entries(range: std::ops::Range<usize>) -> Vec<AuditEntry> {
    range.map(entry).collect()
}
