#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Embeddings through the HTTP layer with the real all-MiniLM-L6-v2 (converted by
//! `hearth convert`): Ollama's `/api/embed` and `/api/embeddings`, OpenAI's `/v1/embeddings`,
//! `/api/show`'s capability, and the refusals.
mod common;

use common::*;
use hearth_gguf::testing::{test_model, TestModel};
use hearth_server::config::ServerConfig;
use hearth_server::AppState;
use serde_json::{json, Value};

const MODEL: &str = "all-minilm:latest";
const CHAT: &str = "smollm2:135m";

fn setup() -> Option<(tempfile::TempDir, AppState)> {
    let minilm = test_model(TestModel::MiniLm)?;
    let smol = test_model(TestModel::SmolLm2)?;
    let cfg = ServerConfig {
        threads: Some(2),
        default_num_ctx: 2048,
        ..ServerConfig::default()
    };
    Some(serve_models(&[(MODEL, &minilm), (CHAT, &smol)], cfg))
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum()
}

fn norm(a: &[f32]) -> f64 {
    dot(a, a).sqrt()
}

#[tokio::test]
async fn ollama_and_openai_embeddings() {
    let Some((_d, s)) = setup() else { return };

    // /v1/models: the context a request gets and what the file says (nothing loaded yet).
    let models = send(&s, get("/v1/models")).await.json();
    let entry = |id: &str| {
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("{id} not in {models}"))
    };
    let (m, c) = (entry(MODEL), entry(CHAT));
    assert_eq!(m["context_length"], 512, "{m}");
    assert_eq!(m["meta"]["n_ctx_train"], 512);
    assert_eq!(m["meta"]["capabilities"], json!(["embedding"]));
    assert_eq!(c["context_length"], 2048, "{c}");
    assert_eq!(c["meta"]["n_ctx_train"], 8192);
    assert_eq!(c["meta"]["capabilities"][0], "completion");
    let one = send(&s, get(&format!("/v1/models/{CHAT}"))).await.json();
    assert_eq!(one["context_length"], 2048, "{one}");

    let show = send(&s, post("/api/show", json!({"model": MODEL}).to_string())).await;
    assert_eq!(
        show.json()["capabilities"],
        json!(["embedding"]),
        "{}",
        show.text()
    );

    let texts = [
        "The cat sits on the mat.",
        "A feline rests on a rug.",
        "How do I reverse a linked list in Rust?",
    ];
    let r = send(
        &s,
        post(
            "/api/embed",
            json!({"model": MODEL, "input": texts}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["prompt_eval_count"], 9 + 10 + 12);
    assert!(body["total_duration"].as_u64().unwrap() > 0);
    let v: Vec<Vec<f32>> = body["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(floats)
        .collect();
    assert_eq!(v.len(), 3);
    for e in &v {
        assert_eq!(e.len(), 384);
        assert!((norm(e) - 1.0).abs() < 1e-4, "normalised");
    }
    // The paraphrase ranks above the unrelated question.
    assert!((dot(&v[0], &v[1]) - 0.558).abs() < 0.01);
    assert!(dot(&v[0], &v[1]) > dot(&v[0], &v[2]) + 0.3);

    // One string; the same vector as in the batch.
    let one = send(
        &s,
        post(
            "/api/embed",
            json!({"model": MODEL, "input": texts[0]}).to_string(),
        ),
    )
    .await
    .json();
    let alone = floats(&one["embeddings"][0]);
    assert!(dot(&alone, &v[0]) > 0.99999);

    // dimensions: the first n components, normalised again.
    let short = send(
        &s,
        post(
            "/api/embed",
            json!({"model": MODEL, "input": texts[0], "dimensions": 64}).to_string(),
        ),
    )
    .await
    .json();
    let short = floats(&short["embeddings"][0]);
    assert_eq!(short.len(), 64);
    assert!((norm(&short) - 1.0).abs() < 1e-4);

    // The older endpoint: one prompt, the vector as pooled (not normalised), same direction.
    let legacy = send(
        &s,
        post(
            "/api/embeddings",
            json!({"model": MODEL, "prompt": texts[0]}).to_string(),
        ),
    )
    .await
    .json();
    let raw = floats(&legacy["embedding"]);
    assert!(
        (norm(&raw) - 1.0).abs() > 0.01,
        "legacy vectors are not normalised"
    );
    assert!(dot(&raw, &v[0]) / norm(&raw) > 0.99999);

    // OpenAI: floats, base64 of the same floats, token-id input, usage.
    let oa = send(
        &s,
        post(
            "/v1/embeddings",
            json!({"model": MODEL, "input": texts[..2]}).to_string(),
        ),
    )
    .await;
    assert_eq!(oa.status, 200, "{}", oa.text());
    let oa = oa.json();
    assert_eq!(oa["object"], "list");
    assert_eq!(oa["data"][1]["index"], 1);
    assert_eq!(oa["data"][1]["object"], "embedding");
    assert_eq!(oa["usage"]["prompt_tokens"], 19);
    assert!(dot(&floats(&oa["data"][1]["embedding"]), &v[1]) > 0.99999);
    let b64 = send(
        &s,
        post(
            "/v1/embeddings",
            json!({"model": MODEL, "input": texts[0], "encoding_format": "base64"}).to_string(),
        ),
    )
    .await
    .json();
    let decoded = decode_b64_f32(b64["data"][0]["embedding"].as_str().unwrap());
    assert_eq!(decoded.len(), 384);
    assert!(dot(&decoded, &v[0]) > 0.99999);
    let ids = send(
        &s,
        post(
            "/v1/embeddings",
            json!({"model": MODEL, "input": [[101, 1996, 4937, 7719, 2006, 1996, 13523, 1012, 102]]})
                .to_string(),
        ),
    )
    .await
    .json();
    assert!(
        dot(&floats(&ids["data"][0]["embedding"]), &v[0]) > 0.99999,
        "{ids}"
    );

    // A long input is cut to the context (512), keeping [SEP], unless truncate is false.
    let long = "word ".repeat(1000);
    let cut = send(
        &s,
        post(
            "/api/embed",
            json!({"model": MODEL, "input": long}).to_string(),
        ),
    )
    .await;
    assert_eq!(cut.status, 200, "{}", cut.text());
    assert_eq!(cut.json()["prompt_eval_count"], 512);
    let refused = send(
        &s,
        post(
            "/api/embed",
            json!({"model": MODEL, "input": long, "truncate": false}).to_string(),
        ),
    )
    .await;
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("1002 tokens"), "{}", refused.text());

    // An empty input only loads the model.
    let empty = send(
        &s,
        post(
            "/api/embed",
            json!({"model": MODEL, "input": ""}).to_string(),
        ),
    )
    .await;
    assert_eq!(empty.status, 200);
    assert_eq!(empty.json()["embeddings"], json!([]));

    // Refusals: generation on the embedding model, embeddings from a chat model, bad input.
    let chat = send(
        &s,
        post(
            "/api/chat",
            json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": false})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(chat.status, 400, "{}", chat.text());
    assert!(chat.text().contains("embedding model"), "{}", chat.text());
    let not_embedding = send(
        &s,
        post(
            "/api/embed",
            json!({"model": CHAT, "input": "hi"}).to_string(),
        ),
    )
    .await;
    assert_eq!(not_embedding.status, 400, "{}", not_embedding.text());
    assert!(not_embedding.text().contains("does not support embeddings"));
    let too_wide = send(
        &s,
        post(
            "/v1/embeddings",
            json!({"model": MODEL, "input": "x", "dimensions": 385}).to_string(),
        ),
    )
    .await;
    assert_eq!(too_wide.status, 400, "{}", too_wide.text());
    assert!(too_wide.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("385"));
    let bad_ids = send(
        &s,
        post(
            "/v1/embeddings",
            json!({"model": MODEL, "input": [[99999999]]}).to_string(),
        ),
    )
    .await;
    assert_eq!(bad_ids.status, 400, "{}", bad_ids.text());
}

fn decode_b64_f32(s: &str) -> Vec<f32> {
    hearth_guard::sign::base64_decode(s)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
