//! An OpenAI-compatible upstream's chat completions: the outbound body built from a
//! [`GenRequest`] (every text of it redacted first), and its server-sent events read back into
//! the service's [`Event`]s.
use std::collections::BTreeMap;

use hearth_prompt::Message;
use hearth_redact::{RedactError, Request as Redaction, Restorer};
use serde_json::{json, Map, Value};

use crate::backend::{Finish, Stats};
use crate::service::request::{GenRequest, Input};
use crate::service::tools::ToolCall;

/// The outbound JSON body of `gen` for `model`, with every string redacted through `red`.
/// `None` when the input is not a conversation or a prompt (raw and fill-in-the-middle
/// prompts are written for the local model's tokens and stay local).
pub(crate) fn body(
    gen: &GenRequest,
    model: &str,
    red: &mut Redaction<'_>,
) -> Result<Option<Value>, RedactError> {
    let (messages, tools) = match &gen.input {
        Input::Chat { messages, tools } => (
            messages
                .iter()
                .map(|m| message(m, red))
                .collect::<Result<Vec<_>, _>>()?,
            tools.clone(),
        ),
        Input::Prompt { prompt, system, .. } => {
            let mut v = Vec::new();
            if let Some(s) = system {
                v.push(json!({"role": "system", "content": red.redact(s)?}));
            }
            v.push(json!({"role": "user", "content": red.redact(prompt)?}));
            (v, None)
        }
        Input::Raw { .. } | Input::Fim { .. } => return Ok(None),
    };
    let mut b = Map::new();
    b.insert("model".into(), model.into());
    b.insert("messages".into(), Value::Array(messages));
    b.insert("stream".into(), true.into());
    b.insert("stream_options".into(), json!({"include_usage": true}));
    if let Some(mut t) = tools.filter(|t| !t.is_empty()).map(Value::Array) {
        redact_leaves(&mut t, red)?;
        b.insert("tools".into(), t);
    }
    let o = &gen.options;
    if let Some(n) = o.num_predict.filter(|n| *n > 0) {
        b.insert("max_tokens".into(), n.into());
    }
    if let Some(t) = o.temperature {
        b.insert("temperature".into(), t.into());
    }
    if let Some(p) = o.top_p {
        b.insert("top_p".into(), p.into());
    }
    if let Some(s) = o.seed {
        b.insert("seed".into(), s.into());
    }
    if let Some(p) = o.presence_penalty {
        b.insert("presence_penalty".into(), p.into());
    }
    if let Some(p) = o.frequency_penalty {
        b.insert("frequency_penalty".into(), p.into());
    }
    if let Some(stop) = redacted_stops(gen, red)? {
        b.insert("stop".into(), stop.into());
    }
    Ok(Some(Value::Object(b)))
}

/// The request's stop strings, redacted (`None` when it has none).
pub(crate) fn redacted_stops(
    gen: &GenRequest,
    red: &mut Redaction<'_>,
) -> Result<Option<Vec<String>>, RedactError> {
    let Some(stop) = gen.options.stop.clone().map(|s| s.into_vec()) else {
        return Ok(None);
    };
    if stop.is_empty() {
        return Ok(None);
    }
    stop.iter()
        .map(|s| red.redact(s))
        .collect::<Result<_, _>>()
        .map(Some)
}

/// One message in OpenAI's shape. Only the fields that protocol has go out: images and other
/// extras, and earlier reasoning, stay here.
fn message(m: &Message, red: &mut Redaction<'_>) -> Result<Value, RedactError> {
    let mut o = Map::new();
    o.insert("role".into(), m.role.clone().into());
    let content = match &m.content {
        Some(c) => Value::String(red.redact(c)?),
        None => Value::Null,
    };
    o.insert("content".into(), content);
    if let Some(calls) = m.tool_calls.as_ref().filter(|c| !c.is_empty()) {
        let mut out = Vec::with_capacity(calls.len());
        for (i, c) in calls.iter().enumerate() {
            let mut args = c.function.arguments.clone();
            redact_leaves(&mut args, red)?;
            // OpenAI's arguments are a JSON string.
            let args = match args {
                Value::String(s) => s,
                Value::Null => "{}".to_string(),
                other => other.to_string(),
            };
            out.push(json!({
                "id": c.id.clone().unwrap_or_else(|| format!("call_{i}")),
                "type": "function",
                "function": {"name": c.function.name, "arguments": args},
            }));
        }
        o.insert("tool_calls".into(), Value::Array(out));
    }
    if let Some(id) = &m.tool_call_id {
        o.insert("tool_call_id".into(), id.clone().into());
    }
    if let Some(n) = &m.name {
        o.insert("name".into(), n.clone().into());
    }
    Ok(Value::Object(o))
}

