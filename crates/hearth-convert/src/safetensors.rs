//! A strict safetensors reader: the 8-byte header length, the JSON header (duplicate names
//! rejected), and every tensor's dtype, shape and byte range checked against the file before
//! a byte of tensor data is read.
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::ConvertError;

/// Largest header accepted (the format's own limit is 100 MB).
pub const MAX_HEADER: u64 = 100_000_000;
/// Most tensors one file may hold.
pub const MAX_TENSORS: usize = 1 << 20;
/// Most dimensions of a tensor.
pub const MAX_DIMS: usize = 8;

/// Element types the converter reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    Bf16,
    /// Any other dtype: allowed in the file (e.g. `position_ids` as I64), never converted.
    Other(usize),
}

impl Dtype {
    fn parse(s: &str) -> Option<Dtype> {
        Some(match s {
            "F32" => Dtype::F32,
            "F16" => Dtype::F16,
            "BF16" => Dtype::Bf16,
            "F64" | "I64" | "U64" => Dtype::Other(8),
            "I32" | "U32" => Dtype::Other(4),
            "I16" | "U16" => Dtype::Other(2),
            "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => Dtype::Other(1),
            _ => return None,
        })
    }

    fn size(self) -> usize {
        match self {
            Dtype::F32 => 4,
            Dtype::F16 | Dtype::Bf16 => 2,
            Dtype::Other(n) => n,
        }
    }
}

/// One tensor's place in the file.
#[derive(Debug, Clone)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: Dtype,
    pub shape: Vec<u64>,
    /// Byte range inside the data section.
    begin: usize,
    end: usize,
}

impl TensorEntry {
    /// Number of elements.
    pub fn n_elements(&self) -> u64 {
        self.shape.iter().product()
    }
}

