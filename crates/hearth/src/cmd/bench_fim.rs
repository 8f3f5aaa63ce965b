//! `hearth bench-fim MODEL --file SRC`: simulate a person typing through a source file and
//! measure autocomplete latency through `hearth-complete` (prefix cache reuse, healing, shaping).
//!
//! The cursor starts at the first line after about `--prefix-tokens` tokens of the file; each
//! point is one more character typed on the current line (the rest of the line is not there
//! yet; the suffix is the file after the line, about `--suffix-tokens` tokens). Each request
//! runs to its end before the next keystroke. A few cold requests (slot holding an unrelated
//! prompt) give the uncached baseline.
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use hearth_complete::{Completer, Completion, FimRequest};
use hearth_engine::{GpuLayers, LoadOptions, Model};
use hearth_prompt::FimLayout;
use serde::Serialize;

use super::resolve_model;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model: a GGUF file path or an installed model name.
    pub model: String,
    /// Source file to type through (default: Python's http/client.py, found through `python3`).
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Keystrokes to simulate.
    #[arg(long, default_value_t = 30)]
    pub points: usize,
    /// Cold (uncached) requests for the baseline.
    #[arg(long, default_value_t = 3)]
    pub cold: usize,
    /// Prefix tokens before the first keystroke.
    #[arg(long, default_value_t = 1500)]
    pub prefix_tokens: usize,
    /// Suffix tokens after the cursor's line.
    #[arg(long, default_value_t = 200)]
    pub suffix_tokens: usize,
    /// Most tokens per completion.
    #[arg(long, default_value_t = 32)]
    pub max_tokens: u32,
    /// Prompt layout: `middle` (typed text after the middle token) or `psm`.
    #[arg(long, default_value = "middle", value_parser = ["middle", "psm"])]
    pub layout: String,
    /// Tokens of the typed text to heal (0 = off).
    #[arg(long, default_value_t = 2)]
    pub heal: usize,
    /// Threads (decode and batch).
    #[arg(short = 't', long, default_value_t = 2)]
    pub threads: u32,
    /// Layers to offload to the GPU: a number or `all` (needs a `cuda` build).
    #[arg(long = "gpu-layers", default_value = "0")]
    pub gpu_layers: GpuLayers,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write an SVG plot of latency per keystroke.
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// Write the prompt texts (JSON lines: prompt, max_tokens) for replay against other servers.
    #[arg(long)]
    pub dump_prompts: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Sample {
    keystroke: usize,
    typed: String,
    prompt_tokens: u32,
    cached_tokens: u32,
    evaluated_tokens: u32,
    generated_tokens: u32,
    first_token_ms: f64,
    first_text_ms: Option<f64>,
    total_ms: f64,
    reason: &'static str,
    completion: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    requests: usize,
    first_token_p50_ms: f64,
    first_token_p95_ms: f64,
    first_text_p50_ms: Option<f64>,
    total_p50_ms: f64,
    total_p95_ms: f64,
    cache_hit_ratio: f64,
    evaluated_tokens_mean: f64,
    prompt_tokens_mean: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    model: String,
    file: String,
    layout: String,
    heal_tokens: usize,
    threads: u32,
    max_tokens: u32,
    cold: Summary,
    keystrokes: Summary,
    /// Keystroke p50 first-token latency / cold p50.
    ratio_first_token: f64,
    cold_samples: Vec<Sample>,
    samples: Vec<Sample>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (p * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
}

fn summarize(samples: &[Sample]) -> Summary {
    let ft: Vec<f64> = samples.iter().map(|s| s.first_token_ms).collect();
    let tt: Vec<f64> = samples.iter().map(|s| s.total_ms).collect();
    let fx: Vec<f64> = samples.iter().filter_map(|s| s.first_text_ms).collect();
    let prompt: u64 = samples.iter().map(|s| u64::from(s.prompt_tokens)).sum();
    let cached: u64 = samples.iter().map(|s| u64::from(s.cached_tokens)).sum();
    let evaluated: u64 = samples.iter().map(|s| u64::from(s.evaluated_tokens)).sum();
    let n = samples.len().max(1) as f64;
    Summary {
        requests: samples.len(),
        first_token_p50_ms: percentile(&ft, 0.5),
        first_token_p95_ms: percentile(&ft, 0.95),
        first_text_p50_ms: (!fx.is_empty()).then(|| percentile(&fx, 0.5)),
        total_p50_ms: percentile(&tt, 0.5),
        total_p95_ms: percentile(&tt, 0.95),
        cache_hit_ratio: if prompt == 0 {
            0.0
        } else {
            cached as f64 / prompt as f64
        },
        evaluated_tokens_mean: evaluated as f64 / n,
        prompt_tokens_mean: prompt as f64 / n,
    }
}

fn sample(keystroke: usize, typed: &str, c: &Completion) -> Sample {
    Sample {
        keystroke,
        typed: typed.to_owned(),
        prompt_tokens: c.stats.prompt_tokens,
        cached_tokens: c.stats.cached_tokens,
        evaluated_tokens: c.stats.evaluated_tokens,
        generated_tokens: c.stats.generated_tokens,
        first_token_ms: c.stats.first_token.map_or(ms(c.stats.total), ms),
        first_text_ms: c.stats.first_text.map(ms),
        total_ms: ms(c.stats.total),
        reason: c.reason.as_str(),
        completion: c.text.clone(),
    }
}

/// Cursor positions: (prefix end, suffix start) for each keystroke.
fn points(
    model: &Model,
    src: &str,
    args: &Args,
    file: &std::path::Path,
) -> anyhow::Result<Vec<(usize, usize)>> {
    let toks = model.tokenize(src, false, false)?;
    if toks.len() < args.prefix_tokens + args.suffix_tokens {
        bail!(
            "{}: {} tokens, need at least {} (prefix + suffix)",
            file.display(),
            toks.len(),
            args.prefix_tokens + args.suffix_tokens
        );
    }
    let bytes_of = |n: usize| -> usize {
        toks[..n]
            .iter()
            .map(|&t| model.token_piece(t).len())
            .sum::<usize>()
    };
    // First line start at or after the prefix budget.
    let at = bytes_of(args.prefix_tokens).min(src.len());
    let mut start = match src[at..].find('\n') {
        Some(i) => at + i + 1,
        None => bail!("{}: no line after the prefix", file.display()),
    };
    let mut out = Vec::new();
    while out.len() < args.points && start < src.len() {
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = &src[start..line_end];
        // Type the line's characters after its indentation (editors indent for you).
        let indent = line.len() - line.trim_start().len();
        let mut k = start + indent;
        for (i, ch) in line[indent..].char_indices() {
            if out.len() >= args.points {
                break;
            }
            k = start + indent + i + ch.len_utf8();
            out.push((k, line_end));
        }
        let _ = k;
        start = line_end + 1;
    }
    Ok(out)
}

fn plot(report: &Report) -> String {
    let (w, h, l, r, t, b) = (800.0, 400.0, 60.0, 20.0, 30.0, 40.0);
    let n = report.samples.len().max(2);
    let ymax = report
        .samples
        .iter()
        .map(|s| s.total_ms)
        .chain([report.cold.first_token_p50_ms])
        .fold(1.0f64, f64::max)
        * 1.1;
    let x = |i: usize| l + (w - l - r) * i as f64 / (n - 1) as f64;
    let y = |v: f64| h - b - (h - t - b) * (v / ymax).min(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = write!(
        s,
        r#"<text x="{l}" y="18">hearth FIM latency per keystroke ({}, {} layout, heal {}, {} threads)</text>"#,
        xml(&report.model),
        report.layout,
        report.heal_tokens,
        report.threads
    );
    for k in 0..=4 {
        let v = ymax * f64::from(k) / 4.0;
        let (x2, yv, xl, yt) = (w - r, y(v), l - 5.0, y(v) + 4.0);
        let _ = write!(
            s,
            r##"<line x1="{l}" x2="{x2}" y1="{yv:.1}" y2="{yv:.1}" stroke="#ddd"/><text x="{xl}" y="{yt:.1}" text-anchor="end">{v:.0} ms</text>"##
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">keystroke</text>"#,
        (w + l) / 2.0,
        h - 8.0
    );
    let series = |f: &dyn Fn(&Sample) -> f64| -> String {
        report
            .samples
            .iter()
            .enumerate()
            .map(|(i, sm)| format!("{:.1},{:.1}", x(i), y(f(sm))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let cold = y(report.cold.first_token_p50_ms);
    let _ = write!(
        s,
        r##"<line x1="{l}" x2="{}" y1="{cold:.1}" y2="{cold:.1}" stroke="#c00" stroke-dasharray="6 4"/>"##,
        w - r
    );
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#888" stroke-width="1.5" points="{}"/>"##,
        series(&|sm| sm.total_ms)
    );
    let _ = write!(
        s,
        r##"<polyline fill="none" stroke="#06c" stroke-width="2" points="{}"/>"##,
        series(&|sm| sm.first_token_ms)
    );
    let _ = write!(
        s,
        r##"<text x="{0}" y="{1}" fill="#06c">first token</text><text x="{0}" y="{2}" fill="#888">complete</text><text x="{0}" y="{3}" fill="#c00">cold first token (p50)</text>"##,
        w - r - 160.0,
        t + 14.0,
        t + 28.0,
        t + 42.0
    );
    s.push_str("</svg>\n");
    s
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A real source file every machine with Python has.
fn default_file() -> anyhow::Result<PathBuf> {
    let out = std::process::Command::new("python3")
        .args(["-c", "import http.client; print(http.client.__file__)"])
        .output()
        .context("no --file given and python3 (to find http/client.py) did not run")?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || p.is_empty() {
        bail!("no --file given and python3 could not locate http/client.py");
    }
    Ok(PathBuf::from(p))
}

pub(crate) fn run(mut args: Args) -> anyhow::Result<ExitCode> {
    let path = resolve_model(&args.model)?;
    let file = match args.file.take() {
        Some(f) => f,
        None => default_file()?,
    };
    let src =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let opts = LoadOptions {
        n_ctx: 8192,
        n_parallel: 1,
        threads: Some(args.threads),
        threads_batch: Some(args.threads),
        gpu_layers: args.gpu_layers,
        ..LoadOptions::default()
    };
    let model = Model::load(&path, opts).with_context(|| format!("loading {}", path.display()))?;
    let completer = Completer::open(model.clone())?;
    let layout = if args.layout == "psm" {
        FimLayout::Psm
    } else {
        FimLayout::Middle
    };
    let pts = points(&model, &src, &args, &file)?;
    if pts.is_empty() {
        bail!("{}: no keystrokes to simulate", file.display());
    }
    let suffix_bytes = {
        let toks = model.tokenize(&src[pts[0].1..], false, false)?;
        toks.iter()
            .take(args.suffix_tokens)
            .map(|&t| model.token_piece(t).len())
            .sum::<usize>()
    };
    let request = |end: usize, suf: usize| FimRequest {
        layout,
        heal_tokens: args.heal,
        max_tokens: args.max_tokens,
        session: Some("bench".into()),
        prefix_bytes: end.max(1),
        suffix_bytes,
        ..FimRequest::new(&src[..end], &src[suf..])
    };
    let mut dump = match &args.dump_prompts {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    let flush = |i: usize| -> anyhow::Result<()> {
        let junk = format!("# unrelated text {i}\n");
        completer
            .complete(FimRequest {
                max_tokens: 1,
                ..FimRequest::new(junk, "")
            })?
            .wait()?;
        Ok(())
    };
    let line_start = |end: usize| src[..end].rfind('\n').map_or(0, |i| i + 1);
    // Cold: the slot holds an unrelated prompt before each request.
    let mut cold_samples = Vec::new();
    for (i, &(end, suf)) in pts.iter().take(args.cold.max(1)).enumerate() {
        flush(i)?;
        let c = completer.complete(request(end, suf))?.wait()?;
        cold_samples.push(sample(i, &src[line_start(end)..end], &c));
    }
    // Keystrokes: one after the other, starting warm from the keystroke before the first.
    flush(usize::MAX)?;
    let (e0, s0) = pts[0];
    completer
        .complete(request(e0.saturating_sub(1), s0))?
        .wait()?;
    let mut samples = Vec::new();
    for (i, &(end, suf)) in pts.iter().enumerate() {
        let stream = completer.complete(request(end, suf))?;
        if let Some(w) = dump.as_mut() {
            let p = stream.prepared();
            let mut text = model.detokenize(&p.tokens)?;
            text.push_str(&String::from_utf8_lossy(&p.heal));
            // Also the editor's view (text before and after the cursor) for replay through an
            // HTTP FIM endpoint (hearth serve's /api/generate suffix or /infill).
            let suffix_end = suf.saturating_add(suffix_bytes).min(src.len());
            let suffix_end = (suffix_end..=src.len())
                .find(|&i| src.is_char_boundary(i))
                .unwrap_or(src.len());
            let line = serde_json::json!({ "prompt": text, "max_tokens": args.max_tokens,
                "prefix": &src[..end], "suffix": &src[suf..suffix_end] });
            writeln!(w, "{line}")?;
        }
        let c = stream.wait()?;
        samples.push(sample(i, &src[line_start(end)..end], &c));
    }
    if let Some(mut w) = dump {
        w.flush()?;
    }
    let cold = summarize(&cold_samples);
    let keystrokes = summarize(&samples);
    let report = Report {
        model: path.display().to_string(),
        file: file.display().to_string(),
        layout: args.layout.clone(),
        heal_tokens: args.heal,
        threads: args.threads,
        max_tokens: args.max_tokens,
        ratio_first_token: if cold.first_token_p50_ms > 0.0 {
            keystrokes.first_token_p50_ms / cold.first_token_p50_ms
        } else {
            0.0
        },
        cold,
        keystrokes,
        cold_samples,
        samples,
    };
    if let Some(p) = &args.svg {
        std::fs::write(p, plot(&report)).with_context(|| format!("writing {}", p.display()))?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        let k = &report.keystrokes;
        let c = &report.cold;
        writeln!(
            out,
            "model {}\nfile {} ({} keystrokes, {} layout, heal {}, {} threads, max {} tokens)",
            report.model,
            report.file,
            k.requests,
            report.layout,
            report.heal_tokens,
            report.threads,
            report.max_tokens
        )?;
        writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>10} {:>10} {:>8} {:>10}",
            "", "ttft p50", "ttft p95", "done p50", "done p95", "cache", "eval/req"
        )?;
        for (name, s) in [("cold", c), ("keystroke", k)] {
            writeln!(
                out,
                "{:<12} {:>8.0}ms {:>8.0}ms {:>8.0}ms {:>8.0}ms {:>7.1}% {:>10.1}",
                name,
                s.first_token_p50_ms,
                s.first_token_p95_ms,
                s.total_p50_ms,
                s.total_p95_ms,
                s.cache_hit_ratio * 100.0,
                s.evaluated_tokens_mean
            )?;
        }
        writeln!(
            out,
            "keystroke/cold first-token ratio: {:.3}",
            report.ratio_first_token
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
