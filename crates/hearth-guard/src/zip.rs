//! A minimal ZIP reader for scanning (PyTorch `torch.save` archives and other zips): end of
//! central directory (with ZIP64), central directory, local headers, stored and deflated data.
//! Reports name mismatches between local and central headers, bad CRCs, sizes that disagree,
//! overlapping entries, path traversal, nested archives and prepended data, and disassembles
//! every `.pkl` entry with [`crate::pickle`].

use std::io::Read;

use crate::report::{Finding, Format, Location, Severity};
use crate::{pickle, ScanOptions};

/// One central-directory entry, checked against its local header.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name for display and matching: names over 256 bytes keep their first and last
    /// 120 bytes (so a hostile directory cannot make the scanner hold gigabytes of names).
    pub name: String,
    /// Hash of the full name bytes (duplicate detection).
    pub name_hash: u64,
    /// The full name escapes the extraction directory.
    pub traversal: bool,
    pub method: u16,
    pub flags: u16,
    pub crc: u32,
    pub compressed: u64,
    pub uncompressed: u64,
    pub local_offset: u64,
    /// Where the entry's data starts (after the local header), if the local header is valid.
    pub data_offset: Option<u64>,
    /// The local header's name, only when it differs from the central directory's.
    pub local_name: Option<String>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

const EOCD: u32 = 0x0605_4b50;
const EOCD64: u32 = 0x0606_4b50;
const LOC64: u32 = 0x0706_4b50;
const CEN: u32 = 0x0201_4b50;
const LOC: u32 = 0x0403_4b50;

/// (entry count, central directory size, central directory offset, eocd offset)
fn find_eocd(b: &[u8]) -> Option<(u64, u64, u64, usize)> {
    let min = b.len().saturating_sub(22 + 65_535);
    let mut at = b.len().checked_sub(22)?;
    loop {
        if u32_at(b, at) == Some(EOCD) {
            break;
        }
        if at == min {
            return None;
        }
        at -= 1;
    }
    let mut count = u64::from(u16_at(b, at + 10)?);
    let mut size = u64::from(u32_at(b, at + 12)?);
    let mut offset = u64::from(u32_at(b, at + 16)?);
    if count == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF {
        let loc = at.checked_sub(20)?;
        if u32_at(b, loc) == Some(LOC64) {
            let e64 = usize::try_from(u64_at(b, loc + 8)?).ok()?;
            if u32_at(b, e64) == Some(EOCD64) {
                count = u64_at(b, e64 + 32)?;
                size = u64_at(b, e64 + 40)?;
                offset = u64_at(b, e64 + 48)?;
            }
        }
    }
    Some((count, size, offset, at))
}

fn zip64_extra(extra: &[u8], e: &mut Entry) {
    let mut p = 0;
    while p + 4 <= extra.len() {
        let (Some(id), Some(len)) = (u16_at(extra, p), u16_at(extra, p + 2)) else {
            return;
        };
        let body = extra.get(p + 4..p + 4 + len as usize).unwrap_or(&[]);
        if id == 1 {
            let mut q = 0;
            let mut next = |v: &mut u64| {
                if *v == 0xFFFF_FFFF {
                    if let Some(x) = u64_at(body, q) {
                        *v = x;
                        q += 8;
                    }
                }
            };
            next(&mut e.uncompressed);
            next(&mut e.compressed);
            next(&mut e.local_offset);
        }
        p += 4 + len as usize;
    }
}

