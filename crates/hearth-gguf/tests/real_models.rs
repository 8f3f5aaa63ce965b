//! The three real test models parse, and their facts are what llama.cpp and Ollama report.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_gguf::testing::{test_model, TestModel};
use hearth_gguf::{GgmlType, GgufFile};

#[test]
fn qwen_0_5b_facts() {
    let Some(path) = test_model(TestModel::Qwen05) else {
        return;
    };
    let f = GgufFile::open(&path).unwrap();
    let hp = f.metadata().hparams();
    assert_eq!(hp.architecture.as_deref(), Some("qwen2"));
    assert_eq!(hp.block_count, Some(24));
    assert_eq!(hp.head_count, Some(14));
    assert_eq!(hp.head_count_kv, Some(2));
    assert_eq!(hp.embedding_length, Some(896));
    assert_eq!(hp.context_length, Some(32768));
    assert_eq!(hp.key_length, Some(64));
    assert_eq!(f.tensors.len(), 291);
    assert_eq!(f.file_size, TestModel::Qwen05.size());
    let tok = f.metadata().tokenizer();
    assert!(tok
        .chat_template
        .as_deref()
        .is_some_and(|t| t.contains("<|im_start|>")));
    assert_eq!(tok.model.as_deref(), Some("gpt2"));
    assert_eq!(tok.vocab_size, Some(151_936));
    let mix: Vec<(GgmlType, u64)> = f.type_mix().iter().map(|s| (s.ty, s.tensors)).collect();
    assert_eq!(
        mix,
        vec![
            (GgmlType::Q5_0, 133),
            (GgmlType::F32, 121),
            (GgmlType::Q8_0, 13),
            (GgmlType::Q6_K, 12),
            (GgmlType::Q4_K, 12)
        ]
    );
    // Every tensor's bytes are a zero-copy view inside the file.
    for t in &f.tensors {
        assert_eq!(f.tensor_data(t).unwrap().len() as u64, t.n_bytes);
    }
    assert_eq!(f.trailing_bytes(), 0);
    assert_eq!(f.summary().file_type.as_deref(), Some("Q4_K_M"));
}

#[test]
fn qwen_1_5b_facts() {
    let Some(path) = test_model(TestModel::Qwen15) else {
        return;
    };
    let f = GgufFile::open(&path).unwrap();
    let hp = f.metadata().hparams();
    assert_eq!(hp.architecture.as_deref(), Some("qwen2"));
    assert_eq!(hp.block_count, Some(28));
    assert_eq!(hp.head_count, Some(12));
    assert_eq!(hp.head_count_kv, Some(2));
    assert!(f.metadata().tokenizer().chat_template.is_some());
    assert_eq!(f.file_size, TestModel::Qwen15.size());
}

#[test]
fn smollm2_facts() {
    let Some(path) = test_model(TestModel::SmolLm2) else {
        return;
    };
    let f = GgufFile::open(&path).unwrap();
    let hp = f.metadata().hparams();
    assert_eq!(hp.architecture.as_deref(), Some("llama"));
    assert_eq!(hp.block_count, Some(30));
    assert_eq!(hp.head_count, Some(9));
    assert_eq!(hp.head_count_kv, Some(3));
    assert_eq!(f.metadata().tokenizer().vocab_size, Some(49_152));
    assert!(f.type_mix().iter().any(|s| s.ty == GgmlType::Q4_1));
}
