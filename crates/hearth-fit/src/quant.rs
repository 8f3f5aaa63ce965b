//! Quantization recipes (what `llama-quantize` does per tensor) and KV cache element types.
//!
//! The recipe rules follow `llama_tensor_get_type` in llama.cpp's `src/llama-quant.cpp`
//! (llama.cpp 0.5.0-dev as vendored by llama-cpp-python 0.3.36): for Q4_K_M and Q5_K_M the
//! `attn_v` and `ffn_down` tensors of "more bits" layers get Q6_K, the output matrix gets
//! Q6_K, everything else the base type; a tensor whose row length is not a multiple of the
//! 256-element K-quant block falls back to a 32-element type (Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0).
use hearth_gguf::GgmlType;
use serde::{Deserialize, Serialize};

/// A whole-model quantization recipe offered in the catalog.
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Quant {
    Q4_K_M,
    Q5_K_M,
    Q8_0,
    F16,
}

impl Quant {
    /// Every recipe, smallest first.
    pub const ALL: [Quant; 4] = [Quant::Q4_K_M, Quant::Q5_K_M, Quant::Q8_0, Quant::F16];

    pub fn name(self) -> &'static str {
        match self {
            Quant::Q4_K_M => "Q4_K_M",
            Quant::Q5_K_M => "Q5_K_M",
            Quant::Q8_0 => "Q8_0",
            Quant::F16 => "F16",
        }
    }

    /// Parse a recipe name, case-insensitively (`q4_k_m`, `Q8_0`, `f16`).
    pub fn parse(s: &str) -> Option<Quant> {
        Quant::ALL
            .into_iter()
            .find(|q| q.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The recipe of a GGUF `general.file_type` value, when it is one of ours.
    pub fn from_file_type(ft: u64) -> Option<Quant> {
        match ft {
            1 => Some(Quant::F16),
            7 => Some(Quant::Q8_0),
            15 => Some(Quant::Q4_K_M),
            17 => Some(Quant::Q5_K_M),
            _ => None,
        }
    }

    /// The type of most weight matrices.
    pub fn base_type(self) -> GgmlType {
        match self {
            Quant::Q4_K_M => GgmlType::Q4_K,
            Quant::Q5_K_M => GgmlType::Q5_K,
            Quant::Q8_0 => GgmlType::Q8_0,
            Quant::F16 => GgmlType::F16,
        }
    }

    /// The type of `attn_v`/`ffn_down` in the layers [`use_more_bits`] selects.
    pub fn more_bits_type(self) -> GgmlType {
        match self {
            Quant::Q4_K_M | Quant::Q5_K_M => GgmlType::Q6_K,
            q => q.base_type(),
        }
    }

    /// The type of the output (lm-head) matrix, and of `token_embd` when it is tied to it.
    pub fn output_type(self) -> GgmlType {
        match self {
            Quant::Q4_K_M | Quant::Q5_K_M => GgmlType::Q6_K,
            q => q.base_type(),
        }
    }

    /// Effective bits per weight of the repeating layers of a dense transformer, used when
    /// only a parameter count is known (MoE models, unknown architectures).
    ///
    /// Derived from the real Qwen2.5-Coder-1.5B Q4_K_M file (a standard llama.cpp Q4_K_M): the
    /// weight matrices of its 28 blocks average 4.81 bits per weight — the `attn_v` and
    /// `ffn_down` tensors of half the layers are Q6_K (6.5625 bpw), the rest Q4_K (4.5 bpw),
    /// so about 15% of the weights carry the extra bits. The `layer_bpw_matches_real_file`
    /// test recomputes it from the file. Q5_K_M is the same mix over Q5_K (5.5 bpw): 5.66.
    /// Q8_0 and F16 are uniform (8.5 and 16). With embeddings and the Q6_K output matrix a
    /// whole 7B Q4_K_M file comes to about 4.9 bpw. The 0.5B file is not representative: its
    /// 896-wide rows are not a multiple of 256, so llama.cpp fell back to Q5_0/Q8_0 (6.16 bpw
    /// over the whole file).
    pub fn effective_bpw(self) -> f64 {
        match self {
            Quant::Q4_K_M => 4.81,
            Quant::Q5_K_M => 5.66,
            Quant::Q8_0 => 8.5,
            Quant::F16 => 16.0,
        }
    }
}

impl Quant {
    /// Perplexity increase over F16, as a fraction: llama.cpp's own measurement on
    /// Llama-3-8B without an importance matrix (tools/perplexity/README.md of the vendored
    /// llama.cpp: ΔPPL 0.0027, 0.0570 and 0.1755 on a PPL of 6.2332). Smaller models lose
    /// somewhat more; the order and the rough size hold.
    pub fn ppl_increase(self) -> f64 {
        match self {
            Quant::F16 => 0.0,
            Quant::Q8_0 => 0.0004,
            Quant::Q5_K_M => 0.0091,
            Quant::Q4_K_M => 0.0282,
        }
    }
}

/// Quantizations within this perplexity increase of F16 count as close in quality: between
/// them the faster one is the better pick (llama.cpp's README calls Q4_K_M its recommended
/// balance).
pub const CLOSE_QUALITY: f64 = 0.03;

impl std::fmt::Display for Quant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// llama.cpp's `use_more_bits(i_layer, n_layers)`: the first and last eighth of the layers and
/// every third layer in between.
pub fn use_more_bits(i_layer: u64, n_layers: u64) -> bool {
    let eighth = n_layers / 8;
    i_layer < eighth || i_layer >= 7 * n_layers / 8 || (i_layer - eighth) % 3 == 2
}

/// The type llama-quantize really writes for a wanted type and a row length: K-quants need
/// rows that are a multiple of 256 elements, otherwise a 32-element type takes their place.
pub fn with_fallback(wanted: GgmlType, row_len: u64) -> GgmlType {
    if wanted.block_size() == 0 || row_len % wanted.block_size() == 0 {
        return wanted;
    }
    match wanted {
        GgmlType::Q2_K | GgmlType::Q3_K => GgmlType::Q4_0,
        GgmlType::Q4_K => GgmlType::Q5_0,
        GgmlType::Q5_K => GgmlType::Q5_1,
        GgmlType::Q6_K => GgmlType::Q8_0,
        _ => GgmlType::F16,
    }
}

/// Bytes of a 2-D tensor of `rows` rows of `row_len` elements (ggml_row_size × rows).
/// Saturates instead of overflowing (inputs come from files).
pub fn tensor_bytes(ty: GgmlType, row_len: u64, rows: u64) -> u64 {
    let blocks = row_len.div_ceil(ty.block_size().max(1));
    blocks.saturating_mul(ty.type_size()).saturating_mul(rows)
}

/// Element type of the K or V cache (`--cache-type-k/-v`).
#[allow(non_camel_case_types, clippy::upper_case_acronyms)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum CacheType {
    F32,
    #[default]
    F16,
    BF16,
    Q8_0,
    Q5_1,
    Q5_0,
    Q4_1,
    Q4_0,
    IQ4_NL,
}

