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
    BackendError, Engine, Finish, GenEvent, GenParams, GenStream, LoadParams, Runner, RunnerInfo,
    SlotUsage, Stats,
};

/// Loads models with hearth-engine.
#[derive(Debug, Clone, Default)]
pub struct LlamaEngine {
    /// GPU offload for every model.
    pub gpu_layers: hearth_engine::GpuLayers,
    /// Flash attention.
    pub flash_attention: bool,
}

fn map_err(e: EngineError) -> BackendError {
    match e {
        EngineError::PromptTooLong { .. }
        | EngineError::Grammar(_)
        | EngineError::Request(_)
        | EngineError::TextTooLong { .. } => BackendError::Invalid(e.to_string()),
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
            gpu_layers: self.gpu_layers,
            flash_attention: self.flash_attention,
            ..LoadOptions::default()
        };
        let model = Model::load(path, opts).map_err(map_err)?;
        Ok(Arc::new(LlamaRunner { model }))
    }
}

/// A loaded hearth-engine model.
pub struct LlamaRunner {
    model: Model,
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
            n_ctx_train: i.n_ctx_train,
            chat_template: i.chat_template.clone(),
            has_fim: i.fim.is_some(),
            memory_bytes: i.file_size.saturating_add(i.kv_bytes),
        }
    }

    fn count_tokens(&self, text: &str) -> Result<usize, BackendError> {
        let add_bos = self.model.info().add_bos;
        self.model
            .tokenize(text, add_bos, true)
            .map(|t| t.len())
            .map_err(map_err)
    }

    fn generate(&self, params: GenParams) -> Result<GenStream, BackendError> {
        let add_bos = self.model.info().add_bos || params.add_bos;
        let prompt = self
            .model
            .tokenize(&params.prompt, add_bos, true)
            .map_err(map_err)?;
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
                            Event::Error(e) => (GenEvent::Error(e.to_string()), true),
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
