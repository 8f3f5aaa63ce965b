//! The decision: a request's summary and the policy in, local or an upstream out, with the
//! trace of every step that was looked at.
use serde::{Deserialize, Serialize};

use crate::policy::{Mode, OnForbidden, Policy, Target};

/// What a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Task {
    /// Fill-in-the-middle: latency-bound, always local.
    Autocomplete,
    /// A chat or an agent turn.
    Chat,
    /// Embeddings: always local.
    Embeddings,
}

impl Task {
    /// The name policies use (`autocomplete`, `chat`, `embeddings`).
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Autocomplete => "autocomplete",
            Task::Chat => "chat",
            Task::Embeddings => "embeddings",
        }
    }
}

/// What routing needs to know about a request (see [`crate::summarize`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub task: Task,
    pub has_tools: bool,
    /// Prompt tokens (estimated from bytes unless a tokenizer counted them).
    pub prompt_tokens: u64,
    pub prompt_tokens_estimated: bool,
    /// The model the client asked for.
    pub model: String,
    /// `X-Hearth-Project`, or the project of the API key.
    pub project: Option<String>,
    /// `X-Hearth-Route` as sent.
    pub route_header: Option<String>,
    /// The local model's measured prompt speed (tokens/s), when known.
    pub local_prefill_tok_s: Option<f64>,
    /// The local model's context window, when known.
    pub local_ctx: Option<u64>,
    /// The redactor's verdict: a class that must not leave (`private-key`).
    pub blocked: Option<String>,
}

/// Whether a value of `HEARTH_NO_CLOUD` switches the cloud off (set, not empty, not `0`).
pub fn no_cloud(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// Runtime state the decision depends on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// `HEARTH_NO_CLOUD=1`.
    pub no_cloud: bool,
    /// Upstreams whose circuit is open.
    pub open_circuits: Vec<String>,
    /// The budget is spent.
    pub budget_exhausted: bool,
}

/// Where the request goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "route", rename_all = "kebab-case")]
pub enum Route {
    Local {
        /// A local model the policy names instead of the one asked for.
        model: Option<String>,
    },
    Cloud {
        upstream: String,
        model: String,
        /// Tried in order, before the first byte reaches the client only.
        fallback: Vec<String>,
    },
}

/// A decision and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    #[serde(flatten)]
    pub route: Route,
    /// The step that decided (`mode:local-only`, `rule:agent`, `header`, `default`).
    pub rule: String,
    pub trace: Vec<String>,
}

/// A request the policy refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("the routing policy keeps this request local ({rule}); it asked for the cloud")]
    Forbidden { rule: String, trace: Vec<String> },
    #[error("X-Hearth-Route {0:?}: use local, cloud, cloud:ALIAS or auto")]
    BadHeader(String),
    #[error("no cloud alias {0:?}")]
    UnknownAlias(String),
    #[error("the request asked for the cloud and the policy names no alias")]
    NoAlias,
}

/// What the client asked for explicitly.
enum Intent {
    Local,
    Cloud(Option<String>),
}

fn intent(policy: &Policy, s: &Summary) -> Result<Option<(Intent, &'static str)>, Refusal> {
    if let Some(h) = s.route_header.as_deref().map(str::trim) {
        return match h {
            "" | "auto" => Ok(None),
            "local" => Ok(Some((Intent::Local, "header"))),
            "cloud" => Ok(Some((Intent::Cloud(None), "header"))),
            _ => match h.strip_prefix("cloud:") {
                Some(a) if !a.is_empty() => Ok(Some((Intent::Cloud(Some(a.into())), "header"))),
                _ => Err(Refusal::BadHeader(h.to_string())),
            },
        };
    }
    Ok(policy
        .alias(&s.model)
        .map(|a| (Intent::Cloud(Some(a.name.clone())), "model")))
}

fn local(rule: impl Into<String>, trace: Vec<String>) -> Decision {
    Decision {
        route: Route::Local { model: None },
        rule: rule.into(),
        trace,
    }
}

