//! The infilling suite end to end on the published data: the masked text itself passes every
//! task's tests and matches exactly, a wrong line fails, and what a model did not finish is a
//! failure too, all judged inside the sandbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use hearth_eval::exec::Limits;
use hearth_eval::infilling::{self, FimTask, Variant};
use hearth_eval::log::{ResultLog, RunKey};
use hearth_eval::suite::run_fim;
use hearth_eval::{Answer, ChatError, Complete};

/// `../shared/data/human-eval-infilling` next to the repository, or `$HEARTH_FIM_DATA`.
fn data() -> Option<PathBuf> {
    let dir = std::env::var_os("HEARTH_FIM_DATA").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/data/human-eval-infilling")
        },
        PathBuf::from,
    );
    if dir.join(Variant::Span.file()).is_file() {
        Some(dir)
    } else {
        eprintln!("skipping: no infilling data in {}", dir.display());
        None
    }
}

/// Answers every task with the masked text, or with what `wrong` makes of it.
struct Oracle<'a> {
    tasks: &'a [FimTask],
    wrong: fn(&str) -> String,
}

impl Complete for Oracle<'_> {
    fn label(&self) -> String {
        "oracle".into()
    }
    fn complete(
        &self,
        prefix: &str,
        suffix: &str,
        _max_tokens: u32,
        _one_line: bool,
    ) -> Result<Answer, ChatError> {
        let t = self
            .tasks
            .iter()
            .find(|t| t.prefix == prefix && t.suffix == suffix)
            .ok_or_else(|| ChatError("unknown task".into()))?;
        Ok(Answer::from((self.wrong)(&t.middle)))
    }
}

fn run(v: Variant, limit: usize, wrong: fn(&str) -> String) -> Vec<hearth_eval::log::Record> {
    let dir = data().unwrap();
    let tasks = infilling::spread(infilling::load(&dir, v).unwrap(), Some(limit));
    let tmp = tempfile::tempdir().unwrap();
    let key = RunKey {
        model: "oracle".into(),
        suite: v.suite(),
        settings: serde_json::json!({}),
    };
    let mut log = ResultLog::open(tmp.path(), &key).unwrap();
    let model = Oracle {
        tasks: &tasks,
        wrong,
    };
    run_fim(&model, v, &tasks, &Limits::default(), &mut log, |_| {}).unwrap()
}

fn ready() -> bool {
    data().is_some() && Limits::default().python.exists()
}

#[test]
fn the_published_files_are_the_pinned_ones_with_every_task() {
    let Some(dir) = data() else { return };
    for v in Variant::ALL {
        let (_, digest) = infilling::data_file(&dir, v).unwrap();
        assert_eq!(digest, v.sha256(), "{}: digest differs", v.file());
        assert_eq!(infilling::load(&dir, v).unwrap().len(), v.size(), "{v:?}");
    }
}

#[test]
fn the_masked_text_passes_and_matches_in_every_variant() {
    if !ready() {
        return;
    }
    // The one-line variants see the model's first line: the masked line with what follows
    // appended must still count.
    for v in [Variant::Single, Variant::MidLine] {
        let r = run(v, 12, |m| format!("{m}    print('more')\n"));
        assert!(r.iter().all(|r| r.verdict.passed()), "{v:?}: {r:?}");
        assert!(r.iter().all(|r| r.exact == Some(true)), "{v:?}");
    }
    for v in [Variant::Span, Variant::Multi] {
        let r = run(v, 12, str::to_string);
        assert!(r.iter().all(|r| r.verdict.passed()), "{v:?}: {r:?}");
        assert!(r.iter().all(|r| r.exact == Some(true)), "{v:?}");
    }
}

#[test]
fn a_wrong_or_missing_completion_fails() {
    if !ready() {
        return;
    }
    let r = run(Variant::Single, 12, |_| "    pass\n".to_string());
    assert!(r.iter().all(|r| r.exact == Some(false)));
    // Some masked lines are not needed by the tests (a blank-able assignment, a comment-like
    // line): most must fail without them.
    let failed = r.iter().filter(|r| !r.verdict.passed()).count();
    assert!(
        failed >= 9,
        "only {failed} of 12 failed with the line replaced by `pass`"
    );
    let r = run(Variant::Span, 12, |_| String::new());
    assert!(r.iter().all(|r| !r.verdict.passed()), "{r:?}");
}
