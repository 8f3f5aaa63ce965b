//! OpenAI API wire types (chat completions, completions, models).
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::grammar::Grammar;
use crate::service::error::ServiceError;
use crate::service::options::{check_stops, Options, StringOrVec};
use crate::service::request::{GenRequest, Input};
use crate::service::sessions::SessionKey;
use crate::wire::tool_choice::{forced_call_grammar, template_tools, Declared, Force};

/// Message content: a string, or a list of parts of which the `text` ones are used.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub(crate) enum Content {
    /// Plain text.
    Text(String),
    /// Parts.
    Parts(Vec<ContentPart>),
}

/// A content part.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ContentPart {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) text: Option<String>,
}

impl Content {
    /// Concatenated text; an error for non-text parts (images).
    pub(crate) fn text(&self) -> Result<String, String> {
        match self {
            Content::Text(s) => Ok(s.clone()),
            Content::Parts(parts) => {
                let mut out = String::new();
                for p in parts {
                    match (p.kind.as_str(), &p.text) {
                        ("text", Some(t)) => out.push_str(t),
                        (k, _) => {
                            return Err(format!("content part of type {k:?} is not supported"))
                        }
                    }
                }
                Ok(out)
            }
        }
    }
}

/// A tool call in an assistant message (`arguments` is a JSON string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ToolCall {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(rename = "type", default = "function_type")]
    pub(crate) kind: String,
    pub(crate) function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

/// Function name and JSON-encoded arguments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FunctionCall {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) arguments: String,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ChatMessage {
    pub(crate) role: String,
    #[serde(default)]
    pub(crate) content: Option<Content>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<ToolCall>>,
    #[serde(default)]
    pub(crate) tool_call_id: Option<String>,
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub(crate) struct StreamOptions {
    pub(crate) include_usage: bool,
}

/// `response_format`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseFormat {
    /// Free text.
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON matching a schema.
    JsonSchema {
        /// The schema wrapper.
        json_schema: JsonSchemaSpec,
    },
}

/// `response_format.json_schema`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct JsonSchemaSpec {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) schema: Option<Value>,
    #[serde(default)]
    pub(crate) strict: Option<bool>,
}

/// A tool definition.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct Tool {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) function: ToolFunction,
}

/// Tool function.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ToolFunction {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) parameters: Option<Value>,
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ChatCompletionRequest {
    pub(crate) model: String,
    pub(crate) messages: Vec<ChatMessage>,
    #[serde(default)]
    pub(crate) temperature: Option<f32>,
    #[serde(default)]
    pub(crate) top_p: Option<f32>,
    #[serde(default)]
    pub(crate) max_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) stop: Option<StringOrVec>,
    #[serde(default)]
    pub(crate) seed: Option<i64>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    pub(crate) stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub(crate) n: Option<u32>,
    #[serde(default)]
    pub(crate) tools: Option<Vec<Tool>>,
    #[serde(default)]
    pub(crate) tool_choice: Option<Value>,
    #[serde(default)]
    pub(crate) response_format: Option<ResponseFormat>,
    #[serde(default)]
    pub(crate) presence_penalty: Option<f32>,
    #[serde(default)]
    pub(crate) frequency_penalty: Option<f32>,
    #[serde(flatten)]
    pub(crate) extra: SamplingExtensions,
    /// `none|minimal|low|medium|high`: thinking off or on.
    #[serde(default)]
    pub(crate) reasoning_effort: Option<String>,
    /// Template variables (llama.cpp, vLLM): `enable_thinking` is the thinking switch.
    #[serde(default)]
    pub(crate) chat_template_kwargs: Option<serde_json::Map<String, Value>>,
    /// A GBNF grammar for the output (llama.cpp's extension).
    #[serde(default)]
    pub(crate) grammar: Option<String>,
    /// Hearth extension: insecure-code findings for the answer's code blocks, as on
    /// Ollama's chat (`check` beside the choices, and on the last chunk when streamed).
    #[serde(default)]
    pub(crate) check: bool,
}

/// `prompt` of `/v1/completions`: a string or a list holding exactly one string.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub(crate) enum Prompt {
    /// One prompt.
    One(String),
    /// A batch (only length 1 supported).
    Many(Vec<String>),
}

/// `POST /v1/completions`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CompletionRequest {
    pub(crate) model: String,
    pub(crate) prompt: Prompt,
    #[serde(default)]
    pub(crate) suffix: Option<String>,
    #[serde(default)]
    pub(crate) max_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) temperature: Option<f32>,
    #[serde(default)]
    pub(crate) top_p: Option<f32>,
    #[serde(default)]
    pub(crate) stop: Option<StringOrVec>,
    #[serde(default)]
    pub(crate) seed: Option<i64>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    pub(crate) stream_options: Option<StreamOptions>,
    #[serde(default)]
    pub(crate) n: Option<u32>,
    #[serde(default)]
    pub(crate) echo: bool,
    #[serde(default)]
    pub(crate) presence_penalty: Option<f32>,
    #[serde(default)]
    pub(crate) frequency_penalty: Option<f32>,
    #[serde(flatten)]
    pub(crate) extra: SamplingExtensions,
}

