//! Built-in catalog of coding models and hardware presets.
//!
//! Model dimensions are the `config.json` values of each model on Hugging Face (cited per
//! entry). Parameter counts of dense models are computed from the dimensions
//! ([`crate::shape::dense_param_count`]) and checked against the published sizes in tests.
use serde::Serialize;

use crate::shape::{dense_param_count, Mla, ModelShape, Moe};

/// One catalog model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CatalogModel {
    /// Short name used on the command line (`qwen2.5-coder-7b`).
    pub name: &'static str,
    /// Hugging Face repository the dimensions come from.
    pub hf: &'static str,
    pub arch: &'static str,
    pub n_layer: u32,
    pub n_embd: u64,
    pub n_ff: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    pub head_dim: u64,
    pub n_vocab: u64,
    pub n_ctx_train: u64,
    pub tied: bool,
    /// Published total/active parameters for MoE models (dense: computed).
    pub moe_params: Option<(u64, u64)>,
    pub moe: Option<Moe>,
    pub mla: Option<Mla>,
}

impl CatalogModel {
    pub fn shape(&self) -> ModelShape {
        let mut s = ModelShape {
            name: self.name.to_owned(),
            arch: self.arch.to_owned(),
            n_layer: self.n_layer,
            n_embd: self.n_embd,
            n_ff: self.n_ff,
            n_head: self.n_head,
            n_head_kv: self.n_head_kv,
            head_dim_k: self.head_dim,
            head_dim_v: self.head_dim,
            n_vocab: self.n_vocab,
            n_ctx_train: self.n_ctx_train,
            tied_embeddings: self.tied,
            n_params: 0,
            n_active_params: 0,
            swa: None,
            mla: self.mla,
            moe: self.moe,
        };
        let (total, active) = self.moe_params.unwrap_or_else(|| {
            let n = dense_param_count(&s);
            (n, n)
        });
        s.n_params = total;
        s.n_active_params = active;
        s
    }
}

const fn qwen(
    name: &'static str,
    hf: &'static str,
    dims: (u32, u64, u64, u64, u64),
    vocab: u64,
    ctx: u64,
    tied: bool,
) -> CatalogModel {
    let (n_layer, n_embd, n_ff, n_head, n_head_kv) = dims;
    CatalogModel {
        name,
        hf,
        arch: "qwen2",
        n_layer,
        n_embd,
        n_ff,
        n_head,
        n_head_kv,
        head_dim: n_embd / n_head,
        n_vocab: vocab,
        n_ctx_train: ctx,
        tied,
        moe_params: None,
        moe: None,
        mla: None,
    }
}

