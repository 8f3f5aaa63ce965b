//! `hearth list`: installed models (name, id, size, modified), as `ollama list` shows them.
use std::io::Write;
use std::process::ExitCode;

use super::models::{ago, human_bytes, stores};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also list the read-only stores (Ollama's `~/.ollama/models` or `$OLLAMA_MODELS`).
    #[arg(long)]
    pub all_stores: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stores = stores()?;
    let entries = if args.all_stores {
        stores.list_all()?
    } else {
        stores.primary.list()?
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            [
                e.name.display_shortest(),
                e.digest.chars().take(12).collect(),
                human_bytes(e.size),
                ago(e.modified),
                e.store.display().to_string(),
            ]
        })
        .collect();
    let cols = if args.all_stores { 5 } else { 4 };
    let header = ["NAME", "ID", "SIZE", "MODIFIED", "STORE"];
    let mut width = [0usize; 5];
    for r in rows
        .iter()
        .map(|r| r.clone().map(|c| c.chars().count()))
        .chain([header.map(str::len)])
    {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c);
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate().take(cols) {
            if i + 1 == cols {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}    ", w = width[i]));
            }
        }
        s
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(ExitCode::SUCCESS)
}
