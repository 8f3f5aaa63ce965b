//! Running one generation for a handler: take a slot from the scheduler, check the prompt against
//! the context, start the runner, and hand out events. Dropping a [`Running`] (the client went
//! away and hyper dropped the response body or the handler future) drops the engine's receiver,
//! which cancels the generation within one decode step, and frees the slot.
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::app::AppState;
use crate::backend::{Finish, GenEvent, GenParams, ModelEntry, Stats};
use crate::error::ApiError;
use crate::scheduler::Lease;

/// A generation in progress.
pub struct Running {
    /// Slot hold; released on drop.
    pub lease: Lease,
    events: tokio::sync::mpsc::UnboundedReceiver<GenEvent>,
    /// When the request started (for total_duration).
    pub started: Instant,
    /// Load time paid by this request.
    pub load_duration: Duration,
    state: AppState,
    finished: bool,
}

/// What a finished generation produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// All text.
    pub text: String,
    /// Why it ended.
    pub finish: Option<Finish>,
    /// Stats.
    pub stats: Stats,
}

/// Start generating `params` on `entry`.
pub async fn start(
    state: &AppState,
    entry: &ModelEntry,
    num_ctx: Option<u32>,
    keep_alive: Option<Option<Duration>>,
    params: GenParams,
) -> Result<Running, ApiError> {
    let started = Instant::now();
    if params.prompt.len() > state.cfg.max_prompt_bytes {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "prompt is {} bytes, more than the limit of {}",
                params.prompt.len(),
                state.cfg.max_prompt_bytes
            ),
        ));
    }
    let lease = state.sched.acquire(entry, num_ctx, keep_alive).await?;
    let runner = lease.resident.runner.clone();
    let n_ctx = lease.resident.n_ctx_per_seq;
    let prompt_tokens = runner
        .count_tokens(&params.prompt)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if prompt_tokens >= n_ctx as usize {
        return Err(ApiError::bad_request(format!(
            "prompt is {prompt_tokens} tokens, more than the context of {n_ctx} tokens for model \"{}\"",
            entry.name
        )));
    }
    let stream = runner.generate(params).map_err(|e| match e {
        crate::backend::BackendError::Invalid(m) => ApiError::bad_request(m),
        other => ApiError::internal(other.to_string()),
    })?;
    let load_duration = lease.load_duration;
    Ok(Running {
        lease,
        events: stream.events,
        started,
        load_duration,
        state: state.clone(),
        finished: false,
    })
}

impl Running {
    /// Next event; `None` after the end.
    pub async fn next(&mut self) -> Option<GenEvent> {
        if self.finished {
            return None;
        }
        let ev = self.events.recv().await;
        match &ev {
            Some(GenEvent::Done(_, st)) => {
                self.finished = true;
                self.state
                    .metrics
                    .tokens(st.prompt_tokens, st.cached_tokens, st.eval_tokens);
            }
            Some(GenEvent::Error(_)) | None => self.finished = true,
            Some(GenEvent::Text(_)) => {}
        }
        ev
    }

    /// Run to the end and collect.
    pub async fn collect(mut self) -> Result<Outcome, ApiError> {
        let mut out = Outcome::default();
        while let Some(ev) = self.next().await {
            match ev {
                GenEvent::Text(t) => out.text.push_str(&t),
                GenEvent::Done(f, st) => {
                    out.finish = Some(f);
                    out.stats = st;
                }
                GenEvent::Error(e) => return Err(ApiError::internal(e)),
            }
        }
        Ok(out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            self.state.metrics.cancelled.fetch_add(1, Ordering::Relaxed);
            tracing::info!(model = %self.lease.resident.name, "client went away: generation cancelled");
        }
    }
}

/// Nanoseconds for Ollama's duration fields.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