/// Parse the central directory. Problems become findings; returns the entries read.
pub fn entries(b: &[u8], opts: &ScanOptions, out: &mut Vec<Finding>) -> Vec<Entry> {
    let Some((count, size, offset, eocd_at)) = find_eocd(b) else {
        out.push(Finding::new(
            "zip.malformed",
            Severity::High,
            "no end-of-central-directory record; the archive cannot be read reliably",
            Location::none(),
        ));
        return Vec::new();
    };
    if count > opts.max_archive_entries as u64 {
        out.push(Finding::new(
            "zip.too-many-entries",
            Severity::High,
            format!(
                "{count} entries exceed the limit of {}",
                opts.max_archive_entries
            ),
            Location::offset(eocd_at as u64),
        ));
    }
    if offset.saturating_add(size) > eocd_at as u64 {
        out.push(Finding::new(
            "zip.malformed",
            Severity::High,
            format!("central directory {offset}+{size} runs past the end record at {eocd_at}"),
            Location::offset(eocd_at as u64),
        ));
    }
    let mut list = Vec::new();
    let mut p = usize::try_from(offset).unwrap_or(usize::MAX);
    for i in 0..count.min(opts.max_archive_entries as u64) {
        if u32_at(b, p) != Some(CEN) {
            out.push(Finding::new(
                "zip.malformed",
                Severity::High,
                format!("central directory entry {i} has a bad signature"),
                Location::offset(p as u64),
            ));
            break;
        }
        let field = |o: usize| u16_at(b, p + o).unwrap_or(0);
        let (nlen, elen, clen) = (field(28) as usize, field(30) as usize, field(32) as usize);
        let name_bytes = b.get(p + 46..p + 46 + nlen).unwrap_or(&[]);
        let extra = b.get(p + 46 + nlen..p + 46 + nlen + elen).unwrap_or(&[]);
        let mut e = Entry {
            name: short_name(name_bytes),
            name_hash: {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                name_bytes.hash(&mut h);
                h.finish()
            },
            traversal: is_traversal(&String::from_utf8_lossy(name_bytes)),
            flags: field(8),
            method: field(10),
            crc: u32_at(b, p + 16).unwrap_or(0),
            compressed: u64::from(u32_at(b, p + 20).unwrap_or(0)),
            uncompressed: u64::from(u32_at(b, p + 24).unwrap_or(0)),
            local_offset: u64::from(u32_at(b, p + 42).unwrap_or(0)),
            data_offset: None,
            local_name: None,
        };
        zip64_extra(extra, &mut e);
        // Local header.
        let lo = usize::try_from(e.local_offset).unwrap_or(usize::MAX);
        if u32_at(b, lo) == Some(LOC) {
            let ln = u16_at(b, lo + 26).unwrap_or(0) as usize;
            let le = u16_at(b, lo + 28).unwrap_or(0) as usize;
            let local = b.get(lo + 30..lo + 30 + ln).unwrap_or(&[]);
            if local != name_bytes {
                e.local_name = Some(short_name(local));
            }
            e.data_offset = Some((lo + 30 + ln + le) as u64);
        }
        p += 46 + nlen + elen + clen;
        list.push(e);
    }
    list
}

fn short_name(b: &[u8]) -> String {
    if b.len() <= 256 {
        return String::from_utf8_lossy(b).into_owned();
    }
    format!(
        "{}…{}",
        String::from_utf8_lossy(&b[..120]),
        String::from_utf8_lossy(&b[b.len() - 120..])
    )
}

fn is_traversal(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || name.split(['/', '\\']).any(|c| c == "..")
        || name.as_bytes().get(1) == Some(&b':')
        || name.contains('\0')
}

/// Inflate (or pass through) an entry, computing the CRC and keeping up to `keep` bytes.
/// Returns (crc, total bytes produced, kept bytes, stopped early at the cap).
fn read_entry(
    data: &[u8],
    method: u16,
    cap: u64,
    keep: usize,
) -> Result<(u32, u64, Vec<u8>, bool), String> {
    let mut crc = crc32fast::Hasher::new();
    let mut kept = Vec::new();
    if method == 0 {
        crc.update(data);
        kept.extend_from_slice(&data[..data.len().min(keep)]);
        return Ok((crc.finalize(), data.len() as u64, kept, false));
    }
    let mut dec = flate2::read::DeflateDecoder::new(data);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = dec
            .read(&mut buf)
            .map_err(|e| format!("deflate error: {e}"))?;
        if n == 0 {
            break;
        }
        crc.update(&buf[..n]);
        if kept.len() < keep {
            let room = keep - kept.len();
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        total += n as u64;
        if total > cap {
            return Ok((crc.finalize(), total, kept, true));
        }
    }
    Ok((crc.finalize(), total, kept, false))
}

