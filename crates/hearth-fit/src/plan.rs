//! Putting it together: a model's memory needs at a context, the GPU/CPU split, and the
//! load plan (or a refusal that says what would fit).
use std::path::Path;

use hearth_gguf::{Gguf, GgufFile};
use serde::Serialize;

use crate::catalog::CatalogModel;
use crate::estimate::{compute_buffers, kv_cache, runtime_overhead, ContextParams, KvEstimate};
use crate::hw::Hardware;
use crate::quant::{CacheType, Quant};
use crate::shape::{ModelShape, Weights};
use crate::{human_bytes, FitError, Suggestion};

/// A model to plan for: its shape and its weights (exact from a file, or from a recipe).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    /// `qwen2.5-coder-7b Q4_K_M` or a file name.
    pub label: String,
    pub shape: ModelShape,
    pub weights: Weights,
    /// The recipe, when known (catalog entries, or a file's `general.file_type`).
    pub quant: Option<Quant>,
}

impl ModelSpec {
    pub fn from_gguf(g: &Gguf, label: &str) -> Result<ModelSpec, FitError> {
        let shape = ModelShape::from_gguf(g, label)?;
        let weights = Weights::from_gguf(g, shape.n_layer);
        let quant = g
            .metadata
            .get_u64("general.file_type")
            .and_then(Quant::from_file_type);
        Ok(ModelSpec {
            label: label.to_owned(),
            shape,
            weights,
            quant,
        })
    }

    /// Open (and validate) a GGUF file.
    pub fn from_path(path: &Path) -> Result<ModelSpec, FitError> {
        let f = GgufFile::open(path).map_err(|source| FitError::Gguf {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let label = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        ModelSpec::from_gguf(&f, &label)
    }

    pub fn from_catalog(m: &CatalogModel, quant: Quant) -> ModelSpec {
        let shape = m.shape();
        let weights = Weights::from_recipe(&shape, quant);
        ModelSpec {
            label: format!("{} {}", m.name, quant),
            shape,
            weights,
            quant: Some(quant),
        }
    }

    /// The same model with another recipe (estimated weights).
    pub fn with_quant(&self, quant: Quant) -> ModelSpec {
        ModelSpec {
            label: format!("{} {}", self.shape.name, quant),
            shape: self.shape.clone(),
            weights: Weights::from_recipe(&self.shape, quant),
            quant: Some(quant),
        }
    }
}

/// Memory a loaded model needs, split between GPU and CPU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryEstimate {
    /// llama.cpp's `n_gpu_layers`: 0 = CPU only, `n_layer + 1` = everything (the output layer
    /// counts as one).
    pub gpu_layers: u32,
    pub n_layer: u32,
    /// All weights (file tensor bytes).
    pub weights_total: u64,
    pub weights_gpu: u64,
    /// Weights resident in RAM: CPU layers, `token_embd` (always on the CPU; llama.cpp maps
    /// the file with MAP_POPULATE, so all of it is resident) and the output layer unless
    /// offloaded.
    pub weights_cpu: u64,
    /// Repacked copies of CPU weight matrices (see [`crate::estimate::Repack`]).
    pub repack_cpu: u64,
    pub kv: KvEstimate,
    pub kv_gpu: u64,
    pub kv_cpu: u64,
    pub compute_gpu: u64,
    pub compute_cpu: u64,
    /// Logits buffer (host).
    pub output: u64,
    pub overhead: u64,
    pub gpu_total: u64,
    /// RAM the placement shows as resident once a full batch of prompt has been evaluated:
    /// the weights (the mmap'd originals of repacked matrices included), repacked copies, KV,
    /// logits, runtime and the pages of the compute buffer such a batch touches.
    pub cpu_total: u64,
    /// RAM the model needs to run at full speed: `cpu_total` without the mmap'd originals of
    /// the repacked matrices (llama.cpp reads those pages once, to make its copies; they stay
    /// in RSS as clean page cache until the kernel wants the memory). An untied `token_embd`
    /// is read only for the prompt's rows, yet counts: measured with `scripts/fit-vs-measured
    /// --needed` (Linux 6.18, cgroup v1, 2026-12-07), a memory limit that leaves out its size
    /// as well made the 1.5B's decode fall from 23 to under 2 tok/s, and a load without mmap
    /// (everything anonymous, nothing to drop) needs the same as this. What decisions (the
    /// verdict, admission, `--memory-budget`) are made with.
    pub cpu_needed: u64,
    /// Expected resident set after a short generation: only the pages of the compute buffer a
    /// few tokens touch (counted in `overhead`). This is what `/usr/bin/time` reports.
    pub cpu_resident: u64,
}

impl MemoryEstimate {
    /// GPU + RAM resident (see [`MemoryEstimate::cpu_total`]).
    pub fn total(&self) -> u64 {
        self.gpu_total + self.cpu_total
    }

