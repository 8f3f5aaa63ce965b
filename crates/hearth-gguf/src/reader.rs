//! The GGUF parser and validator. Works on a byte slice (an mmap in practice) and never
//! allocates in proportion to a claimed count before checking that the bytes exist.

use std::collections::HashSet;

use crate::error::{ErrorKind, ParseError};
use crate::metadata::{Array, Metadata, Value, ValueType};
use crate::types::{GgmlType, TypeIdError};

/// `GGUF` as the first four bytes.
pub(crate) const MAGIC: [u8; 4] = *b"GGUF";
/// Alignment of the data section and of every tensor when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's GGML_MAX_DIMS.
pub const MAX_DIMS: u32 = 4;
/// ggml's GGML_MAX_NAME (names must be shorter than this, counting the C terminator).
pub const MAX_TENSOR_NAME: usize = 63;
/// Deepest nesting of arrays accepted (real files use at most 2).
pub const MAX_ARRAY_DEPTH: usize = 8;
/// Hard caps on counts, far above any real model (the largest MoE models have ~3,000 tensors).
pub(crate) const MAX_TENSORS: u64 = 1 << 20;
pub(crate) const MAX_KEYS: u64 = 1 << 20;

/// One tensor's description. `offset` is relative to the start of the data section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    pub offset: u64,
    pub n_elements: u64,
    pub n_bytes: u64,
    /// Where this tensor's info record starts in the file (for error messages and scanners).
    pub info_offset: u64,
}

/// A parsed and validated GGUF header: metadata, tensor infos and the data-section layout.
#[derive(Debug, Clone)]
pub struct Gguf {
    pub version: u32,
    pub metadata: Metadata,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// Absolute file offset where the data section starts.
    pub data_offset: u64,
    /// Total size of the parsed bytes (the file size).
    pub file_size: u64,
}

impl Gguf {
    /// Parse and validate a whole GGUF file held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Gguf, ParseError> {
        parse(bytes)
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Absolute end offset of the last tensor's bytes (the data the model really uses).
    pub fn data_end(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| self.data_offset + t.offset + t.n_bytes)
            .max()
            .unwrap_or(self.data_offset.min(self.file_size))
    }

    /// Bytes after the last tensor, beyond alignment padding. Non-zero means something else is
    /// appended to the model (a polyglot file); the reader allows it, scanners report it.
    pub fn trailing_bytes(&self) -> u64 {
        let padded = align_up(self.data_end(), self.alignment).unwrap_or(u64::MAX);
        self.file_size.saturating_sub(padded)
    }

    /// Total number of weights.
    pub fn parameter_count(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.n_elements)
            .fold(0u64, u64::saturating_add)
    }

    /// Total bytes of tensor data.
    pub fn tensor_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.n_bytes)
            .fold(0u64, u64::saturating_add)
    }

    /// Tensor count and bytes per ggml type, largest byte share first.
    pub fn type_mix(&self) -> Vec<TypeStat> {
        let mut stats: Vec<TypeStat> = Vec::new();
        for t in &self.tensors {
            match stats.iter_mut().find(|s| s.ty == t.ty) {
                Some(s) => {
                    s.tensors += 1;
                    s.bytes = s.bytes.saturating_add(t.n_bytes);
                    s.elements = s.elements.saturating_add(t.n_elements);
                }
                None => stats.push(TypeStat {
                    ty: t.ty,
                    tensors: 1,
                    bytes: t.n_bytes,
                    elements: t.n_elements,
                }),
            }
        }
        stats.sort_by(|a, b| b.tensors.cmp(&a.tensors).then(b.bytes.cmp(&a.bytes)));
        stats
    }
}

/// Share of one tensor type in a model.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TypeStat {
    pub ty: GgmlType,
    pub tensors: u64,
    pub bytes: u64,
    pub elements: u64,
}

pub(crate) fn align_up(x: u64, alignment: u64) -> Option<u64> {
    let rem = x % alignment;
    if rem == 0 {
        Some(x)
    } else {
        x.checked_add(alignment - rem)
    }
}

