//! Ollama API handlers.
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::stream;
use serde_json::{json, Value};

use crate::app::{line, ndjson, ApiJson, AppState};
use crate::backend::{GenEvent, GenParams, ModelEntry, Runner};
use crate::error::ApiError;
use crate::gen::{self, nanos, Running};
use crate::grammar;
use crate::models::{self, details};
use crate::ollama_types::*;
use crate::options::Checked;
use crate::tools::{parse_tool_calls, ToolHold};

fn require_model(model: &Option<String>, name: &Option<String>) -> Result<String, ApiError> {
    model_name(model, name).ok_or_else(|| ApiError::bad_request("model is required"))
}

fn now() -> String {
    rfc3339(SystemTime::now())
}

/// Stop strings from the model's parameters (`stop` may be a string or a list).
pub fn default_stops(entry: &ModelEntry) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in &entry.parameters {
        if k == "stop" {
            match v {
                Value::String(s) => out.push(s.clone()),
                Value::Array(a) => {
                    out.extend(a.iter().filter_map(Value::as_str).map(str::to_string))
                }
                _ => {}
            }
        }
    }
    out
}

/// Build the engine parameters: the request's stop strings replace the model's defaults (as in
/// Ollama, request options override Modelfile parameters). FIM end markers are the autocomplete
/// path's business (hearth-complete stops on them).
pub fn params(
    prompt: String,
    opts: &Checked,
    model_stops: Vec<String>,
    grammar: Option<String>,
) -> GenParams {
    let stop = if opts.stop.is_empty() {
        model_stops
    } else {
        opts.stop.clone()
    };
    GenParams {
        prompt,
        add_bos: false,
        sampling: opts.sampling.clone(),
        max_tokens: opts.max_tokens,
        stop,
        grammar,
        fim: None,
        context: Vec::new(),
    }
}

fn format_grammar(format: &Option<Value>) -> Result<Option<String>, ApiError> {
    match format {
        None => Ok(None),
        Some(f) => grammar::for_ollama_format(f).map_err(|e| ApiError::bad_request(e.to_string())),
    }
}

fn resolve(s: &AppState, name: &str) -> Result<ModelEntry, ApiError> {
    models::resolve(&s.stores, name).map(|(e, _)| e)
}

fn final_fields(
    obj: &mut serde_json::Map<String, Value>,
    r: &Running,
    reason: &str,
    st: &crate::backend::Stats,
) {
    obj.insert("done".into(), json!(true));
    obj.insert("done_reason".into(), json!(reason));
    obj.insert("total_duration".into(), json!(nanos(r.started.elapsed())));
    obj.insert("load_duration".into(), json!(nanos(r.load_duration)));
    obj.insert("prompt_eval_count".into(), json!(st.prompt_tokens));
    obj.insert("prompt_eval_duration".into(), json!(nanos(st.prompt_eval)));
    obj.insert("eval_count".into(), json!(st.eval_tokens));
    obj.insert("eval_duration".into(), json!(nanos(st.eval)));
}

/// Turn a running generation into an NDJSON stream (`chat`: `message` objects, else
/// `response`); with `tools`, content is held while the output may be a tool call.
/// What the final object of a stream carries beside the stats.
struct StreamEnd {
    /// `check`: insecure-code findings over the whole answer.
    check: bool,
    /// `context`: earlier tokens and this prompt, tokenized with the answer by the runner.
    memory: Option<Memory>,
}

/// Ollama's conversational memory for one generate request.
struct Memory {
    /// The request's `context` tokens.
    prior: Vec<i32>,
    /// The rendered prompt.
    prompt: String,
    /// The loaded model, to tokenize with.
    runner: Arc<dyn Runner>,
}

