//! The security and observability middleware every request passes: request id and tracing
//! span, Host allowlist (DNS rebinding), CORS allowlist, API key, body size, the management
//! mode (open, key, off), and per-route metrics labelled by the matched route pattern.
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::config::{Management, ServerConfig};
use crate::http::error::render_for_path as err;
use crate::http::state::AppState;

/// A 401 that tells the client to send a bearer token.
fn unauthorized(path: &str, msg: &str) -> Response {
    let mut r = err(path, StatusCode::UNAUTHORIZED, msg);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    r
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
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    // Anthropic's clients send the key as `x-api-key`.
    let x_api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let Some(token) = bearer.or(x_api_key) else {
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
    ) || is_blob(path)
}

/// Blob uploads are model files (gigabytes): streamed to disk and checked against their
/// digest, so the JSON body limit does not apply to them.
fn is_blob(path: &str) -> bool {
    path.starts_with("/api/blobs/")
}

/// Request id, tracing span, Host allowlist, CORS, API key, body size, management switch, metrics.
pub(crate) async fn guard(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let id = s.next_id.fetch_add(1, Ordering::Relaxed);
    let path = req.uri().path().to_string();
    // The route's pattern (never the raw path: no unbounded label values).
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("other", MatchedPath::as_str)
        .to_string();
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
        // Every HTTP/1.1 request names its host; one without cannot be checked against
        // DNS rebinding, so it is refused (as Go's server and Ollama do).
        let Some(host) = req.headers().get(header::HOST) else {
            return err(&path, StatusCode::BAD_REQUEST, "missing Host header");
        };
        let host = host.to_str().unwrap_or("");
        if !host_allowed(cfg, host) {
            tracing::warn!(host, "rejected Host header");
            return err(
                &path,
                StatusCode::FORBIDDEN,
                format!("host {host:?} is not allowed"),
            );
        }
        if let Some(o) = &origin {
            // A web page (any origin, even an allowed editor webview) may chat, never manage
            // models: pulls, creates, uploads and deletes come from the CLI and API clients,
            // which send no Origin.
            if is_management(&path) {
                tracing::warn!(origin = %o, "refused a cross-origin model-management request");
                return err(
                    &path,
                    StatusCode::FORBIDDEN,
                    "model management is not available to web pages (cross-origin requests)",
                );
            }
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
        let managing = is_management(&path);
        match cfg.management {
            Management::Off if managing => {
                return err(
                    &path,
                    StatusCode::FORBIDDEN,
                    "model management is disabled on this server",
                );
            }
            Management::Key if managing => {
                // Validated at startup: key mode always has a key to require.
                let key = cfg.management_credential().unwrap_or_default();
                if key.is_empty() || !key_ok(req.headers(), key) {
                    return unauthorized(
                        &path,
                        "model management needs the management key (Authorization: Bearer <key>)",
                    );
                }
            }
            _ => {}
        }
        // In key mode a management request was authorised by its own key above.
        let checked = managing && cfg.management == Management::Key;
        if let Some(key) = &cfg.api_key {
            let open = matches!(path.as_str(), "/" | "/health") || checked;
            if !open && !key_ok(req.headers(), key) {
                return unauthorized(
                    &path,
                    "missing or invalid API key (Authorization: Bearer <key>)",
                );
            }
        }
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > cfg.max_body_bytes as u64) && !is_blob(&path) {
            return err(
                &path,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body is larger than {} bytes", cfg.max_body_bytes),
            );
        }
        next.run(req).await
    }
    .instrument(span.clone())
    .await;
    let mut resp = resp;
    let status = resp.status().as_u16();
    s.service.metrics().observe(&route, status, start.elapsed());
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
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, X-Api-Key, Anthropic-Version, Anthropic-Beta, Content-Type, User-Agent, Accept, X-Requested-With, X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-OS, X-Stainless-Arch, X-Stainless-Retry-Count, X-Stainless-Runtime, X-Stainless-Runtime-Version, X-Stainless-Async, X-Stainless-Timeout, OpenAI-Organization, OpenAI-Project, X-Hearth-Route, X-Hearth-Project, X-Hearth-Session"));
            // A page may read where its answer came from.
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static("X-Hearth-Route, X-Request-Id"),
            );
        }
    }
    resp
}

#[cfg(test)]
mod tests {
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
