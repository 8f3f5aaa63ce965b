#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! What coding agents speak, through the real router and service with the scripted engine:
//! OpenAI's Responses API (Codex), and a reasoning model's thinking kept out of the answer's
//! content in every protocol, streamed or not.
mod common;

use std::sync::Arc;

use common::scripted::{serve_tiny, ScriptedRunner};
use common::*;
use hearth_server::config::ServerConfig;
use hearth_server::AppState;
use serde_json::{json, Value};

const MODEL: &str = "tiny:latest";

fn setup(pieces: &[&str]) -> (tempfile::TempDir, AppState, Arc<ScriptedRunner>) {
    serve_tiny(pieces, 600, ServerConfig::default())
}

#[tokio::test]
async fn responses_whole_and_streamed() {
    let (_d, s, runner) = setup(&["Hel", "lo"]);
    let req = json!({"model": MODEL, "instructions": "Be brief.", "store": false,
        "include": ["reasoning.encrypted_content"], "prompt_cache_key": "k", "parallel_tool_calls": false,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "tools": [{"type": "web_search"}, {"type": "namespace", "name": "mcp"}],
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]});
    let r = send(&s, post("/v1/responses", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["object"], "response");
    assert_eq!(j["status"], "completed");
    assert_eq!(j["output"][0]["type"], "message");
    assert_eq!(j["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(j["usage"]["output_tokens"], 2);
    assert_eq!(j["parallel_tool_calls"], false);
    assert_eq!(
        runner.last().prompt,
        "<|system|>Be brief.\n<|user|>Hi\n<|assistant|>",
        "tools hearth cannot run are left out of the prompt"
    );

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let r = send(&s, post("/v1/responses", streamed.to_string())).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let ev = named_events(&r);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.first(), Some(&"response.created"));
    assert_eq!(names.last(), Some(&"response.completed"));
    let text: String = ev
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!(text, "Hello");
    let done = &ev.last().unwrap().1["response"];
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(done["id"], ev[0].1["response"]["id"]);
}

#[tokio::test]
async fn responses_function_call_round_trip() {
    let (_d, s, runner) = setup(&[
        "<tool_call>{\"name\": \"shell\", \"arguments\": {\"command\": [\"ls\"]}}</tool_call>",
    ]);
    let tools = json!([{"type": "function", "name": "shell", "description": "Run a command",
        "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}}}}]);
    let req = json!({"model": MODEL, "input": "list files", "tools": tools, "stream": true});
    let r = send(&s, post("/v1/responses", req.to_string())).await;
    let ev = named_events(&r);
    let call = ev
        .iter()
        .find(|(n, d)| n == "response.output_item.done" && d["item"]["type"] == "function_call")
        .expect("a function_call item")
        .1["item"]
        .clone();
    assert_eq!(call["name"], "shell");
    let args: Value = serde_json::from_str(call["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"command": ["ls"]}));
    assert!(
        !ev.iter().any(|(n, _)| n == "response.output_text.delta"),
        "no tool-call markup as text"
    );
    // The next turn sends the call and its output back as items.
    let req = json!({"model": MODEL, "tools": tools, "input": [
        {"role": "user", "content": "list files"},
        {"type": "function_call", "call_id": call["call_id"], "name": "shell", "arguments": call["arguments"]},
        {"type": "function_call_output", "call_id": call["call_id"], "output": "a.rs\nb.rs"}]});
    let r = send(&s, post("/v1/responses", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = runner.last().prompt;
    assert!(p.contains("<|tool|>a.rs\nb.rs"), "{p}");
}

#[tokio::test]
async fn responses_errors_are_openai_shaped() {
    let (_d, s, _) = setup(&["x"]);
    for (body, status, needle) in [
        (
            json!({"model": MODEL, "input": "x", "previous_response_id": "resp_1"}),
            400,
            "previous_response_id",
        ),
        (json!({"model": "nope", "input": "x"}), 404, "nope"),
        (
            json!({"model": MODEL, "input": "x", "tool_choice": "required"}),
            400,
            "tool_choice",
        ),
    ] {
        let r = send(&s, post("/v1/responses", body.to_string())).await;
        assert_eq!(r.status, status, "{}", r.text());
        let j = r.json();
        assert!(
            j["error"]["message"].as_str().unwrap().contains(needle),
            "{j}"
        );
        assert!(j["error"]["type"].is_string(), "{j}");
    }
}

/// A reasoning model's output, cut at awkward places.
const THINKING: &[&str] = &["<thi", "nk>\nplan", " it</th", "ink>\n\nAns", "wer"];

fn no_markup(s: &str) {
    assert!(
        !s.contains("think>") && !s.contains("<thi"),
        "markup leaked: {s:?}"
    );
}

#[tokio::test]
async fn thinking_is_separate_in_every_protocol() {
    let (_d, s, _) = setup(THINKING);
    let user = json!([{"role": "user", "content": "2+2?"}]);

    // Ollama chat, whole and streamed; generate.
    let r = send(
        &s,
        post(
            "/api/chat",
            json!({"model": MODEL, "messages": user, "stream": false}).to_string(),
        ),
    )
    .await;
    let j = r.json();
    assert_eq!(
        (
            j["message"]["thinking"].as_str(),
            j["message"]["content"].as_str()
        ),
        (Some("plan it"), Some("Answer"))
    );
    let r = send(
        &s,
        post(
            "/api/chat",
            json!({"model": MODEL, "messages": user}).to_string(),
        ),
    )
    .await;
    let (mut think, mut text) = (String::new(), String::new());
    for o in ndjson(&r) {
        think.push_str(o["message"]["thinking"].as_str().unwrap_or(""));
        text.push_str(o["message"]["content"].as_str().unwrap_or(""));
    }
    no_markup(&text);
    assert_eq!((think.as_str(), text.as_str()), ("plan it", "Answer"));
    let r = send(
        &s,
        post(
            "/api/generate",
            json!({"model": MODEL, "prompt": "2+2?", "stream": false}).to_string(),
        ),
    )
    .await;
    let j = r.json();
    assert_eq!(
        (j["thinking"].as_str(), j["response"].as_str()),
        (Some("plan it"), Some("Answer"))
    );

    // OpenAI chat.
    let r = send(
        &s,
        post(
            "/v1/chat/completions",
            json!({"model": MODEL, "messages": user}).to_string(),
        ),
    )
    .await;
    let j = r.json();
    let m = &j["choices"][0]["message"];
    assert_eq!(
        (m["reasoning_content"].as_str(), m["content"].as_str()),
        (Some("plan it"), Some("Answer"))
    );
    // The scripted runner counts a token per piece and tokenizes by bytes: the thinking
    // count is capped at the pieces generated.
    assert_eq!(
        j["usage"]["completion_tokens_details"]["reasoning_tokens"],
        5
    );
    let r = send(
        &s,
        post(
            "/v1/chat/completions",
            json!({"model": MODEL, "messages": user, "stream": true}).to_string(),
        ),
    )
    .await;
    let (mut think, mut text) = (String::new(), String::new());
    for c in sse(&r).0 {
        think.push_str(
            c["choices"][0]["delta"]["reasoning_content"]
                .as_str()
                .unwrap_or(""),
        );
        text.push_str(c["choices"][0]["delta"]["content"].as_str().unwrap_or(""));
    }
    no_markup(&text);
    assert_eq!((think.as_str(), text.as_str()), ("plan it", "Answer"));

    // Anthropic: a thinking block, then text.
    let body = json!({"model": MODEL, "max_tokens": 50, "messages": user});
    let r = send(&s, post("/v1/messages", body.to_string())).await;
    let c = &r.json()["content"];
    assert_eq!(c[0]["type"], "thinking");
    assert_eq!(c[0]["thinking"], "plan it");
    assert_eq!(c[1], json!({"type": "text", "text": "Answer"}));
    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let ev = named_events(&send(&s, post("/v1/messages", streamed.to_string())).await);
    let starts: Vec<&Value> = ev
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| &d["content_block"]["type"])
        .collect();
    assert_eq!(starts, [&json!("thinking"), &json!("text")]);
    let think: String = ev
        .iter()
        .filter_map(|(_, d)| d["delta"]["thinking"].as_str())
        .collect();
    let text: String = ev
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    no_markup(&text);
    assert_eq!((think.as_str(), text.as_str()), ("plan it", "Answer"));

    // Responses: a reasoning item, then the message.
    let r = send(
        &s,
        post(
            "/v1/responses",
            json!({"model": MODEL, "input": "2+2?"}).to_string(),
        ),
    )
    .await;
    let out = &r.json()["output"];
    assert_eq!(out[0]["type"], "reasoning");
    assert_eq!(out[0]["content"][0]["text"], "plan it");
    assert_eq!(out[1]["content"][0]["text"], "Answer");
    let ev = named_events(
        &send(
            &s,
            post(
                "/v1/responses",
                json!({"model": MODEL, "input": "2+2?", "stream": true}).to_string(),
            ),
        )
        .await,
    );
    let text: String = ev
        .iter()
        .filter(|(n, _)| n == "response.output_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    let think: String = ev
        .iter()
        .filter(|(n, _)| n == "response.reasoning_text.delta")
        .map(|(_, d)| d["delta"].as_str().unwrap())
        .collect();
    assert_eq!((think.as_str(), text.as_str()), ("plan it", "Answer"));
}

#[tokio::test]
async fn think_false_drops_thinking_a_template_cannot_switch_off() {
    let (_d, s, _) = setup(THINKING);
    let user = json!([{"role": "user", "content": "2+2?"}]);
    let r = send(
        &s,
        post(
            "/api/chat",
            json!({"model": MODEL, "messages": user, "stream": false, "think": false}).to_string(),
        ),
    )
    .await;
    let m = &r.json()["message"];
    assert_eq!(m["content"], "Answer");
    assert!(m.get("thinking").is_none(), "{m}");
    let body = json!({"model": MODEL, "messages": user, "reasoning_effort": "none"});
    let r = send(&s, post("/v1/chat/completions", body.to_string())).await;
    let m = &r.json()["choices"][0]["message"];
    assert!(m.get("reasoning_content").is_none(), "{m}");
    let body = json!({"model": MODEL, "messages": user, "think": "sometimes"});
    let r = send(&s, post("/api/chat", body.to_string())).await;
    assert_eq!(r.status, 400);
}

/// A stream that stays silent (a long prompt being evaluated) gets keep-alives, so agents do
/// not give up on it: Anthropic `ping` events, SSE comments for OpenAI, nothing for Ollama's
/// NDJSON. The clock is paused: the keep-alive timer fires while the engine thread works.
#[tokio::test(start_paused = true)]
async fn silent_streams_get_keepalives() {
    let (_d, s, runner) = setup(&["4"]);
    runner.script.lock().unwrap().delay = std::time::Duration::from_millis(400);
    let user = json!([{"role": "user", "content": "2+2?"}]);
    let body = json!({"model": MODEL, "max_tokens": 5, "messages": user, "stream": true});
    let ev = named_events(&send(&s, post("/v1/messages", body.to_string())).await);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.iter().filter(|n| **n == "ping").count() >= 2,
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"message_stop"));

    let r = send(&s, post("/v1/chat/completions", body.to_string())).await;
    assert!(r.text().contains("\n: keep-alive\n\n"), "{}", r.text());
    assert!(r.text().ends_with("data: [DONE]\n\n"));

    let r = send(&s, post("/api/chat", body.to_string())).await;
    assert!(ndjson(&r).last().unwrap()["done"].as_bool().unwrap());
}

/// Codex's `apply_patch` is a freeform (`custom`) tool: offered to the model as a function of
/// one string, and its call answered as a `custom_tool_call` item with the text as `input`.
#[tokio::test]
async fn freeform_tools_round_trip_as_custom_tool_calls() {
    let patch = "*** Begin Patch\n*** Add File: hello.txt\n+hi\n*** End Patch";
    let out = format!(
        "<tool_call>{}</tool_call>",
        json!({"name": "apply_patch", "arguments": {"input": patch}})
    );
    let (_d, s, runner) = setup(&[out.as_str()]);
    let tools = json!([{"type": "custom", "name": "apply_patch", "description": "Edit files",
        "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}}]);
    let req = json!({"model": MODEL, "input": "add hello.txt", "tools": tools});
    let r = send(&s, post("/v1/responses", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let item = &r.json()["output"][0];
    assert_eq!(item["type"], "custom_tool_call", "{item}");
    assert_eq!(item["name"], "apply_patch");
    assert_eq!(item["input"], patch);
    assert!(runner.last().prompt.contains("<|user|>add hello.txt"));
    // The next turn sends the call and its output back.
    let req = json!({"model": MODEL, "tools": tools, "input": [
        {"role": "user", "content": "add hello.txt"},
        {"type": "custom_tool_call", "call_id": item["call_id"], "name": "apply_patch", "input": patch},
        {"type": "custom_tool_call_output", "call_id": item["call_id"], "output": "Done!"}]});
    let r = send(&s, post("/v1/responses", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(runner.last().prompt.contains("<|tool|>Done!"));
}
