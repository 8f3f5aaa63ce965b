//! Free disk space shared among concurrent downloads in this process.
//!
//! Each pull checks, before it downloads anything, that its missing blobs fit. Two pulls that
//! start together would each see the same free space and both pass; the second then fails
//! gigabytes later, or fills the disk. A pull therefore *reserves* the bytes it will write, and
//! every free-space check subtracts what the reservations on the same file system have yet
//! to write (a reservation's bytes already on disk are counted once, by the file system).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Result, StoreError};

/// Free space kept beyond every check (the file system needs room for metadata).
const MARGIN: u64 = 64 << 20;

struct Entry {
    id: u64,
    /// The file system (`st_dev`) the bytes go to.
    dev: u64,
    /// Where the bytes are written while downloading and where they end up.
    files: [PathBuf; 2],
    size: u64,
}

#[derive(Default)]
struct Ledger {
    next: u64,
    entries: Vec<Entry>,
}

static LEDGER: Mutex<Ledger> = Mutex::new(Ledger {
    next: 0,
    entries: Vec::new(),
});

fn ledger() -> std::sync::MutexGuard<'static, Ledger> {
    // A panic while holding the lock leaves the entries consistent (pushes and retains only).
    LEDGER.lock().unwrap_or_else(|e| e.into_inner())
}

/// Bytes a file occupies on disk (a sparse preallocated file counts only what was written).
fn allocated(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.blocks().saturating_mul(512))
}

fn device(path: &Path) -> Result<u64> {
    std::fs::metadata(path)
        .map(|m| m.dev())
        .map_err(StoreError::io(path))
}

impl Ledger {
    /// Bytes that reservations on `dev` have yet to write. Reservations of the same file (two
    /// pulls sharing a layer; the download itself is serialised by its lock) count once.
    fn outstanding(&self, dev: u64, written: impl Fn(&Path) -> u64) -> u64 {
        let mut seen: Vec<(&Path, u64)> = Vec::new();
        for e in self.entries.iter().filter(|e| e.dev == dev) {
            let left = e
                .size
                .saturating_sub(written(&e.files[0]).max(written(&e.files[1])));
            match seen.iter_mut().find(|(p, _)| *p == e.files[0].as_path()) {
                Some((_, n)) => *n = (*n).max(left),
                None => seen.push((&e.files[0], left)),
            }
        }
        seen.iter().fold(0u64, |a, (_, n)| a.saturating_add(*n))
    }

    fn admit(&self, available: u64, dev: u64, needed: u64, dir: &Path) -> Result<()> {
        if needed == 0 {
            return Ok(());
        }
        let reserved = self.outstanding(dev, allocated);
        let free = available.saturating_sub(reserved);
        if needed.saturating_add(MARGIN) > free {
            return Err(StoreError::DiskSpace {
                path: dir.to_path_buf(),
                needed: needed.saturating_add(reserved),
                available,
            });
        }
        Ok(())
    }
}

/// Fail unless `needed` bytes (plus a 64 MiB margin) fit on the file system of `dir`, after
/// what other downloads in this process have reserved there.
pub fn check_free_space(dir: &Path, needed: u64) -> Result<()> {
    if needed == 0 {
        return Ok(());
    }
    let available = crate::fsutil::free_space(dir)?;
    let dev = device(dir)?;
    ledger().admit(available, dev, needed, dir)
}

/// Space held for a download until it is dropped.
#[derive(Debug)]
#[must_use = "the space is released when the reservation is dropped"]
pub(crate) struct Reservation {
    ids: Vec<u64>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.ids.is_empty() {
            ledger().entries.retain(|e| !self.ids.contains(&e.id));
        }
    }
}

/// One file to reserve space for: written at `partial`, renamed to `dest`, `size` bytes.
pub(crate) struct Want {
    pub partial: PathBuf,
    pub dest: PathBuf,
    pub size: u64,
}

/// Check that `wants` fit on the file system of `dir` beside every other reservation, and
/// hold their space until the returned reservation is dropped. Check and reservation happen
/// under one lock, so two pulls cannot both be admitted into the same free bytes.
pub(crate) fn reserve(dir: &Path, wants: Vec<Want>) -> Result<Reservation> {
    let needed = wants.iter().fold(0u64, |a, w| a.saturating_add(w.size));
    if needed == 0 {
        return Ok(Reservation { ids: Vec::new() });
    }
    let available = crate::fsutil::free_space(dir)?;
    let dev = device(dir)?;
    let mut l = ledger();
    l.admit(available, dev, needed, dir)?;
    let mut ids = Vec::with_capacity(wants.len());
    for w in wants {
        l.next += 1;
        let id = l.next;
        ids.push(id);
        l.entries.push(Entry {
            id,
            dev,
            files: [w.partial, w.dest],
            size: w.size,
        });
    }
    Ok(Reservation { ids })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, dev: u64, name: &str, size: u64) -> Entry {
        Entry {
            id,
            dev,
            files: [
                PathBuf::from(format!("/b/{name}-partial")),
                PathBuf::from(format!("/b/{name}")),
            ],
            size,
        }
    }

    #[test]
    fn outstanding_counts_what_is_not_yet_written() {
        let l = Ledger {
            next: 4,
            entries: vec![
                entry(1, 7, "a", 1000),
                entry(2, 7, "b", 500),
                // The same layer reserved by a second pull counts once.
                entry(3, 7, "a", 1000),
                // Another file system does not count.
                entry(4, 8, "c", 9000),
            ],
        };
        let none = |_: &Path| 0u64;
        assert_eq!(l.outstanding(7, none), 1500);
        assert_eq!(l.outstanding(8, none), 9000);
        // 400 bytes of a's partial written, b complete and renamed to its blob.
        let written = |p: &Path| match p.to_str().unwrap() {
            "/b/a-partial" => 400,
            "/b/b" => 500,
            _ => 0,
        };
        assert_eq!(l.outstanding(7, written), 600);
    }

    #[test]
    fn admission_subtracts_reservations() {
        let d = Path::new("/b");
        let l = Ledger {
            next: 1,
            entries: vec![entry(1, 7, "/nonexistent/a", 6 << 30)],
        };
        // 10 GiB free, 6 GiB reserved by another pull: 3 GiB fits, 5 GiB does not.
        l.admit(10 << 30, 7, 3 << 30, d).unwrap();
        let e = l.admit(10 << 30, 7, 5 << 30, d).unwrap_err();
        assert!(matches!(e, StoreError::DiskSpace { .. }), "{e}");
        // The reservation is on another file system: 5 GiB fits.
        l.admit(10 << 30, 8, 5 << 30, d).unwrap();
    }

    #[test]
    fn a_reservation_is_released_on_drop() {
        let d = tempfile::tempdir().unwrap();
        let free = crate::fsutil::free_space(d.path()).unwrap();
        // Reserve half of the disk (nothing is written), then ask for two thirds of it.
        let half = free / 2;
        let r = reserve(
            d.path(),
            vec![Want {
                partial: d.path().join("x-partial"),
                dest: d.path().join("x"),
                size: half,
            }],
        )
        .unwrap();
        let e = reserve(
            d.path(),
            vec![Want {
                partial: d.path().join("y-partial"),
                dest: d.path().join("y"),
                size: free / 3 * 2,
            }],
        )
        .unwrap_err();
        assert!(matches!(e, StoreError::DiskSpace { .. }), "{e}");
        drop(r);
        check_free_space(d.path(), free / 3 * 2).unwrap();
    }
}
