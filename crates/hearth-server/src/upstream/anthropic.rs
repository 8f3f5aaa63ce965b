//! An Anthropic Messages upstream: the outbound body built from a [`GenRequest`] (every text
//! redacted first), and its named server-sent events read back into the same [`Chunk`]s the
//! OpenAI reader gives.
use std::collections::BTreeMap;

use hearth_redact::{RedactError, Request as Redaction};
use serde_json::{json, Map, Value};

use super::openai::{assemble_calls, redact_leaves, redacted_stops, Chunk, StreamError};
use crate::backend::Finish;
use crate::service::request::{GenRequest, Input};
use crate::service::tools::ToolCall;

/// Anthropic requires `max_tokens`; this is used when the request sets none.
const DEFAULT_MAX_TOKENS: i64 = 4096;

/// The `anthropic-version` header sent.
pub(crate) const VERSION: &str = "2023-06-01";

/// Append `block` to the last message if it has `role`, else start a message (Anthropic wants
/// user and assistant turns to alternate).
fn push(messages: &mut Vec<Value>, role: &str, block: Value) {
    if let Some(last) = messages.last_mut() {
        if last["role"] == role {
            if let Some(c) = last["content"].as_array_mut() {
                c.push(block);
                return;
            }
        }
    }
    messages.push(json!({"role": role, "content": [block]}));
}

/// The outbound JSON body of `gen` for `model`; `None` for raw and fill-in-the-middle input.
pub(crate) fn body(
    gen: &GenRequest,
    model: &str,
    red: &mut Redaction<'_>,
) -> Result<Option<Value>, RedactError> {
    let mut system = Vec::new();
    let mut messages: Vec<Value> = Vec::new();
    let tools = match &gen.input {
        Input::Chat {
            messages: ms,
            tools,
        } => {
            for m in ms {
                let text = match &m.content {
                    Some(c) if !c.is_empty() => Some(red.redact(c)?),
                    _ => None,
                };
                match m.role.as_str() {
                    "system" | "developer" => system.extend(text),
                    "tool" => {
                        let id = m.tool_call_id.clone().unwrap_or_default();
                        push(
                            &mut messages,
                            "user",
                            json!({"type": "tool_result", "tool_use_id": id,
                                   "content": text.unwrap_or_default()}),
                        );
                    }
                    "assistant" => {
                        if let Some(t) = text {
                            push(
                                &mut messages,
                                "assistant",
                                json!({"type": "text", "text": t}),
                            );
                        }
                        for (i, c) in m.tool_calls.iter().flatten().enumerate() {
                            let mut input = match &c.function.arguments {
                                Value::String(s) => serde_json::from_str(s)
                                    .unwrap_or_else(|_| json!({"arguments": s})),
                                Value::Null => json!({}),
                                v => v.clone(),
                            };
                            redact_leaves(&mut input, red)?;
                            push(
                                &mut messages,
                                "assistant",
                                json!({"type": "tool_use",
                                       "id": c.id.clone().unwrap_or_else(|| format!("toolu_{i}")),
                                       "name": c.function.name, "input": input}),
                            );
                        }
                    }
                    _ => {
                        if let Some(t) = text {
                            push(&mut messages, "user", json!({"type": "text", "text": t}));
                        }
                    }
                }
            }
            tools.clone()
        }
        Input::Prompt {
            prompt, system: s, ..
        } => {
            if let Some(s) = s {
                system.push(red.redact(s)?);
            }
            push(
                &mut messages,
                "user",
                json!({"type": "text", "text": red.redact(prompt)?}),
            );
            None
        }
        Input::Raw { .. } | Input::Fim { .. } => return Ok(None),
    };
    let mut b = Map::new();
    b.insert("model".into(), model.into());
    let o = &gen.options;
    b.insert(
        "max_tokens".into(),
        o.num_predict
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_MAX_TOKENS)
            .into(),
    );
    if !system.is_empty() {
        b.insert("system".into(), system.join("\n\n").into());
    }
    b.insert("messages".into(), Value::Array(messages));
    b.insert("stream".into(), true.into());
    if let Some(ts) = tools.filter(|t| !t.is_empty()) {
        let mut out = Vec::new();
        for t in ts {
            let f = t.get("function").unwrap_or(&t);
            let mut tool = json!({
                "name": f.get("name").cloned().unwrap_or(Value::Null),
                "input_schema": f.get("parameters").cloned()
                    .unwrap_or_else(|| json!({"type": "object"})),
            });
            if let Some(d) = f.get("description") {
                tool["description"] = d.clone();
            }
            redact_leaves(&mut tool, red)?;
            out.push(tool);
        }
        b.insert("tools".into(), Value::Array(out));
    }
    if let Some(t) = o.temperature {
        b.insert("temperature".into(), t.into());
    }
    if let Some(p) = o.top_p {
        b.insert("top_p".into(), p.into());
    }
    if let Some(k) = o.top_k.filter(|k| *k > 0) {
        b.insert("top_k".into(), k.into());
    }
    if let Some(stop) = redacted_stops(gen, red)? {
        b.insert("stop_sequences".into(), stop.into());
    }
    Ok(Some(Value::Object(b)))
}

/// The reply being read: content blocks by index (tool-use input arrives in fragments).
#[derive(Debug, Default)]
pub(crate) struct Reader {
    /// Index → (tool name, partial JSON input) for `tool_use` blocks.
    calls: BTreeMap<u64, (String, String)>,
    input_tokens: Option<u32>,
}

