//! `hearth import bundle.tar`: install the models of an exported bundle, verifying every blob.
use std::path::PathBuf;
use std::process::ExitCode;

use super::models::stores;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub bundle: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stores = stores()?;
    for n in stores.primary.import(&args.bundle)? {
        println!("imported '{n}'");
    }
    Ok(ExitCode::SUCCESS)
}
