//! A hand-written seccomp BPF filter (no libseccomp).
//!
//! Layout: check `seccomp_data.arch` (anything else is killed, so a 32-bit syscall ABI cannot
//! be used to dodge the numbers below), deny x32 numbers on x86_64, then one `nr == X -> EPERM`
//! test per denied syscall, then `socket` denied for every family, argument checks for
//! `socketpair` (AF_UNIX only), `clone` and `ioctl`, then allow.

use libc::{c_long, sock_filter};

// BPF opcodes (linux/bpf_common.h).
const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20)
const BPF_JEQ_K: u16 = 0x05 | 0x10; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_JGE_K: u16 = 0x05 | 0x30; // BPF_JMP | BPF_JGE | BPF_K
const BPF_JSET_K: u16 = 0x05 | 0x40; // BPF_JMP | BPF_JSET | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K

// Return values (linux/seccomp.h).
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;

// Offsets in struct seccomp_data.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
/// Low 32 bits of `args[i]` (little-endian targets only; both supported arches are).
const fn off_arg_lo(i: u32) -> u32 {
    16 + 8 * i
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_003E); // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: Option<u32> = Some(0xC000_00B7); // AUDIT_ARCH_AARCH64
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const AUDIT_ARCH: Option<u32> = None;

/// Namespace-creating clone flags.
const CLONE_NS_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// Syscalls denied with EPERM.
pub(crate) fn denied_syscalls() -> Vec<(&'static str, c_long)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static str, c_long)> = vec![
        ("ptrace", libc::SYS_ptrace),
        ("process_vm_readv", libc::SYS_process_vm_readv),
        ("process_vm_writev", libc::SYS_process_vm_writev),
        ("mount", libc::SYS_mount),
        ("umount2", libc::SYS_umount2),
        ("pivot_root", libc::SYS_pivot_root),
        ("chroot", libc::SYS_chroot),
        ("fsopen", libc::SYS_fsopen),
        ("fsconfig", libc::SYS_fsconfig),
        ("fsmount", libc::SYS_fsmount),
        ("fspick", libc::SYS_fspick),
        ("move_mount", libc::SYS_move_mount),
        ("open_tree", libc::SYS_open_tree),
        ("mount_setattr", libc::SYS_mount_setattr),
        ("open_by_handle_at", libc::SYS_open_by_handle_at),
        ("name_to_handle_at", libc::SYS_name_to_handle_at),
        ("bpf", libc::SYS_bpf),
        ("perf_event_open", libc::SYS_perf_event_open),
        ("userfaultfd", libc::SYS_userfaultfd),
        ("keyctl", libc::SYS_keyctl),
        ("add_key", libc::SYS_add_key),
        ("request_key", libc::SYS_request_key),
        ("io_uring_setup", libc::SYS_io_uring_setup),
        ("io_uring_enter", libc::SYS_io_uring_enter),
        ("io_uring_register", libc::SYS_io_uring_register),
        ("unshare", libc::SYS_unshare),
        ("setns", libc::SYS_setns),
        ("setsid", libc::SYS_setsid),
        ("setpgid", libc::SYS_setpgid),
        ("kexec_load", libc::SYS_kexec_load),
        ("kexec_file_load", libc::SYS_kexec_file_load),
        ("init_module", libc::SYS_init_module),
        ("finit_module", libc::SYS_finit_module),
        ("delete_module", libc::SYS_delete_module),
        ("reboot", libc::SYS_reboot),
        ("swapon", libc::SYS_swapon),
        ("swapoff", libc::SYS_swapoff),
        ("personality", libc::SYS_personality),
        ("acct", libc::SYS_acct),
        ("quotactl", libc::SYS_quotactl),
        ("syslog", libc::SYS_syslog),
        ("settimeofday", libc::SYS_settimeofday),
        ("clock_settime", libc::SYS_clock_settime),
        ("clock_adjtime", libc::SYS_clock_adjtime),
        ("adjtimex", libc::SYS_adjtimex),
        ("sethostname", libc::SYS_sethostname),
        ("setdomainname", libc::SYS_setdomainname),
        ("vhangup", libc::SYS_vhangup),
        ("fanotify_init", libc::SYS_fanotify_init),
        ("lookup_dcookie", libc::SYS_lookup_dcookie),
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        ("iopl", libc::SYS_iopl),
        ("ioperm", libc::SYS_ioperm),
        ("uselib", libc::SYS_uselib),
        ("modify_ldt", libc::SYS_modify_ldt),
    ]);
    v
}

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

fn errno(e: i32) -> u32 {
    SECCOMP_RET_ERRNO | (e as u32 & 0xffff)
}

/// Append `if nr == number { <block> }` where `block` must end in a return.
fn guarded(prog: &mut Vec<sock_filter>, number: c_long, block: Vec<sock_filter>) {
    let skip = u8::try_from(block.len()).unwrap_or(u8::MAX);
    prog.push(jump(BPF_JEQ_K, number as u32, 0, skip));
    prog.extend(block);
}