/// The catalog. Dimensions: (layers, hidden, intermediate, heads, KV heads).
pub const MODELS: &[CatalogModel] = &[
    // https://huggingface.co/Qwen/Qwen2.5-Coder-0.5B-Instruct/blob/main/config.json
    qwen(
        "qwen2.5-coder-0.5b",
        "Qwen/Qwen2.5-Coder-0.5B-Instruct",
        (24, 896, 4864, 14, 2),
        151936,
        32768,
        true,
    ),
    // https://huggingface.co/Qwen/Qwen2.5-Coder-1.5B-Instruct/blob/main/config.json
    qwen(
        "qwen2.5-coder-1.5b",
        "Qwen/Qwen2.5-Coder-1.5B-Instruct",
        (28, 1536, 8960, 12, 2),
        151936,
        32768,
        true,
    ),
    // https://huggingface.co/Qwen/Qwen2.5-Coder-3B-Instruct/blob/main/config.json
    qwen(
        "qwen2.5-coder-3b",
        "Qwen/Qwen2.5-Coder-3B-Instruct",
        (36, 2048, 11008, 16, 2),
        151936,
        32768,
        true,
    ),
    // https://huggingface.co/Qwen/Qwen2.5-Coder-7B-Instruct/blob/main/config.json
    qwen(
        "qwen2.5-coder-7b",
        "Qwen/Qwen2.5-Coder-7B-Instruct",
        (28, 3584, 18944, 28, 4),
        152064,
        32768,
        false,
    ),
    // https://huggingface.co/Qwen/Qwen2.5-Coder-14B-Instruct/blob/main/config.json
    qwen(
        "qwen2.5-coder-14b",
        "Qwen/Qwen2.5-Coder-14B-Instruct",
        (48, 5120, 13824, 40, 8),
        152064,
        32768,
        false,
    ),
    // https://huggingface.co/Qwen/Qwen2.5-Coder-32B-Instruct/blob/main/config.json
    qwen(
        "qwen2.5-coder-32b",
        "Qwen/Qwen2.5-Coder-32B-Instruct",
        (64, 5120, 27648, 40, 8),
        152064,
        32768,
        false,
    ),
    // https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-32B/blob/main/config.json
    // (Qwen2.5-32B dimensions, max_position_embeddings 131072)
    qwen(
        "deepseek-r1-distill-qwen-32b",
        "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B",
        (64, 5120, 27648, 40, 8),
        152064,
        131072,
        false,
    ),
    // https://huggingface.co/mistralai/Codestral-22B-v0.1 (config.json: hidden 6144, 56 layers,
    // 48 heads, 8 KV heads, head_dim 128, intermediate 16384, vocab 32768, 32k context)
    CatalogModel {
        name: "codestral-22b",
        hf: "mistralai/Codestral-22B-v0.1",
        arch: "llama",
        n_layer: 56,
        n_embd: 6144,
        n_ff: 16384,
        n_head: 48,
        n_head_kv: 8,
        head_dim: 128,
        n_vocab: 32768,
        n_ctx_train: 32768,
        tied: false,
        moe_params: None,
        moe: None,
        mla: None,
    },
    // https://huggingface.co/deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct/blob/main/config.json:
    // hidden 2048, 27 layers, 16 heads, kv_lora_rank 512, qk_rope_head_dim 64,
    // qk_nope_head_dim 128, v_head_dim 128, 64 routed experts (6 per token) + 2 shared,
    // moe_intermediate_size 1408, first dense layer intermediate 10944, vocab 102400,
    // max_position_embeddings 163840. 15.7B total / 2.4B active parameters (model card).
    // llama.cpp caches the MLA latent (512 + 64 per token and layer, no V).
    CatalogModel {
        name: "deepseek-coder-v2-lite",
        hf: "deepseek-ai/DeepSeek-Coder-V2-Lite-Instruct",
        arch: "deepseek2",
        n_layer: 27,
        n_embd: 2048,
        n_ff: 10944,
        n_head: 16,
        n_head_kv: 1,
        head_dim: 192,
        n_vocab: 102400,
        n_ctx_train: 163840,
        tied: false,
        moe_params: Some((15_706_484_224, 2_400_000_000)),
        moe: Some(Moe {
            n_expert: 64,
            n_expert_used: 6,
        }),
        mla: Some(Mla {
            kv_lora_rank: 512,
            rope_dim: 64,
        }),
    },
    // https://huggingface.co/meta-llama/Llama-3.1-70B-Instruct/blob/main/config.json:
    // hidden 8192, 80 layers, 64 heads, 8 KV heads, intermediate 28672, vocab 128256, 128k ctx.
    CatalogModel {
        name: "llama-3.1-70b",
        hf: "meta-llama/Llama-3.1-70B-Instruct",
        arch: "llama",
        n_layer: 80,
        n_embd: 8192,
        n_ff: 28672,
        n_head: 64,
        n_head_kv: 8,
        head_dim: 128,
        n_vocab: 128256,
        n_ctx_train: 131072,
        tied: false,
        moe_params: None,
        moe: None,
        mla: None,
    },
];

/// Look a catalog model up by name (case-insensitive; `qwen2.5-coder:7b` and a trailing
/// `-instruct` are accepted too).
pub fn find(name: &str) -> Option<&'static CatalogModel> {
    let n = name.trim().to_ascii_lowercase().replace(':', "-");
    let n = n.strip_suffix("-instruct").unwrap_or(&n);
    MODELS.iter().find(|m| m.name == n)
}

/// A hardware preset for `hearth fit --gpu NAME`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GpuPreset {
    pub name: &'static str,
    pub label: &'static str,
    /// Device memory in GiB (for Apple: the whole unified memory).
    pub mem_gib: u64,
    /// Memory bandwidth, GB/s (vendor figure).
    pub bandwidth_gbs: f64,
    /// Dense FP16 tensor throughput, TFLOPS (vendor figure, without sparsity).
    pub fp16_tflops: f64,
    /// Apple silicon: CPU and GPU share `mem_gib`.
    pub unified: bool,
}

const fn gpu(
    name: &'static str,
    label: &'static str,
    mem_gib: u64,
    bw: f64,
    tflops: f64,
) -> GpuPreset {
    GpuPreset {
        name,
        label,
        mem_gib,
        bandwidth_gbs: bw,
        fp16_tflops: tflops,
        unified: false,
    }
}

const fn apple(
    name: &'static str,
    label: &'static str,
    mem_gib: u64,
    bw: f64,
    tflops: f64,
) -> GpuPreset {
    GpuPreset {
        name,
        label,
        mem_gib,
        bandwidth_gbs: bw,
        fp16_tflops: tflops,
        unified: true,
    }
}

