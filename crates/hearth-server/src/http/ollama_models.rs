//! Ollama's model-management endpoints: tags, show, ps, pull, push, create, copy, delete. Store
//! work runs off the async workers; a pull stops when its client goes away.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::http::error::ApiError;
use crate::http::extract::ApiJson;
use crate::http::state::AppState;
use crate::service::error::{blocking, ServiceError};
use crate::wire::frame::Framing;
use crate::wire::ollama::{require_model, CopyRequest, CreateRequest, ModelRequest, ShowRequest};
use crate::wire::ollama_models::{
    details, details_of, go_template, model_info, rfc3339, ListModel, ProcessModel,
};

fn parse_name(name: &str) -> Result<hearth_store::ModelName, ServiceError> {
    hearth_store::ModelName::parse(name).map_err(|e| ServiceError::Invalid(e.to_string()))
}

/// One NDJSON body of `lines`.
fn ndjson_lines(lines: Vec<Value>) -> Response {
    let body: Vec<u8> = lines
        .iter()
        .flat_map(|l| Framing::Ndjson.frame(l))
        .collect();
    (
        [(header::CONTENT_TYPE, Framing::Ndjson.content_type())],
        body,
    )
        .into_response()
}

/// `GET /api/tags`.
pub(crate) async fn tags(State(s): State<AppState>) -> Result<Response, ApiError> {
    let service = s.service.clone();
    let list = blocking(move || {
        let stores = service.stores();
        let entries = stores
            .list_all()
            .map_err(|e| ServiceError::store("(all)", e))?;
        let mut out = Vec::new();
        for e in entries {
            let name = e.name.display_shortest();
            let details = stores
                .resolve(&name)
                .map(|r| details_of(&r))
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
pub(crate) async fn show(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ShowRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    let verbose = req.verbose;
    let service = s.service.clone();
    let body = blocking(move || {
        let r = service
            .resolve_blocking(&name)?
            .model
            .ok_or_else(|| ServiceError::ModelNotFound(name.clone()))?;
        let show = hearth_store::ShowInfo::of(&r).map_err(|e| ServiceError::store(&name, e))?;
        let info = service.prompt_info_blocking(&r.gguf_path)?;
        let model_info = model_info(&r.gguf_path, verbose).map_err(|e| ServiceError::Engine {
            model: name.clone(),
            message: e.to_string(),
        })?;
        let mut caps = info.capabilities();
        caps.dedup();
        // The context the loaded model actually has (absent when it is not loaded).
        let in_use = service
            .sched()
            .ps()
            .into_iter()
            .find(|p| p.name == r.name.display_shortest())
            .map(|p| p.context_length);
        Ok(json!({
            "context_length": in_use,
            "license": show.license.join("\n"),
            "modelfile": show.modelfile,
            "parameters": show.parameters_text,
            "template": go_template(&info, show.template.as_deref()),
            "system": show.system.clone().unwrap_or_default(),
            "details": details(&show),
            "model_info": model_info,
            "capabilities": caps,
            "modified_at": rfc3339(r.modified),
            // Where the model came from (null: installed before hearth recorded provenance).
            // A local file's path is the server's business: only the CLI shows it.
            "provenance": r.provenance.clone().map(|mut p| {
                if hearth_store::provenance::is_local_registry(&p.registry) {
                    p.url = String::new();
                }
                p
            }),
        }))
    })
    .await?;
    Ok(Json(body).into_response())
}

/// `GET /api/ps`.
pub(crate) async fn ps(State(s): State<AppState>) -> Result<Response, ApiError> {
    let service = s.service.clone();
    let models =
        blocking(move || {
            Ok(service
                .sched()
                .ps()
                .into_iter()
                .map(|p| {
                    let det = service
                        .stores()
                        .resolve(&p.name)
                        .map(|r| details_of(&r))
                        .unwrap_or_default();
                    ProcessModel {
                        name: p.name.clone(),
                        model: p.name,
                        size: p.memory_bytes,
                        digest: p.entry.digest.trim_start_matches("sha256:").to_string(),
                        details: det,
                        // "Forever" is shown far in the future, as Ollama does.
                        expires_at: rfc3339(p.expires_at.unwrap_or(
                            SystemTime::UNIX_EPOCH + Duration::from_secs(253_402_300_799),
                        )),
                        size_vram: 0,
                        context_length: p.context_length,
                    }
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(Json(json!({ "models": models })).into_response())
}

/// Sets the flag when dropped: the response body (or the handler) went away.
struct OnDrop(Arc<AtomicBool>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// `POST /api/pull`: progress streamed as NDJSON (or one final object with `stream: false`).
/// A client that goes away cancels the download (it resumes on the next pull).
pub(crate) async fn pull(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ModelRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    parse_name(&name)?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let gone = Arc::new(AtomicBool::new(false));
    let service = s.service.clone();
    let cancel = gone.clone();
    let public_only = !s.cfg.allow_private_pulls;
    let task = tokio::task::spawn_blocking(move || {
        let mut opts = hearth_store::PullOptions::from_env();
        // A remote caller must not reach the server's own network through a pull.
        opts.http.public_only = public_only;
        let sink = std::sync::Mutex::new(tx.clone());
        let progress = |e: &hearth_store::PullEvent| {
            if let Ok(t) = sink.lock() {
                let _ = t.send(serde_json::to_value(e).unwrap_or(Value::Null));
            }
        };
        opts.download.cancel = Some(cancel);
        let res = service
            .stores()
            .primary
            .pull(&name, &opts, &progress)
            .map(|_| ())
            .map_err(|e| ServiceError::store(&name, e));
        if let Err(e) = &res {
            let _ = tx.send(json!({"error": e.public_message(), "code": e.code()}));
        }
        res
    });
    if req.stream.unwrap_or(true) {
        let guard = OnDrop(gone);
        let s = futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
            let v = rx.recv().await?;
            Some((
                Ok::<_, std::convert::Infallible>(Framing::Ndjson.frame(&v)),
                (rx, guard),
            ))
        });
        return Ok((
            [(header::CONTENT_TYPE, Framing::Ndjson.content_type())],
            Body::from_stream(s),
        )
            .into_response());
    }
    drop(rx);
    let _guard = OnDrop(gone);
    task.await
        .map_err(|e| ServiceError::Task(e.to_string()))??;
    Ok(Json(json!({"status": "success"})).into_response())
}

/// `POST /api/push`: not offered (hearth is a local server).
pub(crate) async fn push() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "push is not supported by hearth",
    )
}

/// `POST /api/create`: `from` a local GGUF file path or an existing model.
pub(crate) async fn create(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    if req.quantize.as_deref().is_some_and(|q| !q.is_empty()) {
        return Err(ApiError::bad_request("quantize is not supported"));
    }
    // A client over HTTP names models, never the server's files: `from` is looked up as a
    // model name, or as a GGUF file under a directory the operator allowed
    // (`--allow-models-from`); every other path gets one answer, existing or not. A model file
    // comes as an uploaded blob, whose path the server builds itself.
    let (from, names_only) = match (&req.from, &req.files) {
        (Some(f), _) if looks_like_path(f) => {
            let (f, dirs) = (f.clone(), s.cfg.allow_models_from.clone());
            let found =
                blocking(move || Ok(hearth_store::create::allowed_model_file(&f, &dirs))).await?;
            match found {
                Some(p) => (p.display().to_string(), false),
                None => return Err(ApiError::bad_request(
                    "from must name a model, or a GGUF file in a directory this server allows \
                     (--allow-models-from); send a model file with POST /api/blobs/{digest} and `files`",
                )),
            }
        }
        (Some(f), _) if !f.is_empty() => (f.clone(), true),
        // Ollama's form: the one GGUF file, uploaded before as a blob.
        (_, Some(files)) if files.len() == 1 => {
            let digest = files.values().next().cloned().unwrap_or_default();
            let d = blob_digest(&digest)?;
            let blob = s.service.stores().primary.blob_path(&d);
            if !blob.is_file() {
                return Err(ApiError::bad_request(format!(
                    "blob {digest} was not uploaded (POST /api/blobs/{digest} first)"
                )));
            }
            (blob.display().to_string(), false)
        }
        _ => {
            return Err(ApiError::bad_request(
                "create needs `from` (a GGUF path or a model name)",
            ))
        }
    };
    let stream_it = req.stream.unwrap_or(true);
    let service = s.service.clone();
    blocking(move || {
        let dst = parse_name(&name)?;
        let mf = hearth_store::modelfile::Modelfile {
            commands: vec![(1, hearth_store::modelfile::Command::From(from.clone()))],
        };
        let stores = service.stores();
        stores
            .primary
            .create(
                &dst,
                &mf,
                std::path::Path::new("."),
                &stores.extra,
                hearth_store::CreateOptions {
                    link: false,
                    names_only,
                },
                &hearth_store::no_progress,
            )
            .map_err(|e| ServiceError::store(&from, e))?;
        Ok(())
    })
    .await?;
    if stream_it {
        return Ok(ndjson_lines(vec![json!({"status": "success"})]));
    }
    Ok(Json(json!({"status": "success"})).into_response())
}

fn looks_like_path(s: &str) -> bool {
    std::path::Path::new(s).is_absolute()
        || s.starts_with('.')
        || s.starts_with('~')
        || s.to_ascii_lowercase().ends_with(".gguf")
}

fn blob_digest(s: &str) -> Result<hearth_store::Digest, ApiError> {
    hearth_store::Digest::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// `HEAD /api/blobs/{digest}`: 200 when the store has the blob, else 404.
pub(crate) async fn blob_exists(
    State(s): State<AppState>,
    Path(digest): Path<String>,
) -> Result<StatusCode, ApiError> {
    let d = blob_digest(&digest)?;
    let service = s.service.clone();
    let has = blocking(move || Ok(service.stores().primary.has_blob(&d))).await?;
    Ok(if has {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

/// `POST /api/blobs/{digest}` (what `ollama create` uploads a model file with): the body is
/// streamed into the store and installed only if it hashes to `digest`. Then
/// `/api/create` with `files: {"model.gguf": digest}` makes a model of it.
pub(crate) async fn blob_upload(
    State(s): State<AppState>,
    Path(digest): Path<String>,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<StatusCode, ApiError> {
    use futures_util::StreamExt as _;
    let d = blob_digest(&digest)?;
    let service = s.service.clone();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(8);
    let writer = tokio::spawn(blocking(move || {
        let store_err = |e| ServiceError::store(&digest, e);
        let store = &service.stores().primary;
        if store.root().exists() {
            hearth_store::check_free_space(store.root(), declared).map_err(store_err)?;
        }
        let mut up = store.begin_upload(&d).map_err(store_err)?;
        while let Some(chunk) = rx.blocking_recv() {
            up.write(&chunk).map_err(store_err)?;
        }
        up.finish().map_err(store_err)
    }));
    let mut body = body.into_data_stream();
    let mut read_error = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            // A closed channel means the writer failed: its error is the answer.
            Ok(c) => {
                if tx.send(c).await.is_err() {
                    break;
                }
            }
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| ApiError::from(ServiceError::Task(e.to_string())))?;
    if let Some(e) = read_error {
        return Err(ApiError::bad_request(format!("upload cut off: {e}")));
    }
    written?;
    Ok(StatusCode::CREATED)
}

/// `POST /api/copy`.
pub(crate) async fn copy(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<CopyRequest>,
) -> Result<Response, ApiError> {
    let service = s.service.clone();
    blocking(move || {
        let src = parse_name(&req.source)?;
        let dst = parse_name(&req.destination)?;
        let stores = service.stores();
        let (store, found) = stores
            .locate(&src)
            .ok_or_else(|| ServiceError::ModelNotFound(req.source.clone()))?;
        stores
            .primary
            .copy_from(store, &found, &dst)
            .map_err(|e| ServiceError::store(&req.source, e))
    })
    .await?;
    Ok(StatusCode::OK.into_response())
}

/// `DELETE /api/delete`.
pub(crate) async fn delete(
    State(s): State<AppState>,
    ApiJson(req): ApiJson<ModelRequest>,
) -> Result<Response, ApiError> {
    let name = require_model(&req.model, &req.name)?;
    let service = s.service.clone();
    let shortest = blocking(move || {
        let parsed = parse_name(&name)?;
        let stores = service.stores();
        let found = stores
            .primary
            .find(&parsed)
            .ok_or_else(|| ServiceError::ModelNotFound(name.clone()))?;
        stores
            .primary
            .remove(&found)
            .map_err(|e| ServiceError::store(&name, e))?;
        Ok(found.display_shortest())
    })
    .await?;
    s.service.sched().forget(&shortest);
    Ok(StatusCode::OK.into_response())
}
