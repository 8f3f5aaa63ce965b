//! Air-gapped transfer: `export NAME -o bundle.tar` writes a plain ustar archive with the
//! manifest (`manifests/<host>/<ns>/<model>/<tag>`) and its blobs (`blobs/sha256-<hex>`);
//! `import bundle.tar` reads it back, verifying every blob's digest and every model layer, and
//! writes manifests only when everything checked out. Entry names are never used as paths:
//! only those two shapes are accepted (validated digest, validated model name), so nothing can
//! escape the store; links, devices and any other entry type are refused.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::digest::Digest;
use crate::error::{Result, StoreError};
use crate::fsutil::{self, RemoveOnDrop};
use crate::guard;
use crate::manifest::{Manifest, MAX_BLOB_BYTES, MAX_MANIFEST_BYTES};
use crate::name::ModelName;
use crate::provenance::{Stage, BUNDLE};
use crate::space;
use crate::store::Store;

const BLOCK: usize = 512;

impl Store {
    /// Write `name` (found in `src`, which may be this store or a read-only one) to a tar file.
    pub fn export(src: &Store, name: &ModelName, out: &Path) -> Result<u64> {
        let found = src
            .find(name)
            .ok_or_else(|| StoreError::NotFound(name.display_shortest()))?;
        let mpath = src.manifest_path(&found);
        let raw = std::fs::read(&mpath).map_err(StoreError::io(&mpath))?;
        let m = Manifest::parse(&raw, &mpath.display().to_string())?;
        let tmp = out.with_extension("tar.partial");
        let guard = RemoveOnDrop::new(tmp.clone());
        let f = File::create(&tmp).map_err(StoreError::io(&tmp))?;
        let mut w = BufWriter::new(f);
        let io = |e| StoreError::io(&tmp)(e);
        let rel = format!(
            "manifests/{}/{}/{}/{}",
            found.host, found.namespace, found.model, found.tag
        );
        write_entry(&mut w, &rel, raw.len() as u64, &mut &raw[..]).map_err(io)?;
        let mut total = raw.len() as u64;
        for l in m.all_layers() {
            let p = src.blob_path(&l.digest);
            let mut f = File::open(&p).map_err(StoreError::io(&p))?;
            let len = f.metadata().map_err(StoreError::io(&p))?.len();
            if len != l.size {
                return Err(StoreError::SizeMismatch {
                    what: p.display().to_string(),
                    expected: l.size,
                    actual: len,
                });
            }
            write_entry(
                &mut w,
                &format!("blobs/{}", l.digest.file_name()),
                len,
                &mut f,
            )
            .map_err(io)?;
            total = total.saturating_add(len);
        }
        w.write_all(&[0u8; BLOCK * 2]).map_err(io)?;
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        fsutil::sync_file(&f, &tmp)?;
        drop(f);
        std::fs::rename(&tmp, out).map_err(StoreError::io(out))?;
        guard.disarm();
        Ok(total)
    }

    /// Import every model in a bundle. Returns the names installed.
    pub fn import(&self, bundle: &Path) -> Result<Vec<ModelName>> {
        self.writable()?;
        let _gc = self.gc_lock(false)?;
        let bad = |reason: String| StoreError::Bundle {
            path: bundle.to_path_buf(),
            reason,
        };
        let file = File::open(bundle).map_err(StoreError::io(bundle))?;
        let len = file.metadata().map_err(StoreError::io(bundle))?.len();
        space::check_free_space(&self.blobs_dir(), len)?;
        let mut r = BufReader::new(file);
        let mut created: Vec<PathBuf> = Vec::new();
        let result = self.import_entries(&mut r, bundle, &mut created, &bad);
        if result.is_err() {
            for p in &created {
                let _ = std::fs::remove_file(p);
            }
        }
        result
    }

