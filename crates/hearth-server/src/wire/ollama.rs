//! Ollama API wire types, field for field as in Ollama's `api/types.go`. Requests accept the older
//! `name` field as an alias of `model`; unknown fields are ignored; wrong types are rejected.
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::backend::Finish;
use crate::config::{go_duration, secs_to_keep_alive};
use crate::service::error::ServiceError;
pub use crate::service::options::{Options, StringOrVec};
use crate::service::request::{GenRequest, Input};
use crate::service::running::{Done, Truncated};
use crate::service::sessions::SessionKey;
use crate::service::tools::ToolCall as ServiceToolCall;
use crate::wire::ollama_models::rfc3339;

/// `keep_alive`: seconds as a number, or a Go duration string; negative = forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive(pub Option<Duration>);

impl Serialize for KeepAlive {
    /// Seconds; negative for forever.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_i64(-1),
        }
    }
}

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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub prompt: String,
    /// Text after the cursor: present (even empty, the cursor at the end of a file) makes the
    /// request fill-in-the-middle for a model with FIM tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub raw: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<Value>,
    /// Hearth extension: return insecure-code findings for the answer's code blocks.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
    /// `false`: a conversation that does not fit is refused instead of losing its oldest turns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncate: Option<bool>,
}

/// `POST /api/chat`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChatRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive: Option<KeepAlive>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Options>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think: Option<Value>,
    /// Hearth extension: return insecure-code findings for the answer's code blocks.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
    /// `false`: a conversation that does not fit is refused instead of losing its oldest turns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncate: Option<bool>,
}

/// `POST /api/show`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ShowRequest {
    pub(crate) model: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) verbose: bool,
}

/// `POST /api/pull`, `POST /api/push`, `DELETE /api/delete`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ModelRequest {
    pub(crate) model: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) stream: Option<bool>,
    pub(crate) insecure: bool,
}

/// `POST /api/copy`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CopyRequest {
    pub(crate) source: String,
    pub(crate) destination: String,
}

/// `POST /api/create` (the subset hearth supports: `from` a local GGUF path or an existing model,
/// or `files` naming one GGUF path).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CreateRequest {
    pub(crate) model: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) from: Option<String>,
    pub(crate) files: Option<std::collections::BTreeMap<String, String>>,
    pub(crate) stream: Option<bool>,
    pub(crate) quantize: Option<String>,
}

/// The `model`/`name` pair, resolved: `model` wins, `name` is the older spelling.
pub(crate) fn model_name(model: &Option<String>, name: &Option<String>) -> Option<String> {
    model
        .as_deref()
        .filter(|s| !s.is_empty())
        .or(name.as_deref().filter(|s| !s.is_empty()))
        .map(str::to_string)
}

/// Ollama's `done_reason`.
pub(crate) fn done_reason(f: Option<Finish>) -> &'static str {
    match f {
        Some(Finish::Length | Finish::ContextFull) => "length",
        Some(Finish::Stop | Finish::Cancelled) | None => "stop",
    }
}

/// Nanoseconds for Ollama's duration fields.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The counts and durations of a final object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FinalStats {
    pub total_duration: u64,
    pub load_duration: u64,
    pub prompt_eval_count: u32,
    pub prompt_eval_duration: u64,
    pub eval_count: u32,
    pub eval_duration: u64,
}

impl FinalStats {
    fn of(d: &Done) -> Self {
        FinalStats {
            total_duration: nanos(d.total),
            load_duration: nanos(d.load),
            prompt_eval_count: d.stats.prompt_tokens,
            prompt_eval_duration: nanos(d.stats.prompt_eval),
            eval_count: d.stats.eval_tokens,
            eval_duration: nanos(d.stats.eval),
        }
    }
}

/// `truncated` in a final object: what a conversation lost to fit the context.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TruncatedInfo {
    pub messages: usize,
    pub prompt_tokens_before: usize,
    pub prompt_tokens: usize,
}