    /// GPU + RAM needed to run at full speed (see [`MemoryEstimate::cpu_needed`]).
    pub fn needed(&self) -> u64 {
        self.gpu_total + self.cpu_needed
    }
}

/// The estimate for a given number of GPU layers (`gpu_layers` is clamped to `n_layer + 1`;
/// `has_gpu = false` forces 0).
pub fn estimate(
    spec: &ModelSpec,
    p: &ContextParams,
    gpu_layers: u32,
    has_gpu: bool,
) -> MemoryEstimate {
    let s = &spec.shape;
    let w = &spec.weights;
    let n_layer = s.n_layer;
    let g = if has_gpu {
        gpu_layers.min(n_layer + 1)
    } else {
        0
    };
    let output_on_gpu = g >= 1;
    // llama.cpp offloads the last `g - 1` repeating layers (i_gpu_start = n_layer + 1 - g).
    let first_gpu_layer = (n_layer + 1).saturating_sub(g) as usize;
    let kv = kv_cache(s, p);
    let (mut weights_gpu, mut weights_cpu, mut kv_gpu, mut kv_cpu) = (0u64, 0u64, 0u64, 0u64);
    let mut repack_cpu = 0u64;
    for (il, (lw, lkv)) in w.per_layer.iter().zip(kv.per_layer.iter()).enumerate() {
        if il >= first_gpu_layer {
            weights_gpu += lw;
            kv_gpu += lkv;
        } else {
            weights_cpu += lw;
            kv_cpu += lkv;
            repack_cpu += w.layer_types.get(il).map_or(0, |tb| p.repack.bytes(tb));
        }
    }
    // Files whose per-layer list is shorter than n_layer (should not happen): count the rest.
    weights_cpu += w.per_layer.iter().skip(kv.per_layer.len()).sum::<u64>();
    // token_embd stays on the CPU (get_rows); a tied matrix is duplicated on the GPU to serve
    // as the output layer there.
    weights_cpu += w.token_embd + w.other;
    if output_on_gpu {
        weights_gpu += w.output;
        if s.tied_embeddings {
            weights_gpu += w.token_embd;
        }
    } else {
        weights_cpu += w.output;
        repack_cpu += p.repack.bytes(&w.output_types);
    }
    let c = compute_buffers(s, p, &kv);
    let (compute_gpu, compute_cpu) = if output_on_gpu {
        (c.compute, c.host_compute)
    } else {
        (0, c.compute)
    };
    let overhead = runtime_overhead(s);
    let gpu_total = weights_gpu + kv_gpu + compute_gpu;
    let cpu_resident = weights_cpu + repack_cpu + kv_cpu + c.output + overhead;
    let touched_cpu = if output_on_gpu {
        c.host_compute
    } else {
        c.touched
    };
    let cpu_total = cpu_resident + touched_cpu;
    // The repacked copies replace the originals in the working set (same size: the copy is
    // an interleaving of the same blocks): what a load without mmap would hold.
    let cpu_needed = cpu_total - repack_cpu.min(cpu_total);
    MemoryEstimate {
        gpu_layers: g,
        n_layer,
        weights_total: w.total(),
        weights_gpu,
        weights_cpu,
        repack_cpu,
        kv,
        kv_gpu,
        kv_cpu,
        compute_gpu,
        compute_cpu,
        output: c.output,
        overhead,
        gpu_total,
        cpu_total,
        cpu_needed,
        cpu_resident,
    }
}

/// How much memory the planner may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Budget {
    pub ram: u64,
    pub vram: u64,
    /// GPU memory is carved out of `ram` (Apple silicon).
    pub unified: bool,
}

