//! Linux implementation: prepare everything, fork, set up the child, exec, supervise.

mod child;
mod fsview;
mod landlock;
mod seccomp;

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use child::{NsPlan, Plan};

use crate::{NamespaceMode, Outcome, Protection, SandboxConfig, SandboxError, Status};

const N: usize = Protection::ALL.len();

fn sys(what: &'static str) -> SandboxError {
    SandboxError::Sys {
        what,
        source: std::io::Error::last_os_error(),
    }
}

fn cstring(s: &[u8]) -> Result<CString, SandboxError> {
    CString::new(s).map_err(|_| SandboxError::Nul(String::from_utf8_lossy(s).into_owned()))
}

fn pipe() -> Result<(OwnedFd, OwnedFd), SandboxError> {
    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid two-int array for pipe2 to fill.
    #[allow(unsafe_code)]
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    if r != 0 {
        return Err(sys("pipe2"));
    }
    // SAFETY: pipe2 succeeded, so both descriptors are new and owned by nobody else.
    #[allow(unsafe_code)]
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::geteuid()
    }
}

fn getegid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    #[allow(unsafe_code)]
    unsafe {
        libc::getegid()
    }
}

/// Find `program` in the sandbox PATH (execve needs a path; execvp is not fork-safe).
fn resolve(program: &str, env: &[(String, String)]) -> Result<PathBuf, SandboxError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/bin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let cand = Path::new(dir).join(program);
        if let Ok(md) = std::fs::metadata(&cand) {
            use std::os::unix::fs::PermissionsExt;
            if md.is_file() && md.permissions().mode() & 0o111 != 0 {
                return Ok(cand);
            }
        }
    }
    Err(SandboxError::ProgramNotFound(program.to_string()))
}

/// Lend the scratch directory (itself, not its contents) to the sandbox uid for the run;
/// returns the previous owner so that [`restore_owner`] can give it back afterwards.
fn lend_dir(dir: &Path, uid: u32, gid: u32) -> std::io::Result<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::symlink_metadata(dir)?;
    std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    Ok((md.uid(), md.gid()))
}

fn restore_owner(dir: &Path, owner: Option<(u32, u32)>) {
    if let Some((uid, gid)) = owner {
        if let Err(e) = std::os::unix::fs::lchown(dir, Some(uid), Some(gid)) {
            tracing::warn!("giving {} back to uid {uid}: {e}", dir.display());
        }
    }
}

fn rlim(v: u64) -> libc::rlimit {
    libc::rlimit {
        rlim_cur: v as libc::rlim_t,
        rlim_max: v as libc::rlim_t,
    }
}

fn empty_sigset() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set it is given.
    #[allow(unsafe_code)]
    unsafe {
        let mut s: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut s);
        s
    }
}

fn errno_text(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

/// What the kernel offers, for `--probe` and the logs.
pub(crate) fn probe() -> Vec<(String, String)> {
    let mut v = Vec::new();
    if let Ok(r) = std::fs::read_to_string("/proc/sys/kernel/osrelease") {
        v.push(("kernel".into(), r.trim().to_string()));
    }
    v.push(("euid".into(), geteuid().to_string()));
    for f in [
        "/proc/sys/kernel/unprivileged_userns_clone",
        "/proc/sys/user/max_user_namespaces",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
    ] {
        let val = std::fs::read_to_string(f)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "absent".into());
        v.push((f.into(), val));
    }
    v.push((
        "landlock_abi".into(),
        match landlock::abi_version() {
            Ok(a) => a.to_string(),
            Err(e) => format!("unavailable ({e})"),
        },
    ));
    v.push((
        "seccomp_filter".into(),
        if seccomp::build_filter().is_some() {
            "supported architecture".into()
        } else {
            "unsupported architecture".into()
        },
    ));
    v
}

