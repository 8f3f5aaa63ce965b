//! Downloading one blob into the store: a per-blob lock, a temp file inside `blobs/` hashed
//! while it streams, resume with HTTP Range (surviving servers that ignore it), parallel
//! ranges for large blobs, verification, GGUF validation, fsync and rename.
//!
//! The temp file `blobs/<key>-partial` (with its `-partial.json` state) is kept only after an
//! interruption that a later pull can resume (network failure, cancellation); every other
//! failure (digest or size mismatch, invalid model, I/O error, refusal) removes it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::digest::{hash_reader, Digest};
use crate::error::{Result, StoreError};
use crate::fsutil::{self, FileLock, RemoveOnDrop};
use crate::guard;
use crate::http::{Credential, HttpClient};
use crate::progress::{Progress, PullEvent};
use crate::space;

/// Tuning for blob downloads.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Retries of a failed request (each resumes where the last stopped).
    pub retries: u32,
    /// Most ranges fetched at once for one blob.
    pub parallel: usize,
    /// Blobs smaller than twice this are fetched in one stream; parts are at least this big.
    pub part_min: u64,
    /// Set to stop a pull; partial data is kept for a later resume.
    pub cancel: Option<Arc<AtomicBool>>,
    /// First retry delay (doubles per retry, capped at 8 s).
    pub backoff: Duration,
    /// `blobs/` directories of other stores (Ollama's): a blob found there is copied and
    /// verified instead of downloaded.
    pub reuse_from: Vec<PathBuf>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            retries: 5,
            parallel: 4,
            part_min: 64 << 20,
            cancel: None,
            backoff: Duration::from_millis(500),
            reuse_from: Vec::new(),
        }
    }
}

/// One blob to fetch.
#[derive(Debug, Clone)]
pub(crate) struct BlobSpec {
    pub url: String,
    pub credential: Option<Credential>,
    pub expected: Option<Digest>,
    pub size: Option<u64>,
    pub media_type: String,
    pub label: String,
    pub max_size: u64,
}

/// What a fetch did.
#[derive(Debug, Clone)]
pub(crate) struct BlobOutcome {
    pub digest: Digest,
    pub size: u64,
    /// Already present (possibly fetched by a concurrent pull while we waited).
    pub cached: bool,
    /// The security scan run on this blob now (`None`: not a model layer, or cached and
    /// checked later by the caller).
    pub scan: Option<guard::ScanResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct PartState {
    offset: u64,
    size: u64,
    completed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartialState {
    /// The digest or URL the partial file belongs to.
    key: String,
    total: u64,
    parts: Vec<PartState>,
    /// ETag or Last-Modified, sent as If-Range when no digest protects the resume.
    validator: Option<String>,
}

pub(crate) struct Downloader<'a> {
    pub client: &'a HttpClient,
    pub blobs: &'a Path,
    pub opts: &'a DownloadOptions,
    pub progress: Progress<'a>,
}

enum Step {
    Done,
    NoRange,
}

fn transient(url: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Http {
        url: url.to_string(),
        reason: e.to_string(),
    }
}

impl Downloader<'_> {
    fn cancelled(&self) -> bool {
        self.opts
            .cancel
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    }

    fn emit(&self, spec: &BlobSpec, total: u64, completed: u64) {
        let digest = spec
            .expected
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or_default();
        let short = spec.expected.as_ref().map(|d| d.short()).unwrap_or("file");
        (self.progress)(&PullEvent::bytes(
            format!("pulling {short}"),
            &digest,
            total,
            completed,
        ));
    }

    fn backoff(&self, attempt: u32) {
        let d = self
            .opts
            .backoff
            .saturating_mul(1u32 << attempt.min(5))
            .min(Duration::from_secs(8));
        std::thread::sleep(d);
    }

