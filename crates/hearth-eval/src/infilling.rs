//! The public HumanEval infilling benchmark (OpenAI's `human-eval-infilling`, MIT): a span of
//! a HumanEval canonical solution is masked, the model fills it in from the code before and
//! after it, and the completed program runs the problem's tests.
//!
//! Variants (each one suite of results):
//! - `single`: SingleLine, 1,033 tasks, one whole line masked, the cursor at its start;
//! - `midline`: the same lines with their first 40% (at least one character after the
//!   indentation) already typed, because that is what a keystroke looks like;
//! - `span`: RandomSpanLight, 164 tasks, a span that often starts and ends inside a line;
//! - `multi`: MultiLine, 5,815 tasks, several whole lines masked.
//!
//! The data is not on a package registry (the `human-eval-infilling` name there is an empty
//! package): it comes from the benchmark's repository
//! (<https://github.com/openai/human-eval-infilling>, `data/`), and the files' sha256 digests
//! are pinned here so a report says whether it scored the published sets.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::humaneval::{is_identifier, read_jsonl};
use crate::EvalError;

/// Names the way a completion becomes a program and an exact-match verdict ([`inserted`],
/// [`program`], [`exact`]).
pub const FIM_SCORER: &str = "fim-insert-v1";

/// Where the benchmark's files are published.
pub const SOURCE: &str = "https://github.com/openai/human-eval-infilling/tree/master/data";

/// One variant of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Single,
    MidLine,
    Span,
    Multi,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Single,
        Variant::MidLine,
        Variant::Span,
        Variant::Multi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Single => "single",
            Variant::MidLine => "midline",
            Variant::Span => "span",
            Variant::Multi => "multi",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == s)
    }

    /// The suite name its results and reports carry: `fim-single` …
    pub fn suite(self) -> String {
        format!("fim-{}", self.name())
    }

    /// The data file (in the benchmark's `data/` directory).
    pub fn file(self) -> &'static str {
        match self {
            Variant::Single | Variant::MidLine => "HumanEval-SingleLineInfilling.jsonl.gz",
            Variant::Span => "HumanEval-RandomSpanInfillingLight.jsonl.gz",
            Variant::Multi => "HumanEval-MultiLineInfilling.jsonl.gz",
        }
    }

    /// sha256 of the published file.
    pub fn sha256(self) -> &'static str {
        match self {
            Variant::Single | Variant::MidLine => {
                "1277073e7ddce163ef68598c2bca777f688a53df99422f097e37362090f88e1f"
            }
            Variant::Span => "1432250ecac0cb56e6f97f8faf0970419ef892a98fda7e1f5aa4c4b87209b760",
            Variant::Multi => "2f341612eee1d35da1357a4f365e0c0b3ba6e2b62eb491e88aaefa4855af0349",
        }
    }

    /// Tasks in the published file.
    pub fn size(self) -> usize {
        match self {
            Variant::Single | Variant::MidLine => 1033,
            Variant::Span => 164,
            Variant::Multi => 5815,
        }
    }

    /// Whether the masked text is (the rest of) one line: the completion is cut at its first
    /// line end, and the request asks the server to stop there.
    pub fn one_line(self) -> bool {
        matches!(self, Variant::Single | Variant::MidLine)
    }

    /// Most tokens per completion: a line is far shorter than 48 tokens, a span or a few
    /// lines than 128.
    pub fn max_tokens(self) -> u32 {
        if self.one_line() {
            48
        } else {
            128
        }
    }
}

/// One infilling task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FimTask {
    /// As in the data (`SingleLineInfilling/HumanEval/0/L3`; the mid-line variant keeps it).
    pub task_id: String,
    /// The code before the cursor.
    pub prefix: String,
    /// The code after the cursor.
    pub suffix: String,
    /// What was masked (after the typed part, in the mid-line variant).
    pub middle: String,
    /// Python defining `check(candidate)`.
    pub test: String,
    pub entry_point: String,
}

#[derive(Deserialize)]
struct Row {
    task_id: String,
    entry_point: String,
    prompt: String,
    suffix: String,
    canonical_solution: String,
    test: String,
}

/// The data file of `v` in `dir` and its sha256 (the published file's is [`Variant::sha256`]).
pub fn data_file(dir: &Path, v: Variant) -> Result<(PathBuf, String), EvalError> {
    let path = dir.join(v.file());
    let digest = hearth_guard::file_sha256(&path)?;
    Ok((path, digest))
}

/// The tasks of `v` from its file in `dir`.
pub fn load(dir: &Path, v: Variant) -> Result<Vec<FimTask>, EvalError> {
    let path = dir.join(v.file());
    let rows: Vec<Row> = read_jsonl(&path, |r: &Row| {
        if is_identifier(&r.entry_point) {
            Ok(())
        } else {
            Err(format!(
                "entry_point {:?} is not a Python identifier",
                r.entry_point
            ))
        }
    })?;
    Ok(rows.into_iter().map(|r| task(v, r)).collect())
}

