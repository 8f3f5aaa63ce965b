//! Validated sha256 digests. A digest string from a manifest, a listing or a bundle becomes a
//! [`Digest`] (and so may name a file) only after [`Digest::parse`] accepted it.

use std::fmt;
use std::io::Read;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use crate::error::{Result, StoreError};

/// `sha256:` followed by exactly 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parse `sha256:<64 lowercase hex>`; anything else (other algorithms, uppercase, short,
    /// long, path characters) is rejected.
    pub fn parse(s: &str) -> Result<Digest> {
        let bad = || StoreError::InvalidDigest {
            digest: s.chars().take(100).collect(),
        };
        let hex = s.strip_prefix("sha256:").ok_or_else(bad)?;
        Digest::from_hex(hex).ok_or_else(bad)
    }

    /// 64 lowercase hex digits, without the algorithm prefix.
    pub fn from_hex(hex: &str) -> Option<Digest> {
        (hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then(
            || Digest {
                hex: hex.to_string(),
            },
        )
    }

    /// The blob file name `sha256-<hex>`, parsed back.
    pub fn from_blob_file_name(name: &str) -> Option<Digest> {
        Digest::from_hex(name.strip_prefix("sha256-")?)
    }

    pub fn from_bytes(bytes: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(bytes))
    }

    pub(crate) fn from_hasher(h: Sha256) -> Digest {
        Digest {
            hex: hex(&h.finalize()),
        }
    }

    /// Check that the file at `path` still hashes to `self`, hashing it at most once per
    /// process while its size, inode, modification and change times stay the same (a write
    /// changes the change time, which no caller can set back).
    pub fn verify_file_once(&self, path: &Path) -> Result<()> {
        use std::collections::HashMap;
        use std::sync::Mutex;

        use crate::fsutil::FileStamp;
        static VERIFIED: Mutex<Option<HashMap<(std::path::PathBuf, Digest), FileStamp>>> =
            Mutex::new(None);
        let before = FileStamp::read(path)?;
        let key = (path.to_path_buf(), self.clone());
        let lock = || VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
        if lock()
            .as_ref()
            .and_then(|m| m.get(&key))
            .is_some_and(|s| *s == before)
        {
            return Ok(());
        }
        let (actual, _) = Digest::of_file(path)?;
        if actual != *self {
            return Err(StoreError::DigestMismatch {
                what: path.display().to_string(),
                expected: self.to_string(),
                actual: actual.to_string(),
            });
        }
        // Only what was hashed is remembered: a file that changed while being read is hashed
        // again next time.
        if FileStamp::read(path)? == before {
            lock().get_or_insert_with(HashMap::new).insert(key, before);
        }
        Ok(())
    }

    /// Hash a whole file.
    pub fn of_file(path: &Path) -> Result<(Digest, u64)> {
        let mut f = std::fs::File::open(path).map_err(StoreError::io(path))?;
        let mut h = Sha256::new();
        let n = hash_reader(&mut f, &mut h).map_err(StoreError::io(path))?;
        Ok((Digest::from_hasher(h), n))
    }

    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// `sha256-<hex>`: the blob's file name in `blobs/`.
    pub fn file_name(&self) -> String {
        format!("sha256-{}", self.hex)
    }

    /// The first 12 hex digits, as Ollama shows ids.
    pub fn short(&self) -> &str {
        self.hex.get(..12).unwrap_or(&self.hex)
    }
}

/// Feed everything from `r` into `h`; returns the byte count.
pub(crate) fn hash_reader(r: &mut impl Read, h: &mut Sha256) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..k]);
        n = n.saturating_add(k as u64);
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "sha256:1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32";

    #[test]
    fn accepts_only_lowercase_sha256_of_64_hex() {
        assert!(Digest::parse(GOOD).is_ok());
        for bad in [
            "sha256:../../x",
            &GOOD[..GOOD.len() - 1],
            &GOOD.to_uppercase(),
            "sha256:1D9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "sha512:1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            "sha256-1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            &format!("{GOOD}0"),
            "sha256:",
            "",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_bytes() {
        let d = Digest::from_bytes(b"abc");
        assert_eq!(
            d.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Digest::from_blob_file_name(&d.file_name()), Some(d));
    }
}
