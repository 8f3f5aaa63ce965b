//! `hearth inspect FILE`: validate a GGUF file and describe it.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use hearth_gguf::{GgufFile, Summary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path of a GGUF file.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    file: &'a std::path::Path,
    valid: bool,
    error: Option<String>,
    #[serde(flatten)]
    summary: Option<Summary>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opened = GgufFile::open(&args.file);
    let (summary, error) = match &opened {
        Ok(f) => (Some(f.summary()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let report = Report {
        file: &args.file,
        valid: error.is_none(),
        error,
        summary,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &report)?;
    }
    Ok(if report.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn write_text(out: &mut impl Write, r: &Report<'_>) -> std::io::Result<()> {
    writeln!(out, "file          {}", r.file.display())?;
    let Some(s) = &r.summary else {
        writeln!(
            out,
            "verdict       INVALID: {}",
            r.error.as_deref().unwrap_or("unknown error")
        )?;
        return Ok(());
    };
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    writeln!(
        out,
        "architecture  {}",
        s.architecture.as_deref().unwrap_or("-")
    )?;
    if let Some(n) = &s.name {
        writeln!(out, "name          {n}")?;
    }
    writeln!(out, "parameters    {} ({})", s.parameter_size, s.parameters)?;
    writeln!(
        out,
        "file type     {}",
        s.file_type.as_deref().unwrap_or("-")
    )?;
    writeln!(
        out,
        "file size     {} bytes (GGUF v{})",
        s.file_size, s.gguf_version
    )?;
    writeln!(out, "context       {}", opt(s.context_length))?;
    writeln!(
        out,
        "layers        {}  embedding {}  heads {}  kv heads {}",
        opt(s.block_count),
        opt(s.embedding_length),
        opt(s.head_count),
        opt(s.head_count_kv)
    )?;
    writeln!(
        out,
        "tokenizer     {}{}  vocab {}",
        s.tokenizer_model.as_deref().unwrap_or("-"),
        s.tokenizer_pre
            .as_deref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default(),
        s.vocab_size
            .map_or_else(|| "-".to_owned(), |v| v.to_string())
    )?;
    writeln!(
        out,
        "chat template {}",
        if s.chat_template { "present" } else { "absent" }
    )?;
    writeln!(
        out,
        "tensors       {} ({} bytes)",
        s.tensor_count, s.tensor_bytes
    )?;
    writeln!(
        out,
        "quantization  type      tensors          bytes   bits/weight"
    )?;
    for q in &s.quantization {
        writeln!(
            out,
            "              {:<8} {:>8} {:>14}   {:>6.2}",
            q.ty, q.tensors, q.bytes, q.bits_per_weight
        )?;
    }
    if s.trailing_bytes > 0 {
        writeln!(
            out,
            "warning       {} bytes after the last tensor",
            s.trailing_bytes
        )?;
    }
    writeln!(out, "verdict       valid")?;
    Ok(())
}
