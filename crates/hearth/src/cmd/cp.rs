//! `hearth cp SRC DST`: copy a model under a new name (sharing its blobs). A source in the
//! read-only Ollama store is copied into hearth's store, each blob verified.
use std::process::ExitCode;

use hearth_store::ModelName;

use super::models::stores;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub source: String,
    pub destination: String,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stores = stores()?;
    let src = ModelName::parse(&args.source)?;
    let dst = ModelName::parse(&args.destination)?;
    let (store, found) = stores
        .locate(&src)
        .ok_or_else(|| anyhow::anyhow!("model {:?} not found", args.source))?;
    stores.primary.copy_from(store, &found, &dst)?;
    println!("copied '{}' to '{}'", args.source, args.destination);
    Ok(ExitCode::SUCCESS)
}
