//! Run untrusted (model-generated) code in a sandbox.
//!
//! Linux only. The layers, each reported separately in [`Outcome::protections`] so that a
//! caller never mistakes a kernel refusal for protection:
//!
//! - a new process group, killed as a whole at the wall-clock timeout (and after the leader
//!   exits); `setsid`/`setpgid` are denied by seccomp so nothing leaves the group;
//! - an empty network namespace (loopback down, no routes), created directly when we run as
//!   root or inside a new user namespace otherwise; a private mount namespace whose root is
//!   a new tmpfs with read-only bind mounts of the system paths and the scratch directory;
//! - a PID namespace: the program is its init (a small relay outside passes its exit status
//!   or signal on), host processes can be neither seen nor signalled, whatever it leaves
//!   running dies with it, and the new root has a /proc of its own;
//! - dropping root to an unprivileged uid/gid (default `nobody`, 65534) so rlimits apply;
//! - rlimits: CPU seconds, address space, file size, open files, processes, core dumps = 0;
//! - `no_new_privs`;
//! - Landlock: read/execute only on the read-only system paths, full access only beneath the
//!   scratch directory; from ABI 4 no TCP bind/connect; from ABI 6 no signals or abstract
//!   unix sockets outside the sandbox;
//! - a seccomp BPF filter (written here, no libseccomp) that checks the architecture and
//!   denies with `EPERM` ptrace, mount, bpf, keyctl, perf_event_open, io_uring, unshare, setns,
//!   module loading, `socket()` of every family (AF_INET/6, AF_UNIX, AF_NETLINK, AF_VSOCK,
//!   AF_PACKET; `socketpair(AF_UNIX)` stays), namespace-creating clone flags and more.
//!
//! # Kernel support and fallbacks
//!
//! - Running as root (the project's machines and CI): namespaces are created directly, then
//!   the child drops to `nobody`; `user_namespace` is reported as not needed.
//! - Not root: everything namespaced goes through `unshare(CLONE_NEWUSER | ...)`. Where the
//!   kernel refuses (e.g. `kernel.unprivileged_userns_clone=0`, AppArmor's
//!   `apparmor_restrict_unprivileged_userns`, `user.max_user_namespaces=0`) the user, network
//!   and mount namespaces and the new root are reported `Unavailable` with the errno and the
//!   run continues under Landlock, seccomp (which still denies AF_INET/AF_INET6 sockets) and
//!   the rlimits. [`NamespaceMode::UserNamespace`] forces the unprivileged path and
//!   [`NamespaceMode::None`] simulates the refusal; both are exercised by the tests.
//! - Without Landlock (older kernels, or an LSM list without it) the `landlock_*` entries are
//!   `Unavailable` and the new root is the only filesystem layer.
//! - Callers that must not run unprotected put protections in [`SandboxConfig::required`]
//!   (or use [`SandboxConfig::require_all_enabled`]): the program is then never started
//!   unless each of them is active.
//!
//! ```no_run
//! use hearth_sandbox::{Sandbox, SandboxConfig};
//! let cfg = SandboxConfig::new("/tmp/scratch");
//! let out = Sandbox::new(cfg).run("/bin/sh", &["-c".into(), "echo hi".into()])?;
//! for (p, s) in &out.protections { eprintln!("{p}: {s}"); }
//! # Ok::<(), hearth_sandbox::SandboxError>(())
//! ```

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

#[cfg(target_os = "linux")]
mod linux;

