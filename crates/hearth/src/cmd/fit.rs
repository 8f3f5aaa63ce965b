//! `hearth fit [MODEL_OR_FILE]`: which models this machine (or the hardware given by flags)
//! can run, where, how much memory they need and how fast they will be.
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context};
use hearth_fit::catalog::{self, GPUS};
use hearth_fit::report::{catalog_table, mark_recommendations, row, FitRow};
use hearth_fit::speed::Calibration;
use hearth_fit::{
    bandwidth, human_bytes, parse_size, plan::suggest, Budget, CacheType, ContextParams, Hardware,
    ModelSpec, Quant, Verdict,
};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A GGUF file, an installed model (`qwen2.5-coder:7b`) or a catalog model
    /// (`qwen2.5-coder-7b`); without it, the whole catalog.
    pub model: Option<String>,
    /// Total context in tokens (shared by the parallel sequences).
    #[arg(long, default_value_t = 8192)]
    pub ctx: u32,
    /// Parallel sequences (server slots).
    #[arg(long, default_value_t = 1)]
    pub parallel: u32,
    /// Only this quantization (catalog models).
    #[arg(long, value_parser = parse_quant)]
    pub quant: Option<Quant>,
    /// KV cache type for K and V (f16, q8_0, q4_0).
    #[arg(long, default_value = "f16", value_parser = parse_cache)]
    pub cache_type: CacheType,
    /// Plan for flash attention on (hearth-engine's default is off; without it the attention
    /// scores of a 512-token batch over the whole context are materialized).
    #[arg(long)]
    pub flash_attn: bool,
    /// Hardware preset instead of this machine (see --list-gpus).
    #[arg(long, conflicts_with = "vram")]
    pub gpu: Option<String>,
    /// GPU memory instead of this machine's (e.g. 24G).
    #[arg(long, value_parser = parse_size_arg)]
    pub vram: Option<u64>,
    /// RAM instead of this machine's (e.g. 64G).
    #[arg(long, value_parser = parse_size_arg)]
    pub ram: Option<u64>,
    /// Ignore GPUs.
    #[arg(long)]
    pub cpu_only: bool,
    /// Do not run the memory-bandwidth probe (use the cached figure or a default).
    #[arg(long)]
    pub no_probe: bool,
    /// Measure the memory bandwidth again even if a cached figure exists.
    #[arg(long)]
    pub reprobe: bool,
    /// List the hardware presets and exit.
    #[arg(long)]
    pub list_gpus: bool,
    /// Count memory with a sequence's context holding this many tokens (default: full, what
    /// decisions use); for comparing with a measurement of a shorter prompt.
    #[arg(long)]
    pub fill: Option<u32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

fn parse_size_arg(s: &str) -> Result<u64, String> {
    parse_size(s).ok_or_else(|| format!("{s:?} is not a size (like 24G or 512M)"))
}

fn parse_quant(s: &str) -> Result<Quant, String> {
    Quant::parse(s).ok_or_else(|| format!("{s:?}: expected one of Q4_K_M, Q5_K_M, Q8_0, F16"))
}

fn parse_cache(s: &str) -> Result<CacheType, String> {
    CacheType::parse(s).ok_or_else(|| format!("{s:?}: expected f16, q8_0, q4_0, ..."))
}

