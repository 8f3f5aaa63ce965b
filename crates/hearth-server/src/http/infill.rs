//! llama.cpp server's `/infill`, through the autocomplete path.
use axum::extract::State;
use axum::http::{Extensions, HeaderMap};
use axum::response::Response;

use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::respond::answer;
use crate::http::state::AppState;
use crate::service::error::{blocking, ServiceError};
use crate::wire::frame::Framing;
use crate::wire::infill::{Encoder, InfillRequest};

/// The model to use: the request's, else the only one installed.
async fn infill_model(s: &AppState, req: &InfillRequest) -> Result<String, ApiError> {
    if !req.model.is_empty() {
        return Ok(req.model.clone());
    }
    let service = s.service.clone();
    let all = blocking(move || {
        service
            .stores()
            .list_all()
            .map_err(|e| ServiceError::store("(all)", e))
    })
    .await?;
    match all.as_slice() {
        [one] => Ok(one.name.display_shortest()),
        [] => Err(ApiError::bad_request("no model installed")),
        _ => Err(ApiError::bad_request(
            "\"model\" is required when more than one model is installed",
        )),
    }
}

/// `POST /infill`.
pub(crate) async fn infill(
    State(s): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    ApiJson(req): ApiJson<InfillRequest>,
) -> Result<Response, ApiError> {
    // Stamp the arrival order before any await.
    let early = (!req.model.is_empty()).then(|| s.session(&headers, &ext, &req.model));
    let name = infill_model(&s, &req).await?;
    let session = early.unwrap_or_else(|| s.session(&headers, &ext, &name));
    let enc = Encoder::new(&name);
    let running = s.service.start(req.to_gen(&name, session)?).await?;
    // Streamed as llama.cpp does: `data: {"content": ...}` events, the last with `stop`.
    let framing = Framing::Sse { done_marker: false };
    answer(running, enc, req.stream.then_some(framing)).await
}
