//! The code that runs between `fork` and `execve`.
//!
//! Only async-signal-safe work happens here: raw system calls on memory prepared by the
//! parent before the fork (no allocation, no locks, no formatting, no panics).

use libc::{c_char, c_int, c_void};

use super::fsview::FsPlan;
use crate::Protection;

/// Protection states as sent over the status pipe.
pub(crate) const ST_ACTIVE: u8 = 0;
pub(crate) const ST_UNAVAILABLE: u8 = 1;
pub(crate) const ST_DISABLED: u8 = 2;
pub(crate) const ST_NOT_NEEDED: u8 = 3;
/// Not decided yet (the child decides).
pub(crate) const ST_PENDING: u8 = 4;

/// Record tags.
pub(crate) const TAG_STATUS: u8 = 1;
pub(crate) const TAG_FATAL: u8 = 2;
pub(crate) const TAG_REQUIRED: u8 = 3;
pub(crate) const TAG_EXEC: u8 = 4;

/// Setup steps that abort the run when they fail (index sent in TAG_FATAL records).
pub(crate) const STEPS: [&str; 8] = [
    "setpgid",
    "dup2 stdio",
    "write /proc/self/setgroups",
    "write /proc/self/uid_map",
    "write /proc/self/gid_map",
    "drop privileges",
    "chdir to scratch dir",
    "fork into the PID namespace",
];
const STEP_SETPGID: u8 = 0;
const STEP_DUP2: u8 = 1;
const STEP_SETGROUPS: u8 = 2;
const STEP_UIDMAP: u8 = 3;
const STEP_GIDMAP: u8 = 4;
const STEP_DROP: u8 = 5;
const STEP_CHDIR: u8 = 6;
const STEP_FORK: u8 = 7;

/// How namespaces are created.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum NsPlan {
    /// Privileged: unshare(NEWNET | NEWNS) directly.
    Direct,
    /// unshare(NEWUSER | NEWNET | NEWNS) and write the id maps.
    User,
    /// No namespaces.
    Off,
}

/// Everything the child needs, prepared before the fork.
pub(crate) struct Plan<'a> {
    /// The new-root plan, when one is wanted.
    pub fs: Option<&'a FsPlan>,
    pub status_fd: c_int,
    pub stdin_fd: c_int,
    pub stdout_fd: c_int,
    pub stderr_fd: c_int,
    pub parent_pid: libc::pid_t,
    pub ns: NsPlan,
    /// Put the program in a new PID namespace (as its init), with a /proc of its own in the
    /// new root.
    pub pid_ns: bool,
    /// Drop to (uid, gid) before anything else (user-namespace plan) or after the namespaces
    /// (direct plan).
    pub drop_to: Option<(libc::uid_t, libc::gid_t)>,
    pub uid_map: Vec<u8>,
    pub gid_map: Vec<u8>,
    pub rlimits: Vec<(Protection, libc::__rlimit_resource_t, libc::rlimit)>,
    /// RLIMIT_NPROC is set but ignored by the kernel (uid 0): report it unavailable.
    pub nproc_ineffective: bool,
    pub scratch: std::ffi::CString,
    pub landlock_fd: Option<c_int>,
    pub landlock_net: bool,
    pub landlock_scope: bool,
    pub seccomp: Option<libc::sock_fprog>,
    pub states: [u8; Protection::ALL.len()],
    pub errnos: [i32; Protection::ALL.len()],
    pub required: [bool; Protection::ALL.len()],
    pub program: std::ffi::CString,
    pub argv: Vec<*const c_char>,
    pub envp: Vec<*const c_char>,
    pub empty_sigset: libc::sigset_t,
    /// Set in the child: the new root has the sandbox's own /proc.
    pub proc_mounted: bool,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Send one 8-byte record. Failure to write is ignored (the parent then sees a missing record).
fn record(fd: c_int, tag: u8, a: u8, b: u8, err: i32) {
    let e = err.to_le_bytes();
    let buf = [tag, a, b, 0, e[0], e[1], e[2], e[3]];
    // SAFETY: `buf` is a live 8-byte stack buffer; write(2) is async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        libc::write(fd, buf.as_ptr().cast::<c_void>(), buf.len());
    }
}

