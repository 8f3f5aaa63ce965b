#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Every streaming format, context limits and Modelfile defaults through the real HTTP stack
//! and service, with a scripted engine (no llama.cpp): NDJSON and SSE framing, `[DONE]` order,
//! tool-call hold-back, usage chunks, cancellation, errors that hide internals, a streamed and
//! a whole answer agreeing.
mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::scripted::{serve_tiny, tiny_model, ScriptedEngine, ScriptedRunner};
use common::*;
use hearth_server::config::ServerConfig;
use hearth_server::{app, AppState};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const MODEL: &str = "tiny:latest";

fn setup(pieces: &[&str], n_ctx: u32) -> (tempfile::TempDir, AppState, Arc<ScriptedRunner>) {
    serve_tiny(pieces, n_ctx, ServerConfig::default())
}

#[tokio::test]
async fn ollama_streamed_and_whole_answers_agree() {
    let (_d, s, runner) = setup(&["Hel", "lo", " world"], 4096);
    let body = |stream: bool| json!({"model": MODEL, "prompt": "hi", "stream": stream}).to_string();
    let r = send(&s, post("/api/generate", body(true))).await;
    assert_eq!(r.headers["content-type"], "application/x-ndjson");
    let l = ndjson(&r);
    assert_eq!(l.len(), 4, "{l:?}");
    let text: String = l.iter().filter_map(|v| v["response"].as_str()).collect();
    assert_eq!(text, "Hello world");
    assert!(l[..3].iter().all(|v| v["done"] == false));
    let last = &l[3];
    assert_eq!(
        (last["done"].clone(), last["done_reason"].clone()),
        (json!(true), json!("stop"))
    );
    assert_eq!(runner.last().prompt, "<|user|>hi\n<|assistant|>");
    let whole = send(&s, post("/api/generate", body(false))).await.json();
    assert_eq!(whole["response"], "Hello world");
    for k in ["eval_count", "prompt_eval_count", "done_reason"] {
        assert_eq!(whole[k], last[k], "{k}");
    }
    assert_eq!(whole["eval_count"], 3);
    assert_eq!(
        whole["prompt_eval_count"],
        "<|user|>hi\n<|assistant|>".len()
    );
    // Ollama's conversational memory: the tokens of prompt and answer.
    let ctx = whole["context"].as_array().unwrap().len();
    assert_eq!(ctx, "<|user|>hi\n<|assistant|>Hello world".len());

    // Chat: message pieces, then the final object.
    let chat = json!({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]});
    let l = ndjson(&send(&s, post("/api/chat", chat.to_string())).await);
    let text: String = l
        .iter()
        .filter_map(|v| v["message"]["content"].as_str())
        .collect();
    assert_eq!(text, "Hello world");
    assert_eq!(l.last().unwrap()["done"], true);
    assert!(l.last().unwrap().get("context").is_none());
}

