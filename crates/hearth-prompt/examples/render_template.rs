//! Renders a chat template from a JSON request, for comparing hearth with other renderers:
//! `render_template REQUEST.json` where the request is
//! `{"template": "...", "messages": [...], "tools": [...]|null, "add_generation_prompt": bool,
//!   "bos_token": "...", "eos_token": "...", "extra": {...}}`; prints `{"output": "..."}` or
//! `{"error": "..."}` on stdout. Several requests may be given as a JSON array.

use std::process::ExitCode;

use hearth_prompt::{ChatTemplate, RenderInput};
use serde::Deserialize;

#[derive(Deserialize)]
struct Request {
    template: String,
    #[serde(flatten)]
    input: RenderInput,
}

fn render(req: &Request) -> serde_json::Value {
    match ChatTemplate::new(&req.template).and_then(|t| t.render(&req.input)) {
        Ok(out) => serde_json::json!({ "output": out }),
        Err(e) => serde_json::json!({ "error": e.to_string() }),
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: render_template REQUEST.json");
        return Ok(ExitCode::from(2));
    };
    let text = std::fs::read_to_string(&path)?;
    let value: serde_json::Value = serde_json::from_str(&text)?;
    let out = if value.is_array() {
        let reqs: Vec<Request> = serde_json::from_value(value)?;
        serde_json::Value::Array(reqs.iter().map(render).collect())
    } else {
        render(&serde_json::from_value(value)?)
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(ExitCode::SUCCESS)
}