impl From<Truncated> for TruncatedInfo {
    fn from(t: Truncated) -> Self {
        TruncatedInfo {
            messages: t.messages,
            prompt_tokens_before: t.tokens_before,
            prompt_tokens: t.tokens_after,
        }
    }
}

/// `check` in a final object: insecure-code findings per fenced block.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub blocks: Vec<hearth_codecheck::BlockFindings>,
    pub findings: usize,
}

impl CheckReport {
    pub(crate) fn of(blocks: Vec<hearth_codecheck::BlockFindings>) -> Self {
        let findings = blocks.iter().map(|b| b.findings.len()).sum();
        CheckReport { blocks, findings }
    }
}

/// What the last object adds to a piece: `done`, the reason and the stats.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Final {
    pub done_reason: String,
    #[serde(flatten)]
    pub stats: FinalStats,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<Vec<i32>>,
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub check: Option<CheckReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncated: Option<TruncatedInfo>,
}

impl Final {
    pub(crate) fn of(d: Done) -> Self {
        Final {
            done_reason: done_reason(d.finish).to_string(),
            stats: FinalStats::of(&d),
            context: d.context,
            check: d.check.map(CheckReport::of),
            truncated: d.truncated.map(TruncatedInfo::from),
        }
    }
}

/// A `/api/generate` response object (streamed piece or final).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GenerateResponse {
    pub model: String,
    pub created_at: String,
    pub response: String,
    /// Thinking of a reasoning model (its own field, never in `response`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking: Option<String>,
    pub done: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub last: Option<Final>,
}

/// A `/api/chat` response object (streamed piece or final).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatResponse {
    pub model: String,
    pub created_at: String,
    pub message: Message,
    pub done: bool,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub last: Option<Final>,
}

/// An object of a generate or chat stream as a client reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Reply {
    /// `/api/chat`: a `message` piece.
    Chat(ChatResponse),
    /// `/api/generate`: a `response` piece.
    Generate(GenerateResponse),
}

impl Reply {
    /// The thinking of this piece (a reasoning model's), if any.
    pub fn thinking(&self) -> &str {
        match self {
            Reply::Chat(c) => c.message.thinking.as_deref().unwrap_or(""),
            Reply::Generate(g) => g.thinking.as_deref().unwrap_or(""),
        }
    }

    /// The text of this piece.
    pub fn text(&self) -> &str {
        match self {
            Reply::Chat(c) => &c.message.content,
            Reply::Generate(g) => &g.response,
        }
    }

    /// Whether this is the last object.
    pub fn done(&self) -> bool {
        match self {
            Reply::Chat(c) => c.done,
            Reply::Generate(g) => g.done,
        }
    }

    /// The reason and stats of the last object (`None` before it, and for load answers).
    pub fn last(&self) -> Option<&Final> {
        match self {
            Reply::Chat(c) => c.last.as_ref(),
            Reply::Generate(g) => g.last.as_ref(),
        }
    }
}

/// Any object of an Ollama generation stream.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum StreamObject {
    Generate(GenerateResponse),
    Chat(ChatResponse),
    Error { error: String, code: &'static str },
}

/// The answer of a load or unload request (an empty prompt or message list).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoadResponse {
    pub(crate) model: String,
    pub(crate) created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) response: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<Message>,
    pub(crate) done: bool,
    pub(crate) done_reason: &'static str,
}

impl LoadResponse {
    pub(crate) fn new(model: &str, chat: bool, unloaded: bool) -> Self {
        LoadResponse {
            model: model.to_string(),
            created_at: rfc3339(SystemTime::now()),
            response: (!chat).then(String::new),
            message: chat.then(|| Message::assistant(String::new(), Vec::new())),
            done: true,
            done_reason: if unloaded { "unload" } else { "load" },
        }
    }
}

