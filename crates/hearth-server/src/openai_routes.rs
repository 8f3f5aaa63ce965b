//! OpenAI-compatible handlers: `/v1/chat/completions`, `/v1/completions`, `/v1/models`.
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes_alias::Bytes;
use futures_util::stream;
use serde_json::{json, Value};

use crate::app::{event, sse, ApiJson, AppState};
use crate::backend::GenEvent;
use crate::error::ApiError;
use crate::gen;
use crate::grammar::{self, Grammar};
use crate::models;
use crate::ollama_routes::{default_stops, params};
use crate::openai_types::*;
use crate::options::{check_stops, Options, StringOrVec};
use crate::tools::{parse_tool_calls, ToolHold};

mod bytes_alias {
    pub use axum::body::Bytes;
}

fn unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn oa<T>(r: Result<T, ApiError>) -> Result<T, ApiError> {
    r.map_err(ApiError::openai)
}

fn new_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{:x}{n:04x}", unix())
}

/// Map OpenAI sampling fields to checked Ollama-style options.
#[allow(clippy::too_many_arguments)]
fn checked(
    temperature: Option<f32>,
    top_p: Option<f32>,
    max_tokens: Option<u32>,
    stop: Option<StringOrVec>,
    seed: Option<i64>,
    presence: Option<f32>,
    frequency: Option<f32>,
    n: Option<u32>,
) -> Result<crate::options::Checked, ApiError> {
    if n.is_some_and(|n| n != 1) {
        return Err(ApiError::bad_request("only n=1 is supported"));
    }
    let stop = stop.map(StringOrVec::into_vec).unwrap_or_default();
    check_stops(&stop)?;
    let o = Options {
        temperature: temperature.map(|t| t.min(2.0)),
        top_p,
        num_predict: max_tokens.map(i64::from),
        stop: Some(StringOrVec::Many(stop)),
        seed,
        presence_penalty: presence,
        frequency_penalty: frequency,
        ..Options::default()
    };
    o.check()
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    oa(chat_inner(s, req).await)
}