#[derive(serde::Serialize)]
struct TableReport<'a> {
    hardware: &'a Hardware,
    budget: Budget,
    n_ctx: u32,
    n_parallel: u32,
    calibrated: bool,
    rows: &'a [FitRow],
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if args.list_gpus {
        for g in GPUS {
            writeln!(
                out,
                "{:<16} {:<34} {:>4} GiB {:>6.0} GB/s{}",
                g.name,
                g.label,
                g.mem_gib,
                g.bandwidth_gbs,
                if g.unified { "  (unified memory)" } else { "" }
            )?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.ctx == 0 || args.parallel == 0 {
        bail!("--ctx and --parallel must be at least 1");
    }
    let (hw, calib) = hardware(&args)?;
    let budget = Budget::of(&hw);
    let mut p = ContextParams::for_hardware(args.ctx, args.parallel, &hw);
    p.flash_attn = args.flash_attn;
    p.type_k = args.cache_type;
    p.type_v = args.cache_type;
    p.fill = args.fill;

    let Some(model) = &args.model else {
        let mut rows = catalog_table(&hw, &budget, &p, calib.as_ref());
        if let Some(q) = args.quant {
            rows.retain(|r| r.quant == q);
        }
        if args.json {
            let rep = TableReport {
                hardware: &hw,
                budget,
                n_ctx: args.ctx,
                n_parallel: args.parallel,
                calibrated: calib.is_some(),
                rows: &rows,
            };
            serde_json::to_writer_pretty(&mut out, &rep)?;
            writeln!(out)?;
        } else {
            write_hardware(&mut out, &hw, &budget, calib.is_some())?;
            writeln!(
                out,
                "context {} tokens, {} parallel, KV cache {}\n",
                args.ctx,
                args.parallel,
                args.cache_type.ggml()
            )?;
            write_table(&mut out, &rows)?;
        }
        return Ok(ExitCode::SUCCESS);
    };

    // One model: a file, an installed model (exact, from its file), or a catalog name (all
    // quantizations, or --quant).
    let installed = if Path::new(model).is_file() {
        None
    } else {
        super::resolve_model(model).ok()
    };
    let specs: Vec<ModelSpec> = if Path::new(model).is_file() {
        vec![ModelSpec::from_path(Path::new(model))?]
    } else if let Some(path) = installed {
        let mut spec = ModelSpec::from_path(&path)?;
        spec.label = model.clone();
        vec![spec]
    } else if let Some(m) = catalog::find(model) {
        Quant::ALL
            .into_iter()
            .filter(|q| args.quant.is_none_or(|w| w == *q))
            .map(|q| ModelSpec::from_catalog(m, q))
            .collect()
    } else {
        let names: Vec<&str> = catalog::MODELS.iter().map(|m| m.name).collect();
        bail!(
            "{model:?} is not a GGUF file, an installed model or a catalog model ({})",
            names.join(", ")
        );
    };
    let mut rows: Vec<FitRow> = specs
        .iter()
        .map(|s| row(s, &hw, &budget, &p, calib.as_ref()))
        .collect();
    mark_recommendations(&mut rows);
    let fits = rows.iter().any(|r| r.verdict != Verdict::DoesNotFit);
    if args.json {
        #[derive(serde::Serialize)]
        struct One<'a> {
            hardware: &'a Hardware,
            budget: Budget,
            n_ctx: u32,
            n_parallel: u32,
            models: Vec<OneModel<'a>>,
        }
        #[derive(serde::Serialize)]
        struct OneModel<'a> {
            spec: &'a ModelSpec,
            #[serde(flatten)]
            row: &'a FitRow,
            suggestion: Option<hearth_fit::Suggestion>,
        }
        let models = specs
            .iter()
            .zip(&rows)
            .map(|(spec, row)| OneModel {
                spec,
                row,
                suggestion: (row.verdict == Verdict::DoesNotFit)
                    .then(|| suggest(spec, &p, &budget)),
            })
            .collect();
        let one = One {
            hardware: &hw,
            budget,
            n_ctx: args.ctx,
            n_parallel: args.parallel,
            models,
        };
        serde_json::to_writer_pretty(&mut out, &one)?;
        writeln!(out)?;
    } else {
        write_hardware(&mut out, &hw, &budget, calib.is_some())?;
        for (spec, r) in specs.iter().zip(&rows) {
            write_detail(&mut out, spec, r)?;
            if r.verdict == Verdict::DoesNotFit {
                writeln!(out, "  {}", suggest(spec, &p, &budget).text)?;
            }
            writeln!(out)?;
        }
    }
    Ok(if fits {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}

/// This machine (with the bandwidth probe and bench calibration) or the hardware from flags.
fn hardware(args: &Args) -> anyhow::Result<(Hardware, Option<Calibration>)> {
    if let Some(name) = &args.gpu {
        let preset = catalog::find_gpu(name)
            .with_context(|| format!("unknown --gpu {name:?}; see hearth fit --list-gpus"))?;
        return Ok((Hardware::from_preset(preset, args.ram), None));
    }
    if args.vram.is_some() || args.ram.is_some() {
        let ram = match args.ram {
            Some(r) => r,
            None => Hardware::detect().ram_total,
        };
        let vram = if args.cpu_only { None } else { args.vram };
        return Ok((Hardware::from_sizes(vram, ram), None));
    }
    let mut hw = Hardware::detect();
    if args.cpu_only {
        hw.gpus.clear();
    }
    if !args.no_probe || args.reprobe {
        hw.mem_bandwidth = Some(bandwidth::cached_or_measure(
            &hw.cpu.model,
            hw.cpu.logical_cores,
            args.reprobe,
        ));
    }
    let calib = Calibration::load_default(&hw.cpu.model);
    Ok((hw, calib))
}

fn write_hardware(
    out: &mut impl Write,
    hw: &Hardware,
    b: &Budget,
    calibrated: bool,
) -> std::io::Result<()> {
    writeln!(
        out,
        "hardware ({}): {}, {} cores / {} threads{}",
        hw.source,
        hw.cpu.model,
        hw.cpu.physical_cores,
        hw.cpu.logical_cores,
        if hw.cpu.features.is_empty() {
            String::new()
        } else {
            format!(" [{}]", hw.cpu.features.join(" "))
        }
    )?;
    write!(
        out,
        "  RAM {} total, {} available",
        human_bytes(hw.ram_total),
        human_bytes(hw.ram_available)
    )?;
    if let Some(bw) = hw.mem_bandwidth {
        write!(out, ", {:.1} GB/s", bw / 1e9)?;
    }
    writeln!(
        out,
        "{}",
        if calibrated {
            " (speeds calibrated by hearth bench)"
        } else {
            ""
        }
    )?;
    for g in &hw.gpus {
        writeln!(
            out,
            "  GPU {}: {} total, {} free{}",
            g.name,
            human_bytes(g.vram_total),
            human_bytes(g.vram_free),
            if g.unified { " (unified memory)" } else { "" }
        )?;
    }
    if hw.gpus.is_empty() {
        writeln!(out, "  no GPU")?;
    }
    writeln!(
        out,
        "  budget: {} RAM, {} GPU",
        human_bytes(b.ram),
        human_bytes(b.vram)
    )
}

fn params(n: u64) -> String {
    format!("{:.1}B", n as f64 / 1e9)
}

fn write_table(out: &mut impl Write, rows: &[FitRow]) -> std::io::Result<()> {
    writeln!(
        out,
        "{:<30} {:<7} {:>6} {:<16} {:>10} {:>10} {:>10} {:>11} {:>12}",
        "MODEL", "QUANT", "PARAMS", "WHERE", "NEEDED", "RESIDENT", "KV", "DECODE", "PREFILL"
    )?;
    for r in rows {
        let (d, pf) = match r.speed {
            Some(s) => (
                format!("{:.1} tok/s", s.decode_tok_s),
                format!("{:.0} tok/s", s.prefill_tok_s),
            ),
            None => ("-".into(), "-".into()),
        };
        let mark = if r.recommended {
            "  <= recommended"
        } else if r.best_for_model {
            "  <"
        } else {
            ""
        };
        let p = if r.active_params < r.params {
            format!("{}*", params(r.params))
        } else {
            params(r.params)
        };
        writeln!(
            out,
            "{:<30} {:<7} {:>6} {:<16} {:>10} {:>10} {:>10} {:>11} {:>12}{mark}",
            r.model,
            r.quant.name(),
            p,
            r.verdict.to_string(),
            human_bytes(r.memory),
            if r.resident > r.memory {
                human_bytes(r.resident)
            } else {
                "=".to_string()
            },
            human_bytes(r.estimate.kv.total()),
            d,
            pf
        )?;
    }
    writeln!(
        out,
        "\n< = best quantization of the model here; * = mixture of experts (speed from active parameters).\n\
         NEEDED = GPU + RAM to run at full speed (weights, KV cache, compute buffers, runtime); decode speed with the context half full.\n\
         RESIDENT = what RSS will show, where more: the CPU keeps repacked copies of some weights and the file's pages of\n\
         the originals stay cached until memory is wanted (free to drop; decisions use NEEDED)."
    )?;
    if let Some(r) = rows.iter().find(|r| r.recommended) {
        if let Some(why) = &r.why {
            writeln!(out, "recommended {} {}", r.model, why)?;
        }
    }
    Ok(())
}

fn write_detail(out: &mut impl Write, spec: &ModelSpec, r: &FitRow) -> std::io::Result<()> {
    let e = &r.estimate;
    let s = &spec.shape;
    writeln!(
        out,
        "\n{} ({}, {} layers, {} params{})",
        spec.label,
        s.arch,
        s.n_layer,
        params(s.n_params),
        if s.n_active_params < s.n_params {
            format!(", {} active", params(s.n_active_params))
        } else {
            String::new()
        }
    )?;
    writeln!(out, "  verdict        {}", r.verdict)?;
    writeln!(
        out,
        "  gpu layers     {} of {}",
        e.gpu_layers,
        e.n_layer + 1
    )?;
    writeln!(
        out,
        "  weights        {} ({}; {} GPU, {} resident in RAM)",
        human_bytes(e.weights_total),
        if spec.weights.exact {
            "from the file"
        } else {
            "estimated from the recipe"
        },
        human_bytes(e.weights_gpu),
        human_bytes(e.weights_cpu)
    )?;
    if e.repack_cpu > 0 {
        writeln!(
            out,
            "  repacked       {} (CPU copies of weight matrices in the kernels' layout)",
            human_bytes(e.repack_cpu)
        )?;
    }
    writeln!(
        out,
        "  KV cache       {} (n_ctx {} -> {} cells, {} per sequence; {} GPU, {} CPU)",
        human_bytes(e.kv.total()),
        e.kv.n_ctx,
        e.kv.cells,
        e.kv.n_ctx_seq,
        human_bytes(e.kv_gpu),
        human_bytes(e.kv_cpu)
    )?;
    writeln!(
        out,
        "  compute        {} GPU, {} CPU; logits {}",
        human_bytes(e.compute_gpu),
        human_bytes(e.compute_cpu),
        human_bytes(e.output)
    )?;
    writeln!(out, "  runtime        {}", human_bytes(e.overhead))?;
    writeln!(
        out,
        "  needed         {} ({} GPU + {} RAM) to run at full speed",
        human_bytes(e.needed()),
        human_bytes(e.gpu_total),
        human_bytes(e.cpu_needed)
    )?;
    writeln!(
        out,
        "  resident       {} RAM after a full prompt batch, {} after a short generation{}",
        human_bytes(e.cpu_total),
        human_bytes(e.cpu_resident),
        if e.repack_cpu > 0 {
            " (the repacked originals' file pages included: cached, free to drop)"
        } else {
            ""
        }
    )?;
    if let Some(why) = &r.why {
        writeln!(out, "  pick           {why}")?;
    }
    if let Some(sp) = r.speed {
        writeln!(
            out,
            "  speed          decode ~{:.1} tok/s ({} read per token), prefill ~{:.0} tok/s{}",
            sp.decode_tok_s,
            human_bytes(sp.bytes_per_token),
            sp.prefill_tok_s,
            if sp.calibrated { " (calibrated)" } else { "" }
        )?;
    }
    Ok(())
}
