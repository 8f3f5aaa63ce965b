//! Blob uploads (what `ollama create` does before creating a model: `HEAD` then
//! `POST /api/blobs/sha256:…`): the bytes go to a temporary file in the store's blobs folder,
//! hashed as they arrive, and are installed under their digest only if they hash to it and
//! pass the same checks as a pulled model file (GGUF validation, the security scan). A body
//! that does not start like a GGUF file is refused at its first bytes; the size is capped and
//! free disk space watched as it grows. A failed or abandoned upload leaves nothing behind.
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::fsutil::{self, RemoveOnDrop};
use crate::space;
use crate::{Digest, Result, Store, StoreError};

/// An upload in progress.
#[derive(Debug)]
pub struct BlobUpload {
    digest: Digest,
    dest: PathBuf,
    tmp: PathBuf,
    file: File,
    hasher: Sha256,
    size: u64,
    /// The first bytes, for the magic check.
    head: Vec<u8>,
    /// Size at the last free-space check.
    checked_at: u64,
    cleanup: RemoveOnDrop,
}

/// Free space is checked again after every this many bytes.
const SPACE_CHECK_EVERY: u64 = 256 << 20;
/// What must stay free on the store's disk while an upload grows.
const KEEP_FREE: u64 = 512 << 20;

impl Store {
    /// Whether the blob is in this store.
    pub fn has_blob(&self, d: &Digest) -> bool {
        self.blob_path(d).is_file()
    }

    /// Start uploading the blob `d`.
    pub fn begin_upload(&self, d: &Digest) -> Result<BlobUpload> {
        self.writable()?;
        let dir = self.blobs_dir();
        std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        let n: u64 = rand_suffix();
        let tmp = dir.join(format!("{}-upload-{n:016x}.partial", d.file_name()));
        let file = File::create(&tmp).map_err(StoreError::io(&tmp))?;
        Ok(BlobUpload {
            digest: d.clone(),
            dest: self.blob_path(d),
            cleanup: RemoveOnDrop::new(tmp.clone()),
            tmp,
            file,
            hasher: Sha256::new(),
            size: 0,
            head: Vec::with_capacity(4),
            checked_at: 0,
        })
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

impl BlobUpload {
    /// Append bytes.
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        if self.head.len() < 4 {
            let take = (4 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if !b"GGUF".starts_with(&self.head) {
                return Err(StoreError::Refused {
                    what: "uploaded blob".into(),
                    reason: "not a GGUF model file (hearth serves GGUF only)".into(),
                });
            }
        }
        let size = self.size.saturating_add(chunk.len() as u64);
        if size > crate::manifest::MAX_BLOB_BYTES {
            return Err(StoreError::TooLarge {
                what: "uploaded blob".into(),
                size,
                limit: crate::manifest::MAX_BLOB_BYTES,
            });
        }
        if size - self.checked_at >= SPACE_CHECK_EVERY {
            self.checked_at = size;
            let dir = self.tmp.parent().unwrap_or(&self.tmp);
            space::check_free_space(dir, KEEP_FREE)?;
        }
        self.file
            .write_all(chunk)
            .map_err(StoreError::io(&self.tmp))?;
        self.hasher.update(chunk);
        self.size = size;
        Ok(())
    }

    /// Check the digest and install the blob; returns its size.
    pub fn finish(self) -> Result<u64> {
        let BlobUpload {
            digest,
            dest,
            tmp,
            file,
            hasher,
            size,
            cleanup,
            ..
        } = self;
        let actual = Digest::from_hasher(hasher);
        if actual != digest {
            return Err(StoreError::DigestMismatch {
                what: "uploaded blob".into(),
                expected: digest.to_string(),
                actual: actual.to_string(),
            });
        }
        fsutil::sync_file(&file, &tmp)?;
        drop(file);
        // What a pulled model file passes: GGUF validation and the security scan.
        crate::guard::check_layer_file(&tmp, crate::manifest::MEDIA_MODEL)?;
        std::fs::rename(&tmp, &dest).map_err(StoreError::io(&dest))?;
        cleanup.disarm();
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_installs_only_matching_bytes() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let bytes = hearth_gguf::writer::tiny_llama().to_bytes();
        let digest = Digest::from_bytes(&bytes);
        assert!(!store.has_blob(&digest));
        let mut up = store.begin_upload(&digest).unwrap();
        up.write(&bytes[..3]).unwrap();
        up.write(&bytes[3..]).unwrap();
        assert_eq!(up.finish().unwrap(), bytes.len() as u64);
        assert!(store.has_blob(&digest));
        // Wrong bytes: refused, nothing left behind.
        let other = Digest::from_bytes(b"other");
        let mut up = store.begin_upload(&other).unwrap();
        up.write(b"GGUF not it").unwrap();
        assert!(matches!(
            up.finish(),
            Err(StoreError::DigestMismatch { .. })
        ));
        assert!(!store.has_blob(&other));
        let left: Vec<_> = std::fs::read_dir(store.blobs_dir()).unwrap().collect();
        assert_eq!(left.len(), 1, "{left:?}");
        // Abandoned: dropped without finish.
        drop(store.begin_upload(&other).unwrap());
        assert_eq!(std::fs::read_dir(store.blobs_dir()).unwrap().count(), 1);
        // Not GGUF: refused at the first bytes; a GGUF header over broken contents is
        // refused at the end.
        let mut up = store.begin_upload(&other).unwrap();
        assert!(matches!(
            up.write(b"PK\x03\x04"),
            Err(StoreError::Refused { .. })
        ));
        drop(up);
        let broken = b"GGUF\x03\x00\x00\x00garbage".to_vec();
        let d = Digest::from_bytes(&broken);
        let mut up = store.begin_upload(&d).unwrap();
        up.write(&broken[..2]).unwrap();
        up.write(&broken[2..]).unwrap();
        assert!(up.finish().is_err());
        assert!(!store.has_blob(&d));
        assert_eq!(std::fs::read_dir(store.blobs_dir()).unwrap().count(), 1);
    }
}
