//! The shape of a model: what the memory and speed estimates need, read from a GGUF file or
//! taken from the built-in catalog.
use hearth_gguf::{GgmlType, Gguf};
use serde::Serialize;

use crate::quant::{tensor_bytes, use_more_bits, with_fallback, Quant};
use crate::FitError;

/// Multi-head latent attention (DeepSeek-V2/V3): the cache holds one compressed row per token
/// and layer (`kv_lora_rank + rope_dim` elements for K, no separate V) in current llama.cpp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Mla {
    pub kv_lora_rank: u64,
    pub rope_dim: u64,
}

/// Sliding-window attention: layer `il` is a SWA layer when `il % pattern < pattern - 1`
/// (llama.cpp's `set_swa_pattern`); those layers keep only `window` (+ a ubatch) cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Swa {
    pub window: u64,
    pub pattern: u32,
}

impl Swa {
    pub fn is_swa(&self, il: u32) -> bool {
        self.pattern > 1 && il % self.pattern < self.pattern - 1
    }
}

/// Mixture of experts: speed depends on the active parameters only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Moe {
    pub n_expert: u64,
    pub n_expert_used: u64,
}

/// Everything the estimates need to know about a model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelShape {
    pub name: String,
    pub arch: String,
    pub n_layer: u32,
    pub n_embd: u64,
    pub n_ff: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    pub head_dim_k: u64,
    pub head_dim_v: u64,
    pub n_vocab: u64,
    pub n_ctx_train: u64,
    /// The output matrix is the token embedding matrix (no `output.weight`).
    pub tied_embeddings: bool,
    /// Total parameters (every expert counted).
    pub n_params: u64,
    /// Parameters used per token (equal to `n_params` for dense models).
    pub n_active_params: u64,
    pub swa: Option<Swa>,
    pub mla: Option<Mla>,
    pub moe: Option<Moe>,
}

/// Hard caps so that absurd metadata cannot make the arithmetic overflow.
const MAX_LAYERS: u64 = 4096;
const MAX_DIM: u64 = 1 << 24;

impl ModelShape {
    /// K elements per token and layer (`n_embd_k_gqa`).
    pub fn n_embd_k_gqa(&self) -> u64 {
        match self.mla {
            Some(m) => m.kv_lora_rank + m.rope_dim,
            None => self.n_head_kv * self.head_dim_k,
        }
    }

    /// V elements per token and layer (`n_embd_v_gqa`); 0 with MLA (V is a view of K).
    pub fn n_embd_v_gqa(&self) -> u64 {
        match self.mla {
            Some(_) => 0,
            None => self.n_head_kv * self.head_dim_v,
        }
    }

    /// Read the shape from a parsed GGUF. Fails naming the missing or implausible key.
    pub fn from_gguf(g: &Gguf, name: &str) -> Result<ModelShape, FitError> {
        let md = &g.metadata;
        let hp = md.hparams();
        let arch = hp.architecture.clone().unwrap_or_default();
        let need = |v: Option<u64>, key: &str, cap: u64| -> Result<u64, FitError> {
            match v {
                Some(x) if x > 0 && x <= cap => Ok(x),
                Some(x) => Err(FitError::BadModel {
                    model: name.to_owned(),
                    reason: format!("{arch}.{key} = {x} is out of range (1..={cap})"),
                }),
                None => Err(FitError::BadModel {
                    model: name.to_owned(),
                    reason: format!("missing {arch}.{key}"),
                }),
            }
        };
        let n_layer = need(hp.block_count, "block_count", MAX_LAYERS)?;
        let n_embd = need(hp.embedding_length, "embedding_length", MAX_DIM)?;
        let n_head = need(hp.head_count, "attention.head_count", MAX_DIM)?;
        let n_head_kv = need(hp.head_count_kv, "attention.head_count_kv", MAX_DIM)?;
        let head_dim_k = need(hp.key_length, "attention.key_length", MAX_DIM)?;
        let head_dim_v = need(hp.value_length, "attention.value_length", MAX_DIM)?;
        let n_ff = hp.feed_forward_length.unwrap_or(0).min(MAX_DIM);
        let n_vocab = md
            .tokenizer()
            .vocab_size
            .map(|v| v as u64)
            .or_else(|| {
                g.tensor("token_embd.weight")
                    .and_then(|t| t.dims.get(1).copied())
            })
            .unwrap_or(0)
            .min(MAX_DIM);
        let mla = md
            .arch_key("attention.kv_lora_rank")
            .and_then(|v| v.as_u64())
            .map(|r| Mla {
                kv_lora_rank: r.min(MAX_DIM),
                rope_dim: hp.rope_dimension_count.unwrap_or(64).min(MAX_DIM),
            });
        let moe = match (hp.expert_count, hp.expert_used_count) {
            (Some(n), Some(u)) if n > 1 => Some(Moe {
                n_expert: n,
                n_expert_used: u.min(n),
            }),
            _ => None,
        };
        let swa = hp.sliding_window.and_then(|w| {
            let pattern = md
                .arch_key("attention.sliding_window_pattern")
                .and_then(|v| v.as_u64())
                .map(|p| p.min(u64::from(u32::MAX)) as u32)
                .or(match arch.as_str() {
                    "gemma2" => Some(2),
                    "gemma3" => Some(6),
                    "cohere2" => Some(4),
                    _ => None,
                })?;
            Some(Swa { window: w, pattern })
        });
        let n_params = g.parameter_count();
        let n_active_params = match moe {
            Some(m) => active_params_from_tensors(g, m),
            None => n_params,
        };
        Ok(ModelShape {
            name: name.to_owned(),
            arch,
            n_layer: n_layer as u32,
            n_embd,
            n_ff,
            n_head,
            n_head_kv,
            head_dim_k,
            head_dim_v,
            n_vocab,
            n_ctx_train: hp.context_length.unwrap_or(0),
            tied_embeddings: g.tensor("output.weight").is_none(),
            n_params,
            n_active_params,
            swa,
            mla,
            moe,
        })
    }
}

