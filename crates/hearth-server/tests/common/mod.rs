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
