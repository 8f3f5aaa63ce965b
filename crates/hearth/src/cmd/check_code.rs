//! `hearth check-code [FILE|-] [--lang L] [--json]`: insecure-code findings with CWE ids.
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hearth_codecheck::{try_check, Lang, Severity};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Source file to check; `-` or nothing reads stdin.
    pub file: Option<PathBuf>,
    /// Language (python, javascript, typescript, tsx, go, rust, java, c, cpp); default: from
    /// the file extension.
    #[arg(long)]
    pub lang: Option<String>,
    /// Print findings as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Exit status: 0 no findings, 1 findings (the highest is below high), 2 a high finding.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let from_stdin = args.file.as_ref().is_none_or(|f| f.as_os_str() == "-");
    let lang = match (&args.lang, &args.file) {
        (Some(l), _) => Lang::from_name(l).with_context(|| {
            format!("unknown language {l:?} (python, javascript, typescript, tsx, go, rust, java, c, cpp)")
        })?,
        (None, Some(f)) if !from_stdin => Lang::from_path(f).with_context(|| {
            format!("cannot tell the language of {}: pass --lang", f.display())
        })?,
        _ => anyhow::bail!("reading stdin: pass --lang"),
    };
    let mut src = String::new();
    let limit = hearth_codecheck::MAX_SOURCE_BYTES as u64 + 1;
    if from_stdin {
        std::io::stdin()
            .take(limit)
            .read_to_string(&mut src)
            .context("reading stdin")?;
    } else if let Some(f) = &args.file {
        std::fs::File::open(f)
            .and_then(|h| h.take(limit).read_to_string(&mut src))
            .with_context(|| format!("reading {}", f.display()))?;
    }
    let findings = try_check(&src, lang)?;
    let name = args
        .file
        .as_ref()
        .filter(|_| !from_stdin)
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "<stdin>".into());
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({ "file": name, "language": lang, "findings": findings });
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for f in &findings {
            writeln!(
                out,
                "{name}:{}:{}: {} CWE-{} [{}] {}\n    {}",
                f.line, f.column, f.severity, f.cwe, f.rule_id, f.message, f.snippet
            )?;
        }
        writeln!(out, "{} finding(s) in {name} ({lang})", findings.len())?;
    }
    let worst = findings.iter().map(|f| f.severity).max();
    Ok(ExitCode::from(match worst {
        None => 0,
        Some(Severity::High) => 2,
        Some(_) => 1,
    }))
}
