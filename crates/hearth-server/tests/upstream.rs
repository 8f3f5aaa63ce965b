#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Hybrid routing end to end (cargo feature `cloud`; scripted local engine): a stand-in
//! OpenAI-compatible upstream on a real loopback socket records every byte it receives and
//! answers in the shapes real upstreams use, faults included. Nothing secret in the recorded
//! bytes; placeholders restored in the reply; fallbacks only before the first byte; the
//! circuit breaker; the audit log.
mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::scripted::serve_tiny;
use common::*;
use hearth_server::config::ServerConfig;
use serde_json::{json, Value};

/// What the stand-in does with the next request.
#[derive(Debug, Clone)]
enum Behave {
    /// Stream back "you said: " + the last user message, 3 bytes per event.
    Echo,
    /// Answer with this status (and `Retry-After`).
    Status(u16, Option<u64>),
    /// Wait this long before answering at all.
    Stall(Duration),
    /// One event, then the connection closes without an end.
    Cut,
    /// An event that is not JSON.
    Malformed,
    /// A 5 MB answer.
    Big,
    /// A tool call whose arguments hold what the user wrote.
    ToolCall,
}

#[derive(Default)]
struct Upstream {
    plan: Mutex<VecDeque<Behave>>,
    /// Every request body and its `Authorization` header.
    seen: Mutex<Vec<(Vec<u8>, Option<String>)>>,
}

impl Upstream {
    fn then(&self, b: Behave) {
        self.plan.lock().unwrap().push_back(b);
    }
    fn bodies(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(b, _)| String::from_utf8_lossy(b).into_owned())
            .collect()
    }
}

fn event(v: Value) -> String {
    format!("data: {v}\n\n")
}

fn delta(text: &str) -> String {
    event(json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]}))
}

fn end() -> String {
    event(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        + &event(json!({"choices": [], "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}))
        + "data: [DONE]\n\n"
}

fn sse(body: String) -> Response {
    ([("content-type", "text/event-stream")], body).into_response()
}

async fn chat(State(up): State<Arc<Upstream>>, headers: HeaderMap, body: Bytes) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_string());
    up.seen.lock().unwrap().push((body.to_vec(), auth));
    let req: Value = serde_json::from_slice(&body).unwrap();
    let said = req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .and_then(|m| m["content"].as_str())
        .unwrap_or_default()
        .to_string();
    let behave = up.plan.lock().unwrap().pop_front().unwrap_or(Behave::Echo);
    match behave {
        Behave::Echo => {
            let text = format!("you said: {said}");
            let bytes = text.as_bytes();
            let mut out = String::new();
            let mut at = 0;
            while at < bytes.len() {
                let mut to = (at + 3).min(bytes.len());
                while !text.is_char_boundary(to) {
                    to += 1;
                }
                out += &delta(&text[at..to]);
                at = to;
            }
            sse(out + &end())
        }
        Behave::Status(code, retry) => {
            let mut r = (
                StatusCode::from_u16(code).unwrap(),
                r#"{"error":{"message":"upstream says no"}}"#,
            )
                .into_response();
            if let Some(s) = retry {
                r.headers_mut()
                    .insert("retry-after", s.to_string().parse().unwrap());
            }
            r
        }
        Behave::Stall(d) => {
            tokio::time::sleep(d).await;
            sse(delta("late") + &end())
        }
        Behave::Cut => {
            // A body that fails after its first event: the connection is cut mid-answer.
            let chunks = futures_util::stream::unfold(0, |i| async move {
                match i {
                    0 => Some((Ok(Bytes::from(delta("partial "))), 1)),
                    1 => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        Some((Err(std::io::Error::other("cut")), 2))
                    }
                    _ => None,
                }
            });
            Response::builder()
                .header("content-type", "text/event-stream")
                .body(Body::from_stream(chunks))
                .unwrap()
        }
        Behave::Malformed => sse("data: {this is not json\n\n".to_string()),
        Behave::Big => {
            let piece = "x".repeat(1000);
            let mut out = String::with_capacity(5_300_000);
            for _ in 0..5000 {
                out += &delta(&piece);
            }
            sse(out + &end())
        }
        Behave::ToolCall => {
            let args = json!({"command": format!("echo {said}")}).to_string();
            sse(event(
                json!({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "Bash", "arguments": args}}]}, "finish_reason": "tool_calls"}]}),
            ) + &end())
        }
    }
}