    fn import_entries(
        &self,
        r: &mut impl Read,
        bundle: &Path,
        created: &mut Vec<PathBuf>,
        bad: &dyn Fn(String) -> StoreError,
    ) -> Result<Vec<ModelName>> {
        let io = |e| StoreError::io(bundle)(e);
        let mut manifests: Vec<(ModelName, Vec<u8>, Manifest)> = Vec::new();
        let mut header = [0u8; BLOCK];
        let mut n_entry = 0usize;
        loop {
            if !read_block(r, &mut header).map_err(io)? {
                return Err(bad("archive ends without its end-of-archive blocks".into()));
            }
            if header.iter().all(|&b| b == 0) {
                break;
            }
            n_entry += 1;
            if n_entry > 10_000 {
                return Err(bad("more than 10000 entries".into()));
            }
            let h = Header::parse(&header).map_err(|e| bad(format!("entry {n_entry}: {e}")))?;
            let name = clean_name(&h.name).map_err(|e| bad(format!("entry {:?}: {e}", h.name)))?;
            match h.kind {
                b'0' | 0 => {}
                b'5' if h.size == 0 => {
                    if !(name == "blobs" || name == "manifests" || name.starts_with("manifests/")) {
                        return Err(bad(format!("unexpected directory {name:?}")));
                    }
                    continue;
                }
                b'1' | b'2' => {
                    return Err(bad(format!("entry {name:?} is a link; links are refused")))
                }
                k => {
                    return Err(bad(format!(
                        "entry {name:?} has type {:?}; only files are accepted",
                        k as char
                    )))
                }
            }
            let padded = h.size.div_ceil(BLOCK as u64) * BLOCK as u64;
            if let Some(rest) = name.strip_prefix("blobs/") {
                let d = Digest::from_blob_file_name(rest).ok_or_else(|| {
                    bad(format!("blob entry {name:?} is not blobs/sha256-<64 hex>"))
                })?;
                if h.size > MAX_BLOB_BYTES {
                    return Err(bad(format!("blob {d} claims {} bytes", h.size)));
                }
                self.import_blob(r, &d, h.size, bundle, created)?;
                skip(r, padded - h.size).map_err(io)?;
            } else if let Some(rest) = name.strip_prefix("manifests/") {
                let parts: Vec<&str> = rest.split('/').collect();
                let [host, ns, model, tag] = parts.as_slice() else {
                    return Err(bad(format!(
                        "manifest entry {name:?} is not manifests/host/namespace/model/tag"
                    )));
                };
                let mname = ModelName::from_parts(host, ns, model, tag)?;
                if h.size > MAX_MANIFEST_BYTES {
                    return Err(StoreError::TooLarge {
                        what: format!("manifest {name} in {}", bundle.display()),
                        size: h.size,
                        limit: MAX_MANIFEST_BYTES,
                    });
                }
                let mut raw = vec![0u8; h.size as usize];
                r.read_exact(&mut raw).map_err(io)?;
                skip(r, padded - h.size).map_err(io)?;
                let m = Manifest::parse(&raw, &name)?;
                manifests.push((mname, raw, m));
            } else {
                return Err(bad(format!(
                    "unexpected entry {name:?} (only manifests/ and blobs/)"
                )));
            }
        }
        if manifests.is_empty() {
            return Err(bad("no manifest in the bundle".into()));
        }
        let mut scans = Vec::with_capacity(manifests.len());
        for (name, _, m) in &manifests {
            for l in m.all_layers() {
                let p = self.blob_path(&l.digest);
                let len = std::fs::metadata(&p)
                    .map_err(|_| {
                        bad(format!(
                            "{name}: blob {} missing from bundle and store",
                            l.digest
                        ))
                    })?
                    .len();
                if len != l.size {
                    return Err(bad(format!(
                        "{name}: blob {} is {len} bytes, manifest says {}",
                        l.digest, l.size
                    )));
                }
            }
            let mut scan = None;
            for l in &m.layers {
                let s = guard::check_layer_file(&self.blob_path(&l.digest), &l.media_type)?;
                if l.media_type == crate::manifest::MEDIA_MODEL {
                    scan = scan.max(s);
                }
            }
            scans.push(scan);
            let digest = m.model_layer().map(|l| l.digest.to_string());
            // The registry is the one the bundle's own manifest name spells (an exported
            // model keeps the name it was pulled under).
            self.enforce_policy(
                Stage::Create,
                name,
                Some(&name.host),
                digest.as_deref(),
                &[],
            )?;
        }
        let source = std::fs::canonicalize(bundle).unwrap_or_else(|_| bundle.to_path_buf());
        let mut names = Vec::new();
        for ((name, raw, m), scan) in manifests.into_iter().zip(scans) {
            self.write_manifest_bytes(&name, &m, &raw)?;
            let digest = m.model_layer().map(|l| l.digest.to_string());
            self.record_install(
                &name,
                BUNDLE,
                &source.display().to_string(),
                digest.as_deref().unwrap_or(""),
                scan,
            )?;
            names.push(name);
        }
        Ok(names)
    }

    fn import_blob(
        &self,
        r: &mut impl Read,
        d: &Digest,
        size: u64,
        bundle: &Path,
        created: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let blobs = self.blobs_dir();
        let tmp = blobs.join(format!(
            "import-{}-{}-{}-partial",
            std::process::id(),
            d.short(),
            unique()
        ));
        let guard = RemoveOnDrop::new(tmp.clone());
        let mut out = File::create(&tmp).map_err(StoreError::io(&tmp))?;
        let mut h = Sha256::new();
        let mut left = size;
        let mut buf = vec![0u8; 1 << 20];
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            r.read_exact(&mut buf[..want])
                .map_err(StoreError::io(bundle))?;
            h.update(&buf[..want]);
            out.write_all(&buf[..want]).map_err(StoreError::io(&tmp))?;
            left -= want as u64;
        }
        let actual = Digest::from_hasher(h);
        if &actual != d {
            return Err(StoreError::DigestMismatch {
                what: format!("blob in {}", bundle.display()),
                expected: d.to_string(),
                actual: actual.to_string(),
            });
        }
        let dest = self.blob_path(d);
        if dest.is_file() {
            return Ok(()); // guard removes the temp copy
        }
        fsutil::sync_file(&out, &tmp)?;
        drop(out);
        std::fs::rename(&tmp, &dest).map_err(StoreError::io(&dest))?;
        guard.disarm();
        created.push(dest);
        Ok(())
    }
}

