//! The per-model scheduler thread: owns the llama.cpp context and its sequence slots.
//!
//! Every step it (1) drops cancelled generations, (2) moves queued requests into free slots
//! (the one sharing the longest token prefix with the prompt; the rest of that slot's KV is
//! removed with `seq_rm`), (3) builds ONE batch with the pending token of every generating
//! sequence plus prompt chunks of the others, up to `n_batch` tokens, (4) decodes it and
//! (5) samples a token for every sequence whose logits were computed.
use std::collections::VecDeque;
use std::sync::{mpsc, Mutex};
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::session::{LlamaStateSeqFlags, SeqState};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use tokio::sync::mpsc::UnboundedSender;

use crate::heal;
use crate::prompt_cache::{common_prefix, PromptCache, MIN_TOKENS};
use crate::sampler::Sampler;
use crate::text::{StopMatcher, Utf8Stream};
use crate::types::{
    CancelToken, DoneReason, EngineError, Event, GenerateRequest, GenerationStats, SlotStats, Token,
};

pub(crate) enum Command {
    Generate {
        req: Box<GenerateRequest>,
        events: UnboundedSender<Event>,
        received: Instant,
        /// Bytes the first tokens must spell (token healing), see [`crate::heal`].
        heal: Option<Vec<u8>>,
    },
    /// Pool embeddings of whole token sequences (embedding models only).
    Embed {
        inputs: Vec<Vec<Token>>,
        reply: tokio::sync::oneshot::Sender<Result<crate::embed::Embeddings, EngineError>>,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub n_parallel: u32,
    pub n_ctx_seq: u32,
    pub n_batch: u32,
    /// Byte budget of the RAM prompt cache.
    pub cache_ram: usize,
}

/// State shared between the scheduler thread and [`crate::Model`] handles.
pub(crate) struct Shared {
    stats: Mutex<SlotStats>,
}

impl Shared {
    pub(crate) fn new(n_parallel: u32, n_ctx: u32) -> Self {
        Self {
            stats: Mutex::new(SlotStats {
                idle: n_parallel,
                kv_total: n_ctx,
                ..SlotStats::default()
            }),
        }
    }
    pub(crate) fn stats(&self) -> SlotStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }
    pub(crate) fn queued_add(&self, d: i32) {
        if let Ok(mut s) = self.stats.lock() {
            s.queued = s.queued.saturating_add_signed(d);
        }
    }
    /// The embedding worker has one slot: busy while it evaluates a request.
    pub(crate) fn set_busy(&self, busy: bool) {
        if let Ok(mut s) = self.stats.lock() {
            s.busy = u32::from(busy);
            s.idle = u32::from(!busy);
            if busy {
                s.steps += 1;
            }
        }
    }
    fn update(&self, busy: u32, idle: u32, kv_used: u32, steps: u64) {
        if let Ok(mut s) = self.stats.lock() {
            s.busy = busy;
            s.idle = idle;
            s.kv_used = kv_used;
            s.steps = steps;
        }
    }
}

struct Queued {
    req: Box<GenerateRequest>,
    events: UnboundedSender<Event>,
    received: Instant,
    heal: Option<Vec<u8>>,
}

struct Job {
    events: UnboundedSender<Event>,
    cancel: CancelToken,
    /// Prompt tokens not yet in the KV cache.
    pending: Vec<Token>,
    pending_pos: usize,
    /// Sampled token to feed in the next batch.
    next: Option<Token>,
    /// Index in the current batch whose logits belong to this job.
    logits_idx: Option<i32>,
    sampler: Sampler,
    utf8: Utf8Stream,
    stop: StopMatcher,
    max_tokens: Option<u32>,
    ignore_eos: bool,
    generated: u32,
    stats: GenerationStats,
    received: Instant,
    t_prompt: Option<Instant>,
    t_first: Option<Instant>,
    /// Text still to be spelled by constrained tokens (token healing); empty: free decoding.
    heal: Vec<u8>,
}

struct Slot {
    seq: i32,
    /// Tokens whose KV entries are in this sequence, positions 0..len.
    cached: Vec<Token>,
    job: Option<Job>,
}