/// An error before the field name is known.
type Raw<T> = Result<T, (u64, ErrorKind)>;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn offset(&self) -> u64 {
        self.pos as u64
    }

    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64) -> Raw<&'a [u8]> {
        let at = self.offset();
        let available = self.remaining();
        if n > available {
            return Err((
                at,
                ErrorKind::Truncated {
                    needed: n,
                    available,
                },
            ));
        }
        // n <= remaining <= usize::MAX, so the cast and the addition are exact.
        let end = self.pos + n as usize;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Raw<[u8; N]> {
        let s = self.take(N as u64)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    fn u8(&mut self) -> Raw<u8> {
        Ok(self.array::<1>()?[0])
    }
    fn u16(&mut self) -> Raw<u16> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Raw<u32> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Raw<u64> {
        self.array().map(u64::from_le_bytes)
    }

    /// A length-prefixed UTF-8 string; the length is checked against the bytes left.
    fn string(&mut self) -> Raw<String> {
        let at = self.offset();
        let len = self.u64()?;
        let available = self.remaining();
        if len > available {
            return Err((at, ErrorKind::LengthTooLarge { len, available }));
        }
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => Err((at, ErrorKind::InvalidUtf8)),
        }
    }

    /// Check that `count` entries of at least `min_entry` bytes can exist in what is left.
    fn check_count(&self, at: u64, count: u64, min_entry: u64) -> Raw<usize> {
        let available = self.remaining();
        let fits = count
            .checked_mul(min_entry)
            .is_some_and(|need| need <= available);
        if !fits {
            return Err((
                at,
                ErrorKind::CountTooLarge {
                    count,
                    available,
                    min_entry,
                },
            ));
        }
        // count <= available <= usize::MAX.
        Ok(count as usize)
    }

    fn value_type(&mut self) -> Raw<ValueType> {
        let at = self.offset();
        let id = self.u32()?;
        ValueType::from_id(id).ok_or((at, ErrorKind::UnknownValueType(id)))
    }

    fn value(&mut self, ty: ValueType, depth: usize) -> Raw<Value> {
        Ok(match ty {
            ValueType::U8 => Value::U8(self.u8()?),
            ValueType::I8 => Value::I8(self.u8()? as i8),
            ValueType::U16 => Value::U16(self.u16()?),
            ValueType::I16 => Value::I16(self.u16()? as i16),
            ValueType::U32 => Value::U32(self.u32()?),
            ValueType::I32 => Value::I32(self.u32()? as i32),
            ValueType::F32 => Value::F32(f32::from_bits(self.u32()?)),
            ValueType::U64 => Value::U64(self.u64()?),
            ValueType::I64 => Value::I64(self.u64()? as i64),
            ValueType::F64 => Value::F64(f64::from_bits(self.u64()?)),
            ValueType::Bool => Value::Bool(self.bool()?),
            ValueType::String => Value::String(self.string()?),
            ValueType::Array => Value::Array(self.array_value(depth + 1)?),
        })
    }

    fn bool(&mut self) -> Raw<bool> {
        let at = self.offset();
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err((at, ErrorKind::InvalidBool(b))),
        }
    }

    fn array_value(&mut self, depth: usize) -> Raw<Array> {
        let at = self.offset();
        if depth > MAX_ARRAY_DEPTH {
            return Err((
                at,
                ErrorKind::NestingTooDeep {
                    max: MAX_ARRAY_DEPTH,
                },
            ));
        }
        let ty = self.value_type()?;
        let count_at = self.offset();
        let count = self.u64()?;
        let n = self.check_count(count_at, count, ty.min_size())?;
        fn many<T>(n: usize, mut f: impl FnMut() -> Raw<T>) -> Raw<Vec<T>> {
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(f()?);
            }
            Ok(v)
        }
        Ok(match ty {
            ValueType::U8 => Array::U8(self.take(count)?.to_vec()),
            ValueType::I8 => Array::I8(self.take(count)?.iter().map(|&b| b as i8).collect()),
            ValueType::U16 => Array::U16(many(n, || self.u16())?),
            ValueType::I16 => Array::I16(many(n, || self.u16().map(|v| v as i16))?),
            ValueType::U32 => Array::U32(many(n, || self.u32())?),
            ValueType::I32 => Array::I32(many(n, || self.u32().map(|v| v as i32))?),
            ValueType::F32 => Array::F32(many(n, || self.u32().map(f32::from_bits))?),
            ValueType::U64 => Array::U64(many(n, || self.u64())?),
            ValueType::I64 => Array::I64(many(n, || self.u64().map(|v| v as i64))?),
            ValueType::F64 => Array::F64(many(n, || self.u64().map(f64::from_bits))?),
            ValueType::Bool => Array::Bool(many(n, || self.bool())?),
            ValueType::String => Array::String(many(n, || self.string())?),
            ValueType::Array => Array::Array(many(n, || self.array_value(depth + 1))?),
        })
    }
}

