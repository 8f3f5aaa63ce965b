//! Legacy PyTorch tar archives (`torch.save(..., _use_new_zipfile_serialization=False)` with
//! tarfile): 512-byte ustar headers; the `pickle`, `tensors` and `storages` members hold
//! pickle streams, which are disassembled.

use crate::report::{Finding, Location, Severity};
use crate::{pickle, ScanOptions};

fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

pub(crate) fn scan(b: &[u8], opts: &ScanOptions, out: &mut Vec<Finding>) {
    let mut pos = 0usize;
    let mut n = 0usize;
    while pos + 512 <= b.len() {
        let h = &b[pos..pos + 512];
        if h.iter().all(|&c| c == 0) {
            break;
        }
        n += 1;
        if n > opts.max_archive_entries {
            out.push(Finding::new(
                "tar.too-many-entries",
                Severity::High,
                "too many tar members",
                Location::offset(pos as u64),
            ));
            return;
        }
        let name_end = h[..100].iter().position(|&c| c == 0).unwrap_or(100);
        let name = String::from_utf8_lossy(&h[..name_end]).into_owned();
        let Some(size) = octal(&h[124..136]) else {
            out.push(Finding::new(
                "tar.malformed",
                Severity::High,
                format!("member {name:?} has a bad size field"),
                Location::offset(pos as u64 + 124),
            ));
            return;
        };
        let start = pos + 512;
        let Some(data) = usize::try_from(size)
            .ok()
            .and_then(|s| b.get(start..start.checked_add(s)?))
        else {
            out.push(Finding::new(
                "tar.malformed",
                Severity::High,
                format!("member {name:?} ({size} bytes) runs past the end of the file"),
                Location::offset(pos as u64),
            ));
            return;
        };
        let field = format!("tar member {name:?}");
        if name.starts_with('/') || name.split('/').any(|c| c == "..") {
            out.push(Finding::new(
                "tar.path-traversal",
                Severity::High,
                format!("member name {name:?} escapes the extraction directory"),
                Location::at(field.clone(), pos as u64),
            ));
        }
        let typ = h[156];
        if matches!(typ, b'1' | b'2') {
            out.push(Finding::new(
                "tar.link",
                Severity::Medium,
                format!("member {name:?} is a link"),
                Location::at(field.clone(), pos as u64),
            ));
        }
        if matches!(name.as_str(), "pickle" | "tensors" | "storages") || name.ends_with(".pkl") {
            pickle::scan_stream_sequence(data, start as u64, &field, opts, out);
        }
        pos = start + (size as usize).div_ceil(512) * 512;
    }
}
