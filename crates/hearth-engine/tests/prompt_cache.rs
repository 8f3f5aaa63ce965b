//! The RAM prompt cache: a long prompt whose slot was taken by another prompt is restored
//! from the saved state on its next turn instead of being evaluated again, and the restored
//! state is the right one (the continuation depends on what the prefix said). Greedy tokens
//! are not compared bit for bit: restored cells may sit elsewhere in the KV buffer, which
//! changes summation order (as prefix reuse within a slot does).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use hearth_engine::{GenerateRequest, LoadOptions, Model, SamplingParams};
use hearth_gguf::testing::{test_model, TestModel};

fn load(cache_ram: usize) -> Option<Model> {
    let path = test_model(TestModel::SmolLm2)?;
    let opts = LoadOptions {
        n_ctx: 2048,
        n_parallel: 1,
        threads: Some(common::threads()),
        cache_ram,
        ..LoadOptions::default()
    };
    Some(Model::load(&path, opts).unwrap())
}

fn turn(model: &Model, prompt: &str) -> common::Outcome {
    let req = GenerateRequest {
        prompt: model.tokenize(prompt, false, true).unwrap(),
        max_tokens: Some(8),
        sampling: SamplingParams::greedy(),
        ..GenerateRequest::default()
    };
    common::collect(model, req)
}

fn long(topic: &str) -> String {
    (0..60)
        .map(|i| format!("Line {i} of the notes about {topic}. "))
        .collect()
}

#[test]
fn an_agents_prefix_survives_another_prompt_in_its_slot() {
    let _g = common::heavy();
    let (Some(cached), Some(plain)) = (load(256 << 20), load(0)) else {
        return;
    };
    let (a, b) = (long("rivers"), long("mountains"));
    // The next line's topic is only in the prefix.
    let a2 = format!("{a}Line 60 of the notes about");
    // A slot that never let the prefix go: the answer to expect.
    turn(&plain, &a);
    let expected = turn(&plain, &a2);
    // Another prompt took the slot: without the cache the prefix is evaluated again...
    turn(&plain, &b);
    let without = turn(&plain, &a2);
    assert!(without.cached_tokens < 16, "{}", without.cached_tokens);
    // ...with it, the saved state is restored.
    turn(&cached, &a);
    turn(&cached, &b);
    let with = turn(&cached, &a2);
    let a_len = cached.tokenize(&a, false, true).unwrap().len() as u32;
    assert!(
        with.cached_tokens >= a_len - 1,
        "{} of {a_len}",
        with.cached_tokens
    );
    for o in [&expected, &without, &with] {
        assert!(o.text.trim_start().starts_with("rivers"), "{:?}", o.text);
    }
}