/// Build the filter program, or `None` on an architecture this filter does not know.
pub(crate) fn build_filter() -> Option<Vec<sock_filter>> {
    let arch = AUDIT_ARCH?;
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JEQ_K, arch, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    {
        // x32 ABI syscall numbers have bit 30 set.
        p.push(jump(BPF_JGE_K, 0x4000_0000, 0, 1));
        p.push(stmt(BPF_RET_K, errno(libc::EPERM)));
    }
    for (_, nr) in denied_syscalls() {
        guarded(&mut p, nr, vec![stmt(BPF_RET_K, errno(libc::EPERM))]);
    }
    // clone3 passes flags in memory the filter cannot read: make libc fall back to clone.
    guarded(
        &mut p,
        libc::SYS_clone3,
        vec![stmt(BPF_RET_K, errno(libc::ENOSYS))],
    );
    // socket(...) of every family -> EPERM: no AF_INET/AF_INET6 (the network), AF_UNIX (a
    // host daemon's socket: docker.sock, D-Bus), AF_NETLINK, AF_VSOCK (the hypervisor),
    // AF_PACKET. What programs need between their own processes comes from socketpair.
    guarded(
        &mut p,
        libc::SYS_socket,
        vec![stmt(BPF_RET_K, errno(libc::EPERM))],
    );
    // socketpair(AF_UNIX, ...) only: a connected pair that reaches nothing outside.
    guarded(
        &mut p,
        libc::SYS_socketpair,
        vec![
            stmt(BPF_LD_W_ABS, off_arg_lo(0)),
            jump(BPF_JEQ_K, libc::AF_UNIX as u32, 0, 1),
            stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
            stmt(BPF_RET_K, errno(libc::EPERM)),
        ],
    );
    // clone with namespace flags -> EPERM.
    guarded(
        &mut p,
        libc::SYS_clone,
        vec![
            stmt(BPF_LD_W_ABS, off_arg_lo(0)),
            jump(BPF_JSET_K, CLONE_NS_FLAGS, 1, 0),
            stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
            stmt(BPF_RET_K, errno(libc::EPERM)),
        ],
    );
    // ioctl(fd, TIOCSTI | TIOCLINUX, ...) (terminal input injection) -> EPERM.
    guarded(
        &mut p,
        libc::SYS_ioctl,
        vec![
            stmt(BPF_LD_W_ABS, off_arg_lo(1)),
            jump(BPF_JEQ_K, libc::TIOCSTI as u32, 2, 0),
            jump(BPF_JEQ_K, libc::TIOCLINUX as u32, 1, 0),
            stmt(BPF_RET_K, SECCOMP_RET_ALLOW),
            stmt(BPF_RET_K, errno(libc::EPERM)),
        ],
    );
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny BPF interpreter for the subset used, to test the program without installing it.
    fn eval(prog: &[sock_filter], arch: u32, nr: u32, args: [u32; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..20 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let ins = prog[pc];
            match ins.code {
                BPF_LD_W_ABS => {
                    let o = ins.k as usize;
                    acc = u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
                    pc += 1;
                }
                BPF_RET_K => return ins.k,
                BPF_JEQ_K | BPF_JGE_K | BPF_JSET_K => {
                    let t = match ins.code {
                        BPF_JEQ_K => acc == ins.k,
                        BPF_JGE_K => acc >= ins.k,
                        _ => acc & ins.k != 0,
                    };
                    pc += 1 + usize::from(if t { ins.jt } else { ins.jf });
                }
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
    }

    #[test]
    fn filter_decisions() {
        let Some(prog) = build_filter() else { return };
        let arch = AUDIT_ARCH.unwrap();
        let eperm = errno(libc::EPERM);
        let nr = |n: c_long| n as u32;
        assert_eq!(eval(&prog, arch, nr(libc::SYS_ptrace), [0; 6]), eperm);
        assert_eq!(eval(&prog, arch, nr(libc::SYS_mount), [0; 6]), eperm);
        assert_eq!(
            eval(&prog, arch, nr(libc::SYS_io_uring_setup), [0; 6]),
            eperm
        );
        assert_eq!(
            eval(&prog, arch, nr(libc::SYS_read), [0; 6]),
            SECCOMP_RET_ALLOW
        );
        let inet = [libc::AF_INET as u32, 1, 0, 0, 0, 0];
        let unix = [libc::AF_UNIX as u32, 1, 0, 0, 0, 0];
        let inet6 = [libc::AF_INET6 as u32, 2, 0, 0, 0, 0];
        assert_eq!(eval(&prog, arch, nr(libc::SYS_socket), inet), eperm);
        assert_eq!(eval(&prog, arch, nr(libc::SYS_socket), inet6), eperm);
        for family in [
            libc::AF_UNIX,
            libc::AF_NETLINK,
            libc::AF_VSOCK,
            libc::AF_PACKET,
        ] {
            let args = [family as u32, 1, 0, 0, 0, 0];
            assert_eq!(eval(&prog, arch, nr(libc::SYS_socket), args), eperm);
        }
        assert_eq!(
            eval(&prog, arch, nr(libc::SYS_socketpair), unix),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(eval(&prog, arch, nr(libc::SYS_socketpair), inet), eperm);
        let fork_flags = [libc::SIGCHLD as u32, 0, 0, 0, 0, 0];
        let ns_flags = [
            libc::CLONE_NEWUSER as u32 | libc::SIGCHLD as u32,
            0,
            0,
            0,
            0,
            0,
        ];
        assert_eq!(
            eval(&prog, arch, nr(libc::SYS_clone), fork_flags),
            SECCOMP_RET_ALLOW
        );
        assert_eq!(eval(&prog, arch, nr(libc::SYS_clone), ns_flags), eperm);
        assert_eq!(
            eval(&prog, arch, nr(libc::SYS_clone3), [0; 6]),
            errno(libc::ENOSYS)
        );
        let tiocsti = [0, libc::TIOCSTI as u32, 0, 0, 0, 0];
        assert_eq!(eval(&prog, arch, nr(libc::SYS_ioctl), tiocsti), eperm);
        // A foreign architecture is killed outright.
        assert_eq!(
            eval(&prog, 0x4000_0003, 0, [0; 6]),
            SECCOMP_RET_KILL_PROCESS
        );
        #[cfg(target_arch = "x86_64")]
        assert_eq!(eval(&prog, arch, 0x4000_0000 | 39, [0; 6]), eperm);
        assert!(prog.len() < 4096);
    }
}
