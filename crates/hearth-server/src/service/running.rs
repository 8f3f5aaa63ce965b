//! A generation in progress, as typed events every protocol encodes in its own framing.
//! Dropping a [`Running`] (the client went away and hyper dropped the response body or the
//! handler future) drops the engine's receiver, which cancels the generation within one decode
//! step, and frees the slot.
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;

use crate::backend::{BackendError, Finish, GenEvent, Runner, Stats};
use crate::metrics::Metrics;
use crate::service::error::{blocking, ServiceError};
use crate::service::scheduler::Lease;
use crate::service::sessions::SessionTicket;
use crate::service::think::{Piece, ThinkSplit};
use crate::service::tools::{ToolCall, ToolHold};

/// One event of a running generation.
#[derive(Debug)]
pub(crate) enum Event {
    /// Text, as soon as it is final (held back while it may still be a tool call).
    Text(String),
    /// Thinking text of a reasoning model (before the answer's text).
    Thinking(String),
    /// Tool calls parsed from the output (before `Done`).
    ToolCalls(Vec<ToolCall>),
    /// The end.
    Done(Done),
    /// A failure; nothing follows.
    Error(ServiceError),
}

/// How a generation ended.
#[derive(Debug, Clone, Default)]
pub(crate) struct Done {
    /// Why it ended (`None` only for a stream cut off by an error).
    pub(crate) finish: Option<Finish>,
    /// Counts and timings.
    pub(crate) stats: Stats,
    /// From the start of the request to the end.
    pub(crate) total: Duration,
    /// Load time paid by this request.
    pub(crate) load: Duration,
    /// Ollama's `context`: the earlier tokens, this prompt and the answer.
    pub(crate) context: Option<Vec<i32>>,
    /// Turns dropped to fit the context.
    pub(crate) truncated: Option<Truncated>,
    /// Insecure-code findings in the answer's code blocks, when the request asked.
    pub(crate) check: Option<Vec<hearth_codecheck::BlockFindings>>,
    /// Generated tokens that were thinking (OpenAI's `reasoning_tokens`): the thinking text
    /// and its tags tokenized again, at most all generated tokens.
    pub(crate) reasoning_tokens: u32,
}

/// What was cut from a conversation that did not fit the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated {
    /// Messages dropped (oldest first, never the system message or the last turn).
    pub(crate) messages: usize,
    /// Prompt tokens before and after.
    pub(crate) tokens_before: usize,
    /// Prompt tokens sent.
    pub(crate) tokens_after: usize,
}

/// A finished generation, collected.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    /// All text (outside tool calls and thinking).
    pub(crate) text: String,
    /// Thinking text.
    pub(crate) thinking: String,
    /// Tool calls.
    pub(crate) tool_calls: Vec<ToolCall>,
    /// The end.
    pub(crate) done: Done,
}

/// Ollama's conversational memory for one request.
pub(crate) struct Memory {
    /// The request's `context` tokens.
    pub(crate) prior: Vec<i32>,
    /// The rendered prompt.
    pub(crate) prompt: String,
}

impl Memory {
    /// The reply's `context`: the earlier tokens, then this prompt and `answer` tokenized.
    fn context(self, runner: &dyn Runner, answer: &str) -> Result<Vec<i32>, BackendError> {
        let mut tokens = self.prior;
        tokens.extend(runner.tokenize(&format!("{}{answer}", self.prompt))?);
        Ok(tokens)
    }
}

/// A generation in progress.
pub(crate) struct Running {
    /// Slot hold, released on drop; `None` for an autocomplete request superseded while queued.
    pub(crate) lease: Option<Lease>,
    events: UnboundedReceiver<GenEvent>,
    /// Events made elsewhere (an upstream's answer), passed through as they are.
    direct: Option<UnboundedReceiver<Event>>,
    /// Autocomplete session registration: a newer request of the session cancels this one.
    pub(crate) ticket: Option<SessionTicket>,
    pub(crate) started: Instant,
    /// What the request's conversation lost to fit the context.
    pub(crate) truncated: Option<Truncated>,
    /// Tool-call hold-back, when the request offered tools.
    pub(crate) tools: Option<ToolHold>,
    /// Thinking split, for conversations.
    pub(crate) think: Option<ThinkSplit>,
    /// Set for Ollama generate requests that report `context`.
    pub(crate) memory: Option<Memory>,
    /// Check the answer's code at the end.
    pub(crate) check: bool,
    /// The raw output so far, kept when `memory` or `check` need it, and up to the end of a
    /// thinking block for the thinking count.
    answer: String,
    pub(crate) metrics: Arc<Metrics>,
    pending: VecDeque<Event>,
    /// The final event being computed (context, code check): kept here so that [`Running::next`]
    /// may be dropped and called again (a keep-alive timeout) without losing it.
    ending: Option<Ending>,
    finished: bool,
}