/// Kept free on a GPU for the driver/CUDA context and fragmentation.
pub const VRAM_HEADROOM: u64 = 512 << 20;
/// Kept free in RAM for the OS and the rest of hearth.
pub const RAM_HEADROOM: u64 = 512 << 20;

impl Budget {
    /// Free VRAM of the main GPU and available RAM, minus headroom.
    pub fn of(hw: &Hardware) -> Budget {
        let gpu = hw.main_gpu();
        Budget {
            ram: hw.ram_available.saturating_sub(RAM_HEADROOM),
            vram: gpu.map_or(0, |g| g.vram_free.saturating_sub(VRAM_HEADROOM)),
            unified: gpu.is_some_and(|g| g.unified),
        }
    }

    /// Whether an estimate fits: what it *needs*, not what RSS will show.
    pub fn fits(&self, e: &MemoryEstimate) -> bool {
        let ram_need = if self.unified {
            e.needed()
        } else {
            e.cpu_needed
        };
        e.gpu_total <= self.vram && ram_need <= self.ram
    }

    /// Everything usable for a model (for messages).
    pub fn total(&self) -> u64 {
        if self.unified {
            self.ram
        } else {
            self.ram + self.vram
        }
    }
}

/// Where a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Verdict {
    /// All layers on the GPU.
    Gpu,
    /// `gpu_layers` of `n_layer + 1` on the GPU, the rest on the CPU.
    Partial {
        gpu_layers: u32,
        of: u32,
    },
    /// Nothing offloaded (no GPU, or not even the output layer fits).
    CpuOnly,
    DoesNotFit,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verdict::Gpu => f.write_str("GPU"),
            Verdict::Partial { gpu_layers, of } => write!(f, "partial {gpu_layers}/{of}"),
            Verdict::CpuOnly => f.write_str("CPU only"),
            Verdict::DoesNotFit => f.write_str("does not fit"),
        }
    }
}

/// What the server passes to the engine.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoadPlan {
    /// `n_gpu_layers` for llama.cpp.
    pub gpu_layers: u32,
    pub verdict: Verdict,
    pub estimate: MemoryEstimate,
}

/// The most GPU layers that fit the budget, and the resulting estimate; `None` when even the
/// CPU-only placement exceeds RAM.
pub fn place(spec: &ModelSpec, p: &ContextParams, budget: &Budget) -> (Verdict, MemoryEstimate) {
    let n = spec.shape.n_layer;
    let has_gpu = budget.vram > 0;
    if has_gpu {
        for g in (1..=n + 1).rev() {
            let e = estimate(spec, p, g, true);
            if e.gpu_total <= budget.vram {
                let v = if g == n + 1 {
                    Verdict::Gpu
                } else {
                    Verdict::Partial {
                        gpu_layers: g,
                        of: n + 1,
                    }
                };
                return if budget.fits(&e) {
                    (v, e)
                } else {
                    (Verdict::DoesNotFit, e)
                };
            }
        }
    }
    let e = estimate(spec, p, 0, false);
    if budget.fits(&e) {
        (Verdict::CpuOnly, e)
    } else {
        (Verdict::DoesNotFit, e)
    }
}

