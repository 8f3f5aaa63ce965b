//! The Responses API's answers: a response object with output items (a message, function
//! calls, reasoning), whole or as the named event sequence Codex reads (`response.created`,
//! `response.output_item.added`, `response.output_text.delta`,
//! `response.function_call_arguments.delta`, `response.output_item.done`,
//! `response.completed` with usage).
use serde::Serialize;
use serde_json::{json, Value};

use crate::backend::Finish;
use crate::service::running::{Done, Event, Outcome};
use crate::service::tools::ToolCall;
use crate::wire::frame;
use crate::wire::openai_out::{new_id, unix_now};
use crate::wire::responses::ResponsesRequest;

/// `content` part of an output message.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct OutputText {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) text: String,
    pub(crate) annotations: Vec<Value>,
}

impl OutputText {
    fn new(text: String) -> Self {
        OutputText {
            kind: "output_text",
            text,
            annotations: Vec::new(),
        }
    }
}

/// `content` part of a reasoning item.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReasoningText {
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) text: String,
}

/// One output item.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Item {
    Message {
        id: String,
        status: &'static str,
        role: &'static str,
        content: Vec<OutputText>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        status: &'static str,
    },
    /// A call of a freeform tool (Codex's `apply_patch`): its input as text.
    CustomToolCall {
        id: String,
        call_id: String,
        name: String,
        input: String,
        status: &'static str,
    },
    Reasoning {
        id: String,
        summary: Vec<Value>,
        content: Vec<ReasoningText>,
    },
}

impl Item {
    /// A finished assistant message.
    fn message(id: String, text: String) -> Item {
        Item::Message {
            id,
            status: "completed",
            role: "assistant",
            content: vec![OutputText::new(text)],
        }
    }

    /// A finished reasoning item.
    fn reasoning(id: String, text: String) -> Item {
        Item::Reasoning {
            id,
            summary: Vec::new(),
            content: vec![ReasoningText {
                kind: "reasoning_text",
                text,
            }],
        }
    }

    /// The item as `response.output_item.added` announces it: in progress, nothing in it yet.
    fn started(&self) -> Item {
        let mut item = self.clone();
        match &mut item {
            Item::Message {
                status, content, ..
            } => {
                *status = "in_progress";
                content.clear();
            }
            Item::FunctionCall {
                status, arguments, ..
            } => {
                *status = "in_progress";
                arguments.clear();
            }
            Item::CustomToolCall { status, input, .. } => {
                *status = "in_progress";
                input.clear();
            }
            Item::Reasoning { content, .. } => content.clear(),
        }
        item
    }
}

/// `usage`, with the details Codex reads.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Usage {
    pub(crate) input_tokens: u32,
    pub(crate) input_tokens_details: Value,
    pub(crate) output_tokens: u32,
    pub(crate) output_tokens_details: Value,
    pub(crate) total_tokens: u32,
}

impl Usage {
    fn of(d: &Done) -> Self {
        Usage {
            input_tokens: d.stats.prompt_tokens,
            input_tokens_details: json!({"cached_tokens": d.stats.cached_tokens}),
            output_tokens: d.stats.eval_tokens,
            output_tokens_details: json!({"reasoning_tokens": d.reasoning_tokens}),
            total_tokens: d.stats.prompt_tokens + d.stats.eval_tokens,
        }
    }
}

/// The response object (whole answer, and the shell of `response.*` events).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ResponseObject {
    pub(crate) id: String,
    pub(crate) object: &'static str,
    pub(crate) created_at: u64,
    pub(crate) status: &'static str,
    pub(crate) error: Option<Value>,
    pub(crate) incomplete_details: Option<Value>,
    pub(crate) instructions: Option<String>,
    pub(crate) max_output_tokens: Option<u32>,
    pub(crate) model: String,
    pub(crate) output: Vec<Item>,
    pub(crate) parallel_tool_calls: bool,
    pub(crate) previous_response_id: Option<String>,
    pub(crate) reasoning: Value,
    pub(crate) store: bool,
    pub(crate) temperature: Option<f32>,
    pub(crate) text: Value,
    pub(crate) tool_choice: Value,
    pub(crate) tools: Vec<Value>,
    pub(crate) top_p: Option<f32>,
    pub(crate) truncation: &'static str,
    pub(crate) usage: Option<Usage>,
    pub(crate) metadata: Value,
}

