//! Summaries: pass@1 with a 95% Wilson interval, and how two runs on the same problems agree;
//! the whole report (what `--json` writes and `--html` draws).

use serde::Serialize;

use crate::exec::Verdict;
use crate::log::Record;

/// Everything one `hearth eval` found: written as JSON (its schema is
/// `crates/hearth-eval/schema/report.schema.json`) and drawn as HTML.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The hearth version that measured.
    pub hearth: String,
    pub suite: String,
    pub data: DataInfo,
    pub machine: Machine,
    /// The instruction ([`crate::ANSWER_STYLE`]) and the scoring ([`crate::SCORER`]).
    pub answer_style: String,
    pub scorer: String,
    pub max_tokens: u32,
    pub runs: Vec<Run>,
    /// Every run after the first against the first.
    pub agreement: Vec<Agreement>,
}

/// Chat is realistic at this HumanEval pass@1 (percent) or better: about where
/// Qwen2.5-Coder-1.5B-Instruct's published figure starts to be useful for everyday functions.
pub const CHAT_MIN_PASS: f64 = 50.0;
/// ... and at this many tokens per second of answering or more (faster than people read).
pub const CHAT_MIN_TOK_S: f64 = 10.0;

/// Autocomplete is realistic at this infilling pass@1 (percent) or better: a suggestion that
/// runs at least every other time is worth a glance, one that fails more often costs more
/// attention than it saves.
pub const AUTOCOMPLETE_MIN_PASS: f64 = 50.0;
/// ... and when the median suggestion is complete within this many seconds (the whole
/// suggestion, as an editor shows it; keystrokes come every ~0.2 s, and half a second is about
/// where a suggestion stops feeling like part of typing).
pub const AUTOCOMPLETE_MAX_P50_S: f64 = 0.5;

/// Agent edits are realistic at this share (percent) of the Aider polyglot exercises solved
/// within two tries or better: the exercises are Exercism's hardest, and models people did
/// drive agents with sit just above it on Aider's leaderboard (gpt-4o-2024-11-20 18.2%,
/// Qwen2.5-Coder-32B-Instruct 16.4%, whole benchmark).
pub const EDIT_MIN_SOLVED: f64 = 15.0;

/// Whether a model is realistic for one use on this machine, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Judgement {
    pub use_case: &'static str,
    /// `None`: this run did not measure what the use needs.
    pub realistic: Option<bool>,
    pub why: String,
}

impl Judgement {
    /// The verdict in a word: `yes`, `no` or `not measured`.
    pub fn word(&self) -> &'static str {
        match self.realistic {
            Some(true) => "yes",
            Some(false) => "no",
            None => "not measured",
        }
    }
}

/// The verdict per use (chat, autocomplete, agent edits) from one run, thresholds stated.
pub fn judge(s: &Summary) -> Vec<Judgement> {
    let chat = if s.suite == "humaneval" {
        let fast = s.answer_tok_s.map(|t| t >= CHAT_MIN_TOK_S);
        let good = s.pass_at_1 >= CHAT_MIN_PASS;
        let speed = s
            .answer_tok_s
            .map_or_else(|| "speed unknown".to_string(), |t| format!("{t:.1} tok/s"));
        Judgement {
            use_case: "chat",
            realistic: fast.map(|f| f && good),
            why: format!(
                "HumanEval pass@1 {:.1}% (needs ≥ {CHAT_MIN_PASS:.0}%), {speed} (needs ≥ \
                 {CHAT_MIN_TOK_S:.0})",
                s.pass_at_1
            ),
        }
    } else {
        not_measured("chat", "needs the humaneval suite")
    };
    let autocomplete = if let Some(variant) = s.suite.strip_prefix("fim-") {
        let good = s.pass_at_1 >= AUTOCOMPLETE_MIN_PASS;
        let fast = s.answer_s_p50 <= AUTOCOMPLETE_MAX_P50_S;
        Judgement {
            use_case: "autocomplete",
            realistic: Some(good && fast),
            why: format!(
                "infilling ({variant}) pass@1 {:.1}% (needs ≥ {AUTOCOMPLETE_MIN_PASS:.0}%), median \
                 suggestion {:.2} s (needs ≤ {AUTOCOMPLETE_MAX_P50_S} s; each task is a new file, \
                 so nothing of its prompt is cached, unlike typing on in one file)",
                s.pass_at_1, s.answer_s_p50
            ),
        }
    } else {
        not_measured("autocomplete", "needs the fim suite")
    };
    let edits = if let Some(format) = s.suite.strip_prefix("edit-") {
        let fast = s.answer_tok_s.map(|t| t >= CHAT_MIN_TOK_S);
        let good = s.pass_at_1 >= EDIT_MIN_SOLVED;
        let speed = s
            .answer_tok_s
            .map_or_else(|| "speed unknown".to_string(), |t| format!("{t:.1} tok/s"));
        Judgement {
            use_case: "agent edits",
            realistic: fast.map(|f| f && good),
            why: format!(
                "Aider polyglot exercises ({format} format) solved within two tries {:.1}% \
                 (needs ≥ {EDIT_MIN_SOLVED:.0}%), {speed} (needs ≥ {CHAT_MIN_TOK_S:.0})",
                s.pass_at_1
            ),
        }
    } else {
        not_measured("agent edits", "needs the edit suite")
    };
    vec![autocomplete, chat, edits]
}

