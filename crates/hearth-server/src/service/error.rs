//! The service's one error type. It stays typed up to the HTTP edge, which picks the status, the
//! body shape and a stable `code`; internal details (paths, engine messages) are logged there,
//! never sent to a client.
use crate::backend::BackendError;

/// Why the service could not run a request.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ServiceError {
    /// The request is malformed or names something this model cannot do.
    #[error("{0}")]
    Invalid(String),
    /// No such model in the stores.
    #[error("model \"{0}\" not found, try pulling it first")]
    ModelNotFound(String),
    /// Fill-in-the-middle asked of a model without FIM tokens.
    #[error("model \"{0}\" does not support insert (fill-in-the-middle)")]
    NoFim(String),
    /// The prompt does not fit the context (and could not, or was not allowed to, be cut).
    #[error(
        "prompt is {tokens} tokens, more than the context of {ctx} tokens for model \"{model}\""
    )]
    PromptTooLong {
        /// Prompt tokens (after any truncation that was allowed).
        tokens: usize,
        /// Context per sequence.
        ctx: u32,
        /// The model.
        model: String,
    },
    /// The prompt text is larger than the server accepts at all.
    #[error("prompt is {bytes} bytes, more than the limit of {limit}")]
    PromptTooLarge {
        /// Bytes sent.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The model's memory estimate exceeds what is available.
    #[error("model \"{model}\" does not fit in memory: {detail}")]
    DoesNotFit {
        /// The model.
        model: String,
        /// Need, budget and what would fit instead (hearth-fit's words).
        detail: String,
    },
    /// The queue is full.
    #[error("server busy: {0} requests already waiting, try again later")]
    Busy(usize),
    /// The model is being unloaded.
    #[error("model is being unloaded")]
    Unloading,
    /// The trust policy refuses the model (a pinned digest that does not match, ...).
    #[error("{0}")]
    Refused(String),
    /// The store could not do it, for a reason the client may see (a registry's answer, a
    /// digest that does not match, no disk space, ...).
    #[error("{0}")]
    StoreFailed(String),
    /// The model store failed inside this machine (I/O, JSON: the details name paths).
    #[error("model \"{model}\": {source}")]
    Store {
        /// The model.
        model: String,
        /// Cause.
        source: hearth_store::StoreError,
    },
    /// The engine failed.
    #[error("model \"{model}\": {message}")]
    Engine {
        /// The model.
        model: String,
        /// The engine's message.
        message: String,
    },
    /// No upstream (cloud) model could answer and the policy allows no local fallback; the
    /// message names the upstreams and what they answered (status, timeout), never a key.
    #[error("{0}")]
    #[cfg_attr(not(feature = "cloud"), allow(dead_code))]
    Upstream(String),
    /// A task of the service died (a panic on a blocking thread).
    #[error("internal task failed: {0}")]
    Task(String),
}

impl ServiceError {
    /// A store error for `model`: not-found and bad names are the caller's, the rest internal.
    pub(crate) fn store(model: &str, e: hearth_store::StoreError) -> Self {
        match e {
            hearth_store::StoreError::NotFound(_) => Self::ModelNotFound(model.to_string()),
            hearth_store::StoreError::InvalidName { .. }
            | hearth_store::StoreError::InvalidDigest { .. }
            | hearth_store::StoreError::DigestMismatch { .. } => Self::Invalid(e.to_string()),
            hearth_store::StoreError::Refused { .. } | hearth_store::StoreError::Policy(_) => {
                Self::Refused(e.to_string())
            }
            source @ (hearth_store::StoreError::Io { .. }
            | hearth_store::StoreError::Json { .. }
            | hearth_store::StoreError::ReadOnly { .. }
            | hearth_store::StoreError::Bundle { .. }) => Self::Store {
                model: model.to_string(),
                source,
            },
            // What an upstream server wrote stays in the log: a pull may have been pointed
            // at a server whose answers the caller should not read through hearth.
            hearth_store::StoreError::HttpStatus { url, status, body } => {
                tracing::warn!(%url, status, %body, "upstream error");
                Self::StoreFailed(format!("model \"{model}\": {url}: HTTP status {status}"))
            }
            other => Self::StoreFailed(format!("model \"{model}\": {other}")),
        }
    }

    /// A backend error for `model`.
    pub(crate) fn backend(model: &str, e: BackendError) -> Self {
        match e {
            BackendError::Invalid(m) => Self::Invalid(m),
            BackendError::PromptTooLong { tokens, ctx } => Self::PromptTooLong {
                tokens,
                ctx,
                model: model.to_string(),
            },
            BackendError::NoFim => Self::NoFim(model.to_string()),
            BackendError::Unsupported(what) => {
                Self::Invalid(format!("{what} is not supported by this server"))
            }
            BackendError::DoesNotFit(detail) => Self::DoesNotFit {
                model: model.to_string(),
                detail,
            },
            BackendError::Other(message) => Self::Engine {
                model: model.to_string(),
                message,
            },
        }
    }

    /// Whether the cause is the server's (logged, not shown to the client).
    pub(crate) fn is_internal(&self) -> bool {
        matches!(
            self,
            Self::Store { .. } | Self::Engine { .. } | Self::Task(_)
        )
    }

    /// The message a client may see: the error itself, or for an internal failure a generic
    /// text (the details are logged with the request's id).
    pub(crate) fn public_message(&self) -> String {
        if self.is_internal() {
            tracing::error!(error = %self, "internal error");
            "internal server error (details are in the server log under this request's id)".into()
        } else {
            self.to_string()
        }
    }

    /// A stable machine-readable code for clients (`"prompt_too_long"`, ...), sent beside the
    /// message so that no client matches on wording.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "invalid_request",
            Self::ModelNotFound(_) => "model_not_found",
            Self::NoFim(_) => "fim_not_supported",
            Self::PromptTooLong { .. } => "prompt_too_long",
            Self::PromptTooLarge { .. } => "prompt_too_large",
            Self::DoesNotFit { .. } => "does_not_fit",
            Self::Refused(_) => "refused_by_policy",
            Self::StoreFailed(_) => "store_failed",
            Self::Busy(_) => "server_busy",
            Self::Unloading => "model_unloading",
            Self::Upstream(_) => "upstream_failed",
            Self::Store { .. } | Self::Engine { .. } | Self::Task(_) => "internal_error",
        }
    }
}

/// Run blocking work (store reads, GGUF parsing, big tokenizations, code checks) off the async
/// workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Task(e.to_string()))?
}
