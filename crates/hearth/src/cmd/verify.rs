//! `hearth verify --pubkey KEY.pub MANIFEST`: check the minisign signature of a manifest made
//! by `hearth sign` and the sha256 of every file it lists. A file that is not a hearth manifest
//! is verified as a plain minisign-signed file.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hearth_guard::sign::{signature_path, verify, verify_manifest, PublicKey};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Public key file (minisign format) or the base64 key itself.
    #[arg(long, short = 'p')]
    pub pubkey: String,
    /// Signature file (default: FILE.minisig).
    #[arg(long, short = 'x')]
    pub signature: Option<PathBuf>,
    /// Manifest (or any signed file).
    pub file: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let key_text = match std::fs::read_to_string(&args.pubkey) {
        Ok(t) => t,
        Err(_) => args.pubkey.clone(),
    };
    let key = PublicKey::parse(&key_text).context("public key")?;
    let body =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    if body.starts_with(b"hearth-manifest v1\n") {
        let entries = verify_manifest(&args.file, args.signature.as_deref(), &key)?;
        println!(
            "OK: signature by key {} and {} file digest(s) verified",
            key.id_hex(),
            entries.len()
        );
    } else {
        let sig_path = args
            .signature
            .clone()
            .unwrap_or_else(|| signature_path(&args.file));
        let sig = std::fs::read_to_string(&sig_path)
            .with_context(|| format!("reading {}", sig_path.display()))?;
        let tc = verify(&body, &sig, &key)?;
        println!(
            "OK: signature by key {} verified; trusted comment: {tc}",
            key.id_hex()
        );
    }
    Ok(ExitCode::SUCCESS)
}
