//! Token healing (`Model::generate_healed`) on the real 0.5B: the first tokens spell the
//! dropped text, with greedy and with sampled decoding.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use hearth_engine::{GenerateRequest, LoadOptions, Model, SamplingParams};
use hearth_gguf::testing::{test_model, TestModel};

fn load() -> Option<Model> {
    let path = test_model(TestModel::Qwen05)?;
    let opts = LoadOptions {
        n_ctx: 1024,
        threads: Some(common::threads()),
        ..LoadOptions::default()
    };
    Some(Model::load(&path, opts).unwrap())
}

/// Prompt tokens without the last `n`, and the text of the dropped ones.
fn cut(model: &Model, text: &str, n: usize) -> (Vec<i32>, Vec<u8>) {
    let toks = model.tokenize(text, false, false).unwrap();
    let keep = toks.len() - n;
    let heal = toks[keep..]
        .iter()
        .flat_map(|&t| model.token_piece(t))
        .collect();
    (toks[..keep].to_vec(), heal)
}

#[test]
fn healed_generation_spells_the_dropped_text_first() {
    let _g = common::heavy();
    let Some(model) = load() else { return };
    let text = "def area(radius):\n    import math\n    return math.pi * rad";
    let (prompt, heal) = cut(&model, text, 2);
    assert!(!heal.is_empty());
    for sampling in [
        SamplingParams::greedy(),
        SamplingParams {
            temperature: 1.0,
            seed: Some(7),
            ..SamplingParams::default()
        },
    ] {
        let req = GenerateRequest {
            prompt: prompt.clone(),
            sampling,
            max_tokens: Some(8),
            ..GenerateRequest::default()
        };
        let gen = model.generate_healed(req, heal.clone()).unwrap();
        let out = common::drain(gen.events);
        assert!(
            out.text.as_bytes().starts_with(&heal),
            "{:?} does not start with {:?}",
            out.text,
            String::from_utf8_lossy(&heal)
        );
    }
    // Empty healing text is plain generation.
    let req = GenerateRequest {
        prompt: prompt.clone(),
        sampling: SamplingParams::greedy(),
        max_tokens: Some(4),
        ..GenerateRequest::default()
    };
    let plain = common::collect(&model, req.clone());
    let healed_empty = common::drain(model.generate_healed(req, Vec::new()).unwrap().events);
    assert_eq!(plain.tokens, healed_empty.tokens);
}