impl Memory {
    /// The reply's `context`: the earlier tokens, then this prompt and answer tokenized.
    fn context(&self, answer: &str) -> Result<Value, ApiError> {
        let mut tokens = self.prior.clone();
        tokens.extend(
            self.runner
                .tokenize(&format!("{}{answer}", self.prompt))
                .map_err(|e| ApiError::internal(e.to_string()))?,
        );
        Ok(json!(tokens))
    }
}

fn stream_response(
    running: Running,
    model: String,
    chat: bool,
    tools: bool,
    end: StreamEnd,
) -> Response {
    let end = Arc::new(end);
    let check = end.check;
    let keep = end.check || end.memory.is_some();
    let st = (Some(running), ToolHold::default(), String::new());
    let s = stream::unfold(st, move |(r, mut hold, mut all)| {
        let model = model.clone();
        let end = end.clone();
        async move {
            let mut r = r?;
            loop {
                match r.next().await {
                    Some(GenEvent::Text(mut t)) => {
                        if keep {
                            all.push_str(&t);
                        }
                        if tools {
                            t = hold.push(&t);
                            if t.is_empty() {
                                continue;
                            }
                        }
                        let mut o = serde_json::Map::new();
                        o.insert("model".into(), json!(model));
                        o.insert("created_at".into(), json!(now()));
                        if chat {
                            o.insert("message".into(), json!({"role": "assistant", "content": t}));
                        } else {
                            o.insert("response".into(), json!(t));
                        }
                        o.insert("done".into(), json!(false));
                        return Some((Ok(line(&Value::Object(o))), (Some(r), hold, all)));
                    }
                    Some(GenEvent::Done(f, stats)) => {
                        let mut o = serde_json::Map::new();
                        o.insert("model".into(), json!(model));
                        o.insert("created_at".into(), json!(now()));
                        let (rest, calls) = if tools {
                            hold.finish()
                        } else {
                            (String::new(), Vec::new())
                        };
                        if chat {
                            let mut msg = json!({"role": "assistant", "content": rest});
                            if !calls.is_empty() {
                                msg["tool_calls"] = json!(calls);
                            }
                            o.insert("message".into(), msg);
                        } else {
                            o.insert("response".into(), json!(rest));
                        }
                        final_fields(&mut o, &r, f.ollama(), &stats);
                        if check {
                            o.insert("check".into(), code_check(&all));
                        }
                        if let Some(m) = &end.memory {
                            match m.context(&all) {
                                Ok(c) => o.insert("context".into(), c),
                                Err(e) => o.insert("error".into(), json!(e.to_string())),
                            };
                        }
                        drop(r);
                        return Some((Ok(line(&Value::Object(o))), (None, hold, all)));
                    }
                    Some(GenEvent::Error(e)) => {
                        return Some((Ok(line(&json!({"error": e}))), (None, hold, all)))
                    }
                    None => return None,
                }
            }
        }
    });
    ndjson(s)
}

