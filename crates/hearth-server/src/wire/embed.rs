//! Embedding wire types: Ollama's `/api/embed` and older `/api/embeddings`, OpenAI's
//! `/v1/embeddings` (floats or base64), each made into one service [`EmbedRequest`].
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::service::embed::{EmbedInput, EmbedRequest, Embedded};
use crate::service::error::ServiceError;
use crate::wire::ollama::{nanos, require_model, KeepAlive, Options};

/// `POST /api/embed`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EmbedBody {
    pub(crate) model: Option<String>,
    pub(crate) name: Option<String>,
    /// A string or a list of strings.
    pub(crate) input: Value,
    pub(crate) truncate: Option<bool>,
    pub(crate) dimensions: Option<u32>,
    pub(crate) keep_alive: Option<KeepAlive>,
    pub(crate) options: Option<Options>,
}

impl EmbedBody {
    /// The service request. An empty string or list embeds nothing (Ollama then only loads
    /// the model).
    pub(crate) fn to_embed(&self) -> Result<EmbedRequest, ServiceError> {
        let texts = match &self.input {
            Value::Null => Vec::new(),
            Value::String(s) if s.is_empty() => Vec::new(),
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ServiceError::Invalid(
                        "input must be a string or a list of strings".into(),
                    )),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(ServiceError::Invalid(
                    "input must be a string or a list of strings".into(),
                ))
            }
        };
        Ok(EmbedRequest {
            model: require_model(&self.model, &self.name)?,
            input: EmbedInput::Texts(texts),
            truncate: self.truncate.unwrap_or(true),
            dimensions: self.dimensions,
            normalize: true,
            keep_alive: self.keep_alive.map(|k| k.0),
            options: self.options.clone().unwrap_or_default(),
        })
    }
}

/// `/api/embed`'s answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmbedResponse {
    pub(crate) model: String,
    pub(crate) embeddings: Vec<Vec<f32>>,
    pub(crate) total_duration: u64,
    pub(crate) load_duration: u64,
    pub(crate) prompt_eval_count: usize,
}

impl From<Embedded> for EmbedResponse {
    fn from(e: Embedded) -> Self {
        EmbedResponse {
            model: e.model,
            embeddings: e.vectors,
            total_duration: nanos(e.total),
            load_duration: nanos(e.load),
            prompt_eval_count: e.prompt_tokens,
        }
    }
}

/// `POST /api/embeddings` (Ollama's older endpoint: one prompt, the vector as pooled).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EmbeddingsBody {
    pub(crate) model: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) prompt: String,
    pub(crate) keep_alive: Option<KeepAlive>,
    pub(crate) options: Option<Options>,
}

impl EmbeddingsBody {
    pub(crate) fn to_embed(&self) -> Result<EmbedRequest, ServiceError> {
        let texts = if self.prompt.is_empty() {
            Vec::new()
        } else {
            vec![self.prompt.clone()]
        };
        Ok(EmbedRequest {
            model: require_model(&self.model, &self.name)?,
            input: EmbedInput::Texts(texts),
            truncate: true,
            dimensions: None,
            normalize: false,
            keep_alive: self.keep_alive.map(|k| k.0),
            options: self.options.clone().unwrap_or_default(),
        })
    }
}

/// `/api/embeddings`' answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmbeddingsResponse {
    pub(crate) embedding: Vec<f32>,
}

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenAiEmbedBody {
    pub(crate) model: String,
    /// A string, a list of strings, a list of token ids or a list of such lists.
    pub(crate) input: Value,
    pub(crate) encoding_format: Option<String>,
    pub(crate) dimensions: Option<u32>,
}

/// How OpenAI vectors are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Float,
    /// Little-endian f32 bytes, base64.
    Base64,
}

