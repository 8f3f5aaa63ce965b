//! The autocomplete fast path: what the server calls for a fill-in-the-middle request.
//!
//! [`Completer::complete`] turns an editor's request (text before and after the cursor, other
//! files, options) into one engine generation and the text to insert:
//! 1. the prefix and suffix are cut to line-aligned windows whose start moves only once per
//!    `prefix_step` bytes typed, so consecutive keystrokes share a long token prefix;
//! 2. the FIM prompt is built by `hearth-prompt` in the requested [`FimLayout`]: `Middle` (the
//!    default) puts the text typed on the cursor's line after the middle token, so a keystroke
//!    only appends tokens and the engine's per-slot prefix reuse evaluates a handful of them;
//! 3. token healing: the last `heal_tokens` tokens of the typed text are dropped from the prompt
//!    and the first generated tokens are constrained to spell them again
//!    ([`hearth_engine::Model::generate_healed`]); only what follows the typed text is returned;
//! 4. shaping: the completion ends at the end of the line (text follows the cursor) or of the
//!    block, never repeats the suffix, and has no trailing whitespace; generation is cancelled as
//!    soon as the shaped result cannot change any more, on a stop string, on a FIM stop token,
//!    at `max_tokens` or when the time budget is spent;
//! 5. supersede: a newer request with the same session key cancels the older one (it ends
//!    within one decode step with [`FinishReason::Superseded`]; its KV stays in the slot).
//!
//! Prompts that already contain FIM markers (`raw`, Continue's path) are sent as they are.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod collect;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearth_engine::{CancelToken, EngineError, GenerateRequest, Model, SamplingParams, Token};
use hearth_prompt::{FimFormat, FimInput, FimLayout};

pub use collect::{Completion, CompletionStats, CompletionStream, FinishReason, Progress};
pub use hearth_prompt::shape::Scope;

/// Errors of the completion pipeline.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CompleteError {
    /// The model's vocabulary has no fill-in-the-middle tokens (the server answers 400).
    #[error("model {model} does not support fill-in-the-middle (no FIM tokens in its vocabulary); a suffix cannot be used with it")]
    NoFim {
        /// The model file.
        model: String,
    },
    /// Reading the model's metadata failed.
    #[error("{path}: cannot read GGUF metadata: {message}")]
    Metadata {
        /// The model file.
        path: String,
        /// What failed.
        message: String,
    },
    /// A request field is out of range.
    #[error("invalid completion request: {0}")]
    Request(String),
    /// The engine refused or failed the generation.
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// Longest prefix/suffix text accepted before windowing (protects the tokenizer).
pub const MAX_INPUT_BYTES: usize = 16 << 20;

/// One autocomplete request.
#[derive(Debug, Clone)]
pub struct FimRequest {
    /// Text before the cursor (or a complete client-built FIM prompt, see [`FimRequest::raw`]).
    pub prefix: String,
    /// Text after the cursor.
    pub suffix: String,
    /// Other files for repository-level context: `(path, text)`.
    pub extra_files: Vec<(String, String)>,
    /// Repository name for repository-level context.
    pub repo_name: Option<String>,
    /// Path of the edited file (with repository context).
    pub file_path: Option<String>,
    /// Where the typed part of the current line goes.
    pub layout: FimLayout,
    /// Tokens of the typed text to drop and regenerate (token healing); 0 = off.
    pub heal_tokens: usize,
    /// Most tokens to generate after the typed text.
    pub max_tokens: u32,
    /// Give up (keeping what was generated) after generating for this long (prompt
    /// processing not counted, as llama.cpp's `t_max_predict_ms`).
    pub time_budget: Option<Duration>,
    /// Extra stop strings (the completion ends before them).
    pub stop: Vec<String>,
    /// Client + document: a newer request with the same key supersedes an older one in flight.
    pub session: Option<String>,
    /// Sampling (greedy by default).
    pub sampling: SamplingParams,
    /// Scope of the completion; `None`: line when text follows the cursor, else block.
    pub scope: Option<Scope>,
    /// Apply scope cut, suffix-repeat removal and whitespace trimming.
    pub shape: bool,
    /// Most bytes of prefix used (a line-aligned window at its end).
    pub prefix_bytes: usize,
    /// The prefix window's start moves once per this many bytes typed.
    pub prefix_step: usize,
    /// Most bytes of suffix used.
    pub suffix_bytes: usize,
    /// `prefix` is a complete prompt built by the client: send it untouched (no healing, no
    /// shaping). Also assumed when `suffix` is empty and `prefix` contains FIM markers.
    pub raw: bool,
}

impl Default for FimRequest {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            suffix: String::new(),
            extra_files: Vec::new(),
            repo_name: None,
            file_path: None,
            layout: FimLayout::Middle,
            heal_tokens: 2,
            max_tokens: 32,
            time_budget: None,
            stop: Vec::new(),
            session: None,
            sampling: SamplingParams::greedy(),
            scope: None,
            shape: true,
            prefix_bytes: 8 * 1024,
            prefix_step: 1024,
            suffix_bytes: 2 * 1024,
            raw: false,
        }
    }
}

