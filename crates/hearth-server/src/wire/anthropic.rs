//! Anthropic's Messages API (`/v1/messages`, `/v1/messages/count_tokens`), what Claude Code and
//! the `anthropic` SDKs speak: requests with content blocks, answers as content blocks, and the
//! named server-sent events of a streamed message.
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::backend::Finish;
use crate::service::error::ServiceError;
use crate::service::options::{Options, StringOrVec};
use crate::service::request::{GenRequest, Input};
use crate::service::running::{Done, Event, Outcome};
use crate::service::tools::ToolCall;
use crate::wire::frame;
use crate::wire::openai_out::{new_id, unix_now};
use crate::wire::tool_choice::{forced_call_grammar, template_tools, Declared, Force};

/// `system`: a string or text blocks.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum System {
    Text(String),
    Blocks(Vec<TextBlock>),
}

/// A text block (`{"type": "text", "text": ...}`; other fields such as `cache_control` ignored).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TextBlock {
    #[serde(default)]
    pub(crate) text: String,
}

/// `content` of a message: a string or blocks.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Content {
    Text(String),
    Blocks(Vec<Block>),
}

/// A content block of a request.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Block {
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default)]
        content: Option<Content>,
        #[serde(default)]
        is_error: bool,
    },
    /// Earlier thinking: not sent back to the model.
    Thinking {},
    RedactedThinking {},
    Image {},
    Document {},
    /// Block types hearth does not use (server tool results, citations, ...).
    #[serde(other)]
    Other,
}

/// One message.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct AnthropicMessage {
    pub(crate) role: String,
    pub(crate) content: Content,
}

/// A tool definition; server tools (`web_search_…`, `bash_…`) carry a `type` and no schema.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Tool {
    pub(crate) name: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) description: Option<String>,
    #[serde(default)]
    pub(crate) input_schema: Option<Value>,
}

/// `tool_choice`: `auto`, `any`, `tool` (with `name`) or `none`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ToolChoice {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) name: Option<String>,
}

/// `POST /v1/messages` (and the body of `count_tokens`).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct MessagesRequest {
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) max_tokens: Option<u32>,
    #[serde(default)]
    pub(crate) system: Option<System>,
    pub(crate) messages: Vec<AnthropicMessage>,
    #[serde(default)]
    pub(crate) tools: Option<Vec<Tool>>,
    #[serde(default)]
    pub(crate) tool_choice: Option<ToolChoice>,
    #[serde(default)]
    pub(crate) stop_sequences: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) temperature: Option<f32>,
    #[serde(default)]
    pub(crate) top_p: Option<f32>,
    #[serde(default)]
    pub(crate) top_k: Option<i64>,
    #[serde(default)]
    pub(crate) stream: bool,
    /// `{"type": "enabled", "budget_tokens": n}`, `{"type": "disabled"}` or `adaptive`.
    #[serde(default)]
    pub(crate) thinking: Option<ThinkingConfig>,
}

/// `thinking` of a request.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ThinkingConfig {
    #[serde(rename = "type")]
    pub(crate) kind: String,
}

/// The start of Claude Code's per-request billing line in `system`.
const BILLING_LINE: &str = "x-anthropic-billing-header:";

fn text_of(c: &Content) -> Result<String, ServiceError> {
    match c {
        Content::Text(t) => Ok(t.clone()),
        Content::Blocks(blocks) => {
            let mut out = String::new();
            for b in blocks {
                match b {
                    Block::Text { text } => out.push_str(text),
                    Block::Image {} | Block::Document {} => {
                        return Err(ServiceError::Invalid(
                            "image and document blocks are not supported by this model".into(),
                        ))
                    }
                    _ => {}
                }
            }
            Ok(out)
        }
    }
}