impl OpenAiEmbedBody {
    pub(crate) fn to_embed(&self) -> Result<(EmbedRequest, Encoding), ServiceError> {
        let bad = || {
            ServiceError::Invalid(
                "input must be a non-empty string, a list of strings, a list of token ids or a \
                 list of token id lists"
                    .into(),
            )
        };
        let ids = |v: &[Value]| -> Result<Vec<i32>, ServiceError> {
            v.iter()
                .map(|x| {
                    x.as_i64()
                        .and_then(|i| i32::try_from(i).ok())
                        .ok_or_else(bad)
                })
                .collect()
        };
        let input = match &self.input {
            Value::String(s) if !s.is_empty() => EmbedInput::Texts(vec![s.clone()]),
            Value::Array(items) if !items.is_empty() => match &items[0] {
                Value::String(_) => EmbedInput::Texts(
                    items
                        .iter()
                        .map(|v| match v {
                            Value::String(s) if !s.is_empty() => Ok(s.clone()),
                            _ => Err(bad()),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                Value::Number(_) => EmbedInput::Tokens(vec![ids(items)?]),
                Value::Array(_) => EmbedInput::Tokens(
                    items
                        .iter()
                        .map(|v| match v {
                            Value::Array(a) if !a.is_empty() => ids(a),
                            _ => Err(bad()),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                _ => return Err(bad()),
            },
            _ => return Err(bad()),
        };
        if self.model.is_empty() {
            return Err(ServiceError::Invalid("model is required".into()));
        }
        let encoding = match self.encoding_format.as_deref() {
            None | Some("float") => Encoding::Float,
            Some("base64") => Encoding::Base64,
            Some(other) => {
                return Err(ServiceError::Invalid(format!(
                    "encoding_format must be \"float\" or \"base64\", got {other:?}"
                )))
            }
        };
        Ok((
            EmbedRequest {
                model: self.model.clone(),
                input,
                truncate: true,
                dimensions: self.dimensions,
                normalize: true,
                keep_alive: None,
                options: Options::default(),
            },
            encoding,
        ))
    }
}

/// One vector of an OpenAI answer.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum Vector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct EmbeddingObject {
    pub(crate) object: &'static str,
    pub(crate) index: usize,
    pub(crate) embedding: Vector,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: usize,
    pub(crate) total_tokens: usize,
}

/// `/v1/embeddings`' answer.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OpenAiEmbedResponse {
    pub(crate) object: &'static str,
    pub(crate) data: Vec<EmbeddingObject>,
    pub(crate) model: String,
    pub(crate) usage: Usage,
}

impl OpenAiEmbedResponse {
    pub(crate) fn new(e: Embedded, model: &str, encoding: Encoding) -> Self {
        let data = e
            .vectors
            .into_iter()
            .enumerate()
            .map(|(index, v)| EmbeddingObject {
                object: "embedding",
                index,
                embedding: match encoding {
                    Encoding::Float => Vector::Float(v),
                    Encoding::Base64 => Vector::Base64(base64_f32(&v)),
                },
            })
            .collect();
        OpenAiEmbedResponse {
            object: "list",
            data,
            model: model.to_string(),
            usage: Usage {
                prompt_tokens: e.prompt_tokens,
                total_tokens: e.prompt_tokens,
            },
        }
    }
}

/// Standard base64 (with padding) of the little-endian bytes of `v`, as OpenAI encodes.
fn base64_f32(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    hearth_guard::sign::base64_encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn openai(input: Value) -> Result<EmbedRequest, ServiceError> {
        let body: OpenAiEmbedBody =
            serde_json::from_value(json!({"model": "m", "input": input})).unwrap();
        body.to_embed().map(|(r, _)| r)
    }

    #[test]
    fn openai_inputs() {
        assert!(matches!(openai(json!("hi")).unwrap().input, EmbedInput::Texts(t) if t == ["hi"]));
        assert!(
            matches!(openai(json!(["a", "b"])).unwrap().input, EmbedInput::Texts(t) if t.len() == 2)
        );
        assert!(
            matches!(openai(json!([1, 2])).unwrap().input, EmbedInput::Tokens(t) if t == [vec![1, 2]])
        );
        assert!(
            matches!(openai(json!([[1], [2, 3]])).unwrap().input, EmbedInput::Tokens(t) if t.len() == 2)
        );
        for bad in [
            json!(""),
            json!([]),
            json!([""]),
            json!([1, "a"]),
            json!([[]]),
            json!({}),
            json!([1.5]),
            json!([5_000_000_000i64]),
        ] {
            assert!(openai(bad.clone()).is_err(), "{bad}");
        }
        let body: OpenAiEmbedBody =
            serde_json::from_value(json!({"model": "m", "input": "x", "encoding_format": "hex"}))
                .unwrap();
        assert!(body.to_embed().is_err());
    }

    #[test]
    fn ollama_inputs() {
        let body = |v: Value| serde_json::from_value::<EmbedBody>(v).unwrap().to_embed();
        let r = body(json!({"model": "m", "input": ["a", "b"]})).unwrap();
        assert!(r.truncate && r.normalize);
        assert!(matches!(r.input, EmbedInput::Texts(t) if t.len() == 2));
        assert!(
            matches!(body(json!({"model": "m", "input": ""})).unwrap().input, EmbedInput::Texts(t) if t.is_empty())
        );
        assert!(
            !body(json!({"model": "m", "input": "a", "truncate": false}))
                .unwrap()
                .truncate
        );
        assert!(body(json!({"model": "m", "input": [1]})).is_err());
        assert!(body(json!({"input": "a"})).is_err());
    }

    #[test]
    fn base64_is_little_endian_f32() {
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[1.0, -2.0]), "AACAPwAAAMA=");
        assert_eq!(base64_f32(&[]), "");
    }
}