/// One layer of protection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// The whole process group is killed at the wall-clock timeout.
    WallClockKill,
    /// A new user namespace (needed for the other namespaces when not root).
    UserNamespace,
    /// An empty network namespace.
    NetworkNamespace,
    /// A private mount namespace (no mount propagation to or from the host).
    MountNamespace,
    /// A new PID namespace: the program is its init, host processes cannot be seen or
    /// signalled, everything left running dies with it; the new root gets its own /proc.
    PidNamespace,
    /// A new root: a tmpfs holding read-only bind mounts of the system paths, the scratch dir
    /// (read-write, same path) and a few device nodes; the host tree is unmounted.
    NewRoot,
    /// Root dropped to an unprivileged uid/gid.
    DropPrivileges,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// Landlock filesystem rules (scratch dir read-write, system paths read-only).
    LandlockFs,
    /// Landlock TCP bind/connect denial (ABI >= 4).
    LandlockNet,
    /// Landlock scoping of signals and abstract unix sockets (ABI >= 6).
    LandlockScope,
    /// The seccomp BPF syscall filter.
    Seccomp,
    /// `RLIMIT_CPU`.
    RlimitCpu,
    /// `RLIMIT_AS`.
    RlimitAs,
    /// `RLIMIT_FSIZE`.
    RlimitFsize,
    /// `RLIMIT_NOFILE`.
    RlimitNofile,
    /// `RLIMIT_NPROC` (only effective for a non-root uid).
    RlimitNproc,
    /// `RLIMIT_CORE` = 0.
    RlimitCore,
}

impl Protection {
    /// Every protection, in the order they are reported.
    pub const ALL: [Protection; 18] = [
        Protection::WallClockKill,
        Protection::UserNamespace,
        Protection::NetworkNamespace,
        Protection::MountNamespace,
        Protection::PidNamespace,
        Protection::NewRoot,
        Protection::DropPrivileges,
        Protection::NoNewPrivs,
        Protection::LandlockFs,
        Protection::LandlockNet,
        Protection::LandlockScope,
        Protection::Seccomp,
        Protection::RlimitCpu,
        Protection::RlimitAs,
        Protection::RlimitFsize,
        Protection::RlimitNofile,
        Protection::RlimitNproc,
        Protection::RlimitCore,
    ];

    /// The protection with this [`Protection::name`].
    pub fn from_name(name: &str) -> Option<Protection> {
        Protection::ALL
            .iter()
            .copied()
            .find(|p| p.name() == name.trim())
    }

    /// Stable short name.
    pub fn name(self) -> &'static str {
        match self {
            Protection::WallClockKill => "wall_clock_kill",
            Protection::UserNamespace => "user_namespace",
            Protection::NetworkNamespace => "network_namespace",
            Protection::MountNamespace => "mount_namespace",
            Protection::PidNamespace => "pid_namespace",
            Protection::NewRoot => "new_root",
            Protection::DropPrivileges => "drop_privileges",
            Protection::NoNewPrivs => "no_new_privs",
            Protection::LandlockFs => "landlock_fs",
            Protection::LandlockNet => "landlock_net",
            Protection::LandlockScope => "landlock_scope",
            Protection::Seccomp => "seccomp",
            Protection::RlimitCpu => "rlimit_cpu",
            Protection::RlimitAs => "rlimit_as",
            Protection::RlimitFsize => "rlimit_fsize",
            Protection::RlimitNofile => "rlimit_nofile",
            Protection::RlimitNproc => "rlimit_nproc",
            Protection::RlimitCore => "rlimit_core",
        }
    }

    pub(crate) fn index(self) -> usize {
        Protection::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a protection is in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    /// In force for the sandboxed process.
    Active,
    /// Not needed in this mode (e.g. no user namespace when running as root).
    NotNeeded {
        /// Why.
        reason: String,
    },
    /// Switched off by the configuration.
    Disabled,
    /// The kernel (or the environment) refused it; the process ran without it.
    Unavailable {
        /// What failed, with the errno.
        reason: String,
    },
}

impl Status {
    /// True only for [`Status::Active`].
    pub fn is_active(&self) -> bool {
        matches!(self, Status::Active)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Active => f.write_str("active"),
            Status::NotNeeded { reason } => write!(f, "not needed ({reason})"),
            Status::Disabled => f.write_str("disabled by configuration"),
            Status::Unavailable { reason } => write!(f, "UNAVAILABLE ({reason})"),
        }
    }
}

/// How to obtain the network and mount namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NamespaceMode {
    /// Root: unshare directly; otherwise: inside a new user namespace.
    Auto,
    /// Always go through a new user namespace (the unprivileged path, also as root).
    UserNamespace,
    /// No namespaces at all (simulates a kernel without unprivileged user namespaces).
    None,
}