impl FimRequest {
    /// A request with default options.
    pub fn new(prefix: impl Into<String>, suffix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            suffix: suffix.into(),
            ..Self::default()
        }
    }

    fn is_raw(&self) -> bool {
        self.raw || (self.suffix.is_empty() && hearth_prompt::is_raw_fim(&self.prefix))
    }
}

/// The tokens sent to the engine for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedPrompt {
    /// Prompt tokens (without the healed ones).
    pub tokens: Vec<Token>,
    /// Bytes the first generated tokens must spell (the dropped tokens' text).
    pub heal: Vec<u8>,
    /// The prefix the completion continues (after windowing), for shaping.
    pub prefix: String,
    /// The suffix (after windowing), for shaping.
    pub suffix: String,
    /// Whether the prompt was sent as the client built it.
    pub raw: bool,
}

/// In-flight requests per session key.
#[derive(Default)]
pub(crate) struct Sessions {
    next: AtomicU64,
    live: Mutex<HashMap<String, Live>>,
}

/// A request in flight: its id, cancellation flag and "superseded" flag.
type Live = (u64, CancelToken, Arc<AtomicBool>);

impl Sessions {
    /// Register a new request for `key`, superseding the one in flight.
    fn begin(&self, key: &str, cancel: &CancelToken, superseded: &Arc<AtomicBool>) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut live) = self.live.lock() {
            if let Some((_, old, flag)) =
                live.insert(key.to_owned(), (id, cancel.clone(), Arc::clone(superseded)))
            {
                flag.store(true, Ordering::Relaxed);
                old.cancel();
            }
        }
        id
    }

    /// Forget `key`'s entry if it is still request `id`.
    pub(crate) fn end(&self, key: &str, id: u64) {
        if let Ok(mut live) = self.live.lock() {
            if live.get(key).is_some_and(|(i, _, _)| *i == id) {
                live.remove(key);
            }
        }
    }

    /// Requests in flight (for tests and metrics).
    fn len(&self) -> usize {
        self.live.lock().map(|l| l.len()).unwrap_or(0)
    }
}

/// The autocomplete pipeline for one loaded model. Cheap to share (`Arc` it in the server).
pub struct Completer {
    model: Model,
    fim: FimFormat,
    stop_ids: Vec<Token>,
    sessions: Arc<Sessions>,
}

impl std::fmt::Debug for Completer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completer")
            .field("model", &self.model.info().path)
            .field("fim", &self.fim.family)
            .finish()
    }
}

impl Completer {
    /// A completer for `model` whose GGUF metadata is `md`.
    /// [`CompleteError::NoFim`] when the vocabulary has no FIM tokens.
    pub fn new(model: Model, md: &hearth_gguf::Metadata) -> Result<Self, CompleteError> {
        let Some(fim) = FimFormat::detect(md) else {
            return Err(CompleteError::NoFim {
                model: model.info().path.display().to_string(),
            });
        };
        Ok(Self::with_format(model, fim))
    }

