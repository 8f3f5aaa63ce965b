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
        .header("host", "127.0.0.1:11434")
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
    let r = send(&s, post(&other, "GGUF but not the model")).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("digest mismatch"));
    assert_eq!(send(&s, head(&other)).await.status, 404);
    // A body that is not GGUF is refused at its first bytes, and kept nowhere.
    let r = send(&s, post(&other, "PK\u{3}\u{4} a zip with a pickle inside")).await;
    assert!(r.status.is_client_error(), "{}", r.text());
    assert!(r.text().contains("not a GGUF"), "{}", r.text());
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

    // A relative path that also parses as a model name (`etc/passwd` from a server started
    // in `/`) names a model only: the file beside the server's working directory is never
    // read, and the answer is the same as for a path that does not exist.
    let probe = tempfile::Builder::new()
        .prefix("createprobe")
        .tempdir_in(".")
        .unwrap();
    std::fs::write(probe.path().join("model"), &bytes).unwrap();
    let dir_name = probe
        .path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let mut answers = Vec::new();
    for from in [format!("{dir_name}/model"), format!("{dir_name}/missing")] {
        let r = send(
            &s,
            post(
                "/api/create",
                json!({"model": "stolen", "from": from}).to_string(),
            ),
        )
        .await;
        answers.push((
            r.status,
            r.json()["error"].as_str().unwrap().replace(&from, "F"),
        ));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 404, "{answers:?}");
    let tags = send(&s, get("/api/tags")).await.json();
    assert!(
        !tags.to_string().contains("stolen"),
        "a server file became a model: {tags}"
    );
}

#[tokio::test]
async fn create_from_a_path_only_inside_allowed_directories() {
    let (dir, stores) = temp_store();
    let allowed = tempfile::tempdir().unwrap();
    let model = tiny_model(allowed.path());
    let runner = ScriptedRunner::new(&["ok"], 600);
    let cfg = ServerConfig {
        allow_models_from: vec![allowed.path().to_path_buf()],
        ..ServerConfig::default()
    };
    let s = state(cfg, stores, Arc::new(ScriptedEngine(runner)));
    let blobs_dir = dir.path().join("blobs");
    let blobs = || {
        let mut v: Vec<_> = std::fs::read_dir(&blobs_dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        v.sort();
        v
    };
    let before = blobs();
    // Everything that is not a model file inside the allowed directory gets one answer and
    // copies nothing: a readable system file, a device that never ends, a missing path, a
    // symlink out of the directory, a relative escape.
    std::os::unix::fs::symlink("/etc/passwd", allowed.path().join("p.gguf")).unwrap();
    let escape = format!("{}/../../etc/passwd", allowed.path().display());
    let link = allowed.path().join("p.gguf").display().to_string();
    let mut answers = Vec::new();
    for from in [
        "/etc/passwd",
        "/dev/zero",
        "/nonexistent/m.gguf",
        link.as_str(),
        escape.as_str(),
    ] {
        let r = send(
            &s,
            post(
                "/api/create",
                json!({"model": "x", "from": from, "stream": false}).to_string(),
            ),
        )
        .await;
        answers.push((r.status, r.text()));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    assert_eq!(answers[0].0, 400);
    assert!(!answers[0].1.contains("root:"), "file bytes in the answer");
    assert_eq!(blobs(), before, "something was copied");

    // A GGUF in the allowed directory becomes a model.
    let r = send(
        &s,
        post(
            "/api/create",
            json!({"model": "local", "from": model.display().to_string(), "stream": false})
                .to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tags = send(&s, get("/api/tags")).await.json();
    assert!(tags.to_string().contains("local:latest"), "{tags}");
}