/// One streamed event; its `type` names the SSE event.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type")]
pub(crate) enum StreamEvent {
    #[serde(rename = "response.created")]
    Created { response: ResponseObject },
    #[serde(rename = "response.in_progress")]
    InProgress { response: ResponseObject },
    #[serde(rename = "response.output_item.added")]
    ItemAdded { output_index: usize, item: Item },
    #[serde(rename = "response.content_part.added")]
    PartAdded {
        item_id: String,
        output_index: usize,
        content_index: usize,
        part: OutputText,
    },
    #[serde(rename = "response.output_text.delta")]
    TextDelta {
        item_id: String,
        output_index: usize,
        content_index: usize,
        delta: String,
        logprobs: Vec<Value>,
    },
    #[serde(rename = "response.output_text.done")]
    TextDone {
        item_id: String,
        output_index: usize,
        content_index: usize,
        text: String,
        logprobs: Vec<Value>,
    },
    #[serde(rename = "response.content_part.done")]
    PartDone {
        item_id: String,
        output_index: usize,
        content_index: usize,
        part: OutputText,
    },
    #[serde(rename = "response.reasoning_text.delta")]
    ReasoningDelta {
        item_id: String,
        output_index: usize,
        content_index: usize,
        delta: String,
    },
    #[serde(rename = "response.reasoning_text.done")]
    ReasoningDone {
        item_id: String,
        output_index: usize,
        content_index: usize,
        text: String,
    },
    #[serde(rename = "response.function_call_arguments.delta")]
    ArgsDelta {
        item_id: String,
        output_index: usize,
        delta: String,
    },
    #[serde(rename = "response.function_call_arguments.done")]
    ArgsDone {
        item_id: String,
        output_index: usize,
        name: String,
        arguments: String,
    },
    #[serde(rename = "response.custom_tool_call_input.delta")]
    CustomDelta {
        item_id: String,
        output_index: usize,
        delta: String,
    },
    #[serde(rename = "response.custom_tool_call_input.done")]
    CustomDone {
        item_id: String,
        output_index: usize,
        input: String,
    },
    #[serde(rename = "response.output_item.done")]
    ItemDone { output_index: usize, item: Item },
    #[serde(rename = "response.completed")]
    Completed { response: ResponseObject },
    #[serde(rename = "response.incomplete")]
    Incomplete { response: ResponseObject },
    #[serde(rename = "response.failed")]
    Failed { response: ResponseObject },
}

/// A [`StreamEvent`] with its place in the stream.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Sequenced {
    #[serde(flatten)]
    pub(crate) event: StreamEvent,
    pub(crate) sequence_number: u64,
}

/// What is being streamed right now.
enum Open {
    None,
    /// A message item: its index, id and text so far.
    Message(usize, String, String),
    /// A reasoning item.
    Reasoning(usize, String, String),
}

/// Responses, whole or as the event sequence.
pub(crate) struct Encoder {
    shell: ResponseObject,
    /// Freeform tools: their calls become `custom_tool_call` items.
    custom: Vec<String>,
    output: Vec<Item>,
    open: Open,
    seq: u64,
}

fn call_item(c: ToolCall, custom: &[String]) -> Item {
    if custom.contains(&c.name) {
        let input = match c.arguments.get("input") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => String::new(),
        };
        return Item::CustomToolCall {
            id: new_id("ctc"),
            call_id: new_id("call"),
            name: c.name,
            input,
            status: "completed",
        };
    }
    Item::FunctionCall {
        id: new_id("fc"),
        call_id: new_id("call"),
        name: c.name,
        arguments: Value::Object(c.arguments).to_string(),
        status: "completed",
    }
}

fn status_of(d: &Done) -> (&'static str, Option<Value>) {
    match d.finish {
        Some(Finish::Length | Finish::ContextFull) => {
            ("incomplete", Some(json!({"reason": "max_output_tokens"})))
        }
        _ => ("completed", None),
    }
}