    /// [`Completer::new`], reading the metadata from the model's file.
    pub fn open(model: Model) -> Result<Self, CompleteError> {
        let path = model.info().path.clone();
        let gguf = hearth_gguf::GgufFile::open(&path).map_err(|e| CompleteError::Metadata {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Self::new(model, gguf.metadata())
    }

    /// A completer with an explicit FIM format.
    pub fn with_format(model: Model, fim: FimFormat) -> Self {
        let stop_ids = fim
            .stop_tokens()
            .iter()
            .filter_map(|t| model.token_id(t))
            .collect();
        Self {
            model,
            fim,
            stop_ids,
            sessions: Arc::new(Sessions::default()),
        }
    }

    /// The FIM format in use.
    pub fn format(&self) -> &FimFormat {
        &self.fim
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Sessions with a request in flight.
    pub fn sessions_in_flight(&self) -> usize {
        self.sessions.len()
    }

    /// Build the prompt tokens and healing bytes for `req` (no generation).
    pub fn prepare(&self, req: &FimRequest) -> Result<PreparedPrompt, CompleteError> {
        for (name, len) in [("prefix", req.prefix.len()), ("suffix", req.suffix.len())] {
            if len > MAX_INPUT_BYTES {
                return Err(CompleteError::Request(format!(
                    "{name} of {len} bytes exceeds {MAX_INPUT_BYTES}"
                )));
            }
        }
        let add_bos = self.model.info().add_bos;
        if req.is_raw() {
            let tokens = self.model.tokenize(&req.prefix, add_bos, true)?;
            return Ok(PreparedPrompt {
                tokens,
                heal: Vec::new(),
                prefix: req.prefix.clone(),
                suffix: String::new(),
                raw: true,
            });
        }
        let prefix = hearth_prompt::fim::window_prefix(
            &req.prefix,
            req.prefix_bytes.max(1),
            req.prefix_step.max(1),
        );
        let suffix = hearth_prompt::fim::window_suffix(&req.suffix, req.suffix_bytes);
        let mut input = FimInput {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            extra_files: Vec::new(),
            repo_name: req.repo_name.clone(),
            file_path: req.file_path.clone(),
        };
        // Room in the sequence's context for the prompt and the completion together.
        let room = (self.model.info().n_ctx_seq as usize)
            .saturating_sub(req.max_tokens as usize)
            .saturating_sub(1);
        input.extra_files = self.extra_files_that_fit(&input, req, room)?;
        let (tokens, heal) = loop {
            let (tokens, heal) = self.tokenize_fim(&input, req, add_bos)?;
            // The estimate counts files apart; if the joined prompt is still too long, the
            // file farthest from the cursor goes next.
            if tokens.len() <= room || input.extra_files.is_empty() {
                break (tokens, heal);
            }
            input.extra_files.remove(0);
        };
        Ok(PreparedPrompt {
            tokens,
            heal,
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            raw: false,
        })
    }

    /// The prompt tokens of `input`, with the last `req.heal_tokens` tokens of the typed text
    /// left out and returned as bytes to heal.
    fn tokenize_fim(
        &self,
        input: &FimInput,
        req: &FimRequest,
        add_bos: bool,
    ) -> Result<(Vec<Token>, Vec<u8>), CompleteError> {
        let p = self.fim.build(input, req.layout);
        let mut tokens = self.model.tokenize(&p.before, add_bos, true)?;
        // The typed text is user text: FIM marker spellings in it are not special tokens.
        let typed = self.model.tokenize(&p.healable, false, false)?;
        let mut keep = typed.len().saturating_sub(req.heal_tokens);
        let heal = loop {
            let kept: usize = typed[..keep]
                .iter()
                .map(|&t| self.model.token_piece(t).len())
                .sum();
            // Heal from a character boundary only (a token may end inside a character).
            match p.healable.get(kept..) {
                Some(rest) => break rest.as_bytes().to_vec(),
                None if keep > 0 => keep -= 1,
                None => break p.healable.as_bytes().to_vec(),
            }
        };
        tokens.extend_from_slice(&typed[..keep]);
        tokens.extend(self.model.tokenize(&p.after, false, true)?);
        Ok((tokens, heal))
    }

    /// The repository files (`/infill`'s `input_extra`) that fit in `room` tokens beside the
    /// prompt `base` builds: the last ones, whole, as llama.cpp's server keeps the end of the
    /// extra context (clients send the files nearest the cursor last).
    fn extra_files_that_fit(
        &self,
        base: &FimInput,
        req: &FimRequest,
        room: usize,
    ) -> Result<Vec<(String, String)>, CompleteError> {
        if req.extra_files.is_empty() {
            return Ok(Vec::new());
        }
        let p = self.fim.build(base, req.layout);
        let used = [&p.before, &p.healable, &p.after]
            .iter()
            .map(|t| self.model.tokenize(t, false, true).map(|v| v.len()))
            .sum::<Result<usize, _>>()?;
        let mut left = room.saturating_sub(used);
        let mut keep = Vec::new();
        for (path, text) in req.extra_files.iter().rev() {
            // A file separator token, the path, a line break or two.
            let cost = self.model.tokenize(path, false, false)?.len()
                + self.model.tokenize(text, false, false)?.len()
                + 4;
            if cost > left {
                break;
            }
            left -= cost;
            keep.push((path.clone(), text.clone()));
        }
        keep.reverse();
        if keep.len() < req.extra_files.len() {
            tracing::debug!(
                sent = req.extra_files.len(),
                kept = keep.len(),
                room,
                "repository context trimmed to the context window"
            );
        }
        Ok(keep)
    }

    /// Start a completion. Await [`CompletionStream::finish`] (async) or call
    /// [`CompletionStream::wait`] (blocking) for the result; dropping the stream cancels it.
    pub fn complete(&self, req: FimRequest) -> Result<CompletionStream, CompleteError> {
        let started = Instant::now();
        let prepared = self.prepare(&req)?;
        let cancel = CancelToken::new();
        let superseded = Arc::new(AtomicBool::new(false));
        let session = req
            .session
            .as_deref()
            .map(|k| (k.to_owned(), self.sessions.begin(k, &cancel, &superseded)));
        let heal_budget = u32::try_from(prepared.heal.len()).unwrap_or(u32::MAX);
        let greq = GenerateRequest {
            prompt: prepared.tokens.clone(),
            sampling: req.sampling.clone(),
            // Healing tokens come first; each spells at least one byte.
            max_tokens: Some(req.max_tokens.saturating_add(heal_budget.min(64))),
            stop: Vec::new(),
            grammar: None,
            cancel: cancel.clone(),
            ignore_eos: false,
        };
        let generation = match self.model.generate_healed(greq, prepared.heal.clone()) {
            Ok(g) => g,
            Err(e) => {
                if let Some((k, id)) = &session {
                    self.sessions.end(k, *id);
                }
                return Err(e.into());
            }
        };
        tracing::debug!(
            prompt = prepared.tokens.len(),
            heal = prepared.heal.len(),
            raw = prepared.raw,
            "completion started"
        );
        Ok(CompletionStream::new(collect::Setup {
            generation,
            prepared,
            req,
            stop_ids: self.stop_ids.clone(),
            superseded,
            session,
            sessions: Arc::clone(&self.sessions),
            started,
        }))
    }
}