fn task(v: Variant, r: Row) -> FimTask {
    let (mut prefix, mut middle) = (r.prompt, r.canonical_solution);
    if v == Variant::MidLine {
        let typed = typed_part(&middle).to_string();
        prefix.push_str(&typed);
        middle.drain(..typed.len());
    }
    FimTask {
        task_id: r.task_id,
        prefix,
        suffix: r.suffix,
        middle,
        test: r.test,
        entry_point: r.entry_point,
    }
}

/// The part of a masked line a user has typed in the mid-line variant: the indentation and
/// the first 40% of the rest (at least one character), counted in characters.
fn typed_part(line: &str) -> &str {
    let body = line.trim_end_matches(['\n', '\r']);
    let indent = body.len() - body.trim_start().len();
    let rest = &body[indent..];
    let n = (rest.chars().count() * 2 / 5).max(1);
    let cut = rest.char_indices().nth(n).map_or(rest.len(), |(i, _)| i);
    &body[..indent + cut]
}

/// At most `limit` of `items`, spread evenly over all of them (every problem, every
/// position), the same ones on every run.
pub fn spread<T>(items: Vec<T>, limit: Option<usize>) -> Vec<T> {
    let n = items.len();
    match limit {
        Some(k) if k < n => {
            let keep: Vec<usize> = (0..k).map(|i| i * n / k).collect();
            items
                .into_iter()
                .enumerate()
                .filter(|(i, _)| keep.binary_search(i).is_ok())
                .map(|(_, t)| t)
                .collect()
        }
        _ => items,
    }
}

/// What goes in at the cursor: for the one-line variants the first line of the completion
/// (its line end restored, trailing spaces dropped), else the whole completion.
pub fn inserted(v: Variant, completion: &str) -> String {
    if v.one_line() {
        let line = completion.split('\n').next().unwrap_or("");
        format!("{}\n", line.trim_end())
    } else {
        completion.to_string()
    }
}

/// Whether the inserted text is the masked text, ignoring blank lines at either end and
/// whitespace at line ends and at the very start.
pub fn exact(task: &FimTask, inserted: &str) -> bool {
    norm(inserted) == norm(&task.middle)
}

fn norm(s: &str) -> String {
    s.trim_matches('\n')
        .split('\n')
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim()
        .to_string()
}

/// The completed file, its tests and the call of `check`.
pub fn program(task: &FimTask, inserted: &str) -> String {
    format!(
        "{}{}{}\n{}\n\ncheck({})\n",
        task.prefix,
        inserted,
        task.suffix,
        task.test.trim_end(),
        task.entry_point
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            task_id: "SingleLineInfilling/HumanEval/0/L1".into(),
            entry_point: "f".into(),
            prompt: "def f(xs):\n    total = 0\n".into(),
            suffix: "    return total\n".into(),
            canonical_solution: "    total += sum(xs)\n".into(),
            test: "def check(c):\n    assert c([1, 2]) == 3\n".into(),
        }
    }

    #[test]
    fn the_midline_variant_types_the_first_two_fifths() {
        let t = task(Variant::MidLine, row());
        // "total += sum(xs)" is 16 characters: 6 typed.
        assert!(
            t.prefix.ends_with("    total = 0\n    total "),
            "{:?}",
            t.prefix
        );
        assert_eq!(t.middle, "+= sum(xs)\n");
        assert_eq!(typed_part("  x\n"), "  x");
        assert_eq!(typed_part("    éé = 1\n"), "    éé");
        let whole = task(Variant::Single, row());
        assert_eq!(whole.middle, "    total += sum(xs)\n");
    }

    #[test]
    fn one_line_answers_are_cut_and_compared_loosely() {
        let t = task(Variant::Single, row());
        let got = inserted(Variant::Single, "    total += sum(xs)   \n    return 1\n");
        assert_eq!(got, "    total += sum(xs)\n");
        assert!(exact(&t, &got));
        assert!(!exact(&t, "    total += sum(xs)  # add\n"));
        assert_eq!(inserted(Variant::Span, "a\nb"), "a\nb");
        assert_eq!(inserted(Variant::Single, ""), "\n");
    }

    #[test]
    fn the_program_is_the_completed_file_then_the_tests() {
        let t = task(Variant::Single, row());
        let p = program(&t, "    total += sum(xs)\n");
        assert!(p.starts_with(
            "def f(xs):\n    total = 0\n    total += sum(xs)\n    return total\n\ndef check"
        ));
        assert!(p.ends_with("check(f)\n"), "{p}");
    }

    #[test]
    fn spread_takes_evenly_and_keeps_order() {
        let v: Vec<u32> = (0..10).collect();
        assert_eq!(spread(v.clone(), Some(3)), vec![0, 3, 6]);
        assert_eq!(spread(v.clone(), Some(20)), v);
        assert_eq!(spread(v.clone(), None), v);
        assert!(spread(v, Some(0)).is_empty());
    }

    #[test]
    fn names_round_trip() {
        for v in Variant::ALL {
            assert_eq!(Variant::parse(v.name()), Some(v));
        }
        assert_eq!(Variant::parse("SingleLine"), None);
    }
}