/// Plan a load: GPU layers, or [`FitError::DoesNotFit`] with a suggestion.
pub fn plan(spec: &ModelSpec, p: &ContextParams, budget: &Budget) -> Result<LoadPlan, FitError> {
    let (verdict, estimate) = place(spec, p, budget);
    if verdict == Verdict::DoesNotFit {
        return Err(FitError::DoesNotFit {
            model: spec.label.clone(),
            n_ctx: p.n_ctx,
            needed: estimate.needed(),
            available: budget.total(),
            suggestion: suggest(spec, p, budget),
        });
    }
    Ok(LoadPlan {
        gpu_layers: estimate.gpu_layers,
        verdict,
        estimate,
    })
}

/// What the server calls before loading a model: `ctx` total context, `parallel` slots, with
/// hearth-engine's default context settings ([`ContextParams::new`]); see [`plan_load_with`]
/// for other settings (flash attention, cache types).
pub fn plan_load(
    file: &GgufFile,
    ctx: u32,
    parallel: u32,
    hw: &Hardware,
    budget: &Budget,
) -> Result<LoadPlan, FitError> {
    plan_load_with(
        file,
        &ContextParams::for_hardware(ctx, parallel, hw),
        budget,
    )
}

/// [`plan_load`] with explicit context settings (flash attention, cache types, batch); build
/// them with [`ContextParams::for_hardware`] so the CPU's weight repacking is counted.
pub fn plan_load_with(
    file: &GgufFile,
    p: &ContextParams,
    budget: &Budget,
) -> Result<LoadPlan, FitError> {
    let label = file
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let spec = ModelSpec::from_gguf(file, &label)?;
    plan(&spec, p, budget)
}

/// [`plan_load`] for a path (opens and validates the file).
pub fn plan_load_path(
    path: &Path,
    ctx: u32,
    parallel: u32,
    hw: &Hardware,
    budget: &Budget,
) -> Result<LoadPlan, FitError> {
    let f = GgufFile::open(path).map_err(|source| FitError::Gguf {
        path: path.to_path_buf(),
        source: Box::new(source),
    })?;
    plan_load(&f, ctx, parallel, hw, budget)
}

/// Find what would fit: the same model at a smaller context, with a quantized KV cache, or a
/// smaller quantization at the asked context.
pub fn suggest(spec: &ModelSpec, p: &ContextParams, budget: &Budget) -> Suggestion {
    let fits = |s: &ModelSpec, p: &ContextParams| place(s, p, budget).0 != Verdict::DoesNotFit;
    let mut options = Vec::new();
    let mut sugg = Suggestion::default();
    // Smaller quantizations at the requested context, best quality first.
    let cur_bpw = spec.weights.total() as f64 * 8.0 / spec.shape.n_params.max(1) as f64;
    for q in Quant::ALL.iter().rev() {
        if q.effective_bpw() >= cur_bpw - 0.05 || Some(*q) == spec.quant {
            continue;
        }
        let alt = spec.with_quant(*q);
        if fits(&alt, p) {
            options.push(format!("{} at ctx {}", q, p.n_ctx));
            sugg.quant = Some(*q);
            break;
        }
    }
    // The largest context (a multiple of 256, at least 512) that fits with this file.
    let mut lo = 0u32;
    let mut hi = p.n_ctx / 256;
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        let mut q = *p;
        q.n_ctx = mid * 256;
        if mid >= 2 && fits(spec, &q) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    if lo >= 2 {
        options.push(format!("this model at ctx {}", lo * 256));
        sugg.n_ctx = Some(lo * 256);
    }
    // A q8_0 KV cache at the asked context.
    if p.type_k == CacheType::F16 {
        let mut q = *p;
        q.type_k = CacheType::Q8_0;
        q.type_v = CacheType::Q8_0;
        if fits(spec, &q) {
            options.push("a Q8_0 KV cache (--cache-type q8_0)".into());
            sugg.cache_type = Some(CacheType::Q8_0);
        }
    }
    sugg.text = if options.is_empty() {
        format!(
            "nothing close fits in {}: use a smaller model",
            human_bytes(budget.total())
        )
    } else {
        format!("would fit: {}", options.join("; or "))
    };
    sugg
}
