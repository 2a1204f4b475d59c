//! Rate limits, in memory: the generic cell rate algorithm (GCRA).
//!
//! Each counted key keeps one instant, its "theoretical arrival time". A
//! call is allowed when that time is at most one window ahead of now; it
//! then moves on by `window / requests`. This allows bursts of up to
//! `requests` calls and `requests` per window on average, with one number
//! per key and no timers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::{RateLimitConfig, RateLimitKey};
use mcpgate_core::any_matches;

/// Counted keys kept per shard before stale ones are swept.
const SWEEP_AT: usize = 4096;
const SHARDS: usize = 16;

/// The configured limits and their counters.
pub(crate) struct RateLimits {
    limits: Vec<Limit>,
    /// Arrival times by (limit, key), sharded to keep lock hold times short.
    shards: Vec<Mutex<HashMap<(usize, String), Instant>>>,
    epoch: Instant,
}

struct Limit {
    config: RateLimitConfig,
    /// Time each call uses up.
    interval: Duration,
}

impl RateLimits {
    /// Check the configured limits; a refusal names the limit's index.
    pub(crate) fn new(configs: &[RateLimitConfig]) -> Result<Self, (usize, String)> {
        let mut limits = Vec::new();
        for (index, config) in configs.iter().enumerate() {
            if config.requests == 0 {
                return Err((
                    index,
                    format!(
                        "authz.rate_limits[{index}]: requests must be at least 1 \
                     (to forbid a tool, use a policy or a scope rule)"
                    ),
                ));
            }
            if config.window.is_zero() {
                return Err((
                    index,
                    format!(
                        "authz.rate_limits[{index}]: window must be longer than zero, e.g. `1m`"
                    ),
                ));
            }
            limits.push(Limit {
                interval: config.window / config.requests,
                config: config.clone(),
            });
        }
        Ok(RateLimits {
            limits,
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            epoch: Instant::now(),
        })
    }

    /// Whether any limit is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.limits.is_empty()
    }

    /// How many limits are configured.
    pub(crate) fn len(&self) -> usize {
        self.limits.len()
    }

    /// The limits that cover `tool`, by index.
    pub(crate) fn covering(&self, tool: &str) -> Vec<usize> {
        self.limits
            .iter()
            .enumerate()
            .filter(|(_, limit)| any_matches(&limit.config.tools, tool))
            .map(|(index, _)| index)
            .collect()
    }

    /// Describe limit `index`, for explanations.
    pub(crate) fn describe(&self, index: usize) -> String {
        let config = &self.limits[index].config;
        format!(
            "rate limit #{} ({} calls per {:?} per {})",
            index + 1,
            config.requests,
            config.window,
            match config.per {
                RateLimitKey::Identity => "identity",
                RateLimitKey::Tool => "tool",
                RateLimitKey::IdentityAndTool => "identity and tool",
            }
        )
    }

    /// Count one call by `subject` of `tool` against `limits` (indices from
    /// [`RateLimits::covering`]). Either every limit takes the call or none
    /// does; when one is exhausted, says how long until it would pass.
    pub(crate) fn admit(
        &self,
        limits: &[usize],
        subject: &str,
        tool: &str,
        now: Instant,
    ) -> Result<(), Duration> {
        if limits.is_empty() {
            return Ok(());
        }
        let keys: Vec<(usize, String)> = limits
            .iter()
            .map(|&index| {
                let key = match self.limits[index].config.per {
                    RateLimitKey::Identity => subject.to_owned(),
                    RateLimitKey::Tool => tool.to_owned(),
                    RateLimitKey::IdentityAndTool => format!("{subject}\u{0}{tool}"),
                };
                (index, key)
            })
            .collect();
        // Lock every shard involved, in index order (no deadlock), so that
        // checking and charging all limits is one step: a call refused by
        // one limit uses up no other, and concurrent calls cannot both take
        // the last slot.
        let mut shard_indices: Vec<usize> = keys.iter().map(shard_of).collect();
        shard_indices.sort_unstable();
        shard_indices.dedup();
        let mut guards: Vec<_> = shard_indices
            .iter()
            .map(|&i| (i, self.shards[i].lock().unwrap_or_else(|p| p.into_inner())))
            .collect();
        let mut updates = Vec::with_capacity(keys.len());
        for key in &keys {
            let limit = &self.limits[key.0];
            let shard = &guards
                .iter()
                .find(|(i, _)| *i == shard_of(key))
                .expect("locked above")
                .1;
            let arrival = shard.get(key).copied().unwrap_or(now).max(now);
            let next = arrival + limit.interval;
            // This call's slot opens one window before `next`.
            let opens = next.checked_sub(limit.config.window).unwrap_or(self.epoch);
            if opens > now {
                return Err(opens - now);
            }
            updates.push(next);
        }
        for (key, next) in keys.into_iter().zip(updates) {
            let index = shard_of(&key);
            let shard = &mut guards
                .iter_mut()
                .find(|(i, _)| *i == index)
                .expect("locked above")
                .1;
            if shard.len() >= SWEEP_AT {
                shard.retain(|_, arrival| *arrival > now);
            }
            shard.insert(key, next);
        }
        Ok(())
    }
}