impl Encoder {
    /// An encoder echoing the request's settings, as OpenAI's response objects do.
    pub(crate) fn new(req: &ResponsesRequest) -> Self {
        let tool_choice = req.tool_choice.clone().unwrap_or(json!("auto"));
        let effort = req.reasoning.as_ref().and_then(|r| r.effort.clone());
        let summary = req.reasoning.as_ref().and_then(|r| r.summary.clone());
        let text = match req.text.as_ref().and_then(|t| t.format.clone()) {
            Some(f) => json!({"format": f}),
            None => json!({"format": {"type": "text"}}),
        };
        Encoder {
            custom: crate::wire::responses::custom_tool_names(
                req.tools.as_deref().unwrap_or_default(),
            ),
            shell: ResponseObject {
                id: new_id("resp"),
                object: "response",
                created_at: unix_now(),
                status: "in_progress",
                error: None,
                incomplete_details: None,
                instructions: req.instructions.clone(),
                max_output_tokens: req.max_output_tokens,
                model: req.model.clone(),
                output: Vec::new(),
                parallel_tool_calls: req.parallel_tool_calls.unwrap_or(true),
                previous_response_id: None,
                reasoning: json!({"effort": effort, "summary": summary}),
                store: false,
                temperature: req.temperature,
                text,
                tool_choice,
                tools: req.tools.clone().unwrap_or_default(),
                top_p: req.top_p,
                truncation: "disabled",
                usage: None,
                metadata: json!({}),
            },
            output: Vec::new(),
            open: Open::None,
            seq: 0,
        }
    }

    /// The response object at the end: its status, usage and every output item.
    fn finished(&mut self, d: &Done) -> ResponseObject {
        let (status, incomplete) = status_of(d);
        let mut r = self.shell.clone();
        r.status = status;
        r.incomplete_details = incomplete;
        r.usage = Some(Usage::of(d));
        r.output = std::mem::take(&mut self.output);
        r
    }

    fn push(&mut self, out: &mut Vec<Sequenced>, event: StreamEvent) {
        out.push(Sequenced {
            event,
            sequence_number: self.seq,
        });
        self.seq += 1;
    }

    /// Ends the open message or reasoning item.
    fn close(&mut self, out: &mut Vec<Sequenced>) {
        let (index, item) = match std::mem::replace(&mut self.open, Open::None) {
            Open::None => return,
            Open::Message(index, id, text) => {
                let ev = StreamEvent::TextDone {
                    item_id: id.clone(),
                    output_index: index,
                    content_index: 0,
                    text: text.clone(),
                    logprobs: Vec::new(),
                };
                self.push(out, ev);
                let ev = StreamEvent::PartDone {
                    item_id: id.clone(),
                    output_index: index,
                    content_index: 0,
                    part: OutputText::new(text.clone()),
                };
                self.push(out, ev);
                (index, Item::message(id, text))
            }
            Open::Reasoning(index, id, text) => {
                let ev = StreamEvent::ReasoningDone {
                    item_id: id.clone(),
                    output_index: index,
                    content_index: 0,
                    text: text.clone(),
                };
                self.push(out, ev);
                (index, Item::reasoning(id, text))
            }
        };
        self.output.push(item.clone());
        self.push(
            out,
            StreamEvent::ItemDone {
                output_index: index,
                item,
            },
        );
    }

    fn text(&mut self, out: &mut Vec<Sequenced>, t: String) {
        if !matches!(self.open, Open::Message(..)) {
            self.close(out);
            let index = self.output.len();
            let id = new_id("msg");
            let item = Item::message(id.clone(), String::new()).started();
            self.push(
                out,
                StreamEvent::ItemAdded {
                    output_index: index,
                    item,
                },
            );
            let part = OutputText::new(String::new());
            let ev = StreamEvent::PartAdded {
                item_id: id.clone(),
                output_index: index,
                content_index: 0,
                part,
            };
            self.push(out, ev);
            self.open = Open::Message(index, id, String::new());
        }
        if let Open::Message(index, id, text) = &mut self.open {
            text.push_str(&t);
            let ev = StreamEvent::TextDelta {
                item_id: id.clone(),
                output_index: *index,
                content_index: 0,
                delta: t,
                logprobs: Vec::new(),
            };
            self.push(out, ev);
        }
    }