impl Message {
    /// A message with text only.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: content.into(),
            thinking: None,
            images: None,
            tool_calls: None,
            tool_name: None,
            tool_call_id: None,
        }
    }

    /// An assistant message with `calls` (none: no `tool_calls` field).
    pub(crate) fn assistant(content: String, calls: Vec<ServiceToolCall>) -> Message {
        let tool_calls = (!calls.is_empty()).then(|| {
            calls
                .into_iter()
                .enumerate()
                .map(|(i, c)| ToolCall {
                    id: None,
                    function: ToolCallFunction {
                        index: u32::try_from(i).unwrap_or(u32::MAX),
                        name: c.name,
                        arguments: c.arguments,
                    },
                })
                .collect()
        });
        Message {
            role: "assistant".into(),
            content,
            thinking: None,
            images: None,
            tool_calls,
            tool_name: None,
            tool_call_id: None,
        }
    }
}

/// Ollama messages for the chat template.
pub(crate) fn to_prompt_messages(
    msgs: &[Message],
) -> Result<Vec<hearth_prompt::Message>, ServiceError> {
    msgs.iter()
        .map(|m| {
            if m.images.as_ref().is_some_and(|i| !i.is_empty()) {
                return Err(ServiceError::Invalid(
                    "this model does not support images".into(),
                ));
            }
            let role = m.role.to_ascii_lowercase();
            if !matches!(
                role.as_str(),
                "system" | "user" | "assistant" | "tool" | "developer"
            ) {
                return Err(ServiceError::Invalid(format!(
                    "invalid message role {:?}",
                    m.role
                )));
            }
            let role = if role == "developer" {
                "system".to_string()
            } else {
                role
            };
            let mut pm = hearth_prompt::Message::new(role, m.content.clone());
            pm.tool_call_id = m.tool_call_id.clone();
            pm.name = m.tool_name.clone();
            pm.tool_calls = m.tool_calls.as_ref().map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        hearth_prompt::ToolCall::function(
                            c.function.name.clone(),
                            Value::Object(c.function.arguments.clone()),
                        )
                    })
                    .collect()
            });
            Ok(pm)
        })
        .collect()
}

fn format_grammar(format: &Option<Value>) -> Result<Option<String>, ServiceError> {
    match format {
        None => Ok(None),
        Some(f) => {
            crate::grammar::for_ollama_format(f).map_err(|e| ServiceError::Invalid(e.to_string()))
        }
    }
}

/// Ollama's `think`: a bool, or a level (`low`, `medium`, `high`) that turns thinking on.
pub(crate) fn think_of(v: Option<&Value>) -> Result<Option<bool>, ServiceError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if matches!(s.as_str(), "low" | "medium" | "high") => Ok(Some(true)),
        Some(other) => Err(ServiceError::Invalid(format!(
            "think must be true, false, \"low\", \"medium\" or \"high\", not {other}"
        ))),
    }
}

/// The model a request names (`model`, else the older `name`), required.
pub(crate) fn require_model(
    model: &Option<String>,
    name: &Option<String>,
) -> Result<String, ServiceError> {
    model_name(model, name).ok_or_else(|| ServiceError::Invalid("model is required".into()))
}

/// A request that only loads or unloads its model.
pub(crate) struct LoadRequest {
    pub(crate) model: String,
    pub(crate) options: Options,
    pub(crate) keep_alive: Option<Option<Duration>>,
}

/// What an Ollama generate or chat request asks for.
#[allow(clippy::large_enum_variant)] // built once per request, moved once
pub(crate) enum Ask {
    /// Generate.
    Generate(GenRequest),
    /// Load or unload (an empty prompt or message list).
    Load(LoadRequest),
}

impl GenerateRequest {
    /// The model name (`model`, else `name`).
    pub(crate) fn model(&self) -> Result<String, ServiceError> {
        require_model(&self.model, &self.name)
    }

