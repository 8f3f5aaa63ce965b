//! NumPy `.npy` arrays (and, through the zip scanner, the `.npy` members of `.npz` archives).
//!
//! An `.npy` file is `\x93NUMPY`, a version, a header length, a Python-literal header
//! (`{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }`) and the array data. An array of
//! dtype `object` (`'|O'`) stores its data as a **pickle**: `np.load(..., allow_pickle=True)`
//! runs whatever it references. Such a file is reported and its pickle disassembled like any
//! other; plain numeric arrays hold no code.

use crate::report::{Finding, Location, Severity};
use crate::ScanOptions;

/// The `.npy` magic.
pub const MAGIC: &[u8] = b"\x93NUMPY";

/// Whether `b` starts like an `.npy` file.
pub fn looks_like(b: &[u8]) -> bool {
    b.starts_with(MAGIC)
}

/// Where the header is and how long: `(header start, header length)`.
fn header_span(b: &[u8]) -> Result<(usize, usize), String> {
    let major = *b.get(6).ok_or("truncated before the version")?;
    let (start, len) = match major {
        1 => {
            let n = b.get(8..10).ok_or("truncated in the header length")?;
            (10, u16::from_le_bytes([n[0], n[1]]) as usize)
        }
        2 | 3 => {
            let n = b.get(8..12).ok_or("truncated in the header length")?;
            (12, u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize)
        }
        v => {
            return Err(format!(
                "format version {v} is not one numpy writes (1, 2, 3)"
            ))
        }
    };
    if start + len > b.len() {
        return Err(format!(
            "header of {len} bytes runs past the end of the file ({} bytes)",
            b.len()
        ));
    }
    Ok((start, len))
}

/// The quoted strings of a Python-literal header (`'…'` or `"…"`, no escapes needed by numpy).
fn quoted(header: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = header;
    while let Some(i) = rest.find(['\'', '"']) {
        let q = &rest[i..=i];
        let after = &rest[i + 1..];
        let Some(j) = after.find(q) else { break };
        out.push(&after[..j]);
        rest = &after[j + 1..];
    }
    out
}

/// Whether a dtype string is numpy's object type (`O`, `|O`, `<O8`, ...).
fn is_object_dtype(s: &str) -> bool {
    let s = s.trim_start_matches(['|', '<', '>', '=']);
    s == "O" || s == "O4" || s == "O8" || s == "object"
}

/// Scan one `.npy` image held in `b`, found at `base` in the scanned file under `field`.
pub(crate) fn scan(b: &[u8], base: u64, field: &str, opts: &ScanOptions, out: &mut Vec<Finding>) {
    let loc = |off: usize| Location::at(field.to_owned(), base + off as u64);
    let (start, len) = match header_span(b) {
        Ok(s) => s,
        Err(why) => {
            out.push(Finding::new("npy.malformed", Severity::High, why, loc(0)));
            return;
        }
    };
    let Ok(header) = std::str::from_utf8(&b[start..start + len]) else {
        out.push(Finding::new(
            "npy.malformed",
            Severity::High,
            "header is not text",
            loc(start),
        ));
        return;
    };
    if !header.trim_start().starts_with('{') || !header.contains("descr") {
        out.push(Finding::new(
            "npy.malformed",
            Severity::High,
            "header is not a dictionary with a 'descr'",
            loc(start),
        ));
        return;
    }
    let object = quoted(header).into_iter().any(is_object_dtype);
    if !object {
        return;
    }
    let data = start + len;
    out.push(Finding::new(
        "npy.object-array",
        Severity::Medium,
        "array of Python objects: its data is a pickle, and np.load(allow_pickle=True) runs \
         what it references (the pickle is checked below)",
        loc(start),
    ));
    let payload = &b[data..];
    let pickled = payload.len() >= 2 && payload[0] == 0x80 && (2..=5).contains(&payload[1]);
    if !pickled {
        out.push(Finding::new(
            "npy.malformed",
            Severity::Medium,
            "object array whose data does not start like a pickle",
            loc(data),
        ));
        return;
    }
    crate::pickle::scan_stream_sequence(payload, base + data as u64, field, opts, out);
}

/// Build an `.npy` image (version 1) for tests: `descr` and `shape` as Python literals
/// (`"'<f4'"`, `"(3,)"`), then the raw `data`.
pub fn build(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut header = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': {shape}, }}");
    // numpy pads the header with spaces so that the data starts on a 64-byte boundary.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The findings above Info (a pickle's disassembly summary is Info).
    fn ids(b: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        scan(b, 0, "npy", &ScanOptions::default(), &mut out);
        out.into_iter()
            .filter(|f| f.severity > Severity::Info)
            .map(|f| f.rule_id)
            .collect()
    }

    fn worst(b: &[u8]) -> Option<Severity> {
        let mut out = Vec::new();
        scan(b, 0, "npy", &ScanOptions::default(), &mut out);
        out.iter().map(|f| f.severity).max()
    }

    #[test]
    fn numeric_arrays_hold_no_code() {
        assert!(ids(&build("'<f4'", "(2,)", &[0; 8])).is_empty());
        assert!(ids(&build("'<i8'", "(1, 1)", &[0; 8])).is_empty());
    }

    #[test]
    fn object_arrays_are_pickles() {
        // A pickle of a list of two strings: protocol 2, EMPTY_LIST, MARK, two SHORT_BINUNICODE,
        // APPENDS, STOP.
        let benign = b"\x80\x02](X\x01\x00\x00\x00aX\x01\x00\x00\x00be.";
        assert_eq!(ids(&build("'|O'", "(2,)", benign)), ["npy.object-array"]);
        // `posix.system('id')` by GLOBAL + REDUCE.
        let evil = b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.";
        let found = ids(&build("'|O'", "(1,)", evil));
        assert!(found.iter().any(|f| f == "npy.object-array"), "{found:?}");
        assert!(
            worst(&build("'|O'", "(1,)", evil)) >= Some(Severity::High),
            "the pickle was not scanned: {found:?}"
        );
        assert_eq!(
            worst(&build("'|O'", "(2,)", benign)),
            Some(Severity::Medium)
        );
        // A structured dtype with an object field.
        let b = build("[('a', '<i4'), ('b', '|O')]", "(1,)", benign);
        assert!(ids(&b).iter().any(|f| f == "npy.object-array"));
    }

    #[test]
    fn malformed_headers_are_findings_not_panics() {
        for b in [
            &b"\x93NUMPY"[..],
            b"\x93NUMPY\x01\x00\xff\xff{",
            b"\x93NUMPY\x09\x00\x00\x00",
            b"\x93NUMPY\x02\x00\xff\xff\xff\xff",
        ] {
            assert!(ids(b).iter().any(|f| f == "npy.malformed"), "{b:?}");
        }
    }
}
