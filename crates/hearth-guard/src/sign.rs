//! Detached Ed25519 signatures in the minisign format, over a manifest of file digests.
//!
//! * Public key file: `untrusted comment: ...` line, then base64 of `"Ed" || key_id[8] || pk[32]`.
//! * Secret key file (unencrypted, minisign `-W` style): base64 of `"Ed" || [0,0] (no KDF) ||
//!   "B2" || salt[32] || opslimit[8] || memlimit[8] || key_id[8] || seed[32] || pk[32] ||
//!   blake2b-256("Ed" || key_id || seed || pk)`.
//! * Signature file: `untrusted comment:` line, base64 of `"ED" || key_id || ed25519(blake2b-512(msg))`,
//!   `trusted comment: ...` line, base64 of `ed25519(signature || trusted_comment)` (the global
//!   signature). Legacy `"Ed"` signatures (over the raw message) are verified too.
//!
//! Files made here verify with `minisign -Vm FILE -p KEY.pub`; encrypted minisign secret keys
//! (scrypt) are not supported for signing.
//!
//! The manifest (`hearth-manifest v1`) lists `sha256 <hex> <size> <path>` per file, with paths
//! relative to the manifest's directory; [`verify_manifest`] checks the signature, then
//! re-hashes every file.

use std::path::{Path, PathBuf};

use blake2::Digest as _;
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

/// Signing and verification failures.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {why}")]
    Format { what: String, why: String },
    #[error("signature was made by key {found}, not by {expected}")]
    WrongKey { expected: String, found: String },
    #[error("{0}: signature verification failed")]
    BadSignature(String),
    #[error("{path}: digest mismatch (manifest {expected}, file {actual})")]
    DigestMismatch {
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("{0}: no random source")]
    Random(std::io::Error),
}

fn fmt_err(what: impl Into<String>, why: impl Into<String>) -> SignError {
    SignError::Format {
        what: what.into(),
        why: why.into(),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Decode standard base64 (padding optional, whitespace not allowed).
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A public key with its minisign key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub key_id: [u8; 8],
    pub key: VerifyingKey,
}

impl PublicKey {
    /// Key id as minisign prints it (uppercase hex of the little-endian u64).
    pub fn id_hex(&self) -> String {
        format!("{:016X}", u64::from_le_bytes(self.key_id))
    }

    /// The one-line base64 form (`RW...`).
    pub fn to_base64(&self) -> String {
        let mut v = b"Ed".to_vec();
        v.extend_from_slice(&self.key_id);
        v.extend_from_slice(self.key.as_bytes());
        base64_encode(&v)
    }

    /// Parse a key file (comment line optional) or the bare base64 line.
    pub fn parse(text: &str) -> Result<PublicKey, SignError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or_else(|| fmt_err("public key", "empty"))?;
        let raw = base64_decode(line).ok_or_else(|| fmt_err("public key", "not base64"))?;
        if raw.len() != 42 || &raw[..2] != b"Ed" {
            return Err(fmt_err("public key", "not a minisign Ed25519 public key"));
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&raw[2..10]);
        let pk: [u8; 32] = raw[10..42]
            .try_into()
            .map_err(|_| fmt_err("public key", "length"))?;
        let key =
            VerifyingKey::from_bytes(&pk).map_err(|e| fmt_err("public key", e.to_string()))?;
        Ok(PublicKey { key_id, key })
    }

    pub fn to_file_text(&self) -> String {
        format!(
            "untrusted comment: minisign public key {}\n{}\n",
            self.id_hex(),
            self.to_base64()
        )
    }
}

/// A secret key with its key id.
pub struct SecretKey {
    pub key_id: [u8; 8],
    key: SigningKey,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({:016X})", u64::from_le_bytes(self.key_id))
    }
}

fn random<const N: usize>() -> Result<[u8; N], SignError> {
    use std::io::Read;
    let mut b = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(SignError::Random)?;
    Ok(b)
}

impl SecretKey {
    /// A fresh key from the OS random source.
    pub fn generate() -> Result<SecretKey, SignError> {
        Ok(SecretKey::from_seed(random::<32>()?, random::<8>()?))
    }

