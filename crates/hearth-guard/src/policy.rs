//! Trust policy: which registries models may come from, pinned sha256 digests per model
//! name/tag, required signature keys, and whether pickle-based formats are refused.
//!
//! Policy file (JSON), e.g. `~/.config/hearth/policy.json`:
//! ```json
//! {
//!   "allowed_registries": ["registry.ollama.ai", "huggingface.co"],
//!   "pinned": { "qwen2.5-coder:0.5b": "sha256:1d96...ff32" },
//!   "required_keys": ["RWQBAgMEBQYHCA...", "oms:sha256:5c1f...9a"],
//!   "oms_keys": ["keys/release-signer.pem"]
//! }
//! ```
//! An empty `allowed_registries` allows every registry; `required_keys` empty means no
//! signature is required. A `required_keys` entry is a minisign public key (base64 line) or
//! an OpenSSF model-signing P-256 key as `oms:sha256:<hex sha256 of its PEM>`
//! ([`crate::oms::OmsKey::policy_id`], the same digest OMS bundles carry as their key hint);
//! the PEM files of those keys are listed in `oms_keys` (paths relative to the policy file).
//!
//! `refuse_pickle` is accepted for compatibility and must be `true` (its default): hearth
//! installs and serves only GGUF files and refuses pickle-based formats unconditionally, so a
//! policy asking to allow them is an error rather than a setting silently not honoured.
//! The store calls [`Policy::enforce`] at pull, create and load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// When the policy is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Pull,
    Create,
    Load,
}

/// The trust policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub allowed_registries: Vec<String>,
    /// model name (`name:tag`) -> `sha256:<hex>` or bare hex.
    #[serde(default)]
    pub pinned: BTreeMap<String, String>,
    /// minisign public keys (base64 line) or OMS key ids (`oms:sha256:<hex>`); at least one
    /// must have signed the model.
    #[serde(default)]
    pub required_keys: Vec<String>,
    /// PEM public keys (P-256) that `oms:` entries of `required_keys` name, so an OMS bundle
    /// beside a model can be verified; relative paths are taken from the policy file's
    /// directory.
    #[serde(default)]
    pub oms_keys: Vec<PathBuf>,
    /// Always `true` (pickles are never installed); `false` is refused at load.
    #[serde(default = "yes")]
    pub refuse_pickle: bool,
    /// Security-scan findings an operator reviewed and accepts, per model file:
    /// `"sha256:<hex of the file>": ["rule.id", ...]` (`"*"` for every rule). Applies to the
    /// scan of models hearth did not install (an Ollama store, a file run by path); each use
    /// is logged. Keyed by digest so that it covers exactly the file that was reviewed.
    #[serde(default)]
    pub allow_findings: BTreeMap<String, Vec<String>>,
}

fn yes() -> bool {
    true
}

impl Default for Policy {
    /// Everything allowed except pickles.
    fn default() -> Self {
        Policy {
            allowed_registries: Vec::new(),
            pinned: BTreeMap::new(),
            required_keys: Vec::new(),
            oms_keys: Vec::new(),
            refuse_pickle: true,
            allow_findings: BTreeMap::new(),
        }
    }
}

/// What is being installed or loaded.
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    /// `name:tag` (a missing tag means `latest`).
    pub name: &'a str,
    /// Registry host, `None` for local files (`create`).
    pub registry: Option<&'a str>,
    /// sha256 hex of the model file (`sha256:` prefix allowed).
    pub digest: Option<&'a str>,
    /// Keys whose signature over this model verified: minisign base64 lines, or
    /// [`crate::oms::OmsKey::policy_id`] for OMS bundles.
    pub verified_keys: &'a [String],
    /// The file is a pickle-based format (from [`crate::detect`]).
    pub is_pickle: bool,
}

/// Why a policy refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error(
        "{stage:?} of {name}: registry {registry:?} is not in the policy's allowed registries"
    )]
    Registry {
        stage: Stage,
        name: String,
        registry: String,
    },
    #[error("{stage:?} of {name}: digest {actual} does not match the pinned {pinned}")]
    DigestMismatch {
        stage: Stage,
        name: String,
        pinned: String,
        actual: String,
    },
    #[error("{stage:?} of {name}: the policy pins a digest but none is known for this model")]
    DigestUnknown { stage: Stage, name: String },
    #[error("{stage:?} of {name}: no signature from a required key")]
    Unsigned { stage: Stage, name: String },
    #[error("{stage:?} of {name}: pickle-based model formats are refused")]
    Pickle { stage: Stage, name: String },
}

/// Policy file problems.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
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
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

fn norm_digest(d: &str) -> String {
    d.trim()
        .strip_prefix("sha256:")
        .unwrap_or(d.trim())
        .to_ascii_lowercase()
}

