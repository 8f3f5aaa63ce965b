//! Generation options in Ollama's `options` shape (every protocol maps its fields onto them):
//! typed and validated at the edge, with a model's Modelfile `PARAMETER`s as defaults. Unknown
//! keys are ignored (Ollama logs them); a known key with the wrong type or an out-of-range value
//! is [`ServiceError::Invalid`].
use serde::{Deserialize, Deserializer, Serialize};

use crate::backend::Sampling;
use crate::config::MAX_NUM_CTX;
use crate::service::error::ServiceError;

/// Deserialize an integer option; like Ollama (Go's JSON numbers are floats) an integral float is
/// accepted, a fractional one is truncated, a string or bool is a type error.
fn de_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v: Option<serde_json::Number> = Option::deserialize(d)?;
    match v {
        None => Ok(None),
        Some(n) => {
            if let Some(i) = n.as_i64() {
                Ok(Some(i))
            } else if let Some(f) = n.as_f64() {
                if f.is_finite() && f.abs() < 9.0e15 {
                    Ok(Some(f.trunc() as i64))
                } else {
                    Err(serde::de::Error::custom("integer out of range"))
                }
            } else {
                Err(serde::de::Error::custom("integer out of range"))
            }
        }
    }
}

/// A string or a list of strings (`stop`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StringOrVec {
    /// One.
    One(String),
    /// Many.
    Many(Vec<String>),
}

impl StringOrVec {
    /// As a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StringOrVec::One(s) => vec![s],
            StringOrVec::Many(v) => v,
        }
    }
}

/// The options clients send (Continue sends temperature, top_p, top_k, num_predict, stop,
/// num_ctx, mirostat, num_thread, use_mmap, min_p, num_gpu).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Options {
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub num_ctx: Option<i64>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub num_predict: Option<i64>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub num_keep: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typical_p: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f32>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub repeat_last_n: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop: Option<StringOrVec>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub num_thread: Option<i64>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub num_gpu: Option<i64>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub num_batch: Option<i64>,
    #[serde(deserialize_with = "de_int", skip_serializing_if = "Option::is_none")]
    pub mirostat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_mmap: Option<bool>,
}

impl Options {
    /// These options with `defaults` (a model's Modelfile `PARAMETER`s) filling what the
    /// request left unset: request options override Modelfile parameters, as in Ollama.
    pub(crate) fn or(self, defaults: Options) -> Options {
        Options {
            num_ctx: self.num_ctx.or(defaults.num_ctx),
            num_predict: self.num_predict.or(defaults.num_predict),
            num_keep: self.num_keep.or(defaults.num_keep),
            temperature: self.temperature.or(defaults.temperature),
            top_k: self.top_k.or(defaults.top_k),
            top_p: self.top_p.or(defaults.top_p),
            min_p: self.min_p.or(defaults.min_p),
            typical_p: self.typical_p.or(defaults.typical_p),
            repeat_penalty: self.repeat_penalty.or(defaults.repeat_penalty),
            repeat_last_n: self.repeat_last_n.or(defaults.repeat_last_n),
            presence_penalty: self.presence_penalty.or(defaults.presence_penalty),
            frequency_penalty: self.frequency_penalty.or(defaults.frequency_penalty),
            seed: self.seed.or(defaults.seed),
            stop: self.stop.or(defaults.stop),
            num_thread: self.num_thread.or(defaults.num_thread),
            num_gpu: self.num_gpu.or(defaults.num_gpu),
            num_batch: self.num_batch.or(defaults.num_batch),
            mirostat: self.mirostat.or(defaults.mirostat),
            use_mmap: self.use_mmap.or(defaults.use_mmap),
        }
    }

    /// A model's Modelfile parameters as options.
    pub(crate) fn from_params(
        model: &str,
        params: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Options, ServiceError> {
        if params.is_empty() {
            return Ok(Options::default());
        }
        serde_json::from_value(serde_json::Value::Object(params.clone())).map_err(|e| {
            ServiceError::Invalid(format!(
                "model \"{model}\" has an unusable Modelfile PARAMETER: {e}"
            ))
        })
    }
}

/// Options after validation, in the units the scheduler uses.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Checked {
    /// Requested context per sequence.
    pub(crate) num_ctx: Option<u32>,
    /// `None` = unlimited (-1) or fill the context (-2).
    pub(crate) max_tokens: Option<u32>,
    /// Sampling.
    pub(crate) sampling: Sampling,
    /// Stop strings.
    pub(crate) stop: Vec<String>,
}

fn finite(name: &str, v: Option<f32>, lo: f32, hi: f32) -> Result<Option<f32>, ServiceError> {
    match v {
        Some(x) if !x.is_finite() || x < lo || x > hi => Err(ServiceError::Invalid(format!(
            "option \"{name}\" must be between {lo} and {hi}, got {x}"
        ))),
        other => Ok(other),
    }
}