/// GPU and Apple presets (vendor specifications).
pub const GPUS: &[GpuPreset] = &[
    gpu(
        "rtx3060-12g",
        "NVIDIA GeForce RTX 3060 12GB",
        12,
        360.0,
        51.0,
    ),
    gpu("rtx3070-8g", "NVIDIA GeForce RTX 3070 8GB", 8, 448.0, 81.0),
    gpu(
        "rtx3080-10g",
        "NVIDIA GeForce RTX 3080 10GB",
        10,
        760.0,
        119.0,
    ),
    gpu("rtx3090", "NVIDIA GeForce RTX 3090 24GB", 24, 936.0, 142.0),
    gpu("rtx4060-8g", "NVIDIA GeForce RTX 4060 8GB", 8, 272.0, 60.0),
    gpu(
        "rtx4060ti-16g",
        "NVIDIA GeForce RTX 4060 Ti 16GB",
        16,
        288.0,
        88.0,
    ),
    gpu(
        "rtx4070-12g",
        "NVIDIA GeForce RTX 4070 12GB",
        12,
        504.0,
        117.0,
    ),
    gpu(
        "rtx4080-16g",
        "NVIDIA GeForce RTX 4080 16GB",
        16,
        717.0,
        195.0,
    ),
    gpu("rtx4090", "NVIDIA GeForce RTX 4090 24GB", 24, 1008.0, 330.0),
    gpu("rtx5090", "NVIDIA GeForce RTX 5090 32GB", 32, 1792.0, 419.0),
    gpu("l4", "NVIDIA L4 24GB", 24, 300.0, 121.0),
    gpu("a10g", "NVIDIA A10G 24GB", 24, 600.0, 125.0),
    gpu("a100-40g", "NVIDIA A100 40GB", 40, 1555.0, 312.0),
    gpu("a100-80g", "NVIDIA A100 80GB", 80, 2039.0, 312.0),
    gpu("h100", "NVIDIA H100 80GB (SXM)", 80, 3350.0, 989.0),
    gpu("h200", "NVIDIA H200 141GB", 141, 4800.0, 989.0),
    apple("m1-16g", "Apple M1 16GB", 16, 68.0, 5.2),
    apple("m2-16g", "Apple M2 16GB", 16, 100.0, 7.1),
    apple("m2-pro-32g", "Apple M2 Pro 32GB", 32, 200.0, 13.6),
    apple("m2-ultra-192g", "Apple M2 Ultra 192GB", 192, 800.0, 54.4),
    apple("m3-16g", "Apple M3 16GB", 16, 100.0, 7.1),
    apple("m3-max-64g", "Apple M3 Max 64GB", 64, 400.0, 28.4),
    apple("m4-pro-48g", "Apple M4 Pro 48GB", 48, 273.0, 17.0),
    apple("m4-max-128g", "Apple M4 Max 128GB", 128, 546.0, 34.0),
];

pub fn find_gpu(name: &str) -> Option<&'static GpuPreset> {
    let n = name.trim().to_ascii_lowercase();
    GPUS.iter().find(|g| g.name == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(name: &str) -> f64 {
        find(name)
            .map(|m| m.shape().n_params as f64 / 1e9)
            .unwrap_or(0.0)
    }

    #[test]
    fn parameter_counts_match_published_sizes() {
        // Published: 0.49B, 1.54B, 3.09B, 7.61B, 14.7B, 32.5B (Qwen2.5-Coder model cards),
        // Codestral 22.2B, Llama 3.1 70.6B.
        for (name, published) in [
            ("qwen2.5-coder-0.5b", 0.494),
            ("qwen2.5-coder-1.5b", 1.54),
            ("qwen2.5-coder-3b", 3.09),
            ("qwen2.5-coder-7b", 7.61),
            ("qwen2.5-coder-14b", 14.7),
            ("qwen2.5-coder-32b", 32.5),
            ("codestral-22b", 22.2),
            ("llama-3.1-70b", 70.6),
        ] {
            let p = params(name);
            assert!(
                (p / published - 1.0).abs() < 0.02,
                "{name}: {p} vs {published}"
            );
        }
    }

    #[test]
    fn lookup_accepts_common_spellings() {
        assert!(find("Qwen2.5-Coder-7B-Instruct").is_some());
        assert!(find("qwen2.5-coder:7b").is_some());
        assert!(find("nope").is_none());
        assert!(find_gpu("RTX4090").is_some());
    }
}
