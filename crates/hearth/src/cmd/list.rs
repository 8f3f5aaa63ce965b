//! `hearth list`: installed models (name, id, size, modified), as `ollama list` shows them. With
//! a server running at HEARTH_HOST / OLLAMA_HOST, the server's models (`GET /api/tags`).
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::models::{ago, human_bytes, stores};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also list the read-only stores (Ollama's `~/.ollama/models` or `$OLLAMA_MODELS`); a
    /// server always lists every store it reads.
    #[arg(long)]
    pub all_stores: bool,
    /// Print JSON (the server's `/api/tags` answer when a server is used).
    #[arg(long)]
    pub json: bool,
    /// Read the local store even when a server is running (also HEARTH_NO_SERVER=1).
    #[arg(long)]
    pub local: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if super::client::use_server(args.local) {
        if let Some(v) = super::client::get_json("/api/tags")? {
            return remote(&v, args.json);
        }
    }
    let stores = stores()?;
    let entries = if args.all_stores {
        stores.list_all()?
    } else {
        stores.primary.list()?
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            [
                e.name.display_shortest(),
                e.digest.chars().take(12).collect(),
                human_bytes(e.size),
                ago(e.modified),
                e.store.display().to_string(),
            ]
        })
        .collect();
    table(&mut out, &rows, if args.all_stores { 5 } else { 4 })?;
    Ok(ExitCode::SUCCESS)
}

/// The server's `/api/tags` answer as the same table.
fn remote(v: &Value, json: bool) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, v)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<[String; 5]> = v["models"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let s = |k: &str| m[k].as_str().unwrap_or("").to_string();
            let name = Some(s("name"))
                .filter(|n| !n.is_empty())
                .unwrap_or(s("model"));
            [
                name,
                s("digest")
                    .trim_start_matches("sha256:")
                    .chars()
                    .take(12)
                    .collect(),
                human_bytes(m["size"].as_u64().unwrap_or(0)),
                parse_rfc3339(&s("modified_at"))
                    .map(ago)
                    .unwrap_or_default(),
                String::new(),
            ]
        })
        .collect();
    table(&mut out, &rows, 4)?;
    Ok(ExitCode::SUCCESS)
}

fn table(out: &mut impl Write, rows: &[[String; 5]], cols: usize) -> anyhow::Result<()> {
    let header = ["NAME", "ID", "SIZE", "MODIFIED", "STORE"];
    let mut width = [0usize; 5];
    for r in rows
        .iter()
        .map(|r| r.clone().map(|c| c.chars().count()))
        .chain([header.map(str::len)])
    {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c);
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate().take(cols) {
            if i + 1 == cols {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}    ", w = width[i]));
            }
        }
        s
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

/// `2024-05-01T10:00:00.123456Z` or `…+02:00` (Go's `time.Time` JSON) to a time; `None` when it
/// is not one.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            let (oh, om) = (oh.parse::<i64>().ok()?, om.parse::<i64>().ok()?);
            if oh > 23 || om > 59 {
                return None;
            }
            sign * (oh * 3600 + om * 60)
        }
    };
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(s: &str) -> Option<u64> {
        parse_rfc3339(s).map(|t| t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs())
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(unix("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix("2024-05-01T10:00:00.123456Z"), Some(1_714_557_600));
        assert_eq!(unix("2024-05-01T12:00:00+02:00"), Some(1_714_557_600));
        assert_eq!(unix("2024-05-01T03:00:00.5-07:00"), Some(1_714_557_600));
        assert_eq!(unix("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(unix("yesterday"), None);
        assert_eq!(unix("2024-13-01T00:00:00Z"), None);
        assert_eq!(unix("2024-05-01T10:00:00"), None);
    }

    #[test]
    fn table_aligns_columns() {
        let mut out = Vec::new();
        let rows = vec![[
            "smol:latest".to_string(),
            "0123456789ab".to_string(),
            "98 MB".to_string(),
            "2 days ago".to_string(),
            String::new(),
        ]];
        table(&mut out, &rows, 4).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "NAME           ID              SIZE     MODIFIED\nsmol:latest    0123456789ab    98 MB    2 days ago\n"
        );
    }
}
