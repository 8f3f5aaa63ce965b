//! The one BOS rule on a real tokenizer: a model whose tokenizer wants BOS gets exactly one,
//! whether or not its chat template already wrote `bos_token` at the start of the prompt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use hearth_engine::{LoadOptions, Model};
use hearth_gguf::testing::{test_model, TestModel};

/// SmolLM2 with `tokenizer.ggml.add_bos_token` switched on (the key's bool patched in a copy;
/// no offset moves).
fn smol_with_add_bos(dir: &std::path::Path) -> Option<std::path::PathBuf> {
    let src = test_model(TestModel::SmolLm2)?;
    let mut bytes = std::fs::read(src).unwrap();
    let key = b"tokenizer.ggml.add_bos_token";
    let at = bytes
        .windows(key.len())
        .position(|w| w == key)
        .expect("no add_bos_token key");
    let ty = at + key.len();
    assert_eq!(&bytes[ty..ty + 4], &7u32.to_le_bytes(), "not a bool");
    assert_eq!(bytes[ty + 4], 0, "already true");
    bytes[ty + 4] = 1;
    let path = dir.join("smol-add-bos.gguf");
    std::fs::write(&path, bytes).unwrap();
    Some(path)
}

#[test]
fn exactly_one_bos_when_the_template_writes_it_or_not() {
    let _g = common::heavy();
    let dir = tempfile::tempdir().unwrap();
    let Some(path) = smol_with_add_bos(dir.path()) else {
        return;
    };
    let opts = LoadOptions {
        n_ctx: 512,
        threads: Some(common::threads()),
        ..LoadOptions::default()
    };
    let model = Model::load(&path, opts).unwrap();
    let info = model.info();
    assert!(info.add_bos);
    let bos = info.bos.unwrap();
    let bos_text = String::from_utf8_lossy(&model.token_piece(bos)).into_owned();
    let count = |t: &[i32]| t.iter().filter(|&&x| x == bos).count();

    // A template that emits `{{ bos_token }}` first (as Llama's and Mistral's do).
    let templated = format!("{bos_text}user\nHello<|im_end|>\n");
    let toks = model.tokenize_prompt(&templated).unwrap();
    assert_eq!(toks[0], bos);
    assert_eq!(count(&toks), 1, "{toks:?}");
    // Without the rule the tokenizer would add a second one.
    assert_eq!(count(&model.tokenize(&templated, true, true).unwrap()), 2);
    // A prompt without it gets one added.
    let toks = model.tokenize_prompt("Hello").unwrap();
    assert_eq!((toks[0], count(&toks)), (bos, 1));
}