fn not_measured(use_case: &'static str, why: &str) -> Judgement {
    Judgement {
        use_case,
        realistic: None,
        why: why.to_string(),
    }
}

/// The problems a report's runs answered.
#[derive(Debug, Clone, Serialize)]
pub struct DataInfo {
    pub path: String,
    pub sha256: String,
    pub problems: usize,
}

/// The machine that measured.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub logical_cores: u32,
    pub ram_bytes: u64,
    pub gpus: Vec<String>,
}

/// One model's summary and every problem's result.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    #[serde(flatten)]
    pub summary: Summary,
    /// The verdict per use, from [`judge`].
    pub verdicts: Vec<Judgement>,
    /// Every problem's result, in order.
    pub results: Vec<ProblemResult>,
}

/// One problem's result, without the answer's text (that stays in the result log).
#[derive(Debug, Clone, Serialize)]
pub struct ProblemResult {
    pub task_id: String,
    pub passed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub model_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u32>,
    /// Whether the answer was the masked text (infilling suites).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<bool>,
    /// Edit suites: each try.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tries: Vec<crate::log::Try>,
}

impl Run {
    pub fn of(label: &str, suite: &str, records: &[Record]) -> Run {
        let summary = Summary::of(label, suite, records);
        Run {
            verdicts: judge(&summary),
            summary,
            results: records
                .iter()
                .map(|r| ProblemResult {
                    task_id: r.task_id.clone(),
                    passed: r.verdict.passed(),
                    reason: match &r.verdict {
                        Verdict::Failed { reason } => Some(reason.clone()),
                        Verdict::Passed => None,
                    },
                    model_s: r.model_s,
                    tokens: r.tokens,
                    exact: r.exact,
                    tries: r.tries.clone(),
                })
                .collect(),
        }
    }
}

/// One model's results on one suite.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Who answered (a model name, or `NAME=URL`).
    pub model: String,
    pub suite: String,
    pub problems: usize,
    pub passed: usize,
    /// `passed / problems`, in percent.
    pub pass_at_1: f64,
    /// 95% Wilson score interval of pass@1, in percent.
    pub ci95: [f64; 2],
    /// Share of answers that were exactly the reference text, in percent (infilling suites).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact_match: Option<f64>,
    /// Edit suites: the share solved on the first try, in percent (`pass_at_1` counts both
    /// tries, as Aider's leaderboard does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solved_first_try: Option<f64>,
    /// Edit suites: the share of answers (every try) whose edits could not be applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malformed: Option<f64>,
    /// Seconds the model spent answering, summed (an earlier run's included when resumed).
    pub model_s: f64,
    /// Seconds the sandboxed tests took, summed.
    pub test_s: f64,
    /// Tokens generated per second of answering (prompt processing included), over the
    /// answers whose length in tokens the server reported.
    pub answer_tok_s: Option<f64>,
    /// Seconds per answer: median and 90th percentile.
    pub answer_s_p50: f64,
    pub answer_s_p90: f64,
    /// With several sampled answers per problem (task ids `P#i`): the unbiased pass@k
    /// estimate for each k up to the samples per problem (1, 10, 100).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pass_at_k: Vec<PassAtK>,
    /// Published figures for this model and suite, labelled with their source.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<Published>,
}

/// pass@k of a sampled run, in percent.
#[derive(Debug, Clone, Serialize)]
pub struct PassAtK {
    pub k: u32,
    pub percent: f64,
    /// Samples per problem it was estimated from.
    pub samples: u32,
}

