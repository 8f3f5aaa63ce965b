//! One upstream attempt, on its own thread (the HTTP client blocks): send the redacted body,
//! report the first event (or why there was none) so the caller may still fall back, then
//! stream the rest as the service's events. A client that goes away drops the receiver; the
//! next send fails and the connection is dropped.
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_redact::Restorer;
use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;

use super::audit::{cost, Audit, Record};
use super::openai::{restored, stats, Chunk, StreamError};
use super::{anthropic, openai};
use crate::backend::Finish;
use crate::service::error::ServiceError;
use crate::service::running::{Done, Event};

/// The most an upstream's reply may carry, in bytes.
pub(crate) const MAX_REPLY: u64 = 64 << 20;

/// Why an attempt failed before its first event.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) what: String,
    pub(crate) retry_after: Option<Duration>,
}

/// The event reader of an upstream's protocol.
pub(crate) enum Reader {
    OpenAi(openai::Reader),
    Anthropic(anthropic::Reader),
}

impl Reader {
    fn line(&mut self, line: &str) -> Result<Option<Chunk>, StreamError> {
        match self {
            Reader::OpenAi(r) => r.line(line),
            Reader::Anthropic(r) => r.line(line),
        }
    }

    fn tool_calls(&mut self) -> Result<Vec<crate::service::tools::ToolCall>, StreamError> {
        match self {
            Reader::OpenAi(r) => r.tool_calls(),
            Reader::Anthropic(r) => r.tool_calls(),
        }
    }
}

pub(crate) struct Attempt {
    pub(crate) agent: ureq::Agent,
    pub(crate) kind: hearth_route::UpstreamKind,
    pub(crate) url: String,
    pub(crate) key: Option<String>,
    pub(crate) body: Vec<u8>,
    pub(crate) text: Restorer,
    pub(crate) thinking: Restorer,
    /// Check the answer's code blocks at the end.
    pub(crate) check: bool,
    pub(crate) price: Option<hearth_route::Price>,
    pub(crate) started: Instant,
    pub(crate) first: Option<oneshot::Sender<Result<(), Fail>>>,
    pub(crate) events: UnboundedSender<Event>,
    pub(crate) record: Record,
    pub(crate) audit: Arc<Audit>,
}

/// How a stream ended, for the record.
enum End {
    Ok,
    Failed(String),
    Cancelled,
}

impl Attempt {
    pub(crate) fn run(mut self) {
        let t0 = Instant::now();
        let end = self.stream(t0);
        let r = &mut self.record;
        r.total_ms = millis(t0.elapsed());
        r.cost_usd = cost(self.price, r.prompt_tokens, r.completion_tokens);
        match end {
            End::Ok => {
                r.status = "ok".into();
                r.fallback = None;
            }
            End::Cancelled => r.status = "cancelled".into(),
            End::Failed(why) => r.status = why,
        }
        self.audit.write(&self.record);
    }

    /// Before the first event: tell the caller, who may fall back. After: an error event.
    fn fail(&mut self, status: String, what: String, retry_after: Option<Duration>) -> End {
        match self.first.take() {
            Some(tx) => {
                let _ = tx.send(Err(Fail { what, retry_after }));
            }
            None => {
                // After the first event there is no fallback.
                self.record.fallback = None;
                let _ = self
                    .events
                    .send(Event::Error(ServiceError::Upstream(format!(
                        "the upstream model failed mid-answer: {what}"
                    ))));
            }
        }
        End::Failed(status)
    }

    fn send(&mut self, ev: Event) -> bool {
        self.events.send(ev).is_ok()
    }