/// Parameters a token touches in an MoE file: expert tensors (`*_exps`) count
/// `n_expert_used / n_expert` of their size.
fn active_params_from_tensors(g: &Gguf, moe: Moe) -> u64 {
    g.tensors
        .iter()
        .map(|t| {
            if t.name.contains("_exps") && moe.n_expert > 0 {
                t.n_elements / moe.n_expert * moe.n_expert_used
            } else {
                t.n_elements
            }
        })
        .sum()
}

/// Bytes of weights, split the way llama.cpp places them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Weights {
    /// Bytes of each repeating layer (`blk.N.*`).
    pub per_layer: Vec<u64>,
    /// `token_embd.weight`: always on the CPU; with mmap only the rows of used tokens are read,
    /// unless it is tied to the output matrix.
    pub token_embd: u64,
    /// `output.weight` and `output_norm.weight` (the "output layer" of `-ngl`).
    pub output: u64,
    /// Anything else (rope factors, ...).
    pub other: u64,
    /// Whether the figures come from a file's tensor table (exact) or a recipe (estimate).
    pub exact: bool,
    /// Bytes of each layer's weight matrices by type (for CPU repacking).
    #[serde(skip)]
    pub layer_types: Vec<TypeBytes>,
    /// Bytes of the output matrix by type.
    #[serde(skip)]
    pub output_types: TypeBytes,
}

/// Bytes per tensor type (a short list: a layer has at most a handful of types).
pub type TypeBytes = Vec<(GgmlType, u64)>;

fn add_type(tb: &mut TypeBytes, ty: GgmlType, bytes: u64) {
    match tb.iter_mut().find(|(t, _)| *t == ty) {
        Some((_, b)) => *b += bytes,
        None => tb.push((ty, bytes)),
    }
}

impl Weights {
    pub fn total(&self) -> u64 {
        self.per_layer.iter().sum::<u64>() + self.token_embd + self.output + self.other
    }

    /// Exact sizes from a file's tensor table.
    pub fn from_gguf(g: &Gguf, n_layer: u32) -> Weights {
        let mut w = Weights {
            per_layer: vec![0; n_layer as usize],
            token_embd: 0,
            output: 0,
            other: 0,
            exact: true,
            layer_types: vec![Vec::new(); n_layer as usize],
            output_types: Vec::new(),
        };
        for t in &g.tensors {
            let matrix = t.dims.len() >= 2;
            let layer = t
                .name
                .strip_prefix("blk.")
                .and_then(|r| r.split('.').next())
                .and_then(|n| n.parse::<usize>().ok());
            match layer {
                Some(i) if i < w.per_layer.len() => {
                    w.per_layer[i] += t.n_bytes;
                    if matrix {
                        add_type(&mut w.layer_types[i], t.ty, t.n_bytes);
                    }
                }
                _ if t.name == "token_embd.weight" => w.token_embd += t.n_bytes,
                _ if t.name.starts_with("output") => {
                    w.output += t.n_bytes;
                    if matrix {
                        add_type(&mut w.output_types, t.ty, t.n_bytes);
                    }
                }
                _ => w.other += t.n_bytes,
            }
        }
        w
    }

