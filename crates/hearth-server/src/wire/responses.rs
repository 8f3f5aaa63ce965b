//! OpenAI's Responses API (`POST /v1/responses`), what Codex CLI and GitHub Copilot CLI speak:
//! the request (a string or a list of input items, `instructions`, tools) as a service request.
//! hearth keeps no response state: `store` is accepted and ignored, `previous_response_id` is
//! refused with a clear message.
use serde::Deserialize;
use serde_json::{json, Value};

use crate::grammar::Grammar;
use crate::service::error::ServiceError;
use crate::service::options::Options;
use crate::service::request::{GenRequest, Input};
use crate::wire::openai::effort_thinks;
use crate::wire::tool_choice::{forced_call_grammar, template_tools, Declared, Force};

/// `input`: one user message as a string, or items.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum InputField {
    Text(String),
    /// Items stay JSON until converted: clients send item types hearth has never heard of.
    Items(Vec<Value>),
}

/// `reasoning`: `effort` (`minimal|low|medium|high`) and `summary`.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Reasoning {
    #[serde(default)]
    pub(crate) effort: Option<String>,
    #[serde(default)]
    pub(crate) summary: Option<String>,
}

/// `text`: the output format (`text`, `json_object`, `json_schema` with `schema`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct TextConfig {
    #[serde(default)]
    pub(crate) format: Option<Value>,
}

/// `POST /v1/responses`. Fields hearth does not use (`store`, `include`, `metadata`,
/// `prompt_cache_key`, `truncation`, `user`, ...) are ignored.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ResponsesRequest {
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) input: Option<InputField>,
    #[serde(default)]
    pub(crate) instructions: Option<String>,
    #[serde(default)]
    pub(crate) tools: Option<Vec<Value>>,
    #[serde(default)]
    pub(crate) tool_choice: Option<Value>,
    #[serde(default)]
    pub(crate) parallel_tool_calls: Option<bool>,
    #[serde(default)]
    pub(crate) max_output_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) temperature: Option<f32>,
    #[serde(default)]
    pub(crate) top_p: Option<f32>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default)]
    pub(crate) previous_response_id: Option<String>,
    #[serde(default)]
    pub(crate) reasoning: Option<Reasoning>,
    #[serde(default)]
    pub(crate) text: Option<TextConfig>,
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid(msg.into())
}

/// The text of a message's `content`: a string or parts (`input_text`, `output_text`, `text`,
/// `refusal`); images and files are refused (no vision models yet).
fn content_text(content: &Value, at: usize) -> Result<String, ServiceError> {
    match content {
        Value::String(s) => Ok(s.clone()),
        Value::Null => Ok(String::new()),
        Value::Array(parts) => {
            let mut out = String::new();
            for p in parts {
                match p
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("input_text")
                {
                    "input_text" | "output_text" | "text" => {
                        out.push_str(p.get("text").and_then(Value::as_str).unwrap_or(""))
                    }
                    "refusal" => {
                        out.push_str(p.get("refusal").and_then(Value::as_str).unwrap_or(""))
                    }
                    "input_image" | "input_file" | "input_audio" => {
                        return Err(invalid(format!(
                        "input[{at}]: image, file and audio content is not supported by this model"
                    )))
                    }
                    _ => {}
                }
            }
            Ok(out)
        }
        _ => Err(invalid(format!(
            "input[{at}].content must be a string or a list of content parts"
        ))),
    }
}

/// A tool call of an earlier turn, added to the assistant message it belongs to (one message
/// holds the text and every call of a turn, as chat templates expect).
fn push_call(
    messages: &mut Vec<hearth_prompt::Message>,
    id: Option<&str>,
    name: &str,
    args: Value,
) {
    let mut call = hearth_prompt::ToolCall::function(name.to_string(), args);
    call.id = id.map(str::to_string);
    match messages.last_mut() {
        Some(m) if m.role == "assistant" => m.tool_calls.get_or_insert_with(Vec::new).push(call),
        _ => {
            let mut m = hearth_prompt::Message::assistant(String::new());
            m.tool_calls = Some(vec![call]);
            messages.push(m);
        }
    }
}

fn str_field<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key).and_then(Value::as_str)
}