    /// Fetch a blob into `blobs/`, or find it there.
    pub(crate) fn fetch(&self, spec: &BlobSpec) -> Result<BlobOutcome> {
        if let Some(d) = &spec.expected {
            if let Some(o) = self.present(spec, d)? {
                return Ok(o);
            }
        }
        let key = match &spec.expected {
            Some(d) => d.file_name(),
            None => format!(
                "url-{}",
                &Digest::from_bytes(spec.url.as_bytes()).hex()[..32]
            ),
        };
        // Lock files live beside blobs/, never in it: a failed pull leaves blobs/ untouched.
        let locks = self.blobs.parent().unwrap_or(self.blobs).join("locks");
        let lock = FileLock::acquire(&locks.join(format!("{key}.lock")))?;
        if let Some(d) = &spec.expected {
            if let Some(o) = self.present(spec, d)? {
                lock.remove_file();
                return Ok(o);
            }
            if let Some(o) = self.reuse(spec, d)? {
                lock.remove_file();
                return Ok(o);
            }
        }
        let partial = self.blobs.join(format!("{key}-partial"));
        let state_path = self.blobs.join(format!("{key}-partial.json"));
        match self.fetch_locked(spec, &partial, &state_path) {
            Ok(o) => {
                let _ = std::fs::remove_file(&state_path);
                lock.remove_file();
                Ok(o)
            }
            Err(e) => {
                if !(e.is_transient() || matches!(e, StoreError::Cancelled)) {
                    let _ = std::fs::remove_file(&partial);
                    let _ = std::fs::remove_file(&state_path);
                } else {
                    tracing::info!(blob = %spec.label, "download interrupted; partial data kept for resume: {e}");
                }
                Err(e)
            }
        }
    }

