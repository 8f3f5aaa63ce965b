//! Shared helpers for the server's integration tests.
#![allow(dead_code)]
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use hearth_server::backend::Engine;
use hearth_server::config::ServerConfig;
use hearth_server::{app, AppState};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A store in a temp dir (under the target dir, so hard links to the test models work).
pub(crate) fn temp_store() -> (tempfile::TempDir, hearth_store::Stores) {
    let dir = tempfile::Builder::new()
        .prefix("hearth-server-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let primary = hearth_store::Store::open(dir.path()).unwrap();
    (
        dir,
        hearth_store::Stores {
            primary,
            extra: Vec::new(),
        },
    )
}

/// Import a GGUF into the store under `name` (hard link).
pub(crate) fn import(stores: &hearth_store::Stores, name: &str, gguf: &Path) {
    let n = hearth_store::ModelName::parse(name).unwrap();
    stores
        .primary
        .import_gguf(&n, gguf, true, &hearth_store::no_progress)
        .unwrap();
}

/// A server on the real llama.cpp engine whose store holds `models` (name, GGUF file;
/// hard-linked).
#[cfg(feature = "llama")]
pub(crate) fn serve_models(
    models: &[(&str, &Path)],
    cfg: ServerConfig,
) -> (tempfile::TempDir, AppState) {
    let (dir, stores) = temp_store();
    for (name, gguf) in models {
        import(&stores, name, gguf);
    }
    let engine = Arc::new(hearth_server::engine_adapter::LlamaEngine::default());
    (dir, state(cfg, stores, engine))
}

pub(crate) fn state(
    cfg: ServerConfig,
    stores: hearth_store::Stores,
    engine: Arc<dyn Engine>,
) -> AppState {
    AppState::new(cfg, stores, engine)
}

/// A metric's value from `/metrics`.
pub(crate) async fn metric(state: &AppState, name: &str) -> f64 {
    let text = send(state, get("/metrics")).await.text();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub(crate) async fn send(state: &AppState, req: Request<Body>) -> Reply {
    let resp = app(state.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

pub(crate) fn post(path: &str, body: impl Into<String>) -> Request<Body> {
    Request::post(path)
        .header("host", "127.0.0.1:11434")
        .header("content-type", "application/json")
        .body(Body::from(body.into()))
        .unwrap()
}

pub(crate) fn get(path: &str) -> Request<Body> {
    Request::get(path)
        .header("host", "localhost:11434")
        .body(Body::empty())
        .unwrap()
}

pub(crate) mod scripted;

/// The objects of an NDJSON body (Ollama).
pub(crate) fn ndjson(r: &Reply) -> Vec<serde_json::Value> {
    r.text()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `data:` objects of an SSE body (OpenAI), and whether `[DONE]` came last.
pub(crate) fn sse(r: &Reply) -> (Vec<serde_json::Value>, bool) {
    let text = r.text();
    let mut out = Vec::new();
    let mut done = false;
    for ev in text.split("\n\n").filter(|e| !e.trim().is_empty()) {
        let data = ev.strip_prefix("data: ").expect("not an SSE event");
        assert!(!done, "event after [DONE]: {ev}");
        if data == "[DONE]" {
            done = true;
        } else {
            out.push(serde_json::from_str(data).unwrap());
        }
    }
    (out, done)
}

/// `(event name, data)` pairs of a named-event SSE body (Anthropic, Responses); keep-alive
/// comments are skipped, and each event's name must be its object's `type`.
pub(crate) fn named_events(r: &Reply) -> Vec<(String, serde_json::Value)> {
    r.text()
        .split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let e = e.trim_start_matches(": keep-alive\n");
            let (name, data) = e.split_once('\n').expect("event without data");
            let name = name.strip_prefix("event: ").expect("no event name");
            let data: serde_json::Value =
                serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
            assert_eq!(data["type"], name, "the event name is the object's type");
            (name.to_string(), data)
        })
        .collect()
}
