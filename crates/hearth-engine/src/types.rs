//! Public request/response types of the engine. None of them mention llama.cpp.
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A token id in the model's vocabulary.
pub type Token = i32;

/// Errors of the engine. Messages name the file, model or value at fault.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The file failed hearth-gguf validation; llama.cpp never saw it.
    #[error("{path}: not a valid GGUF model: {message}")]
    Invalid {
        /// The model file.
        path: PathBuf,
        /// What validation reported (field and byte offset).
        message: String,
    },
    /// llama.cpp could not load a file that passed validation (e.g. unsupported architecture).
    #[error("{path}: llama.cpp could not load the model (unsupported architecture {architecture:?} or inconsistent tensors; run with -vv for llama.cpp's log)")]
    Load {
        /// The model file.
        path: PathBuf,
        /// `general.architecture` of the file.
        architecture: String,
    },
    /// Creating the inference context failed (usually: not enough memory for the KV cache).
    #[error("{path}: could not create an inference context with n_ctx {n_ctx}, n_parallel {n_parallel}: {message}")]
    Context {
        /// The model file.
        path: PathBuf,
        /// Requested total context.
        n_ctx: u32,
        /// Requested sequence slots.
        n_parallel: u32,
        /// Detail.
        message: String,
    },
    /// A load option is out of range.
    #[error("invalid load option {option}: {message}")]
    Option {
        /// The option's name.
        option: &'static str,
        /// Why it is rejected.
        message: String,
    },
    /// The request is unusable (empty prompt, token id out of range, ...).
    #[error("invalid request: {0}")]
    Request(String),
    /// The prompt does not fit the per-sequence context.
    #[error("prompt of {prompt_tokens} tokens does not fit the per-sequence context of {n_ctx_seq} tokens")]
    PromptTooLong {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// Context available to one sequence.
        n_ctx_seq: u32,
    },
    /// The GBNF grammar was rejected by llama.cpp's grammar parser.
    #[error("invalid GBNF grammar (root rule must be `root`): {0}")]
    Grammar(String),
    /// Text too large to tokenize.
    #[error("text of {len} bytes exceeds the tokenizer limit of {max} bytes")]
    TextTooLong {
        /// Input length.
        len: usize,
        /// Limit.
        max: usize,
    },
    /// llama_decode failed.
    #[error("decode failed: {0}")]
    Decode(String),
    /// The scheduler thread is gone (model dropped or crashed).
    #[error("the model's scheduler has stopped")]
    SchedulerGone,
}

/// How many layers to offload to a GPU (only effective in a `cuda` build).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GpuLayers {
    /// CPU only.
    #[default]
    None,
    /// Every layer.
    All,
    /// The first N layers.
    Count(u32),
}

impl std::str::FromStr for GpuLayers {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "all" | "max" => Ok(Self::All),
            "none" => Ok(Self::None),
            n => match n.parse::<u32>() {
                Ok(0) => Ok(Self::None),
                Ok(n) => Ok(Self::Count(n)),
                Err(_) => Err(format!("expected a layer count or `all`, got {n:?}")),
            },
        }
    }
}

/// Options for [`crate::Model::load`].
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Total context shared by all sequences; each sequence gets `n_ctx / n_parallel` cells.
    /// 0 means the model's training context.
    pub n_ctx: u32,
    /// Number of sequence slots decoding together (continuous batching).
    pub n_parallel: u32,
    /// Threads for single-token decode; default: physical cores.
    pub threads: Option<u32>,
    /// Threads for prompt (batch) evaluation; default: same as `threads`.
    pub threads_batch: Option<u32>,
    /// GPU offload.
    pub gpu_layers: GpuLayers,
    /// Map the file instead of reading it (default true).
    pub use_mmap: bool,
    /// Maximum tokens per llama_decode call (prompt chunk size), default 512.
    pub n_batch: u32,
    /// Flash attention. Off by default, as in llama-cpp-python: with it on, greedy output
    /// drifts from the reference after a few dozen tokens (different summation order).
    pub flash_attention: bool,
    /// Bytes of RAM for KV states of prompts no slot holds any more (llama.cpp's
    /// `--cache-ram`): a prompt that shares a long prefix with one of them restores it instead
    /// of evaluating the prefix again. 0 disables.
    pub cache_ram: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            n_ctx: 4096,
            n_parallel: 1,
            threads: None,
            threads_batch: None,
            gpu_layers: GpuLayers::None,
            use_mmap: true,
            n_batch: 512,
            flash_attention: false,
            cache_ram: 0,
        }
    }
}

