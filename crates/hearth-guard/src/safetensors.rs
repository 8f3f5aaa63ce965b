//! safetensors checks: header length bounds, JSON header (keys read in order so duplicates
//! are seen; serde_json maps would silently drop them), dtype/shape/byte-size consistency,
//! offsets that cover the data section exactly with no overlaps or gaps.

use serde::de::{Deserializer, MapAccess, Visitor};

use crate::report::{Finding, Location, Severity};
use crate::ScanOptions;

/// Heuristic format check: an 8-byte little-endian length followed by `{` (the length may be
/// bogus; [`scan`] reports that).
pub fn looks_like(b: &[u8]) -> bool {
    if b.len() < 10 {
        return false;
    }
    let n = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
    n >= 2 && b[8] == b'{'
}

/// The header's top-level entries in file order (duplicates kept).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, serde_json::Value>()? {
                    v.push((k, val));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Bytes per element of a safetensors dtype (sub-byte types as 1 with a divisor).
fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        "F4" | "F6_E2M3" | "F6_E3M2" => return None,
        _ => return None,
    })
}

pub(crate) fn scan(b: &[u8], opts: &ScanOptions, out: &mut Vec<Finding>) {
    let n = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
    if n > opts.max_safetensors_header {
        out.push(Finding::new(
            "safetensors.header-too-large",
            Severity::High,
            format!(
                "header of {n} bytes exceeds the {} byte limit",
                opts.max_safetensors_header
            ),
            Location::at("header", 0),
        ));
        return;
    }
    let Some(header) = b.get(8..8 + n as usize) else {
        out.push(Finding::new(
            "safetensors.malformed",
            Severity::High,
            format!("header length {n} exceeds the file"),
            Location::at("header", 0),
        ));
        return;
    };
    let data_len = b.len() as u64 - 8 - n;
    let entries = match serde_json::from_slice::<Ordered>(header) {
        Ok(o) => o.0,
        Err(e) => {
            out.push(Finding::new(
                "safetensors.malformed",
                Severity::High,
                format!("header is not a JSON object: {e}"),
                Location::at("header", 8),
            ));
            return;
        }
    };
    let mut seen = std::collections::HashSet::new();
    let mut spans: Vec<(u64, u64, &str)> = Vec::new();
    for (k, v) in &entries {
        let loc = || Location::at(format!("header[{k:?}]"), 8);
        if !seen.insert(k.as_str()) {
            out.push(Finding::new(
                "safetensors.duplicate-key",
                Severity::High,
                format!("key {k:?} appears more than once (loaders disagree on which wins)"),
                loc(),
            ));
        }
        if k == "__metadata__" {
            if !v
                .as_object()
                .is_some_and(|m| m.values().all(|x| x.is_string()))
            {
                out.push(Finding::new(
                    "safetensors.malformed",
                    Severity::Medium,
                    "__metadata__ must map strings to strings",
                    loc(),
                ));
            }
            continue;
        }
        let dtype = v.get("dtype").and_then(|d| d.as_str());
        let shape: Option<Vec<u64>> = v
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|x| x.as_u64()).collect());
        let offs: Option<Vec<u64>> = v
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|x| x.as_u64()).collect());
        let (Some(dtype), Some(shape), Some(offs)) = (dtype, shape, offs) else {
            out.push(Finding::new(
                "safetensors.malformed",
                Severity::High,
                "tensor entry needs dtype (string), shape and data_offsets (unsigned integers)",
                loc(),
            ));
            continue;
        };
        if offs.len() != 2 || offs[0] > offs[1] {
            out.push(Finding::new(
                "safetensors.malformed",
                Severity::High,
                format!("data_offsets {offs:?} is not [begin, end] with begin <= end"),
                loc(),
            ));
            continue;
        }
        if offs[1] > data_len {
            out.push(Finding::new(
                "safetensors.out-of-bounds",
                Severity::High,
                format!(
                    "data_offsets end {} is past the {data_len} data bytes",
                    offs[1]
                ),
                loc(),
            ));
        }
        match dtype_bits(dtype) {
            None => out.push(Finding::new(
                "safetensors.dtype",
                Severity::Medium,
                format!("unknown or sub-byte dtype {dtype:?}; size not checked"),
                loc(),
            )),
            Some(bits) => {
                let bytes = shape
                    .iter()
                    .try_fold(1u64, |a, &d| a.checked_mul(d))
                    .and_then(|e| e.checked_mul(bits / 8));
                if bytes != Some(offs[1] - offs[0]) {
                    out.push(Finding::new(
                        "safetensors.size-mismatch",
                        Severity::High,
                        format!(
                            "{dtype} {shape:?} needs {bytes:?} bytes but data_offsets span {}",
                            offs[1] - offs[0]
                        ),
                        loc(),
                    ));
                }
            }
        }
        spans.push((offs[0], offs[1], k.as_str()));
    }
    spans.sort_unstable();
    let mut cursor = 0u64;
    for (s, e, k) in &spans {
        if *s < cursor {
            out.push(Finding::new(
                "safetensors.overlap",
                Severity::High,
                format!("tensor {k:?} overlaps the previous tensor"),
                Location::at(format!("header[{k:?}]"), 8),
            ));
        } else if *s > cursor {
            out.push(Finding::new(
                "safetensors.gap",
                Severity::Medium,
                format!(
                    "{} bytes before tensor {k:?} belong to no tensor",
                    s - cursor
                ),
                Location::at(format!("header[{k:?}]"), 8),
            ));
        }
        cursor = cursor.max(*e);
    }
    if cursor < data_len {
        out.push(Finding::new(
            "safetensors.trailing-bytes",
            Severity::Medium,
            format!("{} bytes after the last tensor", data_len - cursor),
            Location::offset(8 + n + cursor),
        ));
    }
}
