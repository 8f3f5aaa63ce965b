//! CPU memory bandwidth: a short multi-threaded streaming read, cached per CPU model in
//! `~/.cache/hearth/hw.json`.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Buffer the probe streams over: large enough to defeat every cache level.
pub const PROBE_BYTES: usize = 384 << 20;
/// Time the probe spends reading (after one warm-up pass).
pub const PROBE_TIME: Duration = Duration::from_millis(500);

/// One cached measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandwidthEntry {
    /// Bytes per second.
    pub bytes_per_s: f64,
    pub threads: u32,
    /// Unix time of the measurement.
    pub measured_at: u64,
}

/// `hw.json`: measurements keyed by CPU model string.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HwCache {
    pub bandwidth: BTreeMap<String, BandwidthEntry>,
}

/// `$XDG_CACHE_HOME/hearth`, else `$HOME/.cache/hearth`.
pub fn cache_dir() -> Option<PathBuf> {
    let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    nonempty("XDG_CACHE_HOME")
        .map(|d| PathBuf::from(d).join("hearth"))
        .or_else(|| nonempty("HOME").map(|h| PathBuf::from(h).join(".cache").join("hearth")))
}

impl HwCache {
    /// Read the cache; a missing or unreadable file is an empty cache.
    pub fn load(path: &Path) -> HwCache {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Write atomically (temp file + rename).
    pub fn store(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Per-process temp name: two `hearth fit` runs probing at once must not rename each
        // other's file away.
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let written = std::fs::write(&tmp, json).and_then(|()| std::fs::rename(&tmp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// Measure read bandwidth with `threads` threads over a `bytes` buffer for about `time`.
///
/// Each thread compares the two halves of its own chunk, which are equal, so `memcmp` (libc's
/// vectorized one: byte slices compare through it) streams through all of it. Using libc's
/// routine keeps the figure right in unoptimized builds too.
pub fn measure(threads: u32, bytes: usize, time: Duration) -> f64 {
    let threads = threads.max(1) as usize;
    let chunk = (bytes / threads).max(1 << 16) & !63;
    // Non-zero fill so every page is really backed.
    let buf = vec![0x5Au8; chunk * threads];
    let half = chunk / 2;
    let pass = |c: &[u8]| std::hint::black_box(c[..half] == c[half..2 * half]);
    // Warm-up pass (page faults, frequency ramp).
    for c in buf.chunks_exact(chunk) {
        pass(c);
    }
    let start = Instant::now();
    let total_passes: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = buf
            .chunks_exact(chunk)
            .map(|c| {
                s.spawn(move || {
                    let mut n = 0u64;
                    while start.elapsed() < time {
                        pass(c);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    });
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    (total_passes as f64 * (2 * half) as f64) / secs
}

/// The bandwidth for this CPU: from the cache when present (and `refresh` is false), else
/// measured and cached. Failing to write the cache is logged, not an error.
pub fn cached_or_measure(cpu_model: &str, threads: u32, refresh: bool) -> f64 {
    let path = cache_dir().map(|d| d.join("hw.json"));
    let mut cache = path.as_deref().map(HwCache::load).unwrap_or_default();
    if !refresh {
        if let Some(e) = cache.bandwidth.get(cpu_model) {
            if e.bytes_per_s.is_finite() && e.bytes_per_s > 0.0 {
                return e.bytes_per_s;
            }
        }
    }
    let bw = measure(threads, PROBE_BYTES, PROBE_TIME);
    tracing::info!(gb_per_s = bw / 1e9, threads, "measured memory bandwidth");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    cache.bandwidth.insert(
        cpu_model.to_owned(),
        BandwidthEntry {
            bytes_per_s: bw,
            threads,
            measured_at: now,
        },
    );
    if let Some(p) = path {
        if let Err(e) = cache.store(&p) {
            tracing::warn!(path = %p.display(), error = %e, "could not write hardware cache");
        }
    }
    bw
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_reports_a_plausible_rate() {
        // 16 MiB, 50 ms: just checks the arithmetic yields a positive finite rate.
        let bw = measure(2, 64 << 20, Duration::from_millis(200));
        eprintln!("probe: {:.1} GB/s", bw / 1e9);
        assert!(bw.is_finite() && bw > 1e8, "{bw}");
    }

    #[test]
    fn cache_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub").join("hw.json");
        let mut c = HwCache::default();
        c.bandwidth.insert(
            "CPU X".into(),
            BandwidthEntry {
                bytes_per_s: 2.5e10,
                threads: 4,
                measured_at: 1,
            },
        );
        c.store(&p).unwrap();
        assert_eq!(HwCache::load(&p), c);
        std::fs::write(&p, b"{not json").unwrap();
        assert_eq!(HwCache::load(&p), HwCache::default());
    }
}
