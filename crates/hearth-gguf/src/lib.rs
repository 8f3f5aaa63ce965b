//! `hearth-gguf`: a memory-safe reader, validator and writer for GGUF model files.
//!
//! Every model file passes [`GgufFile::open`] (or [`Gguf::parse`]) before anything else in
//! hearth touches it. The reader checks every length, count and offset against the bytes that
//! really exist, with checked arithmetic and hard caps, and reports failures as a typed
//! [`ParseError`] naming the field and byte offset. Tensor data is exposed as zero-copy slices
//! of a read-only memory map.

mod error;
mod metadata;
mod reader;
mod summary;
pub mod testing;
mod types;
pub mod writer;

use std::path::{Path, PathBuf};

pub use error::{ErrorKind, GgufError, ParseError};
pub use metadata::{Array, HParams, Metadata, TokenizerInfo, Value, ValueType};
pub use reader::{
    parse, Gguf, TensorInfo, TypeStat, DEFAULT_ALIGNMENT, MAX_ARRAY_DEPTH, MAX_DIMS,
    MAX_TENSOR_NAME,
};
pub use summary::Summary;
pub use types::{file_type_name, GgmlType, TypeIdError};
pub use writer::GgufWriter;

/// A validated GGUF file, memory-mapped read-only.
#[derive(Debug)]
pub struct GgufFile {
    path: PathBuf,
    map: Map,
    gguf: Gguf,
}

#[derive(Debug)]
enum Map {
    Mmap(memmap2::Mmap),
    /// Files too small to map (and empty files, which cannot be mapped).
    Bytes(Vec<u8>),
}

impl Map {
    fn bytes(&self) -> &[u8] {
        match self {
            Map::Mmap(m) => m,
            Map::Bytes(b) => b,
        }
    }
}

impl GgufFile {
    /// Open, map and validate a GGUF file.
    pub fn open(path: impl AsRef<Path>) -> Result<GgufFile, GgufError> {
        let path = path.as_ref().to_path_buf();
        let io = |source| GgufError::Io {
            path: path.clone(),
            source,
        };
        let file = std::fs::File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let map = if len < 4096 {
            let mut buf = Vec::with_capacity(len as usize);
            std::io::Read::read_to_end(&mut &file, &mut buf).map_err(io)?;
            Map::Bytes(buf)
        } else {
            #[allow(unsafe_code)]
            // SAFETY: the map is read-only and private to this process. Hearth never writes a
            // model file in place (the store writes a temp file and renames it), so the bytes
            // do not change under the map; every access goes through bounds-checked slices.
            let m = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
            Map::Mmap(m)
        };
        let gguf = reader::parse(map.bytes()).map_err(|source| GgufError::Parse {
            path: path.clone(),
            source,
        })?;
        Ok(GgufFile { path, map, gguf })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn gguf(&self) -> &Gguf {
        &self.gguf
    }

    pub fn metadata(&self) -> &Metadata {
        &self.gguf.metadata
    }

    /// The whole file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.bytes()
    }

    /// A tensor's bytes, zero-copy. Validation guaranteed the range is inside the file.
    pub fn tensor_data(&self, t: &TensorInfo) -> Option<&[u8]> {
        let start = self.gguf.data_offset.checked_add(t.offset)?;
        let end = start.checked_add(t.n_bytes)?;
        self.bytes()
            .get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
    }

    /// A summary for `hearth inspect` and the server's `show`.
    pub fn summary(&self) -> Summary {
        Summary::of(&self.gguf)
    }
}

impl std::ops::Deref for GgufFile {
    type Target = Gguf;
    fn deref(&self) -> &Gguf {
        &self.gguf
    }
}
