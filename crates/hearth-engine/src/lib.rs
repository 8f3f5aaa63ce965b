//! Hearth's inference engine: the only crate that touches llama.cpp (through `llama-cpp-2`).
//!
//! Upper layers see only the types of this crate:
//! - [`Model::load`] validates the file with `hearth-gguf` first (llama.cpp never sees a file
//!   that failed validation), loads it with llama.cpp and starts a scheduler thread that owns
//!   the inference context with `n_parallel` sequence slots.
//! - [`Model::generate`] queues a [`GenerateRequest`]; the scheduler decodes all active
//!   sequences together in one batch per step (continuous batching), evaluates long prompts in
//!   chunks of `n_batch`, reuses the longest common token prefix a free slot already has in its
//!   KV cache, and streams [`Event`]s over a `tokio::sync::mpsc` channel.
//! - Cancellation ([`CancelToken::cancel`] or dropping the receiver) is checked before every
//!   decode step, so a cancelled sequence is freed within one step.
//! - Context overflow is not shifted: when a sequence's share of the context
//!   (`n_ctx / n_parallel`) is full the generation ends with [`DoneReason::ContextFull`]; a
//!   prompt that does not fit is rejected with [`EngineError::PromptTooLong`].
//! - Dropping the last [`Model`] clone cancels running generations and frees the model.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod embed;
mod heal;
mod model;
mod prompt_cache;
mod sampler;
mod scheduler;
pub mod text;
mod types;

pub use embed::Embeddings;
pub use model::{needs_bos, physical_cores, system_info, Model, MAX_PARALLEL, MAX_TOKENIZE_BYTES};
pub use sampler::MAX_GRAMMAR_BYTES;
pub use types::{
    CancelToken, DoneReason, EmbeddingInfo, EngineError, Event, EventReceiver, FimTokens,
    GenerateRequest, Generation, GenerationStats, GpuLayers, LoadOptions, ModelInfo, Pooling,
    SamplingParams, SlotStats, Token,
};