    /// Deterministic key (tests).
    pub fn from_seed(seed: [u8; 32], key_id: [u8; 8]) -> SecretKey {
        SecretKey {
            key_id,
            key: SigningKey::from_bytes(&seed),
        }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    fn checksum(&self) -> [u8; 32] {
        let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
        h.update(b"Ed");
        h.update(self.key_id);
        h.update(self.key.to_bytes());
        h.update(self.key.verifying_key().as_bytes());
        h.finalize().into()
    }

    /// Unencrypted minisign secret key file text.
    pub fn to_file_text(&self) -> String {
        let mut v = Vec::with_capacity(158);
        v.extend_from_slice(b"Ed");
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(b"B2");
        v.extend_from_slice(&[0u8; 32 + 8 + 8]);
        v.extend_from_slice(&self.key_id);
        v.extend_from_slice(&self.key.to_bytes());
        v.extend_from_slice(self.key.verifying_key().as_bytes());
        v.extend_from_slice(&self.checksum());
        format!(
            "untrusted comment: minisign secret key (unencrypted, hearth)\n{}\n",
            base64_encode(&v)
        )
    }

    pub fn parse(text: &str) -> Result<SecretKey, SignError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .ok_or_else(|| fmt_err("secret key", "empty"))?;
        let raw = base64_decode(line).ok_or_else(|| fmt_err("secret key", "not base64"))?;
        if raw.len() != 158 || &raw[..2] != b"Ed" || &raw[4..6] != b"B2" {
            return Err(fmt_err("secret key", "not a minisign Ed25519 secret key"));
        }
        if raw[2..4] != [0, 0] {
            return Err(fmt_err(
                "secret key",
                "encrypted (scrypt) secret keys are not supported; use an unencrypted key",
            ));
        }
        let mut key_id = [0u8; 8];
        key_id.copy_from_slice(&raw[54..62]);
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&raw[62..94]);
        let sk = SecretKey::from_seed(seed, key_id);
        if sk.key.verifying_key().as_bytes()[..] != raw[94..126]
            || sk.checksum()[..] != raw[126..158]
        {
            return Err(fmt_err("secret key", "checksum mismatch (corrupt key)"));
        }
        Ok(sk)
    }

    /// A detached minisign signature (prehashed `ED`) over `msg`.
    pub fn sign(&self, msg: &[u8], trusted_comment: &str) -> String {
        let digest = blake2::Blake2b512::digest(msg);
        let sig = self.key.sign(&digest);
        let mut sig_blob = b"ED".to_vec();
        sig_blob.extend_from_slice(&self.key_id);
        sig_blob.extend_from_slice(&sig.to_bytes());
        let tc = trusted_comment.replace(['\n', '\r'], " ");
        let mut global_msg = sig.to_bytes().to_vec();
        global_msg.extend_from_slice(tc.as_bytes());
        let global = self.key.sign(&global_msg);
        format!(
            "untrusted comment: signature from hearth secret key {:016X}\n{}\ntrusted comment: {tc}\n{}\n",
            u64::from_le_bytes(self.key_id),
            base64_encode(&sig_blob),
            base64_encode(&global.to_bytes())
        )
    }
}

/// Verify a minisign signature over `msg`; returns the trusted comment.
pub fn verify(msg: &[u8], signature_text: &str, key: &PublicKey) -> Result<String, SignError> {
    verify_with(signature_text, key, |prehashed| {
        Ok(if prehashed {
            std::borrow::Cow::Owned(blake2::Blake2b512::digest(msg).to_vec())
        } else {
            std::borrow::Cow::Borrowed(msg)
        })
    })
}

/// Largest file verified against a legacy (`Ed`, not prehashed) signature, which needs the
/// whole message in memory.
pub const MAX_LEGACY_SIGNED_FILE: u64 = 64 << 20;

/// Verify a minisign signature over the file at `path`; returns the trusted comment. A
/// prehashed (`ED`, minisign's default) signature is checked by hashing the file in a stream,
/// so multi-GB model files are never read into memory; legacy `Ed` signatures are accepted
/// for files up to [`MAX_LEGACY_SIGNED_FILE`].
pub fn verify_file(
    path: &Path,
    signature_text: &str,
    key: &PublicKey,
) -> Result<String, SignError> {
    use std::io::Read;
    let io = |source| SignError::Io {
        path: path.to_path_buf(),
        source,
    };
    verify_with(signature_text, key, |prehashed| {
        let mut f = std::fs::File::open(path).map_err(io)?;
        if !prehashed {
            let len = f.metadata().map_err(io)?.len();
            if len > MAX_LEGACY_SIGNED_FILE {
                return Err(fmt_err(
                    "signature",
                    format!(
                        "legacy (non-prehashed) signature over {} ({len} bytes, over {MAX_LEGACY_SIGNED_FILE})",
                        path.display()
                    ),
                ));
            }
            let mut v = Vec::new();
            f.read_to_end(&mut v).map_err(io)?;
            return Ok(std::borrow::Cow::Owned(v));
        }
        let mut h = blake2::Blake2b512::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io(e)),
            };
            h.update(&buf[..n]);
        }
        Ok(std::borrow::Cow::Owned(h.finalize().to_vec()))
    })
}