impl MessagesRequest {
    /// The service request.
    pub(crate) fn to_gen(&self) -> Result<GenRequest, ServiceError> {
        let mut messages = Vec::new();
        match &self.system {
            Some(System::Text(t)) if !t.is_empty() => {
                messages.push(hearth_prompt::Message::system(t.clone()))
            }
            Some(System::Blocks(b)) if !b.is_empty() => {
                // Claude Code's first block is a billing line that changes per request; in
                // the prompt it would only defeat prefix caching.
                let text: Vec<&str> = b
                    .iter()
                    .map(|b| b.text.as_str())
                    .filter(|t| !t.starts_with(BILLING_LINE))
                    .collect();
                messages.push(hearth_prompt::Message::system(text.join("\n")));
            }
            _ => {}
        }
        for m in &self.messages {
            match m.role.as_str() {
                "user" => {
                    if let Content::Blocks(blocks) = &m.content {
                        for b in blocks {
                            if let Block::ToolResult {
                                tool_use_id,
                                content,
                                is_error,
                            } = b
                            {
                                let mut text = match content {
                                    Some(c) => text_of(c)?,
                                    None => String::new(),
                                };
                                if *is_error {
                                    text = format!("Error: {text}");
                                }
                                messages.push(hearth_prompt::Message::tool(
                                    text,
                                    Some(tool_use_id.clone()),
                                ));
                            }
                        }
                    }
                    let text = text_of(&m.content)?;
                    if !text.is_empty() || matches!(m.content, Content::Text(_)) {
                        messages.push(hearth_prompt::Message::user(text));
                    }
                }
                // Claude Code sends system notes between turns (agent lists, reminders) after
                // the user's message. Rendered last they read as the task, and small models
                // answer the note instead of the question: the note goes before the user's
                // message it follows (a fixed place, so prefix caching across turns holds).
                "system" => {
                    let note = hearth_prompt::Message::system(text_of(&m.content)?);
                    match messages.last() {
                        Some(last) if last.role == "user" => {
                            messages.insert(messages.len() - 1, note)
                        }
                        _ => messages.push(note),
                    }
                }
                "assistant" => {
                    let mut msg = hearth_prompt::Message::assistant(text_of(&m.content)?);
                    if let Content::Blocks(blocks) = &m.content {
                        let calls: Vec<hearth_prompt::ToolCall> = blocks
                            .iter()
                            .filter_map(|b| match b {
                                Block::ToolUse { id, name, input } => {
                                    let mut c = hearth_prompt::ToolCall::function(
                                        name.clone(),
                                        input.clone(),
                                    );
                                    c.id = Some(id.clone());
                                    Some(c)
                                }
                                _ => None,
                            })
                            .collect();
                        if !calls.is_empty() {
                            msg.tool_calls = Some(calls);
                        }
                    }
                    messages.push(msg);
                }
                other => {
                    return Err(ServiceError::Invalid(format!(
                        "invalid message role {other:?}: expected user, assistant or system"
                    )))
                }
            }
        }
        if messages.iter().all(|m| m.role == "system") {
            return Err(ServiceError::Invalid("messages must not be empty".into()));
        }
        let none = self.tool_choice.as_ref().is_some_and(|c| c.kind == "none");
        // Server tools hearth cannot run (web search, bash, ...) are left out of the prompt.
        let declared: Vec<Declared> = self
            .tools
            .iter()
            .flatten()
            .filter(|t| t.kind.as_deref().is_none_or(|k| k == "custom"))
            .map(|t| Declared {
                kind: "function".into(),
                name: t.name.clone(),
                description: t.description.clone(),
                parameters: t.input_schema.clone().unwrap_or(json!({"type": "object"})),
            })
            .collect();
        let tools = Some(template_tools(&declared)).filter(|t| !t.is_empty() && !none);
        // `any` and `tool` force a call: the output is held to a tool-call grammar.
        let force = match self
            .tool_choice
            .as_ref()
            .map(|c| (c.kind.as_str(), &c.name))
        {
            Some(("any" | "tool", _)) if declared.is_empty() => {
                return Err(ServiceError::Invalid(
                    "tool_choice requires a tool, and no tools were given".into(),
                ))
            }
            Some(("any", _)) => Force::Any,
            Some(("tool", Some(name))) => Force::Named(name),
            Some(("tool", None)) => {
                return Err(ServiceError::Invalid(
                    "tool_choice of type tool needs the tool's name".into(),
                ))
            }
            _ => Force::Auto,
        };
        let grammar = forced_call_grammar(&declared, force)?;
        let stop = self.stop_sequences.clone().unwrap_or_default();
        crate::service::options::check_stops(&stop)?;
        let mut g = GenRequest::new(&self.model, Input::Chat { messages, tools });
        g.grammar = grammar;
        g.think = self.thinking.as_ref().map(|t| t.kind != "disabled");
        g.options = Options {
            num_predict: self.max_tokens.map(i64::from),
            temperature: self.temperature.map(|t| t.min(2.0)),
            top_p: self.top_p,
            top_k: self.top_k,
            stop: (!stop.is_empty()).then_some(StringOrVec::Many(stop)),
            ..Options::default()
        };
        g.penalties_off_by_default = true;
        Ok(g)
    }
}

