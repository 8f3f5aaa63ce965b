//! Speed estimates: decode is memory-bound (bytes read per token ÷ effective bandwidth),
//! prefill is compute-bound (2 × active parameters FLOPs per token ÷ effective FLOP/s).
//! Both are calibrated by `hearth bench` results of this machine when there are any.
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::hw::Hardware;
use crate::plan::{MemoryEstimate, ModelSpec};

/// Fraction of the measured streaming bandwidth llama.cpp's CPU decode reaches.
pub const CPU_BW_EFFICIENCY: f64 = 0.8;
/// Fraction of the vendor bandwidth a GPU reaches in decode.
pub const GPU_BW_EFFICIENCY: f64 = 0.7;
/// Fraction of the vendor FP16 tensor throughput reached in prefill.
pub const GPU_FLOPS_EFFICIENCY: f64 = 0.35;
/// Assumed CPU bandwidth when neither a probe nor a preset gives one (dual-channel DDR4).
pub const DEFAULT_CPU_BW: f64 = 20e9;

/// Effective prefill FLOP/s of one logical CPU running llama.cpp's quantized kernels.
/// Calibrated on the reference measurement (Qwen2.5-Coder-0.5B Q4_K_M, 512-token prompt,
/// 2 threads on a 2-vCPU AMD EPYC with AVX-512: 256–317 tok/s ≈ 0.99 GFLOP/token, so about
/// 140 GFLOP/s per thread); AVX2-only CPUs run the same kernels at half the width.
pub fn cpu_flops_per_thread(features: &[String]) -> f64 {
    let has = |f: &str| features.iter().any(|x| x == f);
    if has("avx512_vnni") || has("avx512bw") {
        140e9
    } else if has("avx2") {
        70e9
    } else if has("asimddp") || has("i8mm") {
        60e9
    } else if has("neon") {
        30e9
    } else if features.is_empty() {
        // Unknown CPU (hardware given by flags): assume a current AVX2 desktop core.
        70e9
    } else {
        20e9
    }
}

/// One `hearth bench` result (`~/.cache/hearth/bench/*.json`). Unknown fields are ignored;
/// missing optional fields leave that part uncalibrated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRecord {
    /// CPU model string as in /proc/cpuinfo (`Hardware::cpu.model`); results of another CPU
    /// are not used.
    pub cpu_model: String,
    #[serde(default)]
    pub model_file: Option<String>,
    /// Size of the model's tensor data (or the file) in bytes: the bytes decode reads per token.
    pub model_bytes: u64,
    /// Parameter count of the model.
    #[serde(default)]
    pub n_params: Option<u64>,
    /// Layers offloaded (only CPU-only results, 0, calibrate the CPU figures).
    #[serde(default)]
    pub gpu_layers: u32,
    #[serde(default)]
    pub threads: Option<u32>,
    #[serde(default)]
    pub prompt_tokens: Option<u32>,
    #[serde(default)]
    pub prompt_tok_s: Option<f64>,
    #[serde(default)]
    pub decode_tok_s: Option<f64>,
}

/// The JSON `hearth bench --json` prints (crates/hearth/src/cmd/bench.rs), with the fields the
/// calibration needs added: `cpu_model` (required to use it) and `gpu_layers`.
#[derive(Debug, Clone, Deserialize)]
struct EngineBenchReport {
    cpu_model: String,
    /// Path of the model file.
    model: String,
    file_size: u64,
    n_params: u64,
    #[serde(default)]
    threads: Option<u32>,
    #[serde(default)]
    gpu_layers: u32,
    results: Vec<EngineBenchResult>,
}

#[derive(Debug, Clone, Deserialize)]
struct EngineBenchResult {
    test: String,
    #[serde(default)]
    n_prompt: u32,
    avg_ts: f64,
}

