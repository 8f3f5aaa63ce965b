//! Verification of OpenSSF model-signing (OMS) signatures made with a key: the `key` method
//! of the `model_signing` tool (`model_signing sign key MODEL --private_key KEY.pem`).
//!
//! The signature file (`model.sig` by default) is a Sigstore bundle (JSON, media type
//! [`BUNDLE_MEDIA_TYPE`]) holding a DSSE envelope. The envelope's payload is an in-toto
//! Statement v1 with predicate type [`PREDICATE_TYPE`]:
//!
//! * `subject[0]`: the model name and a root `sha256` over the resource digests, in order;
//! * `predicate.serialization`: how the model was hashed (`method: "files"`, `hash_type`,
//!   `allow_symlinks`, `ignore_paths`);
//! * `predicate.resources`: `{name, algorithm, digest}` for every file, paths relative to the
//!   model directory (`"."` when the model is a single file).
//!
//! The DSSE signature is ECDSA (DER) over `PAE = "DSSEv1" SP len(type) SP type SP len(payload)
//! SP payload`. The bundle's `verificationMaterial.publicKey.hint`, when present, is the hex
//! sha256 of the signer's public key as PEM (SubjectPublicKeyInfo, 64-column base64, LF); a
//! different key is refused before the signature is checked, as the reference verifier does.
//!
//! Verification ([`verify_model`]) then re-serializes the model the way `model_signing` does
//! and requires the same file set: a file on disk that the statement does not list (extra),
//! a listed file that is absent (missing), or a different digest is an error. Ignored, as by
//! the reference tool: the signed `ignore_paths`, the git paths (`.git`, `.gitattributes`,
//! `.github`, `.gitignore`) unless turned off, and the bundle file itself when it lies inside
//! the model directory. Symbolic links are refused unless the signer allowed them; special
//! files (FIFOs, sockets, devices) are always refused.
//!
//! Supported: P-256 keys, the `files` serialization, `sha256` and `blake2b` digests. Not
//! supported (typed [`OmsError::Unsupported`] errors): P-384/P-521 keys, the `shards`
//! serialization, `blake3`, and the pre-1.0 predicate `https://model_signing/Digests/v0.1`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{DerSignature, VerifyingKey};
use p256::pkcs8::{DecodePublicKey, EncodePublicKey, LineEnding};
use serde::Deserialize;
use sha2::Digest as _;

use crate::sign::base64_decode;

/// Sigstore bundle media type written by `model_signing` for key signatures.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// OMS predicate type (v1.0).
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// Pre-1.0 OMS predicate type (not supported).
pub const PREDICATE_TYPE_V01: &str = "https://model_signing/Digests/v0.1";
/// Paths `model_signing` ignores by default (relative to the model directory).
pub const GIT_PATHS: [&str; 4] = [".git", ".gitattributes", ".github", ".gitignore"];
/// Largest bundle read.
pub const MAX_BUNDLE_BYTES: u64 = 16 << 20;
/// Most resources (files) a statement may list.
pub const MAX_RESOURCES: usize = 100_000;
/// Most DSSE signatures tried.
pub const MAX_SIGNATURES: usize = 16;
/// Most directory entries visited while walking a model directory.
pub const MAX_WALK_ENTRIES: usize = 200_000;
/// Deepest directory nesting walked.
pub const MAX_DEPTH: usize = 64;
const MAX_NAME_BYTES: usize = 4096;