    fn stream(&mut self, t0: Instant) -> End {
        let mut req = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream");
        let anthropic = self.kind == hearth_route::UpstreamKind::Anthropic;
        if anthropic {
            req = req.header("anthropic-version", anthropic::VERSION);
        }
        match (&self.key, anthropic) {
            (Some(k), true) => req = req.header("x-api-key", k.as_str()),
            (Some(k), false) => req = req.header("authorization", format!("Bearer {k}")),
            (None, _) => {}
        }
        let resp = match req.send(&self.body[..]) {
            Ok(r) => r,
            Err(e) => return self.fail("connect".into(), format!("connecting: {e}"), None),
        };
        let status = resp.status().as_u16();
        if status != 200 {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let mut head = String::new();
            let _ = resp
                .into_body()
                .into_reader()
                .take(2048)
                .read_to_string(&mut head);
            // The upstream's words go to the log, not to the client.
            tracing::warn!(url = %self.url, status, body = %head, "upstream refused");
            return self.fail(
                format!("http {status}"),
                format!("HTTP status {status}"),
                retry_after,
            );
        }
        let mut lines = BufReader::new(resp.into_body().into_reader().take(MAX_REPLY));
        let mut reader = if anthropic {
            Reader::Anthropic(anthropic::Reader::default())
        } else {
            Reader::OpenAi(openai::Reader::default())
        };
        let mut line = String::new();
        let (mut finish, mut usage, mut answer) = (None, None, String::new());
        let mut done = false;
        let mut first_at = None;
        loop {
            line.clear();
            match lines.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => return self.fail("stream".into(), format!("reading: {e}"), None),
            }
            let chunk = match reader.line(&line) {
                Ok(Some(c)) => c,
                Ok(None) => continue,
                Err(e) => return self.fail("stream".into(), e.to_string(), None),
            };
            if let Some(tx) = self.first.take() {
                first_at = Some(t0.elapsed());
                self.record.first_event_ms = first_at.map(millis);
                if tx.send(Ok(())).is_err() {
                    // The caller gave up waiting (and fell back).
                    return End::Cancelled;
                }
            }
            if let Some(t) = restored(&mut self.thinking, &chunk.thinking) {
                if !self.send(Event::Thinking(t)) {
                    return End::Cancelled;
                }
            }
            if let Some(t) = restored(&mut self.text, &chunk.text) {
                if self.check {
                    answer.push_str(&t);
                }
                if !self.send(Event::Text(t)) {
                    return End::Cancelled;
                }
            }
            finish = chunk.finish.or(finish);
            if let Some((p, c)) = chunk.usage {
                usage = Some((p, c));
                self.record.prompt_tokens = Some(p);
                self.record.completion_tokens = Some(c);
            }
            if chunk.done {
                done = true;
                break;
            }
        }
        if self.first.is_some() {
            return self.fail("empty".into(), "an empty reply".into(), None);
        }
        if finish.is_none() && !done {
            return self.fail(
                "stream".into(),
                "the stream ended before the answer did".into(),
                None,
            );
        }
        let thinking = self.thinking.finish();
        if !thinking.is_empty() && !self.send(Event::Thinking(thinking)) {
            return End::Cancelled;
        }
        let rest = self.text.finish();
        answer.push_str(&rest);
        if !rest.is_empty() && !self.send(Event::Text(rest)) {
            return End::Cancelled;
        }
        match reader.tool_calls() {
            Ok(calls) if calls.is_empty() => {}
            Ok(calls) => {
                if !self.send(Event::ToolCalls(calls)) {
                    return End::Cancelled;
                }
            }
            Err(e) => return self.fail("stream".into(), e.to_string(), None),
        }
        let check = self
            .check
            .then(|| hearth_codecheck::check_markdown(&answer, None));
        let done = Done {
            finish: Some(finish.unwrap_or(Finish::Stop)),
            stats: stats(usage, first_at.unwrap_or_default(), t0.elapsed()),
            total: self.started.elapsed(),
            load: Duration::ZERO,
            context: None,
            truncated: None,
            check,
            reasoning_tokens: 0,
        };
        if !self.send(Event::Done(done)) {
            return End::Cancelled;
        }
        End::Ok
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