pub(crate) fn run(
    cfg: &SandboxConfig,
    program: &str,
    args: &[String],
) -> Result<Outcome, SandboxError> {
    let scratch_err = |source| SandboxError::Scratch {
        path: cfg.scratch_dir.clone(),
        source,
    };
    let scratch = std::fs::canonicalize(&cfg.scratch_dir).map_err(scratch_err)?;
    if !scratch.is_dir() {
        return Err(scratch_err(std::io::Error::from_raw_os_error(
            libc::ENOTDIR,
        )));
    }
    let euid = geteuid();
    let root = euid == 0;
    let drop_to = if root { cfg.run_as } else { None };
    let owner = match drop_to {
        Some((uid, gid)) => Some(lend_dir(&scratch, uid, gid).map_err(scratch_err)?),
        None => None,
    };
    let scratch_for_restore = scratch.clone();

    let mut states = [child::ST_PENDING; N];
    let mut reasons: [Option<String>; N] = std::array::from_fn(|_| None);
    let idx = |p: Protection| p.index();

    // Namespaces.
    let ns = match cfg.namespaces {
        NamespaceMode::None => NsPlan::Off,
        NamespaceMode::Auto if root => NsPlan::Direct,
        NamespaceMode::Auto | NamespaceMode::UserNamespace => NsPlan::User,
    };
    match ns {
        NsPlan::Off => {
            for p in [
                Protection::UserNamespace,
                Protection::NetworkNamespace,
                Protection::MountNamespace,
                Protection::PidNamespace,
                Protection::NewRoot,
            ] {
                states[idx(p)] = child::ST_DISABLED;
            }
        }
        NsPlan::Direct => {
            states[idx(Protection::UserNamespace)] = child::ST_NOT_NEEDED;
            reasons[idx(Protection::UserNamespace)] =
                Some("running as root: namespaces created directly".into());
        }
        NsPlan::User => {}
    }
    if !cfg.pid_namespace {
        states[idx(Protection::PidNamespace)] = child::ST_DISABLED;
    }
    match (root, cfg.run_as) {
        (false, _) => {
            states[idx(Protection::DropPrivileges)] = child::ST_NOT_NEEDED;
            reasons[idx(Protection::DropPrivileges)] = Some(format!("already uid {euid}"));
        }
        (true, None) => states[idx(Protection::DropPrivileges)] = child::ST_DISABLED,
        (true, Some(_)) => {}
    }

    // New root.
    let fs_plan = if ns == NsPlan::Off {
        None
    } else if !cfg.new_root {
        states[idx(Protection::NewRoot)] = child::ST_DISABLED;
        None
    } else {
        match fsview::FsPlan::new(&scratch, &cfg.read_only_paths) {
            Ok(p) => Some(p),
            Err(reason) => {
                states[idx(Protection::NewRoot)] = child::ST_UNAVAILABLE;
                reasons[idx(Protection::NewRoot)] = Some(reason);
                None
            }
        }
    };
    let result = run_with(
        cfg,
        program,
        args,
        RunState {
            scratch,
            euid,
            root,
            drop_to,
            states,
            reasons,
            ns,
            fs: fs_plan.as_ref(),
        },
    );
    if let Some(p) = &fs_plan {
        p.cleanup();
    }
    restore_owner(&scratch_for_restore, owner);
    result
}

struct RunState<'a> {
    scratch: PathBuf,
    euid: u32,
    root: bool,
    drop_to: Option<(u32, u32)>,
    states: [u8; N],
    reasons: [Option<String>; N],
    ns: NsPlan,
    fs: Option<&'a fsview::FsPlan>,
}

