//! Summaries: pass@1 with a 95% Wilson interval, and how two runs on the same problems agree.

use serde::Serialize;

use crate::log::Record;

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
    /// Seconds the model spent answering, summed (an earlier run's included when resumed).
    pub model_s: f64,
    /// Seconds the sandboxed tests took, summed.
    pub test_s: f64,
    /// Published figures for this model and suite, labelled with their source.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<Published>,
}

/// A figure someone else measured.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    pub pass_at_1: f64,
    pub source: &'static str,
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
            source: QWEN_REPORT,
        })
        .collect()
}

impl Summary {
    pub fn of(model: &str, suite: &str, records: &[Record]) -> Summary {
        let n = records.len();
        let passed = records.iter().filter(|r| r.verdict.passed()).count();
        let (lo, hi) = wilson(passed, n);
        Summary {
            model: model.to_string(),
            suite: suite.to_string(),
            problems: n,
            passed,
            pass_at_1: percent(passed, n),
            ci95: [lo * 100.0, hi * 100.0],
            model_s: records.iter().map(|r| r.model_s).sum(),
            test_s: records.iter().map(|r| r.test_s).sum(),
            published: if suite == "humaneval" {
                published_humaneval(model)
            } else {
                Vec::new()
            },
        }
    }
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
pub fn table(summaries: &[Summary]) -> String {
    let mut s = format!(
        "{:<44} {:<10} {:>9} {:>8} {:>15} {:>9}\n",
        "MODEL", "SUITE", "PASSED", "PASS@1", "95% INTERVAL", "MODEL S"
    );
    for m in summaries {
        s.push_str(&format!(
            "{:<44} {:<10} {:>9} {:>7.1}% {:>6.1}%–{:>5.1}% {:>9.0}\n",
            m.model,
            m.suite,
            format!("{}/{}", m.passed, m.problems),
            m.pass_at_1,
            m.ci95[0],
            m.ci95[1],
            m.model_s
        ));
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
    use crate::exec::Verdict;

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
        let g = Agreement::of(("a", &a), ("b", &b));
        assert_eq!((g.common, g.same_verdict, g.identical_answers), (3, 1, 1));
        assert_eq!(g.baseline_only, vec!["2"]);
        assert_eq!(g.other_only, vec!["1"]);
        assert!(table(&[s]).contains("2/3"));
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
