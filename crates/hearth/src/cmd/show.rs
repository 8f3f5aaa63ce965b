//! `hearth show NAME`: architecture, parameters, quantization, context length, template,
//! system prompt, parameters and license; `--modelfile` prints a Modelfile that recreates it;
//! `--provenance` prints where it came from (registry, URL, digest, time, install-time scan).
use std::io::Write;
use std::process::ExitCode;

use hearth_store::{ModelName, ShowInfo};

use super::models::stores;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub name: String,
    /// Print the Modelfile.
    #[arg(long)]
    pub modelfile: bool,
    /// Print the template only.
    #[arg(long)]
    pub template: bool,
    /// Print the system prompt only.
    #[arg(long)]
    pub system: bool,
    /// Print the parameters only.
    #[arg(long)]
    pub parameters: bool,
    /// Print the license only.
    #[arg(long)]
    pub license: bool,
    /// Print where the model came from: registry (or `local`/`bundle`), URL or path, model
    /// file digest, install time, signature keys and the install-time scan (JSON with --json).
    #[arg(long)]
    pub provenance: bool,
    /// Print everything as JSON.
    #[arg(long)]
    pub json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.provenance {
        return provenance(&args);
    }
    let r = stores()?.resolve(&args.name)?;
    let info = ShowInfo::of(&r)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &info)?;
        writeln!(out)?;
    } else if args.modelfile {
        write!(out, "{}", info.modelfile)?;
    } else if args.template {
        writeln!(
            out,
            "{}",
            info.template
                .as_deref()
                .or(info.chat_template.as_deref())
                .unwrap_or("")
        )?;
    } else if args.system {
        writeln!(out, "{}", info.system.as_deref().unwrap_or(""))?;
    } else if args.parameters {
        writeln!(out, "{}", info.parameters_text)?;
    } else if args.license {
        writeln!(out, "{}", info.license.join("\n"))?;
    } else {
        writeln!(out, "  Model")?;
        let rows = [
            (
                "architecture",
                info.architecture.clone().unwrap_or_default(),
            ),
            ("parameters", info.parameter_size.clone()),
            (
                "context length",
                info.context_length
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            ),
            (
                "embedding length",
                info.embedding_length
                    .map(|c| c.to_string())
                    .unwrap_or_default(),
            ),
            (
                "quantization",
                info.quantization.clone().unwrap_or_default(),
            ),
        ];
        for (k, v) in rows {
            writeln!(out, "    {k:<20}{v}")?;
        }
        if !info.parameters_text.is_empty() {
            writeln!(out, "\n  Parameters")?;
            for l in info.parameters_text.lines() {
                writeln!(out, "    {l}")?;
            }
        }
        if let Some(s) = &info.system {
            writeln!(out, "\n  System")?;
            for l in s.lines().take(10) {
                writeln!(out, "    {l}")?;
            }
        }
        if let Some(l) = info.license.first() {
            writeln!(out, "\n  License")?;
            for l in l.lines().take(2) {
                writeln!(out, "    {l}")?;
            }
        }
        writeln!(out)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The provenance record, read without resolving the model (so a model the trust policy
/// refuses to load can still be inspected).
fn provenance(args: &Args) -> anyhow::Result<ExitCode> {
    let stores = stores()?;
    let name = ModelName::parse(&args.name)?;
    let Some((store, found)) = stores.locate(&name) else {
        anyhow::bail!("model {:?} not found", name.display_shortest());
    };
    let record = store.read_provenance(&found)?;
    let mut out = std::io::stdout().lock();
    match (record, args.json) {
        (Some(p), true) => {
            serde_json::to_writer_pretty(&mut out, &p)?;
            writeln!(out)?;
        }
        (Some(p), false) => write!(out, "{}", p.to_text())?,
        (None, json) => {
            let note = format!(
                "{}: no provenance record (installed before hearth recorded provenance, or from a read-only store)",
                found.display_shortest()
            );
            if json {
                writeln!(out, "null")?;
                eprintln!("{note}");
            } else {
                writeln!(out, "{note}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
