//! The routing policy file (`~/.config/hearth/router.toml`) and the per-project file that may
//! only tighten it (`.hearth/router.toml`).
use std::path::Path;

use serde::Deserialize;

use crate::decide::Task;

/// A policy that cannot be used: the server refuses to start with it.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("reading {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: a project policy may only tighten the user's: {what}")]
    Loosens { file: String, what: String },
}

/// Whether anything may leave at all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Nothing leaves; no upstream client exists.
    #[default]
    LocalOnly,
    /// Rules may send requests to upstreams.
    Hybrid,
}

/// What an explicit cloud request gets where the policy says local.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnForbidden {
    /// Refused (403, naming the rule).
    #[default]
    Error,
    /// Answered locally.
    Local,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Router {
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub on_forbidden: OnForbidden,
    /// The audit log of upstream attempts (JSON Lines, mode 0600); default
    /// `~/.hearth/route-audit.jsonl`.
    pub audit_log: Option<String>,
    /// The local model that answers a request for a cloud alias which stays here (the policy
    /// kept it local, a fallback, a secret that must not leave).
    pub local_model: Option<String>,
    /// Spending limits in US dollars (UTC day, calendar month), summed from the audit log's
    /// costs: once reached, requests stay local until the period ends.
    pub budget_usd_per_day: Option<f64>,
    pub budget_usd_per_month: Option<f64>,
    /// Records older than this many days are dropped from the audit log when the server
    /// starts (none by default: kept for ever).
    pub audit_retention_days: Option<u32>,
    /// Also log the exact redacted body of every upstream attempt: what left the machine.
    #[serde(default)]
    pub audit_bodies: bool,
}

/// What the redactor knows besides its built-in rules (hybrid mode).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redact {
    /// `.env`-style files whose values never leave.
    #[serde(default)]
    pub env_files: Vec<String>,
    /// Secret-named environment variables of the server (`*_KEY`, `*_TOKEN`, `*_SECRET`, ...)
    /// are known values too (default on).
    #[serde(default = "yes")]
    pub from_env: bool,
    /// Host names under these suffixes are replaced.
    #[serde(default)]
    pub internal_domains: Vec<String>,
    /// Words that are always replaced.
    #[serde(default)]
    pub deny: Vec<String>,
    /// Known values keep a request local instead of being replaced (default on).
    #[serde(default = "yes")]
    pub block_known: bool,
}

fn yes() -> bool {
    true
}

impl Default for Redact {
    fn default() -> Self {
        Redact {
            env_files: Vec::new(),
            from_env: true,
            internal_domains: Vec::new(),
            deny: Vec::new(),
            block_known: true,
        }
    }
}

/// The protocol an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpstreamKind {
    Openai,
    Anthropic,
}

/// Price per million tokens, in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub in_per_mtok: f64,
    pub out_per_mtok: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    pub name: String,
    pub kind: UpstreamKind,
    pub base_url: String,
    /// The environment variable holding its key (never the key itself).
    pub api_key_env: Option<String>,
    pub price: Option<Price>,
    pub first_byte_timeout_s: Option<f64>,
}

/// A name clients use as a model (`smart`), its target and fallbacks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Alias {
    pub name: String,
    pub target: String,
    #[serde(default)]
    pub fallback: Vec<String>,
}

/// When a rule applies: every condition given must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    pub task: Option<Task>,
    pub has_tools: Option<bool>,
    pub est_local_prefill_s_gt: Option<f64>,
    pub prompt_tokens_gt: Option<u64>,
    pub exceeds_local_context: Option<bool>,
    pub project: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    #[serde(default)]
    pub when: When,
    /// `local`, `alias:NAME` or `UPSTREAM:MODEL`.
    pub route: String,
}

/// A project's standing settings in the user's policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub name: String,
    #[serde(default)]
    pub local_only: bool,
}

/// Where a route points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The local engine (a named local model, or the one asked for).
    Local(Option<String>),
    /// An upstream's model.
    Upstream { upstream: String, model: String },
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Local(None) => f.write_str("local"),
            Target::Local(Some(m)) => write!(f, "local:{m}"),
            Target::Upstream { upstream, model } => write!(f, "{upstream}:{model}"),
        }
    }
}

/// The whole policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub router: Router,
    #[serde(default, rename = "upstream")]
    pub upstreams: Vec<Upstream>,
    #[serde(default, rename = "alias")]
    pub aliases: Vec<Alias>,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
    #[serde(default, rename = "project")]
    pub projects: Vec<Project>,
    #[serde(default)]
    pub redact: Redact,
}

/// What a project's own file may say: stay local, and rules that keep requests local.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectFile {
    #[serde(default)]
    router: Option<ProjectRouter>,
    #[serde(default, rename = "rule")]
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectRouter {
    mode: Option<Mode>,
}

/// `$XDG_CONFIG_HOME/hearth/router.toml`, else `~/.config/hearth/router.toml`.
pub fn default_policy_path() -> Option<std::path::PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".config")))
        .map(|d| d.join("hearth").join("router.toml"))
}

fn read(path: &Path) -> Result<String, PolicyError> {
    std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        file: path.display().to_string(),
        source,
    })
}

impl Policy {
    /// Parse and check a policy; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Policy, PolicyError> {
        let p: Policy = toml::from_str(text).map_err(|e| PolicyError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        p.validate(file)?;
        Ok(p)
    }

