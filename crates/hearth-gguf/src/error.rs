//! Typed errors. Every parse failure names the field and the byte offset where it was found.

use std::path::PathBuf;

/// What was wrong, without the location.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("file ends early: needed {needed} bytes, {available} left")]
    Truncated { needed: u64, available: u64 },
    #[error("not a GGUF file (magic {0:02x?}, expected \"GGUF\")")]
    BadMagic([u8; 4]),
    #[error("big-endian GGUF files are not supported")]
    BigEndian,
    #[error("unsupported GGUF version {0} (supported: 2, 3)")]
    UnsupportedVersion(u32),
    #[error("length {len} exceeds the {available} bytes left in the file")]
    LengthTooLarge { len: u64, available: u64 },
    #[error("count {count} cannot fit in the {available} bytes left (each entry needs at least {min_entry} bytes)")]
    CountTooLarge {
        count: u64,
        available: u64,
        min_entry: u64,
    },
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("boolean byte is {0}, expected 0 or 1")]
    InvalidBool(u8),
    #[error("unknown metadata value type {0}")]
    UnknownValueType(u32),
    #[error("arrays nested deeper than {max} levels")]
    NestingTooDeep { max: usize },
    #[error("duplicate metadata key {0:?}")]
    DuplicateKey(String),
    #[error("metadata key is empty")]
    EmptyKey,
    #[error("metadata {key:?} has type {found}, expected {expected}")]
    WrongValueType {
        key: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("alignment {0} is not a non-zero power of two at most 1 MiB")]
    BadAlignment(u64),
    #[error("tensor name is empty")]
    EmptyTensorName,
    #[error("tensor name {name:?} is {len} bytes; ggml allows at most {max}")]
    TensorNameTooLong {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("duplicate tensor name {0:?}")]
    DuplicateTensor(String),
    #[error("tensor {name:?} has {n_dims} dimensions; at most {max} are allowed")]
    TooManyDims { name: String, n_dims: u32, max: u32 },
    #[error("tensor {name:?} dimension {index} is {value}; each dimension must be in 1..=2^63-1")]
    BadDim {
        name: String,
        index: usize,
        value: u64,
    },
    #[error("tensor {name:?}: element count or byte size overflows")]
    SizeOverflow { name: String },
    #[error("tensor {name:?} has unknown ggml type id {id}")]
    UnknownTensorType { name: String, id: u32 },
    #[error("tensor {name:?} uses ggml type id {id}, which llama.cpp has removed")]
    RemovedTensorType { name: String, id: u32 },
    #[error(
        "tensor {name:?}: first dimension {ne0} is not a multiple of {ty}'s block size {block}"
    )]
    NotBlockMultiple {
        name: String,
        ty: &'static str,
        ne0: u64,
        block: u64,
    },
    #[error("tensor {name:?} offset {offset} is not a multiple of the alignment {alignment}")]
    Misaligned {
        name: String,
        offset: u64,
        alignment: u64,
    },
    #[error("tensor {name:?} spans data bytes {start}..{end}, past the end of the data section ({data_len} bytes)")]
    TensorOutOfBounds {
        name: String,
        start: u64,
        end: u64,
        data_len: u64,
    },
    #[error("tensors {first:?} and {second:?} overlap in the data section")]
    Overlap { first: String, second: String },
    #[error("{count} tensors exceed the limit of {max}")]
    TooManyTensors { count: u64, max: u64 },
    #[error("{count} metadata entries exceed the limit of {max}")]
    TooManyKeys { count: u64, max: u64 },
}

/// A parse or validation failure at a position in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} at byte {offset}: {kind}")]
pub struct ParseError {
    /// Byte offset in the file where the offending field starts.
    pub offset: u64,
    /// Which field: `header.version`, `metadata["general.architecture"]`, `tensor[3].dims` ...
    pub field: String,
    pub kind: ErrorKind,
}

/// Any failure of this crate.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    /// Parsing from a byte slice that has no path.
    #[error(transparent)]
    Bytes(#[from] ParseError),
}

impl GgufError {
    /// The parse error, if this is one.
    pub fn parse_error(&self) -> Option<&ParseError> {
        match self {
            GgufError::Parse { source, .. } | GgufError::Bytes(source) => Some(source),
            GgufError::Io { .. } => None,
        }
    }

    /// The kind of parse error, if this is one.
    pub fn kind(&self) -> Option<&ErrorKind> {
        self.parse_error().map(|e| &e.kind)
    }
}
