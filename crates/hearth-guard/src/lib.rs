//! `hearth-guard`: treat every model file as untrusted.
//!
//! * [`scan_path`] inspects a GGUF, pickle (raw, PyTorch zip, legacy PyTorch), safetensors,
//!   NumPy (`.npy`, `.npz`: object arrays are pickles) or Keras (`.keras`, `.h5`: Lambda layers
//!   and custom objects) file and returns a [`Report`] of [`Finding`]s. Nothing is ever unpickled or executed:
//!   pickle streams are disassembled by [`pickle`], chat templates are parsed by minijinja
//!   without loaders or capabilities and rendered only with fuel and an output cap.
//! * [`sign`] makes and checks minisign-compatible Ed25519 signatures over a manifest of file
//!   digests; [`oms`] verifies OpenSSF model-signing (OMS) bundles made with a P-256 key;
//!   [`policy`] enforces a trust policy (registries, pinned digests, required keys);
//!   [`provenance`] records where a model came from.
//!
//! Resource limits: a scan maps the file (no copy), walks a GGUF header with an
//! allocation-free pre-pass before building any metadata ([`gguf_walk`]), and caps every
//! decompression, template size, opcode count and memo size (see [`ScanOptions`]).

pub mod diff;
mod gguf_scan;
pub mod gguf_walk;
pub mod keras;
pub mod known_templates;
pub mod npy;
pub mod oms;
pub mod pickle;
pub mod policy;
pub mod provenance;
mod report;
pub mod safetensors;
pub mod sign;
pub mod tar;
pub mod template;
pub mod zip;

use std::path::{Path, PathBuf};

pub use report::{to_sarif, Finding, Format, Location, Report, Severity};

/// Limits and switches for a scan. The defaults keep each scan of a hostile file well under
/// 64 MB of heap and about a second.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Estimated heap the GGUF metadata may take before the full parse is refused.
    pub max_metadata_bytes: u64,
    /// Longest single GGUF string (any key) accepted for the full parse.
    pub max_string_bytes: u64,
    /// Largest chat template that is parsed and rendered.
    pub max_template_bytes: usize,
    /// minijinja fuel per sample render.
    pub template_fuel: u64,
    /// Output cap per sample render.
    pub max_render_output: usize,
    /// Render templates on sample conversations (after the static audit passes).
    pub render_templates: bool,
    /// Most pickle opcodes disassembled per stream.
    pub max_pickle_ops: u64,
    /// Most bytes decompressed from one archive entry (pickle payloads, CRC checks).
    pub max_inflate_bytes: u64,
    /// Most entries read from an archive.
    pub max_archive_entries: usize,
    /// Largest safetensors JSON header parsed.
    pub max_safetensors_header: u64,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            max_metadata_bytes: 40 << 20,
            max_string_bytes: 16 << 20,
            max_template_bytes: 256 << 10,
            template_fuel: 200_000,
            max_render_output: 256 << 10,
            render_templates: true,
            max_pickle_ops: 20_000_000,
            max_inflate_bytes: 16 << 20,
            max_archive_entries: 65_536,
            max_safetensors_header: 8 << 20,
        }
    }
}

/// Failures that stop a scan before it could look at the content.
#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a regular file")]
    NotAFile { path: PathBuf },
}

/// The bytes of a scanned file: a read-only map, or a copy for small files.
enum Bytes {
    Mmap(memmap2::Mmap),
    Vec(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Mmap(m) => m,
            Bytes::Vec(v) => v,
        }
    }
}

fn map_file(path: &Path) -> Result<Bytes, GuardError> {
    let io = |source| GuardError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(GuardError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    if meta.len() < 64 * 1024 {
        let mut v = Vec::with_capacity(meta.len() as usize);
        std::io::Read::read_to_end(&mut &file, &mut v).map_err(io)?;
        return Ok(Bytes::Vec(v));
    }
    #[allow(unsafe_code)]
    // SAFETY: read-only private map; the scanner only reads through bounds-checked slices. If
    // another process truncates the file during a scan, the kernel may raise SIGBUS; hearth
    // scans files it is about to install, which nothing else writes.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
    Ok(Bytes::Mmap(map))
}

/// Scan one file. Errors only for I/O; everything wrong *inside* the file is a finding.
pub fn scan_path(path: &Path, opts: &ScanOptions) -> Result<Report, GuardError> {
    let bytes = map_file(path)?;
    let mut report = scan_bytes(bytes.as_slice(), opts);
    report.path = path.display().to_string();
    Ok(report)
}

/// Scan a file held in memory (the `path` of the report is empty).
pub fn scan_bytes(bytes: &[u8], opts: &ScanOptions) -> Report {
    let format = detect(bytes);
    let mut findings = Vec::new();
    let format = match format {
        Format::Gguf => {
            gguf_scan::scan(bytes, opts, &mut findings);
            Format::Gguf
        }
        Format::Zip | Format::PytorchZip => zip::scan_archive(bytes, opts, &mut findings),
        Format::PytorchTar => {
            tar::scan(bytes, opts, &mut findings);
            Format::PytorchTar
        }
        Format::Pickle | Format::PytorchLegacy => {
            pickle::scan_file(bytes, opts, &mut findings);
            format
        }
        Format::Safetensors => {
            safetensors::scan(bytes, opts, &mut findings);
            Format::Safetensors
        }
        Format::Npy => {
            npy::scan(bytes, 0, "npy", opts, &mut findings);
            Format::Npy
        }
        Format::Hdf5 => {
            keras::scan_hdf5(bytes, &mut findings);
            Format::Hdf5
        }
        // Told apart from a plain zip by their members.
        Format::Npz | Format::Keras => zip::scan_archive(bytes, opts, &mut findings),
        Format::Unknown => {
            findings.push(Finding::new(
                "format.unknown",
                Severity::Info,
                "not a recognised model format (GGUF, pickle, PyTorch, safetensors, NumPy, \
                 Keras); nothing checked",
                Location::offset(0),
            ));
            Format::Unknown
        }
    };
    let mut report = Report {
        path: String::new(),
        format,
        file_size: bytes.len() as u64,
        findings,
    };
    report.sort();
    report
}

/// Detect the format by magic bytes (never by file extension).
pub fn detect(bytes: &[u8]) -> Format {
    if bytes.starts_with(b"GGUF") {
        return Format::Gguf;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Format::Zip;
    }
    if bytes.get(257..262) == Some(b"ustar") {
        return Format::PytorchTar;
    }
    if pickle::is_legacy_torch(bytes) {
        return Format::PytorchLegacy;
    }
    if bytes.len() >= 2 && bytes[0] == 0x80 && (2..=5).contains(&bytes[1]) {
        return Format::Pickle;
    }
    if safetensors::looks_like(bytes) {
        return Format::Safetensors;
    }
    if npy::looks_like(bytes) {
        return Format::Npy;
    }
    if keras::looks_like_hdf5(bytes) {
        return Format::Hdf5;
    }
    if pickle::looks_like_protocol0(bytes) {
        return Format::Pickle;
    }
    Format::Unknown
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// sha256 of a byte slice, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

/// Streaming sha256 of a file, hex (constant memory).
pub fn file_sha256(path: &Path) -> Result<String, GuardError> {
    use sha2::Digest;
    use std::io::Read;
    let io = |source| GuardError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}
