//! What every model file passes before it is installed: no pickle/zip payloads, full GGUF
//! validation, and the security scan hook.

use std::io::Read;
use std::path::Path;

use crate::error::{Result, StoreError};
use crate::manifest::is_gguf_media;

/// Refuse formats that can run code when loaded (PyTorch zip archives, raw pickles), by their
/// magic bytes rather than by file name.
pub fn refuse_pickle(path: &Path) -> Result<()> {
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(StoreError::io(path))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StoreError::io(path)(e)),
        }
    }
    let refuse = |kind: &str| {
        Err(StoreError::Refused {
            what: path.display().to_string(),
            reason: format!("{kind}: only GGUF models are accepted"),
        })
    };
    if n >= 4 && head == *b"PK\x03\x04" {
        return refuse("zip archive (PyTorch checkpoint?)");
    }
    if n >= 2 && head[0] == 0x80 && (1..=5).contains(&head[1]) {
        return refuse("Python pickle");
    }
    Ok(())
}

/// What the install-time security scan of a model file found: its worst finding, `None` when
/// it found nothing. Ordered so that `max` gives the worse of two results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ScanResult {
    pub worst: Option<hearth_guard::Severity>,
}

impl ScanResult {
    /// `none`, `info`, `low`, `medium` (high and critical refuse the install).
    pub fn name(self) -> &'static str {
        self.worst.map_or("none", hearth_guard::Severity::name)
    }
}

/// A finding that refuses a model file (severity high or critical).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Serious {
    severity: hearth_guard::Severity,
    rule: String,
    message: String,
}

/// Scan `path`: its worst severity, and its serious findings worst first (medium ones are
/// logged).
fn scan(path: &Path) -> Result<(ScanResult, Vec<Serious>)> {
    let report =
        hearth_guard::scan_path(path, &hearth_guard::ScanOptions::default()).map_err(|e| {
            StoreError::Refused {
                what: path.display().to_string(),
                reason: format!("security scan could not run: {e}"),
            }
        })?;
    for f in report
        .findings
        .iter()
        .filter(|f| f.severity == hearth_guard::Severity::Medium)
    {
        tracing::warn!(file = %path.display(), rule = %f.rule_id, "security scan: {}", f.message);
    }
    let mut serious: Vec<Serious> = report
        .findings
        .iter()
        .filter(|f| f.severity >= hearth_guard::Severity::High)
        .map(|f| Serious {
            severity: f.severity,
            rule: f.rule_id.clone(),
            message: f.message.clone(),
        })
        .collect();
    serious.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Ok((
        ScanResult {
            worst: report.max_severity(),
        },
        serious,
    ))
}

fn refusal(path: &Path, serious: &[Serious]) -> StoreError {
    let listed: Vec<String> = serious
        .iter()
        .take(3)
        .map(|f| format!("{} {}: {}", f.severity, f.rule, f.message))
        .collect();
    StoreError::Refused {
        what: path.display().to_string(),
        reason: format!("security scan: {}", listed.join("; ")),
    }
}

/// The model-file security scan (`hearth-guard`). It runs on every model layer after its
/// digest is verified and before it is renamed into `blobs/`, so a file it rejects is never
/// installed. Findings of severity high or critical refuse the file; medium ones are logged.
pub fn security_scan_model_file(path: &Path) -> Result<ScanResult> {
    let (result, serious) = scan(path)?;
    if serious.is_empty() {
        Ok(result)
    } else {
        Err(refusal(path, &serious))
    }
}

