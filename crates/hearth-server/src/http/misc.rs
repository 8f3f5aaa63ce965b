//! Small endpoints: `/`, `/health` (llama.cpp's), `/metrics`, `/api/version`, and the answer
//! for paths no route serves.
use axum::extract::{Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::http::error::{ApiError, Flavor};
use crate::http::state::AppState;
use crate::metrics::Gauges;

/// Version reported by `/api/version` (the Ollama API level implemented).
pub(crate) const OLLAMA_API_VERSION: &str = "0.13.0";

pub(crate) async fn root() -> &'static str {
    "Ollama is running"
}

/// `GET /health` as llama.cpp's server answers it (routers probe it): 200 with the load, or with
/// `?fail_on_no_slot=1` a 503 while requests are queued for a slot.
pub(crate) async fn health(
    State(s): State<AppState>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let fail_on_no_slot = q
        .get("fail_on_no_slot")
        .is_some_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
    let (status, body) = health_body(&s.service.gauges(), fail_on_no_slot);
    (status, axum::Json(body)).into_response()
}

fn health_body(g: &Gauges, fail_on_no_slot: bool) -> (StatusCode, serde_json::Value) {
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

/// Ollama's version answer, plus whether anything may leave this server (`route_mode`).
pub(crate) async fn version(State(s): State<AppState>) -> impl IntoResponse {
    let mode = if s.cfg.no_cloud || s.cfg.route_policy.router.mode == hearth_route::Mode::LocalOnly
    {
        "local-only"
    } else {
        "hybrid"
    };
    axum::Json(serde_json::json!({ "version": OLLAMA_API_VERSION, "route_mode": mode }))
}

pub(crate) async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    let text = s.service.metrics().render(&s.service.gauges());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

pub(crate) async fn not_found(req: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no route for {} {}", req.method(), req.uri().path()),
    )
    .render(Flavor::of_path(req.uri().path()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_fails_on_no_slot_only_when_asked_and_queued() {
        let idle = Gauges::default();
        let queued = Gauges {
            running: 1,
            waiting: 2,
            ..idle.clone()
        };
        assert_eq!(health_body(&idle, true).0, StatusCode::OK);
        let (st, body) = health_body(&queued, false);
        assert_eq!(st, StatusCode::OK);
        assert_eq!(body["requests_waiting"], 2);
        let (st, body) = health_body(&queued, true);
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["error"]["code"], 503);
    }
}