    fn thinking(&mut self, out: &mut Vec<Sequenced>, t: String) {
        if !matches!(self.open, Open::Reasoning(..)) {
            self.close(out);
            let index = self.output.len();
            let id = new_id("rs");
            let item = Item::reasoning(id.clone(), String::new()).started();
            self.push(
                out,
                StreamEvent::ItemAdded {
                    output_index: index,
                    item,
                },
            );
            self.open = Open::Reasoning(index, id, String::new());
        }
        if let Open::Reasoning(index, id, text) = &mut self.open {
            text.push_str(&t);
            let ev = StreamEvent::ReasoningDelta {
                item_id: id.clone(),
                output_index: *index,
                content_index: 0,
                delta: t,
            };
            self.push(out, ev);
        }
    }

    fn calls(&mut self, out: &mut Vec<Sequenced>, calls: Vec<ToolCall>) {
        self.close(out);
        for c in calls {
            let index = self.output.len();
            let done = call_item(c, &self.custom);
            let (delta, finished) = match &done {
                Item::FunctionCall {
                    id,
                    name,
                    arguments,
                    ..
                } => (
                    StreamEvent::ArgsDelta {
                        item_id: id.clone(),
                        output_index: index,
                        delta: arguments.clone(),
                    },
                    StreamEvent::ArgsDone {
                        item_id: id.clone(),
                        output_index: index,
                        name: name.clone(),
                        arguments: arguments.clone(),
                    },
                ),
                Item::CustomToolCall { id, input, .. } => (
                    StreamEvent::CustomDelta {
                        item_id: id.clone(),
                        output_index: index,
                        delta: input.clone(),
                    },
                    StreamEvent::CustomDone {
                        item_id: id.clone(),
                        output_index: index,
                        input: input.clone(),
                    },
                ),
                Item::Message { .. } | Item::Reasoning { .. } => continue,
            };
            let item = done.started();
            self.push(
                out,
                StreamEvent::ItemAdded {
                    output_index: index,
                    item,
                },
            );
            self.push(out, delta);
            self.push(out, finished);
            self.output.push(done.clone());
            self.push(
                out,
                StreamEvent::ItemDone {
                    output_index: index,
                    item: done,
                },
            );
        }
    }
}

impl frame::Encoder for Encoder {
    type Frame = Sequenced;
    type Whole = ResponseObject;

    /// The whole answer (`stream: false`).
    fn whole(mut self, out: Outcome) -> ResponseObject {
        if !out.thinking.is_empty() {
            self.output
                .push(Item::reasoning(new_id("rs"), out.thinking));
        }
        if !out.text.is_empty() || out.tool_calls.is_empty() {
            self.output.push(Item::message(new_id("msg"), out.text));
        }
        for c in out.tool_calls {
            let item = call_item(c, &self.custom);
            self.output.push(item);
        }
        self.finished(&out.done)
    }

    fn head(&mut self) -> Vec<Sequenced> {
        let mut out = Vec::new();
        let response = self.shell.clone();
        self.push(&mut out, StreamEvent::Created { response });
        let response = self.shell.clone();
        self.push(&mut out, StreamEvent::InProgress { response });
        out
    }

