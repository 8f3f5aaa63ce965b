//! Where an installed model came from. The store writes one record per installed model,
//! `<store>/provenance/<host>/<namespace>/<model>/<tag>.provenance.json` (the path
//! [`provenance_path`] gives for the manifest's relative path under `provenance/`: a file
//! beside the manifest itself would be read as a model tag by Ollama);
//! `hearth show --provenance` reads it back.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Origin of an installed model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// Model name as installed (`name:tag`).
    pub name: String,
    /// Registry host (`registry.ollama.ai`, `huggingface.co`), or `local` for `create`.
    pub registry: String,
    /// Source URL or path.
    pub url: String,
    /// `sha256:<hex>` of the model file.
    pub digest: String,
    /// Install time, seconds since the Unix epoch (UTC).
    pub retrieved_at: u64,
    /// Public keys (minisign base64) whose signatures verified, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signed_by: Vec<String>,
    /// Worst `hearth scan` severity at install time (`none`, `info`, ... `critical`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<String>,
}

/// Provenance file errors.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// `<manifest>.provenance.json`.
pub fn provenance_path(manifest: &Path) -> PathBuf {
    let mut s = manifest.as_os_str().to_owned();
    s.push(".provenance.json");
    PathBuf::from(s)
}

impl Provenance {
    /// A record stamped with the current time.
    pub fn now(name: &str, registry: &str, url: &str, digest: &str) -> Provenance {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Provenance {
            name: name.into(),
            registry: registry.into(),
            url: url.into(),
            digest: digest.into(),
            retrieved_at: t,
            signed_by: Vec::new(),
            scan: None,
        }
    }

    /// Write beside `manifest` atomically (temp file + rename).
    pub fn write(&self, manifest: &Path) -> Result<PathBuf, ProvenanceError> {
        let path = provenance_path(manifest);
        // A temp name of its own per writer: two installs of the same model at once (two
        // concurrent pulls) must not rename each other's file away.
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
        tmp_name.push(format!(".tmp-{}-{seq}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let io = |source| ProvenanceError::Io {
            path: path.clone(),
            source,
        };
        let text = serde_json::to_vec_pretty(self).map_err(|source| ProvenanceError::Json {
            path: path.clone(),
            source,
        })?;
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(path)
    }

    /// Read the record beside `manifest`; `Ok(None)` if there is none.
    pub fn read(manifest: &Path) -> Result<Option<Provenance>, ProvenanceError> {
        let path = provenance_path(manifest);
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(ProvenanceError::Io { path, source }),
            Ok(b) => serde_json::from_slice(&b)
                .map(Some)
                .map_err(|source| ProvenanceError::Json { path, source }),
        }
    }

    /// Human-readable lines for `hearth show --provenance`.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "name:      {}\nregistry:  {}\nurl:       {}\ndigest:    {}\nretrieved: {} ({} unix seconds)\n",
            self.name,
            self.registry,
            self.url,
            self.digest,
            utc_time(self.retrieved_at),
            self.retrieved_at
        );
        for k in &self.signed_by {
            s.push_str(&format!("signed by: {k}\n"));
        }
        if let Some(sc) = &self.scan {
            s.push_str(&format!("scan:      {sc}\n"));
        }
        s
    }
}

/// `2026-11-25 18:06:37 UTC` for seconds since the Unix epoch (proleptic Gregorian calendar).
pub fn utc_time(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (non-negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14 22:13:20 UTC");
        assert_eq!(utc_time(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }
}
