//! `hearth audit`: what hybrid routing sent out, summed from the server's audit log: per UTC
//! day and per project, attempts, failures, fallbacks, bytes and tokens out, cost; and which
//! redaction rules fired most. The log holds counts, never values.
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

/// Logs larger than this are refused (a year of heavy use is far smaller).
const MAX_LOG: u64 = 1 << 30;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The audit log (default: the routing policy's `[router] audit_log`, else
    /// `~/.hearth/route-audit.jsonl`).
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// Only records of this UTC day or later (`YYYY-MM-DD`).
    #[arg(long)]
    pub since: Option<String>,
    /// Print the sums as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Default, Serialize)]
struct Sums {
    attempts: u64,
    ok: u64,
    failed: u64,
    fell_back: u64,
    bytes_out: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_usd: f64,
}

impl Sums {
    fn add(&mut self, v: &Value) {
        let n = |k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
        self.attempts += 1;
        match v.get("status").and_then(Value::as_str) {
            Some("ok") => self.ok += 1,
            Some("cancelled") => {}
            _ => self.failed += 1,
        }
        if v.get("fallback").is_some_and(|f| !f.is_null()) && v["status"] != "ok" {
            self.fell_back += 1;
        }
        self.bytes_out += n("bytes_out");
        self.prompt_tokens += n("prompt_tokens");
        self.completion_tokens += n("completion_tokens");
        self.cost_usd += v.get("cost_usd").and_then(Value::as_f64).unwrap_or(0.0);
    }
}

#[derive(Debug, Default, Serialize)]
struct Report {
    total: Sums,
    by_day: BTreeMap<String, Sums>,
    by_project: BTreeMap<String, Sums>,
    by_upstream_model: BTreeMap<String, Sums>,
    /// Redactions per rule, most first.
    top_rules: Vec<(String, u64)>,
    /// Lines that are not audit records.
    skipped_lines: u64,
}

fn date_of(ts: u64) -> String {
    let (y, m, d) = hearth_route::civil_date(i64::try_from(ts / 86_400).unwrap_or(i64::MAX));
    format!("{y:04}-{m:02}-{d:02}")
}

fn default_log() -> Option<PathBuf> {
    if let Some(p) = hearth_route::default_policy_path().filter(|p| p.exists()) {
        if let Ok(policy) = hearth_route::Policy::load(&p) {
            if let Some(l) = policy.router.audit_log {
                return Some(PathBuf::from(l));
            }
        }
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".hearth/route-audit.jsonl"))
}

fn report(text: &str, since: Option<&str>) -> Report {
    let mut r = Report::default();
    let mut rules: BTreeMap<String, u64> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            r.skipped_lines += 1;
            continue;
        };
        let Some(ts) = v.get("ts").and_then(Value::as_u64) else {
            r.skipped_lines += 1;
            continue;
        };
        let day = date_of(ts);
        if since.is_some_and(|s| day.as_str() < s) {
            continue;
        }
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
        r.total.add(&v);
        r.by_day.entry(day).or_default().add(&v);
        let project = v
            .get("project")
            .and_then(Value::as_str)
            .unwrap_or("(none)")
            .to_string();
        r.by_project.entry(project).or_default().add(&v);
        r.by_upstream_model
            .entry(format!("{}:{}", s("upstream"), s("model")))
            .or_default()
            .add(&v);
        if let Some(m) = v.get("redactions").and_then(Value::as_object) {
            for (rule, c) in m {
                *rules.entry(rule.clone()).or_default() += c.as_u64().unwrap_or(0);
            }
        }
    }
    let mut top: Vec<(String, u64)> = rules.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    r.top_rules = top;
    r
}

fn table(out: &mut impl Write, title: &str, rows: &BTreeMap<String, Sums>) -> std::io::Result<()> {
    writeln!(
        out,
        "{title:<24} {:>8} {:>6} {:>6} {:>9} {:>10} {:>10} {:>10}",
        "attempts", "ok", "failed", "fallback", "tokens in", "tokens out", "cost $"
    )?;
    for (k, s) in rows {
        writeln!(
            out,
            "{k:<24} {:>8} {:>6} {:>6} {:>9} {:>10} {:>10} {:>10.4}",
            s.attempts,
            s.ok,
            s.failed,
            s.fell_back,
            s.prompt_tokens,
            s.completion_tokens,
            s.cost_usd
        )?;
    }
    writeln!(out)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = args
        .log
        .or_else(default_log)
        .context("no audit log given and no HOME")?;
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(
            std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?,
            MAX_LOG,
        ),
        &mut text,
    )
    .with_context(|| format!("reading {}", path.display()))?;
    let r = report(&text, args.since.as_deref());
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &r)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    table(&mut out, "day (UTC)", &r.by_day)?;
    table(&mut out, "project", &r.by_project)?;
    table(&mut out, "upstream:model", &r.by_upstream_model)?;
    writeln!(
        out,
        "total: {} attempts, {} bytes out, ${:.4}",
        r.total.attempts, r.total.bytes_out, r.total.cost_usd
    )?;
    if !r.top_rules.is_empty() {
        let top: Vec<String> = r
            .top_rules
            .iter()
            .take(10)
            .map(|(k, c)| format!("{k} {c}"))
            .collect();
        writeln!(out, "redactions: {}", top.join(", "))?;
    }
    if r.skipped_lines > 0 {
        tracing::warn!(
            lines = r.skipped_lines,
            "lines that are not audit records were skipped"
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sums_per_day_project_and_rule() {
        let day = 20_794u64 * 86_400;
        let log = format!(
            "{{\"ts\":{day},\"project\":\"acme\",\"upstream\":\"up\",\"model\":\"big\",\"status\":\"ok\",\"bytes_out\":100,\"prompt_tokens\":10,\"completion_tokens\":5,\"cost_usd\":0.5,\"redactions\":{{\"github-token\":2}},\"fallback\":\"local\"}}\n\
             {{\"ts\":{},\"upstream\":\"up\",\"model\":\"big\",\"status\":\"http 500\",\"bytes_out\":100,\"prompt_tokens\":null,\"cost_usd\":null,\"redactions\":{{\"github-token\":1,\"url-password\":3}},\"fallback\":\"local\"}}\n\
             garbage\n",
            day + 86_400
        );
        let r = report(&log, None);
        assert_eq!(r.total.attempts, 2);
        assert_eq!((r.total.ok, r.total.failed, r.total.fell_back), (1, 1, 1));
        assert_eq!(r.by_day["2026-12-07"].cost_usd, 0.5);
        assert_eq!(r.by_day["2026-12-08"].failed, 1);
        assert_eq!(r.by_project["acme"].attempts, 1);
        assert_eq!(r.by_project["(none)"].attempts, 1);
        // Ties in name order.
        assert_eq!(
            r.top_rules,
            vec![
                ("github-token".to_string(), 3),
                ("url-password".to_string(), 3)
            ]
        );
        assert_eq!(r.skipped_lines, 1);
        let r = report(&log, Some("2026-12-08"));
        assert_eq!(r.total.attempts, 1);
    }
}
