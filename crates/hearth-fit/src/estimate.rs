//! Memory estimates: KV cache (exactly as llama.cpp sizes it), compute buffers, overhead.
use hearth_gguf::GgmlType;
use serde::Serialize;

use crate::quant::CacheType;
use crate::shape::{ModelShape, TypeBytes};

/// llama.cpp's CPU backend copies ("repacks") the weight matrices of some types into an
/// interleaved layout at load (`CPU_REPACK model buffer` in its log), on top of the mmap'd
/// file. Which types depends on the CPU (`ggml_repack_get_optimal_repack_type` in
/// ggml/src/ggml-cpu/repack.cpp, llama.cpp 0.6.0 of llama-cpp-sys-2 0.1.161).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub enum Repack {
    /// No repacking (unknown CPU, or none of the kernels apply).
    #[default]
    None,
    /// x86 with AVX2: Q4_0, Q4_K, IQ4_NL, MXFP4.
    X86Avx2,
    /// x86 with AVX-512: also Q2_K.
    X86Avx512,
    /// ARM with dot-product (or i8mm): Q4_0, Q4_K, Q5_K, Q6_K, IQ4_NL, MXFP4, Q8_0.
    ArmDotprod,
}

impl Repack {
    /// From CPU feature names as in /proc/cpuinfo.
    pub fn for_features(features: &[String]) -> Repack {
        let has = |f: &str| features.iter().any(|x| x == f);
        if has("avx512f") && has("avx2") {
            Repack::X86Avx512
        } else if has("avx2") {
            Repack::X86Avx2
        } else if has("asimddp") || has("i8mm") {
            Repack::ArmDotprod
        } else {
            Repack::None
        }
    }

    pub fn applies(self, t: GgmlType) -> bool {
        use GgmlType::*;
        match self {
            Repack::None => false,
            Repack::X86Avx2 => matches!(t, Q4_0 | Q4_K | IQ4_NL | MXFP4),
            Repack::X86Avx512 => matches!(t, Q4_0 | Q4_K | IQ4_NL | MXFP4 | Q2_K),
            Repack::ArmDotprod => matches!(t, Q4_0 | Q4_K | Q5_K | Q6_K | IQ4_NL | MXFP4 | Q8_0),
        }
    }

    /// Bytes of `tb` that get a repacked copy.
    pub fn bytes(self, tb: &TypeBytes) -> u64 {
        tb.iter()
            .filter(|(t, _)| self.applies(*t))
            .map(|(_, b)| b)
            .sum()
    }
}

/// llama.cpp pads the context to a multiple of this many cells (`GGML_PAD(n_ctx, 256)` in
/// `llama_context::llama_context`, src/llama-context.cpp, llama.cpp 0.5.0-dev as vendored by
/// llama-cpp-python 0.3.36; ref. llama.cpp PR #17046).
pub const CTX_PAD: u64 = 256;

/// Context and cache settings, mirroring `llama_context_params`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContextParams {
    /// Total context over all sequences (`n_ctx`).
    pub n_ctx: u32,
    /// Sequence slots (`n_seq_max`).
    pub n_parallel: u32,
    /// One KV stream shared by all sequences (`kv_unified`).
    pub kv_unified: bool,
    pub type_k: CacheType,
    pub type_v: CacheType,
    pub n_batch: u32,
    pub n_ubatch: u32,
    /// Flash attention: without it the attention scores of a ubatch are materialized.
    pub flash_attn: bool,
    /// Full-size cache for SWA layers (`swa_full`).
    pub swa_full: bool,
    /// Which weights the CPU backend repacks (depends on the CPU).
    pub repack: Repack,
    /// Tokens in a sequence's context when memory is counted; `None`: full. The attention
    /// scores llama.cpp computes span the cells in use (padded to 256), not the whole
    /// context, so the compute pages a batch touches grow as the context fills.
    pub fill: Option<u32>,
}

