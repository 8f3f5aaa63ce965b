//! `hearth show NAME`: architecture, parameters, quantization, context length, template,
//! system prompt, parameters and license; `--modelfile` prints a Modelfile that recreates it.
use std::io::Write;
use std::process::ExitCode;

use hearth_store::ShowInfo;

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
    /// Print everything as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
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