impl From<EngineBenchReport> for BenchRecord {
    fn from(r: EngineBenchReport) -> BenchRecord {
        let find = |prefix: &str| {
            r.results
                .iter()
                .find(|t| t.test.starts_with(prefix))
                .map(|t| (t.n_prompt, t.avg_ts))
        };
        BenchRecord {
            cpu_model: r.cpu_model.clone(),
            model_file: Some(r.model.clone()),
            model_bytes: r.file_size,
            n_params: Some(r.n_params),
            gpu_layers: r.gpu_layers,
            threads: r.threads,
            prompt_tokens: find("pp").map(|(n, _)| n),
            prompt_tok_s: find("pp").map(|(_, v)| v),
            decode_tok_s: find("tg").map(|(_, v)| v),
        }
    }
}

/// Parse a bench file: one [`BenchRecord`], an array of them, or a `hearth bench --json` report.
pub fn parse_bench_file(bytes: &[u8]) -> Option<Vec<BenchRecord>> {
    if let Ok(r) = serde_json::from_slice::<BenchRecord>(bytes) {
        return Some(vec![r]);
    }
    if let Ok(rs) = serde_json::from_slice::<Vec<BenchRecord>>(bytes) {
        return Some(rs);
    }
    serde_json::from_slice::<EngineBenchReport>(bytes)
        .ok()
        .map(|r| vec![r.into()])
}

/// Bytes decode reads per token with everything on the CPU and an empty context: the active
/// share of the layers plus the output matrix (the tied embedding matrix when there is none).
/// Prediction and calibration use this same figure, so its approximations cancel out.
pub fn weights_read_per_token(spec: &ModelSpec) -> u64 {
    let s = &spec.shape;
    let w = &spec.weights;
    let active = if s.n_params > 0 {
        s.n_active_params as f64 / s.n_params as f64
    } else {
        1.0
    };
    let layers: u64 = w.per_layer.iter().sum();
    let output = if s.tied_embeddings {
        w.token_embd
    } else {
        w.output
    };
    (layers as f64 * active) as u64 + output
}

/// Effective CPU figures measured by `hearth bench` on this CPU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Calibration {
    /// Bytes/s decode really reads.
    pub cpu_bandwidth: Option<f64>,
    /// FLOP/s prefill really reaches.
    pub cpu_flops: Option<f64>,
    pub records: usize,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite() && *x > 0.0);
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

impl Calibration {
    /// Derive effective figures from records of `cpu_model` (CPU-only runs).
    pub fn from_records(records: &[BenchRecord], cpu_model: &str) -> Option<Calibration> {
        let mine: Vec<&BenchRecord> = records
            .iter()
            .filter(|r| r.cpu_model == cpu_model && r.gpu_layers == 0)
            .collect();
        if mine.is_empty() {
            return None;
        }
        // With the model file at hand, use the same bytes/FLOPs per token as the prediction.
        let exact = |r: &BenchRecord| {
            let path = Path::new(r.model_file.as_deref()?);
            let spec = path.is_file().then(|| ModelSpec::from_path(path).ok())??;
            Some((weights_read_per_token(&spec), spec.shape.n_active_params))
        };
        let figures: Vec<(f64, f64)> = mine
            .iter()
            .map(|r| match exact(r) {
                Some((b, p)) => (b as f64, p as f64),
                None => (r.model_bytes as f64, r.n_params.unwrap_or(0) as f64),
            })
            .collect();
        let bw = median(
            mine.iter()
                .zip(&figures)
                .filter_map(|(r, (bytes, _))| Some(r.decode_tok_s? * bytes))
                .collect(),
        );
        let flops = median(
            mine.iter()
                .zip(&figures)
                .filter_map(|(r, (_, params))| Some(r.prompt_tok_s? * 2.0 * params))
                .collect(),
        );
        (bw.is_some() || flops.is_some()).then_some(Calibration {
            cpu_bandwidth: bw,
            cpu_flops: flops,
            records: mine.len(),
        })
    }