/// OMS verification failures. Each names the file, field or resource concerned.
#[derive(Debug, thiserror::Error)]
pub enum OmsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {size} bytes is over the {max}-byte limit for an OMS bundle")]
    TooLarge { path: PathBuf, size: u64, max: u64 },
    #[error("{field}: {why}")]
    Format { field: String, why: String },
    #[error("public key: {0}")]
    Key(String),
    #[error("{field}: {value:?} is not supported ({why})")]
    Unsupported {
        field: String,
        value: String,
        why: String,
    },
    #[error("{field}: expected {expected:?}, found {found:?}")]
    Unexpected {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error(
        "verificationMaterial.publicKey.hint: the bundle was signed by the key with PEM sha256 \
         {hint}, not by the given key ({key})"
    )]
    KeyMismatch { hint: String, key: String },
    #[error("dsseEnvelope.signatures: no signature verifies with the given key ({0})")]
    BadSignature(String),
    #[error(
        "subject[0].digest.sha256: root digest {expected} does not match the resources ({actual})"
    )]
    RootDigestMismatch { expected: String, actual: String },
    #[error("{path}: symbolic link, and the signature does not allow symlinks")]
    Symlink { path: PathBuf },
    #[error("{path}: not a regular file or directory")]
    SpecialFile { path: PathBuf },
    #[error("{path}: {why}")]
    Walk { path: PathBuf, why: String },
    #[error("{}: model does not match its signature: {}", model.display(), join(problems))]
    Mismatch {
        model: PathBuf,
        problems: Vec<Problem>,
    },
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// One difference between the signed statement and the model on disk.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("{0}: signed but missing")]
    Missing(String),
    #[error("{0}: present but not signed (extra file)")]
    Extra(String),
    #[error("{name}: digest mismatch (signed {expected}, file {actual})")]
    Digest {
        name: String,
        expected: String,
        actual: String,
    },
}

fn format_err(field: impl Into<String>, why: impl Into<String>) -> OmsError {
    OmsError::Format {
        field: field.into(),
        why: why.into(),
    }
}

/// A P-256 public key for OMS verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OmsKey {
    key: VerifyingKey,
    pem_sha256: String,
}

impl OmsKey {
    /// Parse a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), as written by `openssl ec -pubout`.
    pub fn from_pem(text: &str) -> Result<OmsKey, OmsError> {
        let key = VerifyingKey::from_public_key_pem(text.trim()).map_err(|e| {
            OmsError::Key(format!(
                "not a P-256 PEM public key ({e}); only P-256 (prime256v1) keys are supported"
            ))
        })?;
        Self::from_verifying_key(key)
    }

    /// Wrap a key (tests and callers holding the key already).
    pub fn from_verifying_key(key: VerifyingKey) -> Result<OmsKey, OmsError> {
        let pem = key
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| OmsError::Key(e.to_string()))?;
        Ok(OmsKey {
            key,
            pem_sha256: crate::sha256_hex(pem.as_bytes()),
        })
    }

    /// Hex sha256 of the canonical PEM: the `hint` `model_signing` records in its bundles.
    pub fn pem_sha256(&self) -> &str {
        &self.pem_sha256
    }

    /// The id under which a policy's `required_keys` names this key: `oms:sha256:<hex>`.
    pub fn policy_id(&self) -> String {
        format!("oms:sha256:{}", self.pem_sha256)
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bundle {
    media_type: String,
    #[serde(default)]
    verification_material: Option<VerificationMaterial>,
    #[serde(default)]
    dsse_envelope: Option<Envelope>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationMaterial {
    #[serde(default)]
    public_key: Option<PublicKeyIdentifier>,
}

#[derive(Deserialize)]
struct PublicKeyIdentifier {
    #[serde(default)]
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    payload: String,
    payload_type: String,
    signatures: Vec<EnvelopeSignature>,
}

#[derive(Deserialize)]
struct EnvelopeSignature {
    sig: String,
}

#[derive(Deserialize)]
struct Statement {
    #[serde(rename = "_type")]
    ty: String,
    subject: Vec<StatementSubject>,
    #[serde(rename = "predicateType")]
    predicate_type: String,
    #[serde(default)]
    predicate: serde_json::Value,
}

#[derive(Deserialize)]
struct StatementSubject {
    #[serde(default)]
    name: String,
    digest: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Predicate {
    serialization: Serialization,
    resources: Vec<Resource>,
}

#[derive(Deserialize)]
struct Serialization {
    method: String,
    hash_type: String,
    allow_symlinks: bool,
    #[serde(default)]
    ignore_paths: Vec<String>,
}

#[derive(Deserialize)]
struct Resource {
    name: String,
    algorithm: String,
    digest: String,
}

/// Digest algorithm of the resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashType {
    Sha256,
    /// BLAKE2b-512 (Python's `hashlib.blake2b()`).
    Blake2b,
}

impl HashType {
    pub fn name(self) -> &'static str {
        match self {
            HashType::Sha256 => "sha256",
            HashType::Blake2b => "blake2b",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            HashType::Sha256 => 32,
            HashType::Blake2b => 64,
        }
    }
}

/// The signed content of a bundle whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedManifest {
    /// `subject[0].name` (informative only: renaming a model keeps its signature valid).
    pub model_name: String,
    /// `subject[0].digest.sha256`.
    pub root_digest: String,
    pub hash_type: HashType,
    pub allow_symlinks: bool,
    /// Signed `ignore_paths`, as written.
    pub ignore_paths: Vec<String>,
    /// Resource name → lowercase hex digest, in statement order.
    pub resources: Vec<(String, String)>,
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, OmsError> {
    // Protobuf JSON writes standard base64; accept the URL-safe alphabet too.
    let std: String = s
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    base64_decode(&std).ok_or_else(|| format_err(field, "not base64"))
}

/// DSSE pre-authentication encoding of an in-toto payload.
pub fn pae(payload: &[u8]) -> Vec<u8> {
    let mut m = format!(
        "DSSEv1 {} {PAYLOAD_TYPE} {} ",
        PAYLOAD_TYPE.len(),
        payload.len()
    )
    .into_bytes();
    m.extend_from_slice(payload);
    m
}

fn check_name(field: &str, name: &str) -> Result<(), OmsError> {
    if name == "." {
        return Ok(());
    }
    let bad = name.is_empty()
        || name.len() > MAX_NAME_BYTES
        || name.starts_with('/')
        || name.contains('\0')
        || name
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad {
        return Err(format_err(
            field,
            format!("{name:?} is not a normalized relative path inside the model"),
        ));
    }
    Ok(())
}

fn hex_digest(field: &str, s: &str, len: usize) -> Result<String, OmsError> {
    if s.len() != len * 2 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(format_err(
            field,
            format!("expected {len} bytes of hex, found {:?}", truncate(s)),
        ));
    }
    Ok(s.to_ascii_lowercase())
}

