//! `hearth stop MODEL`: unload a model from the running server (like `ollama stop`).
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model to unload.
    pub model: String,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let body = serde_json::json!({"model": args.model, "keep_alive": 0});
    match super::client::post_json("/api/generate", &body)? {
        Some(_) => Ok(ExitCode::SUCCESS),
        None => anyhow::bail!(
            "no hearth server is running at {}",
            super::client::base_url()?
        ),
    }
}
