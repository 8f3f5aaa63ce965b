//! `hearth sign --key KEY FILES...`: write a manifest of the files' sha256 digests and a
//! detached minisign-compatible Ed25519 signature of it (`MANIFEST.minisig`).
//! `hearth sign --generate-key KEY` writes a new unencrypted key pair (`KEY`, `KEY.pub`).
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hearth_guard::sign::{make_manifest, signature_path, SecretKey};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Secret key file (minisign format, unencrypted).
    #[arg(long, short = 'k', required_unless_present = "generate_key")]
    pub key: Option<PathBuf>,
    /// Generate a key pair: the secret key goes to this path (mode 0600), the public key to PATH.pub.
    #[arg(long, value_name = "PATH", conflicts_with = "key")]
    pub generate_key: Option<PathBuf>,
    /// Manifest to write; the signature goes beside it as MANIFEST.minisig.
    #[arg(long, short = 'o', default_value = "hearth.manifest")]
    pub output: PathBuf,
    /// Files to list in the manifest (paths are stored relative to the manifest's directory).
    pub files: Vec<PathBuf>,
}

fn write_new(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    let _ = mode;
    let mut f = o
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.generate_key {
        let sk = SecretKey::generate()?;
        let mut pub_path = path.as_os_str().to_owned();
        pub_path.push(".pub");
        write_new(path, &sk.to_file_text(), 0o600)?;
        write_new(Path::new(&pub_path), &sk.public().to_file_text(), 0o644)?;
        println!("key id {}", sk.public().id_hex());
        println!("public key {}", sk.public().to_base64());
        return Ok(ExitCode::SUCCESS);
    }
    let key_path = args.key.context("--key is required")?;
    anyhow::ensure!(!args.files.is_empty(), "no files to sign");
    let text = std::fs::read_to_string(&key_path)
        .with_context(|| format!("reading {}", key_path.display()))?;
    let sk = SecretKey::parse(&text).with_context(|| key_path.display().to_string())?;
    let base = args
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let manifest = make_manifest(&args.files, base)?;
    std::fs::write(&args.output, &manifest)
        .with_context(|| format!("writing {}", args.output.display()))?;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = args
        .output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let sig = sk.sign(
        manifest.as_bytes(),
        &format!("timestamp:{t}\tfile:{name}\thashed"),
    );
    let sig_path = signature_path(&args.output);
    std::fs::write(&sig_path, sig).with_context(|| format!("writing {}", sig_path.display()))?;
    println!(
        "signed {} file(s): {} and {}",
        args.files.len(),
        args.output.display(),
        sig_path.display()
    );
    Ok(ExitCode::SUCCESS)
}
