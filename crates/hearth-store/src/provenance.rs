//! Provenance records and the trust policy, as the store applies them.
//!
//! Every install (pull, create, import, copy) writes a [`Provenance`] record: where the model
//! came from (registry host or `local`/`bundle`, URL or path, model-file digest, time) and the
//! worst finding of the install-time security scan. Records live in their own tree,
//! `provenance/<host>/<namespace>/<model>/<tag>.provenance.json`, not beside the manifests:
//! anything under `manifests/*/*/*/*` is read as a model by Ollama (a `<tag>.provenance.json`
//! file there would show up in `ollama list` as a bogus tag), and hearth stores stay readable
//! by Ollama. `rm` deletes the record with the manifest.
//!
//! The trust policy ([`Policy`], from `$HEARTH_POLICY` or `~/.config/hearth/policy.json`, or
//! the one given to [`Store::with_policy`]) is enforced at pull (before any model blob is
//! downloaded when the digest is known up front), at create, and at load: [`Store::resolve`]
//! and [`crate::Stores::resolve`] refuse a model whose model-layer digest does not match its
//! pin, whose recorded registry is not allowed, or that lacks a required signature.
//!
//! Signatures: `create` from a local file looks for a minisign signature beside it
//! (`model.gguf.minisig`, as `minisign -Sm model.gguf` writes it) and verifies it over the
//! installed blob with each of the policy's `required_keys`; the keys that verified go into
//! the record's `signed_by`, which the load-time check reads. A signature by a required key
//! that does not verify refuses the create. Pulls verify no signatures (Ollama registries
//! and Hugging Face publish none hearth checks), so with `required_keys` set only signed
//! local files can be installed and loaded.

use std::path::{Path, PathBuf};

use hearth_guard::policy::Subject;
pub use hearth_guard::policy::{Policy, Stage};
pub use hearth_guard::provenance::Provenance;
use hearth_guard::sign::{PublicKey, SignError};

use crate::error::{Result, StoreError};
use crate::guard::ScanResult;
use crate::name::ModelName;
use crate::store::Store;

/// Registry value of models created from a local file.
pub const LOCAL: &str = "local";
/// Registry value of models imported from a bundle.
pub const BUNDLE: &str = "bundle";

/// Whether a record's `registry` is not a network origin (a `local` file, a `bundle`
/// import): its `url` is then a path on this machine.
pub fn is_local_registry(registry: &str) -> bool {
    registry == LOCAL || registry == BUNDLE
}

impl Store {
    /// Where the provenance record of `name` lives (it may not exist).
    pub fn provenance_path(&self, name: &ModelName) -> PathBuf {
        hearth_guard::provenance::provenance_path(
            &self
                .root()
                .join("provenance")
                .join(name.manifest_rel_path()),
        )
    }

    /// The provenance record of an installed model; `Ok(None)` when it has none (installed
    /// before hearth recorded provenance, or a read-only Ollama store).
    pub fn read_provenance(&self, name: &ModelName) -> Result<Option<Provenance>> {
        let base = self
            .root()
            .join("provenance")
            .join(name.manifest_rel_path());
        Provenance::read(&base).map_err(provenance_error)
    }

    /// Write (replace) the record of `name`.
    pub(crate) fn write_provenance(&self, name: &ModelName, p: &Provenance) -> Result<()> {
        self.writable()?;
        let base = self
            .root()
            .join("provenance")
            .join(name.manifest_rel_path());
        if let Some(dir) = base.parent() {
            std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
        }
        let mut p = p.clone();
        p.name = name.display_shortest();
        p.write(&base).map_err(provenance_error)?;
        Ok(())
    }

    /// A new record for `name`, stamped now.
    pub(crate) fn record_install(
        &self,
        name: &ModelName,
        registry: &str,
        url: &str,
        digest: &str,
        scan: Option<ScanResult>,
    ) -> Result<()> {
        let mut p = Provenance::now(&name.display_shortest(), registry, url, digest);
        p.scan = scan.map(|s| s.name().to_owned());
        self.write_provenance(name, &p)
    }

