//! The audit log: one JSON Lines record per upstream attempt (what left, where, why, what it
//! cost), never a secret value. The file is created with mode 0600. It is also the ledger the
//! budgets read: what was spent today and this month (UTC) is summed from it at startup and
//! kept up to date with every record.
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// One upstream attempt.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Record {
    /// Seconds since the Unix epoch.
    pub(crate) ts: u64,
    /// The policy step that chose the cloud (`header`, `model`, `rule:ID`).
    pub(crate) rule: String,
    /// `X-Hearth-Project`, when the request named one.
    pub(crate) project: Option<String>,
    pub(crate) upstream: String,
    pub(crate) host: String,
    pub(crate) model: String,
    /// Redactions by rule id (counts, never values).
    pub(crate) redactions: std::collections::BTreeMap<String, usize>,
    pub(crate) bytes_out: usize,
    /// The upstream's usage report (`null` when it sent none).
    pub(crate) prompt_tokens: Option<u32>,
    pub(crate) completion_tokens: Option<u32>,
    /// Price × the upstream's usage report, in US dollars (`null` without a price or a
    /// usage report).
    pub(crate) cost_usd: Option<f64>,
    /// Time to the first event, and to the end, in milliseconds.
    pub(crate) first_event_ms: Option<u64>,
    pub(crate) total_ms: u64,
    /// `ok`, `http 429`, `timeout`, `connect`, `stream`, `cancelled`.
    pub(crate) status: String,
    /// What was tried next (`UPSTREAM:MODEL`, `local`), when this attempt failed before the
    /// first byte.
    pub(crate) fallback: Option<String>,
    /// The exact redacted body, when the policy asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) body: Option<String>,
}

/// The log file.
#[derive(Debug)]
pub(crate) struct Audit {
    path: PathBuf,
    file: Mutex<std::fs::File>,
    spent: Mutex<Spent>,
}

/// Costs summed per UTC day and calendar month.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Spent {
    day: i64,
    day_usd: f64,
    month: (i64, u32),
    month_usd: f64,
}

impl Spent {
    fn add(&mut self, ts: u64, usd: f64) {
        let day = i64::try_from(ts / 86_400).unwrap_or(i64::MAX);
        let month = civil_month(day);
        if day == self.day {
            self.day_usd += usd;
        } else if day > self.day {
            (self.day, self.day_usd) = (day, usd);
        }
        if month == self.month {
            self.month_usd += usd;
        } else if month > self.month {
            (self.month, self.month_usd) = (month, usd);
        }
    }

    /// (today, this month) at `now` (Unix seconds).
    pub(crate) fn at(&self, now: u64) -> (f64, f64) {
        let day = i64::try_from(now / 86_400).unwrap_or(i64::MAX);
        let d = if day == self.day { self.day_usd } else { 0.0 };
        let m = if civil_month(day) == self.month {
            self.month_usd
        } else {
            0.0
        };
        (d, m)
    }
}

/// (year, month) of a day counted from 1970-01-01.
fn civil_month(days: i64) -> (i64, u32) {
    let (y, m, _) = hearth_route::civil_date(days);
    (y, m)
}

/// A new file at `path` with mode 0600 (`append`: for appending, else truncated).
fn private_file(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true);
    if append {
        o.append(true);
    } else {
        o.write(true).truncate(true);
    }
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Drop the records of `path` older than `cutoff` (Unix seconds), by writing the rest to a new
/// private file and renaming it over the log. Lines that are not records are kept.
fn prune(path: &Path, cutoff: u64) -> std::io::Result<usize> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(0);
    };
    let mut kept = String::with_capacity(text.len());
    let mut dropped = 0;
    for line in text.lines() {
        let ts = serde_json::from_str::<serde_json::Value>(line)
            .ok()
            .and_then(|v| v.get("ts").and_then(serde_json::Value::as_u64));
        if ts.is_some_and(|t| t < cutoff) {
            dropped += 1;
        } else {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    if dropped > 0 {
        let tmp = path.with_extension(format!("prune-{}", std::process::id()));
        private_file(&tmp, false)?.write_all(kept.as_bytes())?;
        std::fs::rename(&tmp, path)?;
    }
    Ok(dropped)
}

impl Audit {
    /// Open (create, append) `path` with mode 0600, first dropping records older than
    /// `retention_days` before `now` (Unix seconds).
    pub(crate) fn open(
        path: &Path,
        retention_days: Option<u32>,
        now: u64,
    ) -> std::io::Result<Audit> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        if let Some(days) = retention_days {
            let dropped = prune(path, now.saturating_sub(u64::from(days) * 86_400))?;
            if dropped > 0 {
                tracing::info!(path = %path.display(), dropped, days, "audit records past their retention dropped");
            }
        }
        let file = private_file(path, true)?;
        // The ledger: the costs already in the log (a line that does not parse is skipped).
        let mut spent = Spent::default();
        let text = std::fs::read_to_string(path)?;
        for v in text
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        {
            if let (Some(ts), Some(usd)) = (
                v.get("ts").and_then(serde_json::Value::as_u64),
                v.get("cost_usd").and_then(serde_json::Value::as_f64),
            ) {
                spent.add(ts, usd);
            }
        }
        Ok(Audit {
            path: path.to_path_buf(),
            file: Mutex::new(file),
            spent: Mutex::new(spent),
        })
    }

    /// What was spent (today, this month) at `now` (Unix seconds).
    pub(crate) fn spent(&self, now: u64) -> (f64, f64) {
        self.spent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .at(now)
    }

    /// Append one record (blocking; called from the attempt's own thread). A write that
    /// fails is logged: the answer has already gone.
    pub(crate) fn write(&self, r: &Record) {
        let Ok(mut line) = serde_json::to_string(r) else {
            return;
        };
        line.push('\n');
        if let Some(usd) = r.cost_usd {
            self.spent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .add(r.ts, usd);
        }
        let mut f = self
            .file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = f.write_all(line.as_bytes()) {
            tracing::error!(path = %self.path.display(), %e, "writing the route audit log");
        }
    }
}