fn unique() -> u64 {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

struct Header {
    name: String,
    size: u64,
    kind: u8,
}

fn field_str(b: &[u8]) -> std::result::Result<String, String> {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8(b[..end].to_vec()).map_err(|_| "name is not UTF-8".to_string())
}

fn parse_size(b: &[u8]) -> std::result::Result<u64, String> {
    if b[0] & 0x80 != 0 {
        // GNU base-256: big-endian binary in the remaining bytes.
        let mut v: u64 = 0;
        for (i, &c) in b.iter().enumerate() {
            let c = if i == 0 { c & 0x7f } else { c };
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(c)))
                .ok_or("size overflows")?;
        }
        return Ok(v);
    }
    let s: String = b
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as char)
        .collect();
    let s = s.trim();
    if s.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(s, 8).map_err(|_| format!("bad size field {s:?}"))
}

impl Header {
    fn parse(h: &[u8; BLOCK]) -> std::result::Result<Header, String> {
        let stored = parse_size(&h[148..156])?;
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(b)
                }
            })
            .sum();
        if stored != sum {
            return Err(format!("header checksum {stored} does not match {sum}"));
        }
        let mut name = field_str(&h[0..100])?;
        if &h[257..262] == b"ustar" {
            let prefix = field_str(&h[345..500])?;
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        Ok(Header {
            name,
            size: parse_size(&h[124..136])?,
            kind: h[156],
        })
    }
}

/// Normalise an entry name, refusing absolute paths, `..`, `.` and empty components.
fn clean_name(n: &str) -> std::result::Result<String, String> {
    let n = n.strip_prefix("./").unwrap_or(n);
    let n = n.strip_suffix('/').unwrap_or(n);
    if n.is_empty() || n.starts_with('/') || n.contains('\\') {
        return Err("absolute or empty path".into());
    }
    if n.split('/').any(|c| c.is_empty() || c == "." || c == "..") {
        return Err("path with '..', '.' or empty components".into());
    }
    Ok(n.to_string())
}

fn read_block(r: &mut impl Read, b: &mut [u8; BLOCK]) -> std::io::Result<bool> {
    let mut n = 0;
    while n < BLOCK {
        match r.read(&mut b[n..]) {
            Ok(0) if n == 0 => return Ok(false),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

fn skip(r: &mut impl Read, n: u64) -> std::io::Result<()> {
    let got = std::io::copy(&mut r.take(n), &mut std::io::sink())?;
    if got != n {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Write a ustar header for a regular file `name` of `size` bytes, then the data and padding.
pub(crate) fn write_entry(
    w: &mut impl Write,
    name: &str,
    size: u64,
    data: &mut impl Read,
) -> std::io::Result<()> {
    w.write_all(&header(name, size, b'0')?)?;
    let n = std::io::copy(&mut data.take(size), w)?;
    if n != size {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
    w.write_all(&vec![0u8; pad as usize])
}

/// A ustar header (names up to 255 bytes via the prefix field; sizes past 8 GiB in base-256).
pub(crate) fn header(name: &str, size: u64, kind: u8) -> std::io::Result<[u8; BLOCK]> {
    let mut h = [0u8; BLOCK];
    let (prefix, base) = if name.len() <= 100 {
        ("", name)
    } else {
        let split = name[..name.len().min(156)]
            .rfind('/')
            .filter(|&i| name.len() - i - 1 <= 100 && i <= 155)
            .ok_or_else(|| std::io::Error::other(format!("name too long for ustar: {name}")))?;
        (&name[..split], &name[split + 1..])
    };
    h[..base.len()].copy_from_slice(base.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    if size < 0o77777777777 {
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        .min(0o77777777777);
    h[136..148].copy_from_slice(format!("{mtime:011o}\0").as_bytes());
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_names() {
        let long = format!("manifests/{}/ns/m/t", "h".repeat(120));
        for (n, s) in [("blobs/x", 5u64), (long.as_str(), 9), ("a", 1 << 40)] {
            let h = Header::parse(&header(n, s, b'0').unwrap()).unwrap();
            assert_eq!((h.name.as_str(), h.size, h.kind), (n, s, b'0'));
        }
        for bad in ["../x", "/etc/passwd", "blobs/../../x", "a//b", "./", ""] {
            assert!(clean_name(bad).is_err(), "{bad}");
        }
        assert_eq!(clean_name("./blobs/x").unwrap(), "blobs/x");
    }
}