type Ending = std::pin::Pin<Box<dyn std::future::Future<Output = Event> + Send>>;

impl Running {
    /// A running generation over `events`.
    pub(crate) fn new(
        events: UnboundedReceiver<GenEvent>,
        started: Instant,
        metrics: Arc<Metrics>,
    ) -> Self {
        Running {
            lease: None,
            events,
            direct: None,
            ticket: None,
            started,
            truncated: None,
            tools: None,
            think: None,
            memory: None,
            check: false,
            answer: String::new(),
            metrics,
            pending: VecDeque::new(),
            ending: None,
            finished: false,
        }
    }

    /// An autocomplete request that a newer one replaced before it got a slot: it ends at once,
    /// cancelled, having computed nothing.
    pub(crate) fn superseded(started: Instant, metrics: Arc<Metrics>) -> Running {
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let _ = tx.send(GenEvent::Done(Finish::Cancelled, Stats::default()));
        metrics.superseded.fetch_add(1, Ordering::Relaxed);
        Running::new(events, started, metrics)
    }

    /// A generation whose events are made elsewhere (an upstream model's answer, already in
    /// the service's terms); it ends after `Done` or `Error`.
    #[cfg_attr(not(feature = "cloud"), allow(dead_code))]
    pub(crate) fn from_events(
        events: UnboundedReceiver<Event>,
        started: Instant,
        metrics: Arc<Metrics>,
    ) -> Running {
        let (_, none) = tokio::sync::mpsc::unbounded_channel();
        let mut r = Running::new(none, started, metrics);
        r.direct = Some(events);
        r
    }

    /// Load time paid by this request.
    pub(crate) fn load_duration(&self) -> Duration {
        self.lease
            .as_ref()
            .map_or(Duration::ZERO, |l| l.load_duration)
    }

    async fn raw_next(&mut self) -> Option<GenEvent> {
        let Some(t) = &self.ticket else {
            return self.events.recv().await;
        };
        let gone = t.superseded.clone();
        tokio::select! {
            ev = self.events.recv() => ev,
            () = gone.notified() => {
                // Closing the receiver cancels the generation within one decode step.
                self.events.close();
                self.metrics.superseded.fetch_add(1, Ordering::Relaxed);
                Some(GenEvent::Done(Finish::Cancelled, Stats::default()))
            }
        }
    }