fn run_with(
    cfg: &SandboxConfig,
    program: &str,
    args: &[String],
    st: RunState<'_>,
) -> Result<Outcome, SandboxError> {
    let RunState {
        scratch,
        euid,
        root,
        drop_to,
        mut states,
        mut reasons,
        ns,
        fs,
    } = st;
    let idx = |p: Protection| p.index();
    let egid = getegid();
    let (inner_uid, inner_gid) = drop_to.unwrap_or((euid, egid));
    let uid_map = format!("{inner_uid} {inner_uid} 1").into_bytes();
    let gid_map = format!("{inner_gid} {inner_gid} 1").into_bytes();

    // Rlimits.
    let rlimits = vec![
        (
            Protection::RlimitCpu,
            libc::RLIMIT_CPU,
            libc::rlimit {
                rlim_cur: cfg.cpu_seconds as libc::rlim_t,
                rlim_max: cfg.cpu_seconds.saturating_add(1) as libc::rlim_t,
            },
        ),
        (
            Protection::RlimitAs,
            libc::RLIMIT_AS,
            rlim(cfg.memory_bytes),
        ),
        (
            Protection::RlimitFsize,
            libc::RLIMIT_FSIZE,
            rlim(cfg.file_size_bytes),
        ),
        (
            Protection::RlimitNofile,
            libc::RLIMIT_NOFILE,
            rlim(cfg.open_files),
        ),
        (
            Protection::RlimitNproc,
            libc::RLIMIT_NPROC,
            rlim(cfg.processes),
        ),
        (Protection::RlimitCore, libc::RLIMIT_CORE, rlim(0)),
    ];
    let nproc_ineffective = root && drop_to.is_none();
    if nproc_ineffective {
        reasons[idx(Protection::RlimitNproc)] =
            Some("set, but the kernel exempts uid 0 from RLIMIT_NPROC".into());
    }

    // Landlock.
    let ro: Vec<&Path> = cfg.read_only_paths.iter().map(PathBuf::as_path).collect();
    let ruleset = if cfg.landlock {
        match landlock::build(&scratch, &ro) {
            Ok(r) => {
                if !r.net {
                    states[idx(Protection::LandlockNet)] = child::ST_UNAVAILABLE;
                    reasons[idx(Protection::LandlockNet)] =
                        Some(format!("Landlock ABI {} < 4", r.abi));
                }
                if !r.scoped {
                    states[idx(Protection::LandlockScope)] = child::ST_UNAVAILABLE;
                    reasons[idx(Protection::LandlockScope)] =
                        Some(format!("Landlock ABI {} < 6", r.abi));
                }
                Some(r)
            }
            Err(reason) => {
                for p in [
                    Protection::LandlockFs,
                    Protection::LandlockNet,
                    Protection::LandlockScope,
                ] {
                    states[idx(p)] = child::ST_UNAVAILABLE;
                    reasons[idx(p)] = Some(reason.clone());
                }
                None
            }
        }
    } else {
        for p in [
            Protection::LandlockFs,
            Protection::LandlockNet,
            Protection::LandlockScope,
        ] {
            states[idx(p)] = child::ST_DISABLED;
        }
        None
    };

    // Seccomp.
    let mut filter = if cfg.seccomp {
        let f = seccomp::build_filter();
        if f.is_none() {
            states[idx(Protection::Seccomp)] = child::ST_UNAVAILABLE;
            reasons[idx(Protection::Seccomp)] =
                Some(format!("no filter for {}", std::env::consts::ARCH));
        }
        f
    } else {
        states[idx(Protection::Seccomp)] = child::ST_DISABLED;
        None
    };
    let fprog = match filter.as_mut() {
        Some(f) => Some(libc::sock_fprog {
            len: u16::try_from(f.len()).map_err(|_| SandboxError::Sys {
                what: "seccomp filter too long",
                source: std::io::Error::from_raw_os_error(libc::E2BIG),
            })?,
            filter: f.as_mut_ptr(),
        }),
        None => None,
    };

    states[idx(Protection::WallClockKill)] = child::ST_ACTIVE;
    let mut required = [false; N];
    for p in &cfg.required {
        required[idx(*p)] = true;
    }
    // Fail early for what is already known to be missing.
    for p in &cfg.required {
        let st = states[idx(*p)];
        if st != child::ST_ACTIVE && st != child::ST_PENDING {
            return Err(SandboxError::Required {
                protection: *p,
                status: status_of(st, 0, reasons[idx(*p)].clone()),
            });
        }
    }

    // Program, argv, envp.
    let exe = resolve(program, &cfg.env)?;
    let c_program = cstring(exe.as_os_str().as_bytes())?;
    let mut c_args = vec![cstring(program.as_bytes())?];
    for a in args {
        c_args.push(cstring(a.as_bytes())?);
    }
    let mut c_env = Vec::new();
    for (k, v) in &cfg.env {
        c_env.push(cstring(format!("{k}={v}").as_bytes())?);
    }
    let mut argv: Vec<*const libc::c_char> = c_args.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    let mut envp: Vec<*const libc::c_char> = c_env.iter().map(|c| c.as_ptr()).collect();
    envp.push(std::ptr::null());

    // Pipes.
    let (status_r, status_w) = pipe()?;
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let (in_r, in_w) = match &cfg.stdin {
        Some(_) => {
            let (r, w) = pipe()?;
            (r, Some(w))
        }
        None => {
            let f = std::fs::File::open("/dev/null").map_err(|source| SandboxError::Sys {
                what: "open /dev/null",
                source,
            })?;
            (OwnedFd::from(f), None)
        }
    };

    let plan = Plan {
        fs,
        status_fd: status_w.as_raw_fd(),
        stdin_fd: in_r.as_raw_fd(),
        stdout_fd: out_w.as_raw_fd(),
        stderr_fd: err_w.as_raw_fd(),
        parent_pid: libc::pid_t::try_from(std::process::id()).unwrap_or(0),
        ns,
        pid_ns: ns != NsPlan::Off && cfg.pid_namespace,
        drop_to,
        uid_map,
        gid_map,
        rlimits,
        nproc_ineffective,
        scratch: cstring(scratch.as_os_str().as_bytes())?,
        landlock_fd: ruleset.as_ref().map(|r| r.fd.as_raw_fd()),
        landlock_net: ruleset.as_ref().is_some_and(|r| r.net),
        landlock_scope: ruleset.as_ref().is_some_and(|r| r.scoped),
        seccomp: fprog,
        states,
        errnos: [0; N],
        required,
        program: c_program,
        argv,
        envp,
        empty_sigset: empty_sigset(),
        proc_mounted: false,
    };

    let start = Instant::now();
    // SAFETY: fork has no memory-safety preconditions; the child branch runs only
    // async-signal-safe code (child::run) and ends in execve or _exit.
    #[allow(unsafe_code)]
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(sys("fork"));
    }
    if pid == 0 {
        child::run(plan);
    }
    drop(plan);
    drop((status_w, out_w, err_w, in_r, ruleset, filter));
    // Also set the group from this side so killpg cannot race the child's own setpgid.
    // SAFETY: plain syscall on integers; failure (the child already exec'd) is harmless.
    #[allow(unsafe_code)]
    unsafe {
        libc::setpgid(pid, pid);
    }

    let supervisor = Supervisor { pid };
    let records = read_records(status_r);
    let mut errnos = [0i32; N];
    let mut failure = None;
    for r in &records {
        let (tag, a, b, e) = (
            r[0],
            r[1],
            r[2],
            i32::from_le_bytes([r[4], r[5], r[6], r[7]]),
        );
        match tag {
            child::TAG_STATUS if usize::from(a) < N => {
                states[usize::from(a)] = b;
                errnos[usize::from(a)] = e;
            }
            child::TAG_FATAL => {
                failure = Some(SandboxError::Setup {
                    step: child::STEPS.get(usize::from(a)).copied().unwrap_or("?"),
                    source: std::io::Error::from_raw_os_error(e),
                });
            }
            child::TAG_REQUIRED if usize::from(a) < N => {
                let i = usize::from(a);
                failure = Some(SandboxError::Required {
                    protection: Protection::ALL[i],
                    status: status_of(b, errnos[i], reasons[i].clone()),
                });
            }
            child::TAG_EXEC => {
                failure = Some(SandboxError::Exec {
                    program: exe.display().to_string(),
                    source: std::io::Error::from_raw_os_error(e),
                });
            }
            _ => {}
        }
    }
    if let Some(f) = failure {
        supervisor.kill_and_reap();
        return Err(f);
    }

    if let (Some(w), Some(data)) = (in_w, cfg.stdin.clone()) {
        std::thread::spawn(move || {
            let mut f = std::fs::File::from(w);
            let _ = f.write_all(&data);
        });
    }

    let (wstatus, timed_out, stdout, stderr) =
        supervisor.supervise(out_r, err_r, cfg.timeout, cfg.max_output_bytes)?;
    let elapsed = start.elapsed();

    let protections = Protection::ALL
        .iter()
        .map(|p| {
            let i = p.index();
            (*p, status_of(states[i], errnos[i], reasons[i].clone()))
        })
        .collect();
    let (status, killed_by) = if libc::WIFEXITED(wstatus) {
        (Some(libc::WEXITSTATUS(wstatus)), None)
    } else if libc::WIFSIGNALED(wstatus) {
        (None, Some(libc::WTERMSIG(wstatus)))
    } else {
        (None, None)
    };
    Ok(Outcome {
        status,
        stdout,
        stderr,
        timed_out,
        killed_by,
        protections,
        elapsed,
    })
}

