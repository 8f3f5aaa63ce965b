//! Prometheus text metrics: requests, tokens, latency, loaded models, memory, and the queue /
//! running / KV gauges routers read (with vLLM- and llama.cpp-style aliases).
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Counters shared by all handlers.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// Prompt tokens processed.
    pub(crate) prompt_tokens: AtomicU64,
    /// Prompt tokens served from the prefix cache.
    pub(crate) cached_tokens: AtomicU64,
    /// Tokens generated.
    pub(crate) generated_tokens: AtomicU64,
    /// Generations cancelled by a client that went away.
    pub(crate) cancelled: AtomicU64,
    /// Autocomplete requests superseded by a newer one of the same client session.
    pub(crate) superseded: AtomicU64,
    /// Requests rejected because the queue was full.
    pub(crate) rejected: AtomicU64,
    /// Conversations that dropped their oldest turns to fit the context.
    pub(crate) truncated_requests: AtomicU64,
    /// Messages dropped that way.
    pub(crate) truncated_messages: AtomicU64,
    /// Measured prompt speed of local generations, tokens/s (an `f64`'s bits; 0: none yet):
    /// a moving average over prompts of at least [`MIN_PREFILL_SAMPLE`] evaluated tokens.
    prefill_tok_s: AtomicU64,
}

/// Shorter prompt evaluations say little about prompt speed (fixed costs dominate).
pub(crate) const MIN_PREFILL_SAMPLE: u32 = 64;

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Gauges sampled at scrape time from the scheduler.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Gauges {
    /// Models resident.
    pub(crate) loaded_models: usize,
    /// Bytes held by resident models.
    pub(crate) memory_bytes: u64,
    /// Requests waiting for a sequence slot.
    pub(crate) waiting: usize,
    /// Requests generating.
    pub(crate) running: usize,
    /// KV-cache utilization 0..1.
    pub(crate) kv_usage: f64,
    /// Engine sequence slots generating (all models).
    pub(crate) slots_busy: u64,
    /// Autocomplete sessions with a request in flight.
    pub(crate) fim_sessions: usize,
}