/// A content block of an answer.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum OutBlock {
    Thinking {
        thinking: String,
        signature: String,
    },
    Text {
        text: String,
    },
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// `usage`.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Usage {
    pub(crate) input_tokens: u32,
    pub(crate) output_tokens: u32,
    pub(crate) cache_read_input_tokens: u32,
}

impl Usage {
    fn of(d: &Done) -> Self {
        // Anthropic counts cache reads apart from `input_tokens`.
        Usage {
            input_tokens: d.stats.prompt_tokens.saturating_sub(d.stats.cached_tokens),
            output_tokens: d.stats.eval_tokens,
            cache_read_input_tokens: d.stats.cached_tokens,
        }
    }
}

/// A whole message (the answer with `stream: false`, and `message_start`'s shell).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct MessageObject {
    pub(crate) id: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) role: &'static str,
    pub(crate) model: String,
    pub(crate) content: Vec<OutBlock>,
    pub(crate) stop_reason: Option<&'static str>,
    pub(crate) stop_sequence: Option<String>,
    pub(crate) usage: Usage,
}

/// `{"input_tokens": n}` of `count_tokens`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TokenCount {
    pub(crate) input_tokens: usize,
}

fn stop_reason(f: Option<Finish>, called: bool) -> &'static str {
    if called {
        return "tool_use";
    }
    match f {
        Some(Finish::Length | Finish::ContextFull) => "max_tokens",
        _ => "end_turn",
    }
}

fn tool_block(i: usize, c: ToolCall) -> OutBlock {
    OutBlock::ToolUse {
        id: format!("toolu_{:x}{i:02}", unix_now()),
        name: c.name,
        input: Value::Object(c.arguments),
    }
}

/// Anthropic's error body.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) error: ErrorDetail,
}

/// `error` of [`ErrorBody`].
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ErrorDetail {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) message: String,
}

impl ErrorBody {
    /// The error type Anthropic uses for an HTTP status.
    pub(crate) fn for_status(status: u16, message: String) -> Self {
        let kind = match status {
            400 | 422 => "invalid_request_error",
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            413 => "request_too_large",
            429 => "rate_limit_error",
            503 | 529 => "overloaded_error",
            _ => "api_error",
        };
        ErrorBody {
            kind: "error",
            error: ErrorDetail { kind, message },
        }
    }
}

/// One named event of a streamed message (the event name is its `type`).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum StreamEvent {
    MessageStart { message: MessageObject },
    Ping {},
    ContentBlockStart { index: usize, content_block: Value },
    ContentBlockDelta { index: usize, delta: Value },
    ContentBlockStop { index: usize },
    MessageDelta { delta: Value, usage: Usage },
    MessageStop {},
    Error { error: ErrorDetail },
}

/// Messages, whole or as Anthropic's event sequence.
pub(crate) struct Encoder {
    id: String,
    model: String,
    /// The open text or thinking block: its index, and whether it is thinking.
    open: Option<(usize, bool)>,
    next_index: usize,
    called: bool,
}

impl Encoder {
    pub(crate) fn new(model: &str) -> Self {
        Encoder {
            id: new_id("msg"),
            model: model.to_string(),
            open: None,
            next_index: 0,
            called: false,
        }
    }

    fn shell(
        &self,
        content: Vec<OutBlock>,
        stop: Option<&'static str>,
        usage: Usage,
    ) -> MessageObject {
        MessageObject {
            id: self.id.clone(),
            kind: "message",
            role: "assistant",
            model: self.model.clone(),
            content,
            stop_reason: stop,
            stop_sequence: None,
            usage,
        }
    }

