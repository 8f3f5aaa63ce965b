//! Running one generation for a handler: take a slot from the scheduler, check the prompt against
//! the context, start the runner, and hand out events. Dropping a [`Running`] (the client went
//! away and hyper dropped the response body or the handler future) drops the engine's receiver,
//! which cancels the generation within one decode step, and frees the slot.
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::app::AppState;
use crate::backend::{Finish, GenEvent, GenParams, ModelEntry, Stats};
use crate::error::ApiError;
use crate::fim::SessionTicket;
use crate::scheduler::Lease;

/// A generation in progress.
pub struct Running {
    /// Slot hold, released on drop; `None` for an autocomplete request superseded while queued.
    pub lease: Option<Lease>,
    events: tokio::sync::mpsc::UnboundedReceiver<GenEvent>,
    /// Autocomplete session registration: a newer request of the session cancels this one.
    ticket: Option<SessionTicket>,
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
    let ticket = params.fim.as_ref().and_then(|f| {
        let key = f.session.clone()?;
        Some(state.fim_sessions.begin(state, key, f.order))
    });
    let lease = match &ticket {
        None => state.sched.acquire(entry, num_ctx, keep_alive).await?,
        Some(t) => tokio::select! {
            lease = state.sched.acquire(entry, num_ctx, keep_alive) => lease?,
            () = t.superseded.notified() => return Ok(Running::superseded(state, started)),
        },
    };
    let runner = lease.resident.runner.clone();
    let n_ctx = lease.resident.n_ctx_per_seq;
    // FIM requests are windowed around the cursor by the autocomplete path, which refuses
    // what still does not fit itself; count only whole prompts.
    let prompt_tokens = if params.fim.is_some() {
        0
    } else {
        runner
            .count_tokens(&params.prompt)
            .map_err(|e| ApiError::internal(e.to_string()))?
            .saturating_add(params.context.len())
    };
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
        lease: Some(lease),
        events: stream.events,
        ticket,
        started,
        load_duration,
        state: state.clone(),
        finished: false,
    })
}

impl Running {
    /// An autocomplete request that a newer one replaced before it got a slot: it ends at once,
    /// cancelled, having computed nothing.
    fn superseded(state: &AppState, started: Instant) -> Running {
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let _ = tx.send(GenEvent::Done(Finish::Cancelled, Stats::default()));
        state.metrics.superseded.fetch_add(1, Ordering::Relaxed);
        Running {
            lease: None,
            events,
            ticket: None,
            started,
            load_duration: Duration::ZERO,
            state: state.clone(),
            finished: false,
        }
    }

    /// Next event; `None` after the end.
    pub async fn next(&mut self) -> Option<GenEvent> {
        if self.finished {
            return None;
        }
        let ev = match &self.ticket {
            None => self.events.recv().await,
            Some(t) => {
                let gone = t.superseded.clone();
                tokio::select! {
                    ev = self.events.recv() => ev,
                    () = gone.notified() => {
                        // Closing the receiver cancels the generation within one decode step.
                        self.events.close();
                        self.state.metrics.superseded.fetch_add(1, Ordering::Relaxed);
                        self.finished = true;
                        return Some(GenEvent::Done(Finish::Cancelled, Stats::default()));
                    }
                }
            }
        };
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
            let model = self.lease.as_ref().map(|l| l.resident.name.as_str());
            tracing::info!(model, "client went away: generation cancelled");
        }
    }
}

/// Nanoseconds for Ollama's duration fields.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