fn count(v: &Value, k: &str) -> Option<u32> {
    v.get(k)
        .and_then(Value::as_u64)
        .map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

impl Reader {
    /// One line of the event stream (`event:` names are ignored: every `data:` object says its
    /// own `type`).
    pub(crate) fn line(&mut self, line: &str) -> Result<Option<Chunk>, StreamError> {
        let line = line.trim_end_matches(['\r', '\n']);
        let Some(data) = line.strip_prefix("data:") else {
            return Ok(None);
        };
        let v: Value = serde_json::from_str(data.trim_start())
            .map_err(|e| StreamError::Malformed(format!("{e} in {:.80}", data)))?;
        let mut c = Chunk::default();
        match v.get("type").and_then(Value::as_str).unwrap_or_default() {
            "message_start" => {
                self.input_tokens = v
                    .get("message")
                    .and_then(|m| m.get("usage"))
                    .and_then(|u| count(u, "input_tokens"));
            }
            "content_block_start" => {
                let idx = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let b = v.get("content_block").unwrap_or(&Value::Null);
                match b.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
                        self.calls.insert(idx, (name.to_string(), String::new()));
                    }
                    Some("text") => {
                        c.text = b
                            .get("text")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string();
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let idx = v.get("index").and_then(Value::as_u64).unwrap_or(0);
                let d = v.get("delta").unwrap_or(&Value::Null);
                let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default();
                match d.get("type").and_then(Value::as_str) {
                    Some("text_delta") => c.text = s("text").to_string(),
                    Some("thinking_delta") => c.thinking = s("thinking").to_string(),
                    Some("input_json_delta") => {
                        if let Some(call) = self.calls.get_mut(&idx) {
                            call.1.push_str(s("partial_json"));
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                let d = v.get("delta").unwrap_or(&Value::Null);
                c.finish = match d.get("stop_reason").and_then(Value::as_str) {
                    Some("max_tokens") => Some(Finish::Length),
                    Some(_) => Some(Finish::Stop),
                    None => None,
                };
                if let Some(out) = v.get("usage").and_then(|u| count(u, "output_tokens")) {
                    c.usage = Some((self.input_tokens.unwrap_or(0), out));
                }
            }
            "message_stop" => c.done = true,
            "error" => {
                let msg = v
                    .get("error")
                    .and_then(|e| e.get("message"))
                    .and_then(Value::as_str)
                    .unwrap_or("error event");
                return Err(StreamError::Upstream(msg.chars().take(300).collect()));
            }
            // `ping`, `content_block_stop`, and types added later.
            _ => return Ok(None),
        }
        Ok(Some(c))
    }

    /// The tool calls of the whole reply (placeholders kept, as for OpenAI upstreams).
    pub(crate) fn tool_calls(&mut self) -> Result<Vec<ToolCall>, StreamError> {
        assemble_calls(std::mem::take(&mut self.calls))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use hearth_prompt::Message;

    #[test]
    fn the_body_alternates_turns_and_carries_no_secret() {
        let red = hearth_redact::Redactor::builder().build().unwrap();
        let mut req = red.request();
        let key = "ghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u";
        let mut call = Message::new("assistant", "");
        call.tool_calls = Some(vec![hearth_prompt::ToolCall {
            id: Some("t1".into()),
            kind: "function".into(),
            function: hearth_prompt::FunctionCall {
                name: "Bash".into(),
                arguments: json!(format!("{{\"command\": \"echo {key}\"}}")),
            },
        }]);
        let mut result = Message::new("tool", format!("printed {key}"));
        result.tool_call_id = Some("t1".into());
        let gen = GenRequest::new(
            "smart",
            Input::Chat {
                messages: vec![
                    Message::new("system", "Be brief."),
                    Message::new("user", format!("run echo {key}")),
                    call,
                    result,
                    Message::new("user", "and?"),
                ],
                tools: Some(vec![
                    json!({"type": "function", "function": {"name": "Bash",
                    "description": "run", "parameters": {"type": "object"}}}),
                ]),
            },
        );
        let b = body(&gen, "claude-x", &mut req).unwrap().unwrap();
        let text = b.to_string();
        assert!(!text.contains(key), "{text}");
        assert_eq!(b["system"], "Be brief.");
        assert_eq!(b["max_tokens"], 4096);
        let roles: Vec<&str> = b["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["user", "assistant", "user"]);
        assert_eq!(b["messages"][1]["content"][0]["type"], "tool_use");
        assert!(b["messages"][1]["content"][0]["input"]["command"]
            .as_str()
            .unwrap()
            .contains("HEARTH_GITHUB_TOKEN_"));
        assert_eq!(b["messages"][2]["content"][0]["type"], "tool_result");
        assert_eq!(b["messages"][2]["content"][1]["text"], "and?");
        assert_eq!(b["tools"][0]["input_schema"]["type"], "object");
    }

    #[test]
    fn reads_text_tool_use_usage_and_stop() {
        let mut r = Reader::default();
        let lines = [
            "event: message_start",
            r#"data: {"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}"#,
            r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
            r#"data: {"type":"ping"}"#,
            r#"data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#,
            r#"data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"Read","input":{}}}"#,
            r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"file_path\":"}}"#,
            r#"data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"a.py\"}"}}"#,
            r#"data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":15}}"#,
            r#"data: {"type":"message_stop"}"#,
        ];
        let chunks: Vec<Chunk> = lines.iter().filter_map(|l| r.line(l).unwrap()).collect();
        let text: String = chunks.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(text, "Hi");
        assert!(chunks.iter().any(|c| c.usage == Some((25, 15))));
        assert!(chunks.iter().any(|c| c.finish == Some(Finish::Stop)));
        assert!(chunks.last().unwrap().done);
        let calls = r.tool_calls().unwrap();
        assert_eq!(calls[0].name, "Read");
        assert_eq!(calls[0].arguments["file_path"], "a.py");
        assert_eq!(
            r.line(r#"data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#),
            Err(StreamError::Upstream("Overloaded".into()))
        );
    }
}
