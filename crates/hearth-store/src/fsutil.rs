//! File-system helpers: per-blob lock files, fsync, atomic writes, free-space checks.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// What tells a file's content has not changed without reading it: device, inode, size, and
/// modification and change times to the nanosecond. A write changes the change time, which no
/// caller can set back (the modification time and size can be restored with `touch -r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileStamp {
    pub(crate) fn of(m: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        FileStamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    pub(crate) fn read(path: &Path) -> Result<FileStamp> {
        Ok(FileStamp::of(
            &std::fs::metadata(path).map_err(StoreError::io(path))?,
        ))
    }
}

/// An exclusive `flock` on a lock file, released on drop. Two pulls (threads or processes)
/// that want the same blob serialise on it, so each blob is downloaded once.
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
    path: PathBuf,
}

impl FileLock {
    /// Block until the exclusive lock is ours.
    pub(crate) fn acquire(path: &Path) -> Result<FileLock> {
        FileLock::lock(path, rustix::fs::FlockOperation::LockExclusive)
    }

    /// Block until a shared lock is ours.
    pub(crate) fn acquire_shared(path: &Path) -> Result<FileLock> {
        FileLock::lock(path, rustix::fs::FlockOperation::LockShared)
    }

    fn lock(path: &Path, op: rustix::fs::FlockOperation) -> Result<FileLock> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(StoreError::io(path))?;
        loop {
            match rustix::fs::flock(&file, op) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(StoreError::io(path)(e.into())),
            }
        }
        Ok(FileLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// Remove the lock file while still holding the lock. Only safe once the guarded work is
    /// done (the blob exists), because a later locker of a fresh file re-checks for the blob.
    pub(crate) fn remove_file(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// fsync a file's data and metadata.
pub(crate) fn sync_file(f: &File, path: &Path) -> Result<()> {
    f.sync_all().map_err(StoreError::io(path))
}

/// fsync a directory so a rename inside it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    match File::open(dir) {
        Ok(d) => d.sync_all().map_err(StoreError::io(dir)),
        Err(e) => Err(StoreError::io(dir)(e)),
    }
}

/// Write `bytes` to `path` atomically: temp file beside it, fsync, rename, fsync the dir.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{file_name}.tmp-{}-{seq}", std::process::id()));
    let guard = RemoveOnDrop::new(tmp.clone());
    let mut f = File::create(&tmp).map_err(StoreError::io(&tmp))?;
    f.write_all(bytes).map_err(StoreError::io(&tmp))?;
    sync_file(&f, &tmp)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(StoreError::io(path))?;
    guard.disarm();
    sync_dir(dir)
}

/// Bytes available to an unprivileged user on the file system holding `path`.
pub fn free_space(path: &Path) -> Result<u64> {
    let st = rustix::fs::statvfs(path).map_err(|e| StoreError::io(path)(e.into()))?;
    Ok(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Removes a path when dropped unless disarmed: the temp file is gone on every failure path.
#[derive(Debug)]
pub(crate) struct RemoveOnDrop {
    path: Option<PathBuf>,
}

impl RemoveOnDrop {
    pub(crate) fn new(path: PathBuf) -> RemoveOnDrop {
        RemoveOnDrop { path: Some(path) }
    }
    pub(crate) fn disarm(mut self) {
        self.path = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_rewrite_with_the_old_size_and_mtime_changes_the_stamp() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("model.gguf");
        std::fs::write(&p, b"clean model").unwrap();
        let before = super::FileStamp::read(&p).unwrap();
        let mtime = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&p, b"nasty model").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!((m.len(), m.modified().unwrap()), (11, mtime));
        assert_ne!(super::FileStamp::read(&p).unwrap(), before);
        assert_eq!(
            super::FileStamp::read(&p).unwrap(),
            super::FileStamp::read(&p).unwrap()
        );
    }

    use super::*;

    #[test]
    fn atomic_write_and_space() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/b.json");
        write_atomic(&p, b"{}").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"{}");
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
        assert!(free_space(d.path()).unwrap() > 0);
        let e = crate::space::check_free_space(d.path(), 1 << 40).unwrap_err();
        assert!(matches!(e, StoreError::DiskSpace { .. }), "{e}");
    }

    #[test]
    fn lock_serialises_threads() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        let counter = std::sync::Arc::new(std::sync::Mutex::new((0u32, 0u32)));
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                let c = counter.clone();
                std::thread::spawn(move || {
                    let _l = FileLock::acquire(&p).unwrap();
                    {
                        let mut g = c.lock().unwrap();
                        g.0 += 1;
                        g.1 = g.1.max(g.0);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    c.lock().unwrap().0 -= 1;
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(counter.lock().unwrap().1, 1, "never two holders at once");
    }
}