impl ContextParams {
    /// hearth-engine's defaults (`LoadOptions::default()` in crates/hearth-engine): F16 cache,
    /// n_batch = n_ubatch = 512, flash attention off (as in llama-cpp-python; llama.cpp's own
    /// `auto` would turn it on), one KV stream per sequence.
    pub fn new(n_ctx: u32, n_parallel: u32) -> ContextParams {
        ContextParams {
            n_ctx,
            n_parallel: n_parallel.max(1),
            kv_unified: false,
            type_k: CacheType::F16,
            type_v: CacheType::F16,
            n_batch: 512,
            n_ubatch: 512,
            flash_attn: false,
            swa_full: false,
            repack: Repack::None,
            fill: None,
        }
    }
}

impl ContextParams {
    /// [`ContextParams::new`] with the repacking of `hw`'s CPU.
    pub fn for_hardware(n_ctx: u32, n_parallel: u32, hw: &crate::hw::Hardware) -> ContextParams {
        ContextParams {
            repack: Repack::for_features(&hw.cpu.features),
            ..ContextParams::new(n_ctx, n_parallel)
        }
    }
}

fn pad(x: u64, to: u64) -> u64 {
    x.div_ceil(to).saturating_mul(to)
}

/// The KV cache as llama.cpp allocates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KvEstimate {
    /// `n_ctx` after padding (what llama.cpp prints as `n_ctx`).
    pub n_ctx: u64,
    /// Cells per sequence (`n_ctx_seq`).
    pub n_ctx_seq: u64,
    /// Cells of a full-attention layer, over all streams.
    pub cells: u64,
    /// Cells of a sliding-window layer, over all streams (equal to `cells` without SWA).
    pub swa_cells: u64,
    pub k_bytes: u64,
    pub v_bytes: u64,
    /// K+V bytes of each layer (for the GPU/CPU split).
    pub per_layer: Vec<u64>,
}

impl KvEstimate {
    pub fn total(&self) -> u64 {
        self.k_bytes + self.v_bytes
    }
}

/// KV cache bytes exactly as llama.cpp computes them (`llama_kv_cache` constructor in
/// src/llama-kv-cache.cpp): per layer a K tensor `[n_embd_k_gqa, kv_size, n_stream]` and a V
/// tensor `[n_embd_v_gqa, kv_size, n_stream]` of the cache types, where
/// `n_ctx = pad(n_ctx, 256)`, and without a unified cache `n_ctx_seq = pad(n_ctx / n_seq, 256)`,
/// `kv_size = n_ctx_seq`, `n_stream = n_seq`; with one, `kv_size = n_ctx`, `n_stream = 1`.
/// SWA layers (src/llama-kv-cache-iswa.cpp) hold
/// `pad(min(kv_size, n_swa * (unified ? n_seq : 1) + n_ubatch), 256)` cells per stream.
pub fn kv_cache(shape: &ModelShape, p: &ContextParams) -> KvEstimate {
    let n_seq = u64::from(p.n_parallel.max(1));
    let mut n_ctx = if p.n_ctx == 0 {
        shape.n_ctx_train
    } else {
        u64::from(p.n_ctx)
    };
    n_ctx = pad(n_ctx, CTX_PAD);
    let (n_ctx_seq, kv_size, n_stream) = if p.kv_unified {
        (n_ctx, n_ctx, 1)
    } else {
        let seq = pad(n_ctx / n_seq, CTX_PAD).max(CTX_PAD);
        n_ctx = seq * n_seq;
        (seq, seq, n_seq)
    };
    let swa_size = match shape.swa {
        Some(swa) if !p.swa_full => {
            let window = swa.window * if p.kv_unified { n_seq } else { 1 };
            pad(kv_size.min(window + u64::from(p.n_ubatch)), CTX_PAD)
        }
        _ => kv_size,
    };
    let k_row = p.type_k.row_bytes(shape.n_embd_k_gqa());
    let v_row = p.type_v.row_bytes(shape.n_embd_v_gqa());
    let mut per_layer = Vec::with_capacity(shape.n_layer as usize);
    let (mut k_bytes, mut v_bytes) = (0u64, 0u64);
    for il in 0..shape.n_layer {
        let size = if shape.swa.is_some_and(|s| s.is_swa(il)) {
            swa_size
        } else {
            kv_size
        };
        let cells = size.saturating_mul(n_stream);
        let k = k_row.saturating_mul(cells);
        let v = v_row.saturating_mul(cells);
        k_bytes = k_bytes.saturating_add(k);
        v_bytes = v_bytes.saturating_add(v);
        per_layer.push(k.saturating_add(v));
    }
    KvEstimate {
        n_ctx,
        n_ctx_seq,
        cells: kv_size * n_stream,
        swa_cells: swa_size * n_stream,
        k_bytes,
        v_bytes,
        per_layer,
    }
}