/// Bytes of an already validated hex string.
fn hex_to_bytes(s: &str) -> Vec<u8> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    };
    s.as_bytes()
        .chunks_exact(2)
        .map(|p| nibble(p[0]) << 4 | nibble(p[1]))
        .collect()
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

/// Check a bundle's signature with `key` and return the signed statement, checked for
/// consistency (predicate type, root digest, resource names). Touches no model file.
pub fn verify_bundle(bundle: &[u8], key: &OmsKey) -> Result<SignedManifest, OmsError> {
    if bundle.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(format_err(
            "bundle",
            format!(
                "{} bytes is over the {MAX_BUNDLE_BYTES}-byte limit",
                bundle.len()
            ),
        ));
    }
    let b: Bundle =
        serde_json::from_slice(bundle).map_err(|e| format_err("bundle", e.to_string()))?;
    if b.media_type != BUNDLE_MEDIA_TYPE {
        return Err(OmsError::Unexpected {
            field: "mediaType",
            expected: BUNDLE_MEDIA_TYPE,
            found: truncate(&b.media_type),
        });
    }
    if let Some(hint) = b
        .verification_material
        .and_then(|m| m.public_key)
        .and_then(|k| k.hint)
        .filter(|h| !h.is_empty())
    {
        if !hint.eq_ignore_ascii_case(&key.pem_sha256) {
            return Err(OmsError::KeyMismatch {
                hint: truncate(&hint),
                key: key.pem_sha256.clone(),
            });
        }
    }
    let env = b.dsse_envelope.ok_or_else(|| {
        format_err(
            "dsseEnvelope",
            "missing (not a DSSE bundle; only model_signing key signatures are supported)",
        )
    })?;
    if env.payload_type != PAYLOAD_TYPE {
        return Err(OmsError::Unexpected {
            field: "dsseEnvelope.payloadType",
            expected: PAYLOAD_TYPE,
            found: truncate(&env.payload_type),
        });
    }
    let payload = b64("dsseEnvelope.payload", &env.payload)?;
    if env.signatures.is_empty() {
        return Err(format_err("dsseEnvelope.signatures", "empty"));
    }
    let msg = pae(&payload);
    let mut why = String::new();
    let mut ok = false;
    for (i, s) in env.signatures.iter().take(MAX_SIGNATURES).enumerate() {
        let field = format!("dsseEnvelope.signatures[{i}].sig");
        let raw = b64(&field, &s.sig)?;
        match DerSignature::from_bytes(&raw) {
            Err(e) => why = format!("{field}: not a DER ECDSA signature ({e})"),
            Ok(sig) => match key.key.verify(&msg, &sig) {
                Ok(()) => {
                    ok = true;
                    break;
                }
                Err(_) => why = format!("{field}: ECDSA P-256 verification failed"),
            },
        }
    }
    if !ok {
        return Err(OmsError::BadSignature(why));
    }
    parse_statement(&payload)
}

