//! The HTTP layer: routes, middleware, extractors and error bodies. Handlers are a few lines
//! each: parse the wire type, hand the service a request, encode its answer.
mod anthropic;
mod embed;
pub(crate) mod error;
mod extract;
mod guard;
mod infill;
pub(crate) mod inproc;
mod misc;
mod ollama;
mod ollama_models;
mod openai;
mod respond;
mod responses;
mod route;
pub(crate) mod state;

use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{delete, get, post};
use axum::Router;

use error::{shape, Flavor};
use state::AppState;

/// The whole HTTP application (testable without a socket via `tower::ServiceExt::oneshot`).
/// Ollama's and llama.cpp's routes answer errors in Ollama's shape, `/v1/` routes in OpenAI's,
/// `/v1/messages` in Anthropic's.
pub fn app(state: AppState) -> Router {
    let ollama = Router::new()
        .route("/", get(misc::root).head(misc::root))
        .route("/health", get(misc::health))
        .route("/metrics", get(misc::metrics))
        .route("/api/version", get(misc::version))
        .route("/api/generate", post(ollama::generate))
        .route("/api/chat", post(ollama::chat))
        .route("/api/embed", post(embed::embed))
        .route("/api/embeddings", post(embed::embeddings))
        .route("/api/tags", get(ollama_models::tags))
        .route("/api/show", post(ollama_models::show))
        .route("/api/ps", get(ollama_models::ps))
        .route("/api/pull", post(ollama_models::pull))
        .route("/api/push", post(ollama_models::push))
        .route("/api/create", post(ollama_models::create))
        .route(
            "/api/blobs/{digest}",
            post(ollama_models::blob_upload).head(ollama_models::blob_exists),
        )
        .route("/api/copy", post(ollama_models::copy))
        .route("/api/delete", delete(ollama_models::delete))
        .route("/infill", post(infill::infill))
        .layer(middleware::from_fn(|req, next| {
            shape(Flavor::Ollama, req, next)
        }));
    let openai = Router::new()
        .route("/v1/chat/completions", post(openai::chat_completions))
        .route("/v1/completions", post(openai::completions))
        .route("/v1/responses", post(responses::create))
        .route("/v1/embeddings", post(embed::openai))
        .route("/v1/models", get(openai::list_models))
        .route("/v1/models/{*id}", get(openai::get_model))
        .layer(middleware::from_fn(|req, next| {
            shape(Flavor::OpenAi, req, next)
        }));
    let anthropic = Router::new()
        .route("/v1/messages", post(anthropic::messages))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .layer(middleware::from_fn(|req, next| {
            shape(Flavor::Anthropic, req, next)
        }));
    Router::new()
        .merge(ollama)
        .merge(openai)
        .merge(anthropic)
        .fallback(misc::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), route::route))
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}
