//! The router, shared state, the security/observability middleware and the JSON body extractor.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::Stream;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::config::ServerConfig;
use crate::error::{ApiError, Flavor};
use crate::metrics::Metrics;
use crate::models::PromptCache;
use crate::scheduler::Scheduler;
use crate::{ollama_routes, openai_routes};

/// Version reported by `/api/version` (the Ollama API level implemented).
pub const OLLAMA_API_VERSION: &str = "0.13.0";

/// Everything handlers share.
pub struct Shared {
    /// Configuration.
    pub cfg: ServerConfig,
    /// Model stores.
    pub stores: hearth_store::Stores,
    /// Residency scheduler.
    pub sched: Scheduler,
    /// Chat templates / FIM formats by file.
    pub prompts: PromptCache,
    /// Metrics.
    pub metrics: Metrics,
    /// Autocomplete requests in flight per client session (superseding).
    pub fim_sessions: crate::fim::Sessions,
    next_id: AtomicU64,
}

/// Cheap-to-clone handle on [`Shared`].
#[derive(Clone)]
pub struct AppState(pub Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Build the state.
    pub fn new(cfg: ServerConfig, stores: hearth_store::Stores, sched: Scheduler) -> Self {
        AppState(Arc::new(Shared {
            cfg,
            stores,
            sched,
            prompts: PromptCache::default(),
            metrics: Metrics::default(),
            fim_sessions: crate::fim::Sessions::default(),
            next_id: AtomicU64::new(1),
        }))
    }

    /// The chat template and FIM format of a model file, read (once, then cached) off the
    /// async runtime: the first read parses the whole GGUF header.
    pub async fn prompt_info(
        &self,
        path: &std::path::Path,
    ) -> Result<Arc<crate::models::PromptInfo>, ApiError> {
        let s = self.clone();
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || s.prompts.get(&path))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))?
    }
}

/// The whole HTTP application (testable without a socket via `tower::ServiceExt::oneshot`).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(root).head(root))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/api/version", get(version))
        .route("/api/generate", post(ollama_routes::generate))
        .route("/api/chat", post(ollama_routes::chat))
        .route("/api/tags", get(ollama_routes::tags))
        .route("/api/show", post(ollama_routes::show))
        .route("/api/ps", get(ollama_routes::ps))
        .route("/api/pull", post(ollama_routes::pull))
        .route("/api/push", post(ollama_routes::push))
        .route("/api/create", post(ollama_routes::create))
        .route("/api/copy", post(ollama_routes::copy))
        .route("/api/delete", axum::routing::delete(ollama_routes::delete))
        .route(
            "/v1/chat/completions",
            post(openai_routes::chat_completions),
        )
        .route("/v1/completions", post(openai_routes::completions))
        .route("/infill", post(crate::fim::infill))
        .route("/v1/models", get(openai_routes::list_models))
        .route("/v1/models/{*id}", get(openai_routes::get_model))
        .fallback(not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn root() -> &'static str {
    "Ollama is running"
}

/// `GET /health` as llama.cpp's server answers it (routers probe it): 200 with the load, or with
/// `?fail_on_no_slot=1` a 503 while requests are queued for a slot.
async fn health(
    State(s): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    let fail_on_no_slot = q
        .get("fail_on_no_slot")
        .is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    let (status, body) = health_body(&s.sched.gauges(), fail_on_no_slot);
    (status, axum::Json(body)).into_response()
}

fn health_body(
    g: &crate::metrics::Gauges,
    fail_on_no_slot: bool,
) -> (StatusCode, serde_json::Value) {
    if fail_on_no_slot && g.waiting > 0 {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"error": {"code": 503, "message": "no slot available",
                "type": "unavailable_error"}}),
        );
    }
    (
        StatusCode::OK,
        serde_json::json!({"status": "ok", "models_loaded": g.loaded_models,
            "requests_processing": g.running, "requests_waiting": g.waiting,
            "slots_busy": g.slots_busy}),
    )
}