/// The scan for a model file about to be served that was not scanned when it was installed
/// (a read-only Ollama store, a model from before scans were recorded, a file run by path).
/// Runs once per process for each file (path and [`crate::fsutil::FileStamp`]: a file swapped
/// for another of the same size with its mtime set back is scanned again), the findings
/// cached; a high or critical finding refuses the file every time it is asked for, unless the
/// trust policy's `allow_findings` accepts that rule for that file's sha256 (hashed then, and
/// logged).
pub fn scan_before_serving(path: &Path, policy: &crate::Policy) -> Result<ScanResult> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    type Key = (std::path::PathBuf, crate::fsutil::FileStamp);
    type Seen = (ScanResult, Vec<Serious>, Option<String>);
    static SEEN: OnceLock<Mutex<HashMap<Key, Seen>>> = OnceLock::new();
    let key: Key = (path.to_path_buf(), crate::fsutil::FileStamp::read(path)?);
    let seen = SEEN.get_or_init(|| Mutex::new(HashMap::new()));
    let cached = seen.lock().ok().and_then(|m| m.get(&key).cloned());
    let (result, serious, mut digest) = match cached {
        Some(v) => v,
        None => {
            tracing::info!(file = %path.display(), "scanning a model not scanned at install");
            let (r, s) = scan(path)?;
            (r, s, None)
        }
    };
    let mut refused: Vec<Serious> = Vec::new();
    if !serious.is_empty() && !policy.allow_findings.is_empty() && digest.is_none() {
        digest = Some(crate::Digest::of_file(path)?.0.to_string());
    }
    for f in &serious {
        match &digest {
            Some(d) if policy.allows_finding(d, &f.rule) => tracing::warn!(
                file = %path.display(),
                digest = %d,
                rule = %f.rule,
                "security scan: {} finding allowed by the trust policy: {}",
                f.severity,
                f.message
            ),
            _ => refused.push(f.clone()),
        }
    }
    if let Ok(mut m) = seen.lock() {
        m.insert(key, (result, serious, digest));
    }
    if refused.is_empty() {
        Ok(result)
    } else {
        Err(refusal(path, &refused))
    }
}

/// The full check for a layer of `media_type` stored at `path`. Returns the scan result for
/// model (GGUF) layers, `None` for layers that are not scanned (text, config).
pub fn check_layer_file(path: &Path, media_type: &str) -> Result<Option<ScanResult>> {
    if !is_gguf_media(media_type) {
        return Ok(None);
    }
    refuse_pickle(path)?;
    hearth_gguf::GgufFile::open(path).map_err(|source| StoreError::InvalidModel {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    security_scan_model_file(path).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::MEDIA_MODEL;

    #[test]
    fn pickles_and_zips_are_refused_gguf_accepted() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m");
        for bad in [&b"PK\x03\x04rest"[..], b"\x80\x02}q\x00", b"\x80\x05\x95"] {
            std::fs::write(&p, bad).unwrap();
            let e = check_layer_file(&p, MEDIA_MODEL).unwrap_err();
            assert!(matches!(e, StoreError::Refused { .. }), "{e}");
        }
        std::fs::write(&p, b"GGUF garbage").unwrap();
        assert!(matches!(
            check_layer_file(&p, MEDIA_MODEL).unwrap_err(),
            StoreError::InvalidModel { .. }
        ));
        std::fs::write(&p, hearth_gguf::writer::tiny_llama().to_bytes()).unwrap();
        let scanned = check_layer_file(&p, MEDIA_MODEL).unwrap().unwrap();
        assert!(
            scanned.worst < Some(hearth_guard::Severity::High),
            "{scanned:?}"
        );
        assert_eq!(
            check_layer_file(&p, "application/vnd.ollama.image.system").unwrap(),
            None
        );
    }

    #[test]
    fn security_scan_refuses_a_valid_gguf_with_a_hostile_template() {
        use hearth_gguf::Value;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m");
        let hostile = "{{ cycler.__init__.__globals__.os.popen('id').read() }}";
        let bytes = hearth_gguf::GgufWriter::new()
            .kv("general.architecture", Value::String("llama".into()))
            .kv("tokenizer.chat_template", Value::String(hostile.into()))
            .tensor("t", &[4], hearth_gguf::GgmlType::F32)
            .to_bytes();
        std::fs::write(&p, bytes).unwrap();
        hearth_gguf::GgufFile::open(&p).unwrap();
        let e = check_layer_file(&p, MEDIA_MODEL).unwrap_err();
        assert!(matches!(e, StoreError::Refused { .. }), "{e}");
        assert!(e.to_string().contains("security scan"), "{e}");
    }
}