/// `POST /api/generate`.
pub async fn generate(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    ext: axum::http::Extensions,
    ApiJson(req): ApiJson<GenerateRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    let session = crate::fim::session_key(&s, &headers, &ext, &name);
    let has_context = req.context.as_ref().is_some_and(|c| !c.is_empty());
    if req.raw
        && (req.template.as_deref().is_some_and(|t| !t.is_empty())
            || req.system.as_deref().is_some_and(|t| !t.is_empty())
            || has_context)
    {
        return Err(ApiError::bad_request(
            "raw mode does not support template, system, or context",
        ));
    }
    if req.images.as_ref().is_some_and(|i| !i.is_empty()) {
        return Err(ApiError::bad_request(format!(
            "model \"{name}\" does not support images"
        )));
    }
    if req.template.as_deref().is_some_and(|t| !t.is_empty()) {
        return Err(ApiError::bad_request(
            "custom Go templates are not supported; use raw with a formatted prompt",
        ));
    }
    let opts = req.options.clone().unwrap_or_default().check()?;
    let grammar = format_grammar(&req.format)?;
    let keep_alive = req.keep_alive.map(|k| k.0);
    let entry = resolve(&s, &name)?;
    if req.prompt.is_empty() && req.suffix.is_empty() {
        let reason = if keep_alive == Some(Some(Duration::ZERO)) {
            s.sched.unload(&entry.name);
            "unload"
        } else {
            s.sched.preload(&entry, opts.num_ctx, keep_alive).await?;
            "load"
        };
        return Ok(Json(json!({"model": name, "created_at": now(), "response": "", "done": true, "done_reason": reason}))
            .into_response());
    }
    let info = s.prompt_info(&entry.path).await?;
    let mut fim = None;
    let prompt = if req.raw {
        // Continue's raw path: a client-built FIM prompt goes through the autocomplete path.
        if info.fim.is_some() && hearth_prompt::is_raw_fim(&req.prompt) {
            fim = Some(crate::fim::raw_input(&req.prompt, session));
        }
        req.prompt.clone()
    } else if !req.suffix.is_empty() {
        // The rendering is the 400 for a model without FIM tokens and what the size check counts.
        let p = info.render_fim(&name, &req.prompt, &req.suffix)?;
        fim = Some(crate::fim::input(&req.prompt, &req.suffix, session));
        p
    } else {
        let mut msgs = Vec::new();
        if let Some(sys) = req
            .system
            .clone()
            .or(entry.system.clone())
            .filter(|x| !x.is_empty())
        {
            msgs.push(hearth_prompt::Message::system(sys));
        }
        msgs.push(hearth_prompt::Message::user(req.prompt.clone()));
        info.render_chat(msgs, None)?
    };
    if fim.is_some() && grammar.is_some() {
        return Err(ApiError::bad_request(
            "format cannot be combined with fill-in-the-middle (suffix)",
        ));
    }
    // Ollama's conversational memory: the earlier response's tokens go first, and the reply
    // carries the tokens of everything so far (none for raw and FIM requests).
    let prior = context_tokens(req.context.as_deref().unwrap_or_default())?;
    let remember = !req.raw && fim.is_none();
    let prompt_text = remember.then(|| prompt.clone());
    let mut p = params(prompt, &opts, default_stops(&entry), grammar);
    if fim.is_none() {
        p.context = prior.clone();
    }
    p.fim = fim;
    let running = gen::start(&s, &entry, opts.num_ctx, keep_alive, p).await?;
    let memory = prompt_text
        .zip(running.lease.as_ref())
        .map(|(prompt, l)| Memory {
            prior,
            prompt,
            runner: l.resident.runner.clone(),
        });
    if req.stream.unwrap_or(true) {
        let finish = StreamEnd {
            check: req.check,
            memory,
        };
        return Ok(stream_response(running, name, false, false, finish));
    }
    let started = running.started;
    let load = running.load_duration;
    let out = running.collect().await?;
    let mut o = serde_json::Map::new();
    o.insert("model".into(), json!(name));
    o.insert("created_at".into(), json!(now()));
    o.insert("response".into(), json!(out.text));
    o.insert("done".into(), json!(true));
    o.insert(
        "done_reason".into(),
        json!(out.finish.map(|f| f.ollama()).unwrap_or("stop")),
    );
    o.insert("total_duration".into(), json!(nanos(started.elapsed())));
    o.insert("load_duration".into(), json!(nanos(load)));
    o.insert("prompt_eval_count".into(), json!(out.stats.prompt_tokens));
    o.insert(
        "prompt_eval_duration".into(),
        json!(nanos(out.stats.prompt_eval)),
    );
    o.insert("eval_count".into(), json!(out.stats.eval_tokens));
    o.insert("eval_duration".into(), json!(nanos(out.stats.eval)));
    if req.check {
        o.insert("check".into(), code_check(&out.text));
    }
    if let Some(m) = &memory {
        o.insert("context".into(), m.context(&out.text)?);
    }
    Ok(Json(Value::Object(o)).into_response())
}

