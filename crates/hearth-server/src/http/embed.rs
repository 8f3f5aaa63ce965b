//! Embedding endpoints: Ollama's `/api/embed` and `/api/embeddings`, OpenAI's
//! `/v1/embeddings`.
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::state::AppState;
use crate::wire::embed::{
    EmbedBody, EmbedResponse, EmbeddingsBody, EmbeddingsResponse, OpenAiEmbedBody,
    OpenAiEmbedResponse,
};

/// `POST /api/embed`.
pub(crate) async fn embed(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<EmbedBody>,
) -> Result<Response, ApiError> {
    let e = s.service.embed(req.to_embed()?).await?;
    Ok(Json(EmbedResponse::from(e)).into_response())
}

/// `POST /api/embeddings` (Ollama's older endpoint).
pub(crate) async fn embeddings(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<EmbeddingsBody>,
) -> Result<Response, ApiError> {
    let e = s.service.embed(req.to_embed()?).await?;
    let embedding = e.vectors.into_iter().next().unwrap_or_default();
    Ok(Json(EmbeddingsResponse { embedding }).into_response())
}

/// `POST /v1/embeddings`.
pub(crate) async fn openai(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<OpenAiEmbedBody>,
) -> Result<Response, ApiError> {
    let (embed, encoding) = req.to_embed()?;
    let e = s.service.embed(embed).await?;
    Ok(Json(OpenAiEmbedResponse::new(e, &req.model, encoding)).into_response())
}
