//! The new-root plan: prepared in the parent, carried out by the child between fork and exec.
//!
//! The child mounts a small tmpfs on an empty directory made here, creates mount points,
//! bind-mounts the read-only system paths (remounted read-only, keeping the source mount's
//! locked flags so this also works inside a user namespace), the scratch directory at its own
//! path (read-write) and a few device nodes, mounts a procfs of its own PID namespace on
//! `/proc` (when it has one), remounts the tmpfs read-only, then `pivot_root`s into it and
//! detaches the old root.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// One bind mount.
pub(crate) struct Bind {
    pub src: CString,
    pub dst: CString,
    /// Remount read-only with these extra flags (None: leave as bound, for device nodes).
    pub ro_flags: Option<libc::c_ulong>,
}

pub(crate) struct FsPlan {
    /// The empty directory that becomes the new root (removed by [`FsPlan::cleanup`]).
    pub root: PathBuf,
    pub c_root: CString,
    pub dirs: Vec<CString>,
    pub files: Vec<CString>,
    pub symlinks: Vec<(CString, CString)>,
    pub binds: Vec<Bind>,
    pub put_old: CString,
    /// Where the sandbox's own procfs goes (mounted only inside a new PID namespace).
    pub proc_dir: CString,
}

fn c(p: &Path) -> Result<CString, String> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| format!("NUL in path {}", p.display()))
}

/// Flags of the mount holding `p` that a read-only remount must keep.
fn mount_flags(p: &Path) -> libc::c_ulong {
    let Ok(cp) = c(p) else { return 0 };
    // SAFETY: `st` is a zeroed statvfs that the call fills; `cp` is NUL-terminated.
    #[allow(unsafe_code)]
    let st = unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(cp.as_ptr(), &mut st) != 0 {
            return 0;
        }
        st
    };
    let f = st.f_flag;
    let mut m: libc::c_ulong = 0;
    for (st_bit, ms_bit) in [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ] {
        if f & st_bit != 0 {
            m |= ms_bit;
        }
    }
    m
}

impl FsPlan {
    pub(crate) fn new(scratch: &Path, read_only: &[PathBuf]) -> Result<FsPlan, String> {
        let root = std::env::temp_dir().join(format!(
            ".hearth-root-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
        let mut plan = FsPlan {
            c_root: c(&root)?,
            put_old: c(&root.join(".old"))?,
            proc_dir: c(&root.join("proc"))?,
            root,
            dirs: Vec::new(),
            files: Vec::new(),
            symlinks: Vec::new(),
            binds: Vec::new(),
        };
        let old = plan.root.join(".old");
        plan.dirs.push(c(&old)?);
        plan.dirs.push(plan.proc_dir.clone());
        for p in read_only {
            let Ok(md) = std::fs::symlink_metadata(p) else {
                continue;
            };
            let inside = plan.inside(p);
            if plan.covered(&inside) {
                continue;
            }
            plan.mkdir_parents(&inside)?;
            if md.file_type().is_symlink() {
                let target = std::fs::read_link(p).map_err(|e| format!("{}: {e}", p.display()))?;
                plan.symlinks.push((c(&target)?, c(&inside)?));
            } else if md.is_dir() {
                plan.dirs.push(c(&inside)?);
                plan.binds.push(Bind {
                    src: c(p)?,
                    dst: c(&inside)?,
                    ro_flags: Some(mount_flags(p) | libc::MS_NOSUID | libc::MS_NODEV),
                });
            } else if md.is_file() {
                // One file (e.g. /etc/ld.so.cache without the rest of /etc).
                plan.files.push(c(&inside)?);
                plan.binds.push(Bind {
                    src: c(p)?,
                    dst: c(&inside)?,
                    ro_flags: Some(mount_flags(p) | libc::MS_NOSUID | libc::MS_NODEV),
                });
            }
        }
        for d in [
            "/dev/null",
            "/dev/zero",
            "/dev/full",
            "/dev/urandom",
            "/dev/random",
        ] {
            let p = Path::new(d);
            if !p.exists() {
                continue;
            }
            let inside = plan.inside(p);
            plan.mkdir_parents(&inside)?;
            plan.files.push(c(&inside)?);
            plan.binds.push(Bind {
                src: c(p)?,
                dst: c(&inside)?,
                ro_flags: None,
            });
        }
        let inside = plan.inside(scratch);
        plan.mkdir_parents(&inside)?;
        plan.dirs.push(c(&inside)?);
        plan.binds.push(Bind {
            src: c(scratch)?,
            dst: c(&inside)?,
            ro_flags: None,
        });
        Ok(plan)
    }

    fn inside(&self, p: &Path) -> PathBuf {
        let rel: PathBuf = p
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect();
        self.root.join(rel)
    }

    /// Is `inside` beneath a path already bound or linked (e.g. /usr/lib under /usr)?
    fn covered(&self, inside: &Path) -> bool {
        self.binds
            .iter()
            .map(|b| Path::new(std::ffi::OsStr::from_bytes(b.dst.as_bytes())))
            .chain(
                self.symlinks
                    .iter()
                    .map(|(_, l)| Path::new(std::ffi::OsStr::from_bytes(l.as_bytes()))),
            )
            .any(|b| inside.starts_with(b))
    }

    fn mkdir_parents(&mut self, inside: &Path) -> Result<(), String> {
        let mut cur = self.root.clone();
        let rel = inside.strip_prefix(&self.root).unwrap_or(inside);
        let comps: Vec<_> = rel.components().collect();
        for comp in comps.iter().take(comps.len().saturating_sub(1)) {
            cur.push(comp);
            let cc = c(&cur)?;
            if !self.dirs.contains(&cc) {
                self.dirs.push(cc);
            }
        }
        Ok(())
    }

    /// Remove the (empty, never mounted on the host) root directory.
    pub(crate) fn cleanup(&self) {
        let _ = std::fs::remove_dir(&self.root);
    }
}
