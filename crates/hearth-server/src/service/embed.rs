//! Embeddings: one service call behind Ollama's `/api/embed` and `/api/embeddings` and
//! OpenAI's `/v1/embeddings`. Inputs are tokenized with the model's special tokens, cut to
//! the context when the client allows it (else refused), embedded in one engine request,
//! shortened to `dimensions` and L2-normalised as asked.
use std::time::{Duration, Instant};

use super::error::{blocking, ServiceError};
use super::options::Options;
use super::Service;

/// Most inputs in one request.
pub(crate) const MAX_INPUTS: usize = 2048;

/// What to embed.
#[derive(Debug, Clone)]
pub(crate) enum EmbedInput {
    /// Texts, tokenized with the model's vocabulary.
    Texts(Vec<String>),
    /// Token ids as the client sent them (OpenAI allows arrays of ids).
    Tokens(Vec<Vec<i32>>),
}

impl EmbedInput {
    fn len(&self) -> usize {
        match self {
            EmbedInput::Texts(t) => t.len(),
            EmbedInput::Tokens(t) => t.len(),
        }
    }
}

/// One embedding request.
#[derive(Debug, Clone)]
pub(crate) struct EmbedRequest {
    pub(crate) model: String,
    pub(crate) input: EmbedInput,
    /// Cut inputs longer than the context (Ollama's default) instead of refusing them.
    pub(crate) truncate: bool,
    /// Keep the first `dimensions` components (Matryoshka models), before normalising.
    pub(crate) dimensions: Option<u32>,
    /// Scale each vector to unit length (`/api/embed`, OpenAI); the legacy
    /// `/api/embeddings` returns the vector as pooled.
    pub(crate) normalize: bool,
    pub(crate) keep_alive: Option<Option<Duration>>,
    pub(crate) options: Options,
}

/// The vectors, in input order.
#[derive(Debug, Clone)]
pub(crate) struct Embedded {
    pub(crate) model: String,
    pub(crate) vectors: Vec<Vec<f32>>,
    pub(crate) prompt_tokens: usize,
    pub(crate) total: Duration,
    pub(crate) load: Duration,
}

impl Service {
    /// Embed the inputs of `req`.
    pub(crate) async fn embed(&self, req: EmbedRequest) -> Result<Embedded, ServiceError> {
        let started = Instant::now();
        if req.input.len() > MAX_INPUTS {
            return Err(ServiceError::Invalid(format!(
                "{} inputs, more than the limit of {MAX_INPUTS} per request",
                req.input.len()
            )));
        }
        if req.dimensions == Some(0) {
            return Err(ServiceError::Invalid("dimensions must be positive".into()));
        }
        let bytes: usize = match &req.input {
            EmbedInput::Texts(t) => t.iter().map(String::len).sum(),
            EmbedInput::Tokens(t) => t.iter().map(|v| v.len() * 4).sum(),
        };
        self.check_prompt_bytes(bytes)?;
        let (entry, opts) = self.resolve_with_options(&req.model, req.options).await?;
        let lease = self
            .inner
            .sched
            .acquire(&entry, opts.num_ctx, req.keep_alive)
            .await?;
        let runner = lease.resident.runner.clone();
        let name = entry.name.clone();
        let Some(dims) = runner.info().embedding_dims else {
            return Err(ServiceError::Invalid(format!(
                "model \"{name}\" does not support embeddings"
            )));
        };
        if let Some(d) = req.dimensions.filter(|&d| d > dims) {
            return Err(ServiceError::Invalid(format!(
                "dimensions {d} is more than model \"{name}\" produces ({dims})"
            )));
        }
        let ctx = lease.resident.n_ctx_per_seq as usize;
        let truncate = req.truncate;
        let (n, tokens) = (name.clone(), req.input);
        let inputs = blocking(move || {
            let inputs = match tokens {
                EmbedInput::Texts(texts) => texts
                    .iter()
                    .map(|t| {
                        let tokens = runner
                            .embed_tokens(t, truncate.then_some(ctx))
                            .map_err(|e| ServiceError::backend(&n, e))?;
                        if tokens.is_empty() {
                            return Err(ServiceError::Invalid(
                                "an input has no tokens; there is nothing to embed".into(),
                            ));
                        }
                        Ok(tokens)
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                EmbedInput::Tokens(mut ids) => {
                    if truncate {
                        ids.iter_mut().for_each(|v| v.truncate(ctx));
                    }
                    ids
                }
            };
            if let Some(long) = inputs.iter().find(|t| t.len() > ctx) {
                return Err(ServiceError::PromptTooLong {
                    tokens: long.len(),
                    ctx: u32::try_from(ctx).unwrap_or(u32::MAX),
                    model: n,
                });
            }
            Ok(inputs)
        })
        .await?;
        let runner = lease.resident.runner.clone();
        let out = runner
            .embed(inputs)
            .await
            .map_err(|e| ServiceError::backend(&name, e))?;
        let vectors = out
            .vectors
            .into_iter()
            .map(|mut v| {
                if let Some(d) = req.dimensions {
                    v.truncate(d as usize);
                }
                if req.normalize {
                    normalize(&mut v);
                }
                v
            })
            .collect();
        Ok(Embedded {
            model: name,
            vectors,
            prompt_tokens: out.prompt_tokens,
            total: started.elapsed(),
            load: lease.load_duration,
        })
    }
}

/// Scale to unit length (a zero vector stays zero).
fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut()
            .for_each(|x| *x = (f64::from(*x) / norm) as f32);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_length() {
        let mut v = vec![3.0, 4.0];
        super::normalize(&mut v);
        assert_eq!(v, [0.6, 0.8]);
        let mut z = vec![0.0; 3];
        super::normalize(&mut z);
        assert_eq!(z, [0.0; 3]);
    }
}