/// The conversation of `input` items.
fn items_to_messages(
    items: &[Value],
    messages: &mut Vec<hearth_prompt::Message>,
) -> Result<(), ServiceError> {
    for (at, item) in items.iter().enumerate() {
        let kind = str_field(item, "type").unwrap_or(if item.get("role").is_some() {
            "message"
        } else {
            ""
        });
        match kind {
            "message" => {
                let text = content_text(item.get("content").unwrap_or(&Value::Null), at)?;
                let role = match str_field(item, "role") {
                    Some("system" | "developer") => "system",
                    Some(r @ ("user" | "assistant")) => r,
                    other => {
                        return Err(invalid(format!(
                            "input[{at}]: invalid message role {other:?}"
                        )))
                    }
                };
                messages.push(hearth_prompt::Message::new(role, text));
            }
            "function_call" => {
                let name = str_field(item, "name")
                    .ok_or_else(|| invalid(format!("input[{at}]: function_call without name")))?;
                let raw = str_field(item, "arguments").unwrap_or("{}");
                let args = serde_json::from_str(raw).unwrap_or(Value::String(raw.to_string()));
                push_call(messages, str_field(item, "call_id"), name, args);
            }
            // Codex's freeform tools (apply_patch) and its local shell.
            "custom_tool_call" => {
                let name = str_field(item, "name").unwrap_or("custom");
                let input = str_field(item, "input").unwrap_or("");
                push_call(messages, str_field(item, "call_id"), name, json!({"input": input}));
            }
            "local_shell_call" => {
                let action = item.get("action").cloned().unwrap_or(Value::Null);
                push_call(messages, str_field(item, "call_id"), "local_shell", action);
            }
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                let text = match item.get("output") {
                    Some(Value::String(s)) => s.clone(),
                    Some(v @ Value::Array(_)) => content_text(v, at)?,
                    Some(Value::Null) | None => String::new(),
                    Some(v) => v.to_string(),
                };
                let id = str_field(item, "call_id").map(str::to_string);
                messages.push(hearth_prompt::Message::tool(text, id));
            }
            // Earlier reasoning is not sent back to the model (chat templates drop it too).
            "reasoning" => {}
            "item_reference" => {
                return Err(invalid(format!(
                    "input[{at}]: item_reference needs stored responses, which hearth does not keep; send the item itself"
                )))
            }
            other => {
                tracing::debug!(item = at, kind = other, "responses: input item ignored");
            }
        }
    }
    Ok(())
}

/// Function tools (freeform `custom` tools such as Codex's `apply_patch` offered as functions
/// of one string, `input`), and the names of the tool types hearth cannot run (web search,
/// namespaces, image generation, ...): those are left out of the prompt.
pub(crate) fn split_tools(tools: &[Value]) -> (Vec<Declared>, Vec<String>) {
    let mut declared = Vec::new();
    let mut skipped = Vec::new();
    for t in tools {
        let kind = str_field(t, "type").unwrap_or("function");
        match (kind, str_field(t, "name")) {
            ("function", Some(name)) => declared.push(Declared {
                kind: "function".into(),
                name: name.to_string(),
                description: str_field(t, "description").map(str::to_string),
                parameters: t
                    .get("parameters")
                    .cloned()
                    .unwrap_or(json!({"type": "object"})),
            }),
            ("custom", Some(name)) => declared.push(Declared {
                kind: "function".into(),
                name: name.to_string(),
                description: str_field(t, "description").map(str::to_string),
                parameters: json!({"type": "object", "properties": {"input": {"type": "string",
                    "description": "The whole input, as free text"}}, "required": ["input"]}),
            }),
            (_, name) => skipped.push(match name {
                Some(n) => format!("{kind}:{n}"),
                None => kind.to_string(),
            }),
        }
    }
    (declared, skipped)
}

/// Names of the request's freeform (`custom`) tools: their calls are answered as
/// `custom_tool_call` items.
pub(crate) fn custom_tool_names(tools: &[Value]) -> Vec<String> {
    tools
        .iter()
        .filter(|t| str_field(t, "type") == Some("custom"))
        .filter_map(|t| str_field(t, "name").map(str::to_string))
        .collect()
}