/// Scan a zip archive; returns [`Format::PytorchZip`] when it holds a `data.pkl`,
/// [`Format::Keras`] for a `.keras` archive, [`Format::Npz`] when every member is an `.npy`.
pub(crate) fn scan_archive(b: &[u8], opts: &ScanOptions, out: &mut Vec<Finding>) -> Format {
    let list = entries(b, opts, out);
    let is_torch = list
        .iter()
        .any(|e| e.name == "data.pkl" || e.name.ends_with("/data.pkl"));
    let is_keras = list.iter().any(|e| e.name == "config.json")
        && list
            .iter()
            .any(|e| e.name == "model.weights.h5" || e.name == "metadata.json");
    let is_npz = !list.is_empty() && list.iter().all(|e| e.name.ends_with(".npy"));
    let mut names = std::collections::HashSet::new();
    let mut spans: Vec<(u64, u64, usize)> = Vec::new();
    let mut inflate_budget: u64 = 1 << 30;
    for (i, e) in list.iter().enumerate() {
        let field = format!("zip entry {:?}", e.name);
        let loc = |off: u64| Location::at(field.clone(), off);
        if !names.insert(e.name_hash) {
            out.push(Finding::new(
                "zip.duplicate-name",
                Severity::Medium,
                format!("{:?} appears more than once", e.name),
                loc(e.local_offset),
            ));
        }
        if e.traversal {
            out.push(Finding::new(
                "zip.path-traversal",
                Severity::High,
                format!("entry name {:?} escapes the extraction directory", e.name),
                loc(e.local_offset),
            ));
        }
        let Some(start) = e.data_offset else {
            out.push(Finding::new(
                "zip.malformed",
                Severity::High,
                "local header missing or has a bad signature",
                loc(e.local_offset),
            ));
            continue;
        };
        if let Some(ln) = &e.local_name {
            out.push(Finding::new(
                "zip.name-mismatch",
                Severity::High,
                format!(
                    "local header names {ln:?} but the central directory names {:?}",
                    e.name
                ),
                loc(e.local_offset),
            ));
        }
        let end = start.checked_add(e.compressed);
        let Some(data) = end.and_then(|end| b.get(start as usize..usize::try_from(end).ok()?))
        else {
            out.push(Finding::new(
                "zip.malformed",
                Severity::High,
                format!(
                    "entry data {start}+{} runs past the end of the file",
                    e.compressed
                ),
                loc(start),
            ));
            continue;
        };
        spans.push((e.local_offset, start + e.compressed, i));
        if e.flags & 1 != 0 {
            out.push(Finding::new(
                "zip.encrypted",
                Severity::Medium,
                "entry is encrypted; contents not inspected",
                loc(start),
            ));
            continue;
        }
        if e.method != 0 && e.method != 8 {
            out.push(Finding::new(
                "zip.unsupported-method",
                Severity::Medium,
                format!("compression method {} not inspected", e.method),
                loc(start),
            ));
            continue;
        }
        let is_pkl = e.name.ends_with(".pkl");
        let is_npy = e.name.ends_with(".npy");
        let is_keras_config = is_keras && e.name == "config.json";
        let keep = if is_pkl || is_npy || is_keras_config {
            opts.max_inflate_bytes as usize
        } else {
            8
        };
        let cap = e.uncompressed.min(inflate_budget).min(if e.method == 8 {
            256 << 20
        } else {
            u64::MAX
        });
        match read_entry(data, e.method, cap, keep) {
            Err(msg) => out.push(Finding::new(
                "zip.bad-data",
                Severity::High,
                msg,
                loc(start),
            )),
            Ok((crc, total, kept, capped)) => {
                if e.method == 8 {
                    inflate_budget = inflate_budget.saturating_sub(total);
                }
                if capped && total > e.uncompressed {
                    out.push(Finding::new(
                        "zip.size-mismatch",
                        Severity::High,
                        format!(
                            "inflates past its declared size of {} bytes (zip bomb?)",
                            e.uncompressed
                        ),
                        loc(start),
                    ));
                } else if capped {
                    out.push(Finding::new(
                        "zip.unchecked",
                        Severity::Info,
                        "CRC not verified: inflate budget used up",
                        loc(start),
                    ));
                } else {
                    if total != e.uncompressed {
                        out.push(Finding::new(
                            "zip.size-mismatch",
                            Severity::Medium,
                            format!("declared {} bytes, holds {total}", e.uncompressed),
                            loc(start),
                        ));
                    }
                    if crc != e.crc {
                        out.push(Finding::new(
                            "zip.bad-crc",
                            Severity::Medium,
                            format!("CRC-32 is {crc:08x}, the directory says {:08x}", e.crc),
                            loc(start),
                        ));
                    }
                }
                if kept.starts_with(b"PK\x03\x04")
                    || kept.starts_with(&[0x1f, 0x8b])
                    || [".zip", ".tar", ".gz", ".pt", ".pth", ".ckpt", ".npz"]
                        .iter()
                        .any(|x| e.name.ends_with(x))
                {
                    out.push(Finding::new(
                        "zip.nested-archive",
                        Severity::Medium,
                        "entry is itself an archive; its contents were not scanned",
                        loc(start),
                    ));
                }
                if is_pkl {
                    let base = if e.method == 0 { start } else { 0 };
                    let f = if e.method == 0 {
                        field.clone()
                    } else {
                        format!("{field} (inflated)")
                    };
                    if e.uncompressed > opts.max_inflate_bytes {
                        out.push(Finding::new(
                            "pickle.truncated",
                            Severity::Medium,
                            format!(
                                "only the first {} bytes of the pickle were inspected",
                                opts.max_inflate_bytes
                            ),
                            loc(start),
                        ));
                    }
                    pickle::scan_stream_sequence(&kept, base, &f, opts, out);
                } else if is_npy && crate::npy::looks_like(&kept) {
                    let base = if e.method == 0 { start } else { 0 };
                    crate::npy::scan(&kept, base, &field, opts, out);
                } else if is_keras_config {
                    let base = if e.method == 0 { start } else { 0 };
                    crate::keras::scan_config(&kept, base, &field, out);
                } else if is_torch && e.name.contains("/code/") && e.name.ends_with(".py") {
                    out.push(Finding::new("zip.torchscript-code", Severity::Medium, "TorchScript code inside the archive runs when the model is loaded with torch.jit.load", loc(start)));
                }
            }
        }
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        if w[0].1 > w[1].0 {
            out.push(Finding::new(
                "zip.overlap",
                Severity::High,
                format!(
                    "entries {:?} and {:?} overlap",
                    list[w[0].2].name, list[w[1].2].name
                ),
                Location::offset(w[1].0),
            ));
        }
    }
    if let Some(first) = spans.first() {
        if first.0 > 0 {
            out.push(Finding::new(
                "zip.prepended-data",
                Severity::Medium,
                format!("{} bytes before the first entry (polyglot file?)", first.0),
                Location::offset(0),
            ));
        }
    }
    if is_torch {
        Format::PytorchZip
    } else if is_keras {
        Format::Keras
    } else if is_npz {
        Format::Npz
    } else {
        Format::Zip
    }
}