/// A validated, memory-mapped safetensors file.
#[derive(Debug)]
pub struct SafeTensors {
    path: PathBuf,
    map: memmap2::Mmap,
    data_start: usize,
    tensors: Vec<TensorEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// The header's entries in file order; `__metadata__` skipped. A serde map would keep only the
/// last of two entries with one name, so the pairs are collected by hand.
struct Entries(Vec<(String, RawEntry)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of tensors")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Entries, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = m.next_key::<String>()? {
                    if key == "__metadata__" {
                        m.next_value::<serde::de::IgnoredAny>()?;
                        continue;
                    }
                    if out.len() >= MAX_TENSORS {
                        return Err(serde::de::Error::custom(format!(
                            "more than {MAX_TENSORS} tensors"
                        )));
                    }
                    out.push((key, m.next_value::<RawEntry>()?));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

impl SafeTensors {
    /// Map and validate `path`.
    pub fn open(path: &Path) -> Result<SafeTensors, ConvertError> {
        let io = |source| ConvertError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        #[allow(unsafe_code)]
        // SAFETY: read-only private map; the converter never writes its input, and every read
        // goes through bounds-checked slices of the validated ranges.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let (data_start, tensors) = parse(&map).map_err(|message| ConvertError::Safetensors {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(SafeTensors {
            path: path.to_path_buf(),
            map,
            data_start,
            tensors,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Tensors in header order.
    pub fn tensors(&self) -> &[TensorEntry] {
        &self.tensors
    }

    /// A tensor's values as f32 (F32, F16 and BF16 tensors).
    pub fn to_f32(&self, t: &TensorEntry) -> Result<Vec<f32>, ConvertError> {
        let bytes = self
            .map
            .get(self.data_start + t.begin..self.data_start + t.end)
            .ok_or_else(|| self.bad(t, "data range outside the file".into()))?;
        Ok(match t.dtype {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|c| crate::half::f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::Bf16 => bytes
                .chunks_exact(2)
                .map(|c| crate::half::bf16_to_f32(u16::from_le_bytes([c[0], c[1]])))
                .collect(),
            Dtype::Other(_) => {
                return Err(self.bad(t, "is not a floating-point tensor (F32, F16, BF16)".into()))
            }
        })
    }

    fn bad(&self, t: &TensorEntry, message: String) -> ConvertError {
        ConvertError::Tensor {
            path: self.path.clone(),
            name: t.name.clone(),
            message,
        }
    }
}

/// Validate the header of `bytes`: returns where the data section starts and the tensors.
fn parse(bytes: &[u8]) -> Result<(usize, Vec<TensorEntry>), String> {
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or("shorter than the 8-byte header length")?;
    let header_len = u64::from_le_bytes(len_bytes);
    if !(2..=MAX_HEADER).contains(&header_len) {
        return Err(format!(
            "header length {header_len} at byte 0 is outside 2..={MAX_HEADER}"
        ));
    }
    let data_start = 8 + header_len as usize;
    let header = bytes.get(8..data_start).ok_or_else(|| {
        format!(
            "header of {header_len} bytes runs past the end of the file ({} bytes)",
            bytes.len()
        )
    })?;
    let Entries(raw) =
        serde_json::from_slice(header).map_err(|e| format!("header JSON at byte 8: {e}"))?;
    let data_len = bytes.len() - data_start;
    let mut names = std::collections::HashSet::new();
    let mut tensors = Vec::with_capacity(raw.len());
    for (name, e) in raw {
        if !names.insert(name.clone()) {
            return Err(format!("tensor {name:?} is listed twice"));
        }
        let dtype = Dtype::parse(&e.dtype)
            .ok_or_else(|| format!("tensor {name:?}: unknown dtype {:?}", e.dtype))?;
        if e.shape.len() > MAX_DIMS {
            return Err(format!("tensor {name:?}: {} dimensions", e.shape.len()));
        }
        let [begin, end] = e.data_offsets;
        let expected = e
            .shape
            .iter()
            .try_fold(dtype.size() as u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| format!("tensor {name:?}: shape {:?} overflows", e.shape))?;
        if begin > end || end > data_len as u64 {
            return Err(format!(
                "tensor {name:?}: data_offsets [{begin}, {end}] outside the {data_len}-byte data section"
            ));
        }
        if end - begin != expected {
            return Err(format!(
                "tensor {name:?}: {} bytes for a {:?} {} tensor that needs {expected}",
                end - begin,
                e.shape,
                e.dtype
            ));
        }
        tensors.push(TensorEntry {
            name,
            dtype,
            shape: e.shape,
            begin: begin as usize,
            end: end as usize,
        });
    }
    let mut ranges: Vec<(usize, usize, &str)> = tensors
        .iter()
        .map(|t| (t.begin, t.end, t.name.as_str()))
        .collect();
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(format!("tensors {:?} and {:?} overlap", w[0].2, w[1].2));
        }
    }
    Ok((data_start, tensors))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A safetensors file from (name, dtype, shape, data) entries.
    pub(crate) fn build(entries: &[(&str, &str, Vec<u64>, Vec<u8>)]) -> Vec<u8> {
        let mut header = String::from("{\"__metadata__\":{\"format\":\"pt\"}");
        let mut data = Vec::new();
        for (name, dtype, shape, bytes) in entries {
            let begin = data.len();
            data.extend_from_slice(bytes);
            header.push_str(&format!(
                ",{:?}:{{\"dtype\":{:?},\"shape\":{:?},\"data_offsets\":[{begin},{}]}}",
                name,
                dtype,
                shape,
                data.len()
            ));
        }
        header.push('}');
        let mut out = (header.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(&data);
        out
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn reads_a_valid_file() {
        let b = build(&[
            ("a", "F32", vec![2], f32s(&[1.0, 2.0])),
            ("b", "F16", vec![1, 1], vec![0x00, 0x3c]),
            ("ids", "I64", vec![1], vec![0; 8]),
        ]);
        let (start, t) = parse(&b).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t[1].dtype, Dtype::F16);
        assert_eq!(
            &b[start + t[0].begin..start + t[0].end],
            &f32s(&[1.0, 2.0])[..]
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let ok = build(&[("a", "F32", vec![2], f32s(&[1.0, 2.0]))]);
        assert!(parse(&ok[..7]).unwrap_err().contains("8-byte"));
        assert!(parse(&ok[..20]).unwrap_err().contains("past the end"));
        let mut huge = ok.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse(&huge).unwrap_err().contains("outside"));
        // Data section shorter than the offsets claim.
        assert!(parse(&ok[..ok.len() - 1]).unwrap_err().contains("outside"));
        let wrong_size = build(&[("a", "F32", vec![3], f32s(&[1.0, 2.0]))]);
        assert!(parse(&wrong_size).unwrap_err().contains("needs 12"));
        let twice = build(&[
            ("a", "F32", vec![1], f32s(&[1.0])),
            ("a", "F32", vec![1], f32s(&[1.0])),
        ]);
        assert!(parse(&twice).unwrap_err().contains("twice"));
        let unknown = build(&[("a", "Q4", vec![1], vec![0])]);
        assert!(parse(&unknown).unwrap_err().contains("unknown dtype"));
        let overflow = build(&[("a", "F32", vec![u64::MAX, 2], vec![])]);
        assert!(parse(&overflow).unwrap_err().contains("overflows"));
    }

    #[test]
    fn rejects_overlaps() {
        let mut header = String::from(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\
             \"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
        );
        header.push(' ');
        let mut b = (header.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(&[0; 8]);
        assert!(parse(&b).unwrap_err().contains("overlap"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn never_panics_on_mutated_headers(pos in 0usize..200, byte in proptest::prelude::any::<u8>()) {
            let mut b = build(&[
                ("a", "F32", vec![2], f32s(&[1.0, 2.0])),
                ("b", "BF16", vec![2, 1], vec![0, 0x3f, 0, 0x40]),
            ]);
            let i = pos % b.len();
            b[i] = byte;
            let _ = parse(&b);
        }
    }
}