async fn version() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "version": OLLAMA_API_VERSION }))
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let text = s.metrics.render(&s.sched.gauges());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn not_found(req: Request) -> ApiError {
    let e = ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method(), req.uri().path()),
    );
    if req.uri().path().starts_with("/v1/") {
        e.openai()
    } else {
        e
    }
}

fn flavor_of(path: &str) -> Flavor {
    if path.starts_with("/v1/") {
        Flavor::OpenAi
    } else {
        Flavor::Ollama
    }
}

fn err(path: &str, status: StatusCode, msg: impl Into<String>) -> Response {
    let mut e = ApiError::new(status, msg);
    e.flavor = flavor_of(path);
    e.into_response()
}

/// Host names always accepted in the Host header.
fn host_allowed(cfg: &ServerConfig, host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    let name = name.to_ascii_lowercase();
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<std::net::IpAddr>() {
        if ip.is_loopback() || ip == cfg.bind.ip() {
            return true;
        }
    }
    // Off-loopback with a key: the key, not the Host header, protects the server.
    if !cfg.bind.ip().is_loopback() && cfg.api_key.is_some() {
        return true;
    }
    cfg.allowed_hosts
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&name))
}

const DEFAULT_ORIGINS: &[&str] = &[
    "http://localhost",
    "https://localhost",
    "http://localhost:*",
    "https://localhost:*",
    "http://127.0.0.1",
    "https://127.0.0.1",
    "http://127.0.0.1:*",
    "https://127.0.0.1:*",
    "http://[::1]",
    "http://[::1]:*",
    "app://*",
    "file://*",
    "tauri://*",
    "vscode-webview://*",
    "vscode-file://*",
];

fn origin_matches(pattern: &str, origin: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => origin.starts_with(prefix),
        None => pattern == origin,
    }
}

fn origin_allowed(cfg: &ServerConfig, origin: &str) -> bool {
    DEFAULT_ORIGINS.iter().any(|p| origin_matches(p, origin))
        || cfg
            .allowed_origins
            .iter()
            .any(|p| p == "*" || origin_matches(p, origin))
}

fn key_ok(headers: &HeaderMap, key: &str) -> bool {
    let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(token) = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
    else {
        return false;
    };
    // Constant-time comparison.
    let (a, b) = (token.trim().as_bytes(), key.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn is_management(path: &str) -> bool {
    matches!(
        path,
        "/api/pull" | "/api/push" | "/api/create" | "/api/copy" | "/api/delete"
    )
}

/// Request id, tracing span, Host allowlist, CORS, API key, body size, management switch, metrics.
async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let id = s.next_id.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let span = tracing::info_span!("request", id, %method, path = %path);
    let start = Instant::now();
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let resp = async {
        let cfg = &s.cfg;
        if let Some(host) = req.headers().get(header::HOST) {
            let host = host.to_str().unwrap_or("");
            if !host_allowed(cfg, host) {
                tracing::warn!(host, "rejected Host header");
                return err(
                    &path,
                    StatusCode::FORBIDDEN,
                    format!("host {host:?} is not allowed"),
                );
            }
        }
        if let Some(o) = &origin {
            if !origin_allowed(cfg, o) {
                tracing::warn!(origin = %o, "rejected Origin");
                return err(
                    &path,
                    StatusCode::FORBIDDEN,
                    format!("origin {o:?} is not allowed"),
                );
            }
            if method == Method::OPTIONS {
                return StatusCode::NO_CONTENT.into_response();
            }
        }
        if let Some(key) = &cfg.api_key {
            let open = matches!(path.as_str(), "/" | "/health");
            if !open && !key_ok(req.headers(), key) {
                let mut r = err(
                    &path,
                    StatusCode::UNAUTHORIZED,
                    "missing or invalid API key (Authorization: Bearer <key>)",
                );
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return r;
            }
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cfg.max_body_bytes as u64) {
            return err(
                &path,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {} bytes", cfg.max_body_bytes),
            );
        }
        if cfg.disable_management && is_management(&path) {
            return err(
                &path,
                StatusCode::FORBIDDEN,
                "model management is disabled on this server",
            );
        }
        next.run(req).await
    }
    .instrument(span.clone())
    .await;
    let mut resp = resp;
    let status = resp.status().as_u16();
    let route = route_label(&path);
    s.metrics.observe(route, status, start.elapsed());
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = start.elapsed().as_millis() as u64,
            "done"
        )
    });
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
        h.insert("x-request-id", v);
    }
    if let Some(o) = origin.filter(|o| origin_allowed(&s.cfg, o)) {
        if let Ok(v) = HeaderValue::from_str(&o) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"),
            );
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type, User-Agent, Accept, X-Requested-With, X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-OS, X-Stainless-Arch, X-Stainless-Retry-Count, X-Stainless-Runtime, X-Stainless-Runtime-Version, X-Stainless-Async, X-Stainless-Timeout, OpenAI-Organization, OpenAI-Project"));
        }
    }
    resp
}