/// The unbiased estimate of pass@k from `n` samples of which `c` passed (Chen et al. 2021,
/// "Evaluating Large Language Models Trained on Code"): 1 - C(n-c, k) / C(n, k), computed as a
/// product so that it does not overflow.
pub fn pass_at_k(n: u32, c: u32, k: u32) -> f64 {
    if k == 0 || n < k {
        return 0.0;
    }
    if n - c.min(n) < k {
        return 1.0;
    }
    let fail: f64 = ((n - c + 1)..=n)
        .map(|i| 1.0 - f64::from(k) / f64::from(i))
        .product();
    1.0 - fail
}

/// pass@k over problems sampled as `P#i`: k = 1, 10, 100 where every problem has k samples.
fn sampled_pass_at_k(records: &[Record]) -> Vec<PassAtK> {
    let mut per: Vec<(&str, u32, u32)> = Vec::new();
    for r in records {
        let Some((base, _)) = r.task_id.rsplit_once('#') else {
            return Vec::new();
        };
        match per.iter_mut().find(|(b, _, _)| *b == base) {
            Some((_, n, c)) => {
                *n += 1;
                *c += u32::from(r.verdict.passed());
            }
            None => per.push((base, 1, u32::from(r.verdict.passed()))),
        }
    }
    let Some(n_min) = per.iter().map(|(_, n, _)| *n).min() else {
        return Vec::new();
    };
    if n_min < 2 {
        return Vec::new();
    }
    [1, 10, 100]
        .into_iter()
        .filter(|&k| k <= n_min)
        .map(|k| PassAtK {
            k,
            percent: 100.0 * per.iter().map(|&(_, n, c)| pass_at_k(n, c, k)).sum::<f64>()
                / per.len() as f64,
            samples: n_min,
        })
        .collect()
}

/// A figure someone else measured.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub pass_at_1: f64,
    pub source: String,
}

/// Qwen2.5-Coder technical report (arXiv 2409.12186), HumanEval pass@1 of the instruct models
/// (the sizes whose figures the project has checked).
const QWEN_REPORT: &str = "Qwen2.5-Coder technical report, HumanEval, instruct (bf16)";

/// Published HumanEval figures for a model named like `name` (a file name or model name).
pub fn published_humaneval(name: &str) -> Vec<Published> {
    let n = name.to_ascii_lowercase().replace(['_', ' '], "-");
    if !n.contains("qwen2.5-coder") {
        return Vec::new();
    }
    let table = [
        ("-0.5b", 61.6),
        ("-1.5b", 70.7),
        ("-7b", 88.4),
        ("-32b", 92.7),
    ];
    table
        .iter()
        .filter(|(size, _)| n.contains(size))
        .map(|&(_, pass_at_1)| Published {
            pass_at_1,
            source: QWEN_REPORT.to_string(),
        })
        .collect()
}

/// Aider's polyglot leaderboard (aider/website/_data/polyglot_leaderboard.yml in
/// Aider-AI/aider): its Qwen2.5-Coder entries, for the format they were run with. They cover
/// the whole benchmark (225 exercises in six languages), not only the Python ones, and only
/// the 32B model was run: shown beside any Qwen2.5-Coder model's edit suite as the ceiling of
/// the family, labelled as such.
pub fn published_edit(name: &str, format: &str) -> Vec<Published> {
    let n = name.to_ascii_lowercase().replace(['_', ' '], "-");
    if !n.contains("qwen2.5-coder") {
        return Vec::new();
    }
    let entry = match format {
        "whole" => (16.4, "whole format, 2024-12-26"),
        "diff" => (8.0, "diff format, 2024-12-22"),
        _ => return Vec::new(),
    };
    vec![Published {
        pass_at_1: entry.0,
        source: format!(
            "Aider polyglot leaderboard, Qwen2.5-Coder-32B-Instruct, all 225 exercises in six \
             languages, {}",
            entry.1
        ),
    }]
}

