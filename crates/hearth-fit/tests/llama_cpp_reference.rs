//! The estimates against what llama.cpp itself reports for the real test models.
//!
//! Reference figures: llama.cpp 0.5.0-dev as vendored by llama-cpp-python 0.3.36 (CPU build,
//! GGML_NATIVE, AMD EPYC with AVX-512), `verbose=True`, n_batch = n_ubatch = 512, one
//! sequence, F16 cache, run by `scripts/fit-vs-measured` on 2026-11-25. Its log lines:
//! `llama_kv_cache: CPU KV buffer size = X MiB`, `sched_reserve: CPU compute buffer size = X MiB`,
//! `load_tensors: CPU_REPACK model buffer size = X MiB`. The KV sizes are also what the
//! formula in llama.cpp's source gives (src/llama-context.cpp pads n_ctx to 256;
//! src/llama-kv-cache.cpp allocates [n_embd_k_gqa, kv_size, n_stream] per layer), in both that
//! version and llama.cpp 0.6.0 of llama-cpp-sys-2 0.1.161 that hearth-engine builds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_fit::estimate::{compute_buffers, kv_cache, ContextParams, Repack};
use hearth_fit::{plan, ModelSpec};
use hearth_gguf::testing::{test_model, TestModel};
use hearth_gguf::GgufFile;

const MIB: f64 = 1024.0 * 1024.0;

fn spec(m: TestModel) -> Option<ModelSpec> {
    let path = test_model(m)?;
    let f = GgufFile::open(&path).unwrap();
    Some(ModelSpec::from_gguf(&f, m.file_name()).unwrap())
}

/// (model, n_ctx, KV MiB as printed by llama.cpp).
const KV: &[(TestModel, u32, f64)] = &[
    (TestModel::Qwen05, 2048, 24.00),
    (TestModel::Qwen05, 8192, 96.00),
    (TestModel::Qwen05, 32768, 384.00),
    (TestModel::Qwen15, 2048, 56.00),
    (TestModel::Qwen15, 8192, 224.00),
    (TestModel::Qwen15, 32768, 896.00),
    (TestModel::SmolLm2, 2048, 45.00),
    (TestModel::SmolLm2, 8192, 180.00),
    (TestModel::SmolLm2, 32768, 720.00),
];

#[test]
fn kv_cache_equals_llama_cpp_kv_buffer_size() {
    for &(m, n_ctx, mib) in KV {
        let Some(s) = spec(m) else { return };
        let kv = kv_cache(&s.shape, &ContextParams::new(n_ctx, 1));
        // llama.cpp prints two decimals: the byte count must be exactly mib * 2^20.
        assert_eq!(kv.total(), (mib * MIB) as u64, "{m:?} at {n_ctx}");
        assert_eq!(kv.k_bytes, kv.v_bytes);
    }
}

#[test]
fn kv_cache_exact_bytes_and_padding() {
    let Some(s) = spec(TestModel::Qwen05) else {
        return;
    };
    // 24 layers x (2 heads x 64) x 2 (K and V) x 2 bytes = 12,288 bytes per cell.
    let per_cell = 24 * 128 * 2 * 2;
    for (asked, cells) in [(2048, 2048), (2000, 2048), (2049, 2304), (100, 256)] {
        let kv = kv_cache(&s.shape, &ContextParams::new(asked, 1));
        assert_eq!(kv.cells, cells, "n_ctx {asked}");
        assert_eq!(kv.total(), cells * per_cell);
    }
    // Four slots of 8192/4 cells.
    let kv = kv_cache(&s.shape, &ContextParams::new(8192, 4));
    assert_eq!((kv.n_ctx_seq, kv.cells), (2048, 8192));
}

