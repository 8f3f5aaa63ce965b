//! `hearth rm NAME...`: delete models; blobs no other model uses are removed.
use std::process::ExitCode;

use hearth_store::ModelName;

use super::models::stores;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stores = stores()?;
    for n in &args.names {
        let name = ModelName::parse(n)?;
        if stores.primary.find(&name).is_none() {
            if let Some((s, _)) = stores.locate(&name) {
                anyhow::bail!(
                    "{n} is in the read-only store {}; remove it with ollama",
                    s.root().display()
                );
            }
        }
        stores.primary.remove(&name)?;
        println!("deleted '{n}'");
    }
    Ok(ExitCode::SUCCESS)
}