impl Summary {
    pub fn of(model: &str, suite: &str, records: &[Record]) -> Summary {
        let n = records.len();
        let passed = records.iter().filter(|r| r.verdict.passed()).count();
        let (lo, hi) = wilson(passed, n);
        let (tokens, token_s) = records
            .iter()
            .filter_map(|r| Some((f64::from(r.tokens?), r.model_s)))
            .fold((0.0, 0.0), |(t, s), (rt, rs)| (t + rt, s + rs));
        let mut secs: Vec<f64> = records.iter().map(|r| r.model_s).collect();
        secs.sort_by(f64::total_cmp);
        Summary {
            model: model.to_string(),
            suite: suite.to_string(),
            problems: n,
            passed,
            pass_at_1: percent(passed, n),
            ci95: [lo * 100.0, hi * 100.0],
            exact_match: {
                let judged: Vec<bool> = records.iter().filter_map(|r| r.exact).collect();
                (!judged.is_empty())
                    .then(|| percent(judged.iter().filter(|&&e| e).count(), judged.len()))
            },
            solved_first_try: records.iter().any(|r| !r.tries.is_empty()).then(|| {
                let first = records
                    .iter()
                    .filter(|r| r.tries.first().is_some_and(|t| t.passed))
                    .count();
                percent(first, n)
            }),
            malformed: {
                let tries: Vec<bool> = records
                    .iter()
                    .flat_map(|r| r.tries.iter().map(|t| t.malformed))
                    .collect();
                (!tries.is_empty())
                    .then(|| percent(tries.iter().filter(|&&m| m).count(), tries.len()))
            },
            model_s: records.iter().map(|r| r.model_s).sum(),
            test_s: records.iter().map(|r| r.test_s).sum(),
            answer_tok_s: (token_s > 0.0).then(|| tokens / token_s),
            answer_s_p50: quantile(&secs, 0.5),
            answer_s_p90: quantile(&secs, 0.9),
            pass_at_k: sampled_pass_at_k(records),
            published: match suite.strip_prefix("edit-") {
                _ if suite == "humaneval" => published_humaneval(model),
                Some(format) => published_edit(model, format),
                None => Vec::new(),
            },
        }
    }
}

/// The `q` quantile of sorted values (nearest rank); 0 for none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn percent(k: usize, n: usize) -> f64 {
    if n == 0 {
        0.0
    } else {
        100.0 * k as f64 / n as f64
    }
}

/// 95% Wilson score interval of `k` successes in `n` trials.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 0.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * ((p * (1.0 - p) / n) + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// How a run compares with a baseline run on the same problems.
#[derive(Debug, Clone, Serialize)]
pub struct Agreement {
    pub baseline: String,
    pub other: String,
    /// Problems both runs have.
    pub common: usize,
    /// Same verdict.
    pub same_verdict: usize,
    /// Byte-identical answers.
    pub identical_answers: usize,
    /// Passed by the baseline only, and by the other only (task ids).
    pub baseline_only: Vec<String>,
    pub other_only: Vec<String>,
}

impl Agreement {
    pub fn of(baseline: (&str, &[Record]), other: (&str, &[Record])) -> Agreement {
        let mut a = Agreement {
            baseline: baseline.0.to_string(),
            other: other.0.to_string(),
            common: 0,
            same_verdict: 0,
            identical_answers: 0,
            baseline_only: Vec::new(),
            other_only: Vec::new(),
        };
        for b in baseline.1 {
            let Some(o) = other.1.iter().find(|o| o.task_id == b.task_id) else {
                continue;
            };
            a.common += 1;
            a.identical_answers += usize::from(b.answer == o.answer);
            match (b.verdict.passed(), o.verdict.passed()) {
                (x, y) if x == y => a.same_verdict += 1,
                (true, false) => a.baseline_only.push(b.task_id.clone()),
                _ => a.other_only.push(b.task_id.clone()),
            }
        }
        a
    }
}

