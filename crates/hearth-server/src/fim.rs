//! Fill-in-the-middle over HTTP: every FIM request (Ollama `suffix` or raw FIM prompts,
//! OpenAI `/v1/completions` with `suffix`, llama.cpp-style `/infill`) goes through
//! hearth-complete's autocomplete path: prefix KV reuse across keystrokes, token healing,
//! completion shaping, and superseding of a client's stale request.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::app::{event, sse, ApiJson, AppState};
use crate::backend::{FimInput, Finish, GenEvent};
use crate::error::ApiError;
use crate::gen::{self, nanos};
use crate::models;
use crate::ollama_routes::{default_stops, params};
use crate::options::{Options, StringOrVec};

/// A suggestion that takes longer than this is worthless to someone typing; what was generated
/// by then is returned (`done_reason` "length").
pub const FIM_TIME_BUDGET: Duration = Duration::from_secs(10);

/// Header an editor plugin may send to name its document; a newer request with the same
/// session supersedes an older one still running.
pub const SESSION_HEADER: &str = "x-hearth-session";

/// Who is typing where, and when the request arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionKey {
    key: String,
    order: u64,
}

/// The session header, else the client's address, plus the model: editors type in one place
/// at a time, so a newer request from the same client and model supersedes the older one (which
/// stops within one decode step; its KV stays reusable). Call it before the handler's first
/// await: it also stamps the arrival order.
pub fn session_key(s: &AppState, headers: &HeaderMap, ext: &Extensions, model: &str) -> SessionKey {
    let who = headers
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(|v| format!("session {}", v.chars().take(200).collect::<String>()))
        .or_else(|| {
            ext.get::<ConnectInfo<SocketAddr>>()
                .map(|c| format!("client {}", c.0.ip()))
        })
        .unwrap_or_else(|| "client local".into());
    SessionKey {
        key: format!("{who} | {model}"),
        order: s.fim_sessions.next.fetch_add(1, Ordering::Relaxed),
    }
}

/// A FIM request from the text before and after the cursor.
pub fn input(prefix: &str, suffix: &str, session: SessionKey) -> FimInput {
    FimInput {
        prefix: prefix.to_string(),
        suffix: suffix.to_string(),
        raw: false,
        session: Some(session.key),
        order: session.order,
        extra_files: Vec::new(),
        time_budget: Some(FIM_TIME_BUDGET),
    }
}

/// A client-built FIM prompt (Continue's `raw: true` path), sent as is.
pub fn raw_input(prompt: &str, session: SessionKey) -> FimInput {
    FimInput {
        raw: true,
        ..input(prompt, "", session)
    }
}

/// One `input_extra` entry of `/infill`.
#[derive(Debug, Clone, Deserialize)]
pub struct ExtraFile {
    #[serde(default)]
    pub filename: String,
    pub text: String,
}

/// llama.cpp server's `/infill` body (the fields hearth uses; others are ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct InfillRequest {
    /// Which installed model; optional when only one is installed.
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub input_prefix: String,
    #[serde(default)]
    pub input_suffix: String,
    /// Other files for repository-level context.
    #[serde(default)]
    pub input_extra: Vec<ExtraFile>,
    /// Text typed on the current line (appended to `input_prefix`).
    #[serde(default)]
    pub prompt: String,
    pub n_predict: Option<i64>,
    pub temperature: Option<f32>,
    pub top_k: Option<i64>,
    pub top_p: Option<f32>,
    pub min_p: Option<f32>,
    pub repeat_penalty: Option<f32>,
    pub seed: Option<i64>,
    pub stop: Option<StringOrVec>,
    /// Time budget in milliseconds (llama.cpp's name).
    pub t_max_predict_ms: Option<u64>,
    #[serde(default)]
    pub stream: bool,
}

/// Most `input_extra` files accepted.
const MAX_EXTRA_FILES: usize = 64;

fn infill_model(s: &AppState, req: &InfillRequest) -> Result<String, ApiError> {
    if !req.model.is_empty() {
        return Ok(req.model.clone());
    }
    let all = s
        .stores
        .list_all()
        .map_err(|e| ApiError::internal(e.to_string()))?;
    match all.as_slice() {
        [one] => Ok(one.name.display_shortest()),
        [] => Err(ApiError::bad_request("no model installed")),
        _ => Err(ApiError::bad_request(
            "\"model\" is required when more than one model is installed",
        )),
    }
}