fn err(at: u64, field: impl Into<String>, kind: ErrorKind) -> ParseError {
    ParseError {
        offset: at,
        field: field.into(),
        kind,
    }
}

trait Ctx<T> {
    fn ctx<F: FnOnce() -> String>(self, field: F) -> Result<T, ParseError>;
}

impl<T> Ctx<T> for Raw<T> {
    fn ctx<F: FnOnce() -> String>(self, field: F) -> Result<T, ParseError> {
        self.map_err(|(offset, kind)| ParseError {
            offset,
            field: field(),
            kind,
        })
    }
}

/// Parse and validate a complete GGUF file.
pub fn parse(bytes: &[u8]) -> Result<Gguf, ParseError> {
    let mut c = Cursor { buf: bytes, pos: 0 };

    let magic: [u8; 4] = c.array().ctx(|| "header.magic".into())?;
    if magic != MAGIC {
        return Err(err(0, "header.magic", ErrorKind::BadMagic(magic)));
    }
    let version = c.u32().ctx(|| "header.version".into())?;
    match version {
        2 | 3 => {}
        v if v.swap_bytes() == 2 || v.swap_bytes() == 3 => {
            return Err(err(4, "header.version", ErrorKind::BigEndian))
        }
        v => return Err(err(4, "header.version", ErrorKind::UnsupportedVersion(v))),
    }
    let tensor_count = c.u64().ctx(|| "header.tensor_count".into())?;
    let kv_count = c.u64().ctx(|| "header.kv_count".into())?;
    if tensor_count > MAX_TENSORS {
        return Err(err(
            8,
            "header.tensor_count",
            ErrorKind::TooManyTensors {
                count: tensor_count,
                max: MAX_TENSORS,
            },
        ));
    }
    if kv_count > MAX_KEYS {
        return Err(err(
            16,
            "header.kv_count",
            ErrorKind::TooManyKeys {
                count: kv_count,
                max: MAX_KEYS,
            },
        ));
    }
    // Minimum record sizes: a key (8-byte length + 1 byte) with a type and a 1-byte value;
    // a tensor info with a 1-byte name, no dims, a type and an offset.
    let n_kv = c
        .check_count(24, kv_count, 8 + 1 + 4 + 1)
        .ctx(|| "header.kv_count".into())?;
    c.check_count(24, tensor_count, 8 + 1 + 4 + 4 + 8)
        .ctx(|| "header.tensor_count".into())?;

    let mut metadata = Metadata::new();
    for i in 0..n_kv {
        let key_at = c.offset();
        let key = c.string().ctx(|| format!("metadata[{i}].key"))?;
        if key.is_empty() {
            return Err(err(
                key_at,
                format!("metadata[{i}].key"),
                ErrorKind::EmptyKey,
            ));
        }
        let ty = c.value_type().ctx(|| format!("metadata[{key:?}].type"))?;
        let value = c.value(ty, 0).ctx(|| format!("metadata[{key:?}]"))?;
        if !metadata.insert(key.clone(), value) {
            return Err(err(
                key_at,
                format!("metadata[{i}].key"),
                ErrorKind::DuplicateKey(key),
            ));
        }
    }

    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(Value::U32(a)) => u64::from(*a),
        Some(v) => {
            return Err(err(
                c.offset(),
                "metadata[\"general.alignment\"]",
                ErrorKind::WrongValueType {
                    key: "general.alignment".into(),
                    expected: "u32",
                    found: v.value_type().name(),
                },
            ))
        }
    };
    if alignment == 0 || !alignment.is_power_of_two() || alignment > (1 << 20) {
        return Err(err(
            c.offset(),
            "metadata[\"general.alignment\"]",
            ErrorKind::BadAlignment(alignment),
        ));
    }

    let mut tensors = Vec::with_capacity(tensor_count as usize);
    let mut names: HashSet<String> = HashSet::with_capacity(tensor_count as usize);
    for i in 0..tensor_count {
        let info_offset = c.offset();
        let field = |what: &str| format!("tensor[{i}].{what}");
        let name = c.string().ctx(|| field("name"))?;
        if name.is_empty() {
            return Err(err(info_offset, field("name"), ErrorKind::EmptyTensorName));
        }
        if name.len() > MAX_TENSOR_NAME {
            return Err(err(
                info_offset,
                field("name"),
                ErrorKind::TensorNameTooLong {
                    len: name.len(),
                    max: MAX_TENSOR_NAME,
                    name,
                },
            ));
        }
        let at = c.offset();
        let n_dims = c.u32().ctx(|| field("n_dims"))?;
        if n_dims > MAX_DIMS {
            return Err(err(
                at,
                field("n_dims"),
                ErrorKind::TooManyDims {
                    name,
                    n_dims,
                    max: MAX_DIMS,
                },
            ));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for d in 0..n_dims as usize {
            let at = c.offset();
            let v = c.u64().ctx(|| field("dims"))?;
            if v == 0 || v > i64::MAX as u64 {
                return Err(err(
                    at,
                    field("dims"),
                    ErrorKind::BadDim {
                        name,
                        index: d,
                        value: v,
                    },
                ));
            }
            dims.push(v);
        }
        let at = c.offset();
        let type_id = c.u32().ctx(|| field("type"))?;
        let ty = match GgmlType::from_id(type_id) {
            Ok(t) => t,
            Err(TypeIdError::Removed(id)) => {
                return Err(err(
                    at,
                    field("type"),
                    ErrorKind::RemovedTensorType { name, id },
                ))
            }
            Err(TypeIdError::Unknown(id)) => {
                return Err(err(
                    at,
                    field("type"),
                    ErrorKind::UnknownTensorType { name, id },
                ))
            }
        };
        let ne0 = dims.first().copied().unwrap_or(1);
        if ne0 % ty.block_size() != 0 {
            return Err(err(
                at,
                field("dims"),
                ErrorKind::NotBlockMultiple {
                    name,
                    ty: ty.name(),
                    ne0,
                    block: ty.block_size(),
                },
            ));
        }
        let sizes = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .and_then(|n| {
                let rows = n / ne0;
                let row_bytes = (ne0 / ty.block_size()).checked_mul(ty.type_size())?;
                let bytes = row_bytes.checked_mul(rows)?;
                (n <= i64::MAX as u64 && bytes <= i64::MAX as u64).then_some((n, bytes))
            });
        let Some((n_elements, n_bytes)) = sizes else {
            return Err(err(at, field("dims"), ErrorKind::SizeOverflow { name }));
        };
        let at = c.offset();
        let offset = c.u64().ctx(|| field("offset"))?;
        if offset % alignment != 0 {
            return Err(err(
                at,
                field("offset"),
                ErrorKind::Misaligned {
                    name,
                    offset,
                    alignment,
                },
            ));
        }
        if !names.insert(name.clone()) {
            return Err(err(
                info_offset,
                field("name"),
                ErrorKind::DuplicateTensor(name),
            ));
        }
        tensors.push(TensorInfo {
            name,
            dims,
            ty,
            offset,
            n_elements,
            n_bytes,
            info_offset,
        });
    }

    let header_end = c.offset();
    let file_size = bytes.len() as u64;
    let data_offset = align_up(header_end, alignment).unwrap_or(u64::MAX);
    let data_len = file_size.saturating_sub(data_offset);
    if !tensors.is_empty() && data_offset > file_size {
        return Err(err(
            header_end,
            "data",
            ErrorKind::Truncated {
                needed: data_offset - header_end,
                available: file_size - header_end,
            },
        ));
    }

    // Bounds, then overlap: sort by offset and compare neighbours.
    let mut order: Vec<usize> = (0..tensors.len()).collect();
    for t in &tensors {
        let end = t.offset.checked_add(t.n_bytes);
        if end.is_none_or(|e| e > data_len) {
            return Err(err(
                t.info_offset,
                format!("tensor[{:?}].offset", t.name),
                ErrorKind::TensorOutOfBounds {
                    name: t.name.clone(),
                    start: t.offset,
                    end: end.unwrap_or(u64::MAX),
                    data_len,
                },
            ));
        }
    }
    order.sort_by_key(|&i| tensors[i].offset);
    for pair in order.windows(2) {
        let (a, b) = (&tensors[pair[0]], &tensors[pair[1]]);
        if a.offset + a.n_bytes > b.offset {
            return Err(err(
                b.info_offset,
                format!("tensor[{:?}].offset", b.name),
                ErrorKind::Overlap {
                    first: a.name.clone(),
                    second: b.name.clone(),
                },
            ));
        }
    }

    Ok(Gguf {
        version,
        metadata,
        tensors,
        alignment,
        data_offset,
        file_size,
    })
}
