//! `hearth create NAME -f Modelfile`: a model from a local GGUF file (`FROM ./model.gguf`) or an
//! existing model, with TEMPLATE, SYSTEM, PARAMETER, LICENSE and MESSAGE.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hearth_store::modelfile::Modelfile;
use hearth_store::{CreateOptions, ModelName};

use super::models::{stores, ProgressView};

#[derive(Debug, clap::Args)]
pub struct Args {
    pub name: String,
    /// The Modelfile (default `./Modelfile`).
    #[arg(short = 'f', long = "file", default_value = "Modelfile")]
    pub file: PathBuf,
    /// Hard-link a local GGUF into the store instead of copying it (do not edit the file afterwards).
    #[arg(long)]
    pub link: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stores = stores()?;
    let name = ModelName::parse(&args.name)?;
    let text = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let mf = Modelfile::parse(&text).with_context(|| format!("in {}", args.file.display()))?;
    let base = args.file.parent().map(PathBuf::from).unwrap_or_default();
    let base = if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    };
    let view = ProgressView::new();
    stores.primary.create(
        &name,
        &mf,
        &base,
        &stores.extra,
        CreateOptions {
            link: args.link,
            names_only: false,
        },
        &|e| view.event(e),
    )?;
    Ok(ExitCode::SUCCESS)
}