fn with_tag(name: &str) -> String {
    if name
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains(':'))
    {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

impl Policy {
    /// `$HEARTH_POLICY`, else `$XDG_CONFIG_HOME/hearth/policy.json`, else
    /// `~/.config/hearth/policy.json`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("HEARTH_POLICY").filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
        Some(config.join("hearth").join("policy.json"))
    }

    /// The policy at [`Policy::default_path`], or the permissive default (pickle refused,
    /// everything else allowed) when there is no such file. A file that exists but does not
    /// parse is an error, never silently ignored.
    pub fn load_or_default() -> Result<Policy, PolicyError> {
        match Self::default_path() {
            Some(p) if p.exists() => Policy::load(&p),
            _ => Ok(Policy::default()),
        }
    }

    /// Read a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read(path).map_err(|source| PolicyError::Io {
            path: path.into(),
            source,
        })?;
        let mut policy: Policy =
            serde_json::from_slice(&text).map_err(|source| PolicyError::Json {
                path: path.into(),
                source,
            })?;
        if !policy.refuse_pickle {
            return Err(PolicyError::Invalid {
                path: path.into(),
                reason: "refuse_pickle: false cannot be honoured: hearth installs only GGUF \
                         files and always refuses pickle-based formats (remove the field)"
                    .into(),
            });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for k in &mut policy.oms_keys {
            if k.is_relative() {
                *k = base.join(&*k);
            }
        }
        Ok(policy)
    }

    /// The OMS keys of `oms_keys` that `required_keys` names (by [`crate::oms::OmsKey::policy_id`]).
    /// A key file that cannot be read or parsed is an error: a policy that names a key must
    /// be able to check it.
    pub fn required_oms_keys(&self) -> Result<Vec<crate::oms::OmsKey>, PolicyError> {
        let mut out = Vec::new();
        for path in &self.oms_keys {
            let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Io {
                path: path.clone(),
                source,
            })?;
            let key = crate::oms::OmsKey::from_pem(&text).map_err(|e| PolicyError::Invalid {
                path: path.clone(),
                reason: format!("oms_keys: {e}"),
            })?;
            let id = key.policy_id();
            if self.required_keys.iter().any(|r| r.trim() == id) {
                out.push(key);
            }
        }
        Ok(out)
    }

    /// Whether the policy accepts finding `rule` in the model file whose sha256 is `digest`
    /// (`sha256:` prefix optional).
    pub fn allows_finding(&self, digest: &str, rule: &str) -> bool {
        let want = norm_digest(digest);
        self.allow_findings
            .iter()
            .filter(|(d, _)| norm_digest(d) == want)
            .any(|(_, rules)| rules.iter().any(|r| r == "*" || r == rule))
    }

    /// The pinned digest for a model name, trying `name:tag` then `name` as written.
    pub fn pinned_digest(&self, name: &str) -> Option<String> {
        let full = with_tag(name);
        self.pinned
            .iter()
            .find(|(k, _)| with_tag(k) == full)
            .map(|(_, v)| norm_digest(v))
    }

    /// Check a model against the policy.
    pub fn enforce(&self, stage: Stage, s: &Subject<'_>) -> Result<(), Violation> {
        let name = s.name.to_owned();
        if s.is_pickle && self.refuse_pickle {
            return Err(Violation::Pickle { stage, name });
        }
        if let Some(reg) = s.registry {
            if !self.allowed_registries.is_empty()
                && !self
                    .allowed_registries
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(reg))
            {
                return Err(Violation::Registry {
                    stage,
                    name,
                    registry: reg.to_owned(),
                });
            }
        }
        if let Some(pinned) = self.pinned_digest(s.name) {
            match s.digest.map(norm_digest) {
                None => return Err(Violation::DigestUnknown { stage, name }),
                Some(actual) if actual != pinned => {
                    return Err(Violation::DigestMismatch {
                        stage,
                        name,
                        pinned,
                        actual,
                    })
                }
                Some(_) => {}
            }
        }
        if !self.required_keys.is_empty()
            && !s
                .verified_keys
                .iter()
                .any(|k| self.required_keys.iter().any(|r| r.trim() == k.trim()))
        {
            return Err(Violation::Unsigned { stage, name });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_digest_mismatch_is_refused() {
        let p: Policy = serde_json::from_str(r#"{"pinned": {"qwen:0.5b": "sha256:AB"}, "allowed_registries": ["registry.ollama.ai"]}"#).unwrap();
        assert!(p.refuse_pickle);
        let ok = Subject {
            name: "qwen:0.5b",
            registry: Some("registry.ollama.ai"),
            digest: Some("ab"),
            ..Default::default()
        };
        assert_eq!(p.enforce(Stage::Pull, &ok), Ok(()));
        let bad = Subject {
            digest: Some("sha256:cd"),
            ..ok.clone()
        };
        assert!(matches!(
            p.enforce(Stage::Load, &bad),
            Err(Violation::DigestMismatch { .. })
        ));
        let reg = Subject {
            registry: Some("evil.example"),
            ..ok.clone()
        };
        assert!(matches!(
            p.enforce(Stage::Pull, &reg),
            Err(Violation::Registry { .. })
        ));
        assert!(matches!(
            p.enforce(
                Stage::Create,
                &Subject {
                    is_pickle: true,
                    ..ok
                }
            ),
            Err(Violation::Pickle { .. })
        ));
        assert_eq!(p.pinned_digest("other"), None);
        assert!(serde_json::from_str::<Policy>(r#"{"pinend": {}}"#).is_err());
    }
}