    /// Estimated sizes of a model quantized with `quant`: per tensor for dense llama-like
    /// models (the recipe of llama-quantize, see [`crate::quant`]), from the effective bits per
    /// weight for MoE models.
    pub fn from_recipe(s: &ModelShape, quant: Quant) -> Weights {
        let n_layer = u64::from(s.n_layer);
        let embd_params = s.n_vocab * s.n_embd;
        let out_ty = with_fallback(quant.output_type(), s.n_embd);
        let output_matrix = if s.tied_embeddings {
            0
        } else {
            tensor_bytes(out_ty, s.n_embd, s.n_vocab)
        };
        let output = output_matrix + s.n_embd * 4;
        let output_types = if output_matrix > 0 {
            vec![(out_ty, output_matrix)]
        } else {
            vec![]
        };
        let token_embd = if s.tied_embeddings {
            tensor_bytes(out_ty, s.n_embd, s.n_vocab)
        } else {
            tensor_bytes(
                with_fallback(quant.base_type(), s.n_embd),
                s.n_embd,
                s.n_vocab,
            )
        };
        let layer_types: Vec<TypeBytes> = if s.moe.is_some() || s.mla.is_some() || s.n_ff == 0 {
            let non_layer = embd_params * if s.tied_embeddings { 1 } else { 2 };
            let layer_params = s.n_params.saturating_sub(non_layer) / n_layer.max(1);
            let bytes = (layer_params as f64 * quant.effective_bpw() / 8.0) as u64;
            // The recipe's mix: about 85% of the bytes in the base type (see effective_bpw).
            let more = if quant.more_bits_type() == quant.base_type() {
                0
            } else {
                bytes / 5
            };
            let mut tb = vec![(quant.base_type(), bytes - more)];
            if more > 0 {
                tb.push((quant.more_bits_type(), more));
            }
            vec![tb; s.n_layer as usize]
        } else {
            (0..n_layer)
                .map(|il| dense_layer_types(s, quant, use_more_bits(il, n_layer)))
                .collect()
        };
        let norms = if s.moe.is_some() || s.mla.is_some() || s.n_ff == 0 {
            0
        } else {
            dense_layer_vectors(s)
        };
        Weights {
            per_layer: layer_types
                .iter()
                .map(|tb| tb.iter().map(|(_, b)| b).sum::<u64>() + norms)
                .collect(),
            token_embd,
            output,
            other: 0,
            exact: false,
            layer_types,
            output_types,
        }
    }
}

/// One llama/qwen2-style block's matrices: q, k, v, o, gate, up, down.
fn dense_layer_types(s: &ModelShape, quant: Quant, more_bits: bool) -> TypeBytes {
    let q_dim = s.n_head * s.head_dim_k;
    let kv_dim = s.n_head_kv * s.head_dim_k;
    let v_dim = s.n_head_kv * s.head_dim_v;
    let base = |row_len: u64| with_fallback(quant.base_type(), row_len);
    let v_ty = if more_bits {
        with_fallback(quant.more_bits_type(), s.n_embd)
    } else {
        base(s.n_embd)
    };
    let down_ty = if more_bits {
        with_fallback(quant.more_bits_type(), s.n_ff)
    } else {
        base(s.n_ff)
    };
    let mut tb = TypeBytes::new();
    add_type(
        &mut tb,
        base(s.n_embd),
        tensor_bytes(base(s.n_embd), s.n_embd, q_dim),
    );
    add_type(
        &mut tb,
        base(s.n_embd),
        tensor_bytes(base(s.n_embd), s.n_embd, kv_dim),
    );
    add_type(&mut tb, v_ty, tensor_bytes(v_ty, s.n_embd, v_dim));
    add_type(
        &mut tb,
        base(q_dim),
        tensor_bytes(base(q_dim), q_dim, s.n_embd),
    );
    add_type(
        &mut tb,
        base(s.n_embd),
        2 * tensor_bytes(base(s.n_embd), s.n_embd, s.n_ff),
    );
    add_type(&mut tb, down_ty, tensor_bytes(down_ty, s.n_ff, s.n_embd));
    tb
}

/// F32 vectors of a block: attn_norm, ffn_norm and the q/k/v biases Qwen2 has.
fn dense_layer_vectors(s: &ModelShape) -> u64 {
    let mut b = 2 * s.n_embd * 4;
    if s.arch == "qwen2" {
        b += (s.n_head * s.head_dim_k + s.n_head_kv * (s.head_dim_k + s.head_dim_v)) * 4;
    }
    b
}

/// Parameters of a dense llama-like model from its dimensions (catalog sanity checks).
pub fn dense_param_count(s: &ModelShape) -> u64 {
    let q_dim = s.n_head * s.head_dim_k;
    let kv_dim = s.n_head_kv * s.head_dim_k;
    let v_dim = s.n_head_kv * s.head_dim_v;
    let mut per_layer =
        s.n_embd * (q_dim + kv_dim + v_dim) + q_dim * s.n_embd + 3 * s.n_embd * s.n_ff;
    per_layer += 2 * s.n_embd;
    if s.arch == "qwen2" {
        per_layer += q_dim + kv_dim + v_dim;
    }
    let embd = s.n_vocab * s.n_embd * if s.tied_embeddings { 1 } else { 2 };
    u64::from(s.n_layer) * per_layer + embd + s.n_embd
}