/// Sampling settings OpenAI's API lacks that llama.cpp's and vLLM's OpenAI-compatible
/// servers accept beside its own (clients such as `hearth eval`, LiteLLM and Aider send them
/// to pin greedy decoding down).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct SamplingExtensions {
    #[serde(default)]
    pub(crate) top_k: Option<i64>,
    #[serde(default)]
    pub(crate) min_p: Option<f32>,
    /// llama.cpp's name; vLLM's is `repetition_penalty`.
    #[serde(default, alias = "repetition_penalty")]
    pub(crate) repeat_penalty: Option<f32>,
    #[serde(default)]
    pub(crate) repeat_last_n: Option<i64>,
}

/// `usage`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: u32,
    pub(crate) completion_tokens: u32,
    pub(crate) total_tokens: u32,
    /// `cached_tokens`: prompt tokens served from the prefix cache.
    pub(crate) prompt_tokens_details: Value,
    /// `reasoning_tokens`: completion tokens that were thinking.
    pub(crate) completion_tokens_details: Value,
}

impl Usage {
    /// From counts.
    pub(crate) fn new(prompt: u32, cached: u32, completion: u32, reasoning: u32) -> Self {
        Self {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt.saturating_add(completion),
            prompt_tokens_details: serde_json::json!({ "cached_tokens": cached }),
            completion_tokens_details: serde_json::json!({ "reasoning_tokens": reasoning }),
        }
    }
}

/// One model in `/v1/models`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModelObject {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: u64,
    pub(crate) owned_by: &'static str,
    /// Tokens of context a request gets: the loaded model's, else what a load would give.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) context_length: Option<u32>,
    /// Facts from the file, as llama.cpp's server reports them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) meta: Option<ModelMeta>,
}

/// `meta` of a `/v1/models` entry.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ModelMeta {
    /// Context the model was trained with.
    pub(crate) n_ctx_train: Option<u64>,
    /// `completion`, `insert`, `tools`, `thinking` or `embedding`, as `/api/show` lists them.
    pub(crate) capabilities: Vec<&'static str>,
}

/// OpenAI's sampling fields as options; an empty `stop` leaves the model's defaults.
#[allow(clippy::too_many_arguments)]
fn options(
    temperature: Option<f32>,
    top_p: Option<f32>,
    max_tokens: Option<u32>,
    stop: Option<StringOrVec>,
    seed: Option<i64>,
    presence: Option<f32>,
    frequency: Option<f32>,
    n: Option<u32>,
    extra: &SamplingExtensions,
) -> Result<Options, ServiceError> {
    if n.is_some_and(|n| n != 1) {
        return Err(ServiceError::Invalid("only n=1 is supported".into()));
    }
    let stop = stop.map(StringOrVec::into_vec).unwrap_or_default();
    check_stops(&stop)?;
    Ok(Options {
        temperature: temperature.map(|t| t.min(2.0)),
        top_p,
        num_predict: max_tokens.map(i64::from),
        stop: (!stop.is_empty()).then_some(StringOrVec::Many(stop)),
        seed,
        presence_penalty: presence,
        frequency_penalty: frequency,
        top_k: extra.top_k,
        min_p: extra.min_p,
        repeat_penalty: extra.repeat_penalty,
        repeat_last_n: extra.repeat_last_n,
        ..Options::default()
    })
}