/// Parse and check a statement (the DSSE payload). Only call on authenticated bytes.
fn parse_statement(payload: &[u8]) -> Result<SignedManifest, OmsError> {
    let st: Statement = serde_json::from_slice(payload)
        .map_err(|e| format_err("dsseEnvelope.payload", e.to_string()))?;
    if st.ty != STATEMENT_TYPE {
        return Err(OmsError::Unexpected {
            field: "payload._type",
            expected: STATEMENT_TYPE,
            found: truncate(&st.ty),
        });
    }
    if st.predicate_type == PREDICATE_TYPE_V01 {
        return Err(OmsError::Unsupported {
            field: "payload.predicateType".into(),
            value: st.predicate_type,
            why: "pre-1.0 model_signing signature; re-sign with model_signing >= 1.0".into(),
        });
    }
    if st.predicate_type != PREDICATE_TYPE {
        return Err(OmsError::Unexpected {
            field: "payload.predicateType",
            expected: PREDICATE_TYPE,
            found: truncate(&st.predicate_type),
        });
    }
    let [subject] = st.subject.as_slice() else {
        return Err(format_err(
            "payload.subject",
            format!("expected exactly one subject, found {}", st.subject.len()),
        ));
    };
    let root = subject
        .digest
        .get("sha256")
        .ok_or_else(|| format_err("payload.subject[0].digest", "no sha256"))?;
    let root = hex_digest("payload.subject[0].digest.sha256", root, 32)?;
    let pred = Predicate::deserialize(&st.predicate)
        .map_err(|e| format_err("payload.predicate", e.to_string()))?;
    let ser = pred.serialization;
    if ser.ignore_paths.len() > MAX_RESOURCES {
        return Err(format_err(
            "payload.predicate.serialization.ignore_paths",
            format!("{} entries (limit {MAX_RESOURCES})", ser.ignore_paths.len()),
        ));
    }
    if ser.method != "files" {
        return Err(OmsError::Unsupported {
            field: "payload.predicate.serialization.method".into(),
            value: truncate(&ser.method),
            why: "only the \"files\" serialization (the model_signing CLI default) is supported"
                .into(),
        });
    }
    let hash_type = match ser.hash_type.as_str() {
        "sha256" => HashType::Sha256,
        "blake2b" => HashType::Blake2b,
        other => {
            return Err(OmsError::Unsupported {
                field: "payload.predicate.serialization.hash_type".into(),
                value: truncate(other),
                why: "supported: sha256, blake2b".into(),
            })
        }
    };
    if pred.resources.len() > MAX_RESOURCES {
        return Err(format_err(
            "payload.predicate.resources",
            format!("{} entries (limit {MAX_RESOURCES})", pred.resources.len()),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut hasher = sha2::Sha256::new();
    let mut resources = Vec::with_capacity(pred.resources.len());
    for (i, r) in pred.resources.into_iter().enumerate() {
        let field = format!("payload.predicate.resources[{i}]");
        check_name(&format!("{field}.name"), &r.name)?;
        if r.algorithm != hash_type.name() {
            return Err(format_err(
                format!("{field}.algorithm"),
                format!(
                    "{:?} differs from the serialization's hash_type {:?}",
                    truncate(&r.algorithm),
                    hash_type.name()
                ),
            ));
        }
        let digest = hex_digest(
            &format!("{field}.digest"),
            &r.digest,
            hash_type.digest_len(),
        )?;
        hasher.update(hex_to_bytes(&digest));
        if !seen.insert(r.name.clone()) {
            return Err(format_err(
                format!("{field}.name"),
                format!("{:?} is listed twice", r.name),
            ));
        }
        resources.push((r.name, digest));
    }
    let actual = crate::hex(&hasher.finalize());
    if actual != root {
        return Err(OmsError::RootDigestMismatch {
            expected: root,
            actual,
        });
    }
    Ok(SignedManifest {
        model_name: subject.name.clone(),
        root_digest: root,
        hash_type,
        allow_symlinks: ser.allow_symlinks,
        ignore_paths: ser.ignore_paths,
        resources,
    })
}

/// Options for [`verify_model`].
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    /// Ignore `.git`, `.gitattributes`, `.github`, `.gitignore` (the reference tool's default).
    pub ignore_git_paths: bool,
    /// More paths to ignore, relative to the model directory.
    pub ignore_paths: Vec<String>,
}

impl Default for VerifyOptions {
    fn default() -> Self {
        VerifyOptions {
            ignore_git_paths: true,
            ignore_paths: Vec::new(),
        }
    }
}

/// A model whose signature and every file digest verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub manifest: SignedManifest,
    /// Hex sha256 of the signer's public key PEM.
    pub key_sha256: String,
    /// Ignore patterns in force (relative paths; a directory covers everything below it).
    pub ignored: Vec<String>,
}

fn components(p: &str) -> Option<Vec<String>> {
    if p.starts_with('/') {
        return None;
    }
    let mut out = Vec::new();
    for c in p.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".." {
            return None;
        }
        out.push(c.to_owned());
    }
    (!out.is_empty()).then_some(out)
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OmsError + '_ {
    move |source| OmsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Read a bundle file, refusing anything over [`MAX_BUNDLE_BYTES`].
pub fn read_bundle(path: &Path) -> Result<Vec<u8>, OmsError> {
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    let size = f.metadata().map_err(io_err(path))?.len();
    if size > MAX_BUNDLE_BYTES {
        return Err(OmsError::TooLarge {
            path: path.into(),
            size,
            max: MAX_BUNDLE_BYTES,
        });
    }
    let mut buf = Vec::new();
    f.take(MAX_BUNDLE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(io_err(path))?;
    if buf.len() as u64 > MAX_BUNDLE_BYTES {
        return Err(OmsError::TooLarge {
            path: path.into(),
            size: buf.len() as u64,
            max: MAX_BUNDLE_BYTES,
        });
    }
    Ok(buf)
}

/// Verify the model at `model` (a directory, or a single file) against the OMS bundle at
/// `bundle_path` with `key`: signature, statement, and the exact file set with digests.
pub fn verify_model(
    model: &Path,
    bundle_path: &Path,
    key: &OmsKey,
    opts: &VerifyOptions,
) -> Result<Verified, OmsError> {
    let manifest = verify_bundle(&read_bundle(bundle_path)?, key)?;
    let mut ignored: Vec<String> = manifest.ignore_paths.clone();
    if opts.ignore_git_paths {
        ignored.extend(GIT_PATHS.iter().map(|s| (*s).to_owned()));
    }
    ignored.extend(opts.ignore_paths.iter().cloned());
    if let (Ok(m), Ok(b)) = (model.canonicalize(), bundle_path.canonicalize()) {
        if let Ok(rel) = b.strip_prefix(&m) {
            if let Some(s) = rel.to_str().filter(|s| !s.is_empty()) {
                ignored.push(s.to_owned());
            }
        }
    }
    ignored.sort();
    ignored.dedup();
    let patterns: Vec<Vec<String>> = ignored.iter().filter_map(|p| components(p)).collect();

    let mut actual: Vec<(String, PathBuf)> = Vec::new();
    let meta = std::fs::symlink_metadata(model).map_err(io_err(model))?;
    let meta = if meta.file_type().is_symlink() {
        if !manifest.allow_symlinks {
            return Err(OmsError::Symlink { path: model.into() });
        }
        std::fs::metadata(model).map_err(io_err(model))?
    } else {
        meta
    };
    if meta.is_file() {
        actual.push((".".to_owned(), model.to_path_buf()));
    } else if meta.is_dir() {
        let mut walker = Walker {
            patterns: &patterns,
            allow_symlinks: manifest.allow_symlinks,
            visited: 0,
            out: &mut actual,
        };
        walker.walk(model, &mut Vec::new())?;
    } else {
        return Err(OmsError::SpecialFile { path: model.into() });
    }

    let expected: BTreeMap<&str, &str> = manifest
        .resources
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_str()))
        .collect();
    let on_disk: BTreeSet<&str> = actual.iter().map(|(n, _)| n.as_str()).collect();
    let mut problems: Vec<Problem> = Vec::new();
    for (name, path) in &actual {
        match expected.get(name.as_str()) {
            None => problems.push(Problem::Extra(name.clone())),
            Some(want) => {
                let got = hash_file(path, manifest.hash_type)?;
                if got != *want {
                    problems.push(Problem::Digest {
                        name: name.clone(),
                        expected: (*want).to_owned(),
                        actual: got,
                    });
                }
            }
        }
    }
    for name in expected.keys().filter(|n| !on_disk.contains(*n)) {
        problems.push(Problem::Missing((*name).to_owned()));
    }
    if !problems.is_empty() {
        return Err(OmsError::Mismatch {
            model: model.into(),
            problems,
        });
    }
    Ok(Verified {
        manifest,
        key_sha256: key.pem_sha256.clone(),
        ignored,
    })
}

