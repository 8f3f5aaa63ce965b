#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! HTTP-level tests without generation: wire-type validation, errors, security, listing, show.
mod common;

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use common::*;
use hearth_gguf::testing::{test_model, TestModel};
use hearth_server::backend::{BackendError, Engine, LoadParams, Runner};
use hearth_server::config::ServerConfig;

/// An engine that cannot load anything: these tests must never reach generation.
struct NoEngine;
impl Engine for NoEngine {
    fn load(&self, path: &Path, _: &LoadParams) -> Result<Arc<dyn Runner>, BackendError> {
        Err(BackendError::Other(format!(
            "test: unexpected load of {}",
            path.display()
        )))
    }
}

fn plain(cfg: ServerConfig) -> (tempfile::TempDir, hearth_server::AppState) {
    let (dir, stores) = temp_store();
    (dir, state(cfg, stores, Arc::new(NoEngine)))
}

#[tokio::test]
async fn root_version_health() {
    let (_d, s) = plain(ServerConfig::default());
    let r = send(&s, get("/")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Ollama is running");
    let r = send(
        &s,
        Request::head("/")
            .header("host", "localhost:11434")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    let r = send(&s, get("/api/version")).await;
    assert!(r.json()["version"].as_str().unwrap().starts_with("0."));
    assert!(r.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn bad_input_is_4xx_and_server_keeps_serving() {
    let (_d, s) = plain(ServerConfig::default());
    let cases: &[(&str, &str, u16, &str)] = &[
        ("/api/generate", "{not json", 400, "invalid request body"),
        (
            "/api/generate",
            r#"{"model": 5, "prompt": "x"}"#,
            400,
            "invalid type",
        ),
        (
            "/api/generate",
            r#"{"model": "m", "prompt": ["x"]}"#,
            400,
            "invalid type",
        ),
        (
            "/api/generate",
            r#"{"prompt": "x"}"#,
            400,
            "model is required",
        ),
        (
            "/api/generate",
            r#"{"model": "m", "prompt": "x", "options": {"num_predict": -5}}"#,
            400,
            "num_predict",
        ),
        (
            "/api/generate",
            r#"{"model": "m", "prompt": "x", "options": {"num_ctx": 1000000000}}"#,
            400,
            "num_ctx",
        ),
        (
            "/api/generate",
            r#"{"model": "m", "prompt": "x", "options": {"temperature": "warm"}}"#,
            400,
            "invalid type",
        ),
        (
            "/api/generate",
            r#"{"model": "m", "prompt": "x", "raw": true, "template": "{{ .Prompt }}"}"#,
            400,
            "raw",
        ),
        (
            "/api/generate",
            r#"{"model": "m", "prompt": "x", "format": "yaml"}"#,
            400,
            "format",
        ),
        (
            "/api/generate",
            r#"{"model": "m", "prompt": "x", "keep_alive": "soon"}"#,
            400,
            "keep_alive",
        ),
        (
            "/api/generate",
            r#"{"model": "nope:latest", "prompt": "x"}"#,
            404,
            "not found",
        ),
        (
            "/api/chat",
            r#"{"model": "m", "messages": [{"role": "wizard", "content": "x"}]}"#,
            400,
            "role",
        ),
        (
            "/api/chat",
            r#"{"name": "nope", "messages": [{"role": "user", "content": "x"}]}"#,
            404,
            "not found",
        ),
        (
            "/api/chat",
            r#"{"model": "m", "messages": "hi"}"#,
            400,
            "invalid type",
        ),
        ("/api/show", r#"{"name": "nope"}"#, 404, "not found"),
        ("/api/show", r#"{"name": "bad name with spaces!"}"#, 400, ""),
        (
            "/api/copy",
            r#"{"source": "nope", "destination": "x"}"#,
            404,
            "not found",
        ),
        ("/api/create", r#"{"model": "x"}"#, 400, "from"),
    ];
    for (path, body, status, needle) in cases {
        let r = send(&s, post(path, *body)).await;
        assert_eq!(r.status.as_u16(), *status, "{path} {body}: {}", r.text());
        let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(msg.contains(needle), "{path} {body}: {msg}");
    }
    let r = send(
        &s,
        Request::delete("/api/delete")
            .header("host", "localhost:11434")
            .body(Body::from(r#"{"model":"nope"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 404);
    // Still serving.
    let r = send(&s, get("/api/tags")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["models"], serde_json::json!([]));
}

#[tokio::test]
async fn openai_errors_are_openai_shaped() {
    let (_d, s) = plain(ServerConfig::default());
    let r = send(&s, post("/v1/chat/completions", "{")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let r = send(
        &s,
        post(
            "/v1/chat/completions",
            r#"{"model":"nope","messages":[{"role":"user","content":"hi"}]}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["error"]["code"], "model_not_found");
    let r = send(
        &s,
        post(
            "/v1/chat/completions",
            r#"{"model":"m","n":2,"messages":[{"role":"user","content":"hi"}]}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("n=1"));
    let r = send(&s, post("/v1/chat/completions", r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"frob"}}}}"#)).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = send(
        &s,
        post("/v1/completions", r#"{"model":"m","prompt":["a","b"]}"#),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(&s, get("/v1/models/nope")).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]["message"].is_string());
    let r = send(&s, get("/v1/nothing")).await;
    assert_eq!(r.status, 404);
    assert!(r.json()["error"]["message"].is_string());
}

#[tokio::test]
async fn host_header_allowlist() {
    let (_d, s) = plain(ServerConfig::default());
    let r = send(
        &s,
        Request::get("/api/tags")
            .header("host", "evil.example")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.json()["error"].as_str().unwrap().contains("evil.example"));
    let r = send(
        &s,
        Request::get("/api/tags")
            .header("host", "localhost:11434")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200);
    // No Host at all: refused, it cannot be checked.
    let r = send(&s, Request::get("/api/tags").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("Host"));
}

#[tokio::test]
async fn api_key_required_when_set() {
    let cfg = ServerConfig {
        api_key: Some("sekrit".into()),
        ..ServerConfig::default()
    };
    let (_d, s) = plain(cfg);
    assert_eq!(send(&s, get("/api/tags")).await.status, 401);
    let bad = Request::get("/api/tags")
        .header("host", "localhost:11434")
        .header("authorization", "Bearer wrong")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&s, bad).await.status, 401);
    let r = send(&s, post("/v1/chat/completions", "{}")).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["type"], "authentication_error");
    let ok = Request::get("/api/tags")
        .header("host", "localhost:11434")
        .header("authorization", "Bearer sekrit")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&s, ok).await.status, 200);
    assert_eq!(send(&s, get("/")).await.status, 200, "liveness stays open");
}

#[tokio::test]
async fn body_limits() {
    let (_d, s) = plain(ServerConfig::default());
    // A declared 100 MB body is refused before it is read.
    let req = Request::post("/api/generate")
        .header("host", "localhost:11434")
        .header("content-length", (100u64 << 20).to_string())
        .body(Body::from(vec![b' '; 1024]))
        .unwrap();
    let r = send(&s, req).await;
    assert_eq!(r.status, 413);
    // A real 100 MB body without a length header is cut off at the limit.
    let big = vec![b'a'; 100 << 20];
    let stream = futures_util::stream::iter(
        big.chunks(1 << 20)
            .map(|c| Ok::<_, std::io::Error>(axum::body::Bytes::copy_from_slice(c)))
            .collect::<Vec<_>>(),
    );
    let req = Request::post("/api/generate")
        .header("host", "localhost:11434")
        .body(Body::from_stream(stream))
        .unwrap();
    let r = send(&s, req).await;
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().contains("larger than"));
}

#[tokio::test]
async fn prompt_size_limit() {
    let cfg = ServerConfig {
        max_prompt_bytes: 1000,
        ..ServerConfig::default()
    };
    let Some(model) = test_model(TestModel::SmolLm2) else {
        return;
    };
    let (_d, stores) = temp_store();
    import(&stores, "qwen:latest", &model);
    let s = state(cfg, stores, Arc::new(NoEngine));
    let body = serde_json::json!({"model": "qwen", "prompt": "x".repeat(5000), "stream": false})
        .to_string();
    let r = send(&s, post("/api/generate", body)).await;
    assert_eq!(r.status, 413, "{}", r.text());
}

#[tokio::test]
async fn cors_allowlist() {
    let cfg = ServerConfig {
        allowed_origins: vec!["https://app.example".into()],
        ..ServerConfig::default()
    };
    let (_d, s) = plain(cfg);
    let with_origin = |o: &str| {
        Request::get("/api/tags")
            .header("host", "localhost:11434")
            .header("origin", o)
            .body(Body::empty())
            .unwrap()
    };
    let r = send(&s, with_origin("vscode-webview://1234")).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "vscode-webview://1234"
    );
    let r = send(&s, with_origin("http://localhost:5173")).await;
    assert_eq!(
        r.headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let r = send(&s, with_origin("https://app.example")).await;
    assert_eq!(r.status, 200);
    let r = send(&s, with_origin("https://evil.example")).await;
    assert_eq!(r.status, 403);
    assert!(!r.headers.contains_key("access-control-allow-origin"));
    let pre = Request::options("/api/chat")
        .header("host", "localhost:11434")
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    let r = send(&s, pre).await;
    assert_eq!(r.status, 204);
    let allowed = r.headers["access-control-allow-headers"].to_str().unwrap();
    assert!(
        allowed.contains("Authorization") && allowed.contains("X-Hearth-Route"),
        "{allowed}"
    );
    assert!(r.headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("X-Hearth-Route"));
    // Model management never answers a web page, even an allowed one: no pulls, uploads or
    // deletes from a browser tab (preflight included).
    for (method, path) in [
        ("POST", "/api/pull"),
        ("OPTIONS", "/api/delete"),
        ("POST", "/api/blobs/sha256:00"),
        ("POST", "/api/create"),
    ] {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost:11434")
            .header("origin", "vscode-webview://1234")
            .body(Body::from("{}"))
            .unwrap();
        let r = send(&s, req).await;
        assert_eq!(r.status, 403, "{method} {path}");
        assert!(r.text().contains("web pages"), "{}", r.text());
    }
}

#[tokio::test]
async fn management_can_be_disabled() {
    let cfg = ServerConfig {
        management: hearth_server::config::Management::Off,
        ..ServerConfig::default()
    };
    let (_d, s) = plain(cfg);
    let blob = format!("/api/blobs/sha256:{}", "ab".repeat(32));
    for path in [
        "/api/pull",
        "/api/create",
        "/api/copy",
        "/api/push",
        blob.as_str(),
    ] {
        let r = send(&s, post(path, r#"{"model":"x"}"#)).await;
        assert_eq!(r.status, 403, "{path}");
    }
    assert_eq!(send(&s, get("/api/tags")).await.status, 200);
}

#[tokio::test]
async fn management_behind_its_own_key() {
    use hearth_server::config::Management;
    // Inference stays keyless for local editors; management needs the management key, on
    // loopback too.
    let cfg = ServerConfig {
        management: Management::Key,
        management_key: Some("admin".into()),
        ..ServerConfig::default()
    };
    let (_d, s) = plain(cfg);
    let with = |path: &str, key: Option<&str>| {
        let mut b = Request::post(path).header("host", "localhost:11434");
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        b.body(Body::from(
            r#"{"model":"x","source":"x","destination":"y"}"#,
        ))
        .unwrap()
    };
    for path in ["/api/pull", "/api/create", "/api/copy", "/api/push"] {
        for key in [None, Some("wrong")] {
            let r = send(&s, with(path, key)).await;
            assert_eq!(r.status, 401, "{path} {key:?}");
            assert!(r.headers.contains_key("www-authenticate"));
        }
        // With the key the request reaches the handler (which then finds no model "x").
        let r = send(&s, with(path, Some("admin"))).await;
        assert_ne!(r.status, 401, "{path}: {}", r.text());
        assert_ne!(r.status, 403, "{path}: {}", r.text());
    }
    assert_eq!(send(&s, get("/api/tags")).await.status, 200);

    // With an API key as well, each kind of request takes its own key.
    let cfg = ServerConfig {
        api_key: Some("user".into()),
        management: Management::Key,
        management_key: Some("admin".into()),
        ..ServerConfig::default()
    };
    let (_d, s) = plain(cfg);
    assert_eq!(send(&s, with("/api/copy", Some("user"))).await.status, 401);
    assert_ne!(send(&s, with("/api/copy", Some("admin"))).await.status, 401);
    let tags = |k: &str| {
        Request::get("/api/tags")
            .header("host", "localhost:11434")
            .header("authorization", format!("Bearer {k}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(send(&s, tags("user")).await.status, 200);
    assert_eq!(send(&s, tags("admin")).await.status, 401);
}

#[tokio::test]
async fn off_loopback_without_key_refuses_to_start() {
    let (_d, stores) = temp_store();
    let cfg = ServerConfig {
        bind: "0.0.0.0:0".parse().unwrap(),
        ..ServerConfig::default()
    };
    let err = hearth_server::serve::serve(cfg, stores, Arc::new(NoEngine), async {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("without an API key"), "{err}");
}

#[tokio::test]
async fn metrics_text() {
    let (_d, s) = plain(ServerConfig::default());
    send(&s, get("/api/tags")).await;
    let r = send(&s, get("/metrics")).await;
    let t = r.text();
    assert!(
        t.contains("hearth_requests_total{route=\"/api/tags\",status=\"200\"} 1"),
        "{t}"
    );
    for name in [
        "vllm:num_requests_waiting",
        "vllm:num_requests_running",
        "vllm:kv_cache_usage_perc",
        "hearth_loaded_models",
        "hearth_memory_bytes",
    ] {
        assert!(t.contains(name), "{name} missing");
    }
}

#[tokio::test]
async fn list_show_copy_delete_with_real_model() {
    let Some(model) = test_model(TestModel::Qwen05) else {
        return;
    };
    let (_d, stores) = temp_store();
    import(&stores, "qwen2.5-coder:0.5b", &model);
    let s = state(ServerConfig::default(), stores, Arc::new(NoEngine));
    let r = send(&s, get("/api/tags")).await;
    let m = &r.json()["models"][0];
    assert_eq!(m["name"], "qwen2.5-coder:0.5b");
    assert_eq!(m["model"], "qwen2.5-coder:0.5b");
    assert_eq!(m["details"]["family"], "qwen2");
    assert_eq!(m["details"]["quantization_level"], "Q4_K_M");
    assert!(m["details"]["parameter_size"]
        .as_str()
        .unwrap()
        .ends_with('M'));
    assert!(m["size"].as_u64().unwrap() >= 491_400_064);
    // Continue posts {"name": ...} and checks the template for ".Suffix".
    let r = send(&s, post("/api/show", r#"{"name":"qwen2.5-coder:0.5b"}"#)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let template = j["template"].as_str().unwrap();
    assert!(
        template.contains(".Suffix") && template.contains("<|fim_prefix|>"),
        "{template}"
    );
    let caps: Vec<&str> = j["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        caps.contains(&"completion") && caps.contains(&"insert") && caps.contains(&"tools"),
        "{caps:?}"
    );
    assert_eq!(j["model_info"]["general.architecture"], "qwen2");
    assert_eq!(j["model_info"]["qwen2.context_length"], 32768);
    assert!(
        j["model_info"]["tokenizer.ggml.tokens"].is_null(),
        "vocab left out unless verbose"
    );
    assert_eq!(j["details"]["format"], "gguf");
    // Imported from a local file: its provenance record says so.
    assert_eq!(j["provenance"]["registry"], "local", "{j}");
    // ... without the server's file path.
    assert_eq!(j["provenance"]["url"], "", "{j}");
    assert_eq!(j["provenance"]["name"], "qwen2.5-coder:0.5b");
    assert!(j["provenance"]["digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    // OpenAI listing.
    let r = send(&s, get("/v1/models")).await;
    assert_eq!(r.json()["data"][0]["id"], "qwen2.5-coder:0.5b");
    let r = send(&s, get("/v1/models/qwen2.5-coder:0.5b")).await;
    assert_eq!(r.json()["object"], "model");
    // Copy and delete.
    let r = send(
        &s,
        post(
            "/api/copy",
            r#"{"source":"qwen2.5-coder:0.5b","destination":"mine"}"#,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let names: Vec<String> = send(&s, get("/api/tags")).await.json()["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["mine:latest", "qwen2.5-coder:0.5b"]);
    let r = send(
        &s,
        Request::delete("/api/delete")
            .header("host", "localhost:11434")
            .header("content-type", "application/json")
            .body(Body::from(r#"{"model":"mine"}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        send(&s, get("/api/tags")).await.json()["models"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Suffix on a model without FIM is a 400 (SmolLM2 has no FIM tokens).
    if let Some(smol) = test_model(TestModel::SmolLm2) {
        import(s.service().stores(), "smol:latest", &smol);
        let r = send(
            &s,
            post(
                "/api/generate",
                r#"{"model":"smol","prompt":"def f(","suffix":")","stream":false}"#,
            ),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("insert"));
    }
}

/// A registry whose one model layer trickles (64 KiB every 20 ms of a declared 64 MiB); it
/// records when the client closes the blob connection.
fn trickling_registry(closed: Arc<std::sync::atomic::AtomicBool>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = l.local_addr().unwrap().to_string();
    let cfg = br#"{"model_format":"gguf","model_family":"llama"}"#.to_vec();
    let cfg_digest = hearth_store::Digest::from_bytes(&cfg).to_string();
    let blob_digest = format!("sha256:{}", "ab".repeat(32));
    let size: u64 = 64 << 20;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": cfg_digest, "size": cfg.len()},
        "layers": [{"mediaType": "application/vnd.ollama.image.model",
                    "digest": blob_digest, "size": size}],
    })
    .to_string();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let (cfg, manifest, closed) = (cfg.clone(), manifest.clone(), closed.clone());
            let (cfg_digest, blob_digest) = (cfg_digest.clone(), blob_digest.clone());
            std::thread::spawn(move || {
                let mut r = BufReader::new(c.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                let mut c = c;
                let whole = |c: &mut std::net::TcpStream, b: &[u8]| {
                    let _ = write!(
                        c,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        b.len()
                    );
                    let _ = c.write_all(b);
                };
                if path.ends_with("/manifests/latest") {
                    whole(&mut c, manifest.as_bytes());
                } else if path.ends_with(&cfg_digest) {
                    whole(&mut c, &cfg);
                } else if path.ends_with(&blob_digest) {
                    let _ = write!(
                        c,
                        "HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
                    );
                    let chunk = vec![0u8; 64 << 10];
                    for _ in 0..(size / chunk.len() as u64) {
                        if c.write_all(&chunk).and_then(|()| c.flush()).is_err() {
                            closed.store(true, std::sync::atomic::Ordering::SeqCst);
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    }
                } else {
                    let _ = write!(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                }
            });
        }
    });
    host
}

/// A client that goes away stops its pull: the download's connection closes (the partial
/// data stays for a later resume).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_stops_when_its_client_goes_away() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reg = trickling_registry(closed.clone());
    let (_d, s) = plain(ServerConfig {
        allow_private_pulls: true,
        ..ServerConfig::default()
    });
    let body = serde_json::json!({"model": format!("http://{reg}/library/slow")}).to_string();
    let resp = hearth_server::app(s.clone())
        .oneshot(post("/api/pull", body))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();
    // Wait until bytes of the layer arrive.
    let layer = format!("sha256:{}", "ab".repeat(32));
    let mut seen = String::new();
    let started = |seen: &str| {
        seen.lines().any(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
            v["digest"] == layer.as_str() && v["completed"].as_u64().is_some_and(|n| n > 0)
        })
    };
    while !started(&seen) {
        let f = tokio::time::timeout(std::time::Duration::from_secs(30), body.frame())
            .await
            .expect("no progress")
            .expect("stream ended")
            .unwrap();
        if let Ok(d) = f.into_data() {
            seen.push_str(&String::from_utf8_lossy(&d));
        }
        assert!(!seen.contains("\"error\""), "{seen}");
    }
    drop(body);
    for _ in 0..500 {
        if closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the pull went on after its client went away");
}

/// A pull requested over HTTP reaches only public hosts: the server's loopback (and private
/// networks) are refused before any connection, unless the operator allows them.
#[tokio::test]
async fn pulls_over_http_do_not_reach_loopback() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let host = listener.local_addr().unwrap();
    let (_d, s) = plain(ServerConfig::default());
    for model in [
        format!("http://{host}/library/m"),
        format!("http://localhost:{}/library/m", host.port()),
    ] {
        let r = send(
            &s,
            post(
                "/api/pull",
                serde_json::json!({"model": model, "stream": false}).to_string(),
            ),
        )
        .await;
        assert!(
            r.status.is_client_error() || r.status.is_server_error(),
            "{}",
            r.text()
        );
        assert!(
            r.text().contains("non-public address"),
            "{model}: {}",
            r.text()
        );
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the loopback server was contacted"
    );
}
