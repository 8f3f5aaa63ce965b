//! The worker thread of an embedding model (BERT-family encoders, decoder embedders with a
//! pooling type): owns a llama.cpp context with embeddings on and turns token sequences into
//! pooled vectors, many sequences per `llama_decode`.
//!
//! Encoders attend both ways, so a sequence is never split across batches: inputs are packed
//! whole into batches of at most `n_batch` tokens and `n_seq` sequences. Vectors come back as
//! llama.cpp pools them (mean, CLS or last token, from the file); callers normalise.
use std::sync::mpsc;
use std::time::{Duration, Instant};

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::scheduler::{self, Command, Shared};
use crate::types::{EngineError, Token};

/// Most sequences in one embedding batch.
pub(crate) const MAX_SEQ: u32 = 64;

/// What one embedding request gives back.
#[derive(Debug, Clone, Default)]
pub struct Embeddings {
    /// One pooled (not normalised) vector per input, in input order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens evaluated.
    pub prompt_tokens: usize,
    /// Time spent in llama.cpp.
    pub eval: Duration,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    pub n_batch: u32,
    pub n_seq: u32,
}

/// Entry point of the embedding thread.
pub(crate) fn run(
    model: &LlamaModel,
    backend: &LlamaBackend,
    cparams: LlamaContextParams,
    cfg: Config,
    shared: &Shared,
    commands: mpsc::Receiver<Command>,
    ready: mpsc::Sender<Result<(), String>>,
) {
    let Some(mut ctx) = scheduler::open_context(model, backend, cparams, &ready) else {
        return;
    };
    let mut batch = LlamaBatch::new(cfg.n_batch as usize, 1);
    while let Ok(cmd) = commands.recv() {
        match cmd {
            Command::Embed { inputs, reply } => {
                shared.queued_add(-1);
                shared.set_busy(true);
                let result = embed_all(&mut ctx, &mut batch, cfg, &inputs);
                shared.set_busy(false);
                // The caller may have gone away; nothing to do then.
                let _ = reply.send(result);
            }
            // `Model::generate` refuses embedding models before queueing; dropping the event
            // sender ends any generation that got here anyway.
            Command::Generate { .. } => shared.queued_add(-1),
        }
    }
}

fn embed_all(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch<'_>,
    cfg: Config,
    inputs: &[Vec<Token>],
) -> Result<Embeddings, EngineError> {
    let started = Instant::now();
    let mut out = Embeddings {
        vectors: Vec::with_capacity(inputs.len()),
        prompt_tokens: inputs.iter().map(Vec::len).sum(),
        eval: Duration::ZERO,
    };
    for group in pack(inputs, cfg.n_batch as usize, cfg.n_seq as usize) {
        batch.clear();
        // Decoder embedders keep a KV cache; encoders have none (clearing is then a no-op).
        ctx.clear_kv_cache();
        for (seq, &i) in group.iter().enumerate() {
            let seq = i32::try_from(seq).unwrap_or(0);
            for (pos, &t) in inputs[i].iter().enumerate() {
                let pos = i32::try_from(pos).unwrap_or(i32::MAX);
                batch
                    .add(LlamaToken(t), pos, &[seq], true)
                    .map_err(|e| EngineError::Decode(format!("embedding batch: {e}")))?;
            }
        }
        ctx.decode(batch)
            .map_err(|e| EngineError::Decode(format!("embedding: {e}")))?;
        for seq in 0..group.len() {
            let v = ctx
                .embeddings_seq_ith(i32::try_from(seq).unwrap_or(0))
                .map_err(|_| {
                    EngineError::Decode("llama.cpp returned no pooled embedding".into())
                })?;
            out.vectors.push(v.to_vec());
        }
    }
    out.eval = started.elapsed();
    Ok(out)
}

/// Group input indices into batches: consecutive inputs, at most `n_tokens` tokens and
/// `n_seq` sequences each. Every input must fit `n_tokens` on its own (checked by the caller).
fn pack(inputs: &[Vec<Token>], n_tokens: usize, n_seq: usize) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut cur: Vec<usize> = Vec::new();
    let mut used = 0;
    for (i, input) in inputs.iter().enumerate() {
        if !cur.is_empty() && (used + input.len() > n_tokens || cur.len() >= n_seq) {
            groups.push(std::mem::take(&mut cur));
            used = 0;
        }
        cur.push(i);
        used += input.len();
    }
    if !cur.is_empty() {
        groups.push(cur);
    }
    groups
}

#[cfg(test)]
mod tests {
    #[test]
    fn packs_whole_sequences() {
        let v = |n: usize| vec![1; n];
        let inputs = [v(300), v(200), v(100), v(512), v(1), v(1), v(1)];
        assert_eq!(
            super::pack(&inputs, 512, 2),
            vec![vec![0, 1], vec![2], vec![3], vec![4, 5], vec![6]]
        );
        assert!(super::pack(&[], 512, 8).is_empty());
    }
}