/// What to run and under which limits.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The only directory the program may write (and its working directory).
    pub scratch_dir: PathBuf,
    /// Read-only (read + execute) paths. Missing paths are skipped.
    pub read_only_paths: Vec<PathBuf>,
    /// Wall-clock limit; the whole process group is killed when it passes.
    pub timeout: Duration,
    /// `RLIMIT_CPU` in seconds.
    pub cpu_seconds: u64,
    /// `RLIMIT_AS` in bytes.
    pub memory_bytes: u64,
    /// `RLIMIT_FSIZE` in bytes.
    pub file_size_bytes: u64,
    /// `RLIMIT_NOFILE`.
    pub open_files: u64,
    /// `RLIMIT_NPROC` (processes of the sandbox uid).
    pub processes: u64,
    /// When running as root, switch to this uid/gid before running the program (the scratch
    /// directory itself, not its contents, is lent to it for the run and given back after;
    /// files the program creates stay owned by it). `None` keeps root (then `RLIMIT_NPROC`
    /// has no effect and the report says so).
    pub run_as: Option<(u32, u32)>,
    /// Namespace strategy.
    pub namespaces: NamespaceMode,
    /// Build a new root of bind mounts in the mount namespace (needs the namespaces).
    pub new_root: bool,
    /// Run the program in a new PID namespace (needs the namespaces).
    pub pid_namespace: bool,
    /// Apply Landlock when the kernel has it.
    pub landlock: bool,
    /// Install the seccomp filter.
    pub seccomp: bool,
    /// Environment of the program (nothing is inherited).
    pub env: Vec<(String, String)>,
    /// Bytes written to the program's stdin (then closed); `None` gives `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Cap on captured stdout and on captured stderr (each); the rest is discarded.
    pub max_output_bytes: usize,
    /// Refuse to run (error, program never started) unless these are all active.
    pub required: Vec<Protection>,
}

/// What of `/etc` a sandboxed program sees by default: what the dynamic linker, the time zone
/// and Debian's alternatives need. The rest (users, hosts, credentials, service configs) stays
/// hidden; add `/etc` (or a file in it) to [`SandboxConfig::read_only_paths`] to expose more.
pub const ETC_FILES: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/alternatives",
];

/// Uid/gid of `nobody` on Debian-like and most other systems.
pub const NOBODY: (u32, u32) = (65534, 65534);

impl SandboxConfig {
    /// Defaults: 10 s wall clock, 10 s CPU, 1 GiB address space, 64 MiB files, 64 open files,
    /// 64 processes, `nobody` when root, the system paths without `/etc` (only
    /// [`ETC_FILES`]), every layer on, best effort (nothing required; the CLI requires all).
    pub fn new(scratch_dir: impl Into<PathBuf>) -> SandboxConfig {
        let scratch_dir = scratch_dir.into();
        SandboxConfig {
            read_only_paths: [
                "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
            ]
            .iter()
            .chain(ETC_FILES)
            .map(PathBuf::from)
            .collect(),
            timeout: Duration::from_secs(10),
            cpu_seconds: 10,
            memory_bytes: 1 << 30,
            file_size_bytes: 64 << 20,
            open_files: 64,
            processes: 64,
            run_as: Some(NOBODY),
            namespaces: NamespaceMode::Auto,
            new_root: true,
            pid_namespace: true,
            landlock: true,
            seccomp: true,
            env: vec![
                ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                ("HOME".into(), scratch_dir.display().to_string()),
                ("LANG".into(), "C.UTF-8".into()),
                ("TMPDIR".into(), scratch_dir.display().to_string()),
            ],
            stdin: None,
            max_output_bytes: 1 << 20,
            required: Vec::new(),
            scratch_dir,
        }
    }

