//! An HTTP/1.1 load generator: `connections` keep-alive connections, each
//! sending the same request again, for a fixed time after a warm-up.
//!
//! Closed loop (no `rate`): each connection sends as soon as the last
//! answer has been read in full, so the server is kept saturated and
//! throughput is connections ÷ latency. Open loop (`rate`): the connections
//! together send `rate` requests a second on a fixed schedule, whatever the
//! answers' pace, so a server below saturation is measured without queueing
//! of our making; a request that a slow answer held back is counted from
//! when it was *due*, not when it went out, so the wait is not hidden
//! (coordinated omission).
//!
//! Every answer is checked: a status other than 200, or a body without
//! `expect`, counts as an error (and the run reports it), so a gateway that
//! answers fast by refusing is never mistaken for a fast gateway.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// One request, sent again and again.
#[derive(Clone)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// `GET` or `POST`.
    pub method: http::Method,
    /// Path and query.
    pub path: String,
    /// Headers besides `Host`.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `GET`).
    pub body: Bytes,
    /// Text every good answer contains.
    pub expect: String,
}

/// How hard and how long.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Concurrent connections, each with one request in flight.
    pub connections: usize,
    /// Untimed time first (connections opened, caches and pools warm).
    pub warm_up: Duration,
    /// Timed time.
    pub duration: Duration,
    /// Requests per second, all connections together (open loop); `None`:
    /// as fast as the answers come (closed loop).
    pub rate: Option<f64>,
}

/// What one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// Good answers in the timed window.
    pub requests: u64,
    /// Refused, failed or unexpected answers in the timed window.
    pub errors: u64,
    /// The first unexpected answer, to show.
    pub first_error: Option<String>,
    /// Length of the timed window.
    pub elapsed: Duration,
    /// Latencies of the good answers, sorted, in microseconds.
    latencies_us: Vec<u32>,
}

impl Report {
    /// Good answers per second.
    pub fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-th percentile latency (0–100), in milliseconds.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * (self.latencies_us.len() - 1) as f64).round() as usize;
        f64::from(self.latencies_us[rank]) / 1000.0
    }
}

/// Run `load` against `target`.
pub async fn run(target: &Target, load: Load) -> anyhow::Result<Report> {
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let timed_from = start + load.warm_up;
    let mut workers = Vec::with_capacity(load.connections);
    for index in 0..load.connections {
        let target = target.clone();
        let stop = stop.clone();
        // Open loop: each connection sends every `interval`, the
        // connections evenly staggered so the requests do not come in bursts.
        let schedule = load.rate.map(|rate| {
            let interval = Duration::from_secs_f64(load.connections as f64 / rate);
            let first = start + interval.mul_f64(index as f64 / load.connections as f64);
            (first, interval)
        });
        workers.push(tokio::spawn(async move {
            connection(&target, &stop, timed_from, schedule).await
        }));
    }
    tokio::time::sleep(load.warm_up + load.duration).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = timed_from.elapsed();
    let mut report = Report {
        requests: 0,
        errors: 0,
        first_error: None,
        elapsed,
        latencies_us: Vec::new(),
    };
    for worker in workers {
        let tally = worker.await.context("a load connection panicked")??;
        report.requests += tally.latencies_us.len() as u64;
        report.errors += tally.errors;
        report.first_error = report.first_error.or(tally.first_error);
        report.latencies_us.extend(tally.latencies_us);
    }
    report.latencies_us.sort_unstable();
    Ok(report)
}

/// One connection's results.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

async fn connection(
    target: &Target,
    stop: &AtomicBool,
    timed_from: Instant,
    schedule: Option<(Instant, Duration)>,
) -> anyhow::Result<Tally> {
    let stream = tokio::net::TcpStream::connect(target.addr)
        .await
        .with_context(|| format!("cannot connect to {}", target.addr))?;
    stream.set_nodelay(true)?;
    let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(driver);
    let host = target.addr.to_string();
    let mut tally = Tally::default();
    let mut due = schedule.map(|(first, _)| first);
    while !stop.load(Ordering::Relaxed) {
        // Open loop: a request the last answer made late counts from when
        // it was due; one that waited for its time counts from when it went
        // (the timer wakes up to a millisecond late: our delay, not the
        // server's).
        let mut late_since = None;
        if let (Some(at), Some((_, interval))) = (due, schedule) {
            if Instant::now() > at {
                late_since = Some(at);
            } else {
                tokio::time::sleep_until(at.into()).await;
            }
            due = Some(at + interval);
        }
        let mut request = Request::builder()
            .method(target.method.clone())
            .uri(&target.path)
            .header(http::header::HOST, &host);
        for (name, value) in &target.headers {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(target.body.clone()))?;
        let sent = late_since.unwrap_or_else(Instant::now);
        let outcome = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                match response.into_body().collect().await {
                    Ok(body) => {
                        let body = body.to_bytes();
                        let good = status == http::StatusCode::OK
                            && contains(&body, target.expect.as_bytes());
                        if good {
                            Ok(())
                        } else {
                            Err(format!("{status}: {}", String::from_utf8_lossy(&body)))
                        }
                    }
                    Err(error) => Err(format!("reading the answer failed: {error}")),
                }
            }
            Err(error) => Err(format!("the request failed: {error}")),
        };
        if sent < timed_from {
            // Warm-up: errors still count, as a broken setup must not pass.
            if let Err(why) = outcome {
                tally.errors += 1;
                tally.first_error.get_or_insert(why);
                break;
            }
            continue;
        }
        match outcome {
            Ok(()) => {
                let micros = sent.elapsed().as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            Err(why) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(why);
                // A connection the server has closed cannot send again.
                if sender.ready().await.is_err() {
                    break;
                }
            }
        }
    }
    Ok(tally)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}