async fn chat_inner(s: AppState, req: ChatCompletionRequest) -> Result<Response, ApiError> {
    let opts = checked(
        req.temperature,
        req.top_p,
        req.max_completion_tokens.or(req.max_tokens),
        req.stop.clone(),
        req.seed,
        req.presence_penalty,
        req.frequency_penalty,
        req.n,
    )?;
    let grammar = match &req.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(Grammar::json_object().to_gbnf()),
        Some(ResponseFormat::JsonSchema { json_schema }) => match &json_schema.schema {
            Some(schema) => Some(
                grammar::Grammar::from_schema(schema)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?
                    .to_gbnf(),
            ),
            None => Some(Grammar::json_object().to_gbnf()),
        },
    };
    let mut msgs = Vec::new();
    for m in &req.messages {
        let role = match m.role.as_str() {
            "developer" => "system",
            r @ ("system" | "user" | "assistant" | "tool") => r,
            other => {
                return Err(ApiError::bad_request(format!(
                    "invalid message role {other:?}"
                )))
            }
        };
        let content = match &m.content {
            Some(c) => c.text().map_err(ApiError::bad_request)?,
            None => String::new(),
        };
        let mut pm = hearth_prompt::Message::new(role, content);
        pm.tool_call_id = m.tool_call_id.clone();
        pm.name = m.name.clone();
        pm.tool_calls = m.tool_calls.as_ref().map(|calls| {
            calls
                .iter()
                .map(|c| {
                    let args = serde_json::from_str::<Value>(&c.function.arguments)
                        .unwrap_or(Value::String(c.function.arguments.clone()));
                    let mut t = hearth_prompt::ToolCall::function(c.function.name.clone(), args);
                    t.id = Some(c.id.clone());
                    t
                })
                .collect()
        });
        msgs.push(pm);
    }
    if msgs.is_empty() {
        return Err(ApiError::bad_request("messages must not be empty"));
    }
    let tools: Option<Vec<Value>> = req.tools.as_ref().filter(|t| !t.is_empty()).map(|t| {
        t.iter()
            .map(|x| {
                json!({"type": x.kind, "function": {"name": x.function.name,
                "description": x.function.description, "parameters": x.function.parameters}})
            })
            .collect()
    });
    let no_tools = req.tool_choice.as_ref().and_then(Value::as_str) == Some("none");
    let tools = if no_tools { None } else { tools };
    let has_tools = tools.is_some();
    let (entry, _) = models::resolve(&s.stores, &req.model)?;
    let info = s.prompt_info(&entry.path).await?;
    let prompt = info.render_chat(msgs, tools)?;
    let p = params(prompt, &opts, default_stops(&entry), grammar);
    let running = gen::start(&s, &entry, opts.num_ctx, None, p).await?;
    let id = new_id("chatcmpl");
    let model = req.model.clone();
    let created = unix();
    if req.stream {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let first = json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "system_fingerprint": "hearth",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null, "logprobs": null}]});
        let st = (Some(running), Vec::<Bytes>::new(), ToolHold::default());
        let body = stream::unfold(st, move |(r, mut pending, mut acc)| {
            let (id, model) = (id.clone(), model.clone());
            async move {
                if let Some(b) = pending.pop() {
                    return Some((Ok(b), (r, pending, acc)));
                }
                let mut r = r?;
                let chunk = |delta: Value, finish: Value| {
                    json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                        "system_fingerprint": "hearth",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null}]})
                };
                let mut ev = r.next().await;
                // With tools, text is held while the output may still be a tool call.
                while let Some(GenEvent::Text(t)) = &ev {
                    if !has_tools {
                        break;
                    }
                    let shown = acc.push(t);
                    if !shown.is_empty() {
                        ev = Some(GenEvent::Text(shown));
                        break;
                    }
                    ev = r.next().await;
                }
                match ev {
                    Some(GenEvent::Text(t)) => Some((
                        Ok(event(&chunk(json!({"content": t}), Value::Null))),
                        (Some(r), pending, acc),
                    )),
                    Some(GenEvent::Done(f, st)) => {
                        drop(r);
                        // Emitted in reverse order (popped from the end).
                        pending.push(Bytes::from_static(b"data: [DONE]\n\n"));
                        if include_usage {
                            pending.push(event(&json!({"id": id, "object": "chat.completion.chunk", "created": created,
                                "model": model, "system_fingerprint": "hearth", "choices": [],
                                "usage": Usage::new(st.prompt_tokens, st.eval_tokens)})));
                        }
                        let (rest, calls) = if has_tools {
                            acc.finish()
                        } else {
                            (String::new(), Vec::new())
                        };
                        let (delta, finish) = if calls.is_empty() {
                            let delta = if rest.is_empty() {
                                json!({})
                            } else {
                                json!({"content": rest})
                            };
                            (delta, json!(f.openai()))
                        } else {
                            let tc: Vec<Value> = calls.iter().enumerate().map(|(i, c)| json!({"index": i, "id": format!("call_{i}"),
                                "type": "function", "function": {"name": c.function.name,
                                "arguments": Value::Object(c.function.arguments.clone()).to_string()}})).collect();
                            (json!({"tool_calls": tc}), json!("tool_calls"))
                        };
                        Some((Ok(event(&chunk(delta, finish))), (None, pending, acc)))
                    }
                    Some(GenEvent::Error(e)) => {
                        pending.push(Bytes::from_static(b"data: [DONE]\n\n"));
                        Some((
                            Ok(event(
                                &json!({"error": {"message": e, "type": "server_error"}}),
                            )),
                            (None, pending, acc),
                        ))
                    }
                    None => None,
                }
            }
        });
        let head = stream::iter(vec![Ok(event(&first))]);
        return Ok(sse(futures_util::StreamExt::chain(head, body)));
    }
    let out = running.collect().await?;
    let (content, calls) = if has_tools {
        parse_tool_calls(&out.text)
    } else {
        (out.text.clone(), Vec::new())
    };
    let (message, finish) = if calls.is_empty() {
        (
            json!({"role": "assistant", "content": out.text}),
            out.finish.map(|f| f.openai()).unwrap_or("stop"),
        )
    } else {
        let tc: Vec<Value> = calls.iter().enumerate().map(|(i, c)| json!({"id": format!("call_{i}"), "type": "function",
            "function": {"name": c.function.name, "arguments": Value::Object(c.function.arguments.clone()).to_string()}})).collect();
        (
            json!({"role": "assistant", "content": if content.is_empty() { Value::Null } else { json!(content) }, "tool_calls": tc}),
            "tool_calls",
        )
    };
    Ok(Json(json!({
        "id": id, "object": "chat.completion", "created": created, "model": model, "system_fingerprint": "hearth",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": null}],
        "usage": Usage::new(out.stats.prompt_tokens, out.stats.eval_tokens),
    }))
    .into_response())
}

