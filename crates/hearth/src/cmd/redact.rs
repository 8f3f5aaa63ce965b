//! `hearth redact [FILE|-]`: what would leave the machine. Prints the text with every secret
//! replaced by its placeholder (stdout), and what was found (stderr, or `--json`).
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hearth_redact::{from_dotenv, from_env, KnownValue, Redactor};

/// Inputs larger than this are refused (a prompt is far smaller).
const MAX_INPUT: u64 = 64 << 20;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Text to redact; `-` or nothing reads stdin.
    pub file: Option<PathBuf>,
    /// A `.env` file whose values are known secrets (repeatable).
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Also treat the values of this process's secret-named environment variables
    /// (`*KEY*`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`) as known secrets.
    #[arg(long)]
    pub env: bool,
    /// A host-name suffix that is internal, e.g. `corp.example.com` (repeatable).
    #[arg(long = "internal-domain")]
    pub internal_domains: Vec<String>,
    /// A string that must never leave (repeatable).
    #[arg(long)]
    pub deny: Vec<String>,
    /// Print `{text, findings, blocked}` as JSON instead.
    #[arg(long)]
    pub json: bool,
}

/// The known secret values of `.env` files.
pub(crate) fn known_from_env_files(files: &[PathBuf]) -> anyhow::Result<Vec<KnownValue>> {
    let mut known = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        known.extend(from_dotenv(&text));
    }
    Ok(known)
}

/// Exit status: 0 nothing found, 1 secrets replaced, 2 something that must not leave at all.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut known = known_from_env_files(&args.env_files)?;
    if args.env {
        known.extend(from_env(std::env::vars()));
    }
    let redactor = Redactor::builder()
        .known(known)
        .internal_domains(args.internal_domains)
        .deny(args.deny)
        // A command-line run is not on a request's clock.
        .deadline(std::time::Duration::from_secs(60))
        .build()?;
    let mut src = String::new();
    match args.file.as_ref().filter(|f| f.as_os_str() != "-") {
        None => {
            std::io::stdin()
                .take(MAX_INPUT)
                .read_to_string(&mut src)
                .context("reading stdin")?;
        }
        Some(f) => {
            std::fs::File::open(f)
                .and_then(|h| h.take(MAX_INPUT).read_to_string(&mut src))
                .with_context(|| format!("reading {}", f.display()))?;
        }
    }
    let mut req = redactor.request();
    let text = req.redact(&src)?;
    let findings = req.findings();
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "text": text,
            "findings": findings.iter().map(|f| serde_json::json!({"rule": f.rule, "count": f.count})).collect::<Vec<_>>(),
            "blocked": req.blocked(),
        });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        out.write_all(text.as_bytes())?;
        let mut err = std::io::stderr().lock();
        for f in &findings {
            writeln!(err, "{:>4}  {}", f.count, f.rule)?;
        }
        if let Some(rule) = req.blocked() {
            writeln!(err, "blocked: {rule} (a request with this stays local)")?;
        }
    }
    Ok(ExitCode::from(match (req.blocked(), findings.is_empty()) {
        (Some(_), _) => 2,
        (None, false) => 1,
        (None, true) => 0,
    }))
}
