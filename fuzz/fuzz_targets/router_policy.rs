#![no_main]
//! The routing policy file (`router.toml`) and a project file applied over it: Ok or an error
//! naming the file, never a panic; a parsed policy then decides a chat without panicking.
use hearth_route::{decide, summarize, Conditions, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (user, project) = text.split_once("\n#--\n").unwrap_or((text, ""));
    let Ok(mut p) = Policy::parse(user, "router.toml") else {
        return;
    };
    let _ = p.tighten(project, ".hearth/router.toml");
    let body = serde_json::json!({"model": "smart", "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "bash"}}]});
    for header in ["", "cloud", "local", "cloud:smart"] {
        let s = summarize(
            "/v1/chat/completions",
            &body,
            &[("X-Hearth-Route".to_string(), header.to_string())],
        );
        let _ = decide(&p, &s, &Conditions::default());
    }
});