    fn event(&mut self, ev: Event) -> Vec<Sequenced> {
        let mut out = Vec::new();
        match ev {
            Event::Text(t) => self.text(&mut out, t),
            Event::Thinking(t) => self.thinking(&mut out, t),
            Event::ToolCalls(calls) => self.calls(&mut out, calls),
            Event::Done(d) => {
                self.close(&mut out);
                let response = self.finished(&d);
                let ev = if response.status == "completed" {
                    StreamEvent::Completed { response }
                } else {
                    StreamEvent::Incomplete { response }
                };
                self.push(&mut out, ev);
            }
            Event::Error(e) => {
                self.close(&mut out);
                let mut response = self.shell.clone();
                response.status = "failed";
                response.error = Some(json!({"code": e.code(), "message": e.public_message()}));
                response.output = std::mem::take(&mut self.output);
                self.push(&mut out, StreamEvent::Failed { response });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Stats;
    use crate::wire::frame::Encoder as _;

    fn encoder() -> Encoder {
        let req: ResponsesRequest =
            serde_json::from_value(json!({"model": "m", "input": "x"})).unwrap();
        Encoder::new(&req)
    }

    fn done(finish: Finish) -> Done {
        Done {
            finish: Some(finish),
            stats: Stats {
                prompt_tokens: 10,
                cached_tokens: 4,
                eval_tokens: 3,
                ..Stats::default()
            },
            ..Done::default()
        }
    }

    fn types(frames: &[Sequenced]) -> Vec<String> {
        frames
            .iter()
            .map(|f| {
                serde_json::to_value(f).unwrap()["type"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn stream_of_text_then_a_call() {
        let mut e = encoder();
        let mut frames = e.head();
        frames.extend(e.event(Event::Thinking("hm".into())));
        frames.extend(e.event(Event::Text("He".into())));
        frames.extend(e.event(Event::Text("llo".into())));
        let mut args = serde_json::Map::new();
        args.insert("cmd".into(), json!("ls"));
        frames.extend(e.event(Event::ToolCalls(vec![ToolCall {
            name: "shell".into(),
            arguments: args,
        }])));
        frames.extend(e.event(Event::Done(done(Finish::Stop))));
        assert_eq!(
            types(&frames),
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.reasoning_text.delta",
                "response.reasoning_text.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ]
        );
        let seqs: Vec<u64> = frames.iter().map(|f| f.sequence_number).collect();
        assert_eq!(seqs, (0..frames.len() as u64).collect::<Vec<_>>());
        let last = serde_json::to_value(frames.last().unwrap()).unwrap();
        let r = &last["response"];
        assert_eq!(r["status"], "completed");
        assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 4);
        assert_eq!(r["usage"]["total_tokens"], 13);
        assert_eq!(r["output"][1]["content"][0]["text"], "Hello");
        assert_eq!(r["output"][2]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(
            r["output"][1]["id"],
            serde_json::to_value(&frames[6]).unwrap()["item"]["id"]
        );
    }

    #[test]
    fn freeform_tool_calls_are_custom_tool_call_items() {
        let req: ResponsesRequest = serde_json::from_value(json!({"model": "m", "input": "x",
            "tools": [{"type": "custom", "name": "apply_patch", "format": {"type": "grammar"}}]}))
        .unwrap();
        let patch = "*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch";
        let mut args = serde_json::Map::new();
        args.insert("input".into(), json!(patch));
        let call = ToolCall {
            name: "apply_patch".into(),
            arguments: args,
        };
        let r = serde_json::to_value(Encoder::new(&req).whole(Outcome {
            tool_calls: vec![call.clone()],
            done: done(Finish::Stop),
            ..Outcome::default()
        }))
        .unwrap();
        assert_eq!(r["output"][0]["type"], "custom_tool_call");
        assert_eq!(r["output"][0]["input"], patch);
        let mut e = Encoder::new(&req);
        let frames = e.event(Event::ToolCalls(vec![call]));
        assert_eq!(
            types(&frames),
            [
                "response.output_item.added",
                "response.custom_tool_call_input.delta",
                "response.custom_tool_call_input.done",
                "response.output_item.done",
            ]
        );
    }

    #[test]
    fn whole_answer_cut_short_is_incomplete() {
        let r = encoder().whole(Outcome {
            text: "abc".into(),
            done: done(Finish::Length),
            ..Outcome::default()
        });
        let v = serde_json::to_value(r).unwrap();
        assert_eq!(v["status"], "incomplete");
        assert_eq!(v["incomplete_details"]["reason"], "max_output_tokens");
        assert_eq!(v["output"][0]["type"], "message");
        assert_eq!(v["output"][0]["content"][0]["type"], "output_text");
    }
}