impl Metrics {
    /// Count one finished request.
    pub(crate) fn observe(&self, route: &str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((route.to_string(), status)).or_insert(0) += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_string()).or_default();
            let s = elapsed.as_secs_f64();
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    h.counts[i] += 1;
                }
            }
            h.sum += s;
            h.count += 1;
        }
    }

    /// Add token counts of one generation.
    pub(crate) fn tokens(&self, prompt: u32, cached: u32, generated: u32) {
        self.prompt_tokens
            .fetch_add(u64::from(prompt), Ordering::Relaxed);
        self.cached_tokens
            .fetch_add(u64::from(cached), Ordering::Relaxed);
        self.generated_tokens
            .fetch_add(u64::from(generated), Ordering::Relaxed);
    }

    /// One local prompt evaluation: `tokens` evaluated (not from the cache) in `took`.
    pub(crate) fn prefill(&self, tokens: u32, took: std::time::Duration) {
        let secs = took.as_secs_f64();
        if tokens < MIN_PREFILL_SAMPLE || secs <= 0.0 {
            return;
        }
        let sample = f64::from(tokens) / secs;
        let _ = self
            .prefill_tok_s
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let old = f64::from_bits(bits);
                let new = if old > 0.0 {
                    0.7 * old + 0.3 * sample
                } else {
                    sample
                };
                Some(new.to_bits())
            });
    }

    /// The measured prompt speed (tokens/s), once there is one.
    pub(crate) fn prefill_tok_s(&self) -> Option<f64> {
        let v = f64::from_bits(self.prefill_tok_s.load(Ordering::Relaxed));
        (v > 0.0).then_some(v)
    }

    /// Count one conversation that dropped `messages` turns to fit the context.
    pub(crate) fn truncated(&self, messages: usize) {
        self.truncated_requests.fetch_add(1, Ordering::Relaxed);
        self.truncated_messages
            .fetch_add(messages as u64, Ordering::Relaxed);
    }

    /// Render the Prometheus text exposition.
    pub(crate) fn render(&self, g: &Gauges) -> String {
        let mut o = String::new();
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        counter(
            &mut o,
            "hearth_prompt_tokens_total",
            "Prompt tokens processed.",
            self.prompt_tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "hearth_prompt_tokens_cached_total",
            "Prompt tokens reused from the prefix cache.",
            self.cached_tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "hearth_generated_tokens_total",
            "Tokens generated.",
            self.generated_tokens.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "hearth_generations_cancelled_total",
            "Generations cancelled by client disconnect.",
            self.cancelled.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "hearth_completions_superseded_total",
            "Autocomplete requests superseded by a newer request of the same client session.",
            self.superseded.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "hearth_requests_rejected_total",
            "Requests rejected with 503 because the queue was full.",
            self.rejected.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "hearth_truncated_requests_total",
            "Conversations that dropped their oldest turns to fit the context.",
            self.truncated_requests.load(Ordering::Relaxed),
        );
        counter(
            &mut o,
            "hearth_truncated_messages_total",
            "Messages dropped to fit the context.",
            self.truncated_messages.load(Ordering::Relaxed),
        );
        if let Some(v) = self.prefill_tok_s() {
            let _ = writeln!(
                o,
                "# HELP hearth_prefill_tokens_per_second Measured prompt speed of local generations (moving average).\n# TYPE hearth_prefill_tokens_per_second gauge\nhearth_prefill_tokens_per_second {v:.1}"
            );
        }
        let _ = writeln!(o, "# HELP hearth_requests_total HTTP requests by route and status.\n# TYPE hearth_requests_total counter");
        if let Ok(m) = self.requests.lock() {
            for ((route, status), v) in m.iter() {
                let _ = writeln!(
                    o,
                    "hearth_requests_total{{route=\"{route}\",status=\"{status}\"}} {v}"
                );
            }
        }
        let _ = writeln!(o, "# HELP hearth_request_duration_seconds Request latency.\n# TYPE hearth_request_duration_seconds histogram");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        o,
                        "hearth_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    o,
                    "hearth_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    o,
                    "hearth_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    o,
                    "hearth_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        let gauge = |o: &mut String, name: &str, help: &str, v: String| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut o,
            "hearth_loaded_models",
            "Models resident in memory.",
            g.loaded_models.to_string(),
        );
        gauge(
            &mut o,
            "hearth_memory_bytes",
            "Bytes held by resident models.",
            g.memory_bytes.to_string(),
        );
        gauge(
            &mut o,
            "hearth_requests_waiting",
            "Requests waiting for a sequence slot.",
            g.waiting.to_string(),
        );
        gauge(
            &mut o,
            "hearth_requests_running",
            "Requests generating.",
            g.running.to_string(),
        );
        gauge(
            &mut o,
            "hearth_slots_busy",
            "Engine sequence slots generating, all models.",
            g.slots_busy.to_string(),
        );
        gauge(
            &mut o,
            "hearth_autocomplete_sessions",
            "Autocomplete sessions with a request in flight.",
            g.fim_sessions.to_string(),
        );
        gauge(
            &mut o,
            "hearth_kv_cache_usage_ratio",
            "KV-cache utilization (0-1).",
            format!("{:.6}", g.kv_usage),
        );
        // Aliases under the names routers already map (vLLM, llama.cpp server).
        gauge(
            &mut o,
            "vllm:num_requests_waiting",
            "Alias of hearth_requests_waiting.",
            g.waiting.to_string(),
        );
        gauge(
            &mut o,
            "vllm:num_requests_running",
            "Alias of hearth_requests_running.",
            g.running.to_string(),
        );
        gauge(
            &mut o,
            "vllm:kv_cache_usage_perc",
            "Alias of hearth_kv_cache_usage_ratio.",
            format!("{:.6}", g.kv_usage),
        );
        gauge(
            &mut o,
            "llamacpp:requests_processing",
            "Alias of hearth_requests_running.",
            g.running.to_string(),
        );
        gauge(
            &mut o,
            "llamacpp:requests_deferred",
            "Alias of hearth_requests_waiting.",
            g.waiting.to_string(),
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render() {
        let m = Metrics::default();
        m.observe("/api/generate", 200, Duration::from_millis(30));
        m.tokens(10, 4, 5);
        let t = m.render(&Gauges {
            running: 2,
            waiting: 1,
            kv_usage: 0.5,
            ..Gauges::default()
        });
        assert!(t.contains("hearth_requests_total{route=\"/api/generate\",status=\"200\"} 1"));
        assert!(t.contains(
            "hearth_request_duration_seconds_bucket{route=\"/api/generate\",le=\"0.05\"} 1"
        ));
        assert!(t.contains(
            "hearth_request_duration_seconds_bucket{route=\"/api/generate\",le=\"0.025\"} 0"
        ));
        assert!(t.contains("vllm:num_requests_running 2"));
        assert!(t.contains("vllm:kv_cache_usage_perc 0.500000"));
        assert!(t.contains("hearth_generated_tokens_total 5"));
        assert!(
            !t.contains("hearth_prefill_tokens_per_second"),
            "none measured yet"
        );
    }

    #[test]
    fn prefill_speed_is_a_moving_average_of_real_samples() {
        let m = Metrics::default();
        assert_eq!(m.prefill_tok_s(), None);
        // Too short, or no time: not a sample.
        m.prefill(10, Duration::from_millis(10));
        m.prefill(1000, Duration::ZERO);
        assert_eq!(m.prefill_tok_s(), None);
        m.prefill(1000, Duration::from_secs(10));
        assert_eq!(m.prefill_tok_s(), Some(100.0));
        m.prefill(2000, Duration::from_secs(10));
        assert!((m.prefill_tok_s().unwrap() - 130.0).abs() < 1e-9);
        assert!(m
            .render(&Gauges::default())
            .contains("hearth_prefill_tokens_per_second 130.0"));
    }
}
