#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! End-to-end generation through the HTTP layer with the real 0.5B model (skipped when the test
//! models are absent, failing under HEARTH_REQUIRE_TEST_MODELS=1).
mod common;

use std::time::Duration;

use common::*;
use hearth_gguf::testing::{test_model, TestModel};
use hearth_server::config::ServerConfig;
use hearth_server::{app, AppState};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const MODEL: &str = "qwen2.5-coder:0.5b";

fn setup(cfg: ServerConfig) -> Option<(tempfile::TempDir, AppState)> {
    let model = test_model(TestModel::Qwen05)?;
    let cfg = ServerConfig {
        threads: Some(2),
        default_num_ctx: 2048,
        ..cfg
    };
    Some(serve_models(&[(MODEL, &model)], cfg))
}

fn ndjson(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn sse(body: &[u8]) -> (Vec<Value>, bool) {
    let text = String::from_utf8_lossy(body).into_owned();
    let mut out = Vec::new();
    let mut done = false;
    for ev in text.split("\n\n").filter(|e| !e.trim().is_empty()) {
        let data = ev
            .strip_prefix("data: ")
            .unwrap_or_else(|| panic!("not an SSE event: {ev:?}"));
        if data == "[DONE]" {
            done = true;
        } else {
            assert!(!done, "event after [DONE]");
            out.push(serde_json::from_str(data).unwrap());
        }
    }
    (out, done)
}

fn joined(lines: &[Value], f: impl Fn(&Value) -> Option<&str>) -> String {
    lines.iter().filter_map(f).collect()
}

#[tokio::test]
async fn ollama_and_openai_end_to_end() {
    let Some((_d, s)) = setup(ServerConfig::default()) else {
        return;
    };

    // Load with an empty prompt, then ps.
    let r = send(
        &s,
        post("/api/generate", json!({"model": MODEL}).to_string()),
    )
    .await;
    assert_eq!(r.json()["done_reason"], "load", "{}", r.text());
    let ps = send(&s, get("/api/ps")).await.json();
    assert_eq!(ps["models"][0]["name"], MODEL);
    assert_eq!(ps["models"][0]["context_length"], 2048);

    // Non-streamed and streamed greedy generation give the same text.
    let body = json!({"model": MODEL, "prompt": "Write a Python function add(a, b) that returns the sum.", "stream": false,
        "options": {"temperature": 0, "num_predict": 24, "seed": 1}});
    let r = send(&s, post("/api/generate", body.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let text = j["response"].as_str().unwrap().to_string();
    assert!(
        text.contains("def add") || text.contains("return"),
        "{text}"
    );
    assert_eq!(j["done"], true);
    assert_eq!(j["eval_count"], 24);
    assert!(j["prompt_eval_count"].as_u64().unwrap() > 10);
    assert!(j["total_duration"].as_u64().unwrap() > 0);
    let mut sbody = body.clone();
    sbody["stream"] = json!(true);
    let r = send(&s, post("/api/generate", sbody.to_string())).await;
    assert_eq!(r.headers["content-type"], "application/x-ndjson");
    let lines = ndjson(&r.body);
    let last = lines.last().unwrap();
    assert_eq!(last["done"], true);
    assert_eq!(last["done_reason"], "length");
    assert!(lines[..lines.len() - 1].iter().all(|l| l["done"] == false));
    assert_eq!(joined(&lines, |l| l["response"].as_str()), text);

    // Chat, non-streamed.
    let r = send(&s, post("/api/chat", json!({"model": MODEL, "stream": false, "options": {"temperature": 0, "num_predict": 16},
        "messages": [{"role": "user", "content": "What is 2+2? Answer with just the number."}]}).to_string())).await;
    let j = r.json();
    assert_eq!(j["message"]["role"], "assistant");
    assert!(
        j["message"]["content"].as_str().unwrap().contains('4'),
        "{j}"
    );
    assert_eq!(j["done_reason"], "stop");

    // Fill-in-the-middle through `suffix`.
    let r = send(&s, post("/api/generate", json!({"model": MODEL, "prompt": "def add(a, b):\n    return ",
        "suffix": "\n\nprint(add(1, 2))\n", "stream": false, "options": {"temperature": 0, "num_predict": 12}}).to_string())).await;
    let fim = r.json()["response"].as_str().unwrap().to_string();
    assert!(fim.replace(' ', "").contains("a+b"), "{fim:?}");

    // Chat constrained by a JSON schema parses and matches it.
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
        "required": ["city", "population"]});
    let r = send(&s, post("/api/chat", json!({"model": MODEL, "stream": false, "format": schema,
        "options": {"temperature": 0, "num_predict": 64},
        "messages": [{"role": "user", "content": "Give the largest city of Japan and its population as JSON."}]}).to_string())).await;
    let content = r.json()["message"]["content"].as_str().unwrap().to_string();
    let v: Value = serde_json::from_str(&content).unwrap_or_else(|e| panic!("{content:?}: {e}"));
    assert!(v["city"].is_string() && v["population"].is_i64(), "{v}");

    // OpenAI chat, streamed with usage.
    let r = send(&s, post("/v1/chat/completions", json!({"model": MODEL, "stream": true, "stream_options": {"include_usage": true},
        "temperature": 0, "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello."}]}).to_string())).await;
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let (events, done) = sse(&r.body);
    assert!(done, "no [DONE]");
    assert_eq!(events[0]["choices"][0]["delta"]["role"], "assistant");
    let usage = events.last().unwrap();
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    let said = joined(&events, |e| e["choices"][0]["delta"]["content"].as_str());
    assert!(said.to_lowercase().contains("hello"), "{said}");
    let finish: Vec<&Value> = events
        .iter()
        .filter(|e| {
            !e["choices"][0]["finish_reason"].is_null()
                && e["choices"].as_array().is_some_and(|c| !c.is_empty())
        })
        .collect();
    assert_eq!(finish.len(), 1);

    // OpenAI chat, not streamed, with tools offered (must still answer plainly).
    let r = send(&s, post("/v1/chat/completions", json!({"model": MODEL, "temperature": 0, "max_tokens": 16,
        "tools": [{"type": "function", "function": {"name": "read_file", "description": "Read a file", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}],
        "messages": [{"role": "user", "content": "What is 3+3? Answer with just the number."}]}).to_string())).await;
    let j = r.json();
    assert_eq!(j["object"], "chat.completion");
    assert!(j["usage"]["total_tokens"].as_u64().unwrap() > 0);

    // Tools, streamed: either tool calls or plain text, never raw `<tool_call>` markup.
    let tools = json!([{"type": "function", "function": {"name": "read_file", "description": "Read a file from the workspace",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}}]);
    let r = send(&s, post("/v1/chat/completions", json!({"model": MODEL, "stream": true, "temperature": 0, "max_tokens": 64,
        "tools": tools, "messages": [{"role": "user", "content": "Use the read_file tool to read src/main.rs."}]}).to_string())).await;
    let (events, done) = sse(&r.body);
    assert!(done);
    let said = joined(&events, |e| e["choices"][0]["delta"]["content"].as_str());
    assert!(!said.contains("<tool_call>"), "{said}");
    let calls: Vec<&Value> = events
        .iter()
        .filter_map(|e| e["choices"][0]["delta"]["tool_calls"].as_array())
        .flatten()
        .collect();
    if let Some(c) = calls.first() {
        assert_eq!(c["function"]["name"], "read_file");
        let args: Value =
            serde_json::from_str(c["function"]["arguments"].as_str().unwrap()).unwrap();
        assert!(args["path"].is_string(), "{args}");
        assert_eq!(
            events
                .iter()
                .rev()
                .find(|e| e["choices"].as_array().is_some_and(|c| !c.is_empty()))
                .unwrap()["choices"][0]["finish_reason"],
            "tool_calls"
        );
    }

    // Ollama `format: "json"` gives a JSON object.
    let r = send(&s, post("/api/generate", json!({"model": MODEL, "format": "json", "stream": false,
        "prompt": "Describe a cat as JSON with keys name and color.", "options": {"temperature": 0, "num_predict": 48}}).to_string())).await;
    let text = r.json()["response"].as_str().unwrap().to_string();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    assert!(v.is_object());

    // OpenAI completions with suffix.
    let r = send(
        &s,
        post(
            "/v1/completions",
            json!({"model": MODEL, "prompt": "def mul(a, b):\n    return ",
        "suffix": "\n", "max_tokens": 8, "temperature": 0})
            .to_string(),
        ),
    )
    .await;
    let j = r.json();
    assert!(
        j["choices"][0]["text"]
            .as_str()
            .unwrap()
            .replace(' ', "")
            .contains("a*b"),
        "{j}"
    );

    // Unload with keep_alive 0.
    let r = send(
        &s,
        post(
            "/api/generate",
            json!({"model": MODEL, "keep_alive": 0}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.json()["done_reason"], "unload");
    assert_eq!(send(&s, get("/api/ps")).await.json()["models"], json!([]));
    let m = send(&s, get("/metrics")).await.text();
    assert!(m.contains("hearth_generated_tokens_total"), "{m}");
}

#[tokio::test]
async fn continue_fixtures_replay() {
    let Some((_d, s)) = setup(ServerConfig::default()) else {
        return;
    };
    let fixture = |name: &str| {
        std::fs::read_to_string(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let r = send(&s, post("/api/show", fixture("continue-show.json"))).await;
    let j = r.json();
    assert!(
        j["template"].as_str().unwrap().contains(".Suffix"),
        "Continue would not send suffix"
    );
    // Continue parses `parameters` lines and `num_ctx`; must be a string.
    assert!(j["parameters"].is_string());

    let r = send(
        &s,
        post("/api/generate", fixture("continue-autocomplete.json")),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let lines = ndjson(&r.body);
    assert_eq!(lines.last().unwrap()["done"], true);
    let completion = joined(&lines, |l| l["response"].as_str());
    assert!(
        completion.contains("square(v)")
            || completion.contains("v * v")
            || completion.contains("v ** 2"),
        "{completion:?}"
    );

    let r = send(&s, post("/api/chat", fixture("continue-chat.json"))).await;
    let lines = ndjson(&r.body);
    assert_eq!(lines.last().unwrap()["done"], true);
    let answer = joined(&lines, |l| l["message"]["content"].as_str());
    assert!(answer.contains("Paris"), "{answer:?}");
}

async fn stream_generate(s: &AppState, prompt: String) -> Vec<Value> {
    let body =
        json!({"model": MODEL, "prompt": prompt, "options": {"temperature": 0, "num_predict": 12}})
            .to_string();
    let r = send(s, post("/api/generate", body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    ndjson(&r.body)
}

#[tokio::test]
async fn sixteen_concurrent_streams_and_disconnect_frees_slot() {
    let cfg = ServerConfig {
        num_parallel: 4,
        ..ServerConfig::default()
    };
    let Some((_d, s)) = setup(cfg) else { return };
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s2 = s.clone();
        tasks.push(tokio::spawn(async move {
            stream_generate(
                &s2,
                format!("Count from {i} to {}, separated by commas.", i + 5),
            )
            .await
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        let lines = t.await.unwrap();
        let last = lines.last().unwrap();
        assert_eq!(last["done"], true, "client {i}");
        assert!(last["error"].is_null());
        let text = joined(&lines, |l| l["response"].as_str());
        assert!(text.contains(&i.to_string()), "client {i}: {text:?}");
    }
    assert_eq!(metric(&s, "hearth_requests_running").await, 0.0);
}

#[tokio::test]
async fn disconnect_cancels_and_frees_the_only_slot() {
    let cfg = ServerConfig {
        num_parallel: 1,
        ..ServerConfig::default()
    };
    let Some((_d, s)) = setup(cfg) else { return };
    let long = json!({"model": MODEL, "prompt": "Write a very long story about a dragon.", "options": {"num_predict": 100000}}).to_string();
    let resp = app(s.clone())
        .oneshot(post("/api/generate", long))
        .await
        .unwrap();
    let mut body = resp.into_body();
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.is_data());
    assert_eq!(metric(&s, "hearth_requests_running").await, 1.0);
    // A second request queues behind the only slot...
    let quick = json!({"model": MODEL, "prompt": "Say hi.", "stream": false, "options": {"num_predict": 4}}).to_string();
    let s2 = s.clone();
    let queued = tokio::spawn(async move { send(&s2, post("/api/generate", quick)).await });
    for _ in 0..200 {
        if metric(&s, "hearth_requests_waiting").await == 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        metric(&s, "hearth_requests_waiting").await,
        1.0,
        "second request is not queued"
    );
    // ...and starts as soon as the first client goes away.
    drop(body);
    let r = tokio::time::timeout(Duration::from_secs(120), queued)
        .await
        .expect("slot not freed")
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["eval_count"], 4);
    let m = send(&s, get("/metrics")).await.text();
    assert!(m.contains("hearth_generations_cancelled_total 1"), "{m}");
    assert_eq!(metric(&s, "hearth_requests_running").await, 0.0);
}

/// A model whose fit estimate exceeds the memory budget is refused before loading, with the
/// need, the budget and a context that would fit; the server keeps serving, and the same model
/// at a context that fits loads.
#[tokio::test]
async fn over_budget_load_is_refused_with_a_suggestion() {
    let cfg = ServerConfig {
        num_parallel: 1,
        // The 0.5B's estimate (`hearth fit FILE --ctx N`): 0.87 GiB at ctx 2048, 1.9 GiB at ctx
        // 32768 (without flash attention the attention scores of a 512-token batch over the
        // whole context are materialized).
        memory_budget: 1 << 30,
        ..ServerConfig::default()
    };
    let Some((_d, s)) = setup(cfg) else { return };
    let big = json!({"model": MODEL, "prompt": "Say hi.", "stream": false,
        "options": {"num_ctx": 32768, "num_predict": 2}});
    let r = send(&s, post("/api/generate", big.to_string())).await;
    assert_eq!(r.status, 500, "{}", r.text());
    let err = r.json()["error"].as_str().unwrap().to_string();
    assert!(err.contains("does not fit in memory"), "{err}");
    assert!(err.contains(MODEL), "{err}");
    assert!(err.contains("ctx 32768 needs"), "{err}");
    assert!(err.contains("only 1.0 GiB is available"), "{err}");
    assert!(
        err.contains("this model at ctx"),
        "no context suggestion: {err}"
    );
    let ps = send(&s, get("/api/ps")).await.json();
    assert_eq!(ps["models"], json!([]), "refused model was loaded");
    let ok = json!({"model": MODEL, "prompt": "Say hi.", "stream": false,
        "options": {"num_ctx": 2048, "num_predict": 2}});
    let r = send(&s, post("/api/generate", ok.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["eval_count"], 2);
}

/// Admission decides with what a model *needs*, not the RSS it will show: with a budget
/// between the two (the CPU's repacked weights leave their mmap'd originals cached, free to
/// drop), the model loads and answers.
#[tokio::test]
async fn admission_uses_needed_not_resident() {
    let Some(path) = test_model(TestModel::Qwen05) else {
        return;
    };
    let hw = hearth_fit::Hardware::detect();
    let p = hearth_fit::ContextParams::for_hardware(2048, 1, &hw);
    let f = hearth_gguf::GgufFile::open(&path).unwrap();
    let spec = hearth_fit::ModelSpec::from_gguf(&f, "it").unwrap();
    let e = hearth_fit::plan::estimate(&spec, &p, 0, false);
    if e.repack_cpu == 0 {
        eprintln!("skipping: this CPU repacks no weights of the 0.5B (needed == resident)");
        return;
    }
    let budget = (e.cpu_needed + e.cpu_total) / 2;
    let cfg = ServerConfig {
        num_parallel: 1,
        memory_budget: budget,
        ..ServerConfig::default()
    };
    let Some((_d, s)) = setup(cfg) else { return };
    let ok = json!({"model": MODEL, "prompt": "Say hi.", "stream": false,
        "options": {"num_ctx": 2048, "num_predict": 2}});
    let r = send(&s, post("/api/generate", ok.to_string())).await;
    assert_eq!(
        r.status,
        200,
        "needed {} <= budget {budget} < resident {}: {}",
        e.cpu_needed,
        e.cpu_total,
        r.text()
    );
}

/// `"check": true` returns hearth-codecheck's findings beside the answer, streamed or not.
#[tokio::test]
async fn check_returns_insecure_code_findings() {
    let Some((_d, s)) = setup(ServerConfig::default()) else {
        return;
    };
    let ask = "Repeat this code block exactly, with nothing else:\n```python\nimport os\n\ndef run(cmd):\n    os.system(\"ls \" + cmd)\n```";
    let body = json!({"model": MODEL, "stream": false, "check": true,
        "messages": [{"role": "user", "content": ask}],
        "options": {"temperature": 0, "num_predict": 60}});
    let r = send(&s, post("/api/chat", body.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    let answer = j["message"]["content"].as_str().unwrap();
    assert!(answer.contains("os.system"), "{answer:?}");
    let blocks = j["check"]["blocks"].as_array().unwrap();
    assert!(
        blocks.iter().any(|b| b["lang"] == "python"
            && b["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["cwe"] == 78)),
        "no CWE-78 finding: {}",
        j["check"]
    );
    // Streamed: the findings ride on the final object only.
    let body = json!({"model": MODEL, "check": true, "prompt": ask,
        "options": {"temperature": 0, "num_predict": 60}});
    let r = send(&s, post("/api/generate", body.to_string())).await;
    let lines = ndjson(&r.body);
    assert!(lines[..lines.len() - 1]
        .iter()
        .all(|l| l.get("check").is_none()));
    let last = lines.last().unwrap();
    assert!(last["check"]["findings"].as_u64().unwrap() >= 1, "{last}");
    // Without the field, no check.
    let body = json!({"model": MODEL, "stream": false, "prompt": "Say hi.",
        "options": {"num_predict": 2}});
    let r = send(&s, post("/api/generate", body.to_string())).await;
    assert!(r.json().get("check").is_none());

    // The same extension on OpenAI's chat: `check` beside the choices, and on the last chunk.
    let oa = json!({"model": MODEL, "check": true, "temperature": 0, "max_tokens": 60,
        "messages": [{"role": "user", "content": ask}]});
    let r = send(&s, post("/v1/chat/completions", oa.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert!(
        j["check"]["blocks"][0]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["cwe"] == 78),
        "{j}"
    );
    let mut streamed = oa.clone();
    streamed["stream"] = json!(true);
    let (chunks, _) = sse(
        &send(&s, post("/v1/chat/completions", streamed.to_string()))
            .await
            .body,
    );
    let last = chunks
        .iter()
        .rev()
        .find(|c| c["choices"][0]["finish_reason"].is_string())
        .unwrap();
    assert!(last["check"]["findings"].as_u64().unwrap() >= 1, "{last}");
}

/// Ollama's conversational memory: a reply's `context` sent back continues the conversation.
#[tokio::test]
async fn context_carries_the_conversation() {
    let Some((_d, s)) = setup(ServerConfig::default()) else {
        return;
    };
    let first = json!({"model": MODEL, "stream": false,
        "prompt": "Remember this: my cat is called Whiskers. Reply with just OK.",
        "options": {"temperature": 0, "num_predict": 8}});
    let r = send(&s, post("/api/generate", first.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let ctx = r.json()["context"].clone();
    assert!(ctx.as_array().unwrap().len() > 10, "{ctx}");
    let second = json!({"model": MODEL, "stream": true, "context": ctx,
        "prompt": "What is my cat called? Answer with the name only.",
        "options": {"temperature": 0, "num_predict": 8}});
    let r = send(&s, post("/api/generate", second.to_string())).await;
    let lines = ndjson(&r.body);
    let answer = joined(&lines, |l| l["response"].as_str());
    assert!(answer.contains("Whiskers"), "{answer:?}");
    let longer = lines.last().unwrap()["context"].as_array().unwrap().len();
    assert!(
        longer > ctx.as_array().unwrap().len(),
        "context did not grow"
    );
    // Bad contexts are 400s, and raw mode refuses one.
    for bad in [json!([1, -5]), json!([1u64 << 40]), json!([1, 10_000_000])] {
        let body = json!({"model": MODEL, "prompt": "x", "context": bad, "stream": false});
        let r = send(&s, post("/api/generate", body.to_string())).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    let body = json!({"model": MODEL, "prompt": "x", "raw": true, "context": [1, 2]});
    assert_eq!(
        send(&s, post("/api/generate", body.to_string()))
            .await
            .status,
        400
    );
}
