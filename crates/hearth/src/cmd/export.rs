//! `hearth export NAME -o bundle.tar`: the model's manifest and blobs in one tar file, for
//! moving models to air-gapped machines (`hearth import bundle.tar` there).
use std::path::PathBuf;
use std::process::ExitCode;

use hearth_store::{ModelName, Store};

use super::models::{human_bytes, stores};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub name: String,
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stores = stores()?;
    let name = ModelName::parse(&args.name)?;
    let (store, found) = stores
        .locate(&name)
        .ok_or_else(|| anyhow::anyhow!("model {:?} not found", args.name))?;
    let n = Store::export(store, &found, &args.output)?;
    eprintln!(
        "exported {} ({}) to {}",
        found,
        human_bytes(n),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
