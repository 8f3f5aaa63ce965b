//! [`Engine`] / [`Runner`] over hearth-engine (llama.cpp). The adapter tokenizes the rendered
//! prompt, maps sampling settings, and forwards events; when the HTTP side drops its receiver
//! the forwarder cancels the engine's generation at once (also during prompt processing).
use std::path::Path;
use std::sync::Arc;

use hearth_engine::{
    CancelToken, DoneReason, EngineError, Event, GenerateRequest, LoadOptions, Model,
    SamplingParams,
};
use tokio::sync::mpsc;

use crate::backend::{
    BackendError, EmbedFuture, Embedded, Engine, FimInput, Finish, GenEvent, GenParams, GenStream,
    LoadEstimate, LoadParams, Runner, RunnerInfo, SlotUsage, Stats,
};

/// Loads models with hearth-engine.
#[derive(Debug, Clone, Default)]
pub struct LlamaEngine {
    /// GPU offload for every model.
    pub gpu_layers: hearth_engine::GpuLayers,
    /// Flash attention.
    pub flash_attention: bool,
    /// Bytes per model for saved prompt states (see [`LoadOptions::cache_ram`]).
    pub cache_ram: usize,
}

fn map_err(e: EngineError) -> BackendError {
    match e {
        EngineError::PromptTooLong {
            prompt_tokens,
            n_ctx_seq,
        } => BackendError::PromptTooLong {
            tokens: prompt_tokens,
            ctx: n_ctx_seq,
        },
        EngineError::Grammar(_) | EngineError::Request(_) | EngineError::TextTooLong { .. } => {
            BackendError::Invalid(e.to_string())
        }
        other => BackendError::Other(other.to_string()),
    }
}

impl Engine for LlamaEngine {
    fn load(&self, path: &Path, params: &LoadParams) -> Result<Arc<dyn Runner>, BackendError> {
        let opts = LoadOptions {
            n_ctx: params.n_ctx,
            n_parallel: params.n_parallel,
            threads: params.threads,
            threads_batch: params.threads,
            gpu_layers: match params.gpu_layers {
                Some(0) => hearth_engine::GpuLayers::None,
                Some(n) => hearth_engine::GpuLayers::Count(n),
                None => self.gpu_layers,
            },
            flash_attention: self.flash_attention,
            cache_ram: self.cache_ram,
            ..LoadOptions::default()
        };
        let model = Model::load(path, opts).map_err(map_err)?;
        if model.info().embedding.is_some() {
            let tail = special_tail(&model);
            return Ok(Arc::new(LlamaRunner {
                model,
                completer: None,
                embed_tail: tail,
            }));
        }
        // Models without FIM tokens get no completer: a suffix request is then a 400.
        let completer = match hearth_complete::Completer::open(model.clone()) {
            Ok(c) => Some(c),
            Err(hearth_complete::CompleteError::NoFim { .. }) => None,
            Err(e) => return Err(BackendError::Other(e.to_string())),
        };
        Ok(Arc::new(LlamaRunner {
            model,
            completer,
            embed_tail: 0,
        }))
    }

