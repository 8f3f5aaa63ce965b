//! The content-addressed store: `blobs/sha256-<hex>` and
//! `manifests/<host>/<namespace>/<model>/<tag>`, exactly Ollama's layout, so an Ollama store
//! can be opened read-only and a hearth store can be read by Ollama.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::error::{Result, StoreError};
use crate::fsutil::{self, FileLock};
use crate::manifest::{self, Manifest, MAX_MANIFEST_BYTES, MAX_TEXT_LAYER_BYTES};
use crate::name::ModelName;

/// One store directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    read_only: bool,
    /// Set by [`Store::with_policy`]; `None` reads the policy file at each check.
    pub(crate) policy: Option<std::sync::Arc<hearth_guard::policy::Policy>>,
}

/// A row of `hearth list`.
#[derive(Debug, Clone, Serialize)]
pub struct ListEntry {
    pub name: ModelName,
    /// sha256 of the manifest file (Ollama's model id; `list` shows its first 12 digits).
    pub digest: String,
    pub size: u64,
    #[serde(skip)]
    pub modified: SystemTime,
    pub store: PathBuf,
    /// The config blob (family, parameter size, quantization), as `/api/tags` details need.
    pub config: ModelConfig,
}

/// The `config` blob: Ollama's ConfigV2 (fields hearth reads or writes).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ModelConfig {
    #[serde(default)]
    pub model_format: String,
    #[serde(default)]
    pub model_family: String,
    #[serde(default)]
    pub model_families: Option<Vec<String>>,
    #[serde(default)]
    pub model_type: String,
    #[serde(default)]
    pub file_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub renderer: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parser: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
}

/// A chat message baked into a model (`MESSAGE` in a Modelfile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

/// Everything the engine and server need to load and serve a model by name.
#[derive(Debug, Clone)]
pub struct ResolvedModel {
    pub name: ModelName,
    /// The store the model was found in.
    pub store: PathBuf,
    /// sha256 hex of the manifest file.
    pub digest: String,
    pub manifest: Manifest,
    /// The GGUF weights (validated when installed).
    pub gguf_path: PathBuf,
    pub projector_paths: Vec<PathBuf>,
    pub adapter_paths: Vec<PathBuf>,
    /// Go-template text from the `template` layer, if any (else use the GGUF chat template).
    pub template: Option<String>,
    pub system: Option<String>,
    /// Default options from the `params` layer (`{"stop": [...], "temperature": 0.7}`).
    pub params: serde_json::Map<String, serde_json::Value>,
    pub messages: Vec<Message>,
    pub license: Vec<String>,
    pub config: ModelConfig,
    pub size: u64,
    pub modified: SystemTime,
    /// Where the model came from (`None`: installed before hearth recorded provenance).
    pub provenance: Option<crate::provenance::Provenance>,
}

