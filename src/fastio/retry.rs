//! When to try a request again, and after how long (`fastio-api.md` §9, DESIGN §4). The decision
//! is a pure function of the policy, the kind of operation, the attempt number and the error, so
//! it is tested without a network.

use std::time::Duration;

use rand::RngExt as _;

use super::error::Error;

/// How hard the client tries before giving up. `Default` holds the contract's values; tests
/// shrink them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total tries per request, the first included (the CLI: 1 + 3 retries).
    pub max_attempts: u32,
    /// First backoff for envelope calls; doubles with each retry (CLI: 500 ms).
    pub base_delay: Duration,
    /// First backoff for chunk uploads (CLI: 2 s).
    pub chunk_base_delay: Duration,
    /// Upper bound of any backoff (CLI: 30 s).
    pub max_delay: Duration,
    /// The longest 429 wait the client sits out by itself; a longer one surfaces as
    /// [`Error::RateLimited`] so the caller can answer 429 with `Retry-After`.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            chunk_base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

/// What may be repeated of an operation, which decides the retryable errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Reads, deletes and other idempotent calls: 429, 502–504, any transport failure.
    Idempotent,
    /// A chunk upload, idempotent by its `order`: 429, any 5xx, any transport failure.
    Chunk,
    /// A request whose body must not arrive twice (session create, single call, complete):
    /// only 429 and failures to connect, which prove the server never saw it.
    Once,
}

impl RetryPolicy {
    /// The pause before try `attempt + 1` after try `attempt` (1-based) failed with `error`, or
    /// `None` to give up. `jitter` in `[0, 1]` picks a point in the upper half of the backoff.
    pub(crate) fn delay_before_retry(
        &self,
        replay: Replay,
        attempt: u32,
        error: &Error,
        jitter: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let base = match replay {
            Replay::Chunk => self.chunk_base_delay,
            Replay::Idempotent | Replay::Once => self.base_delay,
        };
        let backoff = self.backoff(base, attempt, jitter);
        match error {
            Error::RateLimited { retry_after, .. } if *retry_after <= self.max_rate_limit_wait => {
                Some(if retry_after.is_zero() {
                    backoff
                } else {
                    *retry_after
                })
            }
            Error::RateLimited { .. } => None,
            Error::Transport(err) if err.is_connect() => Some(backoff),
            Error::Transport(_) => (replay != Replay::Once).then_some(backoff),
            Error::Upstream { status, .. } => {
                let retry = match replay {
                    Replay::Idempotent => matches!(status, 502..=504),
                    Replay::Chunk => *status >= 500,
                    Replay::Once => false,
                };
                retry.then_some(backoff)
            }
            _ => None,
        }
    }

    /// `base × 2^(attempt-1)`, capped at `max_delay`, then jittered into its upper half so that
    /// parallel clients spread out.
    pub(crate) fn backoff(&self, base: Duration, attempt: u32, jitter: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = base.saturating_mul(1 << exponent).min(self.max_delay);
        full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
    }
}

/// A uniform random jitter in `[0, 1]`.
pub(crate) fn random_jitter() -> f64 {
    rand::rng().random_range(0.0..=1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upstream(status: u16) -> Error {
        Error::Upstream {
            status,
            code: None,
            message: format!("HTTP {status}"),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let policy = RetryPolicy::default();
        let base = Duration::from_millis(500);
        assert_eq!(policy.backoff(base, 1, 1.0), Duration::from_millis(500));
        assert_eq!(policy.backoff(base, 2, 1.0), Duration::from_secs(1));
        assert_eq!(policy.backoff(base, 3, 1.0), Duration::from_secs(2));
        assert_eq!(policy.backoff(base, 30, 1.0), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let policy = RetryPolicy::default();
        let base = Duration::from_secs(2);
        assert_eq!(policy.backoff(base, 2, 0.0), Duration::from_secs(2));
        assert_eq!(policy.backoff(base, 2, 0.5), Duration::from_secs(3));
        assert_eq!(policy.backoff(base, 2, 1.0), Duration::from_secs(4));
        let random = policy.backoff(base, 2, random_jitter());
        assert!(random >= Duration::from_secs(2) && random <= Duration::from_secs(4));
    }

    #[test]
    fn rate_limit_waits_as_told_within_the_bound() {
        let policy = RetryPolicy::default();
        let short = Error::RateLimited {
            retry_after: Duration::from_secs(3),
            code: Some(10368),
        };
        let long = Error::RateLimited {
            retry_after: Duration::from_secs(600),
            code: Some(10368),
        };
        for replay in [Replay::Idempotent, Replay::Chunk, Replay::Once] {
            assert_eq!(
                policy.delay_before_retry(replay, 1, &short, 0.0),
                Some(Duration::from_secs(3))
            );
            assert_eq!(policy.delay_before_retry(replay, 1, &long, 0.0), None);
        }
    }

    #[test]
    fn server_errors_are_retried_by_operation_kind() {
        let policy = RetryPolicy::default();
        let decide = |replay, status| policy.delay_before_retry(replay, 1, &upstream(status), 1.0);
        assert!(decide(Replay::Idempotent, 503).is_some());
        assert!(decide(Replay::Idempotent, 500).is_none());
        assert!(decide(Replay::Chunk, 500).is_some());
        assert_eq!(decide(Replay::Chunk, 502), Some(Duration::from_secs(2)));
        assert!(decide(Replay::Once, 503).is_none());
        assert!(decide(Replay::Idempotent, 400).is_none());
        assert!(decide(Replay::Chunk, 404).is_none());
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let error = upstream(502);
        assert!(
            policy
                .delay_before_retry(Replay::Idempotent, 2, &error, 0.0)
                .is_some()
        );
        assert!(
            policy
                .delay_before_retry(Replay::Idempotent, 3, &error, 0.0)
                .is_none()
        );
    }
}
