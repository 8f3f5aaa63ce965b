//! OpenAI's response objects for chat completions and completions, whole and streamed.
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use crate::backend::Finish;
use crate::service::error::ServiceError;
use crate::service::running::{Done, Event, Outcome};
use crate::service::tools::ToolCall;
use crate::wire::frame;
use crate::wire::openai::{FunctionCall, ToolCall as WireToolCall, Usage};

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A response id like OpenAI's (`chatcmpl-…`, `cmpl-…`).
pub(crate) fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{:x}{n:04x}", unix_now())
}

/// OpenAI's `finish_reason`.
fn finish_reason(f: Option<Finish>) -> &'static str {
    match f {
        Some(Finish::Length | Finish::ContextFull) => "length",
        Some(Finish::Stop | Finish::Cancelled) | None => "stop",
    }
}

impl Usage {
    fn of(d: &Done) -> Self {
        Usage::new(
            d.stats.prompt_tokens,
            d.stats.cached_tokens,
            d.stats.eval_tokens,
            d.reasoning_tokens,
        )
    }
}

/// The error object of OpenAI's API (also sent as a stream event).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

/// `error` of [`ErrorBody`].
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorDetail {
    pub(crate) message: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) param: Option<String>,
    pub(crate) code: Option<&'static str>,
}

impl ErrorBody {
    fn of(e: &ServiceError) -> Self {
        ErrorBody {
            error: ErrorDetail {
                message: e.public_message(),
                kind: if e.is_internal() {
                    "server_error"
                } else {
                    "invalid_request_error"
                },
                param: None,
                code: Some(e.code()),
            },
        }
    }
}

fn wire_calls(calls: Vec<ToolCall>, indexed: bool) -> Vec<Value> {
    calls
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let call = WireToolCall {
                id: format!("call_{i}"),
                kind: "function".into(),
                function: FunctionCall {
                    name: c.name,
                    arguments: Value::Object(c.arguments).to_string(),
                },
            };
            let mut v = serde_json::to_value(call).unwrap_or_default();
            if indexed {
                v["index"] = Value::from(i);
            }
            v
        })
        .collect()
}

/// `message` of a chat completion.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AssistantMessage {
    pub(crate) role: &'static str,
    pub(crate) content: Option<String>,
    /// Thinking of a reasoning model (llama.cpp's and DeepSeek's field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_calls: Option<Vec<Value>>,
}

/// One choice of a chat completion.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChatChoice {
    pub(crate) index: u32,
    pub(crate) message: AssistantMessage,
    pub(crate) finish_reason: &'static str,
    pub(crate) logprobs: Option<Value>,
}

/// A whole chat completion.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChatCompletion {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) system_fingerprint: &'static str,
    pub(crate) choices: Vec<ChatChoice>,
    pub(crate) usage: Usage,
    /// Insecure-code findings, when the request asked (`"check": true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) check: Option<crate::wire::ollama::CheckReport>,
}

/// `delta` of a chunk.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Delta {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reasoning_content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tool_calls: Option<Vec<Value>>,
}

/// One choice of a chunk.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChunkChoice {
    pub(crate) index: u32,
    pub(crate) delta: Delta,
    pub(crate) finish_reason: Option<&'static str>,
    pub(crate) logprobs: Option<Value>,
}

/// A streamed chat completion chunk.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChatChunk {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) system_fingerprint: &'static str,
    pub(crate) choices: Vec<ChunkChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<Usage>,
    /// On the last chunk, when the request asked for the code check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) check: Option<Box<crate::wire::ollama::CheckReport>>,
}

/// Any object of a chat completion stream.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum ChatFrame {
    Chunk(ChatChunk),
    Error(ErrorBody),
}

/// Chat completions, whole or as chunks (a role chunk first; tool calls as their own chunk;
/// `finish_reason` `tool_calls` when there were any; usage last when asked).
pub(crate) struct ChatEncoder {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    called: bool,
}

impl ChatEncoder {
    pub(crate) fn new(model: &str, include_usage: bool) -> Self {
        ChatEncoder {
            id: new_id("chatcmpl"),
            created: unix_now(),
            model: model.to_string(),
            include_usage,
            called: false,
        }
    }

    fn chunk(&self, delta: Delta, finish: Option<&'static str>) -> ChatFrame {
        ChatFrame::Chunk(ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk",
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: "hearth",
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish,
                logprobs: None,
            }],
            usage: None,
            check: None,
        })
    }
}

impl frame::Encoder for ChatEncoder {
    type Frame = ChatFrame;
    type Whole = ChatCompletion;