/// Parse a signature, then check it over what `message(prehashed)` returns: the blake2b-512
/// digest of the message for prehashed signatures, the message itself otherwise.
fn verify_with<'m>(
    signature_text: &str,
    key: &PublicKey,
    message: impl FnOnce(bool) -> Result<std::borrow::Cow<'m, [u8]>, SignError>,
) -> Result<String, SignError> {
    let lines: Vec<&str> = signature_text.lines().map(str::trim_end).collect();
    let (Some(sig_line), Some(tc_line), Some(global_line)) =
        (lines.get(1), lines.get(2), lines.get(3))
    else {
        return Err(fmt_err("signature", "expected four lines"));
    };
    let blob = base64_decode(sig_line).ok_or_else(|| fmt_err("signature", "not base64"))?;
    if blob.len() != 74 {
        return Err(fmt_err("signature", "wrong length"));
    }
    let prehashed = match &blob[..2] {
        b"ED" => true,
        b"Ed" => false,
        _ => return Err(fmt_err("signature", "unknown algorithm")),
    };
    if blob[2..10] != key.key_id {
        let mut id = [0u8; 8];
        id.copy_from_slice(&blob[2..10]);
        return Err(SignError::WrongKey {
            expected: key.id_hex(),
            found: format!("{:016X}", u64::from_le_bytes(id)),
        });
    }
    let sig_bytes: [u8; 64] = blob[10..74]
        .try_into()
        .map_err(|_| fmt_err("signature", "length"))?;
    let sig = ed25519_dalek::Signature::from_bytes(&sig_bytes);
    let ok = key.key.verify(&message(prehashed)?, &sig);
    ok.map_err(|_| SignError::BadSignature("signature".into()))?;
    let tc = tc_line
        .strip_prefix("trusted comment: ")
        .ok_or_else(|| fmt_err("signature", "missing trusted comment"))?;
    let global = base64_decode(global_line).ok_or_else(|| fmt_err("signature", "not base64"))?;
    let global: [u8; 64] = global
        .try_into()
        .map_err(|_| fmt_err("signature", "global signature length"))?;
    let mut gm = sig_bytes.to_vec();
    gm.extend_from_slice(tc.as_bytes());
    key.key
        .verify(&gm, &ed25519_dalek::Signature::from_bytes(&global))
        .map_err(|_| SignError::BadSignature("trusted comment".into()))?;
    Ok(tc.to_owned())
}

/// One file in a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    pub sha256: String,
    pub size: u64,
    pub path: String,
}

/// Build manifest text for files; paths are written relative to `base` when below it.
pub fn make_manifest(files: &[PathBuf], base: &Path) -> Result<String, SignError> {
    let mut s = String::from("hearth-manifest v1\n");
    for f in files {
        let io = |source| SignError::Io {
            path: f.clone(),
            source,
        };
        let size = std::fs::metadata(f).map_err(io)?.len();
        let digest = crate::file_sha256(f).map_err(|e| match e {
            crate::GuardError::Io { path, source } => SignError::Io { path, source },
            other => fmt_err(f.display().to_string(), other.to_string()),
        })?;
        let abs = std::fs::canonicalize(f).map_err(io)?;
        let base_abs = std::fs::canonicalize(base).unwrap_or_else(|_| base.to_path_buf());
        let rel = abs.strip_prefix(&base_abs).unwrap_or(&abs);
        let name = rel.to_string_lossy();
        if name.contains('\n') {
            return Err(fmt_err(
                f.display().to_string(),
                "file name contains a newline",
            ));
        }
        s.push_str(&format!("sha256 {digest} {size} {name}\n"));
    }
    Ok(s)
}

/// Parse manifest text.
pub fn parse_manifest(text: &str) -> Result<Vec<ManifestEntry>, SignError> {
    let mut lines = text.lines();
    if lines.next() != Some("hearth-manifest v1") {
        return Err(fmt_err("manifest", "missing `hearth-manifest v1` header"));
    }
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut p = l.splitn(4, ' ');
            match (p.next(), p.next(), p.next(), p.next()) {
                (Some("sha256"), Some(h), Some(n), Some(path))
                    if h.len() == 64 && h.bytes().all(|c| c.is_ascii_hexdigit()) =>
                {
                    Ok(ManifestEntry {
                        sha256: h.to_ascii_lowercase(),
                        size: n
                            .parse()
                            .map_err(|_| fmt_err("manifest", format!("bad size in {l:?}")))?,
                        path: path.to_owned(),
                    })
                }
                _ => Err(fmt_err("manifest", format!("bad line {l:?}"))),
            }
        })
        .collect()
}