/// Create a worker thread's context and tell the loading thread how it went.
pub(crate) fn open_context<'m>(
    model: &'m LlamaModel,
    backend: &LlamaBackend,
    cparams: LlamaContextParams,
    ready: &mpsc::Sender<Result<(), String>>,
) -> Option<LlamaContext<'m>> {
    match model.new_context(backend, cparams) {
        Ok(c) => {
            let _ = ready.send(Ok(()));
            Some(c)
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            None
        }
    }
}

/// Entry point of the scheduler thread.
pub(crate) fn run(
    model: &LlamaModel,
    backend: &LlamaBackend,
    cparams: LlamaContextParams,
    cfg: Config,
    shared: &Shared,
    commands: mpsc::Receiver<Command>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let Some(ctx) = open_context(model, backend, cparams, &ready) else {
        return;
    };
    let mut s = Scheduler {
        model,
        ctx,
        cfg,
        shared,
        slots: (0..cfg.n_parallel)
            .map(|i| Slot {
                seq: i32::try_from(i).unwrap_or(0),
                cached: Vec::new(),
                job: None,
            })
            .collect(),
        queue: VecDeque::new(),
        batch: LlamaBatch::new(cfg.n_batch as usize, 1),
        steps: 0,
        rotate: 0,
        pieces: heal::Pieces::default(),
        ram: PromptCache::new(cfg.cache_ram),
    };
    let mut open = true;
    while open {
        if s.is_idle() {
            match commands.recv() {
                Ok(cmd) => s.enqueue(cmd),
                Err(_) => break,
            }
        }
        loop {
            match commands.try_recv() {
                Ok(cmd) => s.enqueue(cmd),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if !open {
            break;
        }
        s.step();
    }
    // The last Model handle is gone: end whatever is still running.
    s.shutdown();
}

struct Scheduler<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    cfg: Config,
    shared: &'m Shared,
    slots: Vec<Slot>,
    queue: VecDeque<Queued>,
    batch: LlamaBatch<'static>,
    steps: u64,
    rotate: usize,
    /// Vocabulary texts for token healing, built on first use.
    pieces: heal::Pieces,
    /// KV states of prompts the slots let go.
    ram: PromptCache<SeqState>,
}

impl Scheduler<'_> {
    fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.slots.iter().all(|s| s.job.is_none())
    }

    fn enqueue(&mut self, cmd: Command) {
        match cmd {
            Command::Generate {
                req,
                events,
                received,
                heal,
            } => self.queue.push_back(Queued {
                req,
                events,
                received,
                heal,
            }),
            // `Model::embed` refuses generation models before queueing.
            Command::Embed { reply, .. } => {
                self.shared.queued_add(-1);
                let _ = reply.send(Err(EngineError::Request(
                    "this model does not produce embeddings".into(),
                )));
            }
        }
    }

    fn publish(&self) {
        let busy = self.slots.iter().filter(|s| s.job.is_some()).count();
        let kv: usize = self.slots.iter().map(|s| s.cached.len()).sum();
        let busy = u32::try_from(busy).unwrap_or(u32::MAX);
        self.shared.update(
            busy,
            self.cfg.n_parallel.saturating_sub(busy),
            u32::try_from(kv).unwrap_or(u32::MAX),
            self.steps,
        );
    }

    fn shutdown(&mut self) {
        for q in self.queue.drain(..) {
            let _ = q.events.send(Event::Done {
                reason: DoneReason::Cancelled,
                stats: GenerationStats::default(),
            });
        }
        for i in 0..self.slots.len() {
            if self.slots[i].job.is_some() {
                self.finish(i, DoneReason::Cancelled, String::new(), None);
            }
        }
        self.publish();
    }

    /// End slot `i`'s job: send the remaining text (if any) and `Done`.
    fn finish(&mut self, i: usize, reason: DoneReason, text: String, last: Option<Token>) {
        let Some(job) = self.slots[i].job.take() else {
            return;
        };
        let now = Instant::now();
        if !text.is_empty() {
            if let Some(id) = last {
                let _ = job.events.send(Event::Token { id, text });
            }
        }
        let mut stats = job.stats;
        stats.eval_tokens = job.generated;
        stats.eval = job.t_first.map(|t| now - t).unwrap_or_default();
        if job.t_first.is_none() {
            stats.prompt_eval = job.t_prompt.map(|t| now - t).unwrap_or_default();
        }
        stats.total = now - job.received;
        // The slot is free now: publish that before `Done`, so a caller that has seen `Done`
        // also sees the slot idle in `Model::slots()`.
        self.publish();
        let _ = job.events.send(Event::Done { reason, stats });
    }

    fn fail_slot(&mut self, i: usize, err: EngineError) {
        if let Some(job) = self.slots[i].job.take() {
            let _ = job.events.send(Event::Error(err));
        }
        // The KV state of this sequence is unknown now: forget it.
        let seq = self.slots[i].seq;
        let _ = self
            .ctx
            .clear_kv_cache_seq(u32::try_from(seq).ok(), None, None);
        self.slots[i].cached.clear();
    }

    /// Put queued requests into free slots, choosing by longest common prefix.
    fn assign(&mut self) {
        while !self.queue.is_empty() {
            let best = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.job.is_none())
                .max_by_key(|(_, s)| {
                    let lcp = common_prefix(&s.cached, &self.queue[0].req.prompt);
                    (lcp, std::cmp::Reverse(s.cached.len()))
                })
                .map(|(i, _)| i);
            let Some(i) = best else { return };
            let Some(q) = self.queue.pop_front() else {
                return;
            };
            self.shared.queued_add(-1);
            if q.req.cancel.is_cancelled() || q.events.is_closed() {
                let _ = q.events.send(Event::Done {
                    reason: DoneReason::Cancelled,
                    stats: GenerationStats::default(),
                });
                continue;
            }
            self.start(i, q);
        }
    }

    fn start(&mut self, i: usize, q: Queued) {
        let req = q.req;
        let sampler = match Sampler::new(
            self.model,
            &req.sampling,
            req.grammar.as_deref(),
            &req.prompt,
        ) {
            Ok(s) => s,
            Err(e) => {
                let _ = q.events.send(Event::Error(e));
                return;
            }
        };
        self.reuse_saved(i, &req.prompt);
        let slot = &self.slots[i];
        let mut lcp = common_prefix(&slot.cached, &req.prompt);
        // At least one prompt token must be evaluated to get logits.
        if lcp >= req.prompt.len() {
            lcp = req.prompt.len().saturating_sub(1);
        }
        if slot.cached.len().saturating_sub(lcp) >= MIN_TOKENS {
            // Most of what the slot holds is about to go: keep it for a later turn.
            self.save_slot(i);
        }
        let slot = &mut self.slots[i];
        let seq = u32::try_from(slot.seq).ok();
        if lcp < slot.cached.len() {
            let p0 = u32::try_from(lcp).ok();
            let ok = self.ctx.clear_kv_cache_seq(seq, p0, None).unwrap_or(false);
            if !ok {
                // Partial removal unsupported (e.g. recurrent models): start from scratch.
                let _ = self.ctx.clear_kv_cache_seq(seq, None, None);
                lcp = 0;
            }
            slot.cached.truncate(lcp);
        }
        let stats = GenerationStats {
            prompt_tokens: u32::try_from(req.prompt.len()).unwrap_or(u32::MAX),
            cached_tokens: u32::try_from(lcp).unwrap_or(u32::MAX),
            ..GenerationStats::default()
        };
        tracing::debug!(
            seq = slot.seq,
            prompt = req.prompt.len(),
            cached = lcp,
            "generation started"
        );
        slot.job = Some(Job {
            events: q.events,
            cancel: req.cancel.clone(),
            pending: req.prompt[lcp..].to_vec(),
            pending_pos: 0,
            next: None,
            logits_idx: None,
            sampler,
            utf8: Utf8Stream::new(),
            stop: StopMatcher::new(&req.stop),
            max_tokens: req.max_tokens,
            ignore_eos: req.ignore_eos,
            generated: 0,
            stats,
            received: q.received,
            t_prompt: None,
            t_first: None,
            heal: q.heal.unwrap_or_default(),
        });
        if req.max_tokens == Some(0) {
            self.finish(i, DoneReason::Length, String::new(), None);
        }
    }

    /// Save slot `i`'s KV state in the RAM prompt cache (unless it is short or kept already).
    fn save_slot(&mut self, i: usize) {
        let slot = &self.slots[i];
        if !self.ram.enabled() || slot.cached.len() < MIN_TOKENS || self.ram.covers(&slot.cached) {
            return;
        }
        match self
            .ctx
            .state_seq_get(slot.seq, LlamaStateSeqFlags::empty())
        {
            Ok(state) => {
                let bytes = state.byte_len();
                self.ram.insert(slot.cached.clone(), state, bytes);
                let (entries, used) = self.ram.usage();
                tracing::debug!(
                    tokens = slot.cached.len(),
                    bytes,
                    entries,
                    used,
                    "prompt state saved"
                );
            }
            Err(e) => tracing::warn!("saving a prompt state failed: {e}"),
        }
    }

    /// Restore into slot `i` the saved state sharing a longer prefix with `prompt` than what
    /// the slot holds, saving the slot's own state first.
    fn reuse_saved(&mut self, i: usize, prompt: &[Token]) {
        let own = common_prefix(&self.slots[i].cached, prompt);
        let gain = match self.ram.best(prompt) {
            Some((_, _, lcp)) => lcp.saturating_sub(own),
            None => 0,
        };
        if gain < MIN_TOKENS {
            return;
        }
        self.save_slot(i);
        let Some((tokens, state, lcp)) = self.ram.best(prompt) else {
            return;
        };
        let seq = self.slots[i].seq;
        let _ = self
            .ctx
            .clear_kv_cache_seq(u32::try_from(seq).ok(), None, None);
        match self.ctx.state_seq_set(state, seq) {
            Ok(()) => {
                tracing::debug!(
                    seq,
                    tokens = tokens.len(),
                    reused = lcp,
                    "prompt state restored"
                );
                self.slots[i].cached = tokens.to_vec();
            }
            Err(e) => {
                tracing::warn!("restoring a prompt state failed: {e}");
                let _ = self
                    .ctx
                    .clear_kv_cache_seq(u32::try_from(seq).ok(), None, None);
                self.slots[i].cached.clear();
            }
        }
    }

    fn step(&mut self) {
        // 1. Cancellation: flag set or receiver dropped.
        for i in 0..self.slots.len() {
            if let Some(job) = &self.slots[i].job {
                if job.cancel.is_cancelled() || job.events.is_closed() {
                    self.finish(i, DoneReason::Cancelled, String::new(), None);
                }
            }
        }
        // 2. Admission.
        self.assign();
        // 3. One batch for everyone.
        self.batch.clear();
        let budget = self.cfg.n_batch as usize;
        let mut n = 0usize;
        let mut in_batch = Vec::new();
        for slot in &mut self.slots {
            let Some(job) = &mut slot.job else { continue };
            job.logits_idx = None;
            let Some(tok) = job.next else { continue };
            if n >= budget {
                break;
            }
            let pos = i32::try_from(slot.cached.len()).unwrap_or(i32::MAX);
            if self
                .batch
                .add(LlamaToken(tok), pos, &[slot.seq], true)
                .is_err()
            {
                break;
            }
            job.logits_idx = i32::try_from(n).ok();
            job.next = None;
            slot.cached.push(tok);
            in_batch.push(slot.seq);
            n += 1;
        }
        let n_slots = self.slots.len();
        for k in 0..n_slots {
            let idx = (self.rotate + k) % n_slots;
            let slot = &mut self.slots[idx];
            let Some(job) = &mut slot.job else { continue };
            if job.pending_pos >= job.pending.len() {
                continue;
            }
            if n >= budget {
                break;
            }
            job.t_prompt.get_or_insert_with(Instant::now);
            let take = (job.pending.len() - job.pending_pos).min(budget - n);
            for _ in 0..take {
                let tok = job.pending[job.pending_pos];
                let last = job.pending_pos + 1 == job.pending.len();
                let pos = i32::try_from(slot.cached.len()).unwrap_or(i32::MAX);
                if self
                    .batch
                    .add(LlamaToken(tok), pos, &[slot.seq], last)
                    .is_err()
                {
                    break;
                }
                if last {
                    job.logits_idx = i32::try_from(n).ok();
                }
                slot.cached.push(tok);
                job.pending_pos += 1;
                n += 1;
            }
            in_batch.push(slot.seq);
        }
        self.rotate = self.rotate.wrapping_add(1);
        if n == 0 {
            self.publish();
            return;
        }
        // 4. Decode.
        if let Err(e) = self.ctx.decode(&mut self.batch) {
            tracing::warn!(error = %e, tokens = n, "llama_decode failed");
            for i in 0..self.slots.len() {
                if in_batch.contains(&self.slots[i].seq) {
                    self.fail_slot(i, EngineError::Decode(e.to_string()));
                }
            }
            self.steps += 1;
            self.publish();
            return;
        }
        self.steps += 1;
        // 5. Sample.
        for i in 0..self.slots.len() {
            let Some(job) = &mut self.slots[i].job else {
                continue;
            };
            let Some(idx) = job.logits_idx.take() else {
                continue;
            };
            let tok = if job.heal.is_empty() {
                job.sampler.sample(&self.ctx, idx)
            } else {
                let pieces = self.pieces.get(self.model);
                match heal::sample(&mut job.sampler, &self.ctx, idx, pieces, &job.heal) {
                    Some(t) => {
                        let piece = usize::try_from(t).ok().and_then(|i| pieces.get(i));
                        heal::advance(&mut job.heal, piece.map_or(&[][..], |p| &p[..]));
                        t
                    }
                    None => {
                        job.heal.clear();
                        job.sampler.sample(&self.ctx, idx)
                    }
                }
            };
            if job.t_first.is_none() {
                let now = Instant::now();
                job.stats.prompt_eval = job.t_prompt.map(|t| now - t).unwrap_or_default();
                job.t_first = Some(now);
            }
            self.on_token(i, tok);
        }
        self.publish();
    }

    fn on_token(&mut self, i: usize, tok: Token) {
        let eog = self.model.vocab().is_eog(LlamaToken(tok))
            && !self.slots[i].job.as_ref().is_some_and(|j| j.ignore_eos);
        let n_ctx_seq = self.cfg.n_ctx_seq as usize;
        let piece = if eog {
            Vec::new()
        } else {
            self.model
                .vocab()
                .token_to_piece(LlamaToken(tok), false, None)
        };
        let slot = &mut self.slots[i];
        let cached = slot.cached.len();
        let Some(job) = &mut slot.job else { return };
        if eog {
            let tail = job.utf8.finish();
            let mut text = job.stop.push(&tail).emit;
            text.push_str(&job.stop.finish());
            self.finish(i, DoneReason::Stop, text, Some(tok));
            return;
        }
        job.generated += 1;
        let decoded = job.utf8.push(&piece);
        let scan = job.stop.push(&decoded);
        if scan.stopped {
            let _ = job.events.send(Event::Token {
                id: tok,
                text: scan.emit,
            });
            self.finish(i, DoneReason::Stop, String::new(), None);
            return;
        }
        let at_max = job.max_tokens.is_some_and(|m| job.generated >= m);
        // The sampled token would need KV cell `cached`; positions end at n_ctx_seq - 1.
        let ctx_full = cached >= n_ctx_seq;
        if at_max || ctx_full {
            let tail = job.utf8.finish();
            let mut text = scan.emit;
            let s2 = job.stop.push(&tail);
            text.push_str(&s2.emit);
            if !s2.stopped {
                text.push_str(&job.stop.finish());
            }
            let _ = job.events.send(Event::Token { id: tok, text });
            let reason = if s2.stopped {
                DoneReason::Stop
            } else if at_max {
                DoneReason::Length
            } else {
                DoneReason::ContextFull
            };
            self.finish(i, reason, String::new(), None);
            return;
        }
        if job
            .events
            .send(Event::Token {
                id: tok,
                text: scan.emit,
            })
            .is_err()
        {
            // Receiver dropped: cancel right away.
            self.finish(i, DoneReason::Cancelled, String::new(), None);
            return;
        }
        job.next = Some(tok);
    }
}

#[cfg(test)]
mod tests {
    use super::common_prefix;

    #[test]
    fn common_prefix_lengths() {
        assert_eq!(common_prefix(&[1, 2, 3], &[1, 2, 4]), 2);
        assert_eq!(common_prefix(&[], &[1]), 0);
        assert_eq!(common_prefix(&[1, 2], &[1, 2, 3]), 2);
    }
}
