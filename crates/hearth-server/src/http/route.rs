//! Routing at the edge of every generation request: the policy (`hearth-route`) decides local
//! or cloud before a handler sees the request. Local-only is the default and then nothing can
//! send a request out: an explicit cloud ask (`X-Hearth-Route: cloud[:ALIAS]`, or a `model`
//! that is a cloud alias) is refused naming the rule, or answered locally where the policy says
//! `on_forbidden = "local"`. In hybrid mode (a build with the `cloud` feature) a cloud decision
//! travels to the handler as a request extension; the handler's `AppState::start` sends it
//! upstream or keeps it local. Every routed answer says where it came from in
//! `X-Hearth-Route`.
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use hearth_route::{Conditions, Refusal, Route};

use crate::http::error::render_for_path as err;
use crate::http::state::AppState;

/// The endpoints a model answers.
const ROUTED: &[&str] = &[
    "/api/generate",
    "/api/chat",
    "/api/embed",
    "/api/embeddings",
    "/infill",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/messages",
];

pub(crate) async fn route(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if req.method() != Method::POST || !ROUTED.contains(&path.as_str()) {
        return next.run(req).await;
    }
    let cfg = &s.cfg;
    let headers: Vec<(String, String)> = ["x-hearth-route", "x-hearth-project"]
        .iter()
        .filter_map(|h| {
            let v = req.headers().get(*h)?;
            Some((
                h.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            ))
        })
        .collect();
    // The body matters only to tell a cloud alias used as a model name, and to name the local
    // model a rule or an alias's local answer runs on.
    let policy = &cfg.route_policy;
    let (req, body) = if policy.aliases.is_empty() && policy.rules.is_empty() {
        (req, serde_json::Value::Null)
    } else {
        let (parts, body) = req.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, cfg.max_body_bytes).await else {
            return err(
                &path,
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large",
            );
        };
        let v = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (Request::from_parts(parts, Body::from(bytes)), v)
    };
    let mut summary = hearth_route::summarize(&path, &body, &headers);
    // What the local side can do: the prompt speed measured on this server's own requests, and
    // the context a request gets unless it asks for more.
    summary.local_prefill_tok_s = s.service.metrics().prefill_tok_s();
    summary.local_ctx = Some(u64::from(cfg.default_num_ctx));
    #[cfg_attr(not(feature = "cloud"), allow(unused_mut))]
    let mut conditions = Conditions {
        no_cloud: cfg.no_cloud,
        ..Conditions::default()
    };
    #[cfg(feature = "cloud")]
    if let Some(u) = &s.upstreams {
        conditions.open_circuits = u.open_circuits();
        conditions.budget_exhausted = u.budget_exhausted();
    }
    match hearth_route::decide(policy, &summary, &conditions) {
        Ok(d) => match d.route {
            Route::Local { model } => {
                tracing::debug!(rule = %d.rule, trace = ?d.trace, "routed local");
                let req = match policy.local_model_for(&summary.model, model.as_deref()) {
                    Ok(None) => req,
                    Ok(Some(m)) => with_model(req, body, &m),
                    Err(msg) => return err(&path, StatusCode::BAD_REQUEST, msg),
                };
                let mut resp = next.run(req).await;
                if let Ok(v) = HeaderValue::from_str(&format!("local; rule={}", d.rule)) {
                    resp.headers_mut().insert("x-hearth-route", v);
                }
                resp
            }
            #[cfg(feature = "cloud")]
            Route::Cloud {
                upstream,
                model,
                fallback,
            } => {
                tracing::debug!(rule = %d.rule, trace = ?d.trace, %upstream, %model, "routed to the cloud");
                let ask = crate::upstream::CloudAsk {
                    upstream,
                    model,
                    fallback,
                    rule: d.rule.clone(),
                    project: summary.project.clone(),
                    label: Default::default(),
                };
                let label = ask.label.clone();
                let mut req = req;
                req.extensions_mut().insert(ask);
                let mut resp = next.run(req).await;
                // Unset when the handler refused the request before starting it: then it went
                // nowhere, and the header says nothing.
                let said = label
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take();
                if let Some(v) = said.and_then(|s| HeaderValue::from_str(&s).ok()) {
                    resp.headers_mut().insert("x-hearth-route", v);
                }
                resp
            }
            // Unreachable: a hybrid policy is refused at startup in this build.
            #[cfg(not(feature = "cloud"))]
            Route::Cloud { .. } => err(
                &path,
                StatusCode::NOT_IMPLEMENTED,
                "this build of hearth has no upstream (cloud) client",
            ),
        },
        Err(e) => {
            let status = match e {
                Refusal::Forbidden { .. } | Refusal::NoAlias => StatusCode::FORBIDDEN,
                Refusal::BadHeader(_) => StatusCode::BAD_REQUEST,
                Refusal::UnknownAlias(_) => StatusCode::NOT_FOUND,
            };
            tracing::warn!(%e, "routing refused a request");
            err(&path, status, e.to_string())
        }
    }
}

/// `req` with its JSON body's `model` replaced (the body as parsed; a body that is not an
/// object goes on unchanged, and the handler refuses it).
fn with_model(req: Request, mut body: serde_json::Value, model: &str) -> Request {
    let Some(o) = body.as_object_mut() else {
        return req;
    };
    o.insert("model".into(), model.into());
    let (mut parts, _) = req.into_parts();
    let bytes = body.to_string();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Request::from_parts(parts, Body::from(bytes))
}