/// Convert Ollama messages for the chat template.
pub fn to_prompt_messages(msgs: &[Message]) -> Result<Vec<hearth_prompt::Message>, ApiError> {
    msgs.iter()
        .map(|m| {
            if m.images.as_ref().is_some_and(|i| !i.is_empty()) {
                return Err(ApiError::bad_request("this model does not support images"));
            }
            let role = m.role.to_ascii_lowercase();
            if !matches!(
                role.as_str(),
                "system" | "user" | "assistant" | "tool" | "developer"
            ) {
                return Err(ApiError::bad_request(format!(
                    "invalid message role {:?}",
                    m.role
                )));
            }
            let mut pm = hearth_prompt::Message::new(
                if role == "developer" {
                    "system".to_string()
                } else {
                    role
                },
                m.content.clone(),
            );
            pm.tool_call_id = m.tool_call_id.clone();
            pm.name = m.tool_name.clone();
            pm.tool_calls = m.tool_calls.as_ref().map(|calls| {
                calls
                    .iter()
                    .map(|c| {
                        hearth_prompt::ToolCall::function(
                            c.function.name.clone(),
                            Value::Object(c.function.arguments.clone()),
                        )
                    })
                    .collect()
            });
            Ok(pm)
        })
        .collect()
}

/// `POST /api/chat`.
pub async fn chat(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ChatRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    let opts = req.options.clone().unwrap_or_default().check()?;
    let grammar = format_grammar(&req.format)?;
    let keep_alive = req.keep_alive.map(|k| k.0);
    let mut msgs = to_prompt_messages(&req.messages)?;
    let entry = resolve(&s, &name)?;
    if msgs.is_empty() {
        let reason = if keep_alive == Some(Some(Duration::ZERO)) {
            s.sched.unload(&entry.name);
            "unload"
        } else {
            s.sched.preload(&entry, opts.num_ctx, keep_alive).await?;
            "load"
        };
        return Ok(Json(json!({"model": name, "created_at": now(),
            "message": {"role": "assistant", "content": ""}, "done": true, "done_reason": reason}))
        .into_response());
    }
    if let Some(sys) = entry.system.clone().filter(|x| !x.is_empty()) {
        if msgs.first().is_none_or(|m| m.role != "system") {
            msgs.insert(0, hearth_prompt::Message::system(sys));
        }
    }
    let info = s.prompt_info(&entry.path).await?;
    let tools: Option<Vec<Value>> = req.tools.as_ref().filter(|t| !t.is_empty()).map(|t| {
        t.iter()
            .map(|x| serde_json::to_value(x).unwrap_or(Value::Null))
            .collect()
    });
    let has_tools = tools.is_some();
    let prompt = info.render_chat(msgs, tools)?;
    let p = params(prompt, &opts, default_stops(&entry), grammar);
    let running = gen::start(&s, &entry, opts.num_ctx, keep_alive, p).await?;
    if req.stream.unwrap_or(true) {
        let finish = StreamEnd {
            check: req.check,
            memory: None,
        };
        return Ok(stream_response(running, name, true, has_tools, finish));
    }
    let started = running.started;
    let load = running.load_duration;
    let out = running.collect().await?;
    let mut msg = json!({"role": "assistant", "content": out.text});
    if has_tools {
        let (content, calls) = parse_tool_calls(&out.text);
        if !calls.is_empty() {
            msg = json!({"role": "assistant", "content": content, "tool_calls": calls});
        }
    }
    let mut o = json!({
        "model": name, "created_at": now(), "message": msg, "done": true,
        "done_reason": out.finish.map(|f| f.ollama()).unwrap_or("stop"),
        "total_duration": nanos(started.elapsed()), "load_duration": nanos(load),
        "prompt_eval_count": out.stats.prompt_tokens, "prompt_eval_duration": nanos(out.stats.prompt_eval),
        "eval_count": out.stats.eval_tokens, "eval_duration": nanos(out.stats.eval),
    });
    if req.check {
        o["check"] = code_check(&out.text);
    }
    Ok(Json(o).into_response())
}