/// `POST /v1/completions` (with `suffix` for fill-in-the-middle).
pub async fn completions(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    ext: axum::http::Extensions,
    ApiJson(req): ApiJson<CompletionRequest>,
) -> Result<Response, ApiError> {
    let session = crate::fim::session_key(&s, &headers, &ext, &req.model);
    oa(completions_inner(s, session, req).await)
}

async fn completions_inner(
    s: AppState,
    session: crate::fim::SessionKey,
    req: CompletionRequest,
) -> Result<Response, ApiError> {
    if req.echo {
        return Err(ApiError::bad_request("echo is not supported"));
    }
    let prompt = match &req.prompt {
        Prompt::One(p) => p.clone(),
        Prompt::Many(v) if v.len() == 1 => v[0].clone(),
        Prompt::Many(_) => {
            return Err(ApiError::bad_request(
                "only one prompt per request is supported",
            ))
        }
    };
    let opts = checked(
        req.temperature,
        req.top_p,
        Some(req.max_tokens.unwrap_or(16)),
        req.stop.clone(),
        req.seed,
        req.presence_penalty,
        req.frequency_penalty,
        req.n,
    )?;
    let (entry, _) = models::resolve(&s.stores, &req.model)?;
    let mut fim = None;
    let text = match req.suffix.as_deref() {
        Some(suffix) if !suffix.is_empty() => {
            let info = s.prompt_info(&entry.path).await?;
            let rendered = info.render_fim(&req.model, &prompt, suffix)?;
            fim = Some(crate::fim::input(&prompt, suffix, session));
            rendered
        }
        _ => prompt,
    };
    let mut p = params(text, &opts, default_stops(&entry), None);
    p.fim = fim;
    let running = gen::start(&s, &entry, None, None, p).await?;
    let id = new_id("cmpl");
    let model = req.model.clone();
    let created = unix();
    if req.stream {
        let include_usage = req.stream_options.as_ref().is_some_and(|o| o.include_usage);
        let st = (Some(running), Vec::<Bytes>::new());
        let body = stream::unfold(st, move |(r, mut pending)| {
            let (id, model) = (id.clone(), model.clone());
            async move {
                if let Some(b) = pending.pop() {
                    return Some((Ok(b), (r, pending)));
                }
                let mut r = r?;
                let chunk = |text: &str, finish: Value| {
                    json!({"id": id, "object": "text_completion", "created": created, "model": model,
                        "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]})
                };
                match r.next().await {
                    Some(GenEvent::Text(t)) => {
                        Some((Ok(event(&chunk(&t, Value::Null))), (Some(r), pending)))
                    }
                    Some(GenEvent::Done(f, st)) => {
                        drop(r);
                        pending.push(Bytes::from_static(b"data: [DONE]\n\n"));
                        if include_usage {
                            pending.push(event(&json!({"id": id, "object": "text_completion", "created": created,
                                "model": model, "choices": [], "usage": Usage::new(st.prompt_tokens, st.eval_tokens)})));
                        }
                        Some((Ok(event(&chunk("", json!(f.openai())))), (None, pending)))
                    }
                    Some(GenEvent::Error(e)) => {
                        pending.push(Bytes::from_static(b"data: [DONE]\n\n"));
                        Some((
                            Ok(event(
                                &json!({"error": {"message": e, "type": "server_error"}}),
                            )),
                            (None, pending),
                        ))
                    }
                    None => None,
                }
            }
        });
        return Ok(sse(body));
    }
    let out = running.collect().await?;
    Ok(Json(json!({
        "id": id, "object": "text_completion", "created": created, "model": model,
        "choices": [{"text": out.text, "index": 0, "logprobs": null, "finish_reason": out.finish.map(|f| f.openai()).unwrap_or("stop")}],
        "usage": Usage::new(out.stats.prompt_tokens, out.stats.eval_tokens),
    }))
    .into_response())
}

fn model_object(name: String, modified: SystemTime) -> ModelObject {
    ModelObject {
        id: name,
        object: "model",
        created: modified
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        owned_by: "library",
    }
}

/// `GET /v1/models`.
pub async fn list_models(State(s): State<AppState>) -> Result<Response, ApiError> {
    let list = s
        .stores
        .list_all()
        .map_err(|e| ApiError::internal(e.to_string()).openai())?;
    let data: Vec<ModelObject> = list
        .into_iter()
        .map(|e| model_object(e.name.display_shortest(), e.modified))
        .collect();
    Ok(Json(json!({"object": "list", "data": data})).into_response())
}

/// `GET /v1/models/{id}`.
pub async fn get_model(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (entry, _) = oa(models::resolve(&s.stores, &id))?;
    Ok(Json(model_object(id, entry.modified)).into_response())
}