struct Walker<'a> {
    patterns: &'a [Vec<String>],
    allow_symlinks: bool,
    visited: usize,
    out: &'a mut Vec<(String, PathBuf)>,
}

impl Walker<'_> {
    fn ignored(&self, rel: &[String]) -> bool {
        self.patterns
            .iter()
            .any(|p| rel.len() >= p.len() && rel[..p.len()] == p[..])
    }

    fn walk(&mut self, dir: &Path, rel: &mut Vec<String>) -> Result<(), OmsError> {
        if rel.len() >= MAX_DEPTH {
            return Err(OmsError::Walk {
                path: dir.into(),
                why: format!("nested deeper than {MAX_DEPTH} directories"),
            });
        }
        let mut entries = Vec::new();
        for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
            let e = e.map_err(io_err(dir))?;
            self.visited += 1;
            if self.visited > MAX_WALK_ENTRIES {
                return Err(OmsError::Walk {
                    path: dir.into(),
                    why: format!("more than {MAX_WALK_ENTRIES} directory entries"),
                });
            }
            entries.push(e.path());
        }
        entries.sort();
        for path in entries {
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                return Err(OmsError::Walk {
                    path,
                    why: "file name is not UTF-8".into(),
                });
            };
            rel.push(name);
            if !self.ignored(rel) {
                self.visit(&path, rel)?;
            }
            rel.pop();
        }
        Ok(())
    }

    fn visit(&mut self, path: &Path, rel: &mut Vec<String>) -> Result<(), OmsError> {
        let meta = std::fs::symlink_metadata(path).map_err(io_err(path))?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            if !self.allow_symlinks {
                return Err(OmsError::Symlink { path: path.into() });
            }
            // Like the reference tool: a link to a file is hashed through the link, a link
            // to a directory is not descended into.
            let target = std::fs::metadata(path).map_err(io_err(path))?;
            if target.is_file() {
                self.out.push((rel.join("/"), path.into()));
            } else if !target.is_dir() {
                return Err(OmsError::SpecialFile { path: path.into() });
            }
        } else if ft.is_dir() {
            self.walk(path, rel)?;
        } else if ft.is_file() {
            self.out.push((rel.join("/"), path.into()));
        } else {
            return Err(OmsError::SpecialFile { path: path.into() });
        }
        Ok(())
    }
}