    /// Require every protection that makes sense in this configuration (the ones not switched
    /// off and not structurally unneeded): the run fails instead of running unprotected.
    pub fn require_all_enabled(mut self) -> SandboxConfig {
        let mut req = vec![
            Protection::WallClockKill,
            Protection::NoNewPrivs,
            Protection::RlimitCpu,
            Protection::RlimitAs,
            Protection::RlimitFsize,
            Protection::RlimitNofile,
            Protection::RlimitCore,
        ];
        if self.namespaces != NamespaceMode::None {
            req.extend([Protection::NetworkNamespace, Protection::MountNamespace]);
            if self.pid_namespace {
                req.push(Protection::PidNamespace);
            }
            if self.new_root {
                req.push(Protection::NewRoot);
            }
        }
        if self.landlock {
            req.push(Protection::LandlockFs);
        }
        if self.seccomp {
            req.push(Protection::Seccomp);
        }
        self.required = req;
        self
    }
}

/// The result of one sandboxed run.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Exit code when the program exited normally.
    pub status: Option<i32>,
    /// Captured stdout (capped).
    pub stdout: Vec<u8>,
    /// Captured stderr (capped).
    pub stderr: Vec<u8>,
    /// The wall-clock limit passed and the process group was killed.
    pub timed_out: bool,
    /// Signal that ended the program (e.g. 9 for SIGKILL, 24 for SIGXCPU).
    pub killed_by: Option<i32>,
    /// Every protection with its state for this run.
    pub protections: Vec<(Protection, Status)>,
    /// Wall-clock duration of the run.
    pub elapsed: Duration,
}

impl Outcome {
    /// The state of one protection.
    pub fn protection(&self, p: Protection) -> Option<&Status> {
        self.protections
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, s)| s)
    }

    /// True when `p` is active.
    pub fn is_active(&self, p: Protection) -> bool {
        self.protection(p).is_some_and(Status::is_active)
    }

    /// Stdout as (lossy) UTF-8.
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Stderr as (lossy) UTF-8.
    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// Why a sandboxed run could not happen.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Not Linux.
    #[error("the sandbox is only supported on Linux (this is {0})")]
    Unsupported(&'static str),
    /// The scratch directory is unusable.
    #[error("scratch directory {path}: {source}")]
    Scratch {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The program could not be found.
    #[error("program {0:?} not found in PATH of the sandbox environment")]
    ProgramNotFound(String),
    /// An argument or environment entry contains a NUL byte.
    #[error("argument or environment entry {0:?} contains a NUL byte")]
    Nul(String),
    /// A system call needed to set up the sandbox failed in the parent.
    #[error("{what}: {source}")]
    Sys {
        /// The call.
        what: &'static str,
        /// The errno.
        source: std::io::Error,
    },
    /// A required protection could not be put in force; the program was not started.
    #[error("required protection {protection} is not in force: {status}; the program was not run")]
    Required {
        /// The protection.
        protection: Protection,
        /// Its state.
        status: Status,
    },
    /// Setting up the child failed before exec; the program was not started.
    #[error("sandbox setup failed before exec at {step}: {source}")]
    Setup {
        /// The step.
        step: &'static str,
        /// The errno.
        source: std::io::Error,
    },
    /// `execve` failed.
    #[error("exec of {program} failed: {source}")]
    Exec {
        /// The program path.
        program: String,
        /// The errno.
        source: std::io::Error,
    },
}

/// A configured sandbox; [`Sandbox::run`] may be called many times.
#[derive(Debug, Clone)]
pub struct Sandbox {
    config: SandboxConfig,
}

impl Sandbox {
    /// Wrap a configuration.
    pub fn new(config: SandboxConfig) -> Sandbox {
        Sandbox { config }
    }

    /// The configuration.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Run `program` (a path, or a name looked up in the sandbox `PATH`) with `args`.
    pub fn run(&self, program: &str, args: &[String]) -> Result<Outcome, SandboxError> {
        #[cfg(target_os = "linux")]
        {
            linux::run(&self.config, program, args)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = (program, args);
            Err(SandboxError::Unsupported(std::env::consts::OS))
        }
    }

    /// What this kernel supports, without running anything (for `hearth sandbox --probe`).
    pub fn probe() -> Vec<(String, String)> {
        #[cfg(target_os = "linux")]
        {
            linux::probe()
        }
        #[cfg(not(target_os = "linux"))]
        {
            vec![(
                "os".into(),
                format!("{} (unsupported)", std::env::consts::OS),
            )]
        }
    }
}