    /// Delete the record of `name` (nothing to do when there is none).
    pub(crate) fn remove_provenance(&self, name: &ModelName) -> Result<()> {
        let path = self.provenance_path(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(&path)(e)),
        }
        let stop = self.root().join("provenance");
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == stop || !d.starts_with(&stop) || std::fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(())
    }

    /// Use this policy instead of reading the policy file at each check.
    pub fn with_policy(mut self, policy: Policy) -> Store {
        self.policy = Some(std::sync::Arc::new(policy));
        self
    }

    /// The policy in force: the one given to [`Store::with_policy`], else the policy file
    /// (re-read at each check, so a running server sees edits), else the default (pickle
    /// refused, everything else allowed). A policy file that does not parse is an error.
    pub fn policy(&self) -> Result<std::sync::Arc<Policy>> {
        if let Some(p) = &self.policy {
            return Ok(p.clone());
        }
        Policy::load_or_default()
            .map(std::sync::Arc::new)
            .map_err(|e| StoreError::Policy(e.to_string()))
    }

    /// The policy's required keys that signed `blob`, the installed copy of the file a model
    /// is created from (so the bytes checked are the bytes installed): a minisign signature
    /// `<source>.minisig`, and an OpenSSF model-signing bundle `<source>.sig` (or `model.sig`,
    /// `model_signing`'s default name, beside it) checked with the policy's `oms_keys`. No
    /// signature file: no keys. A signature by a required key that does not verify refuses
    /// the file.
    pub(crate) fn verified_keys(&self, source: &Path, blob: &Path) -> Result<Vec<String>> {
        let policy = self.policy()?;
        let mut out = self.minisign_keys(&policy, source, blob)?;
        out.extend(oms_keys(&policy, source, blob)?);
        Ok(out)
    }

    fn minisign_keys(&self, policy: &Policy, source: &Path, blob: &Path) -> Result<Vec<String>> {
        let sig_path = hearth_guard::sign::signature_path(source);
        let text = match std::fs::read_to_string(&sig_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(&sig_path)(e)),
        };
        let mut out = Vec::new();
        for k in &policy.required_keys {
            if k.trim().starts_with("oms:") {
                continue;
            }
            let key = match PublicKey::parse(k) {
                Ok(key) => key,
                Err(e) => {
                    tracing::warn!("trust policy: required key {k:?} does not parse: {e}");
                    continue;
                }
            };
            match hearth_guard::sign::verify_file(blob, &text, &key) {
                Ok(_) => out.push(k.trim().to_owned()),
                Err(SignError::WrongKey { .. }) => {}
                Err(e) => {
                    return Err(StoreError::Refused {
                        what: sig_path.display().to_string(),
                        reason: format!(
                            "signature of {} by key {}: {e}",
                            source.display(),
                            key.id_hex()
                        ),
                    })
                }
            }
        }
        Ok(out)
    }

    /// Check a model against the policy.
    pub(crate) fn enforce_policy(
        &self,
        stage: Stage,
        name: &ModelName,
        registry: Option<&str>,
        digest: Option<&str>,
        verified_keys: &[String],
    ) -> Result<()> {
        let policy = self.policy()?;
        let shown = name.display_shortest();
        policy
            .enforce(
                stage,
                &Subject {
                    name: &shown,
                    registry,
                    digest,
                    verified_keys,
                    is_pickle: false,
                },
            )
            .map_err(|v| StoreError::Refused {
                what: shown.clone(),
                reason: format!("trust policy: {v}"),
            })
    }
}

/// The `oms:` ids of the policy's required OMS keys whose bundle beside `source` verifies
/// over `blob`. `<source>.sig` belongs to this file: when none of the required keys verifies
/// it and one of them failed for another reason than being a different signer (the bundle's
/// key hint), the file is refused. `model.sig` may cover something else in the directory, so
/// a failure there is only logged.
fn oms_keys(policy: &Policy, source: &Path, blob: &Path) -> Result<Vec<String>> {
    use hearth_guard::oms::{verify_model, OmsError, VerifyOptions};
    let own = PathBuf::from(format!("{}.sig", source.display()));
    let shared = source.parent().map(|d| d.join("model.sig"));
    let bundles: Vec<(PathBuf, bool)> = [Some((own, true)), shared.map(|p| (p, false))]
        .into_iter()
        .flatten()
        .filter(|(p, _)| p.is_file())
        .collect();
    if bundles.is_empty()
        || !policy
            .required_keys
            .iter()
            .any(|k| k.trim().starts_with("oms:"))
    {
        return Ok(Vec::new());
    }
    let keys = policy
        .required_oms_keys()
        .map_err(|e| StoreError::Policy(e.to_string()))?;
    let mut out = Vec::new();
    for (bundle, is_own) in &bundles {
        let mut failure = None;
        let before = out.len();
        for key in &keys {
            match verify_model(blob, bundle, key, &VerifyOptions::default()) {
                Ok(_) => out.push(key.policy_id()),
                // Signed by some other key (the hint says so before any signature check).
                Err(OmsError::KeyMismatch { .. }) => {}
                Err(e) => failure = Some((key.policy_id(), e)),
            }
        }
        match failure {
            Some((id, e)) if out.len() == before && *is_own => {
                return Err(StoreError::Refused {
                    what: bundle.display().to_string(),
                    reason: format!(
                        "model-signing bundle for {} with required key {id}: {e}",
                        source.display()
                    ),
                })
            }
            Some((id, e)) if out.len() == before => {
                tracing::info!(bundle = %bundle.display(), "does not sign {} with {id}: {e}", source.display());
            }
            _ => {}
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn provenance_error(e: hearth_guard::provenance::ProvenanceError) -> StoreError {
    use hearth_guard::provenance::ProvenanceError as P;
    match e {
        P::Io { path, source } => StoreError::Io { path, source },
        P::Json { path, source } => StoreError::Json {
            what: path.display().to_string(),
            source,
        },
    }
}

/// The host of a URL (`https://host:port/path` -> `host:port`), for the `registry` field of a
/// URL or Hugging Face pull.
pub(crate) fn url_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    host.rsplit('@').next().unwrap_or(host).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls() {
        assert_eq!(url_host("https://huggingface.co/a/b"), "huggingface.co");
        assert_eq!(url_host("http://127.0.0.1:8080/x.gguf"), "127.0.0.1:8080");
        assert_eq!(url_host("https://u:p@Example.com?x"), "example.com");
    }
}
