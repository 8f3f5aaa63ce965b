//! A request's [`Summary`] from what arrived: the endpoint, the JSON body and the headers.
use serde_json::Value;

use crate::decide::{Summary, Task};

/// Raw FIM prompts (Qwen, StarCoder, CodeLlama, DeepSeek markers).
const FIM_MARKERS: &[&str] = &[
    "<|fim_prefix|>",
    "<fim_prefix>",
    "<PRE>",
    "<｜fim▁begin｜>",
    "<|fim▁begin|>",
];

/// What the request is, from its endpoint and body.
pub fn task_of(endpoint: &str, body: &Value) -> Task {
    let path = endpoint.split('?').next().unwrap_or_default();
    if path.ends_with("/embed") || path.ends_with("/embeddings") {
        return Task::Embeddings;
    }
    if path.ends_with("/infill") {
        return Task::Autocomplete;
    }
    if path.ends_with("/api/generate")
        || path.ends_with("/completions") && !path.ends_with("/chat/completions")
    {
        let has_suffix = body
            .get("suffix")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        let raw_fim = body
            .get("prompt")
            .and_then(Value::as_str)
            .is_some_and(|p| FIM_MARKERS.iter().any(|m| p.contains(m)));
        if has_suffix || raw_fim {
            return Task::Autocomplete;
        }
    }
    Task::Chat
}

/// Bytes of every string in the parts of a body a model reads.
fn prompt_bytes(body: &Value) -> usize {
    fn strings(v: &Value) -> usize {
        match v {
            Value::String(s) => s.len(),
            Value::Array(a) => a.iter().map(strings).sum(),
            Value::Object(o) => o.values().map(strings).sum(),
            _ => 0,
        }
    }
    [
        "messages",
        "prompt",
        "suffix",
        "system",
        "input",
        "instructions",
        "input_extra",
        "tools",
    ]
    .iter()
    .filter_map(|k| body.get(k))
    .map(strings)
    .sum()
}

/// The summary of a request. Prompt tokens are estimated at 4 bytes a token (code and
/// English with BPE vocabularies run 3–4.5); the server replaces them with a real count.
pub fn summarize(endpoint: &str, body: &Value, headers: &[(String, String)]) -> Summary {
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
    };
    Summary {
        task: task_of(endpoint, body),
        has_tools: body
            .get("tools")
            .and_then(Value::as_array)
            .is_some_and(|t| !t.is_empty()),
        prompt_tokens: prompt_bytes(body).div_ceil(4) as u64,
        prompt_tokens_estimated: true,
        model: body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        project: header("x-hearth-project").filter(|p| !p.is_empty()),
        route_header: header("x-hearth-route"),
        local_prefill_tok_s: None,
        local_ctx: None,
        blocked: None,
    }
}
