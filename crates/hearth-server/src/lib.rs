//! hearth's HTTP server: Ollama- and OpenAI-compatible APIs over a model residency scheduler.
//! The only crate of hearth that knows HTTP.
//!
//! - [`app`] builds the whole router from an [`AppState`] (tests drive it with
//!   `tower::ServiceExt::oneshot`, no socket); [`serve::serve`] binds and shuts down gracefully.
//! - Every body is parsed into typed structs at the edge ([`ollama_types`], [`openai_types`],
//!   [`options`]); unknown fields are ignored, wrong types and out-of-range values are 400s in
//!   the API's own error shape ([`error::ApiError`]).
//! - Security by default ([`config`], `app::guard`): loopback `127.0.0.1:11434`; any other
//!   address needs `HEARTH_API_KEY` / `HEARTH_API_KEY_FILE` (Bearer) or `--insecure-no-auth`;
//!   Host-header allowlist (localhost names, loopback IPs, the bind address,
//!   `HEARTH_ALLOWED_HOSTS`) against DNS rebinding; CORS allowlist (localhost origins, VS Code
//!   webviews, `app://`, `file://`, `tauri://`, plus `HEARTH_ORIGINS` / `OLLAMA_ORIGINS`); body
//!   limit (`HEARTH_MAX_BODY_BYTES`, 32 MiB) and prompt limit (4 MiB); model management
//!   endpoints off with `HEARTH_DISABLE_MANAGEMENT=1`.
//! - Residency ([`scheduler`]): load on first use, keep-alive (default 5 minutes, `0` unloads,
//!   negative keeps), `OLLAMA_MAX_LOADED_MODELS`, a memory budget, LRU unload of idle models,
//!   `OLLAMA_NUM_PARALLEL` slots per model, `OLLAMA_MAX_QUEUE` waiting requests then 503. A model
//!   is loaded once with the context of its first request (or `HEARTH_CONTEXT_LENGTH`) and is
//!   never reloaded because a later request names another `num_ctx` (no reload thrash); a
//!   prompt that does not fit the loaded context is a 400.
//! - Cancellation ([`gen`]): the response stream owns the slot lease and the engine receiver;
//!   when a client disconnects hyper drops the stream, which cancels the generation (the engine
//!   adapter also watches for it during prompt processing) and frees the slot.
//! - Structured output ([`grammar`]): `format: "json"`, a JSON-schema `format` and OpenAI
//!   `response_format` become GBNF grammars the engine samples under.
pub mod app;
pub mod backend;
pub mod config;
pub mod engine_adapter;
pub mod error;
pub mod fim;
pub mod gen;
pub mod grammar;
pub mod metrics;
pub mod models;
pub mod ollama_routes;
pub mod ollama_types;
pub mod openai_routes;
pub mod openai_types;
pub mod options;
pub mod scheduler;
pub mod serve;
pub mod tools;

pub use app::{app, AppState};