/// The shard a key lives in. A fixed hasher, so every thread agrees.
fn shard_of(key: &(usize, String)) -> usize {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    (hasher.finish() as usize) % SHARDS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per: RateLimitKey, requests: u32, window: Duration) -> RateLimits {
        RateLimits::new(&[RateLimitConfig {
            per,
            tools: vec!["write_*".into()],
            requests,
            window,
        }])
        .unwrap()
    }

    #[test]
    fn a_burst_of_the_limit_passes_then_calls_wait() {
        let rates = limits(RateLimitKey::Identity, 3, Duration::from_secs(60));
        let covering = rates.covering("write_item");
        assert_eq!(covering, [0]);
        assert!(rates.covering("read_item").is_empty());
        let now = Instant::now();
        for _ in 0..3 {
            assert_eq!(rates.admit(&covering, "alice", "write_item", now), Ok(()));
        }
        let wait = rates
            .admit(&covering, "alice", "write_item", now)
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(20), "one slot per 20 s");
        assert_eq!(
            rates.admit(&covering, "bob", "write_item", now),
            Ok(()),
            "each identity has its own budget"
        );
        let later = now + Duration::from_secs(20);
        assert_eq!(rates.admit(&covering, "alice", "write_item", later), Ok(()));
        assert!(
            rates
                .admit(&covering, "alice", "write_item", later)
                .is_err()
        );
    }

    #[test]
    fn per_tool_limits_are_shared_by_callers() {
        let rates = limits(RateLimitKey::Tool, 1, Duration::from_secs(1));
        let covering = rates.covering("write_item");
        let now = Instant::now();
        assert!(rates.admit(&covering, "alice", "write_item", now).is_ok());
        assert!(rates.admit(&covering, "bob", "write_item", now).is_err());
        assert!(rates.admit(&covering, "bob", "write_other", now).is_ok());
    }

    #[test]
    fn a_refused_call_uses_up_no_other_limit() {
        let rates = RateLimits::new(&[
            RateLimitConfig {
                per: RateLimitKey::Identity,
                tools: vec![],
                requests: 10,
                window: Duration::from_secs(60),
            },
            RateLimitConfig {
                per: RateLimitKey::Tool,
                tools: vec![],
                requests: 1,
                window: Duration::from_secs(60),
            },
        ])
        .unwrap();
        let covering = rates.covering("t");
        let now = Instant::now();
        assert!(rates.admit(&covering, "alice", "t", now).is_ok());
        for _ in 0..20 {
            assert!(rates.admit(&covering, "alice", "t", now).is_err());
        }
        // Alice's identity budget still has 9 calls, for other tools.
        for n in 0..9 {
            let tool = format!("u{n}");
            assert!(rates.admit(&covering, "alice", &tool, now).is_ok());
        }
        assert!(rates.admit(&covering, "alice", "v", now).is_err());
    }

    #[test]
    fn nonsense_limits_are_refused() {
        assert!(
            RateLimits::new(&[RateLimitConfig {
                per: RateLimitKey::Tool,
                tools: vec![],
                requests: 0,
                window: Duration::from_secs(1),
            }])
            .is_err()
        );
    }
}