impl CacheType {
    pub fn ggml(self) -> GgmlType {
        match self {
            CacheType::F32 => GgmlType::F32,
            CacheType::F16 => GgmlType::F16,
            CacheType::BF16 => GgmlType::BF16,
            CacheType::Q8_0 => GgmlType::Q8_0,
            CacheType::Q5_1 => GgmlType::Q5_1,
            CacheType::Q5_0 => GgmlType::Q5_0,
            CacheType::Q4_1 => GgmlType::Q4_1,
            CacheType::Q4_0 => GgmlType::Q4_0,
            CacheType::IQ4_NL => GgmlType::IQ4_NL,
        }
    }

    pub fn parse(s: &str) -> Option<CacheType> {
        let all = [
            CacheType::F32,
            CacheType::F16,
            CacheType::BF16,
            CacheType::Q8_0,
            CacheType::Q5_1,
            CacheType::Q5_0,
            CacheType::Q4_1,
            CacheType::Q4_0,
            CacheType::IQ4_NL,
        ];
        all.into_iter()
            .find(|c| c.ggml().name().eq_ignore_ascii_case(s.trim()))
    }

    /// Bytes of one cache row of `n` elements (`ggml_row_size`).
    pub fn row_bytes(self, n: u64) -> u64 {
        tensor_bytes(self.ggml(), n, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_bits_layers_match_the_real_1_5b_file() {
        // Qwen2.5-Coder-1.5B Q4_K_M has 28 layers and 29 Q6_K tensors: 14 attn_v + 14 ffn_down
        // in the "more bits" layers, plus output.weight.
        let n = (0..28).filter(|&i| use_more_bits(i, 28)).count();
        assert_eq!(n, 14);
        assert!(use_more_bits(0, 28) && use_more_bits(27, 28) && !use_more_bits(3, 28));
    }

    #[test]
    fn fallback_for_rows_not_multiple_of_256() {
        assert_eq!(with_fallback(GgmlType::Q4_K, 896), GgmlType::Q5_0);
        assert_eq!(with_fallback(GgmlType::Q6_K, 896), GgmlType::Q8_0);
        assert_eq!(with_fallback(GgmlType::Q4_K, 4864), GgmlType::Q4_K);
        assert_eq!(with_fallback(GgmlType::Q8_0, 896), GgmlType::Q8_0);
    }

    #[test]
    fn cache_row_sizes() {
        assert_eq!(CacheType::F16.row_bytes(128), 256);
        assert_eq!(CacheType::Q8_0.row_bytes(128), 136); // 34/32 bytes per element
        assert_eq!(CacheType::Q4_0.row_bytes(128), 72); // 18/32
        assert_eq!(CacheType::parse("q8_0"), Some(CacheType::Q8_0));
        assert_eq!(Quant::parse("q4_k_m"), Some(Quant::Q4_K_M));
    }
}