/// Fixed route labels (no unbounded label values from user paths).
fn route_label(path: &str) -> &'static str {
    const ROUTES: &[&str] = &[
        "/",
        "/health",
        "/metrics",
        "/api/version",
        "/api/generate",
        "/api/chat",
        "/api/tags",
        "/api/show",
        "/api/ps",
        "/api/pull",
        "/api/push",
        "/api/create",
        "/api/copy",
        "/api/delete",
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/models",
    ];
    if path.starts_with("/v1/models/") {
        return "/v1/models/{id}";
    }
    ROUTES
        .iter()
        .find(|r| **r == path)
        .copied()
        .unwrap_or("other")
}

/// A JSON body parsed into `T` at the edge: 413 past the body limit, 400 for malformed JSON or
/// wrong types (naming the field), error body shaped for the API the path belongs to.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let flavor = flavor_of(req.uri().path());
        let with = |mut e: ApiError| {
            e.flavor = flavor;
            e
        };
        let limit = state.cfg.max_body_bytes;
        let bytes: Bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                with(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("request body is larger than {limit} bytes"),
                ))
            })?;
        let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
            Bytes::from_static(b"{}")
        } else {
            bytes
        };
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|e| with(ApiError::bad_request(format!("invalid request body: {e}"))))
    }
}

/// A streaming body of NDJSON lines.
pub fn ndjson<S>(stream: S) -> Response
where
    S: Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static,
{
    Response::builder()
        .header(header::CONTENT_TYPE, "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A streaming body of server-sent events.
pub fn sse<S>(stream: S) -> Response
where
    S: Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static,
{
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// One NDJSON line.
pub fn line(v: &impl serde::Serialize) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
    b.push(b'\n');
    Bytes::from(b)
}

/// One SSE event.
pub fn event(v: &impl serde::Serialize) -> Bytes {
    let mut b = b"data: ".to_vec();
    b.extend(serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec()));
    b.extend_from_slice(b"\n\n");
    Bytes::from(b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn health_fails_on_no_slot_only_when_asked_and_queued() {
        let idle = crate::metrics::Gauges::default();
        let queued = crate::metrics::Gauges {
            running: 1,
            waiting: 2,
            ..idle.clone()
        };
        assert_eq!(super::health_body(&idle, true).0, super::StatusCode::OK);
        let (st, body) = super::health_body(&queued, false);
        assert_eq!(st, super::StatusCode::OK);
        assert_eq!(body["requests_waiting"], 2);
        let (st, body) = super::health_body(&queued, true);
        assert_eq!(st, super::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], 503);
    }

    use super::*;

    #[test]
    fn hosts_and_origins() {
        let cfg = ServerConfig::default();
        assert!(host_allowed(&cfg, "localhost:11434"));
        assert!(host_allowed(&cfg, "127.0.0.1:11434"));
        assert!(host_allowed(&cfg, "[::1]:11434"));
        assert!(!host_allowed(&cfg, "evil.example"));
        assert!(!host_allowed(&cfg, "evil.example:11434"));
        assert!(origin_allowed(&cfg, "vscode-webview://abc"));
        assert!(origin_allowed(&cfg, "http://localhost:3000"));
        assert!(!origin_allowed(&cfg, "https://evil.example"));
        assert!(!origin_allowed(&cfg, "http://localhost.evil.example"));
    }
}
