#![no_main]
//! Every HTTP request body hearth parses (Ollama, OpenAI, Anthropic, Responses, /infill): the
//! first byte picks the route, the rest is the body. Parsing and the conversion to a service
//! request (options, tools, JSON schemas to grammars) must never panic.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some((&route, body)) = data.split_first() {
        hearth_server::fuzzing::request_body(route, body);
    }
});
