//! Ollama's generation endpoints: `/api/generate` and `/api/chat`.
use axum::extract::State;
use axum::http::{Extensions, HeaderMap};
use axum::response::Response;

use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::respond::{answer, whole};
use crate::http::state::AppState;
use crate::service::request::GenRequest;
use crate::wire::frame::Framing;
use crate::wire::ollama::{Ask, ChatRequest, GenerateRequest, LoadRequest, LoadResponse};
use crate::wire::ollama_out::Encoder;

async fn run(
    s: &AppState,
    ext: &Extensions,
    ask: Ask,
    chat: bool,
    stream: bool,
) -> Result<Response, ApiError> {
    let g: GenRequest = match ask {
        Ask::Generate(g) => g,
        Ask::Load(LoadRequest {
            model,
            options,
            keep_alive,
        }) => {
            let unloaded = s
                .service
                .load_or_unload(&model, options, keep_alive)
                .await?;
            return Ok(whole(&LoadResponse::new(&model, chat, unloaded), None));
        }
    };
    let enc = Encoder::new(&g.model, chat);
    let running = s.start(ext, g).await?;
    answer(running, enc, stream.then_some(Framing::Ndjson)).await
}

/// `POST /api/generate`.
pub(crate) async fn generate(
    State(s): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    ApiJson(req): ApiJson<GenerateRequest>,
) -> Result<Response, ApiError> {
    let session = s.session(&headers, &ext, &req.model()?);
    let ask = req.to_gen(session)?;
    run(&s, &ext, ask, false, req.stream.unwrap_or(true)).await
}

/// `POST /api/chat`.
pub(crate) async fn chat(
    State(s): State<AppState>,
    ext: Extensions,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    run(&s, &ext, req.to_gen()?, true, req.stream.unwrap_or(true)).await
}