/// Ollama's request `context`: token ids, each an i32.
fn context_tokens(ctx: &[i64]) -> Result<Vec<i32>, ApiError> {
    const MAX_CONTEXT_TOKENS: usize = 1 << 20;
    if ctx.len() > MAX_CONTEXT_TOKENS {
        return Err(ApiError::bad_request(format!(
            "context has {} tokens, more than {MAX_CONTEXT_TOKENS}",
            ctx.len()
        )));
    }
    ctx.iter()
        .map(|&t| {
            i32::try_from(t)
                .ok()
                .filter(|t| *t >= 0)
                .ok_or_else(|| ApiError::bad_request(format!("context token {t} is out of range")))
        })
        .collect()
}

/// The opt-in `"check": true`: hearth-codecheck's findings (CWE-tagged) for every fenced code
/// block of the answer, as `{"blocks": [{block, start_line, lang, findings: [...]}], "findings": N}`.
fn code_check(text: &str) -> Value {
    let blocks = hearth_codecheck::check_markdown(text, None);
    let n: usize = blocks.iter().map(|b| b.findings.len()).sum();
    json!({"blocks": blocks, "findings": n})
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?
}

/// `GET /api/tags`.
pub async fn tags(State(s): State<AppState>) -> Result<Response, ApiError> {
    let list = blocking(move || {
        let entries = s
            .stores
            .list_all()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut out = Vec::new();
        for e in entries {
            let name = e.name.display_shortest();
            let details = s
                .stores
                .resolve(&name)
                .map(|r| models::details_of(&r))
                .unwrap_or_default();
            out.push(ListModel {
                model: name.clone(),
                name,
                modified_at: rfc3339(e.modified),
                size: e.size,
                digest: e.digest.trim_start_matches("sha256:").to_string(),
                details,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    })
    .await?;
    Ok(Json(json!({ "models": list })).into_response())
}

/// `POST /api/show`.
pub async fn show(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ShowRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    let verbose = req.verbose;
    let body = blocking(move || {
        let (_, r) = models::resolve(&s.stores, &name)?;
        let show = hearth_store::ShowInfo::of(&r).map_err(|e| models::map_store_error(&name, e))?;
        let info = s.prompts.get(&r.gguf_path)?;
        let model_info = models::model_info(&r.gguf_path, verbose)?;
        let mut caps = info.capabilities();
        caps.dedup();
        Ok(json!({
            "license": show.license.join("\n"),
            "modelfile": show.modelfile,
            "parameters": show.parameters_text,
            "template": info.go_template(show.template.as_deref()),
            "system": show.system.clone().unwrap_or_default(),
            "details": details(&show),
            "model_info": model_info,
            "capabilities": caps,
            "modified_at": rfc3339(r.modified),
            // Where the model came from (null: installed before hearth recorded provenance).
            "provenance": r.provenance,
        }))
    })
    .await?;
    Ok(Json(body).into_response())
}

/// `GET /api/ps`.
pub async fn ps(State(s): State<AppState>) -> Result<Response, ApiError> {
    let models: Vec<ProcessModel> = s
        .sched
        .ps()
        .into_iter()
        .map(|p| {
            let det = s
                .stores
                .resolve(&p.name)
                .map(|r| models::details_of(&r))
                .unwrap_or_default();
            ProcessModel {
                name: p.name.clone(),
                model: p.name,
                size: p.memory_bytes,
                digest: p.entry.digest.trim_start_matches("sha256:").to_string(),
                details: det,
                // "Forever" is shown far in the future, as Ollama does.
                expires_at: rfc3339(
                    p.expires_at
                        .unwrap_or(SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799)),
                ),
                size_vram: 0,
                context_length: p.context_length,
            }
        })
        .collect();
    Ok(Json(json!({ "models": models })).into_response())
}

/// `POST /api/pull`: progress streamed as NDJSON (or one final object with `stream: false`).
pub async fn pull(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ModelRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    hearth_store::ModelName::parse(&name).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let s2 = s.clone();
    let task = tokio::task::spawn_blocking(move || {
        let opts = hearth_store::PullOptions::from_env();
        let sink = std::sync::Mutex::new(tx.clone());
        let progress = |e: &hearth_store::PullEvent| {
            if let Ok(t) = sink.lock() {
                let _ = t.send(serde_json::to_value(e).unwrap_or(Value::Null));
            }
        };
        let res = s2.stores.primary.pull(&name, &opts, &progress);
        if let Err(e) = &res {
            let _ = tx.send(json!({"error": e.to_string()}));
        }
        res.map(|_| ())
            .map_err(|e| models::map_store_error(&name, e))
    });
    if req.stream.unwrap_or(true) {
        let s = stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|v| (Ok(line(&v)), rx))
        });
        return Ok(ndjson(s));
    }
    drop(rx);
    task.await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok(Json(json!({"status": "success"})).into_response())
}

