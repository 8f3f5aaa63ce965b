//! How answers are scored: the code of an answer runs the way EvalPlus' sanitizer leaves it,
//! and a cached answer scored an older way is tested again without asking the model again.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::cell::Cell;

use hearth_eval::exec::{run_python, Limits, Verdict};
use hearth_eval::humaneval::Problem;
use hearth_eval::log::{Record, ResultLog, RunKey};
use hearth_eval::suite::run_humaneval;
use hearth_eval::{program, Answer, Chat, ChatError, Message, SCORER};

fn problem() -> Problem {
    Problem {
        task_id: "Score/0".into(),
        prompt:
            "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    \"\"\"Sum.\"\"\"\n"
                .into(),
        canonical_solution: "    return sum(xs)\n".into(),
        test: "def check(candidate):\n    assert candidate([1, 2]) == 3\n".into(),
        entry_point: "total".into(),
    }
}

fn python() -> Option<Limits> {
    let limits = Limits::default();
    if limits.python.exists() {
        Some(limits)
    } else {
        eprintln!("skipping: no {}", limits.python.display());
        None
    }
}

fn score(answer: &str, limits: &Limits) -> Verdict {
    run_python("Score/0", &program(&problem(), answer), limits).unwrap()
}

#[test]
fn bare_top_level_statements_are_dropped_definitions_kept() {
    let Some(limits) = python() else { return };
    // Small models often put the language on its own line after the fence, and end with
    // example calls; neither is part of the solution.
    let answer =
        "```\npython\nimport math\n\nSCALE = 1\n\n\ndef helper(x):\n    return x * SCALE\n\n\n\
                  def total(xs: List[int]) -> int:\n    return sum(helper(x) for x in xs)\n\n\n\
                  print(total([1, 2]))\ntotal(None)\nif __name__ == \"__main__\":\n    \
                  raise SystemExit(3)\n```\n";
    assert_eq!(score(answer, &limits), Verdict::Passed);
}

#[test]
fn a_wrong_or_broken_answer_still_fails_with_its_own_error() {
    let Some(limits) = python() else { return };
    let wrong = score(
        "```python\ndef total(xs):\n    return sum(xs) + 1\n```",
        &limits,
    );
    let Verdict::Failed { reason } = wrong else {
        panic!("a wrong answer passed")
    };
    assert!(reason.contains("AssertionError"), "{reason}");
    let broken = score("```python\ndef total(xs):\n    return sum(xs\n```", &limits);
    let Verdict::Failed { reason } = broken else {
        panic!("an answer that does not parse passed")
    };
    assert!(reason.contains("SyntaxError"), "{reason}");
    // Quotes, backslashes and non-ASCII text reach Python intact.
    let text = score(
        "```python\ndef total(xs):\n    s = \"é\\\\\\\"'\\t\"\n    assert len(s) == 5, s\n    return sum(xs)\n```",
        &limits,
    );
    assert_eq!(text, Verdict::Passed);
}

/// Must not be asked: the answer is in the log already.
struct Silent(Cell<usize>);

impl Chat for Silent {
    fn label(&self) -> String {
        "silent".into()
    }
    fn converse(&self, _m: &[Message], _max_tokens: u32) -> Result<Answer, ChatError> {
        self.0.set(self.0.get() + 1);
        Err(ChatError("asked".into()))
    }
}

#[test]
fn an_answer_scored_the_old_way_is_tested_again_not_asked_again() {
    let Some(limits) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = RunKey {
        model: "m".into(),
        suite: "humaneval".into(),
        settings: serde_json::json!({}),
    };
    let mut log = ResultLog::open(dir.path(), &key).unwrap();
    // Logged by a scorer that ran the stray `python` line (NameError).
    log.push(Record {
        task_id: "Score/0".into(),
        verdict: Verdict::Failed {
            reason: "exit status 1: NameError: name 'python' is not defined".into(),
        },
        answer: "```\npython\ndef total(xs):\n    return sum(xs)\n```".into(),
        model_s: 1.0,
        test_s: 0.1,
        tokens: None,
        scorer: String::new(),
        exact: None,
        tries: Vec::new(),
    })
    .unwrap();
    drop(log);

    let chat = Silent(Cell::new(0));
    let mut log = ResultLog::open(dir.path(), &key).unwrap();
    let records = run_humaneval(&chat, &[problem()], 64, &limits, &mut log, |_| {}).unwrap();
    assert_eq!(chat.0.get(), 0, "the model was asked again");
    assert_eq!(records[0].verdict, Verdict::Passed);
    assert_eq!(records[0].scorer, SCORER);
    drop(log);
    // The new verdict is what a later run reads.
    let log = ResultLog::open(dir.path(), &key).unwrap();
    assert_eq!(log.get("Score/0").unwrap().verdict, Verdict::Passed);
    assert_eq!(log.get("Score/0").unwrap().model_s, 1.0);
}

/// Right on even seeds, wrong on odd ones; never asked greedily.
struct Coin;

impl Chat for Coin {
    fn label(&self) -> String {
        "coin".into()
    }
    fn converse(&self, _m: &[Message], _max_tokens: u32) -> Result<Answer, ChatError> {
        Err(ChatError("greedy".into()))
    }
    fn sample(&self, _u: &str, _n: u32, t: f32, seed: u64) -> Result<Answer, ChatError> {
        assert!((t - 0.8).abs() < 1e-6);
        let body = if seed % 2 == 0 { "sum(xs)" } else { "0" };
        Ok(Answer::from(format!(
            "```python\ndef total(xs):\n    return {body}\n```"
        )))
    }
}

#[test]
fn sampled_answers_are_logged_per_seed_and_give_pass_at_k() {
    let Some(limits) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let key = RunKey {
        model: "coin".into(),
        suite: "humaneval".into(),
        settings: serde_json::json!({"samples": 4}),
    };
    let mut log = ResultLog::open(dir.path(), &key).unwrap();
    let records = hearth_eval::suite::run_humaneval_sampled(
        &Coin,
        &[problem()],
        4,
        0.8,
        64,
        &limits,
        &mut log,
        |_| {},
    )
    .unwrap();
    let ids: Vec<&str> = records.iter().map(|r| r.task_id.as_str()).collect();
    assert_eq!(ids, ["Score/0#0", "Score/0#1", "Score/0#2", "Score/0#3"]);
    let passed: Vec<bool> = records.iter().map(|r| r.verdict.passed()).collect();
    assert_eq!(passed, [true, false, true, false]);
    let s = hearth_eval::report::Summary::of("coin", "humaneval", &records);
    assert_eq!(s.pass_at_k[0].k, 1);
    assert!((s.pass_at_k[0].percent - 50.0).abs() < 1e-9);
}