/// Decide where `s` goes under `policy`.
pub fn decide(policy: &Policy, s: &Summary, c: &Conditions) -> Result<Decision, Refusal> {
    let mut trace = Vec::new();
    let intent = intent(policy, s)?;
    let wants_cloud = matches!(intent, Some((Intent::Cloud(_), _)));
    // 1-3: switches that keep everything local.
    let project = s
        .project
        .as_deref()
        .and_then(|p| policy.projects.iter().find(|q| q.name == p));
    let local_only = if c.no_cloud {
        Some("env:HEARTH_NO_CLOUD".to_string())
    } else if policy.router.mode == Mode::LocalOnly {
        Some("mode:local-only".to_string())
    } else {
        project
            .filter(|p| p.local_only)
            .map(|p| format!("project:{}:local-only", p.name))
    };
    if let Some(rule) = local_only {
        trace.push(rule.clone());
        if wants_cloud && policy.router.on_forbidden == OnForbidden::Error {
            return Err(Refusal::Forbidden { rule, trace });
        }
        return Ok(local(rule, trace));
    }
    trace.push("mode:hybrid".into());
    // 4: what the request is and holds.
    match s.task {
        Task::Autocomplete | Task::Embeddings => {
            let rule = format!("task:{}", s.task.as_str());
            trace.push(format!("{rule}:always-local"));
            return Ok(local(rule, trace));
        }
        Task::Chat => {}
    }
    if let Some(b) = &s.blocked {
        let rule = format!("guard:{b}");
        trace.push(format!("{rule}:stays-local"));
        return Ok(local(rule, trace));
    }
    trace.push("guard:ok".into());
    // 5: explicit intent.
    let mut chosen: Option<(Target, Vec<Target>, String)> = None;
    match intent {
        Some((Intent::Local, how)) => {
            trace.push(format!("{how}:local"));
            return Ok(local(how, trace));
        }
        Some((Intent::Cloud(alias), how)) => {
            let a = match alias {
                Some(name) => policy
                    .alias(&name)
                    .ok_or_else(|| Refusal::UnknownAlias(name.clone()))?,
                None => policy.aliases.first().ok_or(Refusal::NoAlias)?,
            };
            trace.push(format!("{how}:alias:{}", a.name));
            let (target, fallback) = resolve_alias(policy, &a.name)?;
            chosen = Some((target, fallback, how.to_string()));
        }
        None => {}
    }
    // 6: ordered rules.
    if chosen.is_none() {
        for r in &policy.rules {
            match matches(r, s) {
                Ok(()) => {
                    trace.push(format!("rule:{}:yes", r.id));
                    let (target, fallback) = match r.route.strip_prefix("alias:") {
                        Some(a) => resolve_alias(policy, a)?,
                        None => (target_of(policy, &r.route)?, Vec::new()),
                    };
                    chosen = Some((target, fallback, format!("rule:{}", r.id)));
                    break;
                }
                Err(why) => trace.push(format!("rule:{}:no ({why})", r.id)),
            }
        }
    }
    let Some((target, fallback, rule)) = chosen else {
        trace.push("default:local".into());
        return Ok(local("default", trace));
    };
    // 8: feasibility of the cloud.
    let (upstream, model) = match target {
        Target::Local(model) => {
            return Ok(Decision {
                route: Route::Local { model },
                rule,
                trace,
            })
        }
        Target::Upstream { upstream, model } => (upstream, model),
    };
    if c.budget_exhausted {
        trace.push("budget:exhausted".into());
        return Ok(local("budget", trace));
    }
    let mut candidates = std::iter::once(Target::Upstream { upstream, model }).chain(fallback);
    for t in candidates.by_ref() {
        match t {
            Target::Upstream { upstream, model } => {
                if c.open_circuits.contains(&upstream) {
                    trace.push(format!("circuit:{upstream}:open"));
                    continue;
                }
                let rest: Vec<String> = candidates.map(|t| t.to_string()).collect();
                return Ok(Decision {
                    route: Route::Cloud {
                        upstream,
                        model,
                        fallback: rest,
                    },
                    rule,
                    trace,
                });
            }
            Target::Local(model) => {
                trace.push("fallback:local".into());
                return Ok(Decision {
                    route: Route::Local { model },
                    rule,
                    trace,
                });
            }
        }
    }
    trace.push("no-upstream-available".into());
    Ok(local(rule, trace))
}

/// A target as the (validated) policy writes it.
fn target_of(policy: &Policy, s: &str) -> Result<Target, Refusal> {
    policy
        .target(s, "policy")
        .map_err(|_| Refusal::UnknownAlias(s.to_string()))
}

/// An alias's target and fallbacks.
fn resolve_alias(policy: &Policy, name: &str) -> Result<(Target, Vec<Target>), Refusal> {
    let a = policy
        .alias(name)
        .ok_or_else(|| Refusal::UnknownAlias(name.to_string()))?;
    let fallback = a
        .fallback
        .iter()
        .map(|f| target_of(policy, f))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((target_of(policy, &a.target)?, fallback))
}

/// `Ok` when every condition of the rule holds, else the first that does not.
fn matches(r: &crate::policy::Rule, s: &Summary) -> Result<(), String> {
    let w = &r.when;
    if let Some(t) = w.task {
        if t != s.task {
            return Err(format!("task is {}", s.task.as_str()));
        }
    }
    if let Some(h) = w.has_tools {
        if h != s.has_tools {
            return Err(format!("has_tools is {}", s.has_tools));
        }
    }
    if let Some(n) = w.prompt_tokens_gt {
        if s.prompt_tokens <= n {
            return Err(format!("{} prompt tokens", s.prompt_tokens));
        }
    }
    if let Some(limit) = w.est_local_prefill_s_gt {
        match s.local_prefill_tok_s.filter(|v| *v > 0.0) {
            None => return Err("local prompt speed unknown".into()),
            Some(v) => {
                let est = s.prompt_tokens as f64 / v;
                if est <= limit {
                    return Err(format!("local prefill ~{est:.1} s"));
                }
            }
        }
    }
    if let Some(want) = w.exceeds_local_context {
        let Some(ctx) = s.local_ctx else {
            return Err("local context unknown".into());
        };
        if (s.prompt_tokens > ctx) != want {
            return Err(format!(
                "{} prompt tokens, local context {ctx}",
                s.prompt_tokens
            ));
        }
    }
    if let Some(p) = &w.project {
        if s.project.as_deref() != Some(p.as_str()) {
            return Err(format!("project is {:?}", s.project));
        }
    }
    Ok(())
}
