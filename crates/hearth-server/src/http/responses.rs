//! OpenAI's Responses API: `POST /v1/responses` (Codex CLI, GitHub Copilot CLI).
use axum::extract::State;
use axum::response::Response;

use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::respond::{streamed, whole};
use crate::http::state::AppState;
use crate::wire::frame::Framing;
use crate::wire::responses::ResponsesRequest;
use crate::wire::responses_out::Encoder;

/// `POST /v1/responses`.
pub(crate) async fn create(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ResponsesRequest>,
) -> Result<Response, ApiError> {
    let enc = Encoder::new(&req);
    let running = s.service.start(req.to_gen()?).await?;
    if req.stream {
        return Ok(streamed(running, enc, Framing::SseNamed));
    }
    let truncated = running.truncated;
    let out = running.collect().await?;
    Ok(whole(&enc.whole(out), truncated))
}
