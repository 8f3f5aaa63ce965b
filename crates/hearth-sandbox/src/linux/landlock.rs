//! Landlock through raw syscalls. The ruleset is built in the parent; the child only calls
//! `landlock_restrict_self` on the inherited descriptor.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const CREATE_RULESET_VERSION: u32 = 1;
const RULE_PATH_BENEATH: u32 = 1;

const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
/// All file-system rights of ABI 1 (bits 0..=12).
const FS_ABI1: u64 = (1 << 13) - 1;

const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// struct landlock_ruleset_attr (grows with the ABI; the size passed selects the fields).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// struct landlock_path_beneath_attr (packed in the UAPI header).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version, or the errno explaining why there is none.
pub(crate) fn abi_version() -> Result<u32, std::io::Error> {
    // SAFETY: with a NULL attribute, size 0 and the VERSION flag the syscall only returns the
    // ABI version; no memory is read or written.
    #[allow(unsafe_code)]
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(u32::try_from(r).unwrap_or(0))
    }
}

/// A ready ruleset and what it covers.
pub(crate) struct Ruleset {
    pub fd: OwnedFd,
    pub abi: u32,
    pub net: bool,
    pub scoped: bool,
}

fn fs_rights(abi: u32) -> u64 {
    let mut r = FS_ABI1;
    if abi >= 2 {
        r |= FS_REFER;
    }
    if abi >= 3 {
        r |= FS_TRUNCATE;
    }
    if abi >= 5 {
        r |= FS_IOCTL_DEV;
    }
    r
}

fn open_path(path: &Path) -> std::io::Result<OwnedFd> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call.
    #[allow(unsafe_code)]
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    #[allow(unsafe_code)]
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn add_rule(ruleset: &OwnedFd, path: &Path, access: u64) -> std::io::Result<()> {
    let fd = open_path(path)?;
    let attr = PathBeneathAttr {
        allowed_access: access,
        parent_fd: fd.as_raw_fd(),
    };
    // SAFETY: `attr` is a valid path_beneath_attr living across the call; both fds are open.
    #[allow(unsafe_code)]
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// In the child (async-signal-safe: two syscalls and a close, no allocation): let the ruleset
/// `ruleset_fd` read what is beneath `path` (the sandbox's own /proc, mounted after the
/// ruleset was built). False when the path cannot be opened or the rule is refused.
pub(crate) fn allow_read_in_child(ruleset_fd: i32, path: &std::ffi::CStr) -> bool {
    // SAFETY: `path` is NUL-terminated; `attr` lives across the call; the fds are open.
    #[allow(unsafe_code)]
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
        if fd < 0 {
            return false;
        }
        let attr = PathBeneathAttr {
            allowed_access: FS_READ_FILE | FS_READ_DIR,
            parent_fd: fd,
        };
        let r = libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset_fd,
            RULE_PATH_BENEATH,
            &attr as *const PathBeneathAttr,
            0u32,
        );
        libc::close(fd);
        r == 0
    }
}

/// Build a ruleset: everything beneath `scratch` allowed, `read_only` paths readable and
/// executable, a few device files usable, everything else denied. TCP bind/connect denied
/// from ABI 4, signals and abstract unix sockets scoped from ABI 6.
pub(crate) fn build(scratch: &Path, read_only: &[&Path]) -> Result<Ruleset, String> {
    let abi = abi_version().map_err(|e| format!("Landlock not available: {e}"))?;
    if abi == 0 {
        return Err("Landlock ABI version 0".into());
    }
    let handled_fs = fs_rights(abi);
    let net = abi >= 4;
    let scoped = abi >= 6;
    let attr = RulesetAttr {
        handled_access_fs: handled_fs,
        handled_access_net: if net {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: if scoped {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    let size = match abi {
        1..=3 => 8usize,
        4 | 5 => 16,
        _ => std::mem::size_of::<RulesetAttr>(),
    };
    // SAFETY: `attr` is valid for `size` bytes (size <= sizeof(RulesetAttr)) during the call.
    #[allow(unsafe_code)]
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size,
            0u32,
        )
    };
    if fd < 0 {
        return Err(format!(
            "landlock_create_ruleset: {}",
            std::io::Error::last_os_error()
        ));
    }
    let fd = i32::try_from(fd).map_err(|_| "landlock_create_ruleset: bad fd".to_string())?;
    // SAFETY: the syscall returned a new descriptor that nothing else owns.
    #[allow(unsafe_code)]
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };

    add_rule(&fd, scratch, handled_fs)
        .map_err(|e| format!("landlock rule for {}: {e}", scratch.display()))?;
    let ro = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR;
    for p in read_only {
        // A rule on a file may carry only file rights.
        let rights = if std::fs::metadata(p).is_ok_and(|m| m.is_dir()) {
            ro
        } else {
            FS_EXECUTE | FS_READ_FILE
        };
        match add_rule(&fd, p, rights) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(format!("landlock rule for {}: {e}", p.display())),
        }
    }
    let mut dev = FS_READ_FILE | FS_WRITE_FILE;
    if abi >= 3 {
        dev |= FS_TRUNCATE;
    }
    for p in ["/dev/null", "/dev/zero", "/dev/full"] {
        let _ = add_rule(&fd, Path::new(p), dev);
    }
    for p in ["/dev/urandom", "/dev/random"] {
        let _ = add_rule(&fd, Path::new(p), FS_READ_FILE);
    }
    Ok(Ruleset {
        fd,
        abi,
        net,
        scoped,
    })
}
