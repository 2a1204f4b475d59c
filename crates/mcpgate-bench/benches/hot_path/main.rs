//! The gateway's per-call overhead without a network: authenticate,
//! authorize, and hand the audit record to the writer.
//!
//! This crate exists for it (see `src/lib.rs`): these stages live in three
//! crates that only the `mcpgate` binary wires together. The pieces are
//! built the way `mcpgate serve` builds them — the API-key authenticator
//! over a SQLite store holding keys minted like `mcpgate keys create`'s,
//! a JWT verifier pinned to a local identity provider (an axum task on
//! 127.0.0.1 serving the JWKS), `mcpgate_authz::Policy` compiled from a
//! small `[authz]` config with four Cedar policies, and the batching
//! `AuditLog` over the same store — all behind `mcpgate_auth::Strategies`
//! on a two-worker Tokio runtime. Measured:
//!
//! - `authenticate/api key (warm)`: `Authenticator::authenticate` with
//!   `Authorization: Bearer mcpg_prod_…`, the key in memory (no database).
//! - `authenticate/jwt <alg> (cached)`: the same token again — a lookup
//!   by the token's SHA-256.
//! - `authenticate/jwt <alg> (first)`: a token the verifier has not seen
//!   (its own `jti`), the JWKS already fetched: header and claims decoded,
//!   signature verified, claims validated and mapped. Signing RS256 tokens
//!   costs 30 times more than verifying them, so tokens are signed ahead
//!   into a pool of 1,000 per algorithm; when a verifier has seen the
//!   whole pool it is replaced by a new one, which fetches the JWKS on an
//!   extra, untimed token before the pool is presented to it again.
//! - `authorize/api key caller, read call`: `Policy::decide` for the key's
//!   identity calling a read tool with arguments.
//! - `audit/redact arguments`: the copy of the call's arguments that the
//!   gateway redacts for the record (five members, one a secret).
//! - `audit/enqueue`: `AuditEntry::from_event` and `AuditLog::enqueue` —
//!   what the gateway's audit sink does before it waits for the commit.
//!   Timed in chunks of 4,096 calls; between chunks, untimed, the bench
//!   waits until the writer has committed them, so the queue (10,000)
//!   never fills and no timed call waits for a commit. The writer commits
//!   to SQLite on the other core meanwhile, as it would in the gateway.
//! - `audit/append, one caller`: `AuditLog::append`, enqueue and wait for
//!   the durable commit, one call at a time — what a call really waits
//!   for before it is answered, for scale; it is the disk's sync, not CPU.
//! - `hot path/api key caller`: all of it for one `tools/call` by an API
//!   key, as `Gateway::call_tool` does it up to the backend call:
//!   authenticate, redact the arguments, decide, count the rate limit,
//!   build the `AuditEvent`, and enqueue it (chunked as above).
//!
//! Run: `cargo bench -p mcpgate-bench --bench hot_path`.

/// The allocator `mcpgate` runs with (crates/mcpgate/src/main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod api_key;
mod audit;
mod authz;
mod jwt;

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Bencher, Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use mcpgate_auth::{Authenticator, RequestFacts, Strategies};
use mcpgate_core::{AuthMethod, Authorizer, AuthzRequest, Redactor};
use serde_json::{Map, Value, json};
use tokio::runtime::Runtime;

