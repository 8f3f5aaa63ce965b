//! Greedy continuations are token-identical to llama.cpp's (reference produced with
//! llama-cpp-python 0.3.36, see shared/reference/README.md), and our tokenization of every
//! prompt equals llama.cpp's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use hearth_engine::{GenerateRequest, LoadOptions, Model, SamplingParams};
use hearth_gguf::testing::{models_required, test_model, TestModel};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    model_file: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    prompt: String,
    prompt_tokens: Vec<i32>,
    greedy_tokens: Vec<i32>,
    greedy_text: String,
}

fn check(m: TestModel) {
    let Some(path) = test_model(m) else { return };
    let Some(dir) = common::reference_dir() else {
        assert!(
            !models_required(),
            "shared/reference not found (set HEARTH_REFERENCE_DIR)"
        );
        return;
    };
    let stem = m.file_name().trim_end_matches(".gguf");
    let file = dir.join(format!("greedy-{stem}.json"));
    let reference: Reference =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(reference.model_file, m.file_name());
    assert!(
        reference.cases.len() >= 8,
        "{}: fewer than 8 cases",
        file.display()
    );

    let _guard = common::heavy();
    let opts = LoadOptions {
        n_ctx: 1024,
        n_parallel: 1,
        threads: Some(common::threads()),
        ..LoadOptions::default()
    };
    let model = Model::load(&path, opts).unwrap();
    let mut failures = Vec::new();
    for (i, case) in reference.cases.iter().enumerate() {
        let prompt = model.tokenize(&case.prompt, false, true).unwrap();
        assert_eq!(
            prompt, case.prompt_tokens,
            "{stem} case {i}: tokenization of {:?} differs from llama.cpp's",
            case.prompt
        );
        // The reference ran on through tokens llama.cpp also counts as end-of-generation
        // (Qwen's <|endoftext|>) and stopped only at the model's EOS. So: generate 64 tokens
        // past any EOG, compare the reference's length, and check that where the reference
        // stopped we see an EOG token too.
        let req = GenerateRequest {
            prompt,
            sampling: SamplingParams::greedy(),
            max_tokens: Some(64),
            ignore_eos: true,
            ..GenerateRequest::default()
        };
        let out = common::collect(&model, req);
        let want = &case.greedy_tokens;
        let n = want.len().min(out.tokens.len());
        let ours = &out.tokens[..n];
        let stopped_ok =
            want.len() >= 64 || out.tokens.get(want.len()).is_some_and(|&t| model.is_eog(t));
        if ours != want.as_slice() || !stopped_ok {
            let first = ours.iter().zip(want).position(|(a, b)| a != b).unwrap_or(n);
            failures.push(format!(
                "{stem} case {i} ({:?}): first difference at token {first} (stopped as reference: {stopped_ok})\n  ours: {:?}\n  ref:  {:?}",
                case.prompt, out.text, case.greedy_text
            ));
        } else if !case.greedy_text.contains('\u{fffd}') && want.len() == 64 {
            assert_eq!(out.text, case.greedy_text, "{stem} case {i}: text differs");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn greedy_matches_llama_cpp_qwen_0_5b() {
    check(TestModel::Qwen05);
}

#[test]
fn greedy_matches_llama_cpp_qwen_1_5b() {
    check(TestModel::Qwen15);
}

#[test]
fn greedy_matches_llama_cpp_smollm2() {
    check(TestModel::SmolLm2);
}
