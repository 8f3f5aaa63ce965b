//! The Aider polyglot benchmark's exercises (Exercism, MIT; curated by Aider): each is a
//! directory with instructions (`.docs/`), the stub files to change and the tests, named by
//! `.meta/config.json`. Everything read is checked and capped: the names a config lists must be
//! plain file names, and no file may be larger than [`MAX_FILE`].

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::EvalError;

/// Largest file read (the largest real one is ~20 KiB).
pub const MAX_FILE: u64 = 256 << 10;
/// Most exercises read from one directory.
const MAX_EXERCISES: usize = 10_000;

/// Where the benchmark is published.
pub const SOURCE: &str = "https://github.com/Aider-AI/polyglot-benchmark";

/// One exercise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercise {
    /// The directory name (`affine-cipher`).
    pub name: String,
    /// `.docs/introduction.md`, `instructions.md` and `instructions.append.md`, in that order,
    /// where present.
    pub instructions: String,
    /// The files the model changes: (name, content).
    pub solution: Vec<(String, String)>,
    /// The tests, never shown changed to the model: (name, content).
    pub tests: Vec<(String, String)>,
}

impl Exercise {
    /// The solution files' names, comma-separated.
    pub fn file_list(&self) -> String {
        self.solution
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Deserialize)]
struct Config {
    files: Files,
}

#[derive(Deserialize)]
struct Files {
    solution: Vec<String>,
    test: Vec<String>,
}

/// The exercises of one language in `dir`: either the directory that holds the exercise
/// directories, or the benchmark's root (then `LANGUAGE/exercises/practice` under it).
pub fn load(dir: &Path, language: &str) -> Result<Vec<Exercise>, EvalError> {
    let nested = dir.join(language).join("exercises").join("practice");
    let dir = if nested.is_dir() {
        nested
    } else {
        dir.to_path_buf()
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EvalError::Io { path, source }
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let entry = entry.map_err(io(&dir))?;
        if entry.path().join(".meta").join("config.json").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        if names.len() > MAX_EXERCISES {
            return Err(bad(&dir, format!("more than {MAX_EXERCISES} exercises")));
        }
    }
    names.sort();
    names
        .into_iter()
        .map(|name| exercise(&dir.join(&name), name))
        .collect()
}

fn bad(path: &Path, reason: String) -> EvalError {
    EvalError::Data {
        path: path.to_path_buf(),
        line: 0,
        reason,
    }
}

fn exercise(dir: &Path, name: String) -> Result<Exercise, EvalError> {
    let config_path = dir.join(".meta").join("config.json");
    let config: Config = serde_json::from_str(&read(&config_path)?)
        .map_err(|e| bad(&config_path, format!("not an exercise config: {e}")))?;
    let files = |names: &[String]| -> Result<Vec<(String, String)>, EvalError> {
        if names.is_empty() || names.len() > 16 {
            return Err(bad(
                &config_path,
                format!("{} files listed (1 to 16 expected)", names.len()),
            ));
        }
        names
            .iter()
            .map(|n| {
                if !plain_name(n) {
                    return Err(bad(&config_path, format!("{n:?} is not a plain file name")));
                }
                Ok((n.clone(), read(&dir.join(n))?))
            })
            .collect()
    };
    let solution = files(&config.files.solution)?;
    let tests = files(&config.files.test)?;
    let docs = dir.join(".docs");
    let mut instructions = String::new();
    for part in [
        "introduction.md",
        "instructions.md",
        "instructions.append.md",
    ] {
        let p = docs.join(part);
        if p.is_file() {
            instructions.push_str(read(&p)?.trim_end());
            instructions.push_str("\n\n");
        }
    }
    if instructions.is_empty() {
        return Err(bad(&docs, "no instructions".into()));
    }
    Ok(Exercise {
        name,
        instructions,
        solution,
        tests,
    })
}

/// A file name without a directory part, not hidden, of sane length and characters.
pub fn plain_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && !n.starts_with('.')
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A UTF-8 file of at most [`MAX_FILE`] bytes.
fn read(path: &Path) -> Result<String, EvalError> {
    let meta = std::fs::metadata(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if meta.len() > MAX_FILE {
        return Err(bad(
            path,
            format!("{} bytes, more than {MAX_FILE}", meta.len()),
        ));
    }
    let bytes = std::fs::read(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| bad(path, format!("not UTF-8: {e}")))
}

/// sha256 over every exercise's name and files, in order: what keys the results.
pub fn digest(exercises: &[Exercise]) -> String {
    let mut all = Vec::new();
    for e in exercises {
        for (n, text) in std::iter::once((&e.name, &e.instructions))
            .chain(e.solution.iter().map(|(n, t)| (n, t)))
            .chain(e.tests.iter().map(|(n, t)| (n, t)))
        {
            all.extend_from_slice(&(n.len() as u64).to_le_bytes());
            all.extend_from_slice(n.as_bytes());
            all.extend_from_slice(&(text.len() as u64).to_le_bytes());
            all.extend_from_slice(text.as_bytes());
        }
    }
    hearth_guard::sha256_hex(&all)
}

/// The default place of the benchmark: the cache's `polyglot-benchmark`.
pub fn default_dir(cache: &Path) -> PathBuf {
    cache.join("polyglot-benchmark")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn fixture(config: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let e = d.path().join("python/exercises/practice/two-fer");
        write(&e, ".meta/config.json", config);
        write(&e, ".docs/instructions.md", "Say hi.\n");
        write(&e, ".docs/instructions.append.md", "Use Python.\n");
        write(&e, "two_fer.py", "def two_fer(name):\n    pass\n");
        write(&e, "two_fer_test.py", "import unittest\n");
        d
    }

    #[test]
    fn reads_an_exercise_from_the_benchmark_root() {
        let d = fixture(r#"{"files": {"solution": ["two_fer.py"], "test": ["two_fer_test.py"]}}"#);
        let ex = load(d.path(), "python").unwrap();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].name, "two-fer");
        assert_eq!(ex[0].instructions, "Say hi.\n\nUse Python.\n\n");
        assert_eq!(ex[0].solution[0].0, "two_fer.py");
        assert_eq!(ex[0].file_list(), "two_fer.py");
        assert_eq!(digest(&ex), digest(&ex.clone()));
    }

    #[test]
    fn refuses_paths_in_a_config() {
        for name in ["../../etc/passwd", "/etc/passwd", ".hidden", "a/b.py", ""] {
            let config =
                serde_json::json!({"files": {"solution": [name], "test": ["two_fer_test.py"]}});
            let d = fixture(&config.to_string());
            let e = load(d.path(), "python").unwrap_err();
            assert!(e.to_string().contains("config.json"), "{name}: {e}");
        }
    }

    #[test]
    fn refuses_a_config_that_is_not_one() {
        let d = fixture(r#"{"files": {"solution": "two_fer.py"}}"#);
        assert!(load(d.path(), "python").is_err());
    }
}