    fn close_block(&mut self, out: &mut Vec<StreamEvent>) {
        if let Some((index, thinking)) = self.open.take() {
            if thinking {
                out.push(StreamEvent::ContentBlockDelta {
                    index,
                    delta: json!({"type": "signature_delta", "signature": ""}),
                });
            }
            out.push(StreamEvent::ContentBlockStop { index });
        }
    }

    /// The index of the open block of this kind, opening one (and closing the other) first.
    fn block(&mut self, out: &mut Vec<StreamEvent>, thinking: bool) -> usize {
        match self.open {
            Some((i, t)) if t == thinking => i,
            _ => {
                self.close_block(out);
                let i = self.next_index;
                self.next_index += 1;
                self.open = Some((i, thinking));
                let content_block = if thinking {
                    json!({"type": "thinking", "thinking": "", "signature": ""})
                } else {
                    json!({"type": "text", "text": ""})
                };
                out.push(StreamEvent::ContentBlockStart {
                    index: i,
                    content_block,
                });
                i
            }
        }
    }
}

impl frame::Encoder for Encoder {
    type Frame = StreamEvent;
    type Whole = MessageObject;

    /// The whole answer (`stream: false`).
    fn whole(self, out: Outcome) -> MessageObject {
        let called = !out.tool_calls.is_empty();
        let mut content = Vec::new();
        if !out.thinking.is_empty() {
            content.push(OutBlock::Thinking {
                thinking: out.thinking,
                signature: String::new(),
            });
        }
        if !out.text.is_empty() || !called {
            content.push(OutBlock::Text { text: out.text });
        }
        content.extend(
            out.tool_calls
                .into_iter()
                .enumerate()
                .map(|(i, c)| tool_block(i, c)),
        );
        let usage = Usage::of(&out.done);
        self.shell(content, Some(stop_reason(out.done.finish, called)), usage)
    }

    fn head(&mut self) -> Vec<StreamEvent> {
        let usage = Usage {
            input_tokens: 0,
            output_tokens: 0,
            cache_read_input_tokens: 0,
        };
        vec![
            StreamEvent::MessageStart {
                message: self.shell(Vec::new(), None, usage),
            },
            StreamEvent::Ping {},
        ]
    }

    fn keepalive(&mut self) -> Option<StreamEvent> {
        Some(StreamEvent::Ping {})
    }

    fn event(&mut self, ev: Event) -> Vec<StreamEvent> {
        let mut out = Vec::new();
        match ev {
            Event::Text(t) => {
                let index = self.block(&mut out, false);
                out.push(StreamEvent::ContentBlockDelta {
                    index,
                    delta: json!({"type": "text_delta", "text": t}),
                });
            }
            Event::Thinking(t) => {
                let index = self.block(&mut out, true);
                out.push(StreamEvent::ContentBlockDelta {
                    index,
                    delta: json!({"type": "thinking_delta", "thinking": t}),
                });
            }
            Event::ToolCalls(calls) => {
                self.close_block(&mut out);
                self.called = true;
                for (i, c) in calls.into_iter().enumerate() {
                    let index = self.next_index;
                    self.next_index += 1;
                    let input = Value::Object(c.arguments.clone()).to_string();
                    if let OutBlock::ToolUse { id, name, .. } = tool_block(i, c) {
                        out.push(StreamEvent::ContentBlockStart {
                            index,
                            content_block: json!({"type": "tool_use", "id": id, "name": name,
                                "input": {}}),
                        });
                    }
                    out.push(StreamEvent::ContentBlockDelta {
                        index,
                        delta: json!({"type": "input_json_delta", "partial_json": input}),
                    });
                    out.push(StreamEvent::ContentBlockStop { index });
                }
            }
            Event::Done(d) => {
                self.close_block(&mut out);
                out.push(StreamEvent::MessageDelta {
                    delta: json!({"stop_reason": stop_reason(d.finish, self.called),
                        "stop_sequence": null}),
                    usage: Usage::of(&d),
                });
                out.push(StreamEvent::MessageStop {});
            }
            Event::Error(e) => {
                let status = if e.is_internal() { 500 } else { 400 };
                let body = ErrorBody::for_status(status, e.public_message());
                out.push(StreamEvent::Error { error: body.error });
            }
        }
        out
    }
}
