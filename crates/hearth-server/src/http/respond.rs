//! Responses of generation endpoints: the one streamed body (over [`wire::frame::stream`]) and
//! whole JSON answers, both with `X-Hearth-Truncated` when the conversation lost turns.
//!
//! [`wire::frame::stream`]: crate::wire::frame::stream
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::error::ApiError;
use crate::service::running::{Running, Truncated};
use crate::wire::frame::{self, Encoder, Framing};

/// Header saying a conversation dropped its oldest turns to fit the context:
/// `messages=3; prompt_tokens=9000->4000`.
pub(crate) const TRUNCATED_HEADER: &str = "x-hearth-truncated";

fn mark(r: &mut Response, t: Option<Truncated>) {
    if let Some(t) = t {
        let v = format!(
            "messages={}; prompt_tokens={}->{}",
            t.messages, t.tokens_before, t.tokens_after
        );
        if let Ok(v) = HeaderValue::from_str(&v) {
            r.headers_mut().insert(TRUNCATED_HEADER, v);
        }
    }
}

/// A streamed generation in `framing`, encoded by `enc`.
pub(crate) fn streamed<E: Encoder>(running: Running, enc: E, framing: Framing) -> Response {
    let truncated = running.truncated;
    let mut r = Response::builder()
        .header(header::CONTENT_TYPE, framing.content_type())
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(frame::stream(running, enc, framing)))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response());
    mark(&mut r, truncated);
    r
}

/// A generation's answer: streamed in `stream`'s framing, else collected and sent whole.
pub(crate) async fn answer<E: Encoder>(
    running: Running,
    enc: E,
    stream: Option<Framing>,
) -> Result<Response, ApiError> {
    if let Some(framing) = stream {
        return Ok(streamed(running, enc, framing));
    }
    let truncated = running.truncated;
    let out = running.collect().await?;
    Ok(whole(&enc.whole(out), truncated))
}

/// A whole answer as JSON.
pub(crate) fn whole(body: &impl Serialize, truncated: Option<Truncated>) -> Response {
    let mut r = axum::Json(body).into_response();
    mark(&mut r, truncated);
    r
}
