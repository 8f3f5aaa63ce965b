//! `hearth verify --pubkey KEY.pub MANIFEST`: check the minisign signature of a manifest made
//! by `hearth sign` and the sha256 of every file it lists. A file that is not a hearth manifest
//! is verified as a plain minisign-signed file.
//!
//! `hearth verify --pubkey KEY.pem [--oms-bundle model.sig] MODEL`: check an OpenSSF
//! model-signing (OMS) signature made with `model_signing sign key` (chosen when the key is a
//! PEM public key, or with `--oms`/`--oms-bundle`): the bundle's ECDSA P-256 signature, then
//! every file of the model directory (or the single model file) against the signed digests;
//! missing, extra and changed files are refused.
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hearth_guard::oms::{verify_model, OmsKey, VerifyOptions};
use hearth_guard::sign::{signature_path, verify, verify_manifest, PublicKey};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Public key: minisign (file or base64 line), or a PEM P-256 public key (file) for an
    /// OpenSSF model-signing bundle.
    #[arg(long, short = 'p', visible_alias = "key")]
    pub pubkey: String,
    /// Signature file (default: FILE.minisig; for OMS: MODEL/model.sig when it exists, else
    /// ./model.sig, as model_signing writes it).
    #[arg(long, short = 'x')]
    pub signature: Option<PathBuf>,
    /// OpenSSF model-signing bundle to verify (implies --oms).
    #[arg(long, value_name = "BUNDLE", conflicts_with = "signature")]
    pub oms_bundle: Option<PathBuf>,
    /// Verify an OpenSSF model-signing (OMS) bundle (implied by a PEM key).
    #[arg(long)]
    pub oms: bool,
    /// OMS: also ignore this path, relative to the model directory (repeatable).
    #[arg(long = "ignore-path", value_name = "PATH")]
    pub ignore_paths: Vec<String>,
    /// OMS: do not ignore .git, .gitattributes, .github and .gitignore.
    #[arg(long)]
    pub no_ignore_git_paths: bool,
    /// Manifest (or any signed file); for OMS the model directory or single model file.
    pub file: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key_text = match std::fs::read_to_string(&args.pubkey) {
        Ok(t) => t,
        Err(_) => args.pubkey.clone(),
    };
    if args.oms || args.oms_bundle.is_some() || key_text.contains("-----BEGIN") {
        return run_oms(&args, &key_text);
    }
    let key = PublicKey::parse(&key_text).context("public key")?;
    let body =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    if body.starts_with(b"hearth-manifest v1\n") {
        let entries = verify_manifest(&args.file, args.signature.as_deref(), &key)?;
        emit(&format!(
            "OK: signature by key {} and {} file digest(s) verified\n",
            key.id_hex(),
            entries.len()
        ))?;
    } else {
        let sig_path = args
            .signature
            .clone()
            .unwrap_or_else(|| signature_path(&args.file));
        let sig = std::fs::read_to_string(&sig_path)
            .with_context(|| format!("reading {}", sig_path.display()))?;
        let tc = verify(&body, &sig, &key)?;
        emit(&format!(
            "OK: signature by key {} verified; trusted comment: {tc}\n",
            key.id_hex()
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_oms(args: &Args, key_text: &str) -> anyhow::Result<ExitCode> {
    let key = OmsKey::from_pem(key_text).with_context(|| args.pubkey.clone())?;
    let bundle = match args.oms_bundle.as_ref().or(args.signature.as_ref()) {
        Some(p) => p.clone(),
        None => {
            let inside = args.file.join("model.sig");
            if args.file.is_dir() && inside.is_file() {
                inside
            } else {
                PathBuf::from("model.sig")
            }
        }
    };
    let opts = VerifyOptions {
        ignore_git_paths: !args.no_ignore_git_paths,
        ignore_paths: args.ignore_paths.clone(),
    };
    let v = verify_model(&args.file, &bundle, &key, &opts)
        .with_context(|| format!("OMS signature {}", display(&bundle)))?;
    let m = &v.manifest;
    let mut out = format!(
        "OK: OMS signature {} by P-256 key {} verified; {} file(s) of model {:?} match ({})\n",
        display(&bundle),
        key.policy_id(),
        m.resources.len(),
        m.model_name,
        m.hash_type.name()
    );
    for (name, digest) in &m.resources {
        out.push_str(&format!("  {} {digest}  {name}\n", m.hash_type.name()));
    }
    if !v.ignored.is_empty() {
        out.push_str(&format!("ignored: {}\n", v.ignored.join(", ")));
    }
    emit(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// Write the report to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
