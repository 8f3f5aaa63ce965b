//! What the server needs from the engine: an [`Engine`] that loads a GGUF into a [`Runner`]
//! (hearth-engine's adapter implements both). The HTTP layer never sees llama.cpp types.
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

/// Errors from a backend; the service turns them into its own typed errors.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The request is invalid for this model (a grammar that does not compile, a token id
    /// outside the vocabulary, ...).
    #[error("{0}")]
    Invalid(String),
    /// The prompt does not fit the context of one sequence.
    #[error("prompt is {tokens} tokens, more than the context of {ctx} tokens")]
    PromptTooLong {
        /// Prompt tokens.
        tokens: usize,
        /// Context per sequence.
        ctx: u32,
    },
    /// Fill-in-the-middle on a model without FIM tokens.
    #[error("this model does not support fill-in-the-middle (no FIM tokens)")]
    NoFim,
    /// The operation is not supported by this backend.
    #[error("{0} is not supported by this server")]
    Unsupported(&'static str),
    /// The model's memory estimate exceeds what is available; the text names the need, the
    /// budget and what would fit instead.
    #[error("{0}")]
    DoesNotFit(String),
    /// Anything else (I/O, load failure, engine failure).
    #[error("{0}")]
    Other(String),
}

/// One model in the catalog.
#[derive(Debug, Clone)]
pub struct ModelEntry {
    /// Full name, `family:tag`.
    pub name: String,
    /// The GGUF file to load.
    pub path: PathBuf,
    /// File size in bytes.
    pub size: u64,
    /// `sha256:<hex>` or an empty string when unknown.
    pub digest: String,
    /// Last modification.
    pub modified: SystemTime,
    /// Modelfile `SYSTEM`: the system message when the request has none.
    pub system: Option<String>,
    /// Modelfile `PARAMETER`s (`{"stop": [...], "temperature": 0.7}`): defaults that request
    /// options override.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// Modelfile `MESSAGE`s: `(role, content)` turns that go before the conversation.
    pub messages: Vec<(String, String)>,
}

/// How to load a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadParams {
    /// Total context (all sequences together).
    pub n_ctx: u32,
    /// Parallel sequences.
    pub n_parallel: u32,
    /// Threads; `None` = engine default.
    pub threads: Option<u32>,
    /// GPU layers decided by [`Engine::estimate`]; `None` = the engine's own setting.
    pub gpu_layers: Option<u32>,
}

/// What [`Engine::estimate`] decided before a load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadEstimate {
    /// Bytes the model will occupy (weights, KV cache, buffers), RAM and VRAM together.
    pub bytes: u64,
    /// Layers to offload, when the engine offloads at all.
    pub gpu_layers: Option<u32>,
}

/// What the server needs to know about a loaded model.
#[derive(Debug, Clone, Default)]
pub struct RunnerInfo {
    /// Context per sequence.
    pub n_ctx_per_seq: u32,
    /// Bytes the loaded model holds (weights + KV).
    pub memory_bytes: u64,
    /// Vector length, for an embedding model (which embeds and never generates).
    pub embedding_dims: Option<u32>,
}

/// Pooled vectors of whole token sequences, as the engine returns them (not normalised).
#[derive(Debug, Clone, Default)]
pub struct Embedded {
    /// One vector per input, in input order.
    pub vectors: Vec<Vec<f32>>,
    /// Tokens evaluated.
    pub prompt_tokens: usize,
    /// Engine time.
    pub eval: Duration,
}

/// A running embedding request.
pub type EmbedFuture = Pin<Box<dyn Future<Output = Result<Embedded, BackendError>> + Send>>;

/// Sampling settings, already validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sampling {
    /// 0 = greedy.
    pub temperature: Option<f32>,
    /// top-k.
    pub top_k: Option<i32>,
    /// top-p.
    pub top_p: Option<f32>,
    /// min-p.
    pub min_p: Option<f32>,
    /// Repetition penalty.
    pub repeat_penalty: Option<f32>,
    /// Window for penalties.
    pub repeat_last_n: Option<i32>,
    /// Presence penalty.
    pub presence_penalty: Option<f32>,
    /// Frequency penalty.
    pub frequency_penalty: Option<f32>,
    /// Seed.
    pub seed: Option<u32>,
}

/// A generation request handed to a runner.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GenParams {
    /// Rendered prompt text (special tokens parsed; BOS by the one rule of
    /// `hearth_engine::needs_bos`).
    pub prompt: String,
    /// `prompt` already tokenized by [`Runner::prompt_tokens`] (then it is not tokenized again).
    pub tokens: Option<Vec<i32>>,
    /// Sampling.
    pub sampling: Sampling,
    /// `None` = until the context is full.
    pub max_tokens: Option<u32>,
    /// Stop strings.
    pub stop: Vec<String>,
    /// GBNF grammar with root rule `root`.
    pub grammar: Option<String>,
    /// Fill-in-the-middle through the autocomplete path instead of `prompt` (which then only
    /// serves the size checks).
    pub fim: Option<FimInput>,
    /// Token ids evaluated before `prompt` (Ollama's `context` from an earlier response).
    pub context: Vec<i32>,
}