/// Sampling settings. `temperature <= 0` means greedy (argmax).
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingParams {
    /// Softmax temperature; `<= 0` selects greedy decoding.
    pub temperature: f32,
    /// Keep the k most likely tokens (0 = off).
    pub top_k: i32,
    /// Nucleus sampling (1.0 = off).
    pub top_p: f32,
    /// Minimum probability relative to the best token (0.0 = off).
    pub min_p: f32,
    /// Repetition penalty (1.0 = off).
    pub repeat_penalty: f32,
    /// How many recent tokens the penalties look at (0 = off).
    pub repeat_last_n: i32,
    /// Presence penalty (0.0 = off).
    pub presence_penalty: f32,
    /// Frequency penalty (0.0 = off).
    pub frequency_penalty: f32,
    /// RNG seed; `None` picks a random one.
    pub seed: Option<u32>,
    /// Added to the logits of the given tokens (use `f32::NEG_INFINITY` to ban a token).
    pub logit_bias: Vec<(Token, f32)>,
}

impl Default for SamplingParams {
    /// Ollama's defaults.
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.9,
            min_p: 0.0,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: None,
            logit_bias: Vec::new(),
        }
    }
}

impl SamplingParams {
    /// Plain greedy decoding without penalties (what reference comparisons use).
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            repeat_last_n: 0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: None,
            logit_bias: Vec::new(),
        }
    }

    pub(crate) fn has_penalties(&self) -> bool {
        self.repeat_last_n != 0
            && (self.repeat_penalty != 1.0
                || self.presence_penalty != 0.0
                || self.frequency_penalty != 0.0)
    }
}

/// Cooperative cancellation flag; the scheduler checks it before every decode step.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh, not cancelled token.
    pub fn new() -> Self {
        Self::default()
    }
    /// Request cancellation.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    /// Whether cancellation was requested.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// One generation request.
#[derive(Debug, Clone, Default)]
pub struct GenerateRequest {
    /// Prompt tokens (at least one).
    pub prompt: Vec<Token>,
    /// Sampling settings.
    pub sampling: SamplingParams,
    /// Stop after this many generated tokens (`None`: until EOG or context full).
    pub max_tokens: Option<u32>,
    /// Stop strings, matched across token boundaries; never emitted.
    pub stop: Vec<String>,
    /// GBNF grammar with a `root` rule constraining the output.
    pub grammar: Option<String>,
    /// Cancellation flag (a fresh one by default).
    pub cancel: CancelToken,
    /// Keep generating past end-of-generation tokens (benchmarks); they are emitted as text.
    pub ignore_eos: bool,
}

impl GenerateRequest {
    /// Request with default sampling for the given prompt.
    pub fn new(prompt: Vec<Token>) -> Self {
        Self {
            prompt,
            ..Self::default()
        }
    }
}

/// The receiving end of a generation's events (`blocking_recv` for threads, `recv().await`
/// for async code).
pub type EventReceiver = tokio::sync::mpsc::UnboundedReceiver<Event>;

/// A running generation: a stream of events. Dropping `events` cancels it.
#[derive(Debug)]
pub struct Generation {
    /// Token, done and error events, in order; `Done` or `Error` is the last one.
    pub events: EventReceiver,
    /// Same flag as the request's.
    pub cancel: CancelToken,
}

/// An event of a generation.
#[derive(Debug, Clone)]
pub enum Event {
    /// A generated token. `text` is complete UTF-8 and may be empty while a possible stop string
    /// or an incomplete character is held back; held text comes with a later event. When
    /// generation ends on an end-of-generation token with text still held back, one last `Token`
    /// event carries that EOG token's id and the released text.
    Token {
        /// Token id.
        id: Token,
        /// Text released by this token.
        text: String,
    },
    /// Generation finished.
    Done {
        /// Why.
        reason: DoneReason,
        /// Counts and timings.
        stats: GenerationStats,
    },
    /// Generation failed; no further events follow.
    Error(EngineError),
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneReason {
    /// End-of-generation token or a stop string.
    Stop,
    /// `max_tokens` reached.
    Length,
    /// Cancelled via the token or by dropping the receiver.
    Cancelled,
    /// The sequence's context (`n_ctx / n_parallel`) is full. The engine does not shift or
    /// truncate the context: generation ends with this reason instead.
    ContextFull,
}

impl DoneReason {
    /// OpenAI-style finish reason.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length | Self::ContextFull => "length",
            Self::Cancelled => "cancelled",
        }
    }
}