/// `POST /infill`: llama.cpp server's fill-in-the-middle endpoint.
pub async fn infill(
    State(s): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    ApiJson(req): ApiJson<InfillRequest>,
) -> Result<Response, ApiError> {
    if req.input_extra.len() > MAX_EXTRA_FILES {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_EXTRA_FILES} input_extra files, got {}",
            req.input_extra.len()
        )));
    }
    let name = infill_model(&s, &req)?;
    let session = session_key(&s, &headers, &ext, &name);
    let opts = Options {
        num_predict: req.n_predict,
        temperature: req.temperature,
        top_k: req.top_k,
        top_p: req.top_p,
        min_p: req.min_p,
        repeat_penalty: req.repeat_penalty,
        seed: req.seed,
        stop: req.stop.clone(),
        ..Options::default()
    }
    .check()?;
    let (entry, _) = models::resolve(&s.stores, &name)?;
    let info = s.prompt_info(&entry.path).await?;
    let prefix = format!("{}{}", req.input_prefix, req.prompt);
    // Also the 400 for a model without FIM tokens, and the text the size check counts.
    let rendered = info.render_fim(&name, &prefix, &req.input_suffix)?;
    let mut p = params(rendered, &opts, default_stops(&entry), &[], None);
    let mut fim = input(&prefix, &req.input_suffix, session);
    fim.extra_files = req
        .input_extra
        .iter()
        .map(|f| (f.filename.clone(), f.text.clone()))
        .collect();
    if let Some(ms) = req.t_max_predict_ms.filter(|&ms| ms > 0) {
        fim.time_budget = Some(Duration::from_millis(ms.min(600_000)));
    }
    p.fim = Some(fim);
    let running = gen::start(&s, &entry, opts.num_ctx, None, p).await?;
    let started = running.started;
    let final_object = move |text: &str, finish: Option<Finish>, st: &crate::backend::Stats| {
        json!({
            "content": text,
            "model": name,
            "stop": true,
            "stop_type": match finish {
                Some(Finish::Length | Finish::ContextFull) => "limit",
                Some(Finish::Cancelled) => "cancelled",
                _ => "eos",
            },
            "tokens_predicted": st.eval_tokens,
            "tokens_evaluated": st.prompt_tokens,
            "tokens_cached": st.cached_tokens,
            "timings": {
                "prompt_n": st.prompt_tokens.saturating_sub(st.cached_tokens),
                "prompt_ms": nanos(st.prompt_eval) as f64 / 1e6,
                "predicted_n": st.eval_tokens,
                "predicted_ms": nanos(st.eval) as f64 / 1e6,
                "total_ms": nanos(started.elapsed()) as f64 / 1e6,
            },
        })
    };
    if !req.stream {
        let out = running.collect().await?;
        return Ok(Json(final_object(&out.text, out.finish, &out.stats)).into_response());
    }
    // Streamed as llama.cpp does: `data: {"content": ...}` events, the last with `stop: true`.
    let body = stream::unfold(Some(running), move |r| {
        let final_object = final_object.clone();
        async move {
            let mut r = r?;
            let ev: Value = match r.next().await? {
                GenEvent::Text(t) => json!({"content": t, "stop": false}),
                GenEvent::Done(f, st) => {
                    let v = final_object("", Some(f), &st);
                    return Some((Ok::<_, std::convert::Infallible>(event(&v)), None));
                }
                GenEvent::Error(e) => {
                    let v = json!({"error": {"code": 500, "message": e, "type": "server_error"}});
                    return Some((Ok(event(&v)), None));
                }
            };
            Some((Ok(event(&ev)), Some(r)))
        }
    });
    Ok(sse(body))
}

/// Autocomplete requests in flight per session key. A newer request supersedes the older one
/// whether the older one is still queued for a slot (it answers at once, with nothing) or
/// generating (it is cancelled within one decode step, its KV kept for reuse).
#[derive(Debug, Default)]
pub struct Sessions {
    next: AtomicU64,
    live: Mutex<HashMap<String, (u64, Arc<Notify>)>>,
}

/// One request's registration; dropping it forgets the request.
pub struct SessionTicket {
    state: AppState,
    key: String,
    id: u64,
    /// Signalled when a newer request of the same session arrives.
    pub superseded: Arc<Notify>,
}

impl Sessions {
    /// Register request `order` for `key`, superseding an older one in flight; a request that
    /// a newer one has already overtaken comes back superseded at once.
    pub fn begin(&self, state: &AppState, key: String, order: u64) -> SessionTicket {
        let superseded = Arc::new(Notify::new());
        if let Ok(mut live) = self.live.lock() {
            match live.get(&key) {
                Some((newer, _)) if *newer > order => superseded.notify_one(),
                _ => {
                    if let Some((_, old)) = live.insert(key.clone(), (order, superseded.clone())) {
                        // Stores a permit when the old request is not waiting on it right now.
                        old.notify_one();
                    }
                }
            }
        }
        SessionTicket {
            state: state.clone(),
            key,
            id: order,
            superseded,
        }
    }

    /// Sessions with a request in flight.
    pub fn len(&self) -> usize {
        self.live.lock().map_or(0, |l| l.len())
    }

    /// No request in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for SessionTicket {
    fn drop(&mut self) {
        if let Ok(mut live) = self.state.fim_sessions.live.lock() {
            if live.get(&self.key).is_some_and(|(i, _)| *i == self.id) {
                live.remove(&self.key);
            }
        }
    }
}
