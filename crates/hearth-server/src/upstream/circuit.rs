//! One circuit breaker per upstream: after 3 failures in a row (429, 5xx, timeouts, refused
//! connections) it opens for 60 s, or for as long as a `Retry-After` says; then one request
//! may try again, and a success closes it.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures in a row that open a circuit.
pub(crate) const TRIP_AFTER: u32 = 3;
/// How long an opened circuit stays open without a `Retry-After`.
pub(crate) const OPEN_FOR: Duration = Duration::from_secs(60);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

#[derive(Debug, Default)]
struct State {
    failures: u32,
    open_until: Option<Instant>,
}

#[derive(Debug, Default)]
pub(crate) struct Breakers {
    by_upstream: Mutex<HashMap<String, State>>,
}

impl Breakers {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, State>) -> T) -> T {
        let mut g = self
            .by_upstream
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }

    /// Upstreams whose circuit is open at `now`.
    pub(crate) fn open(&self, now: Instant) -> Vec<String> {
        self.with(|m| {
            m.iter()
                .filter(|(_, s)| s.open_until.is_some_and(|t| t > now))
                .map(|(k, _)| k.clone())
                .collect()
        })
    }

    pub(crate) fn is_open(&self, upstream: &str, now: Instant) -> bool {
        self.with(|m| {
            m.get(upstream)
                .and_then(|s| s.open_until)
                .is_some_and(|t| t > now)
        })
    }

    pub(crate) fn success(&self, upstream: &str) {
        self.with(|m| {
            m.remove(upstream);
        });
    }

    /// A failure at `now`; `retry_after` opens the circuit at once for that long.
    pub(crate) fn failure(&self, upstream: &str, now: Instant, retry_after: Option<Duration>) {
        self.with(|m| {
            let s = m.entry(upstream.to_string()).or_default();
            s.failures = s.failures.saturating_add(1);
            if let Some(d) = retry_after {
                s.open_until = Some(now + d.min(MAX_RETRY_AFTER));
            } else if s.failures >= TRIP_AFTER {
                s.open_until = Some(now + OPEN_FOR);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_three_failures_and_closes_after_a_minute() {
        let b = Breakers::default();
        let t0 = Instant::now();
        b.failure("up", t0, None);
        b.failure("up", t0, None);
        assert!(!b.is_open("up", t0));
        b.failure("up", t0, None);
        assert!(b.is_open("up", t0 + Duration::from_secs(59)));
        assert_eq!(b.open(t0), vec!["up".to_string()]);
        assert!(!b.is_open("up", t0 + Duration::from_secs(61)));
        // Half-open: one more failure opens it again at once.
        b.failure("up", t0 + Duration::from_secs(61), None);
        assert!(b.is_open("up", t0 + Duration::from_secs(62)));
        b.success("up");
        assert!(!b.is_open("up", t0 + Duration::from_secs(62)));
    }

    #[test]
    fn retry_after_opens_at_once_for_that_long() {
        let b = Breakers::default();
        let t0 = Instant::now();
        b.failure("up", t0, Some(Duration::from_secs(5)));
        assert!(b.is_open("up", t0 + Duration::from_secs(4)));
        assert!(!b.is_open("up", t0 + Duration::from_secs(6)));
        assert!(!b.is_open("other", t0));
    }
}
