//! Upstream (cloud) models, only in a build with the `cloud` feature and only in `hybrid` mode.
//! A request the policy sends to the cloud is redacted first (every text of it through one
//! `hearth-redact` request, so a secret gets the same placeholder everywhere); if something in
//! it must not leave (a private key, a known `.env` value) it is answered locally instead. The
//! upstream's answer streams back as the service's own events, placeholders restored in text
//! (not in URLs, link targets or tool-call arguments), so every protocol encodes it unchanged.
//! Fallbacks (the alias's list, then `local` where it is listed) are tried only before the
//! first byte reaches the client; a failure after it ends the stream with an error. Every
//! attempt is one record in the audit log.
mod anthropic;
mod attempt;
pub(crate) mod audit;
pub(crate) mod circuit;
mod openai;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hearth_redact::{Escape, RestorePolicy, Restorer};
use hearth_route::{Mode, Policy, UpstreamKind};

use crate::metrics::Metrics;
use crate::service::error::{blocking, ServiceError};
use crate::service::request::GenRequest;
use crate::service::running::Running;
use attempt::{Attempt, Fail};
use audit::{Audit, Record};
use circuit::Breakers;

/// Wait for an upstream's first event when the policy does not say.
const FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);

/// A cloud route the policy chose for one request (a request extension, set by the routing
/// middleware).
#[derive(Debug, Clone)]
pub(crate) struct CloudAsk {
    pub(crate) upstream: String,
    pub(crate) model: String,
    /// `UPSTREAM:MODEL` or `local`, in order.
    pub(crate) fallback: Vec<String>,
    /// The policy step that chose the cloud.
    pub(crate) rule: String,
    /// `X-Hearth-Project`, for the audit log.
    pub(crate) project: Option<String>,
    /// Where the answer came from, for `X-Hearth-Route` (set by [`Upstreams::start`]).
    pub(crate) label: Arc<Mutex<Option<String>>>,
}

impl CloudAsk {
    fn set_label(&self, label: String) {
        *self
            .label
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(label);
    }
}

/// What [`Upstreams::start`] did.
pub(crate) enum Served {
    /// An upstream answers.
    Cloud(Box<Running>),
    /// The request is answered locally after all (the label says why), on the model a
    /// `local:MODEL` fallback names, if one does.
    Local(Option<String>),
}

/// The upstream clients of a hybrid server.
pub(crate) struct Upstreams {
    policy: Policy,
    redactor: Arc<hearth_redact::Redactor>,
    agent: ureq::Agent,
    /// Upstream name → key (from the environment variable the policy names).
    keys: HashMap<String, String>,
    breakers: Breakers,
    audit: Arc<Audit>,
}

/// Why a hybrid policy's upstreams cannot be used (the server refuses to start).
#[derive(Debug)]
pub(crate) struct SetupError(pub(crate) String);

fn bad(msg: impl Into<String>) -> SetupError {
    SetupError(msg.into())
}

