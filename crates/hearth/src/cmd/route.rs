//! `hearth route --explain REQUEST.json`: where the routing policy would send a request, and
//! why, step by step. Sends nothing.
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hearth_route::{decide, summarize, Conditions, Policy, Route};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request body (JSON) to explain.
    #[arg(long)]
    pub explain: PathBuf,
    /// The endpoint it is sent to (decides autocomplete and embeddings).
    #[arg(long, default_value = "/v1/chat/completions")]
    pub endpoint: String,
    /// A request header, `Name: value` (repeatable): X-Hearth-Route, X-Hearth-Project.
    #[arg(long = "header", short = 'H')]
    pub headers: Vec<String>,
    /// The user's policy (default `$XDG_CONFIG_HOME/hearth/router.toml`, else
    /// `~/.config/hearth/router.toml`; missing: local-only).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A project's policy, which may only tighten (default `.hearth/router.toml` here).
    #[arg(long)]
    pub project_config: Option<PathBuf>,
    /// The local model's prompt speed in tokens/s (from `hearth bench`), for prefill-time rules.
    #[arg(long)]
    pub prefill_tok_s: Option<f64>,
    /// The local model's context window, for context-overflow rules.
    #[arg(long)]
    pub local_ctx: Option<u64>,
    /// A `.env` file whose values are known secrets for the content guard (repeatable;
    /// default: `.env` here if there is one).
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The content guard: every string of the body through the redactor; `Some(rule)` when
/// something in it must not leave, plus counts per rule.
fn guard(
    body: &serde_json::Value,
    env_files: &[PathBuf],
) -> anyhow::Result<(Option<String>, Vec<hearth_redact::Finding>)> {
    let files: Vec<PathBuf> = if env_files.is_empty() {
        [PathBuf::from(".env")]
            .into_iter()
            .filter(|p| p.is_file())
            .collect()
    } else {
        env_files.to_vec()
    };
    let redactor = hearth_redact::Redactor::builder()
        .known(super::redact::known_from_env_files(&files)?)
        .deadline(std::time::Duration::from_secs(60))
        .build()?;
    let mut req = redactor.request();
    let mut stack = vec![body];
    while let Some(v) = stack.pop() {
        match v {
            serde_json::Value::String(s) => {
                req.redact(s)?;
            }
            serde_json::Value::Array(a) => stack.extend(a.iter()),
            serde_json::Value::Object(o) => stack.extend(o.values()),
            _ => {}
        }
    }
    Ok((req.blocked().map(str::to_string), req.findings()))
}

/// Exit status: 0 local, 1 cloud, 3 refused.
pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut policy = match args.config.or_else(hearth_route::default_policy_path) {
        Some(p) => Policy::load(&p)?,
        None => Policy::default(),
    };
    policy.tighten_from(
        &args
            .project_config
            .unwrap_or_else(|| PathBuf::from(".hearth/router.toml")),
    )?;
    let text = std::fs::read_to_string(&args.explain)
        .with_context(|| format!("reading {}", args.explain.display()))?;
    let body: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not JSON", args.explain.display()))?;
    let headers = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("header {h:?}: write Name: value"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut summary = summarize(&args.endpoint, &body, &headers);
    summary.local_prefill_tok_s = args.prefill_tok_s;
    summary.local_ctx = args.local_ctx;
    let (blocked, findings) = guard(&body, &args.env_files)?;
    summary.blocked = blocked;
    let conditions = Conditions {
        no_cloud: hearth_route::no_cloud(std::env::var("HEARTH_NO_CLOUD").ok().as_deref()),
        ..Conditions::default()
    };
    let decision = decide(&policy, &summary, &conditions);
    let counts: serde_json::Map<String, serde_json::Value> = findings
        .iter()
        .map(|f| (f.rule.clone(), f.count.into()))
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = match &decision {
            Ok(d) => serde_json::json!({"summary": summary, "decision": d, "secrets": counts}),
            Err(e) => {
                serde_json::json!({"summary": summary, "refused": e.to_string(), "secrets": counts})
            }
        };
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        writeln!(
            out,
            "request: {:?}, tools {}, ~{} prompt tokens{}, model {:?}",
            summary.task,
            summary.has_tools,
            summary.prompt_tokens,
            if summary.prompt_tokens_estimated {
                " (estimated)"
            } else {
                ""
            },
            summary.model
        )?;
        if !findings.is_empty() {
            let list: Vec<String> = findings
                .iter()
                .map(|f| format!("{} {}", f.count, f.rule))
                .collect();
            writeln!(
                out,
                "secrets (replaced before anything leaves): {}",
                list.join(", ")
            )?;
        }
        match &decision {
            Ok(d) => {
                for (i, step) in d.trace.iter().enumerate() {
                    writeln!(out, "  {}. {step}", i + 1)?;
                }
                match &d.route {
                    Route::Local { model: None } => writeln!(out, "→ local ({})", d.rule)?,
                    Route::Local { model: Some(m) } => {
                        writeln!(out, "→ local model {m} ({})", d.rule)?
                    }
                    Route::Cloud {
                        upstream,
                        model,
                        fallback,
                    } => {
                        writeln!(out, "→ cloud: {upstream}:{model} ({})", d.rule)?;
                        if !fallback.is_empty() {
                            writeln!(
                                out,
                                "  fallback before the first byte: {}",
                                fallback.join(", ")
                            )?;
                        }
                    }
                }
            }
            Err(e) => writeln!(out, "→ refused: {e}")?,
        }
    }
    Ok(ExitCode::from(match decision {
        Ok(d) if matches!(d.route, Route::Local { .. }) => 0,
        Ok(_) => 1,
        Err(_) => 3,
    }))
}