/// The stand-in's Anthropic Messages endpoint: streams "you said: " + the last user text.
async fn messages(State(up): State<Arc<Upstream>>, headers: HeaderMap, body: Bytes) -> Response {
    let key = headers
        .get("x-api-key")
        .map(|v| format!("x-api-key {}", v.to_str().unwrap()));
    up.seen.lock().unwrap().push((body.to_vec(), key));
    let req: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(headers["anthropic-version"], "2023-06-01");
    let said: String = req["messages"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
        .map(|m| {
            m["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let ev = |name: &str, v: Value| format!("event: {name}\ndata: {v}\n\n");
    let mut out = ev(
        "message_start",
        json!({"type": "message_start", "message": {"usage": {"input_tokens": 1000, "output_tokens": 1}}}),
    );
    out += &ev(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    );
    let text = format!("you said: {said}");
    for piece in text.as_bytes().chunks(4) {
        out += &ev(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": String::from_utf8_lossy(piece)}}),
        );
    }
    out += &ev(
        "message_delta",
        json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 500}}),
    );
    out += &ev("message_stop", json!({"type": "message_stop"}));
    sse(out)
}

/// The stand-in on a loopback port.
async fn stand_in() -> (Arc<Upstream>, String) {
    let up = Arc::new(Upstream::default());
    let app = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(chat))
        .route("/v1/messages", axum::routing::post(messages))
        .with_state(up.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (up, format!("http://{addr}/v1"))
}

/// A hybrid server (scripted local model answering "ok") whose alias `smart` goes to the
/// stand-in, with `extra` appended to the policy.
fn hybrid(
    base: &str,
    fallback: &str,
    extra: &str,
) -> (
    tempfile::TempDir,
    hearth_server::AppState,
    std::path::PathBuf,
) {
    let logs = tempfile::tempdir().unwrap();
    let audit = logs.path().join("audit.jsonl");
    let policy = format!(
        "[router]\nmode = \"hybrid\"\naudit_log = \"{}\"\nlocal_model = \"tiny:latest\"\n\
         audit_bodies = true\naudit_retention_days = 30\n\
         [redact]\nfrom_env = false\ninternal_domains = [\"corp.example.com\"]\n\
         [[upstream]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"{base}\"\n\
         first_byte_timeout_s = 1.0\nprice = {{ in_per_mtok = 3.0, out_per_mtok = 15.0 }}\n\
         [[alias]]\nname = \"smart\"\ntarget = \"up:big\"\nfallback = [{fallback}]\n{extra}",
        audit.display()
    );
    let cfg = ServerConfig {
        route_policy: hearth_route::Policy::parse(&policy, "router.toml").unwrap(),
        ..ServerConfig::default()
    };
    hearth_server::check_config(&cfg).unwrap();
    let (d, s, _) = serve_tiny(&["ok"], 4096, cfg);
    std::mem::forget(d);
    (logs, s, audit)
}

fn ask(model: &str, content: &str, stream: bool) -> String {
    json!({"model": model, "stream": stream,
           "messages": [{"role": "user", "content": content}]})
    .to_string()
}

/// A deterministic generator of secret-shaped strings.
struct Gen(u64);
impl Gen {
    fn pick(&mut self, n: usize, set: &[u8]) -> String {
        (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                set[((self.0 >> 33) as usize) % set.len()] as char
            })
            .collect()
    }
}
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const UPPER32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const HEX: &[u8] = b"0123456789abcdef";