/// Price per million tokens × counts.
pub(crate) fn cost(
    price: Option<hearth_route::Price>,
    prompt: Option<u32>,
    completion: Option<u32>,
) -> Option<f64> {
    let (p, i, o) = (price?, prompt?, completion?);
    Some((f64::from(i) * p.in_per_mtok + f64::from(o) * p.out_per_mtok) / 1e6)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn records_are_json_lines_in_a_private_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a/audit.jsonl");
        let a = Audit::open(&p, None, 0).unwrap();
        let r = Record {
            ts: 1,
            rule: "header".into(),
            project: Some("acme".into()),
            upstream: "up".into(),
            host: "127.0.0.1:9".into(),
            model: "big".into(),
            redactions: [("openai-api-key".to_string(), 2)].into_iter().collect(),
            bytes_out: 10,
            prompt_tokens: Some(1000),
            completion_tokens: Some(500),
            cost_usd: cost(
                Some(hearth_route::Price {
                    in_per_mtok: 3.0,
                    out_per_mtok: 15.0,
                }),
                Some(1000),
                Some(500),
            ),
            first_event_ms: Some(5),
            total_ms: 9,
            status: "ok".into(),
            fallback: None,
            body: None,
        };
        a.write(&r);
        a.write(&r);
        let text = std::fs::read_to_string(&p).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["redactions"]["openai-api-key"], 2);
        assert!((lines[0]["cost_usd"].as_f64().unwrap() - 0.0105).abs() < 1e-12);
        let price = Some(hearth_route::Price {
            in_per_mtok: 1.0,
            out_per_mtok: 1.0,
        });
        assert_eq!(cost(price, None, Some(1)), None, "no usage report: no cost");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

#[cfg(test)]
mod ledger_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spending_is_summed_per_day_and_month_and_read_back_from_the_log() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.jsonl");
        let day = 20_794u64 * 86_400;
        std::fs::write(
            &p,
            format!(
                "{{\"ts\":{},\"cost_usd\":1.5}}\n{{\"ts\":{},\"cost_usd\":0.25}}\nnot json\n{{\"ts\":{},\"cost_usd\":null}}\n",
                day - 86_400,
                day + 10,
                day + 20
            ),
        )
        .unwrap();
        let a = Audit::open(&p, None, 0).unwrap();
        assert_eq!(a.spent(day + 30), (0.25, 1.75));
        // The next day, the day's sum starts again; the next month, both.
        assert_eq!(a.spent(day + 86_400), (0.0, 1.75));
        assert_eq!(a.spent(day + 30 * 86_400), (0.0, 0.0));
    }

    #[test]
    fn retention_drops_old_records_and_keeps_the_file_private() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("audit.jsonl");
        let now = 20_794u64 * 86_400;
        std::fs::write(
            &p,
            format!(
                "{{\"ts\":{},\"cost_usd\":1.0}}\n{{\"ts\":{},\"cost_usd\":2.0}}\nnot json\n",
                now - 40 * 86_400,
                now - 86_400
            ),
        )
        .unwrap();
        let a = Audit::open(&p, Some(30), now).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 2, "{text}");
        assert!(!text.contains("1.0"), "{text}");
        assert_eq!(a.spent(now).1, 2.0);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