/// Redact every string in `v` (object keys are names, not data, and stay).
pub(crate) fn redact_leaves(v: &mut Value, red: &mut Redaction<'_>) -> Result<(), RedactError> {
    match v {
        Value::String(s) => *s = red.redact(s)?,
        Value::Array(a) => {
            for x in a {
                redact_leaves(x, red)?;
            }
        }
        Value::Object(o) => {
            for x in o.values_mut() {
                redact_leaves(x, red)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// What one server-sent event carried.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Chunk {
    pub(crate) text: String,
    pub(crate) thinking: String,
    pub(crate) finish: Option<Finish>,
    pub(crate) usage: Option<(u32, u32)>,
    /// `data: [DONE]`.
    pub(crate) done: bool,
}

/// Why the upstream's stream could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum StreamError {
    #[error("malformed event from the upstream: {0}")]
    Malformed(String),
    #[error("the upstream's error event: {0}")]
    Upstream(String),
}

/// The reply being read: tool-call fragments are put together by index.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    calls: BTreeMap<u64, (String, String)>,
}

impl Reader {
    /// One line of the event stream; `None` for lines that carry nothing (comments, blank
    /// lines, `event:` names).
    pub(crate) fn line(&mut self, line: &str) -> Result<Option<Chunk>, StreamError> {
        let line = line.trim_end_matches(['\r', '\n']);
        let Some(data) = line.strip_prefix("data:") else {
            return Ok(None);
        };
        let data = data.trim_start();
        if data == "[DONE]" {
            return Ok(Some(Chunk {
                done: true,
                ..Chunk::default()
            }));
        }
        let v: Value = serde_json::from_str(data)
            .map_err(|e| StreamError::Malformed(format!("{e} in {:.80}", data)))?;
        if let Some(e) = v.get("error") {
            let msg = e
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| e.to_string(), str::to_string);
            return Err(StreamError::Upstream(msg.chars().take(300).collect()));
        }
        let mut c = Chunk::default();
        if let Some(u) = v.get("usage").filter(|u| u.is_object()) {
            let n = |k: &str| {
                u.get(k)
                    .and_then(Value::as_u64)
                    .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
            };
            c.usage = Some((n("prompt_tokens"), n("completion_tokens")));
        }
        let Some(choice) = v
            .get("choices")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
        else {
            return Ok(Some(c));
        };
        let delta = choice.get("delta").unwrap_or(&Value::Null);
        if let Some(t) = delta.get("content").and_then(Value::as_str) {
            c.text = t.to_string();
        }
        for k in ["reasoning_content", "reasoning"] {
            if let Some(t) = delta.get(k).and_then(Value::as_str) {
                c.thinking.push_str(t);
            }
        }
        if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
            for (pos, tc) in calls.iter().enumerate() {
                let idx = tc
                    .get("index")
                    .and_then(Value::as_u64)
                    .unwrap_or(pos as u64);
                let entry = self.calls.entry(idx).or_default();
                let f = tc.get("function").unwrap_or(&Value::Null);
                if let Some(n) = f.get("name").and_then(Value::as_str) {
                    entry.0.push_str(n);
                }
                if let Some(a) = f.get("arguments").and_then(Value::as_str) {
                    entry.1.push_str(a);
                }
            }
        }
        c.finish = match choice.get("finish_reason").and_then(Value::as_str) {
            Some("length") => Some(Finish::Length),
            Some(_) => Some(Finish::Stop),
            None => None,
        };
        Ok(Some(c))
    }

    /// The tool calls of the whole reply.
    pub(crate) fn tool_calls(&mut self) -> Result<Vec<ToolCall>, StreamError> {
        assemble_calls(std::mem::take(&mut self.calls))
    }
}

/// Tool calls from their streamed parts (index → name, JSON arguments text), in index order.
/// Their arguments keep the placeholders: a value is not restored where a tool would act on
/// it (a prompt-injected `curl` could send it away).
pub(crate) fn assemble_calls(
    calls: BTreeMap<u64, (String, String)>,
) -> Result<Vec<ToolCall>, StreamError> {
    calls
        .into_values()
        .map(|(name, args)| {
            let arguments = if args.trim().is_empty() {
                Map::new()
            } else {
                match serde_json::from_str(&args) {
                    Ok(Value::Object(m)) => m,
                    _ => {
                        return Err(StreamError::Malformed(format!(
                            "arguments of tool call {name:?} are not a JSON object"
                        )))
                    }
                }
            };
            Ok(ToolCall { name, arguments })
        })
        .collect()
}

