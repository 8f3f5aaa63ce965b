//! `hearth sandbox [--dir D] [--timeout S] [--mem BYTES] -- CMD ...`: run untrusted code.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use hearth_sandbox::{NamespaceMode, Protection, Sandbox, SandboxConfig};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scratch directory: the only writable place and the working directory (default: a new
    /// directory under the system temp dir, removed afterwards). When run as root the
    /// directory itself is lent to the sandbox uid (nobody) for the run and given back after.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Wall-clock limit in seconds; the whole process group is killed when it passes.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Address-space limit (RLIMIT_AS) in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub mem: u64,
    /// CPU-time limit (RLIMIT_CPU) in seconds.
    #[arg(long, default_value_t = 10)]
    pub cpu: u64,
    /// Largest file the program may write (RLIMIT_FSIZE), bytes.
    #[arg(long, default_value_t = 64 << 20)]
    pub fsize: u64,
    /// Extra read-only path (repeatable), e.g. an interpreter outside /usr.
    #[arg(long = "ro")]
    pub read_only: Vec<PathBuf>,
    /// Run even when these protections are unavailable (comma-separated names as the report
    /// prints them, e.g. `landlock_fs,landlock_net`, or `all`). By default the program is never
    /// started unless every enabled protection is in force.
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub allow_weaker: Vec<String>,
    /// Kept for compatibility: strict is the default.
    #[arg(long, hide = true)]
    pub strict: bool,
    /// Do not create namespaces (what happens on kernels without unprivileged user namespaces).
    #[arg(long)]
    pub no_namespaces: bool,
    /// Do not build the new root of bind mounts (Landlock alone limits the filesystem).
    #[arg(long)]
    pub no_new_root: bool,
    /// Go through a user namespace even when running as root.
    #[arg(long, conflicts_with = "no_namespaces")]
    pub user_namespace: bool,
    /// Print the kernel's sandboxing support and exit.
    #[arg(long)]
    pub probe: bool,
    /// Print the outcome (status, protections, output) as JSON on stdout instead of passing the
    /// program's output through.
    #[arg(long)]
    pub json: bool,
    /// The program and its arguments.
    #[arg(last = true)]
    pub command: Vec<String>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.probe {
        let mut stdout = std::io::stdout().lock();
        for (k, v) in Sandbox::probe() {
            writeln!(stdout, "{k}: {v}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some((program, rest)) = args.command.split_first() else {
        anyhow::bail!("no command given: use `hearth sandbox [OPTIONS] -- CMD [ARGS...]`");
    };
    if !(args.timeout.is_finite() && args.timeout > 0.0 && args.timeout <= 86_400.0) {
        anyhow::bail!(
            "--timeout {} must be between 0 and 86400 seconds",
            args.timeout
        );
    }
    let (dir, temp) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => {
            let d = std::env::temp_dir().join(format!(
                "hearth-sandbox-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ));
            std::fs::create_dir(&d)
                .with_context(|| format!("creating scratch dir {}", d.display()))?;
            (d, true)
        }
    };
    let mut cfg = SandboxConfig::new(&dir);
    cfg.timeout = Duration::from_secs_f64(args.timeout);
    cfg.memory_bytes = args.mem;
    cfg.cpu_seconds = args.cpu;
    cfg.file_size_bytes = args.fsize;
    cfg.read_only_paths.extend(args.read_only.iter().cloned());
    if args.no_namespaces {
        cfg.namespaces = NamespaceMode::None;
    } else if args.user_namespace {
        cfg.namespaces = NamespaceMode::UserNamespace;
    }
    if args.no_new_root {
        cfg.new_root = false;
    }
    cfg = cfg.require_all_enabled();
    for name in &args.allow_weaker {
        if name.trim() == "all" {
            cfg.required.clear();
            continue;
        }
        let p = Protection::from_name(name).with_context(|| {
            format!(
                "--allow-weaker {name:?}: not a protection (one of: {})",
                Protection::ALL.map(Protection::name).join(", ")
            )
        })?;
        cfg.required.retain(|r| *r != p);
    }
    let result = Sandbox::new(cfg).run(program, rest);
    if temp {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let out = result.with_context(|| format!("sandboxed run of {program}"))?;

    if args.json {
        let protections: Vec<serde_json::Value> = out
            .protections
            .iter()
            .map(|(p, s)| serde_json::json!({ "protection": p, "status": s }))
            .collect();
        let v = serde_json::json!({
            "status": out.status,
            "killed_by": out.killed_by,
            "timed_out": out.timed_out,
            "elapsed_ms": out.elapsed.as_millis() as u64,
            "stdout": out.stdout_str(),
            "stderr": out.stderr_str(),
            "protections": protections,
        });
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        std::io::stdout().write_all(&out.stdout)?;
        std::io::stderr().write_all(&out.stderr)?;
        let mut err = std::io::stderr().lock();
        writeln!(err, "-- hearth sandbox: protections")?;
        for (p, s) in &out.protections {
            writeln!(err, "   {:<18} {s}", p.name())?;
        }
        match (out.status, out.killed_by, out.timed_out) {
            (_, _, true) => writeln!(err, "-- killed at the {} s timeout", args.timeout)?,
            (Some(c), _, _) => writeln!(err, "-- exit status {c}")?,
            (None, Some(s), _) => writeln!(err, "-- killed by signal {s}")?,
            _ => {}
        }
    }
    let code = match (out.status, out.killed_by, out.timed_out) {
        (_, _, true) => 124,
        (Some(c), _, _) => c,
        (None, Some(s), _) => 128 + s,
        _ => 1,
    };
    Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
}
