//! OpenAI's endpoints: `/v1/chat/completions`, `/v1/completions`, `/v1/models`.
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::backend::ModelEntry;
use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::respond::answer;
use crate::http::state::AppState;
use crate::service::error::{blocking, ServiceError};
use crate::service::scheduler::PsEntry;
use crate::service::Service;
use crate::wire::frame::Framing;
use crate::wire::openai::{ChatCompletionRequest, CompletionRequest, ModelMeta, ModelObject};
use crate::wire::openai_out::{ChatEncoder, CompletionEncoder};

const SSE: Framing = Framing::Sse { done_marker: true };

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    State(s): State<AppState>,
    ext: Extensions,
    ApiJson(req): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let enc = ChatEncoder::new(&req.model, include_usage);
    let running = s.start(&ext, req.to_gen()?).await?;
    answer(running, enc, req.stream.then_some(SSE)).await
}

/// `POST /v1/completions` (with `suffix` for fill-in-the-middle).
pub(crate) async fn completions(
    State(s): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let session = s.session(&headers, &ext, &req.model);
    let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
    let enc = CompletionEncoder::new(&req.model, include_usage);
    let running = s.start(&ext, req.to_gen(session)?).await?;
    answer(running, enc, req.stream.then_some(SSE)).await
}

fn model_object(id: String, modified: SystemTime) -> ModelObject {
    ModelObject {
        id,
        object: "model",
        created: modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        owned_by: "library",
        context_length: None,
        meta: None,
    }
}

/// `model_object` with the context a request gets and the file's facts (blocking: the first
/// look at a model reads its GGUF header); `loaded` is `/api/ps`'s list, taken once per
/// answer. A model whose file cannot be read is listed without them.
fn described(service: &Service, loaded: &[PsEntry], id: String, entry: &ModelEntry) -> ModelObject {
    let mut m = model_object(id, entry.modified);
    let Ok(info) = service.prompt_info_blocking(&entry.path) else {
        return m;
    };
    let in_use = loaded
        .iter()
        .find(|p| p.name == entry.name)
        .map(|p| p.context_length);
    let default = service.sched().default_num_ctx();
    m.context_length = Some(in_use.unwrap_or_else(|| {
        // An embedding model is loaded with at most its training context (the engine's rule).
        match (info.embedding, info.n_ctx_train) {
            (true, Some(t)) => default.min(u32::try_from(t).unwrap_or(u32::MAX)),
            _ => default,
        }
    }));
    m.meta = Some(ModelMeta {
        n_ctx_train: info.n_ctx_train,
        capabilities: info.capabilities(),
    });
    m
}

/// `GET /v1/models`.
pub(crate) async fn list_models(State(s): State<AppState>) -> Result<Response, ApiError> {
    let service = s.service.clone();
    let data = blocking(move || {
        let list = service
            .stores()
            .list_all()
            .map_err(|e| ServiceError::store("(all)", e))?;
        let loaded = service.sched().ps();
        Ok(list
            .into_iter()
            .map(|e| {
                let id = e.name.display_shortest();
                match service.resolve_blocking(&id) {
                    Ok(r) => described(&service, &loaded, id, &r.entry),
                    // Listed all the same (the policy may refuse loading it): no file facts.
                    Err(_) => model_object(id, e.modified),
                }
            })
            .collect::<Vec<_>>())
    })
    .await?;
    Ok(Json(json!({"object": "list", "data": data})).into_response())
}

/// `GET /v1/models/{id}`.
pub(crate) async fn get_model(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = s.service.resolve(&id).await?;
    let service = s.service.clone();
    let m = blocking(move || {
        let loaded = service.sched().ps();
        Ok(described(&service, &loaded, id, &r.entry))
    })
    .await?;
    Ok(Json(m).into_response())
}
