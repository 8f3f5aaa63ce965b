//! Embeddings from all-MiniLM-L6-v2 (converted by `hearth convert`) against llama.cpp's own
//! vectors for the same file (testdata/minilm-llama-cpp.json, made with llama-cpp-python by
//! scripts/embedding-reference.py).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod common;

use hearth_engine::{EmbeddingInfo, GenerateRequest, LoadOptions, Model, Pooling};
use hearth_gguf::testing::{test_model, TestModel};

#[derive(serde::Deserialize)]
struct Reference {
    cases: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    tokens: Vec<i32>,
    embedding: Vec<f32>,
}

fn reference() -> Reference {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/minilm-llama-cpp.json"
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn normalized(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    v.iter().map(|x| (f64::from(*x) / n) as f32).collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn load() -> Option<Model> {
    let path = test_model(TestModel::MiniLm)?;
    let opts = LoadOptions {
        n_ctx: 0,
        threads: Some(common::threads()),
        ..LoadOptions::default()
    };
    Some(Model::load(&path, opts).unwrap())
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn matches_llama_cpp() {
    let _heavy = common::heavy();
    let Some(model) = load() else { return };
    let info = model.info();
    assert_eq!(
        info.embedding,
        Some(EmbeddingInfo {
            dimensions: 384,
            pooling: Pooling::Mean
        })
    );
    assert_eq!(info.n_ctx, 512);
    let reference = reference();
    let inputs: Vec<Vec<i32>> = reference
        .cases
        .iter()
        .map(|c| {
            let toks = model.tokenize(&c.text, true, false).unwrap();
            assert_eq!(toks, c.tokens, "tokens of {:?}", c.text);
            toks
        })
        .collect();
    // All inputs in one request (packed into shared batches) ...
    let together = block_on(model.embed(inputs.clone())).unwrap();
    assert_eq!(together.vectors.len(), reference.cases.len());
    assert_eq!(
        together.prompt_tokens,
        inputs.iter().map(Vec::len).sum::<usize>()
    );
    let mut worst = 1f64;
    for (c, v) in reference.cases.iter().zip(&together.vectors) {
        assert_eq!(v.len(), 384);
        let cos = cosine(v, &c.embedding);
        assert!(cos >= 0.999, "{:?}: cosine {cos} against llama.cpp", c.text);
        worst = worst.min(cos);
    }
    eprintln!("lowest cosine against llama.cpp: {worst:.7}");
    // ... and one at a time give the same vectors.
    for (input, v) in inputs.iter().zip(&together.vectors) {
        let alone = block_on(model.embed(vec![input.clone()])).unwrap();
        let cos = cosine(&alone.vectors[0], v);
        assert!(cos >= 0.99999, "batched vs alone: cosine {cos}");
    }
    // Facts from the model card: the first components, and a paraphrase scored well above an
    // unrelated sentence.
    let first = normalized(&together.vectors[0]);
    for (got, want) in first.iter().zip([0.06766f32, 0.0634, 0.0487, 0.0792]) {
        assert!((got - want).abs() < 2e-3, "{got} vs {want}");
    }
    let (cat, feline, rust) = (
        &together.vectors[2],
        &together.vectors[3],
        &together.vectors[4],
    );
    assert!((cosine(cat, feline) - 0.558).abs() < 0.01);
    assert!(cosine(cat, feline) > cosine(cat, rust) + 0.3);
}

#[test]
fn refuses_what_it_cannot_do() {
    let _heavy = common::heavy();
    let Some(model) = load() else { return };
    let toks = model.tokenize("hello", true, false).unwrap();
    let err = model
        .generate(GenerateRequest::new(toks.clone()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("embedding model"), "{err}");
    let too_long = vec![toks[1]; 513];
    let err = block_on(model.embed(vec![too_long]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("513 tokens"), "{err}");
    assert!(block_on(model.embed(vec![vec![]])).is_err());
    assert!(block_on(model.embed(vec![vec![40_000]])).is_err());
    assert!(block_on(model.embed(vec![])).unwrap().vectors.is_empty());
}

#[test]
fn generation_models_do_not_embed() {
    let _heavy = common::heavy();
    let Some(path) = test_model(TestModel::SmolLm2) else {
        return;
    };
    let model = Model::load(
        &path,
        LoadOptions {
            n_ctx: 256,
            threads: Some(common::threads()),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(model.info().embedding, None);
    let err = block_on(model.embed(vec![vec![1, 2]]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not produce embeddings"), "{err}");
}
