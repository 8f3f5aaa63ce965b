//! Redaction speed and false findings on clean code.
//!
//!   cargo run --release -p hearth-redact --example redact-bench -- DIR...
//!
//! Walks the directories for source files (.py .rs .js .ts .go .java .c .h .toml .json .yaml
//! .md), then (1) redacts every file whole and reports findings per MB by rule (on clean
//! code every finding is a false one), and (2) cuts the text into 32 KB prompts, plants three
//! keys in each, and reports the redaction time per prompt (p50, p99, max) over 500 prompts.
use std::path::{Path, PathBuf};
use std::time::Instant;

use hearth_redact::Redactor;

const EXTS: &[&str] = &[
    "py", "rs", "js", "ts", "go", "java", "c", "h", "toml", "json", "yaml", "yml", "md",
];

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            walk(&p, out);
        } else if ft.is_file()
            && p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| EXTS.contains(&x))
        {
            out.push(p);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dirs: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if dirs.is_empty() {
        return Err("usage: redact-bench DIR...".into());
    }
    let mut files = Vec::new();
    for d in &dirs {
        walk(d, &mut files);
    }
    files.sort();
    let t = Instant::now();
    let r = Redactor::builder()
        .deadline(std::time::Duration::from_secs(600))
        .build()?;
    println!(
        "compiled the rules in {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let mut bytes = 0usize;
    let mut by_rule: std::collections::BTreeMap<String, usize> = Default::default();
    let mut examples: Vec<String> = Vec::new();
    let mut corpus = String::new();
    let t = Instant::now();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        bytes += text.len();
        let mut req = r.request();
        let out = req.redact(&text)?;
        for fi in req.findings() {
            *by_rule.entry(fi.rule.clone()).or_default() += fi.count;
            if examples.len() < 20 {
                let line = out
                    .lines()
                    .find(|l| l.contains("HEARTH_") || l.contains(".invalid"))
                    .unwrap_or_default();
                examples.push(format!("{}: {} | {}", f.display(), fi.rule, line.trim()));
            }
        }
        if corpus.len() < 40 << 20 {
            corpus.push_str(&text);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let mb = bytes as f64 / 1e6;
    let total: usize = by_rule.values().sum();
    println!(
        "{} files, {mb:.1} MB in {secs:.1} s ({:.1} MB/s): {total} findings = {:.2} per MB",
        files.len(),
        mb / secs,
        total as f64 / mb
    );
    for (rule, n) in &by_rule {
        println!("  {n:>6}  {rule}");
    }
    for e in &examples {
        println!("  e.g. {e}");
    }
    // 32 KB prompts with three planted keys each.
    let planted = [
        "\nOPENAI_API_KEY=sk-proj-Qm4R7tX2vB9nL3kP8wZ5yC1dF6hJ0sA4eG7uI2oT3BlbkFJ8mN5bV2cX9zL4kQ7wR1tY6uP3sD0fG\n",
        "\naws_access_key_id = AKIAZ7Q4MR2XKJ5TWB3N\n",
        "\ntoken: ghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u\n",
    ];
    let mut times = Vec::new();
    let mut missed = 0;
    let chars: Vec<(usize, char)> = corpus.char_indices().collect();
    let mut at = 0;
    for _ in 0..500 {
        if chars.len() < 40_000 {
            break;
        }
        if at + 33_000 >= chars.len() {
            at = 0;
        }
        let start = chars[at].0;
        let end = chars[at + 32_000].0;
        at += 32_000;
        let mut prompt = corpus[start..end].to_string();
        for (i, p) in planted.iter().enumerate() {
            let pos = prompt.len() * (i + 1) / 4;
            let pos = (pos..prompt.len())
                .find(|&j| prompt.is_char_boundary(j))
                .unwrap_or(prompt.len());
            prompt.insert_str(pos, p);
        }
        let t = Instant::now();
        let mut req = r.request();
        let out = req.redact(&prompt)?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
        if out.contains("ghp_R8x2") || out.contains("AKIAZ7Q4") || out.contains("sk-proj-Qm4R") {
            missed += 1;
        }
    }
    times.sort_by(f64::total_cmp);
    if !times.is_empty() {
        let q = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
        println!(
            "{} prompts of 32 KB: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms; planted keys missed in {missed}",
            times.len(),
            q(0.5),
            q(0.99),
            q(1.0)
        );
    }
    Ok(())
}
