//! Ollama API wire types, field for field as in Ollama's `api/types.go`. Requests accept the older
//! `name` field as an alias of `model`; unknown fields are ignored; wrong types are rejected.
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::config::{go_duration, secs_to_keep_alive};
use crate::options::Options;

/// `keep_alive`: seconds as a number, or a Go duration string; negative = forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive(pub Option<Duration>);

impl<'de> Deserialize<'de> for KeepAlive {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match &v {
            Value::Number(n) => {
                let secs = n
                    .as_f64()
                    .ok_or_else(|| serde::de::Error::custom("bad keep_alive"))?;
                Ok(KeepAlive(secs_to_keep_alive(secs)))
            }
            Value::String(s) => {
                let secs = match s.trim().parse::<f64>() {
                    Ok(x) => x,
                    Err(_) => go_duration(s.trim()).ok_or_else(|| {
                        serde::de::Error::custom(format!("invalid keep_alive duration {s:?}"))
                    })?,
                };
                Ok(KeepAlive(secs_to_keep_alive(secs)))
            }
            _ => Err(serde::de::Error::custom(
                "keep_alive must be a number of seconds or a duration string",
            )),
        }
    }
}

/// A tool call in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub function: ToolCallFunction,
}

/// The function part of a tool call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallFunction {
    #[serde(default)]
    pub index: u32,
    pub name: String,
    #[serde(default)]
    pub arguments: serde_json::Map<String, Value>,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default)]
    pub content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

/// A tool definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: ToolFunction,
}

fn function_type() -> String {
    "function".into()
}

/// The function of a tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolFunction {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub parameters: Value,
}

/// `POST /api/generate`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GenerateRequest {
    pub model: Option<String>,
    pub name: Option<String>,
    pub prompt: String,
    pub suffix: String,
    pub system: Option<String>,
    pub template: Option<String>,
    pub context: Option<Vec<i64>>,
    pub stream: Option<bool>,
    pub raw: bool,
    pub format: Option<Value>,
    pub keep_alive: Option<KeepAlive>,
    pub images: Option<Vec<String>>,
    pub options: Option<Options>,
    pub think: Option<Value>,
    /// Hearth extension: return insecure-code findings for the answer's code blocks.
    pub check: bool,
}

/// `POST /api/chat`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChatRequest {
    pub model: Option<String>,
    pub name: Option<String>,
    pub messages: Vec<Message>,
    pub stream: Option<bool>,
    pub format: Option<Value>,
    pub keep_alive: Option<KeepAlive>,
    pub tools: Option<Vec<Tool>>,
    pub options: Option<Options>,
    pub think: Option<Value>,
    /// Hearth extension: return insecure-code findings for the answer's code blocks.
    pub check: bool,
}

/// `POST /api/show`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ShowRequest {
    pub model: Option<String>,
    pub name: Option<String>,
    pub verbose: bool,
}

/// `POST /api/pull`, `POST /api/push`, `DELETE /api/delete`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ModelRequest {
    pub model: Option<String>,
    pub name: Option<String>,
    pub stream: Option<bool>,
    pub insecure: bool,
}

/// `POST /api/copy`.
#[derive(Debug, Clone, Deserialize)]
pub struct CopyRequest {
    pub source: String,
    pub destination: String,
}

/// `POST /api/create` (the subset hearth supports: `from` a local GGUF path or an existing model,
/// or `files` naming one GGUF path).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CreateRequest {
    pub model: Option<String>,
    pub name: Option<String>,
    pub from: Option<String>,
    pub files: Option<std::collections::BTreeMap<String, String>>,
    pub stream: Option<bool>,
    pub quantize: Option<String>,
}

/// The `model`/`name` pair, resolved: `model` wins, `name` is the older spelling.
pub fn model_name(model: &Option<String>, name: &Option<String>) -> Option<String> {
    model
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(name.as_deref().filter(|s| !s.is_empty()))
        .map(str::to_string)
}

/// `details` of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelDetails {
    pub parent_model: String,
    pub format: String,
    pub family: String,
    pub families: Vec<String>,
    pub parameter_size: String,
    pub quantization_level: String,
}

/// One entry of `/api/tags`.
#[derive(Debug, Clone, Serialize)]
pub struct ListModel {
    pub name: String,
    pub model: String,
    pub modified_at: String,
    pub size: u64,
    pub digest: String,
    pub details: ModelDetails,
}

/// One entry of `/api/ps`.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessModel {
    pub name: String,
    pub model: String,
    pub size: u64,
    pub digest: String,
    pub details: ModelDetails,
    pub expires_at: String,
    pub size_vram: u64,
    pub context_length: u32,
}

/// `/api/pull` progress line.
#[derive(Debug, Clone, Serialize)]
pub struct ProgressResponse {
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<u64>,
}

/// RFC 3339 time like Go's `time.Time` JSON.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let whole = secs.floor() as i64;
    let micros = ((secs - whole as f64) * 1e6) as u32;
    let days = whole.div_euclid(86_400);
    let rem = whole.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_request_shapes() {
        let r: GenerateRequest = serde_json::from_str(
            r#"{"name":"m","prompt":"p","suffix":"s","keep_alive":1800,"stream":true,"extra":1,
                "options":{"temperature":0.01,"num_predict":4096,"num_ctx":8192}}"#,
        )
        .unwrap();
        assert_eq!(model_name(&r.model, &r.name).as_deref(), Some("m"));
        assert_eq!(
            r.keep_alive,
            Some(KeepAlive(Some(Duration::from_secs(1800))))
        );
        let r: GenerateRequest =
            serde_json::from_str(r#"{"model":"m","keep_alive":"-1m"}"#).unwrap();
        assert_eq!(r.keep_alive, Some(KeepAlive(None)));
        assert!(serde_json::from_str::<GenerateRequest>(r#"{"model":"m","prompt":5}"#).is_err());
        assert!(
            serde_json::from_str::<GenerateRequest>(r#"{"model":"m","keep_alive":"soon"}"#)
                .is_err()
        );
    }

    #[test]
    fn chat_with_tools() {
        let r: ChatRequest = serde_json::from_str(
            r#"{"model":"m","messages":[{"role":"user","content":"hi"},
              {"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{"a":1}}}]},
              {"role":"tool","content":"42","tool_name":"f"}],
              "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}"#,
        )
        .unwrap();
        assert_eq!(r.messages.len(), 3);
        assert_eq!(r.tools.unwrap()[0].function.name, "f");
    }

    #[test]
    fn time_format() {
        let t = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.000000Z");
    }
}
