//! `create NAME -f Modelfile`: a model from a local GGUF file or an existing model, plus
//! template, system prompt, parameters, license and messages.

use std::path::{Path, PathBuf};

use crate::download::{import_file, import_file_scanned, write_blob};
use crate::error::{Result, StoreError};
use crate::manifest::{self, Layer, Manifest};
use crate::modelfile::{Command, Modelfile};
use crate::name::ModelName;
use crate::progress::{Progress, PullEvent};
use crate::provenance::{Provenance, Stage, LOCAL};
use crate::store::{Message, Store};

/// How `create` treats a local GGUF file.
#[derive(Debug, Clone, Copy, Default)]
pub struct CreateOptions {
    /// Hard-link the file into `blobs/` instead of copying it (the blob then shares the
    /// file's inode: editing the file in place would corrupt the store).
    pub link: bool,
    /// `FROM` may only name a model: the filesystem is never consulted, so a caller over
    /// HTTP cannot make the server read (or probe for) its files with a relative path that
    /// also parses as a model name (`etc/passwd`).
    pub names_only: bool,
}

impl Store {
    /// Import one local GGUF file as a model (what `FROM ./file.gguf` does).
    pub fn import_gguf(
        &self,
        name: &ModelName,
        path: &Path,
        link: bool,
        progress: Progress<'_>,
    ) -> Result<Manifest> {
        let mf = Modelfile {
            commands: vec![(1, Command::From(path.display().to_string()))],
        };
        self.create(
            name,
            &mf,
            Path::new("."),
            &[],
            CreateOptions {
                link,
                names_only: false,
            },
            progress,
        )
    }

    /// Create `name` from a parsed Modelfile. Relative `FROM` paths are taken from `base_dir`;
    /// a `FROM` that is not a file names a model in this store or in `extra` stores.
    pub fn create(
        &self,
        name: &ModelName,
        mf: &Modelfile,
        base_dir: &Path,
        extra: &[Store],
        opts: CreateOptions,
        progress: Progress<'_>,
    ) -> Result<Manifest> {
        self.writable()?;
        let _gc = self.gc_lock(false)?;
        let from = mf
            .commands
            .iter()
            .find_map(|(_, c)| match c {
                Command::From(f) => Some(f.clone()),
                _ => None,
            })
            .ok_or_else(|| StoreError::Modelfile {
                line: 0,
                reason: "no FROM line".into(),
            })?;
        for (line, c) in &mf.commands {
            if let Command::Adapter(_) = c {
                return Err(StoreError::Modelfile {
                    line: *line,
                    reason: "ADAPTER is not supported".into(),
                });
            }
        }
        if opts.names_only && looks_like_path(&from) {
            return Err(StoreError::Refused {
                what: "FROM".into(),
                reason: "must name a model".into(),
            });
        }
        // With `names_only` the path is never looked at (expanding it touches nothing).
        let path = expand_path(&from, base_dir);
        let mut layers: Vec<Layer>;
        let mut base_params = serde_json::Map::new();
        // The new model's provenance: the local file, or the base model's record.
        let origin: Provenance;
        if !opts.names_only && path.is_file() {
            progress(&PullEvent::status(format!(
                "copying file {}",
                path.display()
            )));
            let (digest, size, scan) =
                import_file_scanned(&self.blobs_dir(), &path, manifest::MEDIA_MODEL, opts.link)?;
            let shown = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            let signed_by = match self.verified_keys(&path, &self.blob_path(&digest)) {
                Ok(keys) => keys,
                Err(e) => {
                    self.discard_unreferenced(std::slice::from_ref(&digest));
                    return Err(e);
                }
            };
            origin = Provenance {
                scan: scan.map(|s| s.name().to_owned()),
                signed_by,
                ..Provenance::now(
                    &name.display_shortest(),
                    LOCAL,
                    &shown.display().to_string(),
                    &digest.to_string(),
                )
            };
            progress(&PullEvent::status(format!("using layer {digest}")));
            layers = vec![Layer {
                media_type: manifest::MEDIA_MODEL.into(),
                digest,
                size,
                from: None,
            }];
        } else if !opts.names_only && path.exists() {
            return Err(StoreError::Refused {
                what: path.display().to_string(),
                reason: "FROM must be a GGUF file or a model name (directories of safetensors are not supported)".into(),
            });
        } else {
            if looks_like_path(&from) {
                return Err(StoreError::Io {
                    path,
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "FROM file not found",
                    ),
                });
            }
            let base = ModelName::parse(&from)?;
            let (src_store, found) = std::iter::once(self)
                .chain(extra)
                .find_map(|s| s.find(&base).map(|n| (s, n)))
                .ok_or_else(|| StoreError::NotFound(base.display_shortest()))?;
            let resolved = src_store.resolve_name(&found)?;
            base_params = resolved.params.clone();
            let (m, _, _) = src_store.read_manifest(&found)?;
            for l in m.all_layers() {
                if !self.blob_path(&l.digest).is_file() {
                    let (d, _) = import_file(
                        &self.blobs_dir(),
                        &src_store.blob_path(&l.digest),
                        &l.media_type,
                        false,
                    )?;
                    if d != l.digest {
                        return Err(StoreError::DigestMismatch {
                            what: src_store.blob_path(&l.digest).display().to_string(),
                            expected: l.digest.to_string(),
                            actual: d.to_string(),
                        });
                    }
                }
            }
            layers = m.layers.clone();
            for l in &mut layers {
                if l.media_type == manifest::MEDIA_MODEL && l.from.is_none() {
                    l.from = Some(found.display_shortest());
                }
            }
            let model_digest = m.model_layer().map(|l| l.digest.to_string());
            origin = match src_store.read_provenance(&found)? {
                Some(p) => p,
                None => Provenance::now(
                    &name.display_shortest(),
                    LOCAL,
                    &found.display_shortest(),
                    model_digest.as_deref().unwrap_or(""),
                ),
            };
        }
        let model_path = layers
            .iter()
            .find(|l| l.media_type == manifest::MEDIA_MODEL)
            .map(|l| self.blob_path(&l.digest))
            .ok_or_else(|| StoreError::InvalidManifest {
                what: from.clone(),
                reason: "base has no model layer".into(),
            })?;
        let config = self.config_layer(&model_path)?;

