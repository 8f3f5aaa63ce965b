#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The routing policy at the HTTP edge (scripted engine, no llama.cpp): local-only by default,
//! explicit cloud asks refused naming the rule or answered locally, every routed answer
//! labelled, and a hybrid policy refused at startup (this build has no upstream client).
mod common;

use axum::http::StatusCode;
use common::scripted::serve_tiny;
use common::*;
use hearth_server::config::ServerConfig;
use serde_json::json;

const MODEL: &str = "tiny:latest";

fn with_header(
    mut req: axum::http::Request<axum::body::Body>,
    name: &'static str,
    value: &str,
) -> axum::http::Request<axum::body::Body> {
    req.headers_mut().insert(name, value.parse().unwrap());
    req
}

fn chat() -> String {
    json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": false})
        .to_string()
}

#[tokio::test]
async fn local_only_answers_locally_and_refuses_explicit_cloud() {
    let (_d, s, _) = serve_tiny(&["ok"], 4096, ServerConfig::default());
    let r = send(&s, post("/api/chat", chat())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["x-hearth-route"], "local; rule=mode:local-only");
    for (path, body) in [
        ("/api/chat", chat()),
        ("/v1/chat/completions", chat()),
        ("/v1/messages", json!({"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}).to_string()),
    ] {
        let r = send(&s, with_header(post(path, body), "x-hearth-route", "cloud:smart")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.text());
        assert!(r.text().contains("mode:local-only"), "{path}: {}", r.text());
    }
    let r = send(
        &s,
        with_header(post("/api/chat", chat()), "x-hearth-route", "sideways"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = send(
        &s,
        with_header(post("/api/chat", chat()), "x-hearth-route", "local"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = send(&s, get("/api/version")).await.json();
    assert_eq!(v["route_mode"], "local-only");
}

#[tokio::test]
async fn an_alias_model_is_a_cloud_ask_and_on_forbidden_local_answers_here() {
    let policy = "[[upstream]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"https://api.example.invalid/v1\"\n\
                  [[alias]]\nname = \"smart\"\ntarget = \"up:big\"\n";
    let cfg = ServerConfig {
        route_policy: hearth_route::Policy::parse(policy, "router.toml").unwrap(),
        ..ServerConfig::default()
    };
    let (_d, s, _) = serve_tiny(&["ok"], 4096, cfg);
    let body =
        json!({"model": "smart", "messages": [{"role": "user", "content": "hi"}], "stream": false});
    let r = send(&s, post("/v1/chat/completions", body.to_string())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // The request reaches the handler intact after the router read it.
    let r = send(&s, post("/api/chat", chat())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["message"]["content"], "ok");

    let lenient = format!("[router]\non_forbidden = \"local\"\n{policy}");
    let cfg = ServerConfig {
        route_policy: hearth_route::Policy::parse(&lenient, "router.toml").unwrap(),
        ..ServerConfig::default()
    };
    let (_d, s, _) = serve_tiny(&["ok"], 4096, cfg);
    let r = send(
        &s,
        with_header(post("/api/chat", chat()), "x-hearth-route", "cloud"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["x-hearth-route"], "local; rule=mode:local-only");
}

/// Without the `cloud` feature (`tests/upstream.rs` covers the build with it).
#[cfg(not(feature = "cloud"))]
#[test]
fn a_hybrid_policy_is_refused_at_startup_unless_no_cloud() {
    let policy = "[router]\nmode = \"hybrid\"\n";
    let mut cfg = ServerConfig {
        route_policy: hearth_route::Policy::parse(policy, "router.toml").unwrap(),
        route_policy_file: Some("/home/u/.config/hearth/router.toml".into()),
        ..ServerConfig::default()
    };
    let e = cfg.validate().unwrap_err();
    assert!(
        matches!(e, hearth_server::config::ConfigError::HybridUnsupported(ref f) if f.ends_with("router.toml"))
    );
    assert!(e.to_string().contains("HEARTH_NO_CLOUD"));
    cfg.no_cloud = true;
    cfg.validate().unwrap();
}