/// `n` secrets of 16 kinds, each in the text it would appear in.
fn planted(n: usize) -> Vec<(String, String)> {
    let mut g = Gen(42);
    (0..n)
        .map(|i| {
            let secret = match i % 16 {
                0 => format!("AKIA{}", g.pick(16, UPPER32)),
                1 => format!("ghp_{}", g.pick(36, ALNUM)),
                2 => format!("glpat-{}", g.pick(20, ALNUM)),
                3 => format!("sk-proj-{}", g.pick(48, ALNUM)),
                4 => format!("sk-ant-api03-{}", g.pick(40, ALNUM)),
                5 => format!("xoxb-{}", g.pick(30, ALNUM)),
                6 => format!("sk_live_{}", g.pick(24, ALNUM)),
                7 => format!("AIza{}", g.pick(35, ALNUM)),
                8 => format!("hf_{}", g.pick(34, LETTERS)),
                9 => format!("npm_{}", g.pick(36, ALNUM)),
                10 => format!("SG.{}.{}", g.pick(22, ALNUM), g.pick(43, ALNUM)),
                11 => format!("dop_v1_{}", g.pick(64, HEX)),
                12 => format!("gsk_{}", g.pick(52, ALNUM)),
                13 => format!("r8_{}", g.pick(37, ALNUM)),
                14 => g.pick(18, ALNUM),
                _ => g.pick(14, ALNUM),
            };
            let text = match i % 16 {
                14 => format!("DB_PASSWORD={secret}\n"),
                15 => format!("url = \"postgres://admin:{secret}@db.corp.example.com/app\"\n"),
                k if k % 3 == 0 => format!("token = \"{secret}\"\n"),
                _ => format!("use {secret} here\n"),
            };
            (secret, text)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_secrets_never_leave_and_come_back_in_the_reply() {
    let (up, base) = stand_in().await;
    let (_logs, s, audit) = hybrid(&base, "", "");
    let secrets = planted(208);
    // In the user's prompt, in a file a tool read, and in an earlier tool call's arguments.
    let (a, rest) = secrets.split_at(70);
    let (b, c) = rest.split_at(70);
    let join = |v: &[(String, String)]| v.iter().map(|(_, t)| t.as_str()).collect::<String>();
    let body = json!({
        "model": "smart", "stream": false,
        "messages": [
            {"role": "assistant", "content": "", "tool_calls": [{"id": "t1", "type": "function",
              "function": {"name": "Bash", "arguments": json!({"command": join(c)}).to_string()}}]},
            {"role": "tool", "tool_call_id": "t1", "content": join(b)},
            {"role": "user", "content": join(a)},
        ]
    });
    let r = send(&s, post("/v1/chat/completions", body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.headers["x-hearth-route"],
        "cloud; upstream=up; model=big; rule=model"
    );
    let sent = up.bodies();
    assert_eq!(sent.len(), 1);
    let leaked: Vec<&String> = secrets
        .iter()
        .map(|(s, _)| s)
        .filter(|s| sent[0].contains(s.as_str()))
        .collect();
    assert!(
        leaked.is_empty(),
        "{} secrets left: {leaked:?}",
        leaked.len()
    );
    assert!(!sent[0].contains("corp.example.com"), "internal host left");
    // The echo comes back with every value of the prompt restored (text, not a URL).
    let answer = r.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_string();
    for (secret, text) in a {
        if text.contains("://") {
            continue;
        }
        assert!(
            answer.contains(secret.as_str()),
            "{secret} not restored: {answer}"
        );
    }
    assert!(!answer.contains("HEARTH_AWS"), "{answer}");
    // The audit log: counts, cost = price × usage, never a value.
    let log = std::fs::read_to_string(&audit).unwrap();
    let rec: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(rec["status"], "ok");
    assert_eq!(rec["upstream"], "up");
    assert!(
        rec["redactions"]["aws-access-key-id"].as_u64().unwrap() >= 13,
        "{rec}"
    );
    assert!(
        (rec["cost_usd"].as_f64().unwrap() - (1000.0 * 3.0 + 500.0 * 15.0) / 1e6).abs() < 1e-12
    );
    // The log keeps the exact outbound body (audit_bodies): placeholders, no secret.
    assert!(
        rec["body"].as_str().unwrap().contains("HEARTH_AWS_KEY_ID_"),
        "{rec}"
    );
    assert_eq!(rec["body"].as_str().unwrap(), sent[0]);
    for (secret, _) in &secrets {
        assert!(!log.contains(secret.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_protocol_streams_the_cloud_answer_restored() {
    let (up, base) = stand_in().await;
    let (_logs, s, _) = hybrid(&base, "", "");
    let key = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let prompt = format!("my token is {key}");
    // OpenAI, streamed.
    let r = send(
        &s,
        post("/v1/chat/completions", ask("smart", &prompt, true)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let (events, done) = common::sse(&r);
    assert!(done);
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, format!("you said: {prompt}"));
    // Ollama, streamed.
    let r = send(&s, post("/api/chat", ask("smart", &prompt, true))).await;
    let text: String = ndjson(&r)
        .iter()
        .filter_map(|e| e["message"]["content"].as_str())
        .collect();
    assert_eq!(text, format!("you said: {prompt}"));
    // Anthropic Messages, streamed.
    let body = json!({"model": "smart", "max_tokens": 64, "stream": true,
                      "messages": [{"role": "user", "content": prompt}]});
    let r = send(&s, post("/v1/messages", body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let text: String = named_events(&r)
        .iter()
        .filter_map(|(_, e)| e["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, format!("you said: {prompt}"));
    for b in up.bodies() {
        assert!(!b.contains(key), "{b}");
    }
    assert_eq!(up.bodies().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_private_keys_and_local_asks_stay_local() {
    let (up, base) = stand_in().await;
    let (_logs, s, _) = hybrid(&base, "", "");
    // FIM with a forced cloud header: always local.
    let fim = json!({"model": "tiny:latest", "prompt": "def f(", "suffix": "\n", "max_tokens": 4});
    let mut req = post("/v1/completions", fim.to_string());
    req.headers_mut()
        .insert("x-hearth-route", "cloud:smart".parse().unwrap());
    let r = send(&s, req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.headers["x-hearth-route"]
        .to_str()
        .unwrap()
        .starts_with("local; rule=task:autocomplete"));
    // A private key: the request is answered here.
    let pem = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----";
    let r = send(&s, post("/api/chat", ask("smart", pem, false))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["message"]["content"], "ok");
    assert_eq!(
        r.headers["x-hearth-route"],
        "local; rule=redact:private-key"
    );
    // Explicitly local.
    let mut req = post("/api/chat", ask("tiny:latest", "hi", false));
    req.headers_mut()
        .insert("x-hearth-route", "local".parse().unwrap());
    let r = send(&s, req).await;
    assert_eq!(r.json()["message"]["content"], "ok");
    assert_eq!(up.bodies().len(), 0, "the stand-in was reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_before_the_first_byte_fall_back_and_open_the_circuit() {
    let (up, base) = stand_in().await;
    let (_logs, s, audit) = hybrid(&base, "\"local\"", "");
    // 500, a stall past the first-byte timeout, a malformed event: each falls back to local.
    for b in [
        Behave::Status(500, None),
        Behave::Stall(Duration::from_secs(3)),
        Behave::Malformed,
    ] {
        up.then(b.clone());
        let t = std::time::Instant::now();
        let r = send(&s, post("/api/chat", ask("smart", "hi", false))).await;
        assert_eq!(r.status, StatusCode::OK, "{b:?}: {}", r.text());
        assert_eq!(r.json()["message"]["content"], "ok", "{b:?}");
        assert_eq!(
            r.headers["x-hearth-route"], "local; rule=model; fallback=local",
            "{b:?}"
        );
        // The stall costs the first-byte timeout (1 s), not the stall.
        assert!(
            t.elapsed() < Duration::from_millis(2500),
            "{b:?}: {:?}",
            t.elapsed()
        );
    }
    // Three failures in a row: the circuit is open and the policy skips the upstream.
    let r = send(&s, post("/api/chat", ask("smart", "hi", false))).await;
    assert_eq!(r.headers["x-hearth-route"], "local; rule=model");
    assert_eq!(up.bodies().len(), 3);
    let log = std::fs::read_to_string(&audit).unwrap();
    let statuses: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["status"].to_string())
        .collect();
    assert!(
        statuses.iter().any(|s| s.contains("http 500")),
        "{statuses:?}"
    );
    assert!(log.contains("\"fallback\":\"local\""), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_opens_the_circuit_and_no_fallback_is_a_502() {
    let (up, base) = stand_in().await;
    let (_logs, s, _) = hybrid(&base, "", "");
    up.then(Behave::Status(429, Some(60)));
    let r = send(&s, post("/v1/chat/completions", ask("smart", "hi", false))).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text());
    assert!(r.text().contains("HTTP status 429"), "{}", r.text());
    assert_eq!(r.headers["x-hearth-route"], "cloud; rule=model; failed");
    assert!(
        !r.text().contains("upstream says no"),
        "the upstream's words leaked"
    );
    // Open for the Retry-After: the next request does not reach the upstream.
    let r = send(&s, post("/v1/chat/completions", ask("smart", "hi", false))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["x-hearth-route"], "local; rule=model");
    assert_eq!(up.bodies().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mid_stream_failure_ends_the_stream_with_an_error_and_big_replies_pass() {
    let (up, base) = stand_in().await;
    let (_logs, s, _) = hybrid(&base, "\"local\"", "");
    up.then(Behave::Cut);
    let r = send(&s, post("/v1/chat/completions", ask("smart", "hi", true))).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert!(text.contains("partial"), "{text}");
    assert!(text.contains("mid-answer"), "{text}");
    // Not spliced: the local model's "ok" never follows.
    assert!(!text.contains("\"content\":\"ok\""), "{text}");
    up.then(Behave::Big);
    let r = send(&s, post("/v1/chat/completions", ask("smart", "hi", false))).await;
    assert_eq!(r.status, StatusCode::OK);
    let content = r.json()["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .len();
    assert_eq!(content, 5_000_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_call_arguments_keep_their_placeholders() {
    let (_up, base) = stand_in().await;
    let (_logs, s, _) = hybrid(&base, "", "");
    _up.then(Behave::ToolCall);
    let key = "sk_live_0123456789abcdefABCDEF01";
    let body = json!({"model": "smart", "stream": false,
        "tools": [{"type": "function", "function": {"name": "Bash", "parameters": {"type": "object", "properties": {"command": {"type": "string"}}}}}],
        "messages": [{"role": "user", "content": key}]});
    let r = send(&s, post("/v1/chat/completions", body.to_string())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let call = &r.json()["choices"][0]["message"]["tool_calls"][0]["function"];
    assert_eq!(call["name"], "Bash");
    let args = call["arguments"].as_str().unwrap();
    assert!(!args.contains(key), "restored into a tool call: {args}");
    assert!(args.contains("HEARTH_"), "{args}");
}

#[test]
fn a_hybrid_policy_needs_its_upstream_key_and_a_supported_kind() {
    let p = "[router]\nmode = \"hybrid\"\n[[upstream]]\nname = \"up\"\nkind = \"openai\"\n\
             base_url = \"https://api.example.invalid/v1\"\napi_key_env = \"HEARTH_TEST_NO_SUCH_KEY_VAR\"\n";
    let cfg = ServerConfig {
        route_policy: hearth_route::Policy::parse(p, "router.toml").unwrap(),
        ..ServerConfig::default()
    };
    let e = hearth_server::check_config(&cfg).unwrap_err().to_string();
    assert!(e.contains("HEARTH_TEST_NO_SUCH_KEY_VAR"), "{e}");
    let p = "[router]\nmode = \"hybrid\"\n";
    let cfg = ServerConfig {
        route_policy: hearth_route::Policy::parse(p, "router.toml").unwrap(),
        ..ServerConfig::default()
    };
    assert!(hearth_server::check_config(&cfg)
        .unwrap_err()
        .to_string()
        .contains("[[upstream]]"));
    let cfg = ServerConfig {
        no_cloud: true,
        ..cfg
    };
    hearth_server::check_config(&cfg).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_keeps_the_next_request_local() {
    let (up, base) = stand_in().await;
    // One answer costs (1000 × 3 + 500 × 15) / 1e6 = $0.0105.
    let logs = tempfile::tempdir().unwrap();
    let audit = logs.path().join("audit.jsonl");
    let policy = format!(
        "[router]\nmode = \"hybrid\"\naudit_log = \"{}\"\nlocal_model = \"tiny:latest\"\n\
         budget_usd_per_day = 0.01\n[redact]\nfrom_env = false\n\
         [[upstream]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"{base}\"\n\
         price = {{ in_per_mtok = 3.0, out_per_mtok = 15.0 }}\n\
         [[alias]]\nname = \"smart\"\ntarget = \"up:big\"\n",
        audit.display()
    );
    let cfg = ServerConfig {
        route_policy: hearth_route::Policy::parse(&policy, "router.toml").unwrap(),
        ..ServerConfig::default()
    };
    let (_d, s, _) = serve_tiny(&["ok"], 4096, cfg);
    let mut req = post("/v1/chat/completions", ask("smart", "hi", false));
    req.headers_mut()
        .insert("x-hearth-project", "acme".parse().unwrap());
    let r = send(&s, req).await;
    assert!(r.headers["x-hearth-route"]
        .to_str()
        .unwrap()
        .starts_with("cloud;"));
    // The record is written as the attempt ends, just after the answer.
    for _ in 0..100 {
        if std::fs::read_to_string(&audit).is_ok_and(|t| !t.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rec: Value = serde_json::from_str(
        std::fs::read_to_string(&audit)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(rec["project"], "acme");
    let r = send(&s, post("/v1/chat/completions", ask("smart", "hi", false))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.headers["x-hearth-route"], "local; rule=budget");
    assert_eq!(up.bodies().len(), 1);
    // A server started later reads the day's spending back from the log.
    let cfg = ServerConfig {
        route_policy: hearth_route::Policy::parse(&policy, "router.toml").unwrap(),
        ..ServerConfig::default()
    };
    let (_d2, s2, _) = serve_tiny(&["ok"], 4096, cfg);
    let r = send(&s2, post("/v1/chat/completions", ask("smart", "hi", false))).await;
    assert_eq!(r.headers["x-hearth-route"], "local; rule=budget");
    assert_eq!(up.bodies().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_over_the_local_context_goes_to_the_cloud_by_rule() {
    let (up, base) = stand_in().await;
    let rule = "[[rule]]\nid = \"too-long-here\"\nwhen = { exceeds_local_context = true }\n\
                route = \"alias:smart\"\n";
    let (_logs, s, _) = hybrid(&base, "", rule);
    // The default context is 4096 tokens; 40 KB is about 10k tokens.
    let long = "x = 1\n".repeat(7000);
    let r = send(&s, post("/api/chat", ask("tiny:latest", &long, false))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.headers["x-hearth-route"],
        "cloud; upstream=up; model=big; rule=rule:too-long-here"
    );
    let r = send(&s, post("/api/chat", ask("tiny:latest", "short", false))).await;
    assert_eq!(r.headers["x-hearth-route"], "local; rule=default");
    assert_eq!(up.bodies().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_upstream_gets_messages_redacted_and_its_key() {
    let (up, base) = stand_in().await;
    let extra = format!(
        "[[upstream]]\nname = \"anth\"\nkind = \"anthropic\"\nbase_url = \"{base}\"\n\
         api_key_env = \"HOME\"\n\
         [[alias]]\nname = \"claude\"\ntarget = \"anth:claude-x\"\n"
    );
    let (_logs, s, _) = hybrid(&base, "", &extra);
    let key = "glpat-Ab3dEf6hIj9kLm2nOp5q";
    let prompt = format!("deploy with {key}");
    let r = send(
        &s,
        post("/v1/chat/completions", ask("claude", &prompt, true)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(
        r.headers["x-hearth-route"],
        "cloud; upstream=anth; model=claude-x; rule=model"
    );
    let (events, _) = common::sse(&r);
    let text: String = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, format!("you said: {prompt}"));
    let seen = up.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let body = String::from_utf8_lossy(&seen[0].0);
    assert!(
        !body.contains(key) && body.contains("HEARTH_GITLAB_TOKEN_"),
        "{body}"
    );
    let home = std::env::var("HOME").unwrap();
    assert_eq!(
        seen[0].1.as_deref(),
        Some(format!("x-api-key {home}").as_str())
    );
}
