//! `hearth bench MODEL`: llama-bench-style prompt processing (ppN) and generation (tgN) speed.
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use hearth_engine::{
    DoneReason, Event, GenerateRequest, GenerationStats, GpuLayers, LoadOptions, Model,
    SamplingParams,
};
use serde::Serialize;

use super::resolve_model;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model: a GGUF file path.
    pub model: String,
    /// Prompt tokens for the prompt-processing test (0 = skip).
    #[arg(short = 'p', long = "n-prompt", default_value_t = 512)]
    pub n_prompt: u32,
    /// Tokens to generate for the generation test (0 = skip).
    #[arg(short = 'n', long = "n-gen", default_value_t = 128)]
    pub n_gen: u32,
    /// Repetitions of each test (after one warm-up run).
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    pub repetitions: u32,
    /// Threads (default: physical cores).
    #[arg(short = 't', long)]
    pub threads: Option<u32>,
    /// Batch size for prompt processing.
    #[arg(short = 'b', long = "batch-size", default_value_t = 512)]
    pub batch_size: u32,
    /// Layers to offload to the GPU: a number or `all` (needs a `cuda` build).
    #[arg(long = "gpu-layers", default_value = "0")]
    pub gpu_layers: GpuLayers,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also measure N generations decoding together (continuous batching): aggregate tokens/s
    /// of N concurrent tgN runs against the same N run one after another.
    #[arg(long, default_value_t = 1)]
    pub parallel: u32,
}

#[derive(Debug, Serialize)]
struct TestResult {
    test: String,
    n_prompt: u32,
    n_gen: u32,
    samples_ts: Vec<f64>,
    avg_ts: f64,
    stddev_ts: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    model: String,
    architecture: String,
    file_size: u64,
    n_params: u64,
    threads: u32,
    n_batch: u32,
    /// llama.cpp's own list of the CPU features/backends it was compiled with.
    system_info: String,
    /// CPU features the Rust side was compiled for (same flags drive the C++ build).
    build_features: Vec<&'static str>,
    results: Vec<TestResult>,
}

/// Target features of this build (from `-C target-cpu=native` in .cargo/config.toml).
pub(crate) fn build_features() -> Vec<&'static str> {
    let mut v = Vec::new();
    macro_rules! feat {
        ($($f:literal),*) => {$( if cfg!(target_feature = $f) { v.push($f); } )*};
    }
    feat!(
        "sse4.2",
        "avx",
        "avx2",
        "fma",
        "f16c",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512vnni",
        "avx512bf16",
        "avxvnni",
        "neon",
        "dotprod",
        "i8mm"
    );
    v
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// Run one generation to its end and return its stats.
fn run_once(model: &Model, req: GenerateRequest) -> anyhow::Result<GenerationStats> {
    drain(model.generate(req)?.events)
}

fn drain(mut events: hearth_engine::EventReceiver) -> anyhow::Result<GenerationStats> {
    while let Some(ev) = events.blocking_recv() {
        match ev {
            Event::Token { .. } => {}
            Event::Done { reason, stats } => {
                if reason == DoneReason::Cancelled {
                    bail!("benchmark run was cancelled");
                }
                return Ok(stats);
            }
            Event::Error(e) => return Err(e.into()),
        }
    }
    bail!("generation ended without a result")
}