/// Scratch buffers: llama.cpp's compute buffer (the ggml graph of one ubatch, reserved at
/// context creation) and its output buffer (logits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComputeEstimate {
    /// Compute buffer on the device that holds the output layer (the CPU without a GPU).
    pub compute: u64,
    /// Host-side compute buffer when layers are offloaded (inputs, copies).
    pub host_compute: u64,
    /// Logits buffer (`n_vocab × n_seq × 4`, host memory).
    pub output: u64,
    /// Pages of `compute` a full batch of prompt really touches on the CPU. The reserve sizes
    /// the output stage for every token being an output, but a generation asks for the logits
    /// of one token per sequence, so that stage stays mostly untouched (and on the CPU,
    /// untouched pages of a malloc'd buffer take no memory). Measured with
    /// `scripts/fit-vs-measured --needed`.
    pub touched: u64,
}

/// Compute buffer model, fitted to llama.cpp's reported `CPU compute buffer size` for the
/// three test models at n_ctx 2048/8192/32768 with and without flash attention (figures in
/// `tests/llama_cpp_reference.rs`; within 4% everywhere). The graph allocator's peak is the
/// larger of
/// - the output stage: logits `n_vocab × n_ubatch` F32 (the reserve assumes every token of a
///   ubatch is an output) plus three hidden-state tensors `n_embd × n_ubatch` F32, and
/// - an attention layer: without flash attention the score matrix `n_head × n_kv × n_ubatch`
///   F32 plus its F32 mask `n_kv × n_ubatch` and about six hidden states; with it a F16 mask
///   and a few hidden states,
/// - an FFN layer: `3 × n_ff × n_ubatch` F32.
pub fn compute_buffers(shape: &ModelShape, p: &ContextParams, kv: &KvEstimate) -> ComputeEstimate {
    let n_ubatch = u64::from(p.n_ubatch.min(p.n_batch).max(1)).min(kv.n_ctx.max(1));
    let n_kv = kv.n_ctx_seq.max(1);
    let hidden = shape.n_embd * n_ubatch * 4;
    let output_stage = shape.n_vocab * n_ubatch * 4 + 3 * hidden;
    let attn = if p.flash_attn {
        n_kv * n_ubatch * 2 + 4 * hidden
    } else {
        shape.n_head * n_kv * n_ubatch * 4 + n_kv * n_ubatch * 4 + 6 * hidden
    };
    let ffn = 3 * shape.n_ff * n_ubatch * 4 + 2 * hidden;
    let n_outputs = u64::from(p.n_parallel.max(1)).min(n_ubatch);
    let output_used = shape.n_vocab * n_outputs * 4 + 3 * hidden;
    // The cells a batch attends over once the context holds `fill` tokens.
    let n_kv_used = p.fill.map_or(n_kv, |f| {
        pad(u64::from(f), CTX_PAD).clamp(CTX_PAD, n_kv.max(CTX_PAD))
    });
    let attn_used = if p.flash_attn {
        n_kv_used * n_ubatch * 2 + 4 * hidden
    } else {
        let scores = shape.n_head * n_kv_used * n_ubatch * 4;
        scores * ATTN_TOUCHED_PERCENT / 100 + n_kv_used * n_ubatch * 4 + 6 * hidden
    };
    ComputeEstimate {
        compute: output_stage.max(attn).max(ffn),
        host_compute: hidden * 2 + n_kv * n_ubatch * 2,
        output: shape.n_vocab * u64::from(p.n_parallel.max(1)) * 4,
        touched: output_used.max(attn_used).max(ffn),
    }
}