/// Tokens signed ahead per algorithm for the first-verification benches.
const TOKEN_POOL: u64 = 1_000;

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = runtime.block_on(async {
        mcpgate_store::open(&format!(
            "sqlite:{}",
            dir.path().join("mcpgate.db").display()
        ))
        .await
        .expect("the store opens")
    });
    let keys = runtime.block_on(api_key::fixture(store.clone()));
    let idp = runtime.block_on(jwt::Idp::start());
    let strategies = Strategies {
        api_keys: Some(keys.authenticator.clone()),
        jwt: Some(idp.verifier()),
        ..Strategies::default()
    };
    let source: SocketAddr = "10.20.0.7:51234".parse().expect("an address");
    let key_headers = bearer(&keys.secret);
    let identity = runtime
        .block_on(strategies.authenticate(facts(&key_headers, source)))
        .expect("the key is accepted");
    assert_eq!(identity.auth, AuthMethod::ApiKey);

    // 1. API key, warm.
    c.bench_function("authenticate/api key (warm)", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let facts = facts(black_box(&key_headers), source);
                    black_box(strategies.authenticate(facts).await.expect("accepted"));
                }
                start.elapsed()
            })
        })
    });

    // 2. JWTs, cached and first time.
    for alg in jwt::ALGORITHMS {
        let headers = bearer(&idp.token(alg, 0));
        let verified = runtime
            .block_on(strategies.authenticate(facts(&headers, source)))
            .expect("the token is accepted");
        assert_eq!(verified.auth, AuthMethod::Jwt);
        assert!(verified.groups.contains("sales"));
        c.bench_function(&format!("authenticate/jwt {alg:?} (cached)"), |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let facts = facts(black_box(&headers), source);
                        black_box(strategies.authenticate(facts).await.expect("accepted"));
                    }
                    start.elapsed()
                })
            })
        });
        let pool: Vec<HeaderMap> = (1..=TOKEN_POOL)
            .map(|n| bearer(&idp.token(alg, n)))
            .collect();
        let mut unseen = Unseen {
            idp: &idp,
            alg,
            pool: &pool,
            strategies: Strategies::default(),
            next: pool.len(),
            verifiers: 0,
        };
        c.bench_function(&format!("authenticate/jwt {alg:?} (first)"), |b| {
            first_verifications(b, &runtime, &mut unseen, source)
        });
    }

    // 3. Authorization.
    let tools = authz::catalog();
    let policy = authz::policy(&tools, dir.path());
    let tool = tools
        .iter()
        .find(|t| t.name == "crm_get_customers")
        .expect("in the catalog");
    let arguments = call_arguments();
    let request = AuthzRequest {
        identity: &identity,
        tool,
        arguments: Some(&arguments),
        source: Some(source.ip()),
        time: SystemTime::now(),
    };
    let explanation = policy.explain(&request);
    assert!(
        explanation.decision.is_allowed(),
        "{}",
        explanation.steps.join("\n")
    );
    c.bench_function("authorize/api key caller, read call", |b| {
        b.iter(|| policy.decide(black_box(&request)))
    });

    // 4. Audit hand-off (redaction, the entry, the queue), and the
    // durable append for scale.
    let redactor = Redactor::default();
    c.bench_function("audit/redact arguments", |b| {
        b.iter(|| {
            let mut redacted = Value::Object(black_box(&arguments).clone());
            assert_eq!(redactor.redact_value(&mut redacted), 1);
            redacted
        })
    });
    let log = runtime.block_on(async { audit::start(store.clone()) });
    let event = audit::event(&identity, source, tool, &arguments);
    c.bench_function("audit/enqueue", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(audit::timed_enqueues(iters, async || {
                let entry = mcpgate_store::audit::AuditEntry::from_event(black_box(&event));
                log.enqueue(entry).await.expect("queued")
            }))
        })
    });
    c.bench_function("audit/append, one caller", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let entry = mcpgate_store::audit::AuditEntry::from_event(black_box(&event));
                    black_box(log.append(entry).await.expect("committed"));
                }
                start.elapsed()
            })
        })
    });

    // 5. All together, for an API-key caller.
    c.bench_function("hot path/api key caller", |b| {
        b.iter_custom(|iters| {
            runtime.block_on(audit::timed_enqueues(iters, async || {
                let caller = strategies
                    .authenticate(facts(black_box(&key_headers), source))
                    .await
                    .expect("accepted");
                let arrived = SystemTime::now();
                let mut redacted = Value::Object(arguments.clone());
                redactor.redact_value(&mut redacted);
                let decision = policy.decide(&AuthzRequest {
                    identity: &caller,
                    tool,
                    arguments: Some(&arguments),
                    source: Some(source.ip()),
                    time: arrived,
                });
                assert!(decision.is_allowed());
                policy.admit(&caller, tool).expect("within the rate limit");
                let event = audit::call_event(&caller, source, tool, redacted, decision, arrived);
                let entry = mcpgate_store::audit::AuditEntry::from_event(&event);
                log.enqueue(entry).await.expect("queued")
            }))
        })
    });
}

/// First verifications of tokens from `pool`, each new to the verifier
/// that sees it.
struct Unseen<'a> {
    idp: &'a jwt::Idp,
    alg: jsonwebtoken::Algorithm,
    pool: &'a [HeaderMap],
    strategies: Strategies,
    next: usize,
    verifiers: u64,
}

impl Unseen<'_> {
    /// A new verifier that has fetched the JWKS (on a token outside the
    /// pool) and seen none of the pool.
    async fn renew(&mut self, source: SocketAddr) {
        self.verifiers += 1;
        self.strategies = Strategies {
            jwt: Some(self.idp.verifier()),
            ..Strategies::default()
        };
        let primer = bearer(&self.idp.token(self.alg, 1_000_000 + self.verifiers));
        self.strategies
            .authenticate(facts(&primer, source))
            .await
            .expect("the primer is accepted");
        self.next = 0;
    }
}

fn first_verifications(
    b: &mut Bencher<'_>,
    runtime: &Runtime,
    unseen: &mut Unseen<'_>,
    source: SocketAddr,
) {
    b.iter_custom(|iters| {
        runtime.block_on(async {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if unseen.next == unseen.pool.len() {
                    unseen.renew(source).await;
                }
                let headers = &unseen.pool[unseen.next];
                unseen.next += 1;
                let start = Instant::now();
                let identity = unseen
                    .strategies
                    .authenticate(facts(black_box(headers), source))
                    .await
                    .expect("accepted");
                total += start.elapsed();
                black_box(identity);
            }
            total
        })
    });
}

/// `Authorization: Bearer {credential}`.
fn bearer(credential: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {credential}")
            .parse()
            .expect("a header value"),
    );
    headers.insert(
        http::header::ACCEPT,
        "application/json, text/event-stream"
            .parse()
            .expect("a header value"),
    );
    headers
}

fn facts(headers: &HeaderMap, peer: SocketAddr) -> RequestFacts<'_> {
    RequestFacts {
        headers,
        peer: Some(peer),
        client_certificate: None,
    }
}

/// The arguments of the measured call: a customer by id, with a nested
/// filter and one field the redactor replaces.
fn call_arguments() -> Map<String, Value> {
    match json!({
        "id": "cus_1042",
        "region": "eu-west-1",
        "include": ["orders", "contacts"],
        "filter": {"since": "2026-01-01", "status": ["open", "overdue"]},
        "api_token": "not-a-real-secret-but-redacted",
    }) {
        Value::Object(map) => map,
        _ => unreachable!(),
    }
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
