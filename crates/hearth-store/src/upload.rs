//! Blob uploads (what `ollama create` does before creating a model: `HEAD` then
//! `POST /api/blobs/sha256:…`): the bytes go to a temporary file in the store's blobs folder,
//! hashed as they arrive, and are installed under their digest only if they hash to it. A
//! failed or abandoned upload leaves nothing behind.
use std::fs::File;
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use crate::fsutil::{self, RemoveOnDrop};
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
    cleanup: RemoveOnDrop,
}

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
        self.file
            .write_all(chunk)
            .map_err(StoreError::io(&self.tmp))?;
        self.hasher.update(chunk);
        self.size = self.size.saturating_add(chunk.len() as u64);
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
        let bytes = b"hello blob".to_vec();
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
        up.write(b"not it").unwrap();
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
    }
}
