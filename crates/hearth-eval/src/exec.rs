//! Running a program's tests, only inside hearth's sandbox.

use std::path::PathBuf;
use std::time::Duration;

use hearth_sandbox::{Outcome, Sandbox, SandboxConfig};
use serde::{Deserialize, Serialize};

use crate::EvalError;

/// Limits of one test run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// The interpreter (under a read-only system path).
    pub python: PathBuf,
    /// Wall clock (and CPU seconds, rounded up).
    pub timeout: Duration,
    /// Address space.
    pub memory_bytes: u64,
}

impl Default for Limits {
    /// HumanEval's own harness gives 3 s; 10 s leaves room for a loaded 2-core machine, and
    /// 1 GiB for the interpreter and any honest solution.
    fn default() -> Self {
        Limits {
            python: PathBuf::from("/usr/bin/python3"),
            timeout: Duration::from_secs(10),
            memory_bytes: 1 << 30,
        }
    }
}

/// The verdict on one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verdict {
    Passed,
    /// Exit status, signal or timeout, and the last line of stderr (an assertion, an
    /// exception, a denied operation).
    Failed {
        reason: String,
    },
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Passed)
    }
}

/// Run `program` with `limits.python` in a fresh scratch directory under every protection
/// of the sandbox (the run is refused, as an error, where one is unavailable).
pub fn run_python(task: &str, program: &str, limits: &Limits) -> Result<Verdict, EvalError> {
    // `-I`: isolated (no user site, no environment, no script directory on the path);
    // the program comes on stdin.
    let out = sandboxed(task, &[], &["-I", "-"], Some(program), limits)?;
    Ok(verdict(&out))
}

/// Python that runs every `*_test.py` in the working directory with unittest; fails when
/// a test fails or none ran.
const UNITTEST: &str = "import sys, unittest\n\
suite = unittest.defaultTestLoader.discover('.', pattern='*_test.py', top_level_dir='.')\n\
result = unittest.TextTestRunner(verbosity=1).run(suite)\n\
sys.exit(0 if result.wasSuccessful() and result.testsRun > 0 else 1)\n";

/// Write `files` (plain names) into a fresh scratch directory and run the unittest tests
/// among them in the sandbox: the verdict and what the run printed (stderr, then stdout).
pub fn run_tests(
    task: &str,
    files: &[(String, String)],
    limits: &Limits,
) -> Result<(Verdict, String), EvalError> {
    // `-B`: no bytecode files in the scratch directory.
    let out = sandboxed(task, files, &["-I", "-B", "-c", UNITTEST], None, limits)?;
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    Ok((verdict(&out), text))
}

fn sandboxed(
    task: &str,
    files: &[(String, String)],
    args: &[&str],
    stdin: Option<&str>,
    limits: &Limits,
) -> Result<Outcome, EvalError> {
    let scratch = scratch_dir().map_err(|source| EvalError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let result = (|| {
        for (name, text) in files {
            if !crate::polyglot::plain_name(name) {
                return Err(EvalError::Data {
                    path: scratch.clone(),
                    line: 0,
                    reason: format!("{name:?} is not a plain file name"),
                });
            }
            let path = scratch.join(name);
            std::fs::write(&path, text).map_err(|source| EvalError::Io { path, source })?;
        }
        let mut cfg = SandboxConfig::new(&scratch);
        cfg.timeout = limits.timeout;
        cfg.cpu_seconds = limits.timeout.as_secs().max(1) + 1;
        cfg.memory_bytes = limits.memory_bytes;
        cfg.stdin = stdin.map(|s| s.as_bytes().to_vec());
        cfg.max_output_bytes = 64 << 10;
        let cfg = cfg.require_all_enabled();
        let python = limits.python.display().to_string();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Sandbox::new(cfg)
            .run(&python, &args)
            .map_err(|source| EvalError::Sandbox {
                task: task.to_string(),
                source,
            })
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn verdict(out: &Outcome) -> Verdict {
    if out.status == Some(0) && !out.timed_out {
        return Verdict::Passed;
    }
    let how = if out.timed_out {
        "timed out".to_string()
    } else if let Some(sig) = out.killed_by {
        format!("killed by signal {sig}")
    } else {
        format!("exit status {}", out.status.unwrap_or(-1))
    };
    let err = String::from_utf8_lossy(&out.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    let last: String = last.chars().take(200).collect();
    Verdict::Failed {
        reason: if last.is_empty() {
            how
        } else {
            format!("{how}: {}", last.trim())
        },
    }
}

/// A new directory of its own under the temp dir.
fn scratch_dir() -> std::io::Result<PathBuf> {
    let base = std::env::temp_dir();
    for i in 0..100u32 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let d = base.join(format!("hearth-eval-{}-{nanos}-{i}", std::process::id()));
        match std::fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
}