        let mut replace = |media: &str, bytes: Option<Vec<u8>>| -> Result<()> {
            layers.retain(|l| l.media_type != media);
            if let Some(b) = bytes {
                let (digest, size) = write_blob(&self.blobs_dir(), &b)?;
                progress(&PullEvent::status(format!(
                    "creating {} layer {digest}",
                    media.rsplit('.').next().unwrap_or(media)
                )));
                layers.push(Layer {
                    media_type: media.into(),
                    digest,
                    size,
                    from: None,
                });
            }
            Ok(())
        };
        let last = |f: &dyn Fn(&Command) -> Option<String>| {
            mf.commands.iter().rev().find_map(|(_, c)| f(c))
        };
        if let Some(t) = last(&|c| {
            if let Command::Template(t) = c {
                Some(t.clone())
            } else {
                None
            }
        }) {
            replace(manifest::MEDIA_PROMPT, None)?;
            replace(manifest::MEDIA_TEMPLATE, Some(t.into_bytes()))?;
        }
        if let Some(s) = last(&|c| {
            if let Command::System(s) = c {
                Some(s.clone())
            } else {
                None
            }
        }) {
            replace(manifest::MEDIA_SYSTEM, Some(s.into_bytes()))?;
        }
        let params = mf.params()?;
        if !params.is_empty() {
            let mut merged = base_params;
            for (k, v) in params {
                merged.insert(k, v);
            }
            replace(
                manifest::MEDIA_PARAMS,
                Some(serde_json::to_vec(&merged).unwrap_or_default()),
            )?;
        }
        let messages: Vec<Message> = mf
            .commands
            .iter()
            .filter_map(|(_, c)| match c {
                Command::Message { role, content } => Some(Message {
                    role: role.clone(),
                    content: content.clone(),
                }),
                _ => None,
            })
            .collect();
        if !messages.is_empty() {
            replace(
                manifest::MEDIA_MESSAGES,
                Some(serde_json::to_vec(&messages).unwrap_or_default()),
            )?;
        }
        let licenses: Vec<&String> = mf
            .commands
            .iter()
            .filter_map(|(_, c)| {
                if let Command::License(l) = c {
                    Some(l)
                } else {
                    None
                }
            })
            .collect();
        if !licenses.is_empty() {
            replace(manifest::MEDIA_LICENSE, None)?;
            for l in licenses {
                let (digest, size) = write_blob(&self.blobs_dir(), l.as_bytes())?;
                layers.push(Layer {
                    media_type: manifest::MEDIA_LICENSE.into(),
                    digest,
                    size,
                    from: None,
                });
            }
        }
        let m = Manifest::new(config, layers);
        let model_digest = m.model_layer().map(|l| l.digest.to_string());
        let registry =
            Some(origin.registry.as_str()).filter(|r| !crate::provenance::is_local_registry(r));
        if let Err(e) = self.enforce_policy(
            Stage::Create,
            name,
            registry,
            model_digest.as_deref(),
            &origin.signed_by,
        ) {
            // Refused: leave no blob behind that no model uses.
            let written: Vec<_> = m.all_layers().iter().map(|l| l.digest.clone()).collect();
            self.discard_unreferenced(&written);
            return Err(e);
        }
        progress(&PullEvent::status("writing manifest"));
        self.write_manifest(name, &m)?;
        self.write_provenance(name, &origin)?;
        progress(&PullEvent::status("success"));
        Ok(m)
    }
}

/// A model file a remote caller may name: `path` is absolute, lies (after resolving every
/// symlink) under one of `allowed` directories, is a regular file, and is a valid GGUF that
/// passes the security scan, checked in place before anything is copied. `None` for every
/// other path, whatever the reason, so that the answer says nothing about files outside the
/// allowed directories; the reason goes to the log.
pub fn allowed_model_file(path: &str, allowed: &[PathBuf]) -> Option<PathBuf> {
    let p = Path::new(path);
    if allowed.is_empty() || !p.is_absolute() {
        return None;
    }
    let real = std::fs::canonicalize(p).ok()?;
    let inside = allowed
        .iter()
        .any(|dir| std::fs::canonicalize(dir).is_ok_and(|d| real.starts_with(&d) && real != d));
    if !inside {
        tracing::warn!(
            path,
            "create: refused a path outside the allowed model directories"
        );
        return None;
    }
    if !std::fs::metadata(&real).is_ok_and(|m| m.file_type().is_file()) {
        tracing::warn!(path, "create: not a regular file");
        return None;
    }
    if let Err(e) = crate::guard::check_layer_file(&real, manifest::MEDIA_MODEL) {
        tracing::warn!(path, "create: refused model file: {e}");
        return None;
    }
    Some(real)
}

fn looks_like_path(s: &str) -> bool {
    s.starts_with(['.', '/', '~']) || s.to_ascii_lowercase().ends_with(".gguf") || s.contains('\\')
}

fn expand_path(s: &str, base: &Path) -> PathBuf {
    if let Some(rest) = s.strip_prefix("~/") {
        if let Some(h) = std::env::var_os("HOME") {
            return PathBuf::from(h).join(rest);
        }
    }
    let p = Path::new(s);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    }
}
