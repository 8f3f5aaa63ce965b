#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Anthropic's Messages API through the real router and service, with the scripted engine:
//! the request mapping (system, content blocks, tool results), whole answers, the named event
//! sequence of a stream, tool use, count_tokens, auth by `x-api-key`, and Anthropic's errors.
mod common;

use std::sync::Arc;

use common::scripted::{serve_tiny, ScriptedRunner};
use common::*;
use hearth_server::config::ServerConfig;
use hearth_server::AppState;
use serde_json::{json, Value};

const MODEL: &str = "tiny:latest";

fn setup(pieces: &[&str], cfg: ServerConfig) -> (tempfile::TempDir, AppState, Arc<ScriptedRunner>) {
    serve_tiny(pieces, 600, cfg)
}

#[tokio::test]
async fn messages_map_blocks_and_answer_whole_and_streamed() {
    let (_d, s, runner) = setup(&["Hel", "lo"], ServerConfig::default());
    let req = json!({"model": MODEL, "max_tokens": 20, "metadata": {"user_id": "x"},
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                {"type": "text", "text": "Hello"}]},
            {"role": "user", "content": [{"type": "text", "text": "Again"}]}]});
    let r = send(&s, post("/v1/messages?beta=true", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(
        (j["type"].clone(), j["role"].clone()),
        (json!("message"), json!("assistant"))
    );
    assert_eq!(j["content"], json!([{"type": "text", "text": "Hello"}]));
    assert_eq!(j["stop_reason"], "end_turn");
    assert_eq!(j["usage"]["output_tokens"], 2);
    let p = runner.last();
    assert_eq!(
        p.prompt,
        "<|system|>Be brief.\n<|user|>Hi\n<|assistant|>Hello\n<|user|>Again\n<|assistant|>"
    );
    assert_eq!(p.max_tokens, Some(20));
    assert_eq!(j["usage"]["input_tokens"], p.prompt.len());

    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let r = send(&s, post("/v1/messages", streamed.to_string())).await;
    assert_eq!(r.headers["content-type"], "text/event-stream");
    let ev = named_events(&r);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "ping",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let text: String = ev
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    assert_eq!(ev[6].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(ev[6].1["usage"]["output_tokens"], 2);
    assert_eq!(ev[0].1["message"]["id"], ev[0].1["message"]["id"]);
}

#[tokio::test]
async fn tool_use_round_trip() {
    let call = r#"<tool_call>{"name": "read_file", "arguments": {"path": "a.rs"}}</tool_call>"#;
    let (_d, s, runner) = setup(&[call], ServerConfig::default());
    let tools = json!([{"name": "read_file", "description": "Read a file",
            "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}},
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]);
    let req = json!({"model": MODEL, "max_tokens": 64, "tools": tools, "tool_choice": {"type": "auto"},
        "messages": [{"role": "user", "content": "Read a.rs"}]});
    let j = send(&s, post("/v1/messages", req.to_string())).await.json();
    assert_eq!(j["stop_reason"], "tool_use", "{j}");
    let block = j["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "tool_use")
        .unwrap()
        .clone();
    assert_eq!(block["name"], "read_file");
    assert_eq!(block["input"], json!({"path": "a.rs"}));
    assert!(block["id"].as_str().unwrap().starts_with("toolu_"));
    // The server tool hearth cannot run is left out; the function tool is offered.
    let p = runner.last();
    assert!(!p.prompt.contains("web_search"));

    // Streamed: a tool_use block with the input as JSON deltas.
    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let ev = named_events(&send(&s, post("/v1/messages", streamed.to_string())).await);
    let start = ev
        .iter()
        .find(|(n, d)| n == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .expect("no tool_use block");
    assert_eq!(start.1["content_block"]["name"], "read_file");
    let json_text: String = ev
        .iter()
        .filter_map(|(_, d)| d["delta"]["partial_json"].as_str())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&json_text).unwrap(),
        json!({"path": "a.rs"})
    );
    assert!(!ev
        .iter()
        .any(|(_, d)| d.to_string().contains("<tool_call>")));
    let delta = ev.iter().find(|(n, _)| n == "message_delta").unwrap();
    assert_eq!(delta.1["delta"]["stop_reason"], "tool_use");

    // The result goes back as a tool message after the assistant's call.
    let req = json!({"model": MODEL, "max_tokens": 64, "tools": tools, "messages": [
        {"role": "user", "content": "Read a.rs"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "read_file",
            "input": {"path": "a.rs"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
            "content": [{"type": "text", "text": "fn main() {}"}]}]}]});
    let r = send(&s, post("/v1/messages", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let p = runner.last().prompt;
    assert!(p.contains("<|tool|>fn main() {}"), "{p}");
    // `tool_choice: none` offers no tools.
    let req = json!({"model": MODEL, "max_tokens": 8, "tools": tools, "tool_choice": {"type": "none"},
        "messages": [{"role": "user", "content": "hi"}]});
    send(&s, post("/v1/messages", req.to_string())).await;
    assert!(!runner.last().prompt.contains("read_file"));
}

#[tokio::test]
async fn count_tokens_and_errors() {
    let (_d, s, runner) = setup(&["ok"], ServerConfig::default());
    let req =
        json!({"model": MODEL, "system": "S", "messages": [{"role": "user", "content": "Hi"}]});
    let r = send(&s, post("/v1/messages/count_tokens", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let n = r.json()["input_tokens"].as_u64().unwrap();
    assert_eq!(n as usize, "<|system|>S\n<|user|>Hi\n<|assistant|>".len());
    assert!(
        runner.seen.lock().unwrap().is_empty(),
        "count_tokens generated"
    );

    // Anthropic's error shape; a prompt longer than the context is invalid_request_error (400),
    // never a 5xx the SDK would retry.
    let long = json!({"model": MODEL, "max_tokens": 8,
        "messages": [{"role": "user", "content": "x".repeat(700)}]});
    let r = send(&s, post("/v1/messages", long.to_string())).await;
    assert_eq!(r.status, 400);
    let j = r.json();
    assert_eq!(j["type"], "error");
    assert_eq!(j["error"]["type"], "invalid_request_error");
    assert!(
        j["error"]["message"].as_str().unwrap().contains("context"),
        "{j}"
    );
    let r = send(
        &s,
        post(
            "/v1/messages",
            json!({"model": "nope", "max_tokens": 1,
        "messages": [{"role": "user", "content": "x"}]})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"]["type"].clone()),
        (404, json!("not_found_error"))
    );
    let r = send(&s, post("/v1/messages", "{not json")).await;
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let img = json!({"model": MODEL, "max_tokens": 1, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AA=="}}]}]});
    let r = send(&s, post("/v1/messages", img.to_string())).await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("image"), "{}", r.text());
}

#[tokio::test]
async fn the_api_key_may_come_as_x_api_key() {
    let cfg = ServerConfig {
        api_key: Some("sekret".into()),
        ..ServerConfig::default()
    };
    let (_d, s, _) = setup(&["ok"], cfg);
    let body =
        json!({"model": MODEL, "max_tokens": 4, "messages": [{"role": "user", "content": "x"}]})
            .to_string();
    let r = send(&s, post("/v1/messages", body.clone())).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["type"], "authentication_error");
    let mut req = post("/v1/messages", body);
    req.headers_mut()
        .insert("x-api-key", "sekret".parse().unwrap());
    let r = send(&s, req).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// `tool_choice` that forces a call (Anthropic `any`/`tool`, OpenAI `required`/a named
/// function) holds the output to a tool-call grammar; naming an undeclared tool is a 400.
#[tokio::test]
async fn forced_tool_choice_holds_output_to_a_call() {
    let (_d, s, runner) = setup(&["ok"], ServerConfig::default());
    let tools = json!([{"name": "read_file", "input_schema": {"type": "object",
        "properties": {"path": {"type": "string"}}, "required": ["path"]}},
        {"name": "list_dir", "input_schema": {"type": "object"}}]);
    let msgs = json!([{"role": "user", "content": "x"}]);
    let ask = |choice: Value| {
        json!({"model": MODEL, "max_tokens": 8, "tools": tools, "tool_choice": choice,
            "messages": msgs})
        .to_string()
    };
    let r = send(
        &s,
        post(
            "/v1/messages",
            ask(json!({"type": "tool", "name": "read_file"})),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let g = runner.last().grammar.expect("no grammar for a forced call");
    assert!(g.starts_with("root ::= \"<tool_call>\\n\""), "{g}");
    assert!(g.contains("read_file") && !g.contains("list_dir"), "{g}");
    send(&s, post("/v1/messages", ask(json!({"type": "any"})))).await;
    let g = runner.last().grammar.unwrap();
    assert!(g.contains("read_file") && g.contains("list_dir"), "{g}");
    send(&s, post("/v1/messages", ask(json!({"type": "auto"})))).await;
    assert_eq!(runner.last().grammar, None);
    let r = send(
        &s,
        post("/v1/messages", ask(json!({"type": "tool", "name": "nope"}))),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = send(
        &s,
        post(
            "/v1/messages",
            json!({"model": MODEL, "max_tokens": 8,
        "tool_choice": {"type": "any"}, "messages": msgs})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(r.status, 400);

    let oa_tools = json!([{"type": "function", "function": {"name": "read_file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}]);
    let oa = |choice: Value| {
        json!({"model": MODEL, "tools": oa_tools, "tool_choice": choice, "messages": msgs})
            .to_string()
    };
    send(&s, post("/v1/chat/completions", oa(json!("required")))).await;
    assert!(runner.last().grammar.unwrap().contains("read_file"));
    send(
        &s,
        post(
            "/v1/chat/completions",
            oa(json!({"type": "function",
        "function": {"name": "read_file"}})),
        ),
    )
    .await;
    assert!(runner.last().grammar.unwrap().contains("read_file"));
    send(&s, post("/v1/chat/completions", oa(json!("auto")))).await;
    assert_eq!(runner.last().grammar, None);
    let r = send(
        &s,
        post(
            "/v1/chat/completions",
            oa(json!({"type": "function",
        "function": {"name": "nope"}})),
        ),
    )
    .await;
    assert_eq!(r.status, 400);
}

/// A small model's bare JSON call of a declared tool (here with doubled braces, as the 1.5B
/// wrote it for Claude Code) comes back as a tool_use block, not as text.
#[tokio::test]
async fn bare_json_calls_become_tool_use() {
    let out = r#"{{"name": "read_file", "arguments": {"path": "a.rs"}}}"#;
    let (_d, s, _) = setup(&[&out[..9], &out[9..]], ServerConfig::default());
    let req = json!({"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": "read_file", "input_schema": {"type": "object"}}]});
    let j = send(&s, post("/v1/messages", req.to_string())).await.json();
    assert_eq!(j["stop_reason"], "tool_use", "{j}");
    assert_eq!(j["content"][0]["input"], json!({"path": "a.rs"}));
    let mut streamed = req.clone();
    streamed["stream"] = json!(true);
    let ev = named_events(&send(&s, post("/v1/messages", streamed.to_string())).await);
    assert!(
        !ev.iter().any(|(_, d)| d["delta"]["type"] == "text_delta"),
        "{ev:?}"
    );
    assert!(ev
        .iter()
        .any(|(_, d)| d["content_block"]["type"] == "tool_use"));
}

/// Claude Code sends notes as `system` messages after the user's message; they go before it,
/// so the question is what the model reads last.
#[tokio::test]
async fn system_notes_go_before_the_message_they_follow() {
    let (_d, s, runner) = setup(&["4"], ServerConfig::default());
    let req = json!({"model": MODEL, "max_tokens": 5, "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=1.2.3; cc_entrypoint=cli;"},
            {"type": "text", "text": "Be brief."}],
        "messages": [{"role": "user", "content": "2+2?"},
            {"role": "system", "content": "Available agents: none"}]});
    let r = send(&s, post("/v1/messages", req.to_string())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        runner.last().prompt,
        "<|system|>Be brief.\n<|system|>Available agents: none\n<|user|>2+2?\n<|assistant|>",
        "the billing line is left out and the note precedes the question"
    );
}
