//! Entry points for the fuzz targets in `fuzz/` (not an API; hidden from the docs).
//!
//! An HTTP request body goes through what every handler does before the engine: the JSON
//! body parsed into the route's wire type (as [`crate::http`]'s extractor does), then turned
//! into the service's request (`to_gen` / `to_embed`, which validates options, tools, JSON
//! schemas and grammars). Any input must end in `Ok` or a typed error, never a panic.

use crate::service::sessions::Sessions;
use crate::wire;

/// The routes whose bodies [`request_body`] parses, in selector order.
pub const ROUTES: &[&str] = &[
    "/api/generate",
    "/api/chat",
    "/api/embed",
    "/api/embeddings",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/messages",
    "/v1/responses",
    "/infill",
];

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_json::from_slice(body).ok()
}

/// Parse `body` as the request of route `ROUTES[selector % ROUTES.len()]` and convert it to a
/// service request, discarding the result. Returns whether the body parsed.
pub fn request_body(selector: u8, body: &[u8]) -> bool {
    let sessions = Sessions::default();
    let key = || sessions.key("fuzz", "m");
    match ROUTES[usize::from(selector) % ROUTES.len()] {
        "/api/generate" => parse::<wire::ollama::GenerateRequest>(body).map(|r| {
            let _ = r.model();
            let _ = r.to_gen(key());
        }),
        "/api/chat" => parse::<wire::ollama::ChatRequest>(body).map(|r| {
            let _ = r.model();
            let _ = r.to_gen();
        }),
        "/api/embed" => parse::<wire::embed::EmbedBody>(body).map(|r| {
            let _ = r.to_embed();
        }),
        "/api/embeddings" => parse::<wire::embed::EmbeddingsBody>(body).map(|r| {
            let _ = r.to_embed();
        }),
        "/v1/chat/completions" => parse::<wire::openai::ChatCompletionRequest>(body).map(|r| {
            let _ = r.to_gen();
        }),
        "/v1/completions" => parse::<wire::openai::CompletionRequest>(body).map(|r| {
            let _ = r.to_gen(key());
        }),
        "/v1/embeddings" => parse::<wire::embed::OpenAiEmbedBody>(body).map(|r| {
            let _ = r.to_embed();
        }),
        "/v1/messages" => parse::<wire::anthropic::MessagesRequest>(body).map(|r| {
            let _ = r.to_gen();
        }),
        "/v1/responses" => parse::<wire::responses::ResponsesRequest>(body).map(|r| {
            let _ = r.to_gen();
        }),
        _ => parse::<wire::infill::InfillRequest>(body).map(|r| {
            let _ = r.to_gen("m", key());
        }),
    }
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed bodies `fuzz/` starts from parse on their routes, and hostile variants of
    /// them come back as errors (a short, deterministic stand-in for the fuzzer in `cargo test`).
    #[test]
    fn seed_bodies_parse_and_mutations_do_not_panic() {
        let seeds: &[(u8, &str)] = &[
            (
                0,
                r#"{"model":"m","prompt":"def f(","suffix":"\n","options":{"temperature":0,"num_predict":8,"stop":["\n"]},"format":{"type":"object","properties":{"a":{"type":"integer"}}}}"#,
            ),
            (
                1,
                r#"{"model":"m","messages":[{"role":"user","content":"hi","images":[]}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],"think":true}"#,
            ),
            (2, r#"{"model":"m","input":["a","b"],"truncate":true}"#),
            (3, r#"{"model":"m","prompt":"a"}"#),
            (
                4,
                r#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"array","items":{"enum":[1,"a",null]},"minItems":2}}},"max_tokens":4,"logit_bias":{"1":-100}}"#,
            ),
            (
                5,
                r#"{"model":"m","prompt":"x","suffix":"y","max_tokens":4,"stop":"\n"}"#,
            ),
            (
                6,
                r#"{"model":"m","input":[[1,2,3]],"encoding_format":"base64"}"#,
            ),
            (
                7,
                r#"{"model":"m","max_tokens":8,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"t","input_schema":{"type":"object"}}],"thinking":{"type":"enabled","budget_tokens":1024}}"#,
            ),
            (
                8,
                r#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],"tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"reasoning":{"effort":"low"}}"#,
            ),
            (
                9,
                r#"{"input_prefix":"a","input_suffix":"b","input_extra":[{"filename":"x","text":"y"}],"n_predict":4}"#,
            ),
        ];
        for (sel, body) in seeds {
            assert!(
                request_body(*sel, body.as_bytes()),
                "{}: {body}",
                ROUTES[*sel as usize]
            );
            // Truncations and a few hostile substitutions.
            for cut in (0..body.len()).step_by(7) {
                request_body(*sel, &body.as_bytes()[..cut]);
            }
            for (from, to) in [
                ("\"m\"", "\"\u{0}\u{ffff}\""),
                ("4", "18446744073709551615"),
                ("8", "-1"),
                ("1024", "1e308"),
                ("\"object\"", "{\"$ref\":\"#\"}"),
                ("[", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["),
            ] {
                request_body(*sel, body.replace(from, to).as_bytes());
            }
        }
    }
}