    /// The whole answer (`stream: false`).
    fn whole(self, out: Outcome) -> ChatCompletion {
        let called = !out.tool_calls.is_empty();
        let message = AssistantMessage {
            role: "assistant",
            content: (!called || !out.text.is_empty()).then_some(out.text),
            reasoning_content: Some(out.thinking).filter(|t| !t.is_empty()),
            tool_calls: called.then(|| wire_calls(out.tool_calls, false)),
        };
        ChatCompletion {
            id: self.id,
            object: "chat.completion",
            created: self.created,
            model: self.model,
            system_fingerprint: "hearth",
            choices: vec![ChatChoice {
                index: 0,
                message,
                finish_reason: if called {
                    "tool_calls"
                } else {
                    finish_reason(out.done.finish)
                },
                logprobs: None,
            }],
            usage: Usage::of(&out.done),
            check: out.done.check.map(crate::wire::ollama::CheckReport::of),
        }
    }

    fn head(&mut self) -> Vec<ChatFrame> {
        let delta = Delta {
            role: Some("assistant"),
            content: Some(String::new()),
            ..Delta::default()
        };
        vec![self.chunk(delta, None)]
    }

    fn event(&mut self, ev: Event) -> Vec<ChatFrame> {
        match ev {
            Event::Text(t) => vec![self.chunk(
                Delta {
                    content: Some(t),
                    ..Delta::default()
                },
                None,
            )],
            Event::Thinking(t) => vec![self.chunk(
                Delta {
                    reasoning_content: Some(t),
                    ..Delta::default()
                },
                None,
            )],
            Event::ToolCalls(calls) => {
                self.called = true;
                vec![self.chunk(
                    Delta {
                        tool_calls: Some(wire_calls(calls, true)),
                        ..Delta::default()
                    },
                    None,
                )]
            }
            Event::Done(d) => {
                let finish = if self.called {
                    "tool_calls"
                } else {
                    finish_reason(d.finish)
                };
                let mut last = self.chunk(Delta::default(), Some(finish));
                if let ChatFrame::Chunk(c) = &mut last {
                    c.check = d
                        .check
                        .clone()
                        .map(|b| Box::new(crate::wire::ollama::CheckReport::of(b)));
                }
                let mut out = vec![last];
                if self.include_usage {
                    if let ChatFrame::Chunk(mut c) = self.chunk(Delta::default(), None) {
                        c.choices.clear();
                        c.usage = Some(Usage::of(&d));
                        out.push(ChatFrame::Chunk(c));
                    }
                }
                out
            }
            Event::Error(e) => vec![ChatFrame::Error(ErrorBody::of(&e))],
        }
    }
}

/// One choice of a text completion.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TextChoice {
    pub(crate) text: String,
    pub(crate) index: u32,
    pub(crate) logprobs: Option<Value>,
    pub(crate) finish_reason: Option<&'static str>,
}

/// A text completion (whole, or one streamed chunk).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Completion {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) choices: Vec<TextChoice>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<Usage>,
}

/// Any object of a completion stream.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum CompletionFrame {
    Chunk(Completion),
    Error(ErrorBody),
}

/// Text completions, whole or streamed.
pub(crate) struct CompletionEncoder {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
}

impl CompletionEncoder {
    pub(crate) fn new(model: &str, include_usage: bool) -> Self {
        CompletionEncoder {
            id: new_id("cmpl"),
            created: unix_now(),
            model: model.to_string(),
            include_usage,
        }
    }

    fn object(&self, text: String, finish: Option<&'static str>) -> Completion {
        Completion {
            id: self.id.clone(),
            object: "text_completion",
            created: self.created,
            model: self.model.clone(),
            choices: vec![TextChoice {
                text,
                index: 0,
                logprobs: None,
                finish_reason: finish,
            }],
            usage: None,
        }
    }
}

impl frame::Encoder for CompletionEncoder {
    type Frame = CompletionFrame;
    type Whole = Completion;

    /// The whole answer (`stream: false`).
    fn whole(self, out: Outcome) -> Completion {
        let mut c = self.object(out.text, Some(finish_reason(out.done.finish)));
        c.usage = Some(Usage::of(&out.done));
        c
    }

    fn event(&mut self, ev: Event) -> Vec<CompletionFrame> {
        match ev {
            Event::Text(t) => vec![CompletionFrame::Chunk(self.object(t, None))],
            // Completions offer no tools.
            Event::ToolCalls(_) | Event::Thinking(_) => Vec::new(),
            Event::Done(d) => {
                let mut out = vec![CompletionFrame::Chunk(
                    self.object(String::new(), Some(finish_reason(d.finish))),
                )];
                if self.include_usage {
                    let mut c = self.object(String::new(), None);
                    c.choices.clear();
                    c.usage = Some(Usage::of(&d));
                    out.push(CompletionFrame::Chunk(c));
                }
                out
            }
            Event::Error(e) => vec![CompletionFrame::Error(ErrorBody::of(&e))],
        }
    }
}