/// Pages of the compute buffer a prompt touches per score-matrix byte of its last batch, in
/// percent. One graph holds one score matrix at a time (the soft-max runs in place), but
/// llama.cpp plans every batch's graph anew as the context fills, and the scores land at
/// other offsets each time: the pages touched over a prompt grow ~1.36 times as fast as one
/// matrix. Fitted with `scripts/fit-vs-measured --needed` (peak RSS of `hearth run` after code
/// prompts of 9 to 3,988 tokens: 1.33 SmolLM2-135M, 1.34 Qwen2.5-Coder-0.5B, 1.41 the 1.5B).
pub const ATTN_TOUCHED_PERCENT: u64 = 136;

/// Runtime cost of a loaded model besides weights, KV and buffers: engine code and heap, the
/// vocabulary tables, and the pages of the compute buffer a short generation touches.
/// Fitted with `scripts/fit-vs-measured` on the three test models (n_ctx 2k/8k/32k, CPU):
/// peak RSS minus (mapped weights + repacked weights + KV + logits) grows by 314 bytes per
/// vocabulary entry (65.8 MiB for SmolLM2's 49,152 tokens, 96.5 MiB for Qwen's 151,936, in
/// llama-cpp-python); the rest is the process itself: 51 MiB for Python with `llama_cpp`
/// imported (40.6 MiB of which is the interpreter and libraries alone), 33 MiB for `hearth run`
/// (release build, hearth-engine over llama-cpp-2; refitted with `--needed` on 2026-12-07,
/// where the debug build's 43 MiB overstated SmolLM2's peak RSS by 13-19 MiB).
pub const RUNTIME_BASE_BYTES: u64 = 33 << 20;
pub const RUNTIME_PER_VOCAB_BYTES: u64 = 320;

pub fn runtime_overhead(shape: &ModelShape) -> u64 {
    RUNTIME_BASE_BYTES + shape.n_vocab * RUNTIME_PER_VOCAB_BYTES
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn shape(name: &str) -> ModelShape {
        catalog::find(name)
            .map(|e| e.shape())
            .unwrap_or_else(|| panic!("{name}"))
    }

    #[test]
    fn context_is_padded_to_256() {
        let s = shape("qwen2.5-coder-0.5b");
        let kv = kv_cache(&s, &ContextParams::new(1000, 1));
        assert_eq!(kv.n_ctx, 1024);
        assert_eq!(kv.cells, 1024);
        // 4 sequences of 8192/4 = 2048 cells each.
        let kv = kv_cache(&s, &ContextParams::new(8192, 4));
        assert_eq!((kv.n_ctx_seq, kv.cells), (2048, 8192));
        // 3 sequences: 1000/3 = 333 -> 512 per sequence, n_ctx becomes 1536.
        let kv = kv_cache(&s, &ContextParams::new(1000, 3));
        assert_eq!((kv.n_ctx, kv.n_ctx_seq, kv.cells), (1536, 512, 1536));
    }

    #[test]
    fn quantized_cache_types() {
        let s = shape("qwen2.5-coder-7b");
        let mut p = ContextParams::new(4096, 1);
        let f16 = kv_cache(&s, &p).total();
        // 28 layers x 4096 cells x (512 + 512) x 2 bytes = 224 MiB.
        assert_eq!(f16, 28 * 4096 * 1024 * 2);
        p.type_k = CacheType::Q8_0;
        p.type_v = CacheType::Q8_0;
        assert_eq!(kv_cache(&s, &p).total(), f16 / 2 / 32 * 34);
        p.type_k = CacheType::Q4_0;
        p.type_v = CacheType::Q4_0;
        assert_eq!(kv_cache(&s, &p).total(), f16 / 2 / 32 * 18);
    }

    #[test]
    fn swa_layers_keep_a_window() {
        let mut s = shape("qwen2.5-coder-7b");
        s.swa = Some(crate::shape::Swa {
            window: 4096,
            pattern: 2,
        });
        let kv = kv_cache(&s, &ContextParams::new(32768, 1));
        assert_eq!(kv.swa_cells, 4608); // pad(4096 + 512, 256)
        let full = 28 / 2 * 32768 * 1024 * 2;
        let swa = 28 / 2 * 4608 * 1024 * 2;
        assert_eq!(kv.total(), full + swa);
    }
}
