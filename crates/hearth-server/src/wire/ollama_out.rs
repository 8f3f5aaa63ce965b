//! Ollama's answer objects for a generation: `response` pieces (generate) or `message`
//! pieces (chat), thinking in its own field, then a final object with the stats.
use std::time::SystemTime;

use crate::service::running::{Event, Outcome};
use crate::service::tools::ToolCall as ServiceToolCall;
use crate::wire::frame;
use crate::wire::ollama::{ChatResponse, Final, GenerateResponse, Message, StreamObject};
use crate::wire::ollama_models::rfc3339;

/// Ollama's objects for a generation: `response` pieces (generate) or `message` pieces (chat),
/// then a final object with the stats.
pub(crate) struct Encoder {
    model: String,
    chat: bool,
}

impl Encoder {
    pub(crate) fn new(model: &str, chat: bool) -> Self {
        Encoder {
            model: model.to_string(),
            chat,
        }
    }

    fn piece(
        &self,
        text: String,
        thinking: Option<String>,
        calls: Vec<ServiceToolCall>,
    ) -> StreamObject {
        let (model, created_at) = (self.model.clone(), rfc3339(SystemTime::now()));
        if self.chat {
            let mut message = Message::assistant(text, calls);
            message.thinking = thinking;
            StreamObject::Chat(ChatResponse {
                model,
                created_at,
                message,
                done: false,
                last: None,
            })
        } else {
            StreamObject::Generate(GenerateResponse {
                model,
                created_at,
                response: text,
                thinking,
                done: false,
                last: None,
            })
        }
    }
}

impl StreamObject {
    fn finish(&mut self, last: Final) {
        match self {
            StreamObject::Generate(g) => {
                g.done = true;
                g.last = Some(last);
            }
            StreamObject::Chat(c) => {
                c.done = true;
                c.last = Some(last);
            }
            StreamObject::Error { .. } => {}
        }
    }
}

impl frame::Encoder for Encoder {
    type Frame = StreamObject;
    type Whole = StreamObject;

    /// The whole answer as one object (`stream: false`).
    fn whole(self, out: Outcome) -> StreamObject {
        let thinking = Some(out.thinking).filter(|t| !t.is_empty());
        let mut o = self.piece(out.text, thinking, out.tool_calls);
        o.finish(Final::of(out.done));
        o
    }

    fn event(&mut self, ev: Event) -> Vec<StreamObject> {
        match ev {
            Event::Text(t) => vec![self.piece(t, None, Vec::new())],
            Event::Thinking(t) => vec![self.piece(String::new(), Some(t), Vec::new())],
            Event::ToolCalls(calls) => vec![self.piece(String::new(), None, calls)],
            Event::Done(d) => {
                let mut o = self.piece(String::new(), None, Vec::new());
                o.finish(Final::of(d));
                vec![o]
            }
            Event::Error(e) => vec![StreamObject::Error {
                error: e.public_message(),
                code: e.code(),
            }],
        }
    }
}
