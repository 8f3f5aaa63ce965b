//! Prompt construction for hearth, in pure Rust (no inference, no HTTP):
//!
//! - [`chat`]: GGUF chat templates rendered with Hugging Face `transformers` semantics in a
//!   sandboxed minijinja ([`ChatTemplate`]).
//! - [`fim`]: fill-in-the-middle prompt formats detected from a model's vocabulary
//!   ([`FimFormat`]).
//! - [`shape`]: pure functions that trim a raw completion into what an editor should insert.

pub mod chat;
mod compat;
pub mod fim;
mod py;
pub mod shape;

pub use chat::{ChatTemplate, FunctionCall, Limits, Message, RenderInput, TemplateError, ToolCall};
pub use fim::{is_raw_fim, FimFamily, FimFormat, FimInput, FimLayout, FimPrompt};
pub use shape::Scope;
