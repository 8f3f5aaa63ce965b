//! Framings (NDJSON lines, server-sent events) and the one streamer every streaming endpoint
//! uses: it pulls the service's events, lets the protocol's [`Encoder`] turn each into response
//! objects, frames them, and releases the slot as soon as the generation has ended (before the
//! last frames go out).
use std::collections::VecDeque;
use std::convert::Infallible;

use futures_util::Stream;
use serde::Serialize;

use crate::service::running::{Event, Running};

/// How response objects are framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// One JSON object per line (Ollama).
    Ndjson,
    /// `data: {json}\n\n` events; `done_marker` ends the stream with `data: [DONE]` (OpenAI).
    Sse {
        /// Send `data: [DONE]` last.
        done_marker: bool,
    },
    /// `event: {type}\ndata: {json}\n\n`, the event named by the object's `type` (Anthropic).
    SseNamed,
}

impl Framing {
    /// The content type of a body in this framing.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Framing::Ndjson => "application/x-ndjson",
            Framing::Sse { .. } | Framing::SseNamed => "text/event-stream",
        }
    }

    /// One framed object.
    pub(crate) fn frame(self, v: &impl Serialize) -> Vec<u8> {
        let json = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
        match self {
            Framing::Ndjson => {
                let mut b = json;
                b.push(b'\n');
                b
            }
            Framing::Sse { .. } => {
                let mut b = Vec::with_capacity(json.len() + 8);
                b.extend_from_slice(b"data: ");
                b.extend(json);
                b.extend_from_slice(b"\n\n");
                b
            }
            Framing::SseNamed => {
                let name = serde_json::from_slice::<serde_json::Value>(&json)
                    .ok()
                    .and_then(|v| v.get("type")?.as_str().map(str::to_string))
                    .unwrap_or_else(|| "message".into());
                let mut b = format!("event: {name}\ndata: ").into_bytes();
                b.extend(json);
                b.extend_from_slice(b"\n\n");
                b
            }
        }
    }

    /// A keep-alive without an object: an SSE comment, which every SSE parser skips; nothing
    /// for NDJSON (Ollama's clients wait).
    fn keepalive(self) -> Option<&'static [u8]> {
        match self {
            Framing::Ndjson => None,
            Framing::Sse { .. } | Framing::SseNamed => Some(b": keep-alive\n\n"),
        }
    }

    /// What follows the last object.
    fn end(self) -> Option<Vec<u8>> {
        match self {
            Framing::Sse { done_marker: true } => Some(b"data: [DONE]\n\n".to_vec()),
            _ => None,
        }
    }
}

/// A protocol's view of a generation: the objects of its stream, or its whole answer.
pub(crate) trait Encoder: Send + 'static {
    /// The response object type.
    type Frame: Serialize;
    /// The whole answer's type (`stream: false`).
    type Whole: Serialize;
    /// The whole answer from the collected generation.
    fn whole(self, out: crate::service::running::Outcome) -> Self::Whole;
    /// Objects sent before the first event (OpenAI's role chunk).
    fn head(&mut self) -> Vec<Self::Frame> {
        Vec::new()
    }
    /// Objects for one event (none, one or several).
    fn event(&mut self, ev: Event) -> Vec<Self::Frame>;
    /// An object that keeps a quiet stream alive (Anthropic's `ping`); `None`: the framing's
    /// own keep-alive, if it has one (an SSE comment).
    fn keepalive(&mut self) -> Option<Self::Frame> {
        None
    }
}

/// How long a stream may stay silent (a long prompt being evaluated) before a keep-alive goes
/// out: agents abort and retry a stream that shows no sign of life.
pub(crate) const KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(10);

/// The response body of a streamed generation.
pub(crate) fn stream<E: Encoder>(
    running: Running,
    mut enc: E,
    framing: Framing,
) -> impl Stream<Item = Result<Vec<u8>, Infallible>> + Send {
    let pending: VecDeque<Vec<u8>> = enc.head().iter().map(|f| framing.frame(f)).collect();
    let state = (Some(running), enc, pending, false);
    futures_util::stream::unfold(
        state,
        move |(mut running, mut enc, mut pending, mut ended)| async move {
            loop {
                if let Some(b) = pending.pop_front() {
                    return Some((Ok(b), (running, enc, pending, ended)));
                }
                let Some(r) = running.as_mut() else {
                    if ended {
                        return None;
                    }
                    ended = true;
                    pending.extend(framing.end());
                    continue;
                };
                // Framings without a keep-alive (NDJSON) wait without a timer.
                let ev = if framing.keepalive().is_none() {
                    r.next().await
                } else {
                    match tokio::time::timeout(KEEPALIVE, r.next()).await {
                        Ok(ev) => ev,
                        Err(_) => {
                            match enc.keepalive() {
                                Some(f) => pending.push_back(framing.frame(&f)),
                                None => pending.extend(framing.keepalive().map(<[u8]>::to_vec)),
                            }
                            continue;
                        }
                    }
                };
                let last = matches!(ev, None | Some(Event::Done(_) | Event::Error(_)));
                if last {
                    // Free the slot before the final objects go out.
                    running = None;
                }
                if let Some(ev) = ev {
                    pending.extend(enc.event(ev).iter().map(|f| framing.frame(f)));
                }
            }
        },
    )
}