fn hash_file(path: &Path, ty: HashType) -> Result<String, OmsError> {
    fn run<D: sha2::Digest>(mut f: std::fs::File, path: &Path) -> Result<String, OmsError> {
        let mut h = D::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).map_err(io_err(path))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        Ok(crate::hex(&h.finalize()))
    }
    let f = std::fs::File::open(path).map_err(io_err(path))?;
    match ty {
        HashType::Sha256 => run::<sha2::Sha256>(f, path),
        HashType::Blake2b => run::<blake2::Blake2b512>(f, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec() {
        assert_eq!(
            pae(b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
    }

    #[test]
    fn resource_names_must_stay_inside_the_model() {
        for ok in [".", "a", "a/b.json", "dir/.hidden", "a b/c"] {
            assert!(check_name("n", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/.",
            "a/",
            "a\0b",
        ] {
            assert!(check_name("n", bad).is_err(), "{bad:?}");
        }
        assert!(check_name("n", &"a".repeat(MAX_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn ignore_patterns_are_relative_and_normalized() {
        assert_eq!(components("./.git/"), Some(vec![".git".to_owned()]));
        assert_eq!(
            components("a//b"),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        assert_eq!(components("../outside"), None);
        assert_eq!(components("/abs"), None);
        assert_eq!(components("."), None);
    }
}
