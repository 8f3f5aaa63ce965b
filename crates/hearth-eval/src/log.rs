//! Results as JSON lines, one file per run key (model identity, suite, settings), appended
//! and flushed after every problem: a killed run starts again where it stopped. A line torn
//! by the kill is ignored, and so is one that does not parse.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::exec::Verdict;
use crate::EvalError;

/// One problem's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub task_id: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The model's answer as it came (for side-by-side comparisons), at most
    /// [`MAX_ANSWER`] bytes.
    pub answer: String,
    /// Seconds the model took to answer.
    pub model_s: f64,
    /// Seconds the sandboxed tests took.
    pub test_s: f64,
    /// Tokens the model generated, where its server said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u32>,
    /// How the answer was made a program and scored ([`crate::SCORER`]); empty in results
    /// logged before scorers were named.
    #[serde(default)]
    pub scorer: String,
    /// Whether the answer is the masked text (infilling suites).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
    /// Edit suites: how each try went, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tries: Vec<Try>,
}

/// One try of an edit suite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Try {
    pub passed: bool,
    /// The answer's edits could not be applied.
    pub malformed: bool,
}

/// Answers are cut here in the log (a runaway answer is at most `max_tokens` long anyway).
pub const MAX_ANSWER: usize = 64 << 10;

/// What makes two runs' results interchangeable.
#[derive(Debug, Clone, Serialize)]
pub struct RunKey {
    /// A model file's sha256, an installed model's digest, or `URL model` for another server.
    pub model: String,
    pub suite: String,
    /// The settings that change answers or verdicts (max tokens, prompt style, data digest,
    /// limits).
    pub settings: serde_json::Value,
}

impl RunKey {
    /// A file name for this key: the first 16 bytes of the sha256 of its JSON, in hex.
    pub fn file_name(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{}.jsonl", &hearth_guard::sha256_hex(&json)[..32])
    }
}

/// The results of one run key, loaded and appended to.
pub struct ResultLog {
    path: PathBuf,
    done: HashMap<String, Record>,
    file: File,
}

impl ResultLog {
    /// Open (creating) `dir/<key file>` and read what it holds; the key itself is written
    /// as the first line of a new file, for people reading it.
    pub fn open(dir: &Path, key: &RunKey) -> Result<ResultLog, EvalError> {
        let path = dir.join(key.file_name());
        let io = |source| EvalError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|source| EvalError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut done = HashMap::new();
        let existed = path.exists();
        if existed {
            let f = File::open(&path).map_err(io)?;
            for line in BufReader::new(f).split(b'\n') {
                let line = line.map_err(io)?;
                if let Ok(r) = serde_json::from_slice::<Record>(&line) {
                    done.insert(r.task_id.clone(), r);
                }
            }
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io)?;
        if !existed {
            let head = serde_json::json!({ "key": key });
            writeln!(file, "{head}").map_err(io)?;
        } else {
            // A line torn by a kill would swallow the next record: start on a new line.
            file.write_all(b"\n").map_err(io)?;
        }
        Ok(ResultLog { path, done, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The result of a problem when an earlier run finished it.
    pub fn get(&self, task_id: &str) -> Option<&Record> {
        self.done.get(task_id)
    }

    /// Append (and flush) a result.
    pub fn push(&mut self, mut r: Record) -> Result<(), EvalError> {
        if r.answer.len() > MAX_ANSWER {
            let mut cut = MAX_ANSWER;
            while !r.answer.is_char_boundary(cut) {
                cut -= 1;
            }
            r.answer.truncate(cut);
        }
        let line = serde_json::to_string(&r).unwrap_or_default();
        let io = |source| EvalError::Io {
            path: self.path.clone(),
            source,
        };
        writeln!(self.file, "{line}").map_err(io)?;
        self.file.flush().map_err(io)?;
        self.done.insert(r.task_id.clone(), r);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RunKey {
        RunKey {
            model: "sha256:ab".into(),
            suite: "humaneval".into(),
            settings: serde_json::json!({"max_tokens": 512}),
        }
    }

    fn rec(id: &str) -> Record {
        Record {
            task_id: id.into(),
            verdict: Verdict::Failed {
                reason: "exit status 1: AssertionError".into(),
            },
            answer: "x".into(),
            model_s: 1.0,
            test_s: 0.1,
            tokens: Some(7),
            scorer: crate::SCORER.into(),
            exact: None,
            tries: Vec::new(),
        }
    }

    #[test]
    fn reopening_keeps_what_was_done_and_skips_a_torn_line() {
        let d = tempfile::tempdir().unwrap();
        let mut log = ResultLog::open(d.path(), &key()).unwrap();
        log.push(rec("T/0")).unwrap();
        log.push(rec("T/1")).unwrap();
        let path = log.path().to_path_buf();
        drop(log);
        // A kill in the middle of a line.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"task_id\": \"T/2\", \"res")
            .unwrap();
        let mut log = ResultLog::open(d.path(), &key()).unwrap();
        assert_eq!(log.get("T/1"), Some(&rec("T/1")));
        assert!(log.get("T/2").is_none());
        log.push(rec("T/2")).unwrap();
        drop(log);
        let log = ResultLog::open(d.path(), &key()).unwrap();
        assert!(
            log.get("T/2").is_some(),
            "the record after a torn line is read"
        );
    }

    #[test]
    fn other_settings_are_another_file() {
        let mut k2 = key();
        k2.settings = serde_json::json!({"max_tokens": 256});
        assert_ne!(key().file_name(), k2.file_name());
        assert_eq!(key().file_name(), key().file_name());
    }

    #[test]
    fn long_answers_are_cut_on_a_char_boundary() {
        let d = tempfile::tempdir().unwrap();
        let mut log = ResultLog::open(d.path(), &key()).unwrap();
        let mut r = rec("T/0");
        r.answer = "é".repeat(MAX_ANSWER);
        log.push(r).unwrap();
        assert!(log.get("T/0").unwrap().answer.len() <= MAX_ANSWER);
    }
}