/// A fill-in-the-middle request for the autocomplete path (hearth-complete): prefix reuse
/// across keystrokes, token healing, completion shaping, superseding of stale requests.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FimInput {
    /// Text before the cursor, or a client-built FIM prompt when `raw`.
    pub prefix: String,
    /// Text after the cursor.
    pub suffix: String,
    /// `prefix` already holds FIM markers (Continue's raw path): tokenized as sent.
    pub raw: bool,
    /// Repository context: `(file name, text)`.
    pub extra_files: Vec<(String, String)>,
    /// Stop generating after this long, keeping what was generated.
    pub time_budget: Option<Duration>,
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// End-of-generation token or stop string.
    Stop,
    /// max_tokens reached.
    Length,
    /// Cancelled.
    Cancelled,
    /// Context full.
    ContextFull,
}

/// Timing and counts of a finished generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Prompt tokens served from the prefix cache.
    pub cached_tokens: u32,
    /// Prompt processing time.
    pub prompt_eval: Duration,
    /// Generated tokens.
    pub eval_tokens: u32,
    /// Generation time.
    pub eval: Duration,
}

/// One event of a running generation.
#[derive(Debug)]
pub enum GenEvent {
    /// Complete UTF-8 text of one or more tokens.
    Text(String),
    /// The end.
    Done(Finish, Stats),
    /// A failure; the stream ends after it.
    Error(BackendError),
}

/// A running generation: dropping `events` cancels it within one decode step.
#[derive(Debug)]
pub struct GenStream {
    /// Events in order, ending with `Done` or `Error`.
    pub events: mpsc::UnboundedReceiver<GenEvent>,
}

/// Occupancy of a loaded model's sequence slots and KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlotUsage {
    /// Sequences generating.
    pub busy: u32,
    /// Requests queued inside the engine.
    pub queued: u32,
    /// KV cells in use.
    pub kv_used: u64,
    /// KV cells in total.
    pub kv_total: u64,
}

/// A loaded model.
pub trait Runner: Send + Sync + 'static {
    /// Facts about the loaded model.
    fn info(&self) -> RunnerInfo;
    /// The tokens of a prompt as `generate` feeds them (special tokens parsed, BOS by the one
    /// rule of `hearth_engine::needs_bos`). Blocking.
    fn prompt_tokens(&self, text: &str) -> Result<Vec<i32>, BackendError>;
    /// Token ids of `text` (special tokens parsed, no BOS added), for Ollama's `context`.
    fn tokenize(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        let _ = text;
        Err(BackendError::Unsupported("tokenize"))
    }
    /// Start a generation (blocking: it may tokenize megabytes; call it off the async workers,
    /// inside the runtime).
    fn generate(&self, params: GenParams) -> Result<GenStream, BackendError>;
    /// Slot and KV occupancy.
    fn slots(&self) -> SlotUsage;
    /// The tokens of one embedding input: the model's own special tokens added (BERT's CLS
    /// and SEP), special-token text in `text` not parsed. With `max`, a longer input is cut to
    /// `max` tokens keeping the trailing special tokens. Blocking.
    fn embed_tokens(&self, text: &str, max: Option<usize>) -> Result<Vec<i32>, BackendError> {
        let _ = (text, max);
        Err(BackendError::Unsupported("embeddings"))
    }
    /// Embed whole token sequences (embedding models only).
    fn embed(&self, inputs: Vec<Vec<i32>>) -> EmbedFuture {
        let _ = inputs;
        Box::pin(async { Err(BackendError::Unsupported("embeddings")) })
    }
}

/// Loads models.
pub trait Engine: Send + Sync + 'static {
    /// Load a GGUF (blocking; called on a blocking thread).
    fn load(&self, path: &Path, params: &LoadParams) -> Result<Arc<dyn Runner>, BackendError>;

    /// Memory the load will take, estimated before loading (blocking), given `ram_cap`, the
    /// most RAM the server lets models use (0 = only what the machine has), and `reclaimable`,
    /// what unloading idle models would free. [`BackendError::DoesNotFit`] when it cannot fit;
    /// `Ok(None)` when the engine cannot estimate.
    fn estimate(
        &self,
        path: &Path,
        params: &LoadParams,
        ram_cap: u64,
        reclaimable: u64,
    ) -> Result<Option<LoadEstimate>, BackendError> {
        let _ = (path, params, ram_cap, reclaimable);
        Ok(None)
    }
}
