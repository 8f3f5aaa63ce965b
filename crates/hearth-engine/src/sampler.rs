//! Token selection for one sequence: greedy argmax or llama.cpp's sampler chain, plus an
//! optional GBNF grammar.
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use llama_cpp_2::token::LlamaToken;

use crate::types::{EngineError, SamplingParams, Token};

/// llama.cpp's "pick a random seed" value.
const RANDOM_SEED: u32 = u32::MAX;
/// Longest GBNF grammar accepted.
pub const MAX_GRAMMAR_BYTES: usize = 1 << 20;

pub(crate) enum Sampler {
    /// Plain greedy: first maximum of the logits, no llama.cpp sampler needed.
    Argmax,
    Chain {
        grammar: Option<LlamaSampler>,
        chain: LlamaSampler,
    },
}

impl Sampler {
    pub(crate) fn new(
        model: &LlamaModel,
        p: &SamplingParams,
        grammar: Option<&str>,
        prompt: &[Token],
    ) -> Result<Sampler, EngineError> {
        let greedy = p.temperature <= 0.0;
        if greedy && !p.has_penalties() && p.logit_bias.is_empty() && grammar.is_none() {
            return Ok(Sampler::Argmax);
        }
        let grammar = match grammar {
            None => None,
            Some(g) if g.len() > MAX_GRAMMAR_BYTES => {
                return Err(EngineError::Grammar(format!(
                    "grammar of {} bytes exceeds {MAX_GRAMMAR_BYTES}",
                    g.len()
                )))
            }
            Some(g) => Some(
                LlamaSampler::grammar(model, g, "root")
                    .map_err(|e| EngineError::Grammar(e.to_string()))?,
            ),
        };
        let mut stages = Vec::new();
        if !p.logit_bias.is_empty() {
            let biases: Vec<LlamaLogitBias> = p
                .logit_bias
                .iter()
                .map(|&(t, b)| LlamaLogitBias::new(LlamaToken(t), b))
                .collect();
            stages.push(LlamaSampler::logit_bias(model.n_vocab(), &biases));
        }
        if p.has_penalties() {
            stages.push(LlamaSampler::penalties(
                model.n_vocab(),
                p.repeat_last_n.max(0),
                p.repeat_penalty,
                p.frequency_penalty,
                p.presence_penalty,
            ));
        }
        if greedy {
            stages.push(LlamaSampler::greedy());
        } else {
            if p.top_k > 0 {
                stages.push(LlamaSampler::top_k(p.top_k));
            }
            if p.top_p < 1.0 {
                stages.push(LlamaSampler::top_p(p.top_p, 1));
            }
            if p.min_p > 0.0 {
                stages.push(LlamaSampler::min_p(p.min_p, 1));
            }
            stages.push(LlamaSampler::temp(p.temperature));
            stages.push(LlamaSampler::dist(p.seed.unwrap_or(RANDOM_SEED)));
        }
        let mut chain = LlamaSampler::chain_simple(stages);
        if p.has_penalties() {
            // Penalties look at the recent context, prompt included (as llama-server does).
            let n = usize::try_from(p.repeat_last_n.max(0)).unwrap_or(0);
            let tail = &prompt[prompt.len().saturating_sub(n)..];
            chain.accept_many(tail.iter().map(|&t| LlamaToken(t)));
        }
        Ok(Sampler::Chain { grammar, chain })
    }

    /// Choose the next token from the logits at batch index `idx` and record it.
    pub(crate) fn sample(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> Token {
        match self {
            Sampler::Argmax => argmax(ctx.get_logits_ith(idx)),
            Sampler::Chain {
                grammar: None,
                chain,
            } => chain.sample(ctx, idx).0,
            Sampler::Chain {
                grammar: Some(grammar),
                chain,
            } => {
                let mut cands = ctx.token_data_array_ith(idx);
                cands.apply_sampler(grammar);
                cands.apply_sampler(chain);
                let tok = cands.selected_token().unwrap_or(LlamaToken(0));
                grammar.accept(tok);
                chain.accept(tok);
                tok.0
            }
        }
    }
}

/// Index of the first maximum (llama.cpp's greedy sampler picks the first maximum too).
pub(crate) fn argmax(logits: &[f32]) -> Token {
    let mut best = 0usize;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in logits.iter().enumerate() {
        if v > best_v {
            best_v = v;
            best = i;
        }
    }
    Token::try_from(best).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::argmax;

    #[test]
    fn argmax_picks_first_maximum() {
        assert_eq!(argmax(&[0.0, 2.0, 1.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY, -1.0]), 1);
        assert_eq!(argmax(&[]), 0);
    }
}
