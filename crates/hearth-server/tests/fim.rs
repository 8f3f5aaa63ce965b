#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Fill-in-the-middle over HTTP with the real 0.5B model: Ollama `suffix`, OpenAI `suffix` and
//! `/infill` all go through the autocomplete path (prefix reuse, shaping, superseding).
mod common;

use std::time::Duration;

use common::*;
use hearth_gguf::testing::{test_model, TestModel};
use hearth_server::config::ServerConfig;
use hearth_server::AppState;
use serde_json::{json, Value};

const MODEL: &str = "qwen2.5-coder:0.5b";

fn setup() -> Option<(tempfile::TempDir, AppState)> {
    let model = test_model(TestModel::Qwen05)?;
    let cfg = ServerConfig {
        threads: Some(2),
        default_num_ctx: 2048,
        ..ServerConfig::default()
    };
    Some(serve_models(&[(MODEL, &model)], cfg))
}

const PREFIX: &str =
    "import math\n\n\ndef circle_area(radius):\n    \"\"\"Area of a circle.\"\"\"\n    return ";
const SUFFIX: &str = "\n\n\ndef main():\n    print(circle_area(2.0))\n";

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
}

#[tokio::test]
async fn every_fim_route_uses_the_autocomplete_path() {
    let Some((_d, s)) = setup() else { return };
    let ollama = json!({"model": MODEL, "prompt": PREFIX, "suffix": SUFFIX, "stream": false,
        "options": {"temperature": 0, "num_predict": 24}});
    let r = send(&s, post("/api/generate", ollama.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.json()["response"].as_str().unwrap().to_string();
    assert!(
        text.contains("math.pi") && text.contains("radius"),
        "{text:?}"
    );
    // Shaped: a single-line completion (text follows the cursor), nothing of the suffix.
    assert!(!text.contains('\n'), "{text:?}");
    assert!(!text.contains("def main"), "{text:?}");

    // Streamed (as Continue asks): the same text, pieces sent before the final object.
    let streamed = json!({"model": MODEL, "prompt": PREFIX, "suffix": SUFFIX, "stream": true,
        "options": {"temperature": 0, "num_predict": 24}});
    let r = send(&s, post("/api/generate", streamed.to_string())).await;
    let lines: Vec<Value> = r
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let joined: String = lines
        .iter()
        .filter_map(|l| l["response"].as_str())
        .collect();
    assert_eq!(joined, text);
    assert_eq!(lines.last().unwrap()["done"], true);

    let openai = json!({"model": MODEL, "prompt": PREFIX, "suffix": SUFFIX, "temperature": 0,
        "max_tokens": 24});
    let r = send(&s, post("/v1/completions", openai.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["choices"][0]["text"], text.as_str());

    let infill = json!({"model": MODEL, "input_prefix": PREFIX, "input_suffix": SUFFIX,
        "temperature": 0, "n_predict": 24});
    let r = send(&s, post("/infill", infill.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["content"], text.as_str(), "{j}");
    // The same prompt again: all of it but the healed tail comes from the cache.
    let evaluated = j["tokens_evaluated"].as_u64().unwrap();
    assert!(j["tokens_cached"].as_u64().unwrap() + 8 >= evaluated, "{j}");

    // One more typed character extends the cached prompt instead of recomputing it.
    let typed = json!({"model": MODEL, "input_prefix": PREFIX, "prompt": "m",
        "input_suffix": SUFFIX, "temperature": 0, "n_predict": 24});
    let r = send(&s, post("/infill", typed.to_string())).await;
    let j = r.json();
    assert!(j["content"].as_str().unwrap().starts_with("ath.pi"), "{j}");
    assert!(j["tokens_cached"].as_u64().unwrap() + 8 >= evaluated, "{j}");

    // Repository context through input_extra; streamed like llama.cpp's server.
    let extra = json!({"model": MODEL, "input_prefix": "from geometry import ",
        "input_suffix": "\n", "n_predict": 8, "temperature": 0, "stream": true,
        "input_extra": [{"filename": "geometry.py", "text": "def circle_area(r):\n    return 3.14159 * r * r\n"}]});
    let r = send(&s, post("/infill", extra.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let events: Vec<Value> = r
        .text()
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(events.last().unwrap()["stop"], true, "{events:?}");
    let content: String = events
        .iter()
        .filter_map(|e| e["content"].as_str())
        .collect();
    assert!(content.contains("circle_area"), "{content:?}");

    // A model field naming nothing installed is a 404; bad types are 400s.
    let r = send(
        &s,
        post(
            "/infill",
            json!({"model": "nope:1b", "input_prefix": "x"}).to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let r = send(&s, post("/infill", json!({"input_prefix": 3}).to_string())).await;
    assert_eq!(r.status, 400, "{}", r.text());
}

/// Twenty keystrokes 30 ms apart from one client: only the last completion runs to its end;
/// the others come back cancelled at once, and no slot or session is left behind.
#[tokio::test]
async fn keystroke_burst_supersedes_all_but_the_last() {
    let Some((_d, s)) = setup() else { return };
    let line = "math.pi * radius ** 2";
    let mut tasks = Vec::new();
    for i in 0..20usize {
        let typed = &line[..i.min(line.len())];
        let body = json!({"model": MODEL, "input_prefix": PREFIX, "prompt": typed,
            "input_suffix": SUFFIX, "temperature": 0, "n_predict": 24});
        let s2 = s.clone();
        tasks.push(tokio::spawn(async move {
            let mut req = post("/infill", body.to_string());
            req.headers_mut()
                .insert("x-hearth-session", "editor-1/circle.py".parse().unwrap());
            send(&s2, req).await
        }));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let mut replies = Vec::new();
    for t in tasks {
        let r = tokio::time::timeout(Duration::from_secs(300), t)
            .await
            .expect("request hung")
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        replies.push(r.json());
    }
    let last = replies.last().unwrap();
    assert_ne!(last["stop_type"], "cancelled", "{last}");
    assert!(!last["content"].as_str().unwrap().is_empty(), "{last}");
    let cancelled = replies[..19]
        .iter()
        .filter(|j| j["stop_type"] == "cancelled")
        .count();
    // Each request takes far longer than 30 ms, so nearly all are overtaken by the next one.
    assert!(cancelled >= 15, "only {cancelled} of 19 superseded");
    let m = send(&s, get("/metrics")).await.text();
    assert!(
        metric(&m, "hearth_completions_superseded_total") >= 15.0,
        "{m}"
    );
    assert_eq!(metric(&m, "hearth_slots_busy"), 0.0, "{m}");
    assert_eq!(metric(&m, "hearth_requests_running"), 0.0, "{m}");
    assert_eq!(metric(&m, "hearth_requests_waiting"), 0.0, "{m}");
    assert_eq!(metric(&m, "hearth_autocomplete_sessions"), 0.0, "{m}");
}

/// Repository context counts against the prompt size limit like the prefix and suffix do.
#[tokio::test]
async fn input_extra_counts_against_the_prompt_limit() {
    let Some(model) = test_model(TestModel::Qwen05) else {
        return;
    };
    let cfg = ServerConfig {
        threads: Some(2),
        max_prompt_bytes: 4096,
        ..ServerConfig::default()
    };
    let (_d, s) = serve_models(&[(MODEL, &model)], cfg);
    let big = "x = 1\n".repeat(1000);
    let body = json!({"model": MODEL, "input_prefix": "y = ", "input_suffix": "\n",
        "n_predict": 4, "input_extra": [{"filename": "big.py", "text": big}]});
    let r = send(&s, post("/infill", body.to_string())).await;
    assert_eq!(r.status, 413, "{}", r.text());
}
