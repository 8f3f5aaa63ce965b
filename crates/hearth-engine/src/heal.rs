//! Token healing: constrain the first generated tokens so that their text spells bytes the
//! caller removed from the end of the prompt (see [`crate::Model::generate_healed`]).
//!
//! A prompt that ends inside a word (`    ret`) puts the model at a token boundary it would not
//! have produced itself. The caller drops the last few prompt tokens and asks the engine to
//! spell their text again: while `remaining` is not empty, only tokens whose text starts with
//! `remaining` or is a non-empty prefix of it may be sampled; after that, decoding is free.
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::sampler::Sampler;
use crate::types::Token;

/// The text of every vocabulary token (special tokens render empty), built once per model on
/// the first healed request.
#[derive(Default)]
pub(crate) struct Pieces(Option<Vec<Box<[u8]>>>);

impl Pieces {
    pub(crate) fn get(&mut self, model: &LlamaModel) -> &[Box<[u8]>] {
        self.0.get_or_insert_with(|| {
            (0..model.n_vocab())
                .map(|t| {
                    model
                        .vocab()
                        .token_to_piece(LlamaToken(t), false, None)
                        .into_boxed_slice()
                })
                .collect()
        })
    }
}

/// Whether a token with text `piece` may be sampled while `remaining` is still to be spelled.
pub(crate) fn allowed(piece: &[u8], remaining: &[u8]) -> bool {
    !piece.is_empty() && (piece.starts_with(remaining) || remaining.starts_with(piece))
}

/// What is left to spell after a token with text `piece` was accepted.
pub(crate) fn advance(remaining: &mut Vec<u8>, piece: &[u8]) {
    if piece.len() >= remaining.len() {
        remaining.clear();
    } else {
        remaining.drain(..piece.len());
    }
}

/// Sample one token at batch index `idx` among the tokens allowed by `remaining`.
/// Returns `None` when no vocabulary token is allowed (the caller then samples freely).
pub(crate) fn sample(
    sampler: &mut Sampler,
    ctx: &LlamaContext<'_>,
    idx: i32,
    pieces: &[Box<[u8]>],
    remaining: &[u8],
) -> Option<Token> {
    match sampler {
        Sampler::Argmax => {
            let logits = ctx.get_logits_ith(idx);
            let mut best: Option<(usize, f32)> = None;
            for (i, (&v, p)) in logits.iter().zip(pieces).enumerate() {
                if allowed(p, remaining) && best.is_none_or(|(_, b)| v > b) {
                    best = Some((i, v));
                }
            }
            best.and_then(|(i, _)| Token::try_from(i).ok())
        }
        Sampler::Chain { chain, .. } => {
            let mut cands = ctx.token_data_array_ith(idx);
            let mut any = false;
            for d in &mut cands.data {
                let ok = usize::try_from(d.id().0)
                    .ok()
                    .and_then(|i| pieces.get(i))
                    .is_some_and(|p| allowed(p, remaining));
                if ok {
                    any = true;
                } else {
                    d.set_logit(f32::NEG_INFINITY);
                }
            }
            if !any {
                return None;
            }
            cands.apply_sampler(chain);
            let tok = cands.selected_token()?;
            chain.accept(tok);
            Some(tok.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{advance, allowed};

    #[test]
    fn allowed_pieces() {
        assert!(allowed(b" return", b" ret"));
        assert!(allowed(b" re", b" ret"));
        assert!(allowed(b" ret", b" ret"));
        assert!(!allowed(b" rx", b" ret"));
        assert!(!allowed(b"", b" ret"));
        assert!(!allowed(b"ret", b" ret"));
    }

    #[test]
    fn advance_consumes() {
        let mut r = b" ret".to_vec();
        advance(&mut r, b" r");
        assert_eq!(r, b"et");
        advance(&mut r, b"etur");
        assert!(r.is_empty());
    }
}
