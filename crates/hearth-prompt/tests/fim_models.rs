//! FIM format detection on the real test models' vocabularies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_gguf::testing::{test_model, TestModel};
use hearth_gguf::GgufFile;
use hearth_prompt::{FimFamily, FimFormat, FimInput, FimLayout};

fn detect(model: TestModel) -> Option<Option<FimFormat>> {
    let path = test_model(model)?;
    let file = GgufFile::open(&path).unwrap();
    Some(FimFormat::detect(file.metadata()))
}

#[test]
fn qwen_coder_models_have_qwen_fim_with_repo_tokens() {
    for model in [TestModel::Qwen05, TestModel::Qwen15] {
        let Some(found) = detect(model) else { continue };
        let f = found.unwrap_or_else(|| panic!("{model:?}: no FIM format detected"));
        assert_eq!(f.family, FimFamily::Qwen);
        assert_eq!(
            (
                f.prefix_token.as_str(),
                f.suffix_token.as_str(),
                f.middle_token.as_str()
            ),
            ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>")
        );
        assert_eq!(f.repo_token.as_deref(), Some("<|repo_name|>"));
        assert_eq!(f.file_sep_token.as_deref(), Some("<|file_sep|>"));
        for stop in [
            "<|endoftext|>",
            "<|file_sep|>",
            "<|fim_pad|>",
            "<|im_end|>",
            "<|repo_name|>",
        ] {
            assert!(
                f.stop_tokens().iter().any(|s| s == stop),
                "{model:?}: missing stop {stop}"
            );
        }
        let p = f.build(
            &FimInput {
                prefix: "def add(a, b):\n    re".into(),
                suffix: "\n".into(),
                ..Default::default()
            },
            FimLayout::Middle,
        );
        assert_eq!(
            p.text(),
            "<|fim_prefix|>def add(a, b):\n<|fim_suffix|>\n<|fim_middle|>    re"
        );
    }
}

#[test]
fn smollm2_has_no_fim() {
    let Some(found) = detect(TestModel::SmolLm2) else {
        return;
    };
    // Its vocabulary has <repo_name> and <file_sep> but no FIM markers.
    assert_eq!(found, None);
}
