//! OpenAI's Responses API: `POST /v1/responses` (Codex CLI, GitHub Copilot CLI).
use axum::extract::State;
use axum::http::Extensions;
use axum::response::Response;

use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::respond::answer;
use crate::http::state::AppState;
use crate::wire::frame::Framing;
use crate::wire::responses::ResponsesRequest;
use crate::wire::responses_out::Encoder;

/// `POST /v1/responses`.
pub(crate) async fn create(
    State(s): State<AppState>,
    ext: Extensions,
    ApiJson(req): ApiJson<ResponsesRequest>,
) -> Result<Response, ApiError> {
    let enc = Encoder::new(&req);
    let running = s.start(&ext, req.to_gen()?).await?;
    answer(running, enc, req.stream.then_some(Framing::SseNamed)).await
}