fn fatal(plan: &Plan<'_>, step: u8) -> ! {
    record(plan.status_fd, TAG_FATAL, step, 0, errno());
    // SAFETY: _exit is async-signal-safe and never returns.
    #[allow(unsafe_code)]
    unsafe {
        libc::_exit(126)
    }
}

/// Write `data` to the /proc file `path` (a NUL-terminated byte string).
fn write_proc(path: &[u8], data: &[u8]) -> bool {
    // SAFETY: `path` is NUL-terminated static data; `data` is a live slice; open/write/close
    // are async-signal-safe.
    #[allow(unsafe_code)]
    unsafe {
        let fd = libc::open(
            path.as_ptr().cast::<c_char>(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            return false;
        }
        let n = libc::write(fd, data.as_ptr().cast::<c_void>(), data.len());
        libc::close(fd);
        n == data.len() as isize
    }
}

fn set(plan: &mut Plan<'_>, p: Protection, ok: bool) {
    let i = p.index();
    if ok {
        plan.states[i] = ST_ACTIVE;
        plan.errnos[i] = 0;
    } else {
        plan.states[i] = ST_UNAVAILABLE;
        plan.errnos[i] = errno();
    }
}

/// Build the new root and pivot into it. Raw syscalls on the prepared CStrings only. With
/// `proc`, a procfs of the caller's PID namespace is mounted on the new root's /proc (before
/// the pivot, while the host's is still visible, which an unprivileged mount of procfs
/// needs); `proc` is set to whether that worked.
fn new_root(fs: &FsPlan, proc: &mut bool) -> bool {
    // SAFETY: every pointer is a NUL-terminated CString owned by `fs`, alive until exec.
    #[allow(unsafe_code)]
    unsafe {
        let null = std::ptr::null::<c_char>();
        if libc::mount(
            c"tmpfs".as_ptr(),
            fs.c_root.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            c"size=1m,mode=0755".as_ptr().cast::<c_void>(),
        ) != 0
        {
            return false;
        }
        for d in &fs.dirs {
            if libc::mkdir(d.as_ptr(), 0o755) != 0 && errno() != libc::EEXIST {
                return false;
            }
        }
        for f in &fs.files {
            let fd = libc::open(
                f.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            if fd < 0 {
                return false;
            }
            libc::close(fd);
        }
        for (target, link) in &fs.symlinks {
            if libc::symlink(target.as_ptr(), link.as_ptr()) != 0 {
                return false;
            }
        }
        for b in &fs.binds {
            let flags = libc::MS_BIND | libc::MS_REC;
            if libc::mount(
                b.src.as_ptr(),
                b.dst.as_ptr(),
                null,
                flags,
                std::ptr::null(),
            ) != 0
            {
                return false;
            }
            if let Some(extra) = b.ro_flags {
                let flags = libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | extra;
                if libc::mount(null, b.dst.as_ptr(), null, flags, std::ptr::null()) != 0 {
                    return false;
                }
            }
        }
        if *proc {
            *proc = libc::mount(
                c"proc".as_ptr(),
                fs.proc_dir.as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) == 0;
        }
        let ro = libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV;
        if libc::mount(null, fs.c_root.as_ptr(), null, ro, std::ptr::null()) != 0 {
            return false;
        }
        if libc::syscall(
            libc::SYS_pivot_root,
            fs.c_root.as_ptr(),
            fs.put_old.as_ptr(),
        ) != 0
        {
            return false;
        }
        if libc::chdir(c"/".as_ptr()) != 0 {
            return false;
        }
        libc::umount2(c"/.old".as_ptr(), libc::MNT_DETACH) == 0
    }
}

fn drop_privileges(uid: libc::uid_t, gid: libc::gid_t) -> bool {
    // SAFETY: plain credential syscalls with integer arguments and a NULL group list.
    #[allow(unsafe_code)]
    unsafe {
        libc::setgroups(0, std::ptr::null()) == 0
            && libc::setresgid(gid, gid, gid) == 0
            && libc::setresuid(uid, uid, uid) == 0
            && libc::getuid() == uid
            && libc::geteuid() == uid
            && libc::getegid() == gid
    }
}

/// Outside the PID namespace: wait for its init (the program) and end the same way, so the
/// supervisor sees the program's exit code or signal. Holds nothing the supervisor waits on
/// (every descriptor is closed first). Never returns.
fn relay(pid: libc::pid_t) -> ! {
    // SAFETY: close/waitpid/sigaction/setrlimit/kill/_exit are async-signal-safe syscalls on
    // integers and stack memory.
    #[allow(unsafe_code)]
    unsafe {
        // Every descriptor: the status pipe and stdio, and the copies of the supervisor's
        // pipe ends this never-exec'd process inherited (its stdin writer among them, which
        // would keep the program from ever seeing EOF).
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            for fd in 0..4096 {
                libc::close(fd);
            }
        }

        let mut status: c_int = 0;
        loop {
            let r = libc::waitpid(pid, &mut status, 0);
            if r == pid {
                break;
            }
            if r < 0 && errno() != libc::EINTR {
                libc::_exit(126);
            }
        }
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            // The same signal, default action, no core file from this process.
            let zero = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &zero);
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
            libc::_exit(128 + sig);
        }
        libc::_exit(libc::WEXITSTATUS(status))
    }
}