    /// Read every `*.json` in `dir` (unparsable files are skipped with a debug log).
    pub fn load_dir(dir: &Path, cpu_model: &str) -> Option<Calibration> {
        let mut records = Vec::new();
        for entry in std::fs::read_dir(dir).ok()?.flatten() {
            let p = entry.path();
            if p.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Ok(bytes) = std::fs::read(&p) else {
                continue;
            };
            match parse_bench_file(&bytes) {
                Some(rs) => records.extend(rs),
                None => tracing::debug!(path = %p.display(), "not a bench record"),
            }
        }
        Calibration::from_records(&records, cpu_model)
    }

    /// `~/.cache/hearth/bench` for this CPU.
    pub fn load_default(cpu_model: &str) -> Option<Calibration> {
        Calibration::load_dir(&crate::bandwidth::cache_dir()?.join("bench"), cpu_model)
    }
}

/// Expected speed of a placement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SpeedEstimate {
    pub decode_tok_s: f64,
    pub prefill_tok_s: f64,
    /// Bytes read per decoded token (active weights + KV at the assumed fill).
    pub bytes_per_token: u64,
    /// Whether `hearth bench` results of this CPU were used.
    pub calibrated: bool,
}

/// Estimate speeds with `fill` tokens in the context.
pub fn speed(
    spec: &ModelSpec,
    e: &MemoryEstimate,
    hw: &Hardware,
    calib: Option<&Calibration>,
    fill: u64,
) -> SpeedEstimate {
    let s = &spec.shape;
    let active = if s.n_params > 0 {
        s.n_active_params as f64 / s.n_params as f64
    } else {
        1.0
    };
    let kv_frac = if e.kv.cells > 0 {
        (fill.min(e.kv.n_ctx_seq) as f64 / e.kv.cells as f64).min(1.0)
    } else {
        0.0
    };
    let w = &spec.weights;
    let layers_total: u64 = w.per_layer.iter().sum();
    let layer_weights_gpu = e.weights_gpu.saturating_sub(if e.gpu_layers >= 1 {
        w.output + if s.tied_embeddings { w.token_embd } else { 0 }
    } else {
        0
    });
    let layer_weights_cpu = layers_total.saturating_sub(layer_weights_gpu);
    let output_bytes = if s.tied_embeddings {
        w.token_embd
    } else {
        w.output
    } as f64;
    let mut gpu_bytes = layer_weights_gpu as f64 * active + e.kv_gpu as f64 * kv_frac;
    let mut cpu_bytes = layer_weights_cpu as f64 * active + e.kv_cpu as f64 * kv_frac;
    if e.gpu_layers >= 1 {
        gpu_bytes += output_bytes;
    } else {
        cpu_bytes += output_bytes;
    }

    let gpu = hw.main_gpu();
    let calibrated_bw = calib.and_then(|c| c.cpu_bandwidth);
    let cpu_bw =
        calibrated_bw.unwrap_or(hw.mem_bandwidth.unwrap_or(DEFAULT_CPU_BW) * CPU_BW_EFFICIENCY);
    let gpu_bw = gpu.and_then(|g| g.bandwidth).unwrap_or(300e9) * GPU_BW_EFFICIENCY;
    let t_decode = cpu_bytes / cpu_bw
        + if gpu_bytes > 0.0 {
            gpu_bytes / gpu_bw
        } else {
            0.0
        };

    // Prefill: 2 FLOPs per active weight per token, split like the layers.
    let flops = 2.0 * s.n_active_params as f64;
    let gpu_share = if layers_total > 0 {
        layer_weights_gpu as f64 / layers_total as f64
    } else {
        0.0
    };
    let threads = hw.cpu.physical_cores.max(hw.cpu.logical_cores).max(1) as f64;
    let calibrated_flops = calib.and_then(|c| c.cpu_flops);
    let cpu_flops = calibrated_flops.unwrap_or(cpu_flops_per_thread(&hw.cpu.features) * threads);
    let gpu_flops = gpu.and_then(|g| g.fp16_flops).unwrap_or(50e12) * GPU_FLOPS_EFFICIENCY;
    let t_prefill = flops * (1.0 - gpu_share) / cpu_flops
        + if gpu_share > 0.0 {
            flops * gpu_share / gpu_flops
        } else {
            0.0
        };

    SpeedEstimate {
        decode_tok_s: if t_decode > 0.0 { 1.0 / t_decode } else { 0.0 },
        prefill_tok_s: if t_prefill > 0.0 {
            1.0 / t_prefill
        } else {
            0.0
        },
        bytes_per_token: (cpu_bytes + gpu_bytes) as u64,
        calibrated: calibrated_bw.is_some() || calibrated_flops.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_uses_only_this_cpu_and_cpu_runs() {
        let rec = |cpu: &str, gl: u32, d: f64| BenchRecord {
            cpu_model: cpu.into(),
            model_file: None,
            model_bytes: 500_000_000,
            n_params: Some(500_000_000),
            gpu_layers: gl,
            threads: Some(2),
            prompt_tokens: Some(512),
            prompt_tok_s: Some(300.0),
            decode_tok_s: Some(d),
        };
        let rs = vec![
            rec("A", 0, 40.0),
            rec("A", 0, 50.0),
            rec("A", 99, 500.0),
            rec("B", 0, 1.0),
        ];
        let c = Calibration::from_records(&rs, "A").unwrap();
        assert_eq!(c.records, 2);
        assert_eq!(c.cpu_bandwidth, Some(50.0 * 5e8));
        assert_eq!(c.cpu_flops, Some(300.0 * 1e9));
        assert!(Calibration::from_records(&rs, "C").is_none());
    }

    #[test]
    fn engine_bench_report_is_understood() {
        let j = r#"{"model":"/nonexistent.gguf","architecture":"qwen2","file_size":491400064,
            "n_params":630167424,"threads":2,"n_batch":512,"system_info":"","build_features":[],
            "cpu_model":"AMD EPYC","gpu_layers":0,
            "results":[{"test":"pp512","n_prompt":512,"n_gen":0,"samples_ts":[],"avg_ts":300.0,"stddev_ts":1.0},
                       {"test":"tg128","n_prompt":0,"n_gen":128,"samples_ts":[],"avg_ts":50.0,"stddev_ts":1.0}]}"#;
        let rs = parse_bench_file(j.as_bytes()).unwrap();
        assert_eq!(rs.len(), 1);
        assert_eq!(rs[0].prompt_tok_s, Some(300.0));
        assert_eq!(rs[0].decode_tok_s, Some(50.0));
        assert_eq!(rs[0].prompt_tokens, Some(512));
        let c = Calibration::from_records(&rs, "AMD EPYC").unwrap();
        assert_eq!(c.cpu_bandwidth, Some(50.0 * 491400064.0));
        // Without cpu_model the report cannot be attributed to a CPU: ignored.
        let no_cpu = j.replace(r#""cpu_model":"AMD EPYC","#, "");
        assert!(parse_bench_file(no_cpu.as_bytes()).is_none());
    }

    #[test]
    fn bench_dir_accepts_single_records_and_arrays() {
        let d = tempfile::tempdir().unwrap();
        let one = r#"{"cpu_model":"X","model_bytes":1000,"decode_tok_s":10.0,"extra":1}"#;
        std::fs::write(d.path().join("a.json"), one).unwrap();
        std::fs::write(d.path().join("b.json"), format!("[{one},{one}]")).unwrap();
        std::fs::write(d.path().join("c.json"), "garbage").unwrap();
        let c = Calibration::load_dir(d.path(), "X").unwrap();
        assert_eq!(c.records, 3);
        assert_eq!(c.cpu_bandwidth, Some(10_000.0));
        assert_eq!(c.cpu_flops, None);
    }
}