    /// hearth-fit's plan for this file, context and machine: weights as the file holds them,
    /// the KV cache as llama.cpp sizes it, compute buffers and overhead. With `--gpu-layers
    /// all` the plan also decides how many layers fit in free VRAM.
    fn estimate(
        &self,
        path: &Path,
        params: &LoadParams,
        ram_cap: u64,
        reclaimable: u64,
    ) -> Result<Option<LoadEstimate>, BackendError> {
        let hw = hearth_fit::Hardware::detect();
        let mut budget = hearth_fit::Budget::of(&hw);
        budget.ram = budget.ram.saturating_add(reclaimable);
        if ram_cap > 0 {
            budget.ram = budget.ram.min(ram_cap);
        }
        let offload = self.gpu_layers == hearth_engine::GpuLayers::All;
        if !offload {
            budget.vram = 0;
            budget.unified = false;
        }
        let mut ctx = hearth_fit::ContextParams::for_hardware(params.n_ctx, params.n_parallel, &hw);
        ctx.flash_attn = self.flash_attention;
        let file = hearth_gguf::GgufFile::open(path)
            .map_err(|e| BackendError::Other(format!("{}: {e}", path.display())))?;
        // The caller names the model; "it" keeps the fit message readable after its name.
        let spec = hearth_fit::ModelSpec::from_gguf(&file, "it")
            .map_err(|e| BackendError::Other(format!("{}: {e}", path.display())))?;
        match hearth_fit::plan(&spec, &ctx, &budget) {
            Ok(plan) => Ok(Some(LoadEstimate {
                bytes: plan.estimate.needed(),
                gpu_layers: offload.then_some(plan.gpu_layers),
            })),
            Err(e @ hearth_fit::FitError::DoesNotFit { .. }) => {
                Err(BackendError::DoesNotFit(e.to_string()))
            }
            Err(e) => Err(BackendError::Other(e.to_string())),
        }
    }
}

/// A loaded hearth-engine model.
pub struct LlamaRunner {
    model: Model,
    /// The autocomplete path (prefix reuse, healing, shaping, superseding), for FIM models.
    completer: Option<hearth_complete::Completer>,
    /// Special tokens the tokenizer appends after the text (BERT's SEP): kept when an
    /// embedding input is cut to the context.
    embed_tail: usize,
}

/// How many special tokens the tokenizer adds after the text (0 when it adds none).
fn special_tail(model: &Model) -> usize {
    let (Ok(with), Ok(without)) = (
        model.tokenize("a", true, false),
        model.tokenize("a", false, false),
    ) else {
        return 0;
    };
    (0..=with.len().saturating_sub(without.len()))
        .find(|&p| with[p..].starts_with(&without))
        .map_or(0, |p| with.len() - p - without.len())
}

/// Cut `tokens` to `max`, keeping the last `tail` (the appended special tokens).
pub(crate) fn truncate_keeping_tail(tokens: &mut Vec<i32>, max: usize, tail: usize) {
    if tokens.len() <= max {
        return;
    }
    let tail = tail.min(max).min(tokens.len());
    let keep_head = max - tail;
    tokens.drain(keep_head..tokens.len() - tail);
}

fn sampling(s: &crate::backend::Sampling) -> SamplingParams {
    let d = SamplingParams::default();
    SamplingParams {
        temperature: s.temperature.unwrap_or(d.temperature),
        top_k: s.top_k.unwrap_or(d.top_k),
        top_p: s.top_p.unwrap_or(d.top_p),
        min_p: s.min_p.unwrap_or(d.min_p),
        repeat_penalty: s.repeat_penalty.unwrap_or(d.repeat_penalty),
        repeat_last_n: s.repeat_last_n.unwrap_or(d.repeat_last_n),
        presence_penalty: s.presence_penalty.unwrap_or(d.presence_penalty),
        frequency_penalty: s.frequency_penalty.unwrap_or(d.frequency_penalty),
        seed: s.seed,
        logit_bias: Vec::new(),
    }
}

fn finish(r: DoneReason) -> Finish {
    match r {
        DoneReason::Stop => Finish::Stop,
        DoneReason::Length => Finish::Length,
        DoneReason::Cancelled => Finish::Cancelled,
        DoneReason::ContextFull => Finish::ContextFull,
    }
}

impl Runner for LlamaRunner {
    fn info(&self) -> RunnerInfo {
        let i = self.model.info();
        RunnerInfo {
            n_ctx_per_seq: i.n_ctx_seq,
            memory_bytes: i.file_size.saturating_add(i.kv_bytes),
            embedding_dims: i.embedding.map(|e| e.dimensions),
        }
    }

    fn prompt_tokens(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        self.model.tokenize_prompt(text).map_err(map_err)
    }

