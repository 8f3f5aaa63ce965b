//! Precision and recall per CWE on the labelled corpus in `tests/corpus`.
//!
//! Every file starts with `# expect: CWE-N` or `// expect: none`. A vulnerable file counts a
//! true positive when a finding with its CWE is reported, a false negative otherwise; every
//! reported CWE that the file does not expect (including any finding on a fixed file) counts a
//! false positive for that CWE.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use hearth_codecheck::{check, try_check, Lang};

#[derive(Default, Clone, Copy)]
struct Counts {
    tp: u32,
    fp: u32,
    fn_: u32,
    vuln_files: u32,
    fixed_files: u32,
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        1.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

#[test]
fn corpus_precision_and_recall() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 120, "corpus has only {} files", files.len());

    let mut per: BTreeMap<u32, Counts> = BTreeMap::new();
    let mut langs: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut problems = Vec::new();
    for path in &files {
        let src = std::fs::read_to_string(path).unwrap();
        let lang = Lang::from_path(path).unwrap_or_else(|| panic!("language of {path:?}"));
        *langs.entry(lang.name()).or_default() += 1;
        let first = src.lines().next().unwrap();
        let label = first.split("expect:").nth(1).unwrap().trim();
        let expected: Option<u32> = label.strip_prefix("CWE-").map(|n| n.parse().unwrap());
        let findings = try_check(&src, lang).unwrap();
        let found: std::collections::BTreeSet<u32> = findings.iter().map(|f| f.cwe).collect();
        let name = path.file_name().unwrap().to_string_lossy();
        // The file name carries the CWE of the pair it belongs to.
        let pair_cwe: u32 = name[3..].split('-').next().unwrap().parse().unwrap();
        match expected {
            Some(cwe) => {
                assert_eq!(cwe, pair_cwe, "{name}: label and name disagree");
                let c = per.entry(cwe).or_default();
                c.vuln_files += 1;
                if found.contains(&cwe) {
                    c.tp += 1;
                } else {
                    c.fn_ += 1;
                    problems.push(format!("MISSED  {name}: expected CWE-{cwe}, got {found:?}"));
                }
            }
            None => per.entry(pair_cwe).or_default().fixed_files += 1,
        }
        for f in &findings {
            if Some(f.cwe) != expected {
                per.entry(f.cwe).or_default().fp += 1;
                problems.push(format!(
                    "FALSE+  {name}:{}: CWE-{} {} ({})",
                    f.line, f.cwe, f.rule_id, f.snippet
                ));
            }
        }
    }

    let mut total = Counts::default();
    println!(
        "\n{:<8} {:>5} {:>5} {:>4} {:>4} {:>4} {:>9} {:>7}",
        "CWE", "vuln", "fixed", "TP", "FP", "FN", "precision", "recall"
    );
    for (cwe, c) in &per {
        println!(
            "CWE-{:<4} {:>5} {:>5} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
            cwe,
            c.vuln_files,
            c.fixed_files,
            c.tp,
            c.fp,
            c.fn_,
            ratio(c.tp, c.tp + c.fp),
            ratio(c.tp, c.tp + c.fn_)
        );
        total.tp += c.tp;
        total.fp += c.fp;
        total.fn_ += c.fn_;
        total.vuln_files += c.vuln_files;
        total.fixed_files += c.fixed_files;
    }
    println!(
        "{:<8} {:>5} {:>5} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
        "overall",
        total.vuln_files,
        total.fixed_files,
        total.tp,
        total.fp,
        total.fn_,
        ratio(total.tp, total.tp + total.fp),
        ratio(total.tp, total.tp + total.fn_)
    );
    println!("files per language: {langs:?}");
    for p in &problems {
        println!("{p}");
    }

    for (cwe, c) in &per {
        assert!(
            c.vuln_files >= 5 && c.fixed_files >= 5,
            "CWE-{cwe}: fewer than 5 pairs"
        );
        let p = ratio(c.tp, c.tp + c.fp);
        let r = ratio(c.tp, c.tp + c.fn_);
        assert!(p >= 0.9, "CWE-{cwe}: precision {p:.3} < 0.9");
        assert!(r >= 0.9, "CWE-{cwe}: recall {r:.3} < 0.9");
    }
    assert!(ratio(total.tp, total.tp + total.fp) >= 0.9);
    assert!(ratio(total.tp, total.tp + total.fn_) >= 0.9);
    let required = [89, 78, 94, 22, 798, 502, 327, 328, 338, 295, 918, 79];
    for cwe in required {
        assert!(per.contains_key(&cwe), "no corpus cases for CWE-{cwe}");
    }
}

#[test]
fn findings_carry_position_snippet_and_message() {
    let src = "import os\n\ndef f(x):\n    os.system('rm ' + x)\n";
    let f = check(src, Lang::Python);
    assert_eq!(f.len(), 1, "{f:?}");
    let f = &f[0];
    assert_eq!((f.cwe, f.line, f.column), (78, 4, 5));
    assert_eq!(f.rule_id, "os-command-injection");
    assert_eq!(f.snippet, "os.system('rm ' + x)");
    assert!(f.message.contains("CWE-78"));
}

#[test]
fn hostile_inputs_do_not_panic() {
    let deep = "(".repeat(50_000);
    let long_line = "x = ".to_string() + &"\"a\" + ".repeat(20_000) + "b";
    let garbage: String = (0..20_000u32)
        .map(|i| char::from(b' ' + (i * 7 % 90) as u8))
        .collect();
    for lang in Lang::ALL {
        for src in [
            deep.as_str(),
            long_line.as_str(),
            garbage.as_str(),
            "",
            "\0\0\0",
        ] {
            let _ = check(src, lang);
        }
    }
    let huge = "a".repeat(hearth_codecheck::MAX_SOURCE_BYTES + 1);
    assert!(try_check(&huge, Lang::C).is_err());
}

#[test]
fn every_grammar_loads() {
    for lang in Lang::ALL {
        try_check("", lang).unwrap_or_else(|e| panic!("{lang}: {e}"));
    }
}
