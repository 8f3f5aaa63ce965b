//! `hearth convert DIR`: a Hugging Face checkpoint folder (BERT embedding models such as
//! all-MiniLM-L6-v2, bge, e5) to a GGUF file hearth and llama.cpp load. The safetensors are
//! scanned first; the written file is validated with hearth-gguf before the command succeeds.
use std::path::PathBuf;
use std::process::ExitCode;

use hearth_convert::{convert_dir, Options, OutType};
use hearth_guard::{scan_path, ScanOptions, Severity};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder with config.json, model.safetensors (or a sharded index) and vocab.txt or
    /// tokenizer.json.
    pub dir: PathBuf,
    /// Output file (default: <folder name>-<type>.gguf in the current directory).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Weight type: f16 (default), q8_0 or f32. Norms and biases stay f32.
    #[arg(long = "type", default_value = "f16", value_parser = clap::value_parser!(OutType))]
    pub out_type: OutType,
    /// general.name in the file (default: the folder name).
    #[arg(long)]
    pub name: Option<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Scan what will be read before reading it for conversion.
    for entry in
        std::fs::read_dir(&args.dir).map_err(|e| anyhow::anyhow!("{}: {e}", args.dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "safetensors") {
            let report = scan_path(&path, &ScanOptions::default())?;
            if report.max_severity() >= Some(Severity::High) {
                print!("{}", report.to_text());
                anyhow::bail!("{}: refused by the model scan", path.display());
            }
        }
    }
    let opts = Options {
        out_type: args.out_type,
        name: args.name,
    };
    let converted = convert_dir(&args.dir, &opts)?;
    let out = args.output.unwrap_or_else(|| {
        PathBuf::from(format!("{}-{}.gguf", converted.name, args.out_type.name()))
    });
    converted.write(&out)?;
    let file = hearth_gguf::GgufFile::open(&out)?;
    println!(
        "wrote {} ({}, {} tensors, {:.1}M parameters, {} bytes)",
        out.display(),
        converted.architecture,
        file.tensors.len(),
        converted.n_params as f64 / 1e6,
        file.file_size
    );
    Ok(ExitCode::SUCCESS)
}