/// `POST /api/push`: not offered (hearth is a local server).
pub async fn push() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "push is not supported by hearth",
    )
}

/// `POST /api/create`: `from` a local GGUF file path or an existing model.
pub async fn create(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    if req.quantize.as_deref().is_some_and(|q| !q.is_empty()) {
        return Err(ApiError::bad_request("quantize is not supported"));
    }
    let from = match (&req.from, &req.files) {
        (Some(f), _) if !f.is_empty() => f.clone(),
        (_, Some(files)) if files.len() == 1 => files.values().next().cloned().unwrap_or_default(),
        _ => {
            return Err(ApiError::bad_request(
                "create needs `from` (a GGUF path or a model name)",
            ))
        }
    };
    let stream_it = req.stream.unwrap_or(true);
    blocking(move || {
        let dst = hearth_store::ModelName::parse(&name)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let mf = hearth_store::modelfile::Modelfile {
            commands: vec![(1, hearth_store::modelfile::Command::From(from.clone()))],
        };
        s.stores
            .primary
            .create(
                &dst,
                &mf,
                std::path::Path::new("."),
                &s.stores.extra,
                hearth_store::CreateOptions { link: false },
                &hearth_store::no_progress,
            )
            .map_err(|e| models::map_store_error(&from, e))?;
        Ok(())
    })
    .await?;
    if stream_it {
        let s = stream::iter(vec![Ok(line(&json!({"status": "success"})))]);
        return Ok(ndjson(s));
    }
    Ok(Json(json!({"status": "success"})).into_response())
}

/// `POST /api/copy`.
pub async fn copy(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CopyRequest>,
) -> Result<Response, ApiError> {
    blocking(move || {
        let src = hearth_store::ModelName::parse(&req.source)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let dst = hearth_store::ModelName::parse(&req.destination)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let (store, found) = s
            .stores
            .locate(&src)
            .ok_or_else(|| ApiError::model_not_found(&req.source))?;
        s.stores
            .primary
            .copy_from(store, &found, &dst)
            .map_err(|e| models::map_store_error(&req.source, e))
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// `DELETE /api/delete`.
pub async fn delete(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ModelRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    let s2 = s.clone();
    let shortest = blocking(move || {
        let parsed = hearth_store::ModelName::parse(&name)
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let found = s2
            .stores
            .primary
            .find(&parsed)
            .ok_or_else(|| ApiError::model_not_found(&name))?;
        s2.stores
            .primary
            .remove(&found)
            .map_err(|e| models::map_store_error(&name, e))?;
        Ok(found.display_shortest())
    })
    .await?;
    s.sched.forget(&shortest);
    Ok(StatusCode::OK.into_response())
}