    /// Next event; `None` after the end. Cancel-safe: dropping the future loses nothing.
    pub(crate) async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                return Some(ev);
            }
            if let Some(ending) = &mut self.ending {
                let ev = ending.await;
                self.ending = None;
                self.pending.push_back(ev);
                continue;
            }
            if self.finished {
                return None;
            }
            if let Some(direct) = &mut self.direct {
                let ev = direct.recv().await;
                if matches!(ev, None | Some(Event::Done(_) | Event::Error(_))) {
                    self.finished = true;
                }
                return ev;
            }
            match self.raw_next().await {
                Some(GenEvent::Text(t)) => {
                    // The raw text is kept for Ollama's context and the code check (all of
                    // it), and for the thinking count (only until the answer begins).
                    let thinking = self.think.as_ref().is_some_and(ThinkSplit::may_think);
                    if self.memory.is_some() || self.check || thinking {
                        self.answer.push_str(&t);
                    }
                    let pieces = match &mut self.think {
                        Some(split) => split.push(&t),
                        None => vec![Piece::Text(t)],
                    };
                    self.queue(pieces);
                }
                Some(GenEvent::Done(finish, stats)) => {
                    self.finished = true;
                    self.metrics.tokens(
                        stats.prompt_tokens,
                        stats.cached_tokens,
                        stats.eval_tokens,
                    );
                    self.metrics.prefill(
                        stats.prompt_tokens.saturating_sub(stats.cached_tokens),
                        stats.prompt_eval,
                    );
                    if let Some(split) = &mut self.think {
                        let pieces = split.finish();
                        self.queue(pieces);
                    }
                    if let Some(hold) = &mut self.tools {
                        let (rest, calls) = hold.finish();
                        if !rest.is_empty() {
                            self.pending.push_back(Event::Text(rest));
                        }
                        if !calls.is_empty() {
                            self.pending.push_back(Event::ToolCalls(calls));
                        }
                    }
                    self.ending = Some(self.finish_up(finish, stats));
                }
                Some(GenEvent::Error(e)) => {
                    self.finished = true;
                    let model = self
                        .lease
                        .as_ref()
                        .map_or(String::new(), |l| l.resident.name.clone());
                    return Some(Event::Error(ServiceError::backend(&model, e)));
                }
                None => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }

    /// Queue split output: thinking as is, answer text through the tool-call hold-back.
    fn queue(&mut self, pieces: Vec<Piece>) {
        for p in pieces {
            match p {
                Piece::Thinking(t) => self.pending.push_back(Event::Thinking(t)),
                Piece::Text(t) => {
                    let shown = match &mut self.tools {
                        Some(hold) => hold.push(&t),
                        None => t,
                    };
                    if !shown.is_empty() {
                        self.pending.push_back(Event::Text(shown));
                    }
                }
            }
        }
    }

    /// The `Done` event, with Ollama's `context` and the code check computed off the async
    /// workers (the prompt may be megabytes; tree-sitter parses every code block).
    fn finish_up(&mut self, finish: Finish, stats: Stats) -> Ending {
        let memory = self.memory.take();
        let check = self.check;
        let answer = std::mem::take(&mut self.answer);
        let thought = self
            .think
            .as_ref()
            .map(|t| t.thinking_part(&answer).to_string())
            .unwrap_or_default();
        let (runner, model): (Option<Arc<dyn Runner>>, String) = match &self.lease {
            Some(l) => (Some(l.resident.runner.clone()), l.resident.name.clone()),
            None => (None, String::new()),
        };
        let mut done = Done {
            finish: Some(finish),
            stats,
            total: self.started.elapsed(),
            load: self.load_duration(),
            context: None,
            truncated: self.truncated,
            check: None,
            reasoning_tokens: 0,
        };
        Box::pin(async move {
            if memory.is_none() && !check && thought.is_empty() {
                return Event::Done(done);
            }
            let eval_tokens = done.stats.eval_tokens;
            let extra = blocking(move || {
                let reasoning = match (&runner, thought.is_empty()) {
                    (Some(r), false) => r
                        .tokenize(&thought)
                        .map_or(0, |t| u32::try_from(t.len()).unwrap_or(u32::MAX))
                        .min(eval_tokens),
                    _ => 0,
                };
                let context = match (memory, runner) {
                    (Some(m), Some(r)) => Some(
                        m.context(&*r, &answer)
                            .map_err(|e| ServiceError::backend(&model, e))?,
                    ),
                    (Some(m), None) => Some(m.prior),
                    (None, _) => None,
                };
                let findings = check.then(|| hearth_codecheck::check_markdown(&answer, None));
                Ok((context, findings, reasoning))
            })
            .await;
            match extra {
                Ok((context, findings, reasoning)) => {
                    done.context = context;
                    done.check = findings;
                    done.reasoning_tokens = reasoning;
                    Event::Done(done)
                }
                Err(e) => Event::Error(e),
            }
        })
    }

    /// Run to the end and collect.
    pub(crate) async fn collect(mut self) -> Result<Outcome, ServiceError> {
        let mut out = Outcome::default();
        while let Some(ev) = self.next().await {
            match ev {
                Event::Text(t) => out.text.push_str(&t),
                Event::Thinking(t) => out.thinking.push_str(&t),
                Event::ToolCalls(c) => out.tool_calls.extend(c),
                Event::Done(d) => out.done = d,
                Event::Error(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.finished {
            self.metrics.cancelled.fetch_add(1, Ordering::Relaxed);
            let model = self.lease.as_ref().map(|l| l.resident.name.as_str());
            tracing::info!(model, "client went away: generation cancelled");
        }
    }
}