/// Verify `manifest_path` against `manifest_path.minisig` (or `sig_path`) and every listed file.
pub fn verify_manifest(
    manifest_path: &Path,
    sig_path: Option<&Path>,
    key: &PublicKey,
) -> Result<Vec<ManifestEntry>, SignError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| SignError::Io {
            path: p.to_path_buf(),
            source,
        })
    };
    let manifest = read(manifest_path)?;
    let default_sig = signature_path(manifest_path);
    let sig_path = sig_path.unwrap_or(&default_sig);
    let sig = String::from_utf8_lossy(&read(sig_path)?).into_owned();
    verify(&manifest, &sig, key)?;
    let text = std::str::from_utf8(&manifest).map_err(|_| fmt_err("manifest", "not UTF-8"))?;
    let entries = parse_manifest(text)?;
    let base = manifest_path.parent().unwrap_or(Path::new("."));
    for e in &entries {
        if Path::new(&e.path)
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(fmt_err(
                "manifest",
                format!("path {:?} leaves the manifest directory", e.path),
            ));
        }
        let p = base.join(&e.path);
        let actual = crate::file_sha256(&p).map_err(|err| match err {
            crate::GuardError::Io { path, source } => SignError::Io { path, source },
            other => fmt_err(p.display().to_string(), other.to_string()),
        })?;
        if actual != e.sha256 {
            return Err(SignError::DigestMismatch {
                path: p,
                expected: e.sha256.clone(),
                actual,
            });
        }
    }
    Ok(entries)
}

/// `MANIFEST.minisig`.
pub fn signature_path(manifest: &Path) -> PathBuf {
    let mut s = manifest.as_os_str().to_owned();
    s.push(".minisig");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for n in 0..20 {
            let v: Vec<u8> = (0..n).map(|i| (i * 37 + 5) as u8).collect();
            assert_eq!(base64_decode(&base64_encode(&v)).unwrap(), v);
        }
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
    }

    #[test]
    fn sign_verify_and_tamper() {
        let sk = SecretKey::from_seed([7; 32], [1, 2, 3, 4, 5, 6, 7, 8]);
        let sk2 = SecretKey::parse(&sk.to_file_text()).unwrap();
        let pk = PublicKey::parse(&sk2.public().to_file_text()).unwrap();
        let sig = sk2.sign(b"manifest", "timestamp:0\tfile:m");
        assert_eq!(
            verify(b"manifest", &sig, &pk).unwrap(),
            "timestamp:0\tfile:m"
        );
        assert!(matches!(
            verify(b"manifesT", &sig, &pk),
            Err(SignError::BadSignature(_))
        ));
        let forged = sig.replace("file:m", "file:x");
        assert!(verify(b"manifest", &forged, &pk).is_err());
        let other = SecretKey::from_seed([8; 32], [9; 8]).public();
        assert!(matches!(
            verify(b"manifest", &sig, &other),
            Err(SignError::WrongKey { .. })
        ));
    }

    #[test]
    fn verify_file_streams_prehashed_signatures() {
        let sk = SecretKey::from_seed([7; 32], [1, 2, 3, 4, 5, 6, 7, 8]);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("model.gguf");
        // Over one read buffer, so the streamed hash spans several reads.
        let body: Vec<u8> = (0..(3u32 << 19)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &body).unwrap();
        let sig = sk.sign(&body, "file:model.gguf");
        assert_eq!(
            verify_file(&p, &sig, &sk.public()).unwrap(),
            "file:model.gguf"
        );
        assert_eq!(
            verify(&body, &sig, &sk.public()).unwrap(),
            "file:model.gguf"
        );
        let mut changed = body.clone();
        changed[1 << 20] ^= 1;
        std::fs::write(&p, &changed).unwrap();
        assert!(matches!(
            verify_file(&p, &sig, &sk.public()),
            Err(SignError::BadSignature(_))
        ));
        let other = SecretKey::from_seed([8; 32], [9; 8]).public();
        assert!(matches!(
            verify_file(&p, &sig, &other),
            Err(SignError::WrongKey { .. })
        ));
        assert!(matches!(
            verify_file(&d.path().join("missing"), &sig, &sk.public()),
            Err(SignError::Io { .. })
        ));
    }
}