/// The terminal table: one line per summary, published figures below their model.
pub fn table<'a>(summaries: impl IntoIterator<Item = &'a Summary>) -> String {
    let mut s = format!(
        "{:<44} {:<12} {:>9} {:>8} {:>15} {:>6} {:>9} {:>11} {:>7}\n",
        "MODEL",
        "SUITE",
        "PASSED",
        "PASS@1",
        "95% INTERVAL",
        "EXACT",
        "MODEL S",
        "ANSWER P50",
        "TOK/S"
    );
    for m in summaries {
        let tok_s = m
            .answer_tok_s
            .map_or_else(|| "-".to_string(), |t| format!("{t:.1}"));
        let exact = m
            .exact_match
            .map_or_else(|| "-".to_string(), |e| format!("{e:.1}%"));
        s.push_str(&format!(
            "{:<44} {:<12} {:>9} {:>7.1}% {:>6.1}%–{:>5.1}% {:>6} {:>9.0} {:>10.2}s {:>7}\n",
            m.model,
            m.suite,
            format!("{}/{}", m.passed, m.problems),
            m.pass_at_1,
            m.ci95[0],
            m.ci95[1],
            exact,
            m.model_s,
            m.answer_s_p50,
            tok_s
        ));
        for p in &m.pass_at_k {
            s.push_str(&format!(
                "  pass@{}: {:.1}% ({} samples per problem)\n",
                p.k, p.percent, p.samples
            ));
        }
        if let (Some(first), Some(bad)) = (m.solved_first_try, m.malformed) {
            s.push_str(&format!(
                "  solved on the first try: {first:.1}%; answers with malformed edits: {bad:.1}%\n"
            ));
        }
        for p in &m.published {
            s.push_str(&format!(
                "  published: {:.1}% ({})\n",
                p.pass_at_1, p.source
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, pass: bool, answer: &str) -> Record {
        Record {
            task_id: id.into(),
            verdict: if pass {
                Verdict::Passed
            } else {
                Verdict::Failed { reason: "x".into() }
            },
            answer: answer.into(),
            model_s: 2.0,
            test_s: 0.5,
            tokens: Some(20),
            scorer: crate::SCORER.into(),
            exact: None,
            tries: Vec::new(),
        }
    }

    #[test]
    fn wilson_matches_a_known_interval() {
        // 91/164 (llama.cpp's 0.5B figure in the issue): 47.9% – 62.9%.
        let (lo, hi) = wilson(91, 164);
        assert!(
            (lo - 0.4787).abs() < 1e-3 && (hi - 0.6287).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0), (0.0, 0.0));
        let (lo, hi) = wilson(10, 10);
        assert!(lo > 0.72 && hi > 0.999_999, "{lo} {hi}");
    }

    #[test]
    fn summary_and_agreement() {
        let a = [
            rec("0", true, "x"),
            rec("1", false, "y"),
            rec("2", true, "z"),
        ];
        let b = [
            rec("0", true, "x"),
            rec("1", true, "w"),
            rec("2", false, "z2"),
        ];
        let s = Summary::of("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "humaneval", &a);
        assert_eq!((s.passed, s.problems), (2, 3));
        assert!((s.pass_at_1 - 66.666).abs() < 0.01);
        assert_eq!(s.published[0].pass_at_1, 61.6);
        assert_eq!(s.answer_tok_s, Some(10.0));
        assert_eq!((s.answer_s_p50, s.answer_s_p90), (2.0, 2.0));
        let g = Agreement::of(("a", &a), ("b", &b));
        assert_eq!((g.common, g.same_verdict, g.identical_answers), (3, 1, 1));
        assert_eq!(g.baseline_only, vec!["2"]);
        assert_eq!(g.other_only, vec!["1"]);
        assert!(table(&[s]).contains("2/3"));
    }

    #[test]
    fn the_chat_verdict_needs_both_quality_and_speed() {
        let run = |passes: usize, tokens: Option<u32>| {
            let recs: Vec<Record> = (0..10)
                .map(|i| Record {
                    tokens,
                    ..rec(&i.to_string(), i < passes, "x")
                })
                .collect();
            let s = Summary::of("m", "humaneval", &recs);
            judge(&s)
                .into_iter()
                .find(|j| j.use_case == "chat")
                .unwrap()
        };
        // 2 s per answer: 40 tokens is 20 tok/s, 10 tokens 5 tok/s.
        assert_eq!(run(6, Some(40)).realistic, Some(true));
        assert_eq!(run(4, Some(40)).realistic, Some(false));
        assert_eq!(run(6, Some(10)).realistic, Some(false));
        assert_eq!(run(6, None).realistic, None);
        assert!(
            run(6, Some(40)).why.contains("60.0%"),
            "{}",
            run(6, Some(40)).why
        );
        let other = judge(&Summary::of("m", "other", &[]));
        assert!(other.iter().all(|j| j.realistic.is_none()));
    }

    #[test]
    fn the_autocomplete_verdict_needs_infilling_quality_and_latency() {
        let run = |passes: usize, secs: f64| {
            let recs: Vec<Record> = (0..10)
                .map(|i| Record {
                    model_s: secs,
                    exact: Some(i < 3),
                    ..rec(&i.to_string(), i < passes, "x")
                })
                .collect();
            let s = Summary::of("m", "fim-single", &recs);
            assert_eq!(s.exact_match, Some(30.0));
            judge(&s)
                .into_iter()
                .find(|j| j.use_case == "autocomplete")
                .unwrap()
        };
        assert_eq!(run(6, 0.3).realistic, Some(true));
        assert_eq!(run(4, 0.3).realistic, Some(false));
        assert_eq!(run(6, 0.9).realistic, Some(false));
        assert!(run(6, 0.3).why.contains("(single)"), "{}", run(6, 0.3).why);
        let chat = Summary::of("m", "humaneval", &[rec("0", true, "x")]);
        assert_eq!(chat.exact_match, None);
        assert_eq!(judge(&chat)[0].realistic, None);
    }

    #[test]
    fn edit_summaries_count_both_tries_and_malformed_answers() {
        use crate::log::Try;
        let t = |passed, malformed| Try { passed, malformed };
        let recs = [
            Record {
                tries: vec![t(true, false)],
                ..rec("a", true, "x")
            },
            Record {
                tries: vec![t(false, true), t(true, false)],
                ..rec("b", true, "x")
            },
            Record {
                tries: vec![t(false, false), t(false, true)],
                ..rec("c", false, "x")
            },
        ];
        let s = Summary::of("m", "edit-whole", &recs);
        assert!((s.pass_at_1 - 66.67).abs() < 0.01);
        assert!((s.solved_first_try.unwrap() - 33.33).abs() < 0.01);
        assert_eq!(s.malformed, Some(40.0));
        let j = judge(&s);
        assert_eq!(j[2].use_case, "agent edits");
        assert_eq!(j[2].realistic, Some(true), "{}", j[2].why);
        assert!(j[2].why.contains("(whole format)"), "{}", j[2].why);
        assert!(s.published.is_empty(), "no published figure for model m");
        let q = Summary::of(
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "edit-diff",
            &recs,
        );
        assert_eq!(q.published[0].pass_at_1, 8.0);
        assert!(q.published[0].source.contains("32B"));
        assert!(table(&[s]).contains("first try: 33.3%; answers with malformed edits: 40.0%"));
        let h = Summary::of("m", "humaneval", &[rec("a", true, "x")]);
        assert_eq!((h.solved_first_try, h.malformed), (None, None));
    }

    #[test]
    fn pass_at_k_matches_the_closed_form() {
        // n = 10, c = 3: pass@1 = 0.3, pass@10 = 1; pass@5 = 1 - C(7,5)/C(10,5) = 1 - 21/252.
        assert!((pass_at_k(10, 3, 1) - 0.3).abs() < 1e-12);
        assert_eq!(pass_at_k(10, 3, 10), 1.0);
        assert!((pass_at_k(10, 3, 5) - (1.0 - 21.0 / 252.0)).abs() < 1e-12);
        assert_eq!(pass_at_k(10, 0, 5), 0.0);
        assert_eq!(pass_at_k(3, 1, 5), 0.0, "fewer samples than k");
        // Large n does not overflow.
        assert!((pass_at_k(200, 100, 100) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn sampled_runs_report_pass_at_k() {
        let recs: Vec<Record> = (0..2)
            .flat_map(|p| (0..10).map(move |i| (p, i)))
            .map(|(p, i)| rec(&format!("H/{p}#{i}"), p == 0 && i < 5, "x"))
            .collect();
        let s = Summary::of("m", "humaneval", &recs);
        assert_eq!(s.pass_at_k.len(), 2);
        assert_eq!((s.pass_at_k[0].k, s.pass_at_k[0].samples), (1, 10));
        assert!((s.pass_at_k[0].percent - 25.0).abs() < 1e-9);
        assert!((s.pass_at_k[1].percent - 50.0).abs() < 1e-9);
        assert!(Summary::of("m", "humaneval", &recs[..1])
            .pass_at_k
            .is_empty());
    }

    #[test]
    fn quantiles_by_nearest_rank() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(quantile(&v, 0.5), 5.0);
        assert_eq!(quantile(&v, 0.9), 9.0);
        assert_eq!(quantile(&v, 1.0), 10.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }

    #[test]
    fn published_figures_only_for_the_right_size() {
        assert!(published_humaneval("qwen2.5-coder-1.5b-instruct-q4_k_m")[0].pass_at_1 == 70.7);
        assert!(published_humaneval("smollm2-135m").is_empty());
        assert_eq!(
            published_humaneval("Qwen2.5-Coder-32B-Instruct")[0].pass_at_1,
            92.7
        );
    }
}
