//! llama.cpp server's `/infill`: request, response and stream objects.
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::Finish;
use crate::service::error::ServiceError;
use crate::service::options::{Options, StringOrVec};
use crate::service::request::{GenRequest, Input};
use crate::service::running::{Done, Event, Outcome};
use crate::service::sessions::SessionKey;
use crate::wire::frame;

/// Most `input_extra` files accepted.
const MAX_EXTRA_FILES: usize = 64;

/// One `input_extra` entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ExtraFile {
    #[serde(default)]
    pub(crate) filename: String,
    pub(crate) text: String,
}

/// The `/infill` body (the fields hearth uses; others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct InfillRequest {
    /// Which installed model; optional when only one is installed.
    #[serde(default)]
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) input_prefix: String,
    #[serde(default)]
    pub(crate) input_suffix: String,
    /// Other files for repository-level context.
    #[serde(default)]
    pub(crate) input_extra: Vec<ExtraFile>,
    /// Text typed on the current line (appended to `input_prefix`).
    #[serde(default)]
    pub(crate) prompt: String,
    pub(crate) n_predict: Option<i64>,
    pub(crate) temperature: Option<f32>,
    pub(crate) top_k: Option<i64>,
    pub(crate) top_p: Option<f32>,
    pub(crate) min_p: Option<f32>,
    pub(crate) repeat_penalty: Option<f32>,
    pub(crate) seed: Option<i64>,
    pub(crate) stop: Option<StringOrVec>,
    /// Time budget in milliseconds (llama.cpp's name).
    pub(crate) t_max_predict_ms: Option<u64>,
    #[serde(default)]
    pub(crate) stream: bool,
}

impl InfillRequest {
    /// The service request for `model`, superseding earlier requests of `session`.
    pub(crate) fn to_gen(
        &self,
        model: &str,
        session: SessionKey,
    ) -> Result<GenRequest, ServiceError> {
        if self.input_extra.len() > MAX_EXTRA_FILES {
            return Err(ServiceError::Invalid(format!(
                "at most {MAX_EXTRA_FILES} input_extra files, got {}",
                self.input_extra.len()
            )));
        }
        let time_budget = match self.t_max_predict_ms.filter(|&ms| ms > 0) {
            Some(ms) => Duration::from_millis(ms.min(600_000)),
            None => crate::service::FIM_TIME_BUDGET,
        };
        let input = Input::Fim {
            prefix: format!("{}{}", self.input_prefix, self.prompt),
            suffix: self.input_suffix.clone(),
            extra_files: self
                .input_extra
                .iter()
                .map(|f| (f.filename.clone(), f.text.clone()))
                .collect(),
            time_budget,
            session,
        };
        let mut g = GenRequest::new(model, input);
        g.options = Options {
            num_predict: self.n_predict,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repeat_penalty: self.repeat_penalty,
            seed: self.seed,
            stop: self.stop.clone(),
            ..Options::default()
        };
        Ok(g)
    }
}

/// `timings` of a final object.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Timings {
    pub(crate) prompt_n: u32,
    pub(crate) prompt_ms: f64,
    pub(crate) predicted_n: u32,
    pub(crate) predicted_ms: f64,
    pub(crate) total_ms: f64,
}

/// The final object (or the whole answer with `stream: false`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InfillResponse {
    pub(crate) content: String,
    pub(crate) model: String,
    pub(crate) stop: bool,
    pub(crate) stop_type: &'static str,
    pub(crate) tokens_predicted: u32,
    pub(crate) tokens_evaluated: u32,
    pub(crate) tokens_cached: u32,
    pub(crate) timings: Timings,
}

/// An object of the `/infill` stream.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub(crate) enum InfillFrame {
    Piece { content: String, stop: bool },
    Final(InfillResponse),
    Error { error: InfillError },
}

/// llama.cpp's error object.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct InfillError {
    pub(crate) code: u16,
    pub(crate) message: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// `/infill` answers as llama.cpp's server writes them.
pub(crate) struct Encoder {
    model: String,
}

impl Encoder {
    pub(crate) fn new(model: &str) -> Self {
        Encoder {
            model: model.to_string(),
        }
    }

    fn last(&self, content: String, d: &Done) -> InfillResponse {
        let st = &d.stats;
        InfillResponse {
            content,
            model: self.model.clone(),
            stop: true,
            stop_type: match d.finish {
                Some(Finish::Length | Finish::ContextFull) => "limit",
                Some(Finish::Cancelled) => "cancelled",
                _ => "eos",
            },
            tokens_predicted: st.eval_tokens,
            tokens_evaluated: st.prompt_tokens,
            tokens_cached: st.cached_tokens,
            timings: Timings {
                prompt_n: st.prompt_tokens.saturating_sub(st.cached_tokens),
                prompt_ms: ms(st.prompt_eval),
                predicted_n: st.eval_tokens,
                predicted_ms: ms(st.eval),
                total_ms: ms(d.total),
            },
        }
    }
}

impl frame::Encoder for Encoder {
    type Frame = InfillFrame;
    type Whole = InfillResponse;

    /// The whole answer (`stream: false`).
    fn whole(self, out: Outcome) -> InfillResponse {
        self.last(out.text, &out.done)
    }

    fn event(&mut self, ev: Event) -> Vec<InfillFrame> {
        match ev {
            Event::Text(content) => vec![InfillFrame::Piece {
                content,
                stop: false,
            }],
            Event::ToolCalls(_) | Event::Thinking(_) => Vec::new(),
            Event::Done(d) => vec![InfillFrame::Final(self.last(String::new(), &d))],
            Event::Error(e) => vec![InfillFrame::Error {
                error: InfillError {
                    code: 500,
                    message: e.public_message(),
                    kind: "server_error",
                },
            }],
        }
    }
}