/// Deterministic pseudo-random prompt of `n` tokens whose first token differs per `rep`, so no
/// run reuses the previous run's KV cache.
fn prompt_tokens(n: u32, n_vocab: u32, rep: u32) -> Vec<i32> {
    // Stay clear of the low ids (control tokens in many vocabularies) and of rare high ids.
    let span = u64::from(n_vocab.clamp(2, 32_000));
    let base = (span / 4).min(100);
    let range = (span - base).max(1);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(rep);
    (0..n)
        .map(|i| {
            let r = if i == 0 {
                u64::from(rep)
            } else {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            i32::try_from(base + r % range).unwrap_or(0)
        })
        .collect()
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64().max(1e-9)
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let path = resolve_model(&args.model)?;
    if args.repetitions == 0 {
        bail!("--repetitions must be at least 1");
    }
    let parallel = args.parallel.clamp(1, hearth_engine::MAX_PARALLEL);
    let n_ctx = (args.n_prompt + args.n_gen + 64).max(256) * parallel;
    let opts = LoadOptions {
        n_ctx,
        n_parallel: parallel,
        threads: args.threads,
        threads_batch: args.threads,
        gpu_layers: args.gpu_layers,
        n_batch: args.batch_size,
        ..LoadOptions::default()
    };
    let model = Model::load(&path, opts).with_context(|| format!("loading {}", path.display()))?;
    let info = model.info().clone();
    let mut results = Vec::new();
    if args.n_prompt > 0 {
        let mut samples = Vec::new();
        for rep in 0..=args.repetitions {
            let req = GenerateRequest {
                prompt: prompt_tokens(args.n_prompt, info.n_vocab, rep),
                sampling: SamplingParams::greedy(),
                max_tokens: Some(1),
                ignore_eos: true,
                ..GenerateRequest::default()
            };
            let stats = run_once(&model, req)?;
            if stats.cached_tokens != 0 {
                bail!("internal error: benchmark prompt hit the prefix cache");
            }
            if rep > 0 {
                samples.push(f64::from(args.n_prompt) / secs(stats.prompt_eval));
            }
        }
        let (avg, sd) = mean_sd(&samples);
        results.push(TestResult {
            test: format!("pp{}", args.n_prompt),
            n_prompt: args.n_prompt,
            n_gen: 0,
            samples_ts: samples,
            avg_ts: avg,
            stddev_ts: sd,
        });
    }
    if args.n_gen > 0 {
        let mut samples = Vec::new();
        for rep in 0..=args.repetitions {
            // One token of context, then n_gen single-token decode steps (as llama-bench's tg).
            let req = GenerateRequest {
                prompt: prompt_tokens(1, info.n_vocab, rep),
                sampling: SamplingParams::greedy(),
                max_tokens: Some(args.n_gen),
                ignore_eos: true,
                ..GenerateRequest::default()
            };
            let stats = run_once(&model, req)?;
            if stats.eval_tokens != args.n_gen {
                bail!(
                    "generation stopped after {} of {} tokens",
                    stats.eval_tokens,
                    args.n_gen
                );
            }
            if rep > 0 {
                samples.push(f64::from(args.n_gen) / secs(stats.prompt_eval + stats.eval));
            }
        }
        let (avg, sd) = mean_sd(&samples);
        results.push(TestResult {
            test: format!("tg{}", args.n_gen),
            n_prompt: 0,
            n_gen: args.n_gen,
            samples_ts: samples,
            avg_ts: avg,
            stddev_ts: sd,
        });
    }
    if parallel > 1 && args.n_gen > 0 {
        for (name, concurrent) in [("sequential", false), ("concurrent", true)] {
            let mut samples = Vec::new();
            for rep in 0..=args.repetitions {
                let req = |i: u32| GenerateRequest {
                    prompt: prompt_tokens(1, info.n_vocab, rep * parallel + i),
                    sampling: SamplingParams::greedy(),
                    max_tokens: Some(args.n_gen),
                    ignore_eos: true,
                    ..GenerateRequest::default()
                };
                let start = std::time::Instant::now();
                if concurrent {
                    let gens = (0..parallel)
                        .map(|i| model.generate(req(i)))
                        .collect::<Result<Vec<_>, _>>()?;
                    for g in gens {
                        drain(g.events)?;
                    }
                } else {
                    for i in 0..parallel {
                        run_once(&model, req(i))?;
                    }
                }
                if rep > 0 {
                    samples.push(f64::from(args.n_gen * parallel) / secs(start.elapsed()));
                }
            }
            let (avg, sd) = mean_sd(&samples);
            results.push(TestResult {
                test: format!("tg{}x{parallel} {name}", args.n_gen),
                n_prompt: 0,
                n_gen: args.n_gen * parallel,
                samples_ts: samples,
                avg_ts: avg,
                stddev_ts: sd,
            });
        }
    }
    let report = Report {
        model: path.display().to_string(),
        architecture: info.architecture.clone(),
        file_size: info.file_size,
        n_params: info.n_params,
        threads: info.threads,
        n_batch: args.batch_size,
        system_info: hearth_engine::system_info(),
        build_features: build_features(),
        results,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_table(r: &Report) {
    let name = std::path::Path::new(&r.model)
        .file_name()
        .map_or(r.model.clone(), |n| n.to_string_lossy().into_owned());
    println!("build: {}", r.build_features.join(" "));
    println!("llama.cpp: {}", r.system_info);
    println!(
        "| {:<40} | {:>10} | {:>8} | {:>7} | {:>7} | {:>20} |",
        "model", "size", "params", "threads", "test", "t/s"
    );
    println!(
        "|{:-<42}|{:->12}|{:->10}|{:->9}|{:->9}|{:->22}|",
        "", "", "", "", "", ""
    );
    for t in &r.results {
        println!(
            "| {:<40} | {:>6.2} MiB | {:>6.2} B | {:>7} | {:>7} | {:>20} |",
            name,
            r.file_size as f64 / (1024.0 * 1024.0),
            r.n_params as f64 / 1e9,
            r.threads,
            t.test,
            format!("{:.2} ± {:.2}", t.avg_ts, t.stddev_ts)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd() {
        let (m, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!((m - 5.0).abs() < 1e-12);
        assert!((sd - 2.138_089_935).abs() < 1e-6);
        assert_eq!(mean_sd(&[3.0]), (3.0, 0.0));
    }

    #[test]
    fn prompts_differ_per_repetition_and_stay_in_range() {
        let a = prompt_tokens(512, 151_936, 0);
        let b = prompt_tokens(512, 151_936, 1);
        assert_eq!(a.len(), 512);
        assert_ne!(a[0], b[0]);
        assert!(a.iter().all(|&t| (100..32_000).contains(&t)));
        assert!(prompt_tokens(4, 50, 3)
            .iter()
            .all(|&t| (0..50).contains(&t)));
    }
}