fn status_of(st: u8, errno: i32, reason: Option<String>) -> Status {
    match st {
        child::ST_ACTIVE => Status::Active,
        child::ST_DISABLED => Status::Disabled,
        child::ST_NOT_NEEDED => Status::NotNeeded {
            reason: reason.unwrap_or_default(),
        },
        child::ST_UNAVAILABLE => Status::Unavailable {
            reason: match (reason, errno) {
                (Some(r), _) => r,
                (None, 0) => "refused".into(),
                (None, e) => format!("refused by the kernel: {}", errno_text(e)),
            },
        },
        _ => Status::Unavailable {
            reason: "not reported by the sandbox child".into(),
        },
    }
}

/// Read 8-byte records until EOF (the write end closes at exec or exit).
fn read_records(fd: OwnedFd) -> Vec<[u8; 8]> {
    use std::io::Read;
    let f = std::fs::File::from(fd);
    let mut buf = Vec::new();
    let _ = f.take(64 * 1024).read_to_end(&mut buf);
    buf.chunks_exact(8)
        .map(|c| {
            let mut r = [0u8; 8];
            r.copy_from_slice(c);
            r
        })
        .collect()
}

struct Supervisor {
    pid: libc::pid_t,
}

impl Supervisor {
    /// Has the leader exited? Uses WNOWAIT so the zombie (and with it the process-group id)
    /// stays reserved until we have killed the group: killpg never hits a recycled id.
    fn exited(&self, block: bool) -> bool {
        // SAFETY: `info` is a zeroed siginfo_t that waitid fills.
        #[allow(unsafe_code)]
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            let flags = libc::WEXITED | libc::WNOWAIT | if block { 0 } else { libc::WNOHANG };
            let r = libc::waitid(libc::P_PID, self.pid as libc::id_t, &mut info, flags);
            r == 0 && info.si_pid() == self.pid
        }
    }

    fn killpg(&self) {
        // SAFETY: the leader is not reaped yet, so `pid` still names our process group.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-self.pid, libc::SIGKILL);
        }
    }

    fn reap(&self) -> i32 {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer; `pid` is our child.
        #[allow(unsafe_code)]
        unsafe {
            libc::waitpid(self.pid, &mut status, 0);
        }
        status
    }

    fn kill_and_reap(&self) {
        self.killpg();
        self.reap();
    }

    fn supervise(
        &self,
        out: OwnedFd,
        err: OwnedFd,
        timeout: Duration,
        cap: usize,
    ) -> Result<(i32, bool, Vec<u8>, Vec<u8>), SandboxError> {
        let deadline = Instant::now() + timeout;
        let mut streams = [Stream::new(out, cap), Stream::new(err, cap)];
        let mut timed_out = false;
        loop {
            if self.exited(false) {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                timed_out = true;
                self.killpg();
                self.exited(true);
                break;
            }
            let slice = (deadline - now).min(Duration::from_millis(20));
            poll_streams(&mut streams, slice);
        }
        // The leader is a zombie: kill whatever it left behind in its group, then reap it.
        self.killpg();
        let status = self.reap();
        // Drain what is left; stragglers are dead, so EOF comes quickly (bounded anyway).
        let drain_deadline = Instant::now() + Duration::from_secs(2);
        while streams.iter().any(|s| s.open) && Instant::now() < drain_deadline {
            poll_streams(&mut streams, Duration::from_millis(50));
        }
        let [o, e] = streams;
        Ok((status, timed_out, o.buf, e.buf))
    }
}