    /// Copy a blob another store already has (checked: digest, size, model validation).
    fn reuse(&self, spec: &BlobSpec, d: &Digest) -> Result<Option<BlobOutcome>> {
        for dir in &self.opts.reuse_from {
            let src = dir.join(d.file_name());
            let Ok(meta) = std::fs::metadata(&src) else {
                continue;
            };
            if !meta.is_file() || spec.size.is_some_and(|s| s != meta.len()) {
                continue;
            }
            (self.progress)(&PullEvent::status(format!(
                "copying {} from {}",
                d.short(),
                dir.display()
            )));
            let (got, size, scan) =
                match import_file_scanned(self.blobs, &src, &spec.media_type, false) {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("not reusing {}: {e}", src.display());
                        continue;
                    }
                };
            if &got != d {
                let _ = std::fs::remove_file(self.blobs.join(got.file_name()));
                tracing::warn!(
                    "{} does not match its name; downloading instead",
                    src.display()
                );
                continue;
            }
            self.emit(spec, size, size);
            return Ok(Some(BlobOutcome {
                digest: got,
                size,
                cached: false,
                scan,
            }));
        }
        Ok(None)
    }

    fn present(&self, spec: &BlobSpec, d: &Digest) -> Result<Option<BlobOutcome>> {
        let path = self.blobs.join(d.file_name());
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => {
                if spec.size.is_some_and(|s| s != m.len()) {
                    return Err(StoreError::SizeMismatch {
                        what: format!("existing blob {}", path.display()),
                        expected: spec.size.unwrap_or(0),
                        actual: m.len(),
                    });
                }
                self.emit(spec, m.len(), m.len());
                Ok(Some(BlobOutcome {
                    digest: d.clone(),
                    size: m.len(),
                    cached: true,
                    scan: None,
                }))
            }
            _ => Ok(None),
        }
    }

    fn load_state(
        &self,
        spec: &BlobSpec,
        partial: &Path,
        state_path: &Path,
    ) -> Option<PartialState> {
        let bytes = std::fs::read(state_path).ok()?;
        let s: PartialState = serde_json::from_slice(&bytes).ok()?;
        let key = spec
            .expected
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or(spec.url.clone());
        let len = std::fs::metadata(partial).ok()?.len();
        let sane = s.key == key
            && spec.size.is_none_or(|z| z == s.total)
            && s.total <= spec.max_size
            && len <= s.total
            && !s.parts.is_empty()
            && s.parts.len() <= 64
            && s.parts.iter().all(|p| {
                p.completed <= p.size && p.offset.checked_add(p.size).is_some_and(|e| e <= s.total)
            })
            && s.parts.iter().map(|p| p.size).sum::<u64>() == s.total;
        sane.then_some(s)
    }

    fn fetch_locked(
        &self,
        spec: &BlobSpec,
        partial: &Path,
        state_path: &Path,
    ) -> Result<BlobOutcome> {
        let key = spec
            .expected
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or(spec.url.clone());
        let mut state = self.load_state(spec, partial, state_path);
        if state.is_none() {
            let _ = std::fs::remove_file(partial);
        }
        if let Some(s) = &state {
            let done: u64 = s.parts.iter().map(|p| p.completed).sum();
            tracing::info!(blob = %spec.label, done, total = s.total, "resuming download");
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(partial)
            .map_err(StoreError::io(partial))?;
        let mut streamed: Option<(Digest, u64)> = None;
        let parallel_ok = self.opts.parallel > 1
            && spec
                .size
                .is_some_and(|s| s >= self.opts.part_min.saturating_mul(2));
        if state.as_ref().is_some_and(|s| s.parts.len() > 1) || (state.is_none() && parallel_ok) {
            let s = state.take().unwrap_or_else(|| {
                let total = spec.size.unwrap_or(0);
                let n = (total / self.opts.part_min.max(1)).clamp(1, self.opts.parallel as u64);
                let part = total.div_ceil(n);
                let mut parts = Vec::new();
                let mut off = 0;
                while off < total {
                    let size = part.min(total - off);
                    parts.push(PartState {
                        offset: off,
                        size,
                        completed: 0,
                    });
                    off += size;
                }
                PartialState {
                    key: key.clone(),
                    total,
                    parts,
                    validator: None,
                }
            });
            file.set_len(s.total).map_err(StoreError::io(partial))?;
            match self.run_parallel(spec, &file, partial, state_path, s)? {
                Step::Done => {}
                Step::NoRange => {
                    tracing::info!(blob = %spec.label, "server ignores Range; downloading in one stream");
                    file.set_len(0).map_err(StoreError::io(partial))?;
                    streamed = Some(self.run_sequential(spec, &file, partial, state_path, None)?);
                }
            }
        } else {
            streamed = Some(self.run_sequential(spec, &file, partial, state_path, state)?);
        }
        let (digest, size) = match streamed {
            Some(x) => x,
            None => {
                (self.progress)(&PullEvent::status(format!("verifying {}", spec.label)));
                let mut h = Sha256::new();
                let mut r = &file;
                let n = hash_reader(&mut r, &mut h).map_err(StoreError::io(partial))?;
                (Digest::from_hasher(h), n)
            }
        };
        if let Some(expected) = spec.size {
            if size != expected {
                return Err(StoreError::SizeMismatch {
                    what: spec.label.clone(),
                    expected,
                    actual: size,
                });
            }
        }
        if let Some(expected) = &spec.expected {
            if &digest != expected {
                return Err(StoreError::DigestMismatch {
                    what: spec.label.clone(),
                    expected: expected.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        let scan = guard::check_layer_file(partial, &spec.media_type)?;
        fsutil::sync_file(&file, partial)?;
        drop(file);
        let dest = self.blobs.join(digest.file_name());
        if dest.is_file() {
            let _ = std::fs::remove_file(partial);
        } else {
            std::fs::rename(partial, &dest).map_err(StoreError::io(&dest))?;
            fsutil::sync_dir(self.blobs)?;
        }
        Ok(BlobOutcome {
            digest,
            size,
            cached: false,
            scan,
        })
    }

    /// One stream from `completed` to the end, hashed as it arrives. Returns digest and size.
    fn run_sequential(
        &self,
        spec: &BlobSpec,
        file: &File,
        partial: &Path,
        state_path: &Path,
        state: Option<PartialState>,
    ) -> Result<(Digest, u64)> {
        let key = spec
            .expected
            .as_ref()
            .map(|d| d.to_string())
            .unwrap_or(spec.url.clone());
        let mut total = state.as_ref().map(|s| s.total).or(spec.size);
        let mut validator = state.as_ref().and_then(|s| s.validator.clone());
        let mut done = state.as_ref().map(|s| s.parts[0].completed).unwrap_or(0);
        // A resume without a digest is only safe with a validator the server can check.
        if spec.expected.is_none() && validator.is_none() {
            done = 0;
        }
        let mut hasher = Sha256::new();
        if done > 0 {
            let mut r = FileReader { file, pos: 0 }.take(done);
            let n = hash_reader(&mut r, &mut hasher).map_err(StoreError::io(partial))?;
            if n != done {
                done = 0;
                hasher = Sha256::new();
            }
        }
        file.set_len(done).map_err(StoreError::io(partial))?;
        let save = |done: u64, total: Option<u64>, validator: &Option<String>| {
            if let Some(total) = total {
                let s = PartialState {
                    key: key.clone(),
                    total,
                    parts: vec![PartState {
                        offset: 0,
                        size: total,
                        completed: done,
                    }],
                    validator: validator.clone(),
                };
                let _ =
                    fsutil::write_atomic(state_path, &serde_json::to_vec(&s).unwrap_or_default());
            }
        };
        let mut attempt = 0u32;
        loop {
            if total.is_some_and(|t| done >= t) {
                break;
            }
            if done > 0 && spec.expected.is_none() && validator.is_none() {
                // Nothing can tell a changed file from the one we started: start over.
                done = 0;
                hasher = Sha256::new();
                file.set_len(0).map_err(StoreError::io(partial))?;
            }
            let mut headers: Vec<(&str, String)> = Vec::new();
            if done > 0 {
                headers.push(("Range", format!("bytes={done}-")));
                if let Some(v) = &validator {
                    headers.push(("If-Range", v.clone()));
                }
            }
            let result = (|| -> Result<bool> {
                let resp = self
                    .client
                    .get(&spec.url, &headers, spec.credential.as_ref())?;
                let status = resp.status();
                if status == 416 && total.is_some_and(|t| done == t) {
                    return Ok(true);
                }
                let resp = resp.error_for_status()?;
                if status == 206 {
                    let start = content_range_start(resp.header("content-range"));
                    if start != Some(done) {
                        return Err(StoreError::Http {
                            url: resp.final_url.clone(),
                            reason: format!(
                                "asked for bytes from {done}, got Content-Range {:?}",
                                resp.header("content-range")
                            ),
                        });
                    }
                } else {
                    // 200: the whole body from byte 0 (no Range sent, or the server ignored it).
                    if done > 0 {
                        tracing::info!(blob = %spec.label, "server ignored Range; starting over");
                    }
                    done = 0;
                    hasher = Sha256::new();
                    file.set_len(0).map_err(StoreError::io(partial))?;
                    if let Some(n) = resp.content_length() {
                        if let Some(t) = total {
                            if n != t {
                                return Err(StoreError::SizeMismatch {
                                    what: spec.label.clone(),
                                    expected: t,
                                    actual: n,
                                });
                            }
                        }
                        if n > spec.max_size {
                            return Err(StoreError::TooLarge {
                                what: spec.label.clone(),
                                size: n,
                                limit: spec.max_size,
                            });
                        }
                        if spec.size.is_none() {
                            space::check_free_space(self.blobs, n)?;
                        }
                        total = Some(n);
                    }
                    validator = resp
                        .header("etag")
                        .filter(|e| !e.starts_with("W/"))
                        .or(resp.header("last-modified"))
                        .map(str::to_string);
                }
                let url = resp.final_url.clone();
                let limit = total
                    .unwrap_or(spec.max_size.saturating_add(1))
                    .saturating_sub(done);
                let mut body = resp.response.into_body().into_reader().take(limit);
                let mut buf = vec![0u8; 256 << 10];
                let mut since_emit = 0u64;
                let mut since_save = 0u64;
                loop {
                    if self.cancelled() {
                        save(done, total, &validator);
                        return Err(StoreError::Cancelled);
                    }
                    let k = match body.read(&mut buf) {
                        Ok(0) => break,
                        Ok(k) => k,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            save(done, total, &validator);
                            return Err(transient(&url, e));
                        }
                    };
                    file.write_all_at(&buf[..k], done)
                        .map_err(StoreError::io(partial))?;
                    hasher.update(&buf[..k]);
                    done += k as u64;
                    if total.is_none() && done > spec.max_size {
                        return Err(StoreError::TooLarge {
                            what: spec.label.clone(),
                            size: done,
                            limit: spec.max_size,
                        });
                    }
                    since_emit += k as u64;
                    since_save += k as u64;
                    if since_emit >= 1 << 20 {
                        self.emit(spec, total.unwrap_or(0), done);
                        since_emit = 0;
                    }
                    if since_save >= 32 << 20 {
                        save(done, total, &validator);
                        since_save = 0;
                    }
                }
                self.emit(spec, total.unwrap_or(done), done);
                match total {
                    Some(t) if done < t => {
                        save(done, total, &validator);
                        Err(transient(
                            &url,
                            format!("connection closed at byte {done} of {t}"),
                        ))
                    }
                    _ => Ok(true),
                }
            })();
            match result {
                Ok(_) => break,
                Err(e) if e.is_transient() && attempt < self.opts.retries && !self.cancelled() => {
                    tracing::warn!(blob = %spec.label, attempt, "download failed, retrying: {e}");
                    self.backoff(attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
        Ok((Digest::from_hasher(hasher), done))
    }

    /// Several ranges at once, each resumable on its own. The digest is checked afterwards.
    fn run_parallel(
        &self,
        spec: &BlobSpec,
        file: &File,
        partial: &Path,
        state_path: &Path,
        state: PartialState,
    ) -> Result<Step> {
        let total = state.total;
        let done: Vec<AtomicU64> = state
            .parts
            .iter()
            .map(|p| AtomicU64::new(p.completed))
            .collect();
        let all = AtomicU64::new(state.parts.iter().map(|p| p.completed).sum());
        let abort = AtomicBool::new(false);
        let no_range = AtomicBool::new(false);
        let save_lock = Mutex::new(());
        let save = || {
            let _g = save_lock.lock();
            let mut s = state.clone();
            for (p, d) in s.parts.iter_mut().zip(&done) {
                p.completed = d.load(Ordering::Relaxed);
            }
            let _ = fsutil::write_atomic(state_path, &serde_json::to_vec(&s).unwrap_or_default());
        };
        save();
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = state
                .parts
                .iter()
                .zip(&done)
                .map(|(part, part_done)| {
                    let (all, abort, no_range, save) = (&all, &abort, &no_range, &save);
                    scope.spawn(move || -> Result<()> {
                        let r = self.run_part(
                            spec, file, partial, part, part_done, all, abort, no_range, save, total,
                        );
                        if r.is_err() {
                            abort.store(true, Ordering::Relaxed);
                        }
                        save();
                        r
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(StoreError::Io {
                            path: partial.to_path_buf(),
                            source: std::io::Error::other("download thread panicked"),
                        })
                    })
                })
                .collect()
        });
        if no_range.load(Ordering::Relaxed) {
            return Ok(Step::NoRange);
        }
        // Prefer a non-transient error (it decides whether the partial file is kept).
        let mut first: Option<StoreError> = None;
        for r in results {
            if let Err(e) = r {
                let replace = match &first {
                    None => true,
                    Some(f) => f.is_transient() && !e.is_transient(),
                };
                if replace {
                    first = Some(e);
                }
            }
        }
        match first {
            Some(e) => Err(e),
            None => Ok(Step::Done),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run_part(
        &self,
        spec: &BlobSpec,
        file: &File,
        partial: &Path,
        part: &PartState,
        part_done: &AtomicU64,
        all: &AtomicU64,
        abort: &AtomicBool,
        no_range: &AtomicBool,
        save: &(dyn Fn() + Sync),
        total: u64,
    ) -> Result<()> {
        let mut attempt = 0u32;
        loop {
            let got = part_done.load(Ordering::Relaxed);
            if got >= part.size {
                return Ok(());
            }
            let start = part.offset + got;
            let end = part.offset + part.size - 1;
            let r = (|| -> Result<()> {
                let headers = [("Range", format!("bytes={start}-{end}"))];
                let resp = self
                    .client
                    .get(&spec.url, &headers, spec.credential.as_ref())?
                    .error_for_status()?;
                if resp.status() != 206 {
                    no_range.store(true, Ordering::Relaxed);
                    abort.store(true, Ordering::Relaxed);
                    return Ok(());
                }
                if content_range_start(resp.header("content-range")) != Some(start) {
                    return Err(transient(
                        &resp.final_url,
                        format!(
                            "asked for bytes {start}-{end}, got {:?}",
                            resp.header("content-range")
                        ),
                    ));
                }
                let url = resp.final_url.clone();
                let mut body = resp
                    .response
                    .into_body()
                    .into_reader()
                    .take(end + 1 - start);
                let mut buf = vec![0u8; 256 << 10];
                let mut pos = start;
                let mut since_emit = 0u64;
                let mut since_save = 0u64;
                loop {
                    if abort.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    if self.cancelled() {
                        return Err(StoreError::Cancelled);
                    }
                    let k = match body.read(&mut buf) {
                        Ok(0) => break,
                        Ok(k) => k,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(transient(&url, e)),
                    };
                    file.write_all_at(&buf[..k], pos)
                        .map_err(StoreError::io(partial))?;
                    pos += k as u64;
                    part_done.fetch_add(k as u64, Ordering::Relaxed);
                    let now = all.fetch_add(k as u64, Ordering::Relaxed) + k as u64;
                    since_emit += k as u64;
                    since_save += k as u64;
                    if since_emit >= 1 << 20 {
                        self.emit(spec, total, now);
                        since_emit = 0;
                    }
                    if since_save >= 32 << 20 {
                        save();
                        since_save = 0;
                    }
                }
                if pos <= end {
                    return Err(transient(
                        &url,
                        format!("connection closed at byte {pos} of range {start}-{end}"),
                    ));
                }
                self.emit(spec, total, all.load(Ordering::Relaxed));
                Ok(())
            })();
            match r {
                Ok(()) => return Ok(()),
                Err(e)
                    if e.is_transient()
                        && attempt < self.opts.retries
                        && !abort.load(Ordering::Relaxed)
                        && !self.cancelled() =>
                {
                    save();
                    tracing::warn!(blob = %spec.label, attempt, "range download failed, retrying: {e}");
                    self.backoff(attempt);
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// The first byte of `Content-Range: bytes <start>-<end>/<total>`.
fn content_range_start(h: Option<&str>) -> Option<u64> {
    let rest = h?.trim().strip_prefix("bytes")?.trim_start();
    rest.split('-').next()?.trim().parse().ok()
}

/// A `Read` over a file from a position, using positioned reads.
struct FileReader<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for FileReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Copy a local file into `blobs/` under its sha256, hashing while copying (one pass, one
/// copy). With `link` a hard link is tried first and nothing is copied; the blob then shares
/// the user's inode, so later in-place edits of that file would change it: opt-in only.
pub(crate) fn import_file(
    blobs: &Path,
    src: &Path,
    media_type: &str,
    link: bool,
) -> Result<(Digest, u64)> {
    import_file_scanned(blobs, src, media_type, link).map(|(d, n, _)| (d, n))
}

/// [`import_file`], also returning the security scan's result for a model layer.
pub(crate) fn import_file_scanned(
    blobs: &Path,
    src: &Path,
    media_type: &str,
    link: bool,
) -> Result<(Digest, u64, Option<guard::ScanResult>)> {
    guard::refuse_pickle(src)?;
    std::fs::create_dir_all(blobs).map_err(StoreError::io(blobs))?;
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp: PathBuf = blobs.join(format!(
        "import-{}-{}-{}-partial",
        std::process::id(),
        Digest::from_bytes(src.as_os_str().as_encoded_bytes()).short(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let guard_tmp = RemoveOnDrop::new(tmp.clone());
    let _ = std::fs::remove_file(&tmp);
    // A hard link costs no space; the link is hashed and validated like a copy would be.
    let (digest, size) = if link && std::fs::hard_link(src, &tmp).is_ok() {
        Digest::of_file(&tmp)?
    } else {
        let mut input = File::open(src).map_err(StoreError::io(src))?;
        let out = File::create(&tmp).map_err(StoreError::io(&tmp))?;
        let mut h = Sha256::new();
        let mut w = HashingWriter {
            file: &out,
            h: &mut h,
        };
        let n = std::io::copy(&mut input, &mut w).map_err(StoreError::io(&tmp))?;
        fsutil::sync_file(&out, &tmp)?;
        (Digest::from_hasher(h), n)
    };
    let scan = guard::check_layer_file(&tmp, media_type)?;
    let dest = blobs.join(digest.file_name());
    if !dest.is_file() {
        std::fs::rename(&tmp, &dest).map_err(StoreError::io(&dest))?;
        fsutil::sync_dir(blobs)?;
    }
    drop(guard_tmp);
    Ok((digest, size, scan))
}

struct HashingWriter<'a> {
    file: &'a File,
    h: &'a mut Sha256,
}

impl std::io::Write for HashingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = std::io::Write::write(&mut self.file, buf)?;
        self.h.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::Write::flush(&mut self.file)
    }
}

/// Store bytes as a blob (text layers, configs). Returns digest and size.
pub(crate) fn write_blob(blobs: &Path, bytes: &[u8]) -> Result<(Digest, u64)> {
    let d = Digest::from_bytes(bytes);
    let dest = blobs.join(d.file_name());
    if !dest.is_file() {
        fsutil::write_atomic(&dest, bytes)?;
    }
    Ok((d, bytes.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(content_range_start(Some("bytes 100-199/1000")), Some(100));
        assert_eq!(content_range_start(Some("bytes */1000")), None);
        assert_eq!(content_range_start(None), None);
    }

    #[test]
    fn import_links_or_copies_once() {
        let d = tempfile::tempdir().unwrap();
        let src = d.path().join("m.gguf");
        std::fs::write(&src, hearth_gguf::writer::tiny_llama().to_bytes()).unwrap();
        let blobs = d.path().join("blobs");
        let (dg, n) = import_file(&blobs, &src, crate::manifest::MEDIA_MODEL, false).unwrap();
        let (dg2, _) = import_file(&blobs, &src, crate::manifest::MEDIA_MODEL, false).unwrap();
        assert_eq!(dg, dg2);
        assert_eq!(n, std::fs::metadata(&src).unwrap().len());
        let names: Vec<_> = std::fs::read_dir(&blobs)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
        let bad = d.path().join("x.bin");
        std::fs::write(&bad, b"PK\x03\x04zzzz").unwrap();
        assert!(import_file(&blobs, &bad, crate::manifest::MEDIA_MODEL, true).is_err());
        assert_eq!(std::fs::read_dir(&blobs).unwrap().count(), 1);
    }
}
