//! hearth's HTTP server: Ollama-, OpenAI- and llama.cpp-compatible APIs over one generation
//! service. The only crate of hearth that knows HTTP.
//!
//! Layers point one way (a test in `tests/layers.rs` fails on an import cycle between files):
//! - [`backend`]: what the server needs from an engine ([`backend::Engine`],
//!   [`backend::Runner`]); `engine_adapter` implements it over llama.cpp (cargo feature
//!   `llama`, on by default; the server's tests with a scripted engine build without it).
//! - `service`: no HTTP. One `GenRequest` (a conversation, a prompt, a raw prompt or FIM parts)
//!   becomes a `Running` stream of typed events. Model resolution, Modelfile defaults, the chat
//!   template, the BOS rule, size checks and loud context truncation, the supersede registry
//!   for autocomplete, residency (load on first use, keep-alive, memory budget, LRU unload,
//!   `num_parallel` slots, a bounded queue) and metrics live there once.
//! - `wire`: typed request and response structs per protocol and the one streamer (NDJSON or
//!   SSE framing) every streaming endpoint uses.
//! - `http`: [`app`] builds the router from an [`AppState`] (tests drive it with
//!   `tower::ServiceExt::oneshot`, no socket); security middleware (loopback by default, API
//!   key off loopback, Host and CORS allowlists, body limits, management switch); handlers of a
//!   few lines; error bodies shaped once per router.
//! - `upstream` (cargo feature `cloud`, off by default): the clients of cloud models for hybrid
//!   routing, with redaction before anything leaves and restoration in the reply.
//! - [`serve`] binds and shuts down gracefully.
pub mod backend;
pub mod config;
#[cfg(feature = "llama")]
pub mod engine_adapter;
#[doc(hidden)]
pub mod fuzzing;
mod grammar;
mod http;
mod metrics;
pub mod serve;
mod service;
#[cfg(feature = "cloud")]
mod upstream;
pub mod wire;

pub use http::app;
pub use http::inproc::{BodyReader, InProcess, InProcessError};
pub use http::state::{check_config, AppState};
pub use service::Service;