    /// The policy at `path`; a missing file is the default (local-only).
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        if !path.exists() {
            return Ok(Policy::default());
        }
        Policy::parse(&read(path)?, &path.display().to_string())
    }

    /// Apply a project's file: it may switch to local-only and add rules that route local
    /// (tried before the user's); anything that would send more out is refused.
    pub fn tighten(&mut self, text: &str, file: &str) -> Result<(), PolicyError> {
        let p: ProjectFile = toml::from_str(text).map_err(|e| PolicyError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        })?;
        match p.router.and_then(|r| r.mode) {
            Some(Mode::LocalOnly) => self.router.mode = Mode::LocalOnly,
            Some(Mode::Hybrid) if self.router.mode == Mode::LocalOnly => {
                return Err(PolicyError::Loosens {
                    file: file.to_string(),
                    what: "mode = \"hybrid\" under a local-only policy".into(),
                })
            }
            _ => {}
        }
        for r in &p.rules {
            if !matches!(self.target(&r.route, file)?, Target::Local(_)) {
                return Err(PolicyError::Loosens {
                    file: file.to_string(),
                    what: format!("rule {:?} routes to {:?}", r.id, r.route),
                });
            }
        }
        let mut rules = p.rules;
        rules.append(&mut self.rules);
        self.rules = rules;
        Ok(())
    }

    /// Apply the project file at `path` if there is one.
    pub fn tighten_from(&mut self, path: &Path) -> Result<(), PolicyError> {
        if !path.exists() {
            return Ok(());
        }
        self.tighten(&read(path)?, &path.display().to_string())
    }

    /// The local model a request for `asked` runs on when it stays here: the one the route
    /// names, else for a cloud alias `[router] local_model`, else the one asked for (`None`:
    /// unchanged). `Err` for an alias with no local model to fall back to.
    pub fn local_model_for(
        &self,
        asked: &str,
        named: Option<&str>,
    ) -> Result<Option<String>, String> {
        if let Some(m) = named {
            return Ok(Some(m.to_string()));
        }
        if self.alias(asked).is_none() {
            return Ok(None);
        }
        match &self.router.local_model {
            Some(m) => Ok(Some(m.clone())),
            None => Err(format!(
                "{asked:?} is a cloud alias and this request stays local, but the routing \
                 policy names no local model for it ([router] local_model)"
            )),
        }
    }

    pub fn alias(&self, name: &str) -> Option<&Alias> {
        self.aliases.iter().find(|a| a.name == name)
    }

    pub fn upstream(&self, name: &str) -> Option<&Upstream> {
        self.upstreams.iter().find(|u| u.name == name)
    }

    /// A target as written in an alias or fallback: `local`, `local:MODEL`, `UPSTREAM:MODEL`.
    pub fn target(&self, s: &str, file: &str) -> Result<Target, PolicyError> {
        let bad = |m: String| PolicyError::Invalid {
            file: file.to_string(),
            message: m,
        };
        if s == "local" {
            return Ok(Target::Local(None));
        }
        let Some((head, model)) = s.split_once(':') else {
            return Err(bad(format!(
                "target {s:?}: write local, local:MODEL or UPSTREAM:MODEL"
            )));
        };
        if head == "local" {
            return Ok(Target::Local(Some(model.to_string())));
        }
        if head == "alias" {
            return match self.alias(model) {
                Some(a) => self.target(&a.target, file),
                None => Err(bad(format!("target {s:?}: no alias {model:?}"))),
            };
        }
        if self.upstream(head).is_none() {
            return Err(bad(format!("target {s:?}: no upstream {head:?}")));
        }
        if model.is_empty() {
            return Err(bad(format!("target {s:?}: no model")));
        }
        Ok(Target::Upstream {
            upstream: head.to_string(),
            model: model.to_string(),
        })
    }

    fn validate(&self, file: &str) -> Result<(), PolicyError> {
        let bad = |m: String| PolicyError::Invalid {
            file: file.to_string(),
            message: m,
        };
        for (what, b) in [
            ("budget_usd_per_day", self.router.budget_usd_per_day),
            ("budget_usd_per_month", self.router.budget_usd_per_month),
        ] {
            if b.is_some_and(|b| !(b >= 0.0 && b.is_finite())) {
                return Err(bad(format!("[router] {what} must be a number >= 0")));
            }
        }
        for (i, u) in self.upstreams.iter().enumerate() {
            if matches!(u.name.as_str(), "local" | "alias" | "cloud" | "auto") || u.name.is_empty()
            {
                return Err(bad(format!("upstream name {:?} is reserved", u.name)));
            }
            if self.upstreams[..i].iter().any(|v| v.name == u.name) {
                return Err(bad(format!("upstream {:?} is defined twice", u.name)));
            }
            if !(u.base_url.starts_with("https://") || u.base_url.starts_with("http://")) {
                return Err(bad(format!(
                    "upstream {:?}: base_url {:?} is not an http(s) URL",
                    u.name, u.base_url
                )));
            }
            if let Some(p) = u.price {
                if !(p.in_per_mtok >= 0.0 && p.out_per_mtok >= 0.0) {
                    return Err(bad(format!("upstream {:?}: negative price", u.name)));
                }
            }
        }
        for (i, a) in self.aliases.iter().enumerate() {
            if self.aliases[..i].iter().any(|b| b.name == a.name) {
                return Err(bad(format!("alias {:?} is defined twice", a.name)));
            }
            if a.target.starts_with("alias:") {
                return Err(bad(format!(
                    "alias {:?}: a target may not be an alias",
                    a.name
                )));
            }
            self.target(&a.target, file)?;
            for f in &a.fallback {
                if f.starts_with("alias:") {
                    return Err(bad(format!(
                        "alias {:?}: a fallback may not be an alias",
                        a.name
                    )));
                }
                self.target(f, file)?;
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            if self.rules[..i].iter().any(|q| q.id == r.id) {
                return Err(bad(format!("rule {:?} is defined twice", r.id)));
            }
            self.target(&r.route, file)?;
        }
        Ok(())
    }
}