/// Text through a restorer (nothing when it holds everything back).
pub(crate) fn restored(r: &mut Restorer, text: &str) -> Option<String> {
    let out = r.push(text);
    (!out.is_empty()).then_some(out)
}

/// Counts from the upstream's usage report (zeros when it sent none).
pub(crate) fn stats(
    usage: Option<(u32, u32)>,
    first: std::time::Duration,
    total: std::time::Duration,
) -> Stats {
    let (prompt_tokens, eval_tokens) = usage.unwrap_or((0, 0));
    Stats {
        prompt_tokens,
        cached_tokens: 0,
        prompt_eval: first,
        eval_tokens,
        eval: total.saturating_sub(first),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_text_reasoning_tool_calls_usage_and_done() {
        let mut r = Reader::default();
        assert_eq!(r.line(": keep-alive").unwrap(), None);
        assert_eq!(r.line("").unwrap(), None);
        let c = r
            .line(r#"data: {"choices":[{"delta":{"content":"Hi","reasoning_content":"hm"}}]}"#)
            .unwrap()
            .unwrap();
        assert_eq!((c.text.as_str(), c.thinking.as_str()), ("Hi", "hm"));
        r.line(r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"Read","arguments":"{\"file"}}]}}]}"#).unwrap();
        let c = r.line(r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"_path\":\"a\"}"}}]},"finish_reason":"tool_calls"}]}"#).unwrap().unwrap();
        assert_eq!(c.finish, Some(Finish::Stop));
        let c = r
            .line(r#"data: {"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":3}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(c.usage, Some((12, 3)));
        assert!(r.line("data: [DONE]").unwrap().unwrap().done);
        let calls = r.tool_calls().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].name, "Read");
        assert_eq!(calls[0].arguments["file_path"], "a");
    }

    #[test]
    fn malformed_events_and_error_events_are_errors() {
        let mut r = Reader::default();
        assert!(matches!(
            r.line("data: {not json"),
            Err(StreamError::Malformed(_))
        ));
        assert_eq!(
            r.line(r#"data: {"error":{"message":"overloaded"}}"#),
            Err(StreamError::Upstream("overloaded".into()))
        );
        r.line(r#"data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"x","arguments":"[1]"}}]}}]}"#).unwrap();
        assert!(r.tool_calls().is_err());
    }

    #[test]
    fn the_body_carries_no_secret_and_only_protocol_fields() {
        let red = hearth_redact::Redactor::builder().build().unwrap();
        let mut req = red.request();
        let key = "sk-proj-4fJ9xQ2mLp7RtY8vWz3K1nB6cD5eF0gHa8Kd02LmQp";
        let mut m = Message::new("user", format!("my key is {key}"));
        m.extra.insert("images".into(), json!(["aGVsbG8="]));
        let mut call = Message::new("assistant", "");
        call.tool_calls = Some(vec![hearth_prompt::ToolCall {
            id: Some("t1".into()),
            kind: "function".into(),
            function: hearth_prompt::FunctionCall {
                name: "Bash".into(),
                arguments: json!({"command": format!("curl -H 'Authorization: Bearer {key}'")}),
            },
        }]);
        let mut gen = GenRequest::new(
            "smart",
            Input::Chat {
                messages: vec![m, call],
                tools: Some(vec![
                    json!({"type": "function", "function": {"name": "Bash"}}),
                ]),
            },
        );
        gen.options.num_predict = Some(64);
        gen.options.temperature = Some(0.0);
        let b = body(&gen, "big", &mut req).unwrap().unwrap();
        let text = b.to_string();
        assert!(!text.contains(key), "{text}");
        assert!(!text.contains("images"), "{text}");
        assert_eq!(b["model"], "big");
        assert_eq!(b["max_tokens"], 64);
        assert!(b["messages"][1]["tool_calls"][0]["function"]["arguments"].is_string());
        assert_eq!(req.issued(), 1);
        let fim = GenRequest::new(
            "smart",
            Input::Raw {
                prompt: "x".into(),
                session: None,
            },
        );
        assert!(body(&fim, "big", &mut req).unwrap().is_none());
    }
}