/// Build a zip archive in memory (stored or deflated entries). For tests and tools; `local_names`
/// lets a test write a different name into a local header than into the central directory.
pub fn build(entries: &[(&str, &[u8], bool)], local_names: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data, deflate) in entries {
        let crc = crc32fast::hash(data);
        let body = if *deflate {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            let _ = enc.write_all(data);
            enc.finish().unwrap_or_default()
        } else {
            data.to_vec()
        };
        let local_name = local_names
            .iter()
            .find(|(c, _)| c == name)
            .map_or(*name, |(_, l)| *l);
        let method: u16 = if *deflate { 8 } else { 0 };
        let off = out.len() as u32;
        let hdr = |v: &mut Vec<u8>, n: &str| {
            v.extend_from_slice(&20u16.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
            v.extend_from_slice(&method.to_le_bytes());
            v.extend_from_slice(&[0, 0, 0, 0]);
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(body.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(n.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(&LOC.to_le_bytes());
        hdr(&mut out, local_name);
        out.extend_from_slice(local_name.as_bytes());
        out.extend_from_slice(&body);
        central.extend_from_slice(&CEN.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        hdr(&mut central, name);
        central.extend_from_slice(&[0u8; 10]);
        central.extend_from_slice(&off.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_off = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&EOCD.to_le_bytes());
    out.extend_from_slice(&[0u8; 4]);
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_build_writes() {
        let z = build(
            &[
                ("a/data.pkl", b"\x80\x02}q\x00.", false),
                ("a/x", b"hello hello hello", true),
            ],
            &[],
        );
        let mut out = Vec::new();
        let list = entries(&z, &ScanOptions::default(), &mut out);
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].name, "a/x");
        let mut out = Vec::new();
        assert_eq!(
            scan_archive(&z, &ScanOptions::default(), &mut out),
            Format::PytorchZip
        );
        assert!(out.iter().all(|f| f.severity == Severity::Info), "{out:?}");
    }

    #[test]
    fn long_names_are_shortened_and_entry_count_is_capped() {
        let long = format!("{}/data.pkl", "d".repeat(10_000));
        let n = short_name(long.as_bytes());
        assert!(n.len() < 300 && n.ends_with("/data.pkl"));
        let files: Vec<(String, Vec<u8>)> =
            (0..20).map(|i| (format!("f{i}"), vec![i as u8])).collect();
        let refs: Vec<(&str, &[u8], bool)> = files
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice(), false))
            .collect();
        let z = build(&refs, &[]);
        let opts = ScanOptions {
            max_archive_entries: 10,
            ..ScanOptions::default()
        };
        let mut out = Vec::new();
        assert_eq!(entries(&z, &opts, &mut out).len(), 10);
        assert!(out.iter().any(|f| f.rule_id == "zip.too-many-entries"));
    }

    #[test]
    fn traversal_names() {
        assert!(is_traversal("../etc/passwd"));
        assert!(is_traversal("/abs"));
        assert!(is_traversal("C:\\x"));
        assert!(!is_traversal("archive/data/0"));
    }
}
