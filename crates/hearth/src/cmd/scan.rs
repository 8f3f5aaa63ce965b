//! `hearth scan PATH|MODEL...`: scan model files (GGUF, pickle/PyTorch, safetensors; detected
//! by content) for malformed structure, code-execution payloads and hostile chat templates.
//! An argument that is not an existing path is an installed model name (`qwen2.5-coder:1.5b`):
//! its GGUF blob in the store (`$HEARTH_MODELS`, then the read-only Ollama store) is scanned
//! and the output names the model.
//!
//! Exit code: 0 when the worst finding is info or low, 3 medium, 4 high, 5 critical;
//! 6 when a file is not a recognised model format and nothing was checked (never "clean");
//! 1 when a file could not be read, 2 for usage errors.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use hearth_guard::{scan_path, to_sarif, ScanOptions};
use hearth_store::{ModelName, Stores};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to scan, or names of installed models.
    #[arg(required = true, value_name = "PATH|MODEL")]
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

/// Exit code for "not a recognised model format: nothing was checked".
const NOT_SCANNED: u8 = 6;

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = ScanOptions {
        render_templates: !args.no_render,
        ..ScanOptions::default()
    };
    let mut reports = Vec::with_capacity(args.paths.len());
    // The model name for each report scanned by name.
    let mut models: Vec<Option<String>> = Vec::with_capacity(args.paths.len());
    let mut stores: Option<Stores> = None;
    for p in &args.paths {
        if p.exists() {
            reports.push(scan_path(p, &opts)?);
            models.push(None);
            continue;
        }
        let (model, blob) = model_blob(p, &mut stores)?;
        reports.push(scan_path(&blob, &opts)?);
        models.push(Some(model));
    }
    let mut code = reports.iter().map(|r| r.exit_code()).max().unwrap_or(0);
    // A file nothing could be checked in is not clean: say so with its own code.
    if code == 0
        && reports
            .iter()
            .any(|r| r.format == hearth_guard::Format::Unknown)
    {
        code = NOT_SCANNED;
    }
    let json_of = |r: &hearth_guard::Report, model: &Option<String>| {
        let mut v = r.to_json();
        if let (Some(m), Some(obj)) = (model, v.as_object_mut()) {
            obj.insert("model".into(), serde_json::Value::String(m.clone()));
        }
        v
    };
    let mut out = std::io::stdout().lock();
    if args.sarif {
        serde_json::to_writer_pretty(&mut out, &to_sarif(&reports))?;
        writeln!(out)?;
    } else if args.json {
        if let ([one], [model]) = (reports.as_slice(), models.as_slice()) {
            serde_json::to_writer_pretty(&mut out, &json_of(one, model))?;
        } else {
            let all: Vec<_> = reports
                .iter()
                .zip(&models)
                .map(|(r, m)| json_of(r, m))
                .collect();
            serde_json::to_writer_pretty(&mut out, &all)?;
        }
        writeln!(out)?;
    } else {
        for (r, model) in reports.iter().zip(&models) {
            if let Some(m) = model {
                writeln!(out, "model {m}")?;
            }
            write!(out, "{}", r.to_text())?;
        }
    }
    Ok(ExitCode::from(code))
}

/// An argument that is not a file: the installed model of that name, and its GGUF blob.
/// Read from the manifest directly (not through `resolve`), so a model the trust policy
/// refuses to load can still be scanned.
fn model_blob(
    arg: &std::path::Path,
    stores: &mut Option<Stores>,
) -> anyhow::Result<(String, PathBuf)> {
    let text = arg.to_string_lossy();
    let name = ModelName::parse(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: no such file, and not a model name ({e})",
            arg.display()
        )
    })?;
    let stores = match stores {
        Some(s) => s,
        None => stores.insert(Stores::from_env()?),
    };
    let Some((store, found)) = stores.locate(&name) else {
        anyhow::bail!(
            "{}: no such file, and no installed model {:?} (try `hearth list`)",
            arg.display(),
            name.display_shortest()
        );
    };
    let (manifest, _, _) = store.read_manifest(&found)?;
    let Some(layer) = manifest.model_layer() else {
        anyhow::bail!(
            "model {}: manifest has no model layer",
            found.display_shortest()
        );
    };
    Ok((found.display_shortest(), store.blob_path(&layer.digest)))
}
