//! `hearth pull NAME`: fetch a model from an Ollama registry, Hugging Face (`hf.co/owner/repo:quant`)
//! or a `https://…/file.gguf` URL into the store, verified and resumable.
use std::process::ExitCode;

use hearth_store::{ModelName, PullOptions};

use super::models::{stores, ProgressView};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model name (`qwen2.5-coder:1.5b`, `host/ns/model:tag`, `hf.co/owner/repo:Q4_K_M`) or a GGUF URL.
    pub name: String,
    /// Allow plain http to hosts other than this machine.
    #[arg(long)]
    pub insecure: bool,
    /// Install a URL pull under this name (default: from the file name).
    #[arg(long = "as", value_name = "NAME")]
    pub as_name: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
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