impl Store {
    /// Open (creating) a writable store.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        for d in [root.join("blobs"), root.join("manifests")] {
            std::fs::create_dir_all(&d).map_err(StoreError::io(&d))?;
        }
        Ok(Store {
            root,
            read_only: false,
            policy: None,
        })
    }

    /// Open an existing store (Ollama's) without ever writing to it.
    pub fn open_read_only(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        let m = root.join("manifests");
        if !m.is_dir() {
            return Err(StoreError::Io {
                path: m,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no manifests directory"),
            });
        }
        Ok(Store {
            root,
            read_only: true,
            policy: None,
        })
    }

    /// `$HEARTH_MODELS`, default `~/.hearth/models`.
    pub fn default_root() -> PathBuf {
        env_path("HEARTH_MODELS").unwrap_or_else(|| home().join(".hearth/models"))
    }

    /// `$OLLAMA_MODELS`, default `~/.ollama/models`, when it exists.
    pub fn ollama_root() -> Option<PathBuf> {
        let p = env_path("OLLAMA_MODELS").unwrap_or_else(|| home().join(".ollama/models"));
        p.join("manifests").is_dir().then_some(p)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    pub fn manifests_dir(&self) -> PathBuf {
        self.root.join("manifests")
    }

    pub fn blob_path(&self, d: &Digest) -> PathBuf {
        self.blobs_dir().join(d.file_name())
    }

    pub fn manifest_path(&self, name: &ModelName) -> PathBuf {
        self.manifests_dir().join(name.manifest_rel_path())
    }

    pub(crate) fn writable(&self) -> Result<()> {
        if self.read_only {
            return Err(StoreError::ReadOnly {
                path: self.root.clone(),
            });
        }
        Ok(())
    }

    /// Shared while installing (pull, create, import), exclusive while deleting blobs, so
    /// `rm` never collects a blob that an install is about to reference.
    pub(crate) fn gc_lock(&self, exclusive: bool) -> Result<FileLock> {
        let p = self.root.join("locks").join("gc.lock");
        if exclusive {
            FileLock::acquire(&p)
        } else {
            FileLock::acquire_shared(&p)
        }
    }

    /// Whether a model with this name is installed here.
    pub fn contains(&self, name: &ModelName) -> bool {
        self.manifest_path(name).is_file()
    }

    /// Read and validate a manifest; returns it with the manifest's sha256 and mtime.
    pub fn read_manifest(&self, name: &ModelName) -> Result<(Manifest, String, SystemTime)> {
        let path = self.manifest_path(name);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(name.display_shortest()))
            }
            Err(e) => return Err(StoreError::io(&path)(e)),
        };
        if meta.len() > MAX_MANIFEST_BYTES {
            return Err(StoreError::TooLarge {
                what: path.display().to_string(),
                size: meta.len(),
                limit: MAX_MANIFEST_BYTES,
            });
        }
        let bytes = std::fs::read(&path).map_err(StoreError::io(&path))?;
        let m = Manifest::parse(&bytes, &path.display().to_string())?;
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        Ok((m, Digest::from_bytes(&bytes).hex().to_string(), modified))
    }

    /// Write a manifest atomically after checking every blob it names is present with the
    /// declared size.
    pub fn write_manifest(&self, name: &ModelName, m: &Manifest) -> Result<()> {
        self.write_manifest_bytes(name, m, &m.to_json())
    }

    /// Like [`Store::write_manifest`], keeping the exact bytes (a registry's manifest, whose
    /// sha256 is the model's id).
    pub(crate) fn write_manifest_bytes(
        &self,
        name: &ModelName,
        m: &Manifest,
        bytes: &[u8],
    ) -> Result<()> {
        self.writable()?;
        for l in m.all_layers() {
            let p = self.blob_path(&l.digest);
            let len = std::fs::metadata(&p).map_err(StoreError::io(&p))?.len();
            if len != l.size {
                return Err(StoreError::SizeMismatch {
                    what: p.display().to_string(),
                    expected: l.size,
                    actual: len,
                });
            }
        }
        fsutil::write_atomic(&self.manifest_path(name), bytes)
    }

    /// Every valid manifest in the store. Invalid paths or manifests are skipped with a warning.
    pub fn list(&self) -> Result<Vec<ListEntry>> {
        let mut out = Vec::new();
        for (name, _) in self.manifest_names()? {
            match self.read_manifest(&name) {
                Ok((m, digest, modified)) => out.push(ListEntry {
                    size: m.total_size(),
                    config: self
                        .read_text_blob(&m.config)
                        .ok()
                        .and_then(|b| serde_json::from_slice(&b).ok())
                        .unwrap_or_default(),
                    name,
                    digest,
                    modified,
                    store: self.root.clone(),
                }),
                Err(e) => tracing::warn!("skipping manifest {name}: {e}"),
            }
        }
        out.sort_by(|a, b| b.modified.cmp(&a.modified).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Names from `manifests/*/*/*/*`, with their paths.
    fn manifest_names(&self) -> Result<Vec<(ModelName, PathBuf)>> {
        let mut out = Vec::new();
        let root = self.manifests_dir();
        let dirs = |p: &Path| -> Vec<(String, PathBuf)> {
            std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    let n = e.file_name().into_string().ok()?;
                    (!n.starts_with('.')).then(|| (n, e.path()))
                })
                .collect()
        };
        for (h, hp) in dirs(&root) {
            for (ns, nsp) in dirs(&hp) {
                for (m, mp) in dirs(&nsp) {
                    for (t, tp) in dirs(&mp) {
                        if !tp.is_file() {
                            continue;
                        }
                        match ModelName::from_parts(&h, &ns, &m, &t) {
                            Ok(n) => out.push((n, tp)),
                            Err(e) => tracing::warn!("skipping {}: {e}", tp.display()),
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// Find a name here: exact path first, then a case-insensitive match (as Ollama does).
    pub fn find(&self, name: &ModelName) -> Option<ModelName> {
        if self.contains(name) {
            return Some(name.clone());
        }
        self.manifest_names()
            .ok()?
            .into_iter()
            .map(|(n, _)| n)
            .find(|n| n.eq_fold(name))
    }

    /// Resolve a name to its files and settings.
    pub fn resolve(&self, name: &str) -> Result<ResolvedModel> {
        let parsed = ModelName::parse(name)?;
        let found = self
            .find(&parsed)
            .ok_or_else(|| StoreError::NotFound(parsed.display_shortest()))?;
        self.resolve_name(&found)
    }

    pub(crate) fn resolve_name(&self, name: &ModelName) -> Result<ResolvedModel> {
        let (m, digest, modified) = self.read_manifest(name)?;
        let mut r = ResolvedModel {
            name: name.clone(),
            store: self.root.clone(),
            digest,
            gguf_path: PathBuf::new(),
            projector_paths: vec![],
            adapter_paths: vec![],
            template: None,
            system: None,
            params: serde_json::Map::new(),
            messages: vec![],
            license: vec![],
            config: ModelConfig::default(),
            size: m.total_size(),
            modified,
            manifest: m.clone(),
            provenance: self.read_provenance(name).unwrap_or_else(|e| {
                tracing::warn!(model = %name, "unreadable provenance record: {e}");
                None
            }),
        };
        let what = name.display_shortest();
        if let Ok(bytes) = self.read_text_blob(&m.config) {
            r.config = serde_json::from_slice(&bytes).unwrap_or_default();
        }
        for l in &m.layers {
            let path = self.blob_path(&l.digest);
            match l.media_type.as_str() {
                manifest::MEDIA_MODEL => {
                    let len = std::fs::metadata(&path)
                        .map_err(StoreError::io(&path))?
                        .len();
                    if len != l.size {
                        return Err(StoreError::SizeMismatch {
                            what: path.display().to_string(),
                            expected: l.size,
                            actual: len,
                        });
                    }
                    r.gguf_path = path;
                }
                manifest::MEDIA_PROJECTOR => r.projector_paths.push(path),
                manifest::MEDIA_ADAPTER => r.adapter_paths.push(path),
                manifest::MEDIA_TEMPLATE | manifest::MEDIA_PROMPT => {
                    r.template = Some(self.read_text(l)?)
                }
                manifest::MEDIA_SYSTEM => r.system = Some(self.read_text(l)?),
                manifest::MEDIA_LICENSE => r.license.push(self.read_text(l)?),
                manifest::MEDIA_PARAMS => {
                    let bytes = self.read_text_blob(l)?;
                    r.params =
                        serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
                            what: format!("params of {what}"),
                            source,
                        })?;
                }
                manifest::MEDIA_MESSAGES => {
                    let bytes = self.read_text_blob(l)?;
                    r.messages =
                        serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
                            what: format!("messages of {what}"),
                            source,
                        })?;
                }
                other => tracing::debug!(model = %what, "ignoring layer of type {other}"),
            }
        }
        if r.gguf_path.as_os_str().is_empty() {
            return Err(StoreError::InvalidManifest {
                what,
                reason: "no model layer (application/vnd.ollama.image.model)".into(),
            });
        }
        self.enforce_load_policy(&r)?;
        Ok(r)
    }

    /// The trust policy at load: the model layer's digest against its pin, the recorded
    /// registry against the allowed ones, the recorded signatures against the required keys,
    /// and, when a pin or a required key applies, the blob hashed again against its digest.
    fn enforce_load_policy(&self, r: &ResolvedModel) -> Result<()> {
        let digest = r.manifest.model_layer().map(|l| l.digest.to_string());
        // Where the model came from: the install record, else (a model hearth did not
        // install, e.g. in an Ollama store) the registry host its manifest is filed under.
        // A bundle import counts as its manifest name's registry, as at import.
        let registry = match &r.provenance {
            Some(p) if p.registry == crate::provenance::BUNDLE => Some(r.name.host.as_str()),
            Some(p) => {
                Some(p.registry.as_str()).filter(|reg| !crate::provenance::is_local_registry(reg))
            }
            None => Some(r.name.host.as_str()),
        };
        let keys = r
            .provenance
            .as_ref()
            .map(|p| p.signed_by.as_slice())
            .unwrap_or_default();
        self.enforce_policy(
            crate::provenance::Stage::Load,
            &r.name,
            registry,
            digest.as_deref(),
            keys,
        )?;
        // A pin or a signature vouches for the bytes installed; the blob's name is only the
        // digest it had then. When the policy relies on them, the file is hashed again (once
        // per process while it stays unchanged) so a blob altered in place is not trusted.
        let policy = self.policy()?;
        let relies = !policy.required_keys.is_empty()
            || policy.pinned_digest(&r.name.display_shortest()).is_some();
        if relies {
            if let Some(l) = r.manifest.model_layer() {
                l.digest.verify_file_once(&r.gguf_path)?;
            }
        }
        Ok(())
    }

    /// A small layer's bytes, checked against its size limit and digest.
    pub(crate) fn read_text_blob(&self, l: &manifest::Layer) -> Result<Vec<u8>> {
        let path = self.blob_path(&l.digest);
        if l.size > MAX_TEXT_LAYER_BYTES {
            return Err(StoreError::TooLarge {
                what: path.display().to_string(),
                size: l.size,
                limit: MAX_TEXT_LAYER_BYTES,
            });
        }
        let bytes = std::fs::read(&path).map_err(StoreError::io(&path))?;
        let actual = Digest::from_bytes(&bytes);
        if actual != l.digest {
            return Err(StoreError::DigestMismatch {
                what: path.display().to_string(),
                expected: l.digest.to_string(),
                actual: actual.to_string(),
            });
        }
        Ok(bytes)
    }

    fn read_text(&self, l: &manifest::Layer) -> Result<String> {
        Ok(String::from_utf8_lossy(&self.read_text_blob(l)?).into_owned())
    }

    /// Digests referenced by any manifest, plus raw hex strings of manifests that would not
    /// parse (so a blob is never collected because its manifest was unreadable).
    fn digests_in_use(&self) -> Result<(HashSet<Digest>, Vec<String>)> {
        let mut used = HashSet::new();
        let mut unreadable = Vec::new();
        for (name, path) in self.manifest_names()? {
            match self.read_manifest(&name) {
                Ok((m, _, _)) => used.extend(m.all_layers().into_iter().map(|l| l.digest.clone())),
                Err(_) => {
                    let raw = std::fs::read(&path).unwrap_or_default();
                    unreadable.push(String::from_utf8_lossy(&raw).into_owned());
                }
            }
        }
        Ok((used, unreadable))
    }

    /// Remove blobs (fetched by a pull that then failed) unless a manifest references them.
    pub(crate) fn discard_unreferenced(&self, digests: &[Digest]) {
        let Ok((used, unreadable)) = self.digests_in_use() else {
            return;
        };
        for d in digests {
            if !used.contains(d) && !unreadable.iter().any(|t| t.contains(d.hex())) {
                let _ = std::fs::remove_file(self.blob_path(d));
            }
        }
    }

    /// Delete a model; blobs no other manifest uses are removed. Returns the removed digests.
    pub fn remove(&self, name: &ModelName) -> Result<Vec<Digest>> {
        self.writable()?;
        let found = self
            .find(name)
            .ok_or_else(|| StoreError::NotFound(name.display_shortest()))?;
        let _gc = self.gc_lock(true)?;
        let (m, _, _) = self.read_manifest(&found)?;
        let path = self.manifest_path(&found);
        std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
        self.prune_dirs(&path);
        self.remove_provenance(&found)?;
        let (used, unreadable) = self.digests_in_use()?;
        let mut removed = Vec::new();
        for l in m.all_layers() {
            if used.contains(&l.digest) || unreadable.iter().any(|t| t.contains(l.digest.hex())) {
                continue;
            }
            let p = self.blob_path(&l.digest);
            match std::fs::remove_file(&p) {
                Ok(()) => removed.push(l.digest.clone()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&p)(e)),
            }
        }
        Ok(removed)
    }

    /// Remove empty directories from a deleted manifest up to `manifests/`.
    fn prune_dirs(&self, manifest: &Path) {
        let stop = self.manifests_dir();
        let mut dir = manifest.parent();
        while let Some(d) = dir {
            if d == stop || !d.starts_with(&stop) || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }

    /// Copy a model under a new name (same blobs). `src_store` may be another (read-only) store;
    /// its blobs are then copied into this one, each verified by digest.
    pub fn copy_from(&self, src_store: &Store, src: &ModelName, dst: &ModelName) -> Result<()> {
        self.writable()?;
        let found = src_store
            .find(src)
            .ok_or_else(|| StoreError::NotFound(src.display_shortest()))?;
        let (m, _, _) = src_store.read_manifest(&found)?;
        let _gc = self.gc_lock(false)?;
        if src_store.root != self.root {
            for l in m.all_layers() {
                if self.blob_path(&l.digest).is_file() {
                    continue;
                }
                let from = src_store.blob_path(&l.digest);
                let (d, _) =
                    crate::download::import_file(&self.blobs_dir(), &from, &l.media_type, false)?;
                if d != l.digest {
                    let _ = std::fs::remove_file(self.blob_path(&d));
                    return Err(StoreError::DigestMismatch {
                        what: from.display().to_string(),
                        expected: l.digest.to_string(),
                        actual: d.to_string(),
                    });
                }
            }
        }
        self.write_manifest(dst, &m)?;
        // The copy keeps the source's record (under its new name); a source without one
        // leaves the copy without one, and a stale record under `dst` is removed.
        match src_store.read_provenance(&found)? {
            Some(p) => self.write_provenance(dst, &p),
            None => self.remove_provenance(dst),
        }
    }

    /// `cp` within this store.
    pub fn copy(&self, src: &ModelName, dst: &ModelName) -> Result<()> {
        self.copy_from(&self.clone(), src, dst)
    }
}

/// The primary (writable) store plus read-only extra stores (an Ollama store).
#[derive(Debug, Clone)]
pub struct Stores {
    pub primary: Store,
    pub extra: Vec<Store>,
}

impl Stores {
    /// `$HEARTH_MODELS` (or `~/.hearth/models`) plus `$OLLAMA_MODELS` (or `~/.ollama/models`)
    /// read-only when it exists, plus any `$HEARTH_EXTRA_STORES` (colon-separated).
    pub fn from_env() -> Result<Stores> {
        let primary = Store::open(Store::default_root())?;
        let mut extra = Vec::new();
        let mut roots: Vec<PathBuf> = Store::ollama_root().into_iter().collect();
        if let Some(v) = std::env::var_os("HEARTH_EXTRA_STORES") {
            roots.extend(std::env::split_paths(&v).filter(|p| !p.as_os_str().is_empty()));
        }
        for r in roots {
            if same_dir(&r, primary.root()) || extra.iter().any(|s: &Store| same_dir(&r, s.root()))
            {
                continue;
            }
            match Store::open_read_only(&r) {
                Ok(s) => extra.push(s),
                Err(e) => tracing::debug!("extra store {} unavailable: {e}", r.display()),
            }
        }
        Ok(Stores { primary, extra })
    }

    /// Look in the primary store, then the extra stores.
    pub fn resolve(&self, name: &str) -> Result<ResolvedModel> {
        let parsed = ModelName::parse(name)?;
        for (i, s) in std::iter::once(&self.primary)
            .chain(&self.extra)
            .enumerate()
        {
            if let Some(found) = s.find(&parsed) {
                let r = s.resolve_name(&found)?;
                // hearth scans what it installs; a model it did not install (an Ollama
                // store), or installed before scans were recorded, is scanned before use.
                let scanned = i == 0 && r.provenance.as_ref().is_some_and(|p| p.scan.is_some());
                if !scanned && !r.gguf_path.as_os_str().is_empty() {
                    crate::guard::scan_before_serving(&r.gguf_path, &*s.policy()?)?;
                }
                return Ok(r);
            }
        }
        Err(StoreError::NotFound(parsed.display_shortest()))
    }

    /// The store holding a name, and the name as stored.
    pub fn locate(&self, name: &ModelName) -> Option<(&Store, ModelName)> {
        std::iter::once(&self.primary)
            .chain(&self.extra)
            .find_map(|s| s.find(name).map(|n| (s, n)))
    }

    /// Models of all stores.
    pub fn list_all(&self) -> Result<Vec<ListEntry>> {
        let mut out = self.primary.list()?;
        for s in &self.extra {
            out.extend(s.list()?);
        }
        Ok(out)
    }
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> PathBuf {
    env_path("HOME").unwrap_or_else(|| PathBuf::from("."))
}