    /// The service request; `session` is who is typing where (for FIM requests).
    pub(crate) fn to_gen(&self, session: SessionKey) -> Result<Ask, ServiceError> {
        let name = self.model()?;
        let context = context_tokens(self.context.as_deref().unwrap_or_default())?;
        let nonempty = |t: &Option<String>| t.as_deref().is_some_and(|t| !t.is_empty());
        if self.raw && (nonempty(&self.template) || nonempty(&self.system) || !context.is_empty()) {
            return Err(ServiceError::Invalid(
                "raw mode does not support template, system, or context".into(),
            ));
        }
        if self.images.as_ref().is_some_and(|i| !i.is_empty()) {
            return Err(ServiceError::Invalid(format!(
                "model \"{name}\" does not support images"
            )));
        }
        if nonempty(&self.template) {
            return Err(ServiceError::Invalid(
                "custom Go templates are not supported; use raw with a formatted prompt".into(),
            ));
        }
        let options = self.options.clone().unwrap_or_default();
        let grammar = format_grammar(&self.format)?;
        let keep_alive = self.keep_alive.map(|k| k.0);
        if self.prompt.is_empty() && self.suffix.as_deref().unwrap_or_default().is_empty() {
            return Ok(Ask::Load(LoadRequest {
                model: name,
                options,
                keep_alive,
            }));
        }
        let input = if self.raw {
            Input::Raw {
                prompt: self.prompt.clone(),
                session: Some(session),
            }
        } else if let Some(suffix) = &self.suffix {
            // Ollama's templates test `.Suffix`, so an empty suffix (typing at the end of a
            // file) got the chat template and a chat answer; the field's presence is the
            // editor saying "autocomplete".
            Input::Fim {
                prefix: self.prompt.clone(),
                suffix: suffix.clone(),
                extra_files: Vec::new(),
                time_budget: crate::service::FIM_TIME_BUDGET,
                session,
            }
        } else {
            Input::Prompt {
                prompt: self.prompt.clone(),
                system: self.system.clone(),
                context,
            }
        };
        let mut g = GenRequest::new(name, input);
        g.options = options;
        g.grammar = grammar;
        g.keep_alive = keep_alive;
        g.truncate = self.truncate.unwrap_or(true);
        g.check = self.check;
        g.think = think_of(self.think.as_ref())?;
        Ok(Ask::Generate(g))
    }
}

impl ChatRequest {
    /// The model name (`model`, else `name`).
    pub(crate) fn model(&self) -> Result<String, ServiceError> {
        require_model(&self.model, &self.name)
    }

    /// The service request.
    pub(crate) fn to_gen(&self) -> Result<Ask, ServiceError> {
        let name = self.model()?;
        let options = self.options.clone().unwrap_or_default();
        let grammar = format_grammar(&self.format)?;
        let keep_alive = self.keep_alive.map(|k| k.0);
        let messages = to_prompt_messages(&self.messages)?;
        if messages.is_empty() {
            return Ok(Ask::Load(LoadRequest {
                model: name,
                options,
                keep_alive,
            }));
        }
        let tools = self.tools.as_ref().filter(|t| !t.is_empty()).map(|t| {
            t.iter()
                .map(|x| serde_json::to_value(x).unwrap_or(Value::Null))
                .collect()
        });
        let mut g = GenRequest::new(name, Input::Chat { messages, tools });
        g.options = options;
        g.grammar = grammar;
        g.keep_alive = keep_alive;
        g.truncate = self.truncate.unwrap_or(true);
        g.check = self.check;
        g.think = think_of(self.think.as_ref())?;
        Ok(Ask::Generate(g))
    }
}

/// Ollama's request `context`: token ids, each an i32.
pub(crate) fn context_tokens(ctx: &[i64]) -> Result<Vec<i32>, ServiceError> {
    const MAX_CONTEXT_TOKENS: usize = 1 << 20;
    if ctx.len() > MAX_CONTEXT_TOKENS {
        return Err(ServiceError::Invalid(format!(
            "context has {} tokens, more than {MAX_CONTEXT_TOKENS}",
            ctx.len()
        )));
    }
    ctx.iter()
        .map(|&t| {
            i32::try_from(t)
                .ok()
                .filter(|t| *t >= 0)
                .ok_or_else(|| ServiceError::Invalid(format!("context token {t} is out of range")))
        })
        .collect()
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
}
