//! `hearth pull NAME`: fetch a model from an Ollama registry, Hugging Face (`hf.co/owner/repo:quant`)
//! or a `https://…/file.gguf` URL into the store, verified and resumable. With a server running at
//! HEARTH_HOST / OLLAMA_HOST, registry and Hugging Face names are pulled by the server
//! (`POST /api/pull`) into its store.
use std::process::ExitCode;

use hearth_store::{ModelName, PullEvent, PullOptions, PullSource};
use serde_json::Value;

use super::models::{stores, ProgressView};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model name (`qwen2.5-coder:1.5b`, `host/ns/model:tag`, `hf.co/owner/repo:Q4_K_M`) or a GGUF URL.
    pub name: String,
    /// Allow plain http to hosts other than this machine.
    #[arg(long)]
    pub insecure: bool,
    /// Install a URL pull under this name (default: from the file name); URL pulls are always
    /// done here, into the local store.
    #[arg(long = "as", value_name = "NAME")]
    pub as_name: Option<String>,
    /// Pull into the local store even when a server is running (also HEARTH_NO_SERVER=1).
    #[arg(long)]
    pub local: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let is_url = matches!(PullSource::parse(&args.name), Ok(PullSource::Url { .. }));
    if super::client::use_server(args.local) && !is_url && args.as_name.is_none() {
        let body =
            serde_json::json!({"model": args.name, "insecure": args.insecure, "stream": true});
        if let Some(mut lines) = super::client::post_stream("/api/pull", &body)? {
            let view = ProgressView::new();
            let mut last = None;
            while let Some(v) = lines.next_value()? {
                if let Some(e) = progress_event(&v) {
                    view.event(&e);
                    last = Some(e.status);
                }
            }
            if last.as_deref() != Some("success") {
                anyhow::bail!(
                    "the server's pull of {} ended before \"success\" (last status: {})",
                    args.name,
                    last.as_deref().unwrap_or("none")
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
    }
    let stores = stores()?;
    let mut opts = PullOptions::from_env();
    opts.http.allow_insecure = args.insecure;
    // Blobs already in the Ollama store are copied (and verified), not downloaded again.
    opts.download.reuse_from = stores.extra.iter().map(|s| s.blobs_dir()).collect();
    if let Some(n) = &args.as_name {
        opts.name = Some(ModelName::parse(n)?);
    }
    let view = ProgressView::new();
    let name = stores.primary.pull(&args.name, &opts, &|e| view.event(e))?;
    tracing::info!("installed {name}");
    Ok(ExitCode::SUCCESS)
}

/// One `/api/pull` progress line (`status`, and `digest`, `total`, `completed` while a layer
/// downloads); `None` for a line without a status.
fn progress_event(v: &Value) -> Option<PullEvent> {
    let mut e = PullEvent::status(v.get("status")?.as_str()?);
    e.digest = v.get("digest").and_then(Value::as_str).map(str::to_string);
    e.total = v.get("total").and_then(Value::as_u64);
    e.completed = v.get("completed").and_then(Value::as_u64);
    Some(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines() {
        let e = progress_event(&serde_json::json!({"status": "pulling manifest"})).unwrap();
        assert_eq!(e, PullEvent::status("pulling manifest"));
        let e = progress_event(&serde_json::json!({
            "status": "pulling 1a2b3c", "digest": "sha256:1a2b3c", "total": 1000, "completed": 250
        }))
        .unwrap();
        assert_eq!(e.digest.as_deref(), Some("sha256:1a2b3c"));
        assert_eq!((e.total, e.completed), (Some(1000), Some(250)));
        // Negative or fractional sizes are not byte counts: shown as a plain status line.
        let e = progress_event(&serde_json::json!({"status": "x", "total": -1, "completed": 1.5}))
            .unwrap();
        assert_eq!((e.total, e.completed), (None, None));
        assert!(progress_event(&serde_json::json!({"digest": "sha256:00"})).is_none());
        assert!(progress_event(&serde_json::json!({"status": 3})).is_none());
    }
}