impl Upstreams {
    /// The upstreams of `policy` (read from `file`, if from a file); `None` when nothing may
    /// leave (local-only, or `no_cloud`: `HEARTH_NO_CLOUD`). `env` reads the environment (keys),
    /// `vars` are its secret-named variables' candidates.
    pub(crate) fn new(
        policy: &Policy,
        file: Option<&str>,
        no_cloud: bool,
        env: &dyn Fn(&str) -> Option<String>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Option<Upstreams>, SetupError> {
        if policy.router.mode == Mode::LocalOnly || no_cloud {
            return Ok(None);
        }
        let file = file.unwrap_or("the routing policy");
        if policy.upstreams.is_empty() {
            return Err(bad(format!(
                "{file} sets mode = \"hybrid\" but names no [[upstream]]"
            )));
        }
        let mut keys = HashMap::new();
        for u in &policy.upstreams {
            if let Some(var) = &u.api_key_env {
                match env(var).filter(|k| !k.trim().is_empty()) {
                    Some(k) => {
                        keys.insert(u.name.clone(), k);
                    }
                    None => {
                        return Err(bad(format!(
                            "{file}: upstream {:?}: its key variable {var} is not set",
                            u.name
                        )))
                    }
                }
            }
        }
        let r = &policy.redact;
        let mut known = Vec::new();
        for f in &r.env_files {
            let text = std::fs::read_to_string(f)
                .map_err(|e| bad(format!("{file}: [redact] env_files: reading {f}: {e}")))?;
            known.extend(hearth_redact::from_dotenv(&text));
        }
        if r.from_env {
            known.extend(hearth_redact::from_env(vars));
        }
        let redactor = hearth_redact::Redactor::builder()
            .known(known)
            .deny(r.deny.clone())
            .internal_domains(r.internal_domains.clone())
            .block_known(r.block_known)
            .build()
            .map_err(|e| bad(format!("the redactor: {e}")))?;
        let audit_path = match &policy.router.audit_log {
            Some(p) => std::path::PathBuf::from(p),
            None => match env("HOME") {
                Some(h) => std::path::Path::new(&h).join(".hearth/route-audit.jsonl"),
                None => return Err(bad(format!("{file}: set [router] audit_log (no HOME)"))),
            },
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let audit = Audit::open(&audit_path, policy.router.audit_retention_days, now)
            .map_err(|e| bad(format!("audit log {}: {e}", audit_path.display())))?;
        let agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .build()
            .new_agent();
        Ok(Some(Upstreams {
            policy: policy.clone(),
            redactor: Arc::new(redactor),
            agent,
            keys,
            breakers: Breakers::default(),
            audit: Arc::new(audit),
        }))
    }

    /// Whether a budget of the policy is spent (today's or this month's costs in the audit
    /// log reached it): the policy then keeps requests local.
    pub(crate) fn budget_exhausted(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let (day, month) = self.audit.spent(now);
        let r = &self.policy.router;
        r.budget_usd_per_day.is_some_and(|b| day >= b)
            || r.budget_usd_per_month.is_some_and(|b| month >= b)
    }

    /// Upstreams whose circuit is open now (the policy skips them).
    pub(crate) fn open_circuits(&self) -> Vec<String> {
        self.breakers.open(Instant::now())
    }

    /// Send `gen` to the cloud as `ask` says, or decide it stays local.
    pub(crate) async fn start(
        &self,
        gen: &GenRequest,
        ask: &CloudAsk,
        metrics: Arc<Metrics>,
    ) -> Result<Served, ServiceError> {
        let started = Instant::now();
        let targets: Vec<String> = std::iter::once(format!("{}:{}", ask.upstream, ask.model))
            .chain(ask.fallback.iter().cloned())
            .collect();
        let redactor = self.redactor.clone();
        let g = gen.clone();
        let n = targets.len();
        // The body in each protocol a target speaks, through one redaction request (so a
        // secret has one placeholder in both).
        let wants_anthropic = targets.iter().any(|t| {
            t.split_once(':')
                .and_then(|(u, _)| self.policy.upstream(u))
                .is_some_and(|u| u.kind == UpstreamKind::Anthropic)
        });
        let prepared = blocking(move || {
            let mut r = redactor.request();
            let bodies = openai::body(&g, "", &mut r).and_then(|o| {
                let a = if wants_anthropic {
                    anthropic::body(&g, "", &mut r)?
                } else {
                    None
                };
                Ok(o.map(|o| (o, a)))
            });
            Ok(match bodies {
                Err(e) => Prep::Failed(e.to_string()),
                Ok(None) => Prep::NotChat,
                Ok(Some(_)) if r.blocked().is_some() => {
                    Prep::Blocked(r.blocked().unwrap_or_default().to_string())
                }
                Ok(Some(body)) => Prep::Ready {
                    body,
                    restorers: (0..n)
                        .map(|_| {
                            let mk = || r.restorer(RestorePolicy::default(), Escape::None);
                            (mk(), mk())
                        })
                        .collect(),
                    redactions: r
                        .findings()
                        .into_iter()
                        .map(|f| (f.rule, f.count))
                        .collect(),
                },
            })
        })
        .await?;
        let (body, restorers, redactions) = match prepared {
            Prep::Ready {
                body,
                restorers,
                redactions,
            } => (body, restorers, redactions),
            Prep::NotChat => {
                ask.set_label(format!("local; rule={}; why=not-a-conversation", ask.rule));
                return Ok(Served::Local(None));
            }
            Prep::Blocked(rule) => {
                tracing::info!(%rule, "a secret that must not leave: answered locally");
                ask.set_label(format!("local; rule=redact:{rule}"));
                return Ok(Served::Local(None));
            }
            Prep::Failed(e) => {
                // Fail closed: what could not be redacted does not leave.
                tracing::warn!(%e, "redaction failed: answered locally");
                ask.set_label("local; rule=redact:error".to_string());
                return Ok(Served::Local(None));
            }
        };
        let mut tried = Vec::new();
        for (i, ((target, (text_r, think_r)), next)) in targets
            .iter()
            .zip(restorers)
            .zip(targets.iter().skip(1).map(Some).chain([None]))
            .enumerate()
        {
            if target == "local" || target.starts_with("local:") {
                ask.set_label(format!("local; rule={}; fallback=local", ask.rule));
                let model = target.strip_prefix("local:").map(str::to_string);
                return Ok(Served::Local(model));
            }
            let Some((name, model)) = target.split_once(':') else {
                continue;
            };
            let Some(u) = self.policy.upstream(name) else {
                continue;
            };
            if self.breakers.is_open(name, Instant::now()) {
                tried.push(format!("{name}: circuit open"));
                continue;
            }
            let mut body = match (u.kind, &body) {
                (UpstreamKind::Anthropic, (_, Some(a))) => a.clone(),
                (_, (o, _)) => o.clone(),
            };
            body["model"] = model.into();
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let url = endpoint(u.kind, &u.base_url);
            let record = Record {
                ts: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
                rule: ask.rule.clone(),
                project: ask.project.clone(),
                upstream: name.to_string(),
                host: host_of(&u.base_url),
                model: model.to_string(),
                redactions: redactions.clone(),
                bytes_out: bytes.len(),
                prompt_tokens: None,
                completion_tokens: None,
                cost_usd: None,
                first_event_ms: None,
                total_ms: 0,
                status: String::new(),
                fallback: next.cloned(),
                body: self
                    .policy
                    .router
                    .audit_bodies
                    .then(|| String::from_utf8_lossy(&bytes).into_owned()),
            };
            let (first_tx, first_rx) = tokio::sync::oneshot::channel();
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let a = Attempt {
                agent: self.agent.clone(),
                kind: u.kind,
                url,
                key: self.keys.get(name).cloned(),
                body: bytes,
                text: text_r,
                thinking: think_r,
                check: gen.check,
                price: u.price,
                started,
                first: Some(first_tx),
                events: tx,
                record,
                audit: self.audit.clone(),
            };
            let spawned = std::thread::Builder::new()
                .name(format!("hearth-upstream-{name}"))
                .spawn(move || a.run());
            if let Err(e) = spawned {
                return Err(ServiceError::Task(e.to_string()));
            }
            let wait = u
                .first_byte_timeout_s
                .filter(|s| s.is_finite() && *s > 0.0)
                .map_or(FIRST_BYTE_TIMEOUT, Duration::from_secs_f64);
            let fail = match tokio::time::timeout(wait, first_rx).await {
                Ok(Ok(Ok(()))) => {
                    self.breakers.success(name);
                    ask.set_label(format!(
                        "cloud; upstream={name}; model={model}; rule={}{}",
                        ask.rule,
                        if i > 0 { "; fallback=yes" } else { "" }
                    ));
                    return Ok(Served::Cloud(Box::new(Running::from_events(
                        rx, started, metrics,
                    ))));
                }
                Ok(Ok(Err(f))) => f,
                Ok(Err(_)) => Fail {
                    what: "the attempt ended without an answer".into(),
                    retry_after: None,
                },
                Err(_) => Fail {
                    what: format!("no answer in {:.1} s", wait.as_secs_f64()),
                    retry_after: None,
                },
            };
            tracing::warn!(upstream = name, model, error = %fail.what, "upstream attempt failed");
            self.breakers
                .failure(name, Instant::now(), fail.retry_after);
            tried.push(format!("{name}: {}", fail.what));
        }
        ask.set_label(format!("cloud; rule={}; failed", ask.rule));
        Err(ServiceError::Upstream(format!(
            "no upstream answered ({})",
            tried.join("; ")
        )))
    }
}

enum Prep {
    Ready {
        /// OpenAI's shape, and Anthropic's when a target speaks it.
        body: (serde_json::Value, Option<serde_json::Value>),
        restorers: Vec<(Restorer, Restorer)>,
        redactions: std::collections::BTreeMap<String, usize>,
    },
    NotChat,
    Blocked(String),
    Failed(String),
}

/// `BASE/chat/completions`, or `BASE/messages` for Anthropic (`BASE` is the API root, e.g.
/// `https://api.openai.com/v1`, `https://api.anthropic.com/v1`).
fn endpoint(kind: UpstreamKind, base: &str) -> String {
    let base = base.trim_end_matches('/');
    match kind {
        UpstreamKind::Openai => format!("{base}/chat/completions"),
        UpstreamKind::Anthropic => format!("{base}/messages"),
    }
}

/// `host[:port]` of a URL, for the log.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let auth = rest.split(['/', '?', '#']).next().unwrap_or_default();
    auth.rsplit_once('@').map_or(auth, |(_, h)| h).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            endpoint(UpstreamKind::Openai, "https://api.example.com/v1/"),
            "https://api.example.com/v1/chat/completions"
        );
        assert_eq!(
            endpoint(UpstreamKind::Anthropic, "https://api.anthropic.com/v1"),
            "https://api.anthropic.com/v1/messages"
        );
        assert_eq!(
            host_of("https://u:p@api.example.com:8443/v1"),
            "api.example.com:8443"
        );
        assert_eq!(host_of("http://127.0.0.1:9/v1"), "127.0.0.1:9");
    }
}