#[tokio::test]
async fn tool_calls_are_held_back_and_parsed_in_every_protocol() {
    let call = r#"{"name": "read_file", "arguments": {"path": "a.rs"}}"#;
    let (_d, s, _) = setup(&["<tool", "_call>", call, "</tool_call>"], 4096);
    let tools = json!([{"type": "function", "function": {"name": "read_file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]);
    let msgs = json!([{"role": "user", "content": "read a.rs"}]);

    let r = send(
        &s,
        post(
            "/api/chat",
            json!({"model": MODEL, "messages": msgs, "tools": tools}).to_string(),
        ),
    )
    .await;
    assert!(!r.text().contains("tool_call>"), "{}", r.text());
    let l = ndjson(&r);
    let calls: Vec<&Value> = l
        .iter()
        .filter_map(|v| v["message"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(calls.len(), 1, "{l:?}");
    assert_eq!(calls[0]["function"]["name"], "read_file");
    assert_eq!(calls[0]["function"]["arguments"]["path"], "a.rs");
    let whole = send(
        &s,
        post(
            "/api/chat",
            json!({"model": MODEL, "messages": msgs, "tools": tools, "stream": false}).to_string(),
        ),
    )
    .await
    .json();
    assert_eq!(
        whole["message"]["tool_calls"][0]["function"]["name"],
        "read_file"
    );
    assert_eq!(whole["message"]["content"], "");

    let oa = json!({"model": MODEL, "messages": msgs, "tools": tools, "stream": true});
    let (ev, done) = sse(&send(&s, post("/v1/chat/completions", oa.to_string())).await);
    assert!(done);
    let tc: Vec<&Value> = ev
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    assert_eq!(tc.len(), 1);
    assert_eq!(tc[0]["index"], 0);
    let args: Value =
        serde_json::from_str(tc[0]["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args["path"], "a.rs");
    assert_eq!(
        ev.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    let whole = send(
        &s,
        post(
            "/v1/chat/completions",
            json!({"model": MODEL, "messages": msgs, "tools": tools}).to_string(),
        ),
    )
    .await
    .json();
    assert_eq!(whole["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(whole["choices"][0]["message"]["content"], Value::Null);
    assert_eq!(
        whole["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "read_file"
    );
}

#[tokio::test]
async fn openai_sse_order_usage_and_done() {
    let (_d, s, _) = setup(&["a", "b"], 4096);
    let msgs = json!([{"role": "user", "content": "x"}]);
    let req = json!({"model": MODEL, "messages": msgs, "stream": true,
        "stream_options": {"include_usage": true}});
    let r = send(&s, post("/v1/chat/completions", req.to_string())).await;
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let (ev, done) = sse(&r);
    assert!(done, "no [DONE]");
    assert_eq!(ev[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = ev
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, "ab");
    let n = ev.len();
    assert_eq!(ev[n - 2]["choices"][0]["finish_reason"], "stop");
    assert_eq!(ev[n - 1]["choices"], json!([]), "usage chunk last");
    assert_eq!(ev[n - 1]["usage"]["completion_tokens"], 2);
    assert!(ev.iter().all(|e| e["id"] == ev[0]["id"]));
    let whole = send(
        &s,
        post(
            "/v1/chat/completions",
            json!({"model": MODEL, "messages": msgs}).to_string(),
        ),
    )
    .await
    .json();
    assert_eq!(whole["choices"][0]["message"]["content"], "ab");
    assert_eq!(whole["usage"], ev[n - 1]["usage"]);

    // Without include_usage: no usage chunk.
    let req = json!({"model": MODEL, "messages": msgs, "stream": true});
    let (ev, done) = sse(&send(&s, post("/v1/chat/completions", req.to_string())).await);
    assert!(done);
    assert!(ev.iter().all(|e| e.get("usage").is_none()));

    // Completions: text chunks, a finish chunk, [DONE].
    let req = json!({"model": MODEL, "prompt": "x", "stream": true});
    let (ev, done) = sse(&send(&s, post("/v1/completions", req.to_string())).await);
    assert!(done);
    let text: String = ev
        .iter()
        .filter_map(|e| e["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, "ab");
    assert_eq!(ev.last().unwrap()["choices"][0]["finish_reason"], "stop");
    assert_eq!(ev.last().unwrap()["object"], "text_completion");
}

#[tokio::test]
async fn infill_streams_like_llama_cpp() {
    let (_d, s, runner) = setup(&["x", "y"], 4096);
    let req =
        json!({"input_prefix": "def f():\n    return ", "input_suffix": "\n", "stream": true});
    let (ev, done) = sse(&send(&s, post("/infill", req.to_string())).await);
    assert!(!done, "/infill sends no [DONE]");
    assert_eq!(ev[0], json!({"content": "x", "stop": false}));
    let last = ev.last().unwrap();
    assert_eq!(last["stop"], true);
    assert_eq!(last["tokens_predicted"], 2);
    assert_eq!(last["model"], MODEL);
    // Through the autocomplete path.
    let fim = runner.last().fim.expect("not a FIM request");
    assert_eq!(fim.suffix, "\n");
    let whole = send(
        &s,
        post(
            "/infill",
            json!({"input_prefix": "a", "input_suffix": "b"}).to_string(),
        ),
    )
    .await
    .json();
    assert_eq!(whole["content"], "xy");
    assert_eq!(whole["stop_type"], "eos");
}

#[tokio::test]
async fn a_client_that_goes_away_cancels_the_generation() {
    let pieces: Vec<String> = (0..2000).map(|i| format!("{i} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let (_d, s, runner) = setup(&pieces, 1 << 20);
    let req = json!({"model": MODEL, "prompt": "count"}).to_string();
    let resp = app(s.clone())
        .oneshot(post("/api/generate", req))
        .await
        .unwrap();
    let mut body = resp.into_body();
    assert!(body.frame().await.unwrap().unwrap().is_data());
    drop(body);
    for _ in 0..500 {
        if runner.cancelled.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        runner.cancelled.load(Ordering::SeqCst),
        1,
        "generation not cancelled"
    );
    assert_eq!(metric(&s, "hearth_generations_cancelled_total").await, 1.0);
    assert_eq!(metric(&s, "hearth_requests_running").await, 0.0);
}

#[tokio::test]
async fn engine_failures_hide_internals_in_every_framing() {
    let (_d, s, runner) = setup(&["part"], 4096);
    runner.script.lock().unwrap().fail = Some("/secret/models/blob: decode failed".into());
    let l = ndjson(
        &send(
            &s,
            post(
                "/api/generate",
                json!({"model": MODEL, "prompt": "x"}).to_string(),
            ),
        )
        .await,
    );
    let last = l.last().unwrap();
    assert_eq!(last["code"], "internal_error", "{l:?}");
    assert!(
        !last["error"].as_str().unwrap().contains("/secret"),
        "{last}"
    );
    let (ev, done) = sse(&send(
        &s,
        post(
            "/v1/chat/completions",
            json!({"model": MODEL, "stream": true,
        "messages": [{"role": "user", "content": "x"}]})
            .to_string(),
        ),
    )
    .await);
    assert!(done);
    let err = &ev.last().unwrap()["error"];
    assert_eq!(err["type"], "server_error");
    assert!(!err["message"].as_str().unwrap().contains("/secret"));
    let r = send(
        &s,
        post(
            "/api/generate",
            json!({"model": MODEL, "prompt": "x", "stream": false}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 500);
    assert!(!r.text().contains("/secret"), "{}", r.text());
}

/// Create `name` in the server's store from Modelfile text (relative paths from `dir`).
fn create(s: &AppState, dir: &std::path::Path, name: &str, modelfile: &str) {
    let mf = hearth_store::modelfile::Modelfile::parse(modelfile).unwrap();
    let stores = s.service().stores();
    stores
        .primary
        .create(
            &hearth_store::ModelName::parse(name).unwrap(),
            &mf,
            dir,
            &stores.extra,
            hearth_store::CreateOptions {
                link: false,
                names_only: false,
            },
            &hearth_store::no_progress,
        )
        .unwrap();
}

/// A conversation of `turns` user/assistant pairs of 40 bytes each after a system message.
fn long_chat(turns: usize) -> Value {
    let mut m = vec![json!({"role": "system", "content": "SYSTEM"})];
    for i in 0..turns {
        m.push(json!({"role": "user", "content": format!("question {i:02} {}", "q".repeat(28))}));
        m.push(
            json!({"role": "assistant", "content": format!("answer {i:02} {}", "a".repeat(30))}),
        );
    }
    m.push(json!({"role": "user", "content": "LAST QUESTION"}));
    Value::Array(m)
}

#[tokio::test]
async fn long_chats_are_truncated_loudly_or_refused() {
    // One token per byte, 600 per sequence: 10 turns (~1 000 bytes) do not fit.
    let (_d, s, runner) = setup(&["ok"], 600);
    let req = json!({"model": MODEL, "messages": long_chat(10), "stream": false});
    let r = send(&s, post("/api/chat", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = &r.json()["truncated"];
    let dropped = t["messages"].as_u64().unwrap();
    assert!(dropped >= 2 && dropped % 2 == 0, "{t}");
    assert!(t["prompt_tokens"].as_u64().unwrap() < 600);
    assert!(t["prompt_tokens_before"].as_u64().unwrap() > 600);
    let h = r.headers["x-hearth-truncated"].to_str().unwrap();
    assert!(h.starts_with(&format!("messages={dropped};")), "{h}");
    let prompt = runner.last().prompt;
    assert!(
        prompt.starts_with("<|system|>SYSTEM\n<|user|>question"),
        "{prompt}"
    );
    assert!(prompt.contains("LAST QUESTION"));
    assert!(!prompt.contains("question 00"), "{prompt}");
    // Room is left for the answer (at most a quarter of the context).
    assert!(prompt.len() + 150 <= 600, "{}", prompt.len());
    assert_eq!(metric(&s, "hearth_truncated_requests_total").await, 1.0);
    assert_eq!(
        metric(&s, "hearth_truncated_messages_total").await,
        dropped as f64
    );

    // Streamed: the header, and `truncated` in the final object.
    let req = json!({"model": MODEL, "messages": long_chat(10)});
    let r = send(&s, post("/api/chat", req.to_string())).await;
    assert!(r.headers.contains_key("x-hearth-truncated"));
    assert_eq!(ndjson(&r).last().unwrap()["truncated"]["messages"], dropped);
    // OpenAI too (same service).
    let req = json!({"model": MODEL, "messages": long_chat(10)});
    let r = send(&s, post("/v1/chat/completions", req.to_string())).await;
    assert_eq!(r.status, 200);
    assert!(r.headers.contains_key("x-hearth-truncated"));

    // `truncate: false`: a 400 with the token counts.
    let req = json!({"model": MODEL, "messages": long_chat(10), "truncate": false});
    let r = send(&s, post("/api/chat", req.to_string())).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let j = r.json();
    assert_eq!(j["code"], "prompt_too_long");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("more than the context of 600 tokens"),
        "{j}"
    );

    // A chat that fits is not touched.
    let req = json!({"model": MODEL, "messages": long_chat(1), "stream": false});
    let r = send(&s, post("/api/chat", req.to_string())).await;
    assert!(r.json().get("truncated").is_none());
    assert!(!r.headers.contains_key("x-hearth-truncated"));

    // A raw prompt or a completion is never cut.
    let long = "x".repeat(700);
    let r = send(
        &s,
        post(
            "/api/generate",
            json!({"model": MODEL, "prompt": long, "raw": true}).to_string(),
        ),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.json()["code"].clone()),
        (400, json!("prompt_too_long"))
    );
    let r = send(
        &s,
        post(
            "/v1/completions",
            json!({"model": MODEL, "prompt": long}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "prompt_too_long");
    // A single message that does not fit at all: 400 even with truncation allowed.
    let r = send(
        &s,
        post(
            "/api/chat",
            json!({"model": MODEL, "messages": [{"role": "user", "content": long}]}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(metric(&s, "hearth_truncated_requests_total").await, 3.0);
}

#[tokio::test]
async fn modelfile_system_parameters_and_messages_apply() {
    let (dir, s, runner) = setup(&["ok"], 4096);
    let gguf = dir.path().join("tiny.gguf");
    let mf = format!(
        "FROM {}\nSYSTEM You are terse.\nPARAMETER temperature 0\nPARAMETER stop <END>\n\
         PARAMETER num_predict 7\nMESSAGE user Hi\nMESSAGE assistant Hello!\n",
        gguf.display()
    );
    create(&s, dir.path(), "terse", &mf);
    let chat = |extra: Value| {
        let mut b = json!({"model": "terse", "stream": false,
            "messages": [{"role": "user", "content": "Q"}]});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b.to_string()
    };
    let r = send(&s, post("/api/chat", chat(json!({})))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = runner.last();
    assert_eq!(
        p.prompt,
        "<|system|>You are terse.\n<|user|>Hi\n<|assistant|>Hello!\n<|user|>Q\n<|assistant|>"
    );
    assert_eq!(p.sampling.temperature, Some(0.0));
    assert_eq!(p.stop, vec!["<END>".to_string()]);
    assert_eq!(p.max_tokens, Some(7));

    // Request options override the Modelfile's; a system message replaces SYSTEM.
    let r = send(&s, post("/api/chat", chat(json!({"options": {"temperature": 0.5, "stop": ["X"]},
        "messages": [{"role": "system", "content": "Be long."}, {"role": "user", "content": "Q"}]})))).await;
    assert_eq!(r.status, 200);
    let p = runner.last();
    assert_eq!(p.sampling.temperature, Some(0.5));
    assert_eq!(p.stop, vec!["X".to_string()]);
    assert_eq!(p.max_tokens, Some(7));
    assert_eq!(
        p.prompt,
        "<|system|>Be long.\n<|user|>Hi\n<|assistant|>Hello!\n<|user|>Q\n<|assistant|>"
    );

    // Generate: SYSTEM, then the MESSAGEs, then the prompt; the request's system wins.
    send(
        &s,
        post(
            "/api/generate",
            json!({"model": "terse", "prompt": "Q", "stream": false}).to_string(),
        ),
    )
    .await;
    assert_eq!(
        runner.last().prompt,
        "<|system|>You are terse.\n<|user|>Hi\n<|assistant|>Hello!\n<|user|>Q\n<|assistant|>"
    );
    send(
        &s,
        post(
            "/api/generate",
            json!({"model": "terse", "prompt": "Q", "system": "S2", "stream": false}).to_string(),
        ),
    )
    .await;
    assert!(runner
        .last()
        .prompt
        .starts_with("<|system|>S2\n<|user|>Hi\n"));
    // OpenAI's endpoint gets the same defaults.
    send(
        &s,
        post(
            "/v1/chat/completions",
            json!({"model": "terse", "messages": [{"role": "user", "content": "Q"}]}).to_string(),
        ),
    )
    .await;
    let p = runner.last();
    assert_eq!(p.sampling.temperature, Some(0.0));
    assert!(p.prompt.starts_with("<|system|>You are terse.\n"));
    assert_eq!(p.stop, vec!["<END>".to_string()]);
}

#[tokio::test]
async fn load_and_unload_requests() {
    let (_d, s, runner) = setup(&["ok"], 4096);
    let r = send(
        &s,
        post("/api/generate", json!({"model": MODEL}).to_string()),
    )
    .await
    .json();
    assert_eq!(
        (r["done"].clone(), r["done_reason"].clone()),
        (json!(true), json!("load"))
    );
    assert_eq!(r["response"], "");
    let ps = send(&s, get("/api/ps")).await.json();
    assert_eq!(ps["models"][0]["name"], MODEL);
    assert_eq!(ps["models"][0]["context_length"], 4096);
    let show = send(&s, post("/api/show", json!({"model": MODEL}).to_string()))
        .await
        .json();
    assert_eq!(show["context_length"], 4096, "the context in use");
    let r = send(
        &s,
        post(
            "/api/chat",
            json!({"model": MODEL, "messages": [], "keep_alive": 0}).to_string(),
        ),
    )
    .await
    .json();
    assert_eq!(r["done_reason"], "unload");
    assert_eq!(r["message"]["content"], "");
    let ps = send(&s, get("/api/ps")).await.json();
    assert_eq!(ps["models"], json!([]));
    let show = send(&s, post("/api/show", json!({"model": MODEL}).to_string()))
        .await
        .json();
    assert_eq!(show["context_length"], Value::Null, "not loaded");
    assert!(runner.seen.lock().unwrap().is_empty(), "a load generated");
}

/// Store resolution (which reads and hashes every text layer) runs off the async workers: on a
/// single-threaded runtime, a running stream and other requests are served while a model with
/// a huge license layer is being resolved.
#[tokio::test]
async fn a_slow_store_blocks_nothing_else() {
    let pieces: Vec<String> = (0..400).map(|i| format!("{i} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let (dir, s, _) = setup(&pieces, 1 << 20);
    let gguf = dir.path().join("tiny.gguf");
    let mf = format!(
        "FROM {}\nLICENSE \"\"\"{}\"\"\"\n",
        gguf.display(),
        "x".repeat(15 << 20)
    );
    create(&s, dir.path(), "slow", &mf);

    // A stream on the small model is running.
    let req = json!({"model": MODEL, "prompt": "count"}).to_string();
    let resp = app(s.clone())
        .oneshot(post("/api/generate", req))
        .await
        .unwrap();
    let mut stream = resp.into_body();
    assert!(stream.frame().await.unwrap().unwrap().is_data());

    // Showing the slow model starts (on this runtime's only thread)...
    let shown = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (s2, flag) = (s.clone(), shown.clone());
    let slow = tokio::spawn(async move {
        let show = send(&s2, post("/api/show", json!({"model": "slow"}).to_string())).await;
        flag.store(true, Ordering::SeqCst);
        show.status
    });
    tokio::task::yield_now().await;
    // ...and meanwhile another request is answered and the stream goes on: had the store been
    // read on the async worker, the show would have run to its end inside the yield.
    let v = send(&s, get("/api/version")).await;
    assert_eq!(v.status, 200);
    assert!(
        !shown.load(Ordering::SeqCst),
        "the store was read on the async worker"
    );
    assert!(stream.frame().await.unwrap().unwrap().is_data());
    assert_eq!(slow.await.unwrap(), 200);
}

/// A runner whose teardown takes long (as joining llama.cpp's thread and unmapping a model do).
struct SlowTeardown(Arc<std::sync::atomic::AtomicBool>);

impl hearth_server::backend::Runner for SlowTeardown {
    fn info(&self) -> hearth_server::backend::RunnerInfo {
        hearth_server::backend::RunnerInfo {
            n_ctx_per_seq: 4096,
            memory_bytes: 1,
            ..Default::default()
        }
    }
    fn prompt_tokens(&self, text: &str) -> Result<Vec<i32>, hearth_server::backend::BackendError> {
        Ok(text.bytes().map(i32::from).collect())
    }
    fn generate(
        &self,
        _: hearth_server::backend::GenParams,
    ) -> Result<hearth_server::backend::GenStream, hearth_server::backend::BackendError> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let _ = tx.send(hearth_server::backend::GenEvent::Done(
            hearth_server::backend::Finish::Stop,
            hearth_server::backend::Stats::default(),
        ));
        Ok(hearth_server::backend::GenStream { events: rx })
    }
    fn slots(&self) -> hearth_server::backend::SlotUsage {
        hearth_server::backend::SlotUsage::default()
    }
}

impl Drop for SlowTeardown {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(500));
        self.0.store(true, Ordering::SeqCst);
    }
}

struct SlowTeardownEngine(Arc<std::sync::atomic::AtomicBool>);

impl hearth_server::backend::Engine for SlowTeardownEngine {
    fn load(
        &self,
        _: &std::path::Path,
        _: &hearth_server::backend::LoadParams,
    ) -> Result<Arc<dyn hearth_server::backend::Runner>, hearth_server::backend::BackendError> {
        Ok(Arc::new(SlowTeardown(self.0.clone())))
    }
}

/// Unloading a model (whose teardown is slow) does not stall the single-threaded runtime.
#[tokio::test]
async fn model_teardown_runs_off_the_async_workers() {
    let (dir, stores) = temp_store();
    import(&stores, MODEL, &tiny_model(dir.path()));
    let gone = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s = state(
        ServerConfig::default(),
        stores,
        Arc::new(SlowTeardownEngine(gone.clone())),
    );
    let r = send(
        &s,
        post(
            "/api/generate",
            json!({"model": MODEL, "prompt": "x", "raw": true, "stream": false}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(
        &s,
        post(
            "/api/generate",
            json!({"model": MODEL, "keep_alive": 0}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.json()["done_reason"], "unload");
    // Had the runner been dropped on this (only) worker, the unload would have waited for it.
    assert!(
        !gone.load(Ordering::SeqCst),
        "teardown ran on the async worker"
    );
    assert_eq!(send(&s, get("/api/version")).await.status, 200);
    for _ in 0..300 {
        if gone.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone.load(Ordering::SeqCst), "the model was never torn down");
}

/// A full queue answers 503 with `server_busy` and counts the rejection.
#[tokio::test]
async fn a_full_queue_is_a_counted_503() {
    let (dir, stores) = temp_store();
    import(&stores, MODEL, &tiny_model(dir.path()));
    let cfg = ServerConfig {
        max_queue: 0,
        ..ServerConfig::default()
    };
    let runner = ScriptedRunner::new(&["ok"], 4096);
    let s = state(cfg, stores, Arc::new(ScriptedEngine(runner)));
    let req = json!({"model": MODEL, "messages": [{"role": "user", "content": "x"}]});
    let r = send(&s, post("/api/chat", req.to_string())).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.json()["code"], "server_busy");
    let r = send(&s, post("/v1/chat/completions", req.to_string())).await;
    assert_eq!(r.json()["error"]["code"], "server_busy");
    assert_eq!(metric(&s, "hearth_requests_rejected_total").await, 2.0);
}

#[tokio::test]
async fn autocomplete_requests_take_fim_defaults_and_an_empty_suffix_is_fim() {
    let (dir, s, runner) = setup(&["x"], 4096);
    // Ollama's suffix, present but empty (typing at the end of a file): autocomplete, not a
    // chat answer; no repetition penalty unless asked for.
    let gen = |extra: Value| {
        let mut b = json!({"model": MODEL, "prompt": "def f():\n", "stream": false});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        post("/api/generate", b.to_string())
    };
    let r = send(
        &s,
        gen(json!({"suffix": "", "options": {"temperature": 0}})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = runner.last();
    assert_eq!(p.fim.expect("an empty suffix is FIM").suffix, "");
    assert_eq!(p.sampling.repeat_penalty, Some(1.0));
    assert_eq!(p.sampling.frequency_penalty, Some(0.0));
    assert_eq!(p.sampling.presence_penalty, Some(0.0));
    // A penalty the request sets is kept.
    let r = send(
        &s,
        gen(json!({"suffix": "\n", "options": {"repeat_penalty": 1.3}})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(runner.last().sampling.repeat_penalty, Some(1.3));
    // Without `suffix` it is a prompt in the chat template, with the engine's defaults.
    let r = send(&s, gen(json!({}))).await;
    assert_eq!(r.status, 200);
    let p = runner.last();
    assert!(p.fim.is_none());
    assert_eq!(p.sampling.repeat_penalty, None);

    // OpenAI: an empty suffix is FIM too; a client-built FIM prompt keeps its text and takes
    // the autocomplete defaults.
    let complete = |body: Value| post("/v1/completions", body.to_string());
    let r = send(
        &s,
        complete(json!({"model": MODEL, "prompt": "a", "suffix": "", "temperature": 0})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(runner.last().fim.is_some());
    let raw = "<|fim_prefix|>a<|fim_suffix|>b<|fim_middle|>";
    let r = send(
        &s,
        complete(json!({"model": MODEL, "prompt": raw, "temperature": 0})),
    )
    .await;
    assert_eq!(r.status, 200);
    let p = runner.last();
    assert_eq!(p.prompt, raw);
    assert_eq!(p.sampling.repeat_penalty, Some(1.0));
    // A plain OpenAI prompt gets no penalty either (OpenAI's API has none), unless it asks
    // with llama.cpp's or vLLM's extension field.
    let r = send(&s, complete(json!({"model": MODEL, "prompt": "a"}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(runner.last().sampling.repeat_penalty, Some(1.0));
    let r = send(
        &s,
        complete(json!({"model": MODEL, "prompt": "a", "repetition_penalty": 1.2, "top_k": 1, "min_p": 0.05})),
    )
    .await;
    assert_eq!(r.status, 200);
    let p = runner.last();
    assert_eq!(p.sampling.repeat_penalty, Some(1.2));
    assert_eq!(p.sampling.top_k, Some(1));
    assert_eq!(p.sampling.min_p, Some(0.05));
    // The same on OpenAI's and Anthropic's chat routes; Ollama's own keeps Ollama's default.
    let messages = json!([{"role": "user", "content": "x"}]);
    for (path, body) in [
        (
            "/v1/chat/completions",
            json!({"model": MODEL, "messages": messages}),
        ),
        (
            "/v1/messages",
            json!({"model": MODEL, "messages": messages, "max_tokens": 8}),
        ),
        (
            "/api/chat",
            json!({"model": MODEL, "messages": messages, "stream": false}),
        ),
    ] {
        let r = send(&s, post(path, body.to_string())).await;
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let want = (path != "/api/chat").then_some(1.0);
        assert_eq!(runner.last().sampling.repeat_penalty, want, "{path}");
    }

    // A model without FIM tokens answers an empty suffix as a plain prompt; a real suffix is
    // still refused.
    let plain = dir.path().join("plain.gguf");
    std::fs::write(&plain, hearth_gguf::writer::tiny_llama().to_bytes()).unwrap();
    create(
        &s,
        dir.path(),
        "plain",
        &format!("FROM {}\n", plain.display()),
    );
    let ask = |suffix: &str| {
        post(
            "/api/generate",
            json!({"model": "plain", "prompt": "Q", "suffix": suffix, "stream": false}).to_string(),
        )
    };
    let r = send(&s, ask("")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = runner.last();
    assert!(p.fim.is_none());
    assert_eq!(p.prompt, "Q");
    assert_eq!(send(&s, ask("tail")).await.status, 400);
}
