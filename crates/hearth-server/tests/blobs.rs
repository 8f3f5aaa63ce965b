#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `HEAD`/`POST /api/blobs/{digest}` and `/api/create` with `files`, as `ollama create`
//! uses them: the upload is checked against its digest, and a client over HTTP names models
//! or uploaded blobs, never the server's files.
mod common;

use std::sync::Arc;

use common::scripted::{tiny_model, ScriptedEngine, ScriptedRunner};
use common::*;
use hearth_server::config::ServerConfig;
use serde_json::json;

fn head(path: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::builder()
        .method("HEAD")
        .uri(path)
        .body(axum::body::Body::empty())
        .unwrap()
}

#[tokio::test]
async fn upload_then_create_from_the_blob() {
    let (dir, stores) = temp_store();
    let runner = ScriptedRunner::new(&["ok"], 600);
    let s = state(
        ServerConfig::default(),
        stores,
        Arc::new(ScriptedEngine(runner)),
    );
    let bytes = std::fs::read(tiny_model(dir.path())).unwrap();
    let digest = hearth_store::Digest::from_bytes(&bytes).to_string();
    let blob = format!("/api/blobs/{digest}");

    assert_eq!(send(&s, head(&blob)).await.status, 404);
    let upload = axum::http::Request::post(&blob)
        .header("host", "127.0.0.1:11434")
        .body(axum::body::Body::from(bytes.clone()))
        .unwrap();
    let r = send(&s, upload).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(send(&s, head(&blob)).await.status, 200);

    // Bytes that do not hash to the digest are refused and not kept.
    let other = format!("/api/blobs/sha256:{}", "ab".repeat(32));
    let r = send(&s, post(&other, "not the model")).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("digest mismatch"));
    assert_eq!(send(&s, head(&other)).await.status, 404);
    assert_eq!(send(&s, post("/api/blobs/md5:xyz", "x")).await.status, 400);

    let body = json!({"model": "uploaded:latest", "files": {"tiny.gguf": digest}, "stream": false});
    let r = send(&s, post("/api/create", body.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tags = send(&s, get("/api/tags")).await.json();
    assert!(
        tags["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == "uploaded:latest"),
        "{tags}"
    );
    let r = send(
        &s,
        post(
            "/api/chat",
            json!({"model": "uploaded", "stream": false,
        "messages": [{"role": "user", "content": "hi"}]})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(r.json()["message"]["content"], "ok");

    // A blob that was never uploaded, and server paths, are refused.
    let body = json!({"model": "x", "files": {"a.gguf": format!("sha256:{}", "cd".repeat(32))}});
    assert_eq!(
        send(&s, post("/api/create", body.to_string())).await.status,
        400
    );
    for from in ["/etc/passwd", "./model.gguf", "~/m.gguf", "weights.GGUF"] {
        let r = send(
            &s,
            post(
                "/api/create",
                json!({"model": "x", "from": from}).to_string(),
            ),
        )
        .await;
        assert_eq!(r.status, 400, "{from}");
        assert!(
            r.json()["error"].as_str().unwrap().contains("/api/blobs"),
            "{from}"
        );
    }
}