    fn tokenize(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        self.model.tokenize(text, false, true).map_err(map_err)
    }

    fn generate(&self, mut params: GenParams) -> Result<GenStream, BackendError> {
        if let Some(fim) = params.fim.take() {
            return self.complete(fim, params);
        }
        let n_vocab = self.model.info().n_vocab;
        if let Some(bad) = params
            .context
            .iter()
            .find(|&&t| u32::try_from(t).map_or(true, |t| t >= n_vocab))
        {
            return Err(BackendError::Invalid(format!(
                "context holds token id {bad}, outside this model's vocabulary of {n_vocab}"
            )));
        }
        let mut prompt = std::mem::take(&mut params.context);
        if prompt.is_empty() {
            prompt = self
                .model
                .tokenize_prompt(&params.prompt)
                .map_err(map_err)?;
        } else {
            // After an earlier response's context (which holds its own BOS), no second BOS.
            prompt.extend(
                self.model
                    .tokenize(&params.prompt, false, true)
                    .map_err(map_err)?,
            );
        }
        let cancel = CancelToken::new();
        let req = GenerateRequest {
            prompt,
            sampling: sampling(&params.sampling),
            max_tokens: params.max_tokens,
            stop: params.stop,
            grammar: params.grammar,
            cancel: cancel.clone(),
            ignore_eos: false,
        };
        let mut engine_rx = self.model.generate(req).map_err(map_err)?.events;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = tx.closed() => {
                        cancel.cancel();
                        break;
                    }
                    ev = engine_rx.recv() => {
                        let Some(ev) = ev else { break };
                        let (out, last) = match ev {
                            Event::Token { text, .. } if text.is_empty() => continue,
                            Event::Token { text, .. } => (GenEvent::Text(text), false),
                            Event::Done { reason, stats } => (GenEvent::Done(finish(reason), Stats {
                                prompt_tokens: stats.prompt_tokens,
                                cached_tokens: stats.cached_tokens,
                                prompt_eval: stats.prompt_eval,
                                eval_tokens: stats.eval_tokens,
                                eval: stats.eval,
                            }), true),
                            Event::Error(e) => (GenEvent::Error(map_err(e)), true),
                        };
                        if tx.send(out).is_err() {
                            cancel.cancel();
                            break;
                        }
                        if last {
                            break;
                        }
                    }
                }
            }
        });
        Ok(GenStream { events: rx })
    }

    fn embed_tokens(&self, text: &str, max: Option<usize>) -> Result<Vec<i32>, BackendError> {
        let mut tokens = self.model.tokenize(text, true, false).map_err(map_err)?;
        if let Some(max) = max {
            truncate_keeping_tail(&mut tokens, max, self.embed_tail);
        }
        Ok(tokens)
    }

    fn embed(&self, inputs: Vec<Vec<i32>>) -> EmbedFuture {
        let model = self.model.clone();
        Box::pin(async move {
            let e = model.embed(inputs).await.map_err(map_err)?;
            Ok(Embedded {
                vectors: e.vectors,
                prompt_tokens: e.prompt_tokens,
                eval: e.eval,
            })
        })
    }

    fn slots(&self) -> SlotUsage {
        let s = self.model.slots();
        SlotUsage {
            busy: s.busy,
            queued: s.queued,
            kv_used: u64::from(s.kv_used),
            kv_total: u64::from(s.kv_total),
        }
    }
}

