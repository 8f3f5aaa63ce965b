//! Interrupting a run and starting it again does not redo finished problems; and the harness
//! scores HumanEval's own canonical solutions as passing (all 164, in the sandbox).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;
use std::path::PathBuf;

use hearth_eval::exec::Limits;
use hearth_eval::humaneval::{self, Problem};
use hearth_eval::log::{ResultLog, RunKey};
use hearth_eval::suite::run_humaneval;
use hearth_eval::{Answer, Chat, ChatError, Message};

/// Answers each problem with its canonical solution; stops answering after `budget` calls,
/// as a run killed part way does.
struct Canonical<'a> {
    problems: &'a [Problem],
    calls: Cell<usize>,
    budget: usize,
}

impl Chat for Canonical<'_> {
    fn label(&self) -> String {
        "canonical".into()
    }
    fn converse(&self, m: &[Message], _max_tokens: u32) -> Result<Answer, ChatError> {
        let user = m.last().map_or("", |m| m.content.as_str());
        let n = self.calls.get();
        if n == self.budget {
            return Err(ChatError("interrupted".into()));
        }
        self.calls.set(n + 1);
        let p = self
            .problems
            .iter()
            .find(|p| user.contains(p.prompt.trim()))
            .ok_or_else(|| ChatError("unknown problem".into()))?;
        Ok(Answer::from(format!(
            "```python\n{}{}\n```",
            p.prompt, p.canonical_solution
        )))
    }
}

fn data() -> PathBuf {
    let path = humaneval::cache_dir()
        .expect("HOME or XDG_CACHE_HOME")
        .join("HumanEval.jsonl.gz");
    humaneval::ensure(&path).unwrap_or_else(|e| panic!("HumanEval data: {e}"));
    path
}

fn key() -> RunKey {
    RunKey {
        model: "canonical".into(),
        suite: "humaneval".into(),
        settings: serde_json::json!({"test": "resume"}),
    }
}

#[test]
fn canonical_solutions_pass_and_a_resumed_run_skips_finished_problems() {
    let limits = Limits::default();
    if !limits.python.exists() {
        eprintln!("skipping: no {}", limits.python.display());
        return;
    }
    let problems = humaneval::load(&data()).unwrap();
    assert_eq!(problems.len(), 164);
    let logs = tempfile::tempdir().unwrap();

    // First run: killed after 40 answers.
    let first = Canonical {
        problems: &problems,
        calls: Cell::new(0),
        budget: 40,
    };
    let mut log = ResultLog::open(logs.path(), &key()).unwrap();
    let e = run_humaneval(&first, &problems, 512, &limits, &mut log, |_| {}).unwrap_err();
    assert!(e.to_string().contains("HumanEval/40"), "{e}");
    drop(log);

    // Second run: only the other 124 are asked.
    let second = Canonical {
        problems: &problems,
        calls: Cell::new(0),
        budget: usize::MAX,
    };
    let mut resumed = 0;
    let mut log = ResultLog::open(logs.path(), &key()).unwrap();
    let records = run_humaneval(&second, &problems, 512, &limits, &mut log, |p| {
        resumed += usize::from(p.resumed)
    })
    .unwrap();
    assert_eq!(second.calls.get(), 124);
    assert_eq!(resumed, 40);
    let failed: Vec<_> = records
        .iter()
        .filter(|r| !r.verdict.passed())
        .map(|r| (&r.task_id, &r.verdict))
        .collect();
    assert!(failed.is_empty(), "canonical solutions failed: {failed:?}");
    assert_eq!(records.len(), 164);
}
