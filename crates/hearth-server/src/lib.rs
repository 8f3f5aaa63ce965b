//! hearth's HTTP server: Ollama- and OpenAI-compatible APIs over a model residency scheduler.
//! The only crate of hearth that knows HTTP.
pub mod app;
pub mod backend;
pub mod config;
pub mod engine_adapter;
pub mod error;
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