impl Options {
    /// Validate ranges. `num_predict` must be >= 0, or -1 (unlimited) or -2 (fill context);
    /// `num_ctx` must be in 1..=2^20.
    pub(crate) fn check(self) -> Result<Checked, ServiceError> {
        let num_ctx = match self.num_ctx {
            None | Some(0) => None,
            Some(n) if n < 0 => {
                return Err(ServiceError::Invalid(format!(
                    "option \"num_ctx\" must be positive, got {n}"
                )))
            }
            Some(n) if n as u64 > MAX_NUM_CTX => {
                return Err(ServiceError::Invalid(format!(
                    "option \"num_ctx\" is {n}, more than the maximum {MAX_NUM_CTX}"
                )))
            }
            Some(n) => Some(n as u32),
        };
        let max_tokens = match self.num_predict {
            None | Some(-1) | Some(-2) => None,
            Some(n) if n < 0 => {
                return Err(ServiceError::Invalid(format!(
                "option \"num_predict\" must be >= 0, -1 (no limit) or -2 (fill context), got {n}"
            )))
            }
            Some(n) => Some(u32::try_from(n).unwrap_or(u32::MAX)),
        };
        let top_k = match self.top_k {
            Some(k) if k < 0 => {
                return Err(ServiceError::Invalid(format!(
                    "option \"top_k\" must be >= 0, got {k}"
                )))
            }
            Some(k) => Some(k.min(1 << 20) as i32),
            None => None,
        };
        let repeat_last_n = match self.repeat_last_n {
            Some(n) if n < -1 => {
                return Err(ServiceError::Invalid(format!(
                    "option \"repeat_last_n\" must be >= -1, got {n}"
                )))
            }
            Some(n) => Some(n.min(1 << 20) as i32),
            None => None,
        };
        let seed = self.seed.map(|s| {
            if s < 0 {
                u32::MAX
            } else {
                (s & 0xffff_ffff) as u32
            }
        });
        let sampling = Sampling {
            temperature: finite("temperature", self.temperature, 0.0, 100.0)?,
            top_k,
            top_p: finite("top_p", self.top_p, 0.0, 1.0)?,
            min_p: finite("min_p", self.min_p, 0.0, 1.0)?,
            repeat_penalty: finite("repeat_penalty", self.repeat_penalty, 0.0, 100.0)?,
            repeat_last_n,
            presence_penalty: finite("presence_penalty", self.presence_penalty, -100.0, 100.0)?,
            frequency_penalty: finite("frequency_penalty", self.frequency_penalty, -100.0, 100.0)?,
            seed,
        };
        let stop = self.stop.map(StringOrVec::into_vec).unwrap_or_default();
        check_stops(&stop)?;
        Ok(Checked {
            num_ctx,
            max_tokens,
            sampling,
            stop,
        })
    }
}

/// At most 16 stop strings of at most 1,000 bytes each, none empty.
pub(crate) fn check_stops(stop: &[String]) -> Result<(), ServiceError> {
    if stop.len() > 16 {
        return Err(ServiceError::Invalid(format!(
            "at most 16 stop strings, got {}",
            stop.len()
        )));
    }
    if let Some(s) = stop.iter().find(|s| s.is_empty() || s.len() > 1000) {
        return Err(ServiceError::Invalid(format!(
            "stop strings must be 1 to 1000 bytes, got {} bytes",
            s.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<Checked, String> {
        let o: Options = serde_json::from_value(v).map_err(|e| e.to_string())?;
        o.check().map_err(|e| e.to_string())
    }

    #[test]
    fn valid() {
        let c = parse(
            serde_json::json!({"temperature": 0.01, "num_predict": 4096, "num_ctx": 8192,
            "stop": ["\n"], "top_k": 40.0, "mirostat": 0, "use_mmap": true, "unknown": "x"}),
        )
        .unwrap();
        assert_eq!(c.num_ctx, Some(8192));
        assert_eq!(c.max_tokens, Some(4096));
        assert_eq!(c.sampling.top_k, Some(40));
        assert_eq!(c.stop, vec!["\n".to_string()]);
        assert_eq!(
            parse(serde_json::json!({"num_predict": -1}))
                .unwrap()
                .max_tokens,
            None
        );
        assert_eq!(
            parse(serde_json::json!({"num_predict": -2}))
                .unwrap()
                .max_tokens,
            None
        );
    }

    #[test]
    fn request_options_override_modelfile_parameters() {
        let params = serde_json::json!({"temperature": 0.0, "stop": ["<END>"], "num_ctx": 4096});
        let d = Options::from_params("m", params.as_object().unwrap()).unwrap();
        let req: Options = serde_json::from_value(serde_json::json!({"num_ctx": 8192})).unwrap();
        let c = req.or(d).check().unwrap();
        assert_eq!(c.num_ctx, Some(8192));
        assert_eq!(c.sampling.temperature, Some(0.0));
        assert_eq!(c.stop, vec!["<END>".to_string()]);
        let bad = serde_json::json!({"temperature": "hot"});
        assert!(Options::from_params("m", bad.as_object().unwrap()).is_err());
    }

    #[test]
    fn invalid() {
        assert!(parse(serde_json::json!({"num_predict": -3}))
            .unwrap_err()
            .contains("num_predict"));
        assert!(parse(serde_json::json!({"num_ctx": 1_000_000_000}))
            .unwrap_err()
            .contains("num_ctx"));
        assert!(parse(serde_json::json!({"temperature": "hot"})).is_err());
        assert!(parse(serde_json::json!({"num_predict": "10"})).is_err());
        assert!(parse(serde_json::json!({"top_p": 2.0}))
            .unwrap_err()
            .contains("top_p"));
        assert!(parse(serde_json::json!({"stop": [""]})).is_err());
    }
}