impl ResponsesRequest {
    /// The service request.
    pub(crate) fn to_gen(&self) -> Result<GenRequest, ServiceError> {
        if self.previous_response_id.is_some() {
            return Err(invalid(
                "previous_response_id is not supported: hearth stores no responses; send the whole conversation in input",
            ));
        }
        let mut messages = Vec::new();
        if let Some(i) = self.instructions.as_deref().filter(|i| !i.is_empty()) {
            messages.push(hearth_prompt::Message::system(i.to_string()));
        }
        match &self.input {
            Some(InputField::Text(t)) => messages.push(hearth_prompt::Message::user(t.clone())),
            Some(InputField::Items(items)) => items_to_messages(items, &mut messages)?,
            None => {}
        }
        if messages.iter().all(|m| m.role == "system") {
            return Err(invalid("input must not be empty"));
        }
        let (declared, skipped) = split_tools(self.tools.as_deref().unwrap_or_default());
        if !skipped.is_empty() {
            tracing::info!(tools = %skipped.join(","), "responses: tools hearth cannot run were left out");
        }
        let none = self.tool_choice.as_ref().and_then(Value::as_str) == Some("none");
        let tools = Some(template_tools(&declared)).filter(|t| !t.is_empty() && !none);
        let force = match &self.tool_choice {
            Some(Value::String(s)) if s == "required" => Force::Any,
            Some(Value::Object(o)) if o.get("type").and_then(Value::as_str) == Some("function") => {
                match o.get("name").and_then(Value::as_str) {
                    Some(name) => Force::Named(name),
                    None => return Err(invalid("tool_choice of type function needs a name")),
                }
            }
            _ => Force::Auto,
        };
        if matches!(force, Force::Any | Force::Named(_)) && declared.is_empty() {
            return Err(invalid(
                "tool_choice requires a function tool, and none was given",
            ));
        }
        let forced = forced_call_grammar(&declared, force)?;
        let format = self.text.as_ref().and_then(|t| t.format.as_ref());
        let structured = match format.and_then(|f| f.get("type")).and_then(Value::as_str) {
            None | Some("text") => None,
            Some("json_object") => Some(Grammar::json_object().to_gbnf()),
            Some("json_schema") => match format.and_then(|f| f.get("schema")) {
                Some(schema) => Some(
                    Grammar::from_schema(schema)
                        .map_err(|e| invalid(e.to_string()))?
                        .to_gbnf(),
                ),
                None => Some(Grammar::json_object().to_gbnf()),
            },
            Some(other) => return Err(invalid(format!("unknown text.format type {other:?}"))),
        };
        let grammar = match (forced, structured) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "text.format cannot be combined with a forced tool call",
                ))
            }
            (f, s) => f.or(s),
        };
        let mut g = GenRequest::new(&self.model, Input::Chat { messages, tools });
        g.grammar = grammar;
        g.think = self
            .reasoning
            .as_ref()
            .and_then(|r| r.effort.as_deref())
            .map(effort_thinks);
        g.options = Options {
            num_predict: self.max_output_tokens.map(i64::from),
            temperature: self.temperature.map(|t| t.min(2.0)),
            top_p: self.top_p,
            ..Options::default()
        };
        g.penalties_off_by_default = true;
        Ok(g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(v: Value) -> ResponsesRequest {
        serde_json::from_value(v).unwrap()
    }

    fn messages(g: &GenRequest) -> &[hearth_prompt::Message] {
        match &g.input {
            Input::Chat { messages, .. } => messages,
            _ => panic!("not a chat"),
        }
    }

    #[test]
    fn string_input_and_instructions() {
        let g = req(
            json!({"model": "m", "input": "hi", "instructions": "be brief",
            "store": false, "include": ["reasoning.encrypted_content"], "prompt_cache_key": "x"}),
        )
        .to_gen()
        .unwrap();
        let m = messages(&g);
        assert_eq!(
            (m[0].role.as_str(), m[0].content.as_deref().unwrap()),
            ("system", "be brief")
        );
        assert_eq!(
            (m[1].role.as_str(), m[1].content.as_deref().unwrap()),
            ("user", "hi")
        );
    }

    #[test]
    fn items_with_calls_outputs_and_reasoning() {
        let g = req(json!({"model": "m", "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
            {"role": "user", "content": "list files"},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "zz"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "sure"}]},
            {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": "{\"cmd\":[\"ls\"]}"},
            {"type": "function_call", "call_id": "c2", "name": "shell", "arguments": "{\"cmd\":[\"pwd\"]}"},
            {"type": "function_call_output", "call_id": "c1", "output": "a.rs"},
            {"type": "function_call_output", "call_id": "c2", "output": "/w"},
            {"type": "ghost_item"}
        ]}))
        .to_gen()
        .unwrap();
        let m = messages(&g);
        let roles: Vec<&str> = m.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool", "tool"]);
        let calls = m[2].tool_calls.as_ref().unwrap();
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[0].id.as_deref(), Some("c1"));
        assert_eq!(calls[1].function.arguments, json!({"cmd": ["pwd"]}));
        assert_eq!(m[3].tool_call_id.as_deref(), Some("c1"));
    }

    #[test]
    fn unrunnable_tools_are_left_out_and_freeform_ones_take_one_string() {
        let (declared, skipped) = split_tools(&[
            json!({"type": "function", "name": "shell", "parameters": {"type": "object"}}),
            json!({"type": "web_search"}),
            json!({"type": "namespace", "name": "mcp__x"}),
            json!({"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}}),
        ]);
        assert_eq!(declared.len(), 2);
        assert_eq!(declared[1].parameters["required"], json!(["input"]));
        assert_eq!(skipped, ["web_search", "namespace:mcp__x"]);
    }

    #[test]
    fn refusals() {
        for (body, needle) in [
            (
                json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}),
                "previous_response_id",
            ),
            (json!({"model": "m", "input": []}), "empty"),
            (
                json!({"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]}),
                "image",
            ),
            (
                json!({"model": "m", "input": "x", "tool_choice": "required"}),
                "tool_choice",
            ),
            (
                json!({"model": "m", "input": [{"type": "item_reference", "id": "i"}]}),
                "item_reference",
            ),
            (
                json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}),
                "role",
            ),
        ] {
            let e = req(body).to_gen().unwrap_err();
            assert!(e.to_string().contains(needle), "{e} lacks {needle}");
        }
    }

    #[test]
    fn options_and_forced_call() {
        let g = req(
            json!({"model": "m", "input": "x", "max_output_tokens": 5, "temperature": 9.0,
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object",
                "properties": {"a": {"type": "string"}}}}],
            "tool_choice": {"type": "function", "name": "f"}, "reasoning": {"effort": "minimal"}}),
        )
        .to_gen()
        .unwrap();
        assert_eq!(g.options.num_predict, Some(5));
        assert_eq!(g.options.temperature, Some(2.0));
        assert!(g.grammar.is_some());
        assert_eq!(g.think, Some(false));
    }
}