/// (model, n_ctx, flash attention, compute buffer MiB as printed by llama.cpp).
const COMPUTE: &[(TestModel, u32, bool, f64)] = &[
    (TestModel::Qwen05, 2048, false, 300.25),
    (TestModel::Qwen05, 8192, false, 302.00),
    (TestModel::Qwen05, 32768, false, 969.26),
    (TestModel::Qwen05, 2048, true, 300.25),
    (TestModel::Qwen05, 32768, true, 300.25),
    (TestModel::Qwen15, 2048, false, 302.75),
    (TestModel::Qwen15, 8192, false, 305.75),
    (TestModel::Qwen15, 32768, false, 848.01),
    (TestModel::Qwen15, 32768, true, 302.75),
    (TestModel::SmolLm2, 2048, false, 99.38),
    (TestModel::SmolLm2, 8192, false, 166.38),
    (TestModel::SmolLm2, 2048, true, 102.51),
    (TestModel::SmolLm2, 8192, true, 98.25),
];

#[test]
fn compute_buffer_matches_llama_cpp_within_4_percent() {
    for &(m, n_ctx, fa, mib) in COMPUTE {
        let Some(s) = spec(m) else { return };
        let mut p = ContextParams::new(n_ctx, 1);
        p.flash_attn = fa;
        let kv = kv_cache(&s.shape, &p);
        let c = compute_buffers(&s.shape, &p, &kv).compute as f64 / MIB;
        assert!(
            (c / mib - 1.0).abs() < 0.04,
            "{m:?} ctx {n_ctx} fa {fa}: {c:.2} vs {mib}"
        );
    }
}

#[test]
fn repack_matches_llama_cpp_cpu_repack_buffer() {
    // CPU_REPACK model buffer: 28.05 MiB (0.5B: only its 12 Q4_K ffn_down tensors),
    // 596.53 MiB (1.5B: every Q4_K matrix except token_embd), none for SmolLM2 (Q4_1).
    for (m, mib) in [
        (TestModel::Qwen05, 28.05),
        (TestModel::Qwen15, 596.53),
        (TestModel::SmolLm2, 0.0),
    ] {
        let Some(s) = spec(m) else { return };
        let mut p = ContextParams::new(2048, 1);
        p.repack = Repack::X86Avx512;
        let e = plan::estimate(&s, &p, 0, false);
        assert!(
            (e.repack_cpu as f64 / MIB - mib).abs() < 0.01,
            "{m:?}: {}",
            e.repack_cpu as f64 / MIB
        );
    }
}

#[test]
fn weights_from_file_are_the_tensor_bytes() {
    for m in TestModel::ALL {
        let Some(path) = test_model(m) else { return };
        let f = GgufFile::open(&path).unwrap();
        let s = ModelSpec::from_gguf(&f, m.file_name()).unwrap();
        assert_eq!(s.weights.total(), f.tensor_bytes(), "{m:?}");
        assert!(s.weights.exact);
    }
}

#[test]
fn recipe_estimate_reproduces_the_real_q4_k_m_files() {
    // The 1.5B file is a standard Q4_K_M (with an explicit output.weight, so "untied"); the
    // 0.5B one exercises the fallback for 896-wide rows. The recipe must land within 2% of
    // the real tensor bytes.
    for m in [TestModel::Qwen15, TestModel::Qwen05] {
        let Some(real) = spec(m) else { return };
        let est = real.with_quant(hearth_fit::Quant::Q4_K_M);
        let (a, b) = (est.weights.total() as f64, real.weights.total() as f64);
        assert!((a / b - 1.0).abs() < 0.02, "{m:?}: recipe {a} vs file {b}");
    }
}

#[test]
fn layer_bpw_matches_real_file() {
    // Quant::Q4_K_M.effective_bpw() (4.81) is the 1.5B file's bits per weight over its blocks.
    let Some(path) = test_model(TestModel::Qwen15) else {
        return;
    };
    let f = GgufFile::open(&path).unwrap();
    let (mut bytes, mut n) = (0u64, 0u64);
    for t in f
        .tensors
        .iter()
        .filter(|t| t.name.starts_with("blk.") && t.dims.len() >= 2)
    {
        bytes += t.n_bytes;
        n += t.n_elements;
    }
    let bpw = bytes as f64 * 8.0 / n as f64;
    assert!(
        (bpw - hearth_fit::Quant::Q4_K_M.effective_bpw()).abs() < 0.02,
        "{bpw}"
    );
}