impl LlamaRunner {
    /// Fill-in-the-middle through hearth-complete: text goes out as soon as shaping cannot take
    /// it back, the rest of the shaped completion with `Done`; a closed receiver cancels it
    /// within one decode step (its KV stays in the slot for the next keystroke).
    fn complete(&self, fim: FimInput, params: GenParams) -> Result<GenStream, BackendError> {
        let completer = self.completer.as_ref().ok_or(BackendError::NoFim)?;
        let req = hearth_complete::FimRequest {
            extra_files: fim.extra_files,
            max_tokens: params.max_tokens.unwrap_or(FIM_DEFAULT_MAX_TOKENS),
            time_budget: fim.time_budget,
            stop: params.stop,
            // The server supersedes by arrival order itself (one registry): no session here.
            session: None,
            sampling: sampling(&params.sampling),
            raw: fim.raw,
            ..hearth_complete::FimRequest::new(fim.prefix, fim.suffix)
        };
        let stream = completer.complete(req).map_err(complete_err)?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut stream = stream;
            // Pieces that shaping cannot take back go out as they are decided; `Done` brings
            // the rest of the shaped text.
            let mut sent = String::new();
            loop {
                let progress = tokio::select! {
                    () = tx.closed() => {
                        stream.cancel_token().cancel();
                        return;
                    }
                    p = stream.next_progress() => p,
                };
                let c = match progress {
                    hearth_complete::Progress::Text(t) => {
                        sent.push_str(&t);
                        if tx.send(GenEvent::Text(t)).is_err() {
                            return;
                        }
                        continue;
                    }
                    hearth_complete::Progress::Done(Ok(c)) => c,
                    hearth_complete::Progress::Done(Err(e)) => {
                        let _ = tx.send(GenEvent::Error(complete_err(e)));
                        return;
                    }
                };
                let first = c.stats.first_token.unwrap_or(c.stats.prompt_eval);
                let stats = Stats {
                    prompt_tokens: c.stats.prompt_tokens,
                    cached_tokens: c.stats.cached_tokens,
                    prompt_eval: first,
                    eval_tokens: c.stats.generated_tokens,
                    eval: c.stats.total.saturating_sub(first),
                };
                let finish = match c.reason {
                    hearth_complete::FinishReason::Stop => Finish::Stop,
                    hearth_complete::FinishReason::Length
                    | hearth_complete::FinishReason::TimeBudget => Finish::Length,
                    hearth_complete::FinishReason::Superseded
                    | hearth_complete::FinishReason::Cancelled => Finish::Cancelled,
                };
                let rest = match c.text.strip_prefix(sent.as_str()) {
                    Some(rest) => rest.to_string(),
                    None => {
                        tracing::error!(sent = %sent, text = %c.text, "streamed completion is not a prefix of the final one");
                        String::new()
                    }
                };
                if !rest.is_empty() && tx.send(GenEvent::Text(rest)).is_err() {
                    return;
                }
                let _ = tx.send(GenEvent::Done(finish, stats));
                return;
            }
        });
        Ok(GenStream { events: rx })
    }
}

fn complete_err(e: hearth_complete::CompleteError) -> BackendError {
    match e {
        hearth_complete::CompleteError::Engine(e) => map_err(e),
        hearth_complete::CompleteError::NoFim { .. } => BackendError::NoFim,
        e @ hearth_complete::CompleteError::Request(_) => BackendError::Invalid(e.to_string()),
        e => BackendError::Other(e.to_string()),
    }
}

/// `num_predict` unset on a FIM request: shaping usually ends it much earlier.
const FIM_DEFAULT_MAX_TOKENS: u32 = 256;

#[cfg(test)]
mod tests {
    #[test]
    fn truncation_keeps_the_trailing_specials() {
        let mut t = vec![101, 1, 2, 3, 4, 102];
        super::truncate_keeping_tail(&mut t, 4, 1);
        assert_eq!(t, [101, 1, 2, 102]);
        let mut short = vec![101, 1, 102];
        super::truncate_keeping_tail(&mut short, 4, 1);
        assert_eq!(short, [101, 1, 102]);
        let mut no_tail = vec![1, 2, 3];
        super::truncate_keeping_tail(&mut no_tail, 2, 0);
        assert_eq!(no_tail, [1, 2]);
        let mut tiny = vec![1, 2, 3];
        super::truncate_keeping_tail(&mut tiny, 1, 5);
        assert_eq!(tiny, [3]);
    }
}
