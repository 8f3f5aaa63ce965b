//! Typed errors for the store. Each names the model, digest, file or URL it is about.

use std::path::PathBuf;

/// Everything that can go wrong in the store, a pull, a create or an import.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid model name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },
    #[error("invalid digest {digest:?}: expected sha256:<64 lowercase hex>")]
    InvalidDigest { digest: String },
    #[error("model {0:?} not found")]
    NotFound(String),
    #[error("invalid manifest for {what}: {reason}")]
    InvalidManifest { what: String, reason: String },
    #[error("{what} is {size} bytes, over the limit of {limit}")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error("not enough disk space in {path}: need {needed} bytes, {available} available")]
    DiskSpace {
        path: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("digest mismatch for {what}: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("size mismatch for {what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{path}: not a valid GGUF model: {source}")]
    InvalidModel {
        path: PathBuf,
        #[source]
        source: Box<hearth_gguf::GgufError>,
    },
    #[error("{what}: refused: {reason}")]
    Refused { what: String, reason: String },
    #[error("HTTP error for {url}: {reason}")]
    Http { url: String, reason: String },
    #[error("{url}: HTTP status {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    HttpStatus {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: {reason}")]
    Redirect { url: String, reason: String },
    #[error("Hugging Face repo {repo}: {reason}")]
    HuggingFace { repo: String, reason: String },
    #[error("Modelfile line {line}: {reason}")]
    Modelfile { line: usize, reason: String },
    #[error("bundle {path}: {reason}")]
    Bundle { path: PathBuf, reason: String },
    #[error("store {path} is read-only")]
    ReadOnly { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("pull cancelled")]
    Cancelled,
    #[error("trust policy file: {0}")]
    Policy(String),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
        let path = path.into();
        move |source| StoreError::Io { path, source }
    }

    /// Whether a retry of the same request may succeed (network trouble, server 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Http { .. } => true,
            StoreError::HttpStatus { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
