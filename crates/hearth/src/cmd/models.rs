//! Shared helpers for the model-store subcommands (pull, list, show, rm, cp, create, export,
//! import): opening the stores, human-readable sizes and ages, progress display.
use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use hearth_store::{PullEvent, Stores};

/// `$HEARTH_MODELS` plus the read-only Ollama store (`$OLLAMA_MODELS` or `~/.ollama/models`).
pub(crate) fn stores() -> anyhow::Result<Stores> {
    Ok(Stores::from_env()?)
}

/// `4.7 GB`, `397 MB`, as Ollama prints sizes (decimal units).
pub(crate) fn human_bytes(n: u64) -> String {
    let n = n as f64;
    let (v, unit) = if n >= 1e9 {
        (n / 1e9, "GB")
    } else if n >= 1e6 {
        (n / 1e6, "MB")
    } else if n >= 1e3 {
        (n / 1e3, "KB")
    } else {
        return format!("{n} B");
    };
    if v >= 100.0 {
        format!("{v:.0} {unit}")
    } else {
        format!("{v:.1} {unit}")
    }
}

/// `3 minutes ago`, `2 weeks ago`.
pub(crate) fn ago(t: SystemTime) -> String {
    let s = SystemTime::now()
        .duration_since(t)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    let (n, unit) = match s {
        0..60 => return "Less than a minute ago".into(),
        60..3600 => (s / 60, "minute"),
        3600..86400 => (s / 3600, "hour"),
        86400..604800 => (s / 86400, "day"),
        604800..2592000 => (s / 604800, "week"),
        2592000..31536000 => (s / 2592000, "month"),
        _ => (s / 31536000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// Renders pull/create progress: indicatif bars on a terminal (unless NO_COLOR asks for
/// plain output), plain status lines otherwise. Everything goes to stderr.
pub(crate) struct ProgressView {
    fancy: bool,
    multi: indicatif::MultiProgress,
    bars: Mutex<HashMap<String, indicatif::ProgressBar>>,
    last: Mutex<(String, u64)>,
}

impl ProgressView {
    pub(crate) fn new() -> ProgressView {
        let fancy = std::io::stderr().is_terminal();
        ProgressView {
            fancy,
            multi: indicatif::MultiProgress::new(),
            bars: Mutex::new(HashMap::new()),
            last: Mutex::new((String::new(), 0)),
        }
    }

    pub(crate) fn event(&self, e: &PullEvent) {
        match (&e.digest, e.total, e.completed) {
            (Some(d), Some(total), Some(done)) if total > 0 => {
                self.bytes(&e.status, d, total, done)
            }
            _ => self.line(&e.status),
        }
    }

    fn line(&self, s: &str) {
        if self.fancy {
            let _ = self.multi.println(s);
        } else {
            eprintln!("{s}");
        }
    }

    fn bytes(&self, status: &str, digest: &str, total: u64, done: u64) {
        if !self.fancy {
            // One line per 10% step, and one at the end.
            let pct = done.saturating_mul(100) / total.max(1);
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            let key = format!("{status}{digest}");
            if last.0 != key || pct / 10 != last.1 / 10 || (done == total && last.1 != 100) {
                if last.0 != key || pct != last.1 {
                    eprintln!("{status}: {pct}% of {}", human_bytes(total));
                }
                *last = (key, pct);
            }
            return;
        }
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(format!("{status}{digest}")).or_insert_with(|| {
            let b = self.multi.add(indicatif::ProgressBar::new(total));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{msg} {percent:>3}% ▕{bar:30}▏ {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} {eta}",
            ) {
                b.set_style(style.progress_chars("█▉▊▋▌▍▎▏ "));
            }
            b.set_message(status.to_string());
            b
        });
        bar.set_length(total);
        bar.set_position(done);
        if done >= total {
            bar.finish();
        }
    }
}