/// Ollama-style statistics of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerationStats {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV was reused from the slot's previous request.
    pub cached_tokens: u32,
    /// Time to evaluate the uncached part of the prompt (until the first token was sampled).
    pub prompt_eval: Duration,
    /// Tokens generated.
    pub eval_tokens: u32,
    /// Time spent generating after the first token.
    pub eval: Duration,
    /// From the request entering the scheduler to its end (including queueing).
    pub total: Duration,
}

/// Occupancy of the model's sequence slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotStats {
    /// Slots generating or evaluating a prompt.
    pub busy: u32,
    /// Free slots.
    pub idle: u32,
    /// Requests waiting for a slot.
    pub queued: u32,
    /// KV cells holding tokens (over all sequences).
    pub kv_used: u32,
    /// KV cells in total (`n_ctx`).
    pub kv_total: u32,
    /// llama_decode calls since load (for tests and metrics).
    pub steps: u64,
}

/// Facts about a loaded model.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelInfo {
    /// Path it was loaded from.
    pub path: PathBuf,
    /// `general.architecture`.
    pub architecture: String,
    /// `general.name`, if any.
    pub name: Option<String>,
    /// Total context of the loaded instance.
    pub n_ctx: u32,
    /// Context per sequence slot.
    pub n_ctx_seq: u32,
    /// Sequence slots.
    pub n_parallel: u32,
    /// Context length the model was trained with.
    pub n_ctx_train: u32,
    /// Vocabulary size.
    pub n_vocab: u32,
    /// Parameter count.
    pub n_params: u64,
    /// Beginning-of-sequence token.
    pub bos: Option<Token>,
    /// End-of-sequence token.
    pub eos: Option<Token>,
    /// End-of-turn token.
    pub eot: Option<Token>,
    /// Whether the tokenizer wants a BOS token at the start of a prompt.
    pub add_bos: bool,
    /// Fill-in-the-middle tokens (prefix, suffix, middle), when the vocab has them.
    pub fim: Option<FimTokens>,
    /// `tokenizer.chat_template`, if any.
    pub chat_template: Option<String>,
    /// Size of the GGUF file.
    pub file_size: u64,
    /// Bytes of the KV cache (K and V, all layers, f16).
    pub kv_bytes: u64,
    /// Time to validate and load the model and create its context.
    pub load_duration: Duration,
    /// Threads used for decode / batch evaluation.
    pub threads: u32,
    /// Threads used for batch evaluation.
    pub threads_batch: u32,
    /// Set for embedding models (a pooling type in the file): they embed, never generate.
    pub embedding: Option<EmbeddingInfo>,
}

/// What an embedding model produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingInfo {
    /// Length of each vector.
    pub dimensions: u32,
    /// How token states become one vector.
    pub pooling: Pooling,
}

/// llama.cpp's pooling of token states into a sequence embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Average over the tokens.
    Mean,
    /// The first (CLS) token.
    Cls,
    /// The last token (decoder embedders).
    Last,
}

impl Pooling {
    /// From the GGUF `{arch}.pooling_type` value; `None` for none, rank and unknown values.
    pub fn from_gguf(v: u64) -> Option<Pooling> {
        match v {
            1 => Some(Pooling::Mean),
            2 => Some(Pooling::Cls),
            3 => Some(Pooling::Last),
            _ => None,
        }
    }
}

/// Fill-in-the-middle control tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FimTokens {
    /// `<|fim_prefix|>` or equivalent.
    pub prefix: Token,
    /// `<|fim_suffix|>` or equivalent.
    pub suffix: Token,
    /// `<|fim_middle|>` or equivalent.
    pub middle: Token,
}
