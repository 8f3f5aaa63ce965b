//! The edit suite end to end on the Aider polyglot Python exercises: each exercise's own
//! example solution, given as an answer, passes its tests in the sandbox; the stub fails and
//! its test output reaches the second try; an answer with no usable edit is malformed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::RefCell;
use std::path::PathBuf;

use hearth_eval::edit::EditFormat;
use hearth_eval::exec::Limits;
use hearth_eval::log::{ResultLog, RunKey};
use hearth_eval::polyglot::{self, Exercise};
use hearth_eval::suite::run_edit;
use hearth_eval::{Answer, Chat, ChatError, Message};

/// `../shared/data/aider-polyglot` next to the repository, or `$HEARTH_POLYGLOT_DATA`.
fn data() -> Option<PathBuf> {
    let dir = std::env::var_os("HEARTH_POLYGLOT_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/aider-polyglot"),
        PathBuf::from,
    );
    if dir.join("python/exercises/practice").is_dir() && Limits::default().python.exists() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no polyglot data in {} (or no python3)",
            dir.display()
        );
        None
    }
}

/// Answers from a script: the i-th call gets `script(exercise, i, messages)`.
struct Scripted<'a> {
    exercises: &'a [Exercise],
    script: fn(&Exercise, usize, &[Message]) -> String,
    calls: RefCell<Vec<(String, usize)>>,
    seen: RefCell<Vec<Vec<Message>>>,
}

impl Chat for Scripted<'_> {
    fn label(&self) -> String {
        "scripted".into()
    }
    fn converse(&self, messages: &[Message], _max_tokens: u32) -> Result<Answer, ChatError> {
        let ex = self
            .exercises
            .iter()
            .find(|e| messages[1].content.starts_with(&e.instructions))
            .ok_or_else(|| ChatError("unknown exercise".into()))?;
        let mut calls = self.calls.borrow_mut();
        let n = calls.iter().filter(|(name, _)| name == &ex.name).count();
        calls.push((ex.name.clone(), n));
        self.seen.borrow_mut().push(messages.to_vec());
        Ok(Answer::from((self.script)(ex, n, messages)))
    }
}

fn example(ex: &Exercise) -> String {
    let dir = data()
        .unwrap()
        .join("python/exercises/practice")
        .join(&ex.name);
    std::fs::read_to_string(dir.join(".meta/example.py")).unwrap()
}

fn run(
    format: EditFormat,
    limit: usize,
    script: fn(&Exercise, usize, &[Message]) -> String,
) -> (Vec<hearth_eval::log::Record>, Vec<Vec<Message>>) {
    let mut exercises = polyglot::load(&data().unwrap(), "python").unwrap();
    exercises.retain(|e| e.solution.len() == 1);
    exercises.truncate(limit);
    let tmp = tempfile::tempdir().unwrap();
    let key = RunKey {
        model: "scripted".into(),
        suite: format.suite(),
        settings: serde_json::json!({}),
    };
    let mut log = ResultLog::open(tmp.path(), &key).unwrap();
    let chat = Scripted {
        exercises: &exercises,
        script,
        calls: RefCell::new(Vec::new()),
        seen: RefCell::new(Vec::new()),
    };
    let limits = Limits {
        timeout: std::time::Duration::from_secs(30),
        ..Limits::default()
    };
    let records = run_edit(&chat, format, &exercises, 2048, &limits, &mut log, |_| {}).unwrap();
    (records, chat.seen.into_inner())
}

#[test]
fn all_34_exercises_load() {
    let Some(dir) = data() else { return };
    let ex = polyglot::load(&dir, "python").unwrap();
    assert_eq!(ex.len(), 34);
    assert!(ex
        .iter()
        .all(|e| !e.tests.is_empty() && !e.instructions.is_empty()));
}

#[test]
fn example_solutions_pass_on_the_first_try_in_the_whole_format() {
    if data().is_none() {
        return;
    }
    let (records, _) = run(EditFormat::Whole, 6, |ex, _, _| {
        format!(
            "Done.\n\n{}\n```python\n{}```\n",
            ex.solution[0].0,
            example(ex)
        )
    });
    for r in &records {
        assert!(r.verdict.passed(), "{}: {:?}", r.task_id, r.verdict);
        assert_eq!(r.tries.len(), 1);
    }
}

#[test]
fn a_failing_first_try_shows_the_test_output_and_the_second_counts() {
    if data().is_none() {
        return;
    }
    // Try 1: the stub unchanged, as a search/replace of nothing; try 2: the example.
    let (records, seen) = run(EditFormat::Diff, 3, |ex, n, _| {
        let (name, stub) = &ex.solution[0];
        let replace = if n == 0 { stub.clone() } else { example(ex) };
        format!("{name}\n```\n<<<<<<< SEARCH\n{stub}=======\n{replace}>>>>>>> REPLACE\n```\n")
    });
    for r in &records {
        assert!(r.verdict.passed(), "{}: {:?}", r.task_id, r.verdict);
        assert_eq!(r.tries.len(), 2);
        assert!(!r.tries[0].passed && !r.tries[0].malformed);
    }
    let second = seen.iter().find(|m| m.len() == 4).expect("a second try");
    let feedback = &second[3].content;
    assert!(
        feedback.contains("FAILED") || feedback.contains("Error"),
        "{feedback}"
    );
    assert!(feedback.contains("The tests are correct"), "{feedback}");
}

#[test]
fn answers_without_edits_are_malformed_and_fail() {
    if data().is_none() {
        return;
    }
    let (records, seen) = run(EditFormat::Diff, 2, |_, _, _| "I would rewrite it.".into());
    for r in &records {
        assert!(!r.verdict.passed());
        assert_eq!(r.tries.len(), 2);
        assert!(r.tries.iter().all(|t| t.malformed));
    }
    assert!(seen[1][3].content.contains("no SEARCH/REPLACE block"));
}
