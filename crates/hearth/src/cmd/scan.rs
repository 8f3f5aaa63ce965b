//! `hearth scan PATH...`: scan model files (GGUF, pickle/PyTorch, safetensors; detected by
//! content) for malformed structure, code-execution payloads and hostile chat templates.
//!
//! Exit code: 0 when the worst finding is info or low, 3 medium, 4 high, 5 critical;
//! 1 when a file could not be read, 2 for usage errors.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use hearth_guard::{scan_path, to_sarif, ScanOptions};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to scan.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print JSON (one object per file; an array for several files).
    #[arg(long, conflicts_with = "sarif")]
    pub json: bool,
    /// Print a SARIF 2.1.0 log.
    #[arg(long)]
    pub sarif: bool,
    /// Do not render chat templates on sample conversations (static audit only).
    #[arg(long)]
    pub no_render: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = ScanOptions {
        render_templates: !args.no_render,
        ..ScanOptions::default()
    };
    let mut reports = Vec::with_capacity(args.paths.len());
    for p in &args.paths {
        reports.push(scan_path(p, &opts)?);
    }
    let code = reports.iter().map(|r| r.exit_code()).max().unwrap_or(0);
    let mut out = std::io::stdout().lock();
    if args.sarif {
        serde_json::to_writer_pretty(&mut out, &to_sarif(&reports))?;
        writeln!(out)?;
    } else if args.json {
        if let [one] = reports.as_slice() {
            serde_json::to_writer_pretty(&mut out, &one.to_json())?;
        } else {
            let all: Vec<_> = reports.iter().map(|r| r.to_json()).collect();
            serde_json::to_writer_pretty(&mut out, &all)?;
        }
        writeln!(out)?;
    } else {
        for r in &reports {
            write!(out, "{}", r.to_text())?;
        }
    }
    Ok(ExitCode::from(code))
}
