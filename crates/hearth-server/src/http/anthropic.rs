//! Anthropic's Messages API: `/v1/messages` (Claude Code adds `?beta=true`) and
//! `/v1/messages/count_tokens`.
use axum::extract::State;
use axum::http::Extensions;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::respond::answer;
use crate::http::state::AppState;
use crate::wire::anthropic::{Encoder, MessagesRequest, TokenCount};
use crate::wire::frame::Framing;

/// `POST /v1/messages`.
pub(crate) async fn messages(
    State(s): State<AppState>,
    ext: Extensions,
    ApiJson(req): ApiJson<MessagesRequest>,
) -> Result<Response, ApiError> {
    let enc = Encoder::new(&req.model);
    let running = s.start(&ext, req.to_gen()?).await?;
    answer(running, enc, req.stream.then_some(Framing::SseNamed)).await
}

/// `POST /v1/messages/count_tokens`.
pub(crate) async fn count_tokens(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<MessagesRequest>,
) -> Result<Response, ApiError> {
    let input_tokens = s.service.count_tokens(req.to_gen()?).await?;
    Ok(Json(TokenCount { input_tokens }).into_response())
}
