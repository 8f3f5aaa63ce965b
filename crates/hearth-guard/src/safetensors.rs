//! safetensors checks: header length bounds, JSON header (keys read in order so duplicates
//! are seen; serde_json maps would silently drop them), dtype/shape/byte-size consistency,
//! offsets that cover the data section exactly with no overlaps or gaps.

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

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

/// One top-level header entry, parsed frugally: tensor fields as typed vectors, metadata only
/// checked (never stored), unknown fields skipped.
enum Item {
    /// `__metadata__`: whether it is a map of strings to strings.
    Meta(bool),
    Tensor(RawEntry),
}

#[derive(serde::Deserialize)]
struct RawEntry {
    dtype: Option<String>,
    shape: Option<Vec<u64>>,
    data_offsets: Option<Vec<u64>>,
}

/// Any JSON value, reporting whether it is a string (`Str`) or a map of strings (`Meta`),
/// without keeping it.
struct Probe {
    want_map: bool,
}

macro_rules! scalar_false {
    ($($name:ident: $t:ty),*) => {$(
        fn $name<E: serde::de::Error>(self, _: $t) -> Result<bool, E> {
            Ok(false)
        }
    )*};
}

impl<'de> Visitor<'de> for Probe {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    scalar_false!(visit_bool: bool, visit_i64: i64, visit_u64: u64, visit_f64: f64);
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(!self.want_map)
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<bool, A::Error> {
        while a.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<bool, A::Error> {
        let mut all = self.want_map;
        while let Some((_, is_str)) = m.next_entry::<IgnoredAny, StrProbe>()? {
            all &= is_str.0;
        }
        Ok(all)
    }
}

struct StrProbe(bool);

impl<'de> serde::Deserialize<'de> for StrProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Probe { want_map: false }).map(StrProbe)
    }
}

struct MetaProbe(bool);

impl<'de> serde::Deserialize<'de> for MetaProbe {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Probe { want_map: true }).map(MetaProbe)
    }
}

/// The header's top-level entries in file order (duplicates kept: serde_json maps would
/// silently keep only one).
struct Ordered(Vec<(String, Item)>);

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
                while let Some(k) = m.next_key::<String>()? {
                    let item = if k == "__metadata__" {
                        Item::Meta(m.next_value::<MetaProbe>()?.0)
                    } else {
                        Item::Tensor(m.next_value::<RawEntry>()?)
                    };
                    v.push((k, item));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

fn show_dims(v: &[u64]) -> String {
    if v.len() <= 8 {
        format!("{v:?}")
    } else {
        format!("[{} dims]", v.len())
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
        // safetensors itself refuses headers over 100 MB; below that it is only too big for us.
        let sev = if n > 100_000_000 || n > b.len() as u64 - 8 {
            Severity::High
        } else {
            Severity::Medium
        };
        out.push(Finding::new(
            "safetensors.header-too-large",
            sev,
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
        let t = match v {
            Item::Meta(ok) => {
                if !ok {
                    out.push(Finding::new(
                        "safetensors.malformed",
                        Severity::Medium,
                        "__metadata__ must map strings to strings",
                        loc(),
                    ));
                }
                continue;
            }
            Item::Tensor(t) => t,
        };
        let (dtype, shape, offs) = (
            t.dtype.as_deref(),
            t.shape.as_ref(),
            t.data_offsets.as_ref(),
        );
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
                format!(
                    "data_offsets {} is not [begin, end] with begin <= end",
                    show_dims(offs)
                ),
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
        if shape.len() > 16 {
            out.push(Finding::new(
                "safetensors.shape",
                Severity::Medium,
                format!("tensor has {} dimensions", shape.len()),
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
                            "{dtype} {} needs {bytes:?} bytes but data_offsets span {}",
                            show_dims(shape),
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