impl ChatCompletionRequest {
    /// The service request.
    pub(crate) fn to_gen(&self) -> Result<GenRequest, ServiceError> {
        let options = options(
            self.temperature,
            self.top_p,
            self.max_completion_tokens.or(self.max_tokens),
            self.stop.clone(),
            self.seed,
            self.presence_penalty,
            self.frequency_penalty,
            self.n,
            &self.extra,
        )?;
        let grammar = match &self.response_format {
            _ if self.grammar.is_some() => {
                if self.response_format.is_some() {
                    return Err(ServiceError::Invalid(
                        "grammar cannot be combined with response_format".into(),
                    ));
                }
                self.grammar.clone()
            }
            None | Some(ResponseFormat::Text) => None,
            Some(ResponseFormat::JsonObject) => Some(Grammar::json_object().to_gbnf()),
            Some(ResponseFormat::JsonSchema { json_schema }) => match &json_schema.schema {
                Some(schema) => Some(
                    Grammar::from_schema(schema)
                        .map_err(|e| ServiceError::Invalid(e.to_string()))?
                        .to_gbnf(),
                ),
                None => Some(Grammar::json_object().to_gbnf()),
            },
        };
        let mut messages = Vec::with_capacity(self.messages.len());
        for m in &self.messages {
            let role = match m.role.as_str() {
                "developer" => "system",
                r @ ("system" | "user" | "assistant" | "tool") => r,
                other => {
                    return Err(ServiceError::Invalid(format!(
                        "invalid message role {other:?}"
                    )))
                }
            };
            let content = match &m.content {
                Some(c) => c.text().map_err(ServiceError::Invalid)?,
                None => String::new(),
            };
            let mut pm = hearth_prompt::Message::new(role, content);
            pm.tool_call_id = m.tool_call_id.clone();
            pm.name = m.name.clone();
            pm.tool_calls = m.tool_calls.as_ref().map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        let args = serde_json::from_str::<Value>(&c.function.arguments)
                            .unwrap_or(Value::String(c.function.arguments.clone()));
                        let mut t =
                            hearth_prompt::ToolCall::function(c.function.name.clone(), args);
                        t.id = Some(c.id.clone());
                        t
                    })
                    .collect()
            });
            messages.push(pm);
        }
        if messages.is_empty() {
            return Err(ServiceError::Invalid("messages must not be empty".into()));
        }
        let no_tools = self.tool_choice.as_ref().and_then(Value::as_str) == Some("none");
        let declared: Vec<Declared> = self
            .tools
            .iter()
            .flatten()
            .map(|t| Declared {
                kind: t.kind.clone(),
                name: t.function.name.clone(),
                description: t.function.description.clone(),
                parameters: t.function.parameters.clone().unwrap_or(Value::Null),
            })
            .collect();
        let tools = Some(template_tools(&declared)).filter(|t| !t.is_empty() && !no_tools);
        // `required` or a named function forces a call: the output is held to a tool-call
        // grammar.
        let force = match &self.tool_choice {
            Some(Value::String(s)) if s == "required" => Force::Any,
            Some(Value::Object(o)) => match o.get("function").and_then(|f| f.get("name")) {
                Some(Value::String(name)) => Force::Named(name),
                _ => Force::Auto,
            },
            _ => Force::Auto,
        };
        let forced = forced_call_grammar(&declared, force)?;
        let grammar = match (forced, grammar) {
            (None, g) => g,
            (Some(_), Some(_)) => {
                return Err(ServiceError::Invalid(
                    "response_format cannot be combined with a forced tool call".into(),
                ))
            }
            (Some(f), None) => Some(f),
        };
        let mut g = GenRequest::new(&self.model, Input::Chat { messages, tools });
        g.options = options;
        g.grammar = grammar;
        g.think = self.think()?;
        g.check = self.check;
        g.penalties_off_by_default = true;
        Ok(g)
    }

    /// The thinking switch: `chat_template_kwargs.enable_thinking`, else `reasoning_effort`.
    fn think(&self) -> Result<Option<bool>, ServiceError> {
        if let Some(v) = self
            .chat_template_kwargs
            .as_ref()
            .and_then(|k| k.get("enable_thinking"))
        {
            return v.as_bool().map(Some).ok_or_else(|| {
                ServiceError::Invalid("chat_template_kwargs.enable_thinking must be a bool".into())
            });
        }
        Ok(self.reasoning_effort.as_deref().map(effort_thinks))
    }
}

/// Whether an OpenAI reasoning effort (`none|minimal|low|medium|high`, chat's
/// `reasoning_effort` and the Responses API's `reasoning.effort`) turns thinking on.
pub(crate) fn effort_thinks(effort: &str) -> bool {
    !matches!(effort, "none" | "minimal")
}

impl CompletionRequest {
    /// The service request: with a `suffix`, fill-in-the-middle for `session`.
    pub(crate) fn to_gen(&self, session: SessionKey) -> Result<GenRequest, ServiceError> {
        if self.echo {
            return Err(ServiceError::Invalid("echo is not supported".into()));
        }
        let prompt = match &self.prompt {
            Prompt::One(p) => p.clone(),
            Prompt::Many(v) if v.len() == 1 => v[0].clone(),
            Prompt::Many(_) => {
                return Err(ServiceError::Invalid(
                    "only one prompt per request is supported".into(),
                ))
            }
        };
        let options = options(
            self.temperature,
            self.top_p,
            Some(self.max_tokens.unwrap_or(16)),
            self.stop.clone(),
            self.seed,
            self.presence_penalty,
            self.frequency_penalty,
            self.n,
            &self.extra,
        )?;
        let input = match self.suffix.as_deref() {
            // Present, even empty (the cursor at the end of a file): autocomplete.
            Some(suffix) => Input::Fim {
                prefix: prompt,
                suffix: suffix.to_string(),
                extra_files: Vec::new(),
                time_budget: crate::service::FIM_TIME_BUDGET,
                session,
            },
            _ => Input::Raw {
                prompt,
                session: None,
            },
        };
        let mut g = GenRequest::new(&self.model, input);
        g.options = options;
        g.penalties_off_by_default = true;
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_request() {
        let r: ChatCompletionRequest = serde_json::from_str(
            r#"{"model":"m","messages":[{"role":"system","content":"s"},
               {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
               {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]}],
               "stream":true,"stream_options":{"include_usage":true},
               "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
               "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            r.messages[1].content.as_ref().unwrap().text().unwrap(),
            "ab"
        );
        assert!(matches!(
            r.response_format,
            Some(ResponseFormat::JsonSchema { .. })
        ));
        assert!(
            serde_json::from_str::<ChatCompletionRequest>(r#"{"model":"m","messages":"hi"}"#)
                .is_err()
        );
        let r: ResponseFormat = serde_json::from_str(r#"{"type":"json_object"}"#).unwrap();
        assert_eq!(r, ResponseFormat::JsonObject);
    }
}