struct Stream {
    fd: OwnedFd,
    buf: Vec<u8>,
    cap: usize,
    open: bool,
}

impl Stream {
    fn new(fd: OwnedFd, cap: usize) -> Stream {
        Stream {
            fd,
            buf: Vec::new(),
            cap,
            open: true,
        }
    }
}

fn poll_streams(streams: &mut [Stream; 2], wait: Duration) {
    let mut pfds: Vec<libc::pollfd> = streams
        .iter()
        .filter(|s| s.open)
        .map(|s| libc::pollfd {
            fd: s.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if pfds.is_empty() {
        std::thread::sleep(wait);
        return;
    }
    let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: `pfds` is a valid array of `pfds.len()` pollfd structs.
    #[allow(unsafe_code)]
    let n = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if n <= 0 {
        return;
    }
    for p in pfds {
        if p.revents == 0 {
            continue;
        }
        let Some(s) = streams.iter_mut().find(|s| s.fd.as_raw_fd() == p.fd) else {
            continue;
        };
        let mut chunk = [0u8; 16 * 1024];
        // SAFETY: `chunk` is a writable buffer of the given length; the fd is open.
        #[allow(unsafe_code)]
        let r = unsafe { libc::read(p.fd, chunk.as_mut_ptr().cast(), chunk.len()) };
        if r <= 0 {
            s.open = false;
            continue;
        }
        let r = r as usize;
        let room = s.cap.saturating_sub(s.buf.len());
        s.buf.extend_from_slice(&chunk[..r.min(room)]);
    }
}