/// Set up the sandbox in the forked child and exec the program. Never returns.
pub(crate) fn run(mut plan: Plan<'_>) -> ! {
    #[allow(unsafe_code)]
    // SAFETY: every call below is a raw async-signal-safe syscall on memory that the parent
    // prepared before fork (CStrings, pointer arrays, BPF program, id-map buffers) and that
    // stays alive in this address space until execve or _exit.
    unsafe {
        // Default signal dispositions and an empty mask (Rust ignores SIGPIPE; exec keeps that).
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(libc::SIGPIPE, &sa, std::ptr::null_mut());
        libc::sigprocmask(libc::SIG_SETMASK, &plan.empty_sigset, std::ptr::null_mut());

        if libc::setpgid(0, 0) != 0 {
            fatal(&plan, STEP_SETPGID);
        }
        if libc::dup2(plan.stdin_fd, 0) < 0
            || libc::dup2(plan.stdout_fd, 1) < 0
            || libc::dup2(plan.stderr_fd, 2) < 0
        {
            fatal(&plan, STEP_DUP2);
        }

        // Namespaces.
        let mut mount_ns = false;
        match plan.ns {
            NsPlan::Direct => {
                let ok = libc::unshare(libc::CLONE_NEWNET) == 0;
                set(&mut plan, Protection::NetworkNamespace, ok);
                let ok = libc::unshare(libc::CLONE_NEWNS) == 0
                    && libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) == 0;
                set(&mut plan, Protection::MountNamespace, ok);
                mount_ns = ok;
            }
            NsPlan::User => {
                if let Some((uid, gid)) = plan.drop_to {
                    let ok = drop_privileges(uid, gid);
                    if !ok {
                        fatal(&plan, STEP_DROP);
                    }
                    set(&mut plan, Protection::DropPrivileges, true);
                    // Changing credentials cleared "dumpable", which makes /proc/self/*_map
                    // root-owned; restore it so this process can write its own maps.
                    libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0);
                }
                let flags = libc::CLONE_NEWUSER | libc::CLONE_NEWNET | libc::CLONE_NEWNS;
                if libc::unshare(flags) == 0 {
                    set(&mut plan, Protection::UserNamespace, true);
                    if !write_proc(b"/proc/self/setgroups\0", b"deny") {
                        fatal(&plan, STEP_SETGROUPS);
                    }
                    if !write_proc(b"/proc/self/uid_map\0", &plan.uid_map) {
                        fatal(&plan, STEP_UIDMAP);
                    }
                    if !write_proc(b"/proc/self/gid_map\0", &plan.gid_map) {
                        fatal(&plan, STEP_GIDMAP);
                    }
                    set(&mut plan, Protection::NetworkNamespace, true);
                    let ok = libc::mount(
                        std::ptr::null(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) == 0;
                    set(&mut plan, Protection::MountNamespace, ok);
                    mount_ns = ok;
                } else {
                    set(&mut plan, Protection::UserNamespace, false);
                    let e = plan.errnos[Protection::UserNamespace.index()];
                    for p in [
                        Protection::NetworkNamespace,
                        Protection::MountNamespace,
                        Protection::NewRoot,
                    ] {
                        plan.states[p.index()] = ST_UNAVAILABLE;
                        plan.errnos[p.index()] = e;
                    }
                }
            }
            NsPlan::Off => {}
        }

        // A PID namespace: the program becomes its init in a child of this process, which
        // stays outside only to pass the program's end on (exit code or signal).
        let in_pid_ns = plan.pid_ns && {
            let ok = libc::unshare(libc::CLONE_NEWPID) == 0;
            set(&mut plan, Protection::PidNamespace, ok);
            ok
        };
        if in_pid_ns {
            // Die with the supervisor, as the program will below.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
            if libc::getppid() != plan.parent_pid {
                libc::_exit(126);
            }
            let pid = libc::fork();
            if pid < 0 {
                set(&mut plan, Protection::PidNamespace, false);
                fatal(&plan, STEP_FORK);
            }
            if pid > 0 {
                relay(pid);
            }
        }
        if let Some(fs) = plan.fs {
            let mut proc = in_pid_ns;
            let ok = mount_ns && new_root(fs, &mut proc);
            set(&mut plan, Protection::NewRoot, ok);
            plan.proc_mounted = proc;
        }

        // Privilege drop for the direct plan (after the privileged unshare).
        if plan.ns != NsPlan::User {
            if let Some((uid, gid)) = plan.drop_to {
                if !drop_privileges(uid, gid) {
                    fatal(&plan, STEP_DROP);
                }
                set(&mut plan, Protection::DropPrivileges, true);
            }
        }

        // Die with the parent (set after the credential change, which clears it). In a PID
        // namespace the parent is the relay, outside it: getppid() is 0 there.
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if !in_pid_ns && libc::getppid() != plan.parent_pid {
            libc::_exit(126);
        }

        for i in 0..plan.rlimits.len() {
            let (p, res, lim) = plan.rlimits[i];
            let ok = libc::setrlimit(res, &lim) == 0;
            set(&mut plan, p, ok);
        }
        if plan.nproc_ineffective && plan.states[Protection::RlimitNproc.index()] == ST_ACTIVE {
            plan.states[Protection::RlimitNproc.index()] = ST_UNAVAILABLE;
            plan.errnos[Protection::RlimitNproc.index()] = 0;
        }

        if libc::chdir(plan.scratch.as_ptr()) != 0 {
            fatal(&plan, STEP_CHDIR);
        }

        let ok = libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0;
        set(&mut plan, Protection::NoNewPrivs, ok);

        if let Some(fd) = plan.landlock_fd {
            // The sandbox's own /proc (its processes only) stays readable.
            if plan.proc_mounted {
                super::landlock::allow_read_in_child(fd, c"/proc");
            }
            let ok = libc::syscall(libc::SYS_landlock_restrict_self, fd, 0u32) == 0;
            set(&mut plan, Protection::LandlockFs, ok);
            if plan.landlock_net {
                set(&mut plan, Protection::LandlockNet, ok);
            }
            if plan.landlock_scope {
                set(&mut plan, Protection::LandlockScope, ok);
            }
            libc::close(fd);
        }

        // Last: the filter would also apply to the setup calls above.
        if let Some(prog) = plan.seccomp.as_ref() {
            let ok = libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                prog as *const libc::sock_fprog,
                0,
                0,
            ) == 0;
            set(&mut plan, Protection::Seccomp, ok);
        }

        for (i, st) in plan.states.iter().enumerate() {
            record(plan.status_fd, TAG_STATUS, i as u8, *st, plan.errnos[i]);
        }
        for (i, req) in plan.required.iter().enumerate() {
            if *req && plan.states[i] != ST_ACTIVE {
                record(plan.status_fd, TAG_REQUIRED, i as u8, plan.states[i], 0);
                libc::_exit(126);
            }
        }

        libc::execve(
            plan.program.as_ptr(),
            plan.argv.as_ptr(),
            plan.envp.as_ptr(),
        );
        record(plan.status_fd, TAG_EXEC, 0, 0, errno());
        libc::_exit(127)
    }
}
