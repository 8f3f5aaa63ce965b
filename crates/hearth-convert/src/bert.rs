//! BERT (`BertModel`) to llama.cpp's `bert` architecture.
use std::collections::HashMap;
use std::path::Path;

use hearth_gguf::{Array, GgmlType, GgufWriter, Value};
use serde::Deserialize;

use crate::half::{f32_to_f16, quantize_q8_0, Q8_0_BLOCK};
use crate::safetensors::{SafeTensors, TensorEntry};
use crate::vocab::load_wordpiece;
use crate::{read_json, ConvertError, Converted, Options, OutType};

/// The `config.json` fields the conversion needs.
#[derive(Debug, Deserialize)]
struct Config {
    hidden_size: u64,
    intermediate_size: u64,
    num_attention_heads: u64,
    num_hidden_layers: u64,
    layer_norm_eps: f64,
    max_position_embeddings: u64,
    #[serde(default = "one")]
    type_vocab_size: u64,
    vocab_size: u64,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    position_embedding_type: Option<String>,
}

fn one() -> u64 {
    1
}

/// llama.cpp pooling types.
const POOLING_MEAN: u32 = 1;
const POOLING_CLS: u32 = 2;

/// How a mapped tensor is stored.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Storage {
    /// Always F32 (norms, biases, position and token-type tables).
    F32,
    /// The requested weight type.
    Weight,
}

/// GGUF name and storage of a Hugging Face tensor name; `Ok(None)` for tensors the embedding
/// model does not use (pooler, MLM head, `position_ids`).
fn map_name(hf: &str) -> Result<Option<(String, Storage)>, ()> {
    let n = hf.strip_prefix("bert.").unwrap_or(hf);
    if n.starts_with("pooler.")
        || n.starts_with("cls.")
        || n.starts_with("classifier.")
        || n == "embeddings.position_ids"
    {
        return Ok(None);
    }
    // Old checkpoints name LayerNorm parameters gamma/beta.
    let n = n
        .replace("LayerNorm.gamma", "LayerNorm.weight")
        .replace("LayerNorm.beta", "LayerNorm.bias");
    let (stem, kind) = n.rsplit_once('.').ok_or(())?;
    if kind != "weight" && kind != "bias" {
        return Err(());
    }
    let (gguf, storage) = match stem {
        "embeddings.word_embeddings" => ("token_embd".to_owned(), Storage::Weight),
        "embeddings.position_embeddings" => ("position_embd".to_owned(), Storage::F32),
        "embeddings.token_type_embeddings" => ("token_types".to_owned(), Storage::F32),
        "embeddings.LayerNorm" => ("token_embd_norm".to_owned(), Storage::F32),
        _ => {
            let rest = stem.strip_prefix("encoder.layer.").ok_or(())?;
            let (block, part) = rest.split_once('.').ok_or(())?;
            let block: u32 = block.parse().map_err(|_| ())?;
            let (name, storage) = match part {
                "attention.self.query" => ("attn_q", Storage::Weight),
                "attention.self.key" => ("attn_k", Storage::Weight),
                "attention.self.value" => ("attn_v", Storage::Weight),
                "attention.output.dense" => ("attn_output", Storage::Weight),
                "attention.output.LayerNorm" => ("attn_output_norm", Storage::F32),
                "intermediate.dense" => ("ffn_up", Storage::Weight),
                "output.dense" => ("ffn_down", Storage::Weight),
                "output.LayerNorm" => ("layer_output_norm", Storage::F32),
                _ => return Err(()),
            };
            (format!("blk.{block}.{name}"), storage)
        }
    };
    // Biases are vectors: always F32.
    let storage = if kind == "bias" {
        Storage::F32
    } else {
        storage
    };
    Ok(Some((format!("{gguf}.{kind}"), storage)))
}

/// Every tensor llama.cpp's BERT loader needs, with its PyTorch shape, in output order.
fn expected(c: &Config) -> Vec<(String, Vec<u64>)> {
    let (h, ff) = (c.hidden_size, c.intermediate_size);
    let mut v = vec![
        ("token_embd.weight".to_owned(), vec![c.vocab_size, h]),
        ("token_types.weight".to_owned(), vec![c.type_vocab_size, h]),
        (
            "position_embd.weight".to_owned(),
            vec![c.max_position_embeddings, h],
        ),
        ("token_embd_norm.weight".to_owned(), vec![h]),
        ("token_embd_norm.bias".to_owned(), vec![h]),
    ];
    for b in 0..c.num_hidden_layers {
        for (name, shape) in [
            ("attn_q.weight", vec![h, h]),
            ("attn_q.bias", vec![h]),
            ("attn_k.weight", vec![h, h]),
            ("attn_k.bias", vec![h]),
            ("attn_v.weight", vec![h, h]),
            ("attn_v.bias", vec![h]),
            ("attn_output.weight", vec![h, h]),
            ("attn_output.bias", vec![h]),
            ("attn_output_norm.weight", vec![h]),
            ("attn_output_norm.bias", vec![h]),
            ("ffn_up.weight", vec![ff, h]),
            ("ffn_up.bias", vec![ff]),
            ("ffn_down.weight", vec![h, ff]),
            ("ffn_down.bias", vec![h]),
            ("layer_output_norm.weight", vec![h]),
            ("layer_output_norm.bias", vec![h]),
        ] {
            v.push((format!("blk.{b}.{name}"), shape));
        }
    }
    v
}

fn check_config(path: &Path, c: &Config) -> Result<(), ConvertError> {
    let bad = |message: String| ConvertError::Config {
        path: path.to_path_buf(),
        message,
    };
    for (field, v, max) in [
        ("hidden_size", c.hidden_size, 1 << 16),
        ("intermediate_size", c.intermediate_size, 1 << 18),
        ("num_attention_heads", c.num_attention_heads, 1024),
        ("num_hidden_layers", c.num_hidden_layers, 1024),
        (
            "max_position_embeddings",
            c.max_position_embeddings,
            1 << 20,
        ),
        ("type_vocab_size", c.type_vocab_size, 1 << 16),
        ("vocab_size", c.vocab_size, 1 << 22),
    ] {
        if v == 0 || v > max {
            return Err(bad(format!("{field} is {v}, outside 1..={max}")));
        }
    }
    if c.hidden_size % c.num_attention_heads != 0 {
        return Err(bad(format!(
            "hidden_size {} is not a multiple of num_attention_heads {}",
            c.hidden_size, c.num_attention_heads
        )));
    }
    if !(c.layer_norm_eps.is_finite() && c.layer_norm_eps > 0.0) {
        return Err(bad(format!("layer_norm_eps is {}", c.layer_norm_eps)));
    }
    if let Some(act) = c.hidden_act.as_deref().filter(|a| *a != "gelu") {
        return Err(ConvertError::Unsupported {
            path: path.to_path_buf(),
            message: format!("hidden_act {act:?}: llama.cpp's BERT uses gelu"),
        });
    }
    if let Some(p) = c
        .position_embedding_type
        .as_deref()
        .filter(|p| *p != "absolute")
    {
        return Err(ConvertError::Unsupported {
            path: path.to_path_buf(),
            message: format!("position_embedding_type {p:?}: only absolute positions convert"),
        });
    }
    Ok(())
}

/// Pooling from sentence-transformers' `1_Pooling/config.json`; mean when there is none.
fn pooling(dir: &Path) -> Result<u32, ConvertError> {
    let path = dir.join("1_Pooling").join("config.json");
    if !path.is_file() {
        tracing::warn!(dir = %dir.display(), "no 1_Pooling/config.json; using mean pooling");
        return Ok(POOLING_MEAN);
    }
    let j: serde_json::Value = read_json(&path)?;
    let on = |k: &str| j.get(k).and_then(|v| v.as_bool()) == Some(true);
    match (on("pooling_mode_mean_tokens"), on("pooling_mode_cls_token")) {
        (true, false) => Ok(POOLING_MEAN),
        (false, true) => Ok(POOLING_CLS),
        _ => Err(ConvertError::Unsupported {
            path,
            message: "pooling other than mean or CLS alone (max, mean-sqrt-len, combinations) \
                      is not supported by llama.cpp"
                .into(),
        }),
    }
}

pub(crate) fn convert(
    dir: &Path,
    config_json: &serde_json::Value,
    files: &[SafeTensors],
    opts: &Options,
    name: String,
) -> Result<Converted, ConvertError> {
    let config_path = dir.join("config.json");
    let c = Config::deserialize(config_json).map_err(|e| ConvertError::Config {
        path: config_path.clone(),
        message: format!("not a BERT config: {e}"),
    })?;
    check_config(&config_path, &c)?;
    let pooling = pooling(dir)?;
    let vocab = load_wordpiece(dir, c.vocab_size as usize)?;

    // Map every tensor in the files; unknown names are an error, not silently dropped.
    let mut found: HashMap<String, (&SafeTensors, &TensorEntry, Storage)> = HashMap::new();
    for f in files {
        for t in f.tensors() {
            match map_name(&t.name) {
                Ok(Some((gguf, storage))) => {
                    if found.insert(gguf.clone(), (f, t, storage)).is_some() {
                        return Err(ConvertError::Tensor {
                            path: f.path().to_path_buf(),
                            name: t.name.clone(),
                            message: format!("a second tensor maps to {gguf}"),
                        });
                    }
                }
                Ok(None) => {}
                Err(()) => {
                    return Err(ConvertError::Unsupported {
                        path: f.path().to_path_buf(),
                        message: format!(
                            "tensor {} is not part of a BERT encoder (a different architecture?)",
                            t.name
                        ),
                    })
                }
            }
        }
    }

    let ftype = opts.out_type.file_type();
    let mut w = GgufWriter::new()
        .kv("general.architecture", Value::String("bert".into()))
        .kv("general.name", Value::String(name.clone()))
        .kv("general.file_type", Value::U32(ftype));
    if opts.out_type == OutType::Q8_0 {
        w = w.kv("general.quantization_version", Value::U32(2));
    }
    let u32v = |v: u64| Value::U32(u32::try_from(v).unwrap_or(u32::MAX));
    w = w
        .kv("bert.context_length", u32v(c.max_position_embeddings))
        .kv("bert.embedding_length", u32v(c.hidden_size))
        .kv("bert.feed_forward_length", u32v(c.intermediate_size))
        .kv("bert.block_count", u32v(c.num_hidden_layers))
        .kv("bert.attention.head_count", u32v(c.num_attention_heads))
        .kv(
            "bert.attention.layer_norm_epsilon",
            Value::F32(c.layer_norm_eps as f32),
        )
        .kv("bert.attention.causal", Value::Bool(false))
        .kv("bert.pooling_type", Value::U32(pooling))
        .kv("tokenizer.ggml.model", Value::String("bert".into()))
        .kv("tokenizer.ggml.pre", Value::String("default".into()))
        .kv("tokenizer.ggml.token_type_count", u32v(c.type_vocab_size))
        .kv(
            "tokenizer.ggml.tokens",
            Value::Array(Array::String(vocab.tokens)),
        )
        .kv(
            "tokenizer.ggml.token_type",
            Value::Array(Array::I32(vocab.types)),
        );
    for (key, id) in [
        ("bos_token_id", vocab.cls),
        ("eos_token_id", vocab.sep),
        ("unknown_token_id", vocab.unk),
        ("seperator_token_id", vocab.sep),
        ("padding_token_id", vocab.pad),
        ("cls_token_id", vocab.cls),
        ("mask_token_id", vocab.mask),
    ] {
        if let Some(id) = id {
            w = w.kv(format!("tokenizer.ggml.{key}"), Value::U32(id));
        }
    }
    w = w
        .kv("tokenizer.ggml.add_bos_token", Value::Bool(true))
        .kv("tokenizer.ggml.add_sep_token", Value::Bool(true))
        .kv("tokenizer.ggml.add_eos_token", Value::Bool(false))
        .kv(
            "tokenizer.ggml.normalizer.lowercase",
            Value::Bool(vocab.lowercase),
        )
        .kv(
            "tokenizer.ggml.normalizer.strip_accents",
            Value::Bool(vocab.strip_accents.unwrap_or(vocab.lowercase)),
        );

    let mut n_params = 0u64;
    let want = expected(&c);
    for (gguf, shape) in &want {
        let (file, t, storage) = found
            .remove(gguf)
            .ok_or_else(|| ConvertError::Unsupported {
                path: files
                    .first()
                    .map_or_else(|| dir.to_path_buf(), |f| f.path().to_path_buf()),
                message: format!("the checkpoint has no tensor for {gguf}"),
            })?;
        if &t.shape != shape {
            return Err(ConvertError::Tensor {
                path: file.path().to_path_buf(),
                name: t.name.clone(),
                message: format!(
                    "shape {:?}, but config.json implies {shape:?} (for {gguf})",
                    t.shape
                ),
            });
        }
        let values = file.to_f32(t)?;
        n_params += t.n_elements();
        let row = shape.last().copied().unwrap_or(1) as usize;
        let ty = match (storage, opts.out_type) {
            (Storage::F32, _) | (_, OutType::F32) => GgmlType::F32,
            (Storage::Weight, OutType::F16) => GgmlType::F16,
            // Rows that are not whole blocks cannot be Q8_0; llama.cpp falls back to F16 too.
            (Storage::Weight, OutType::Q8_0) if row % Q8_0_BLOCK != 0 => GgmlType::F16,
            (Storage::Weight, OutType::Q8_0) => GgmlType::Q8_0,
        };
        let mut data = Vec::with_capacity(values.len() * 4);
        match ty {
            GgmlType::F16 => values
                .iter()
                .for_each(|v| data.extend_from_slice(&f32_to_f16(*v).to_le_bytes())),
            GgmlType::Q8_0 => quantize_q8_0(&values, &mut data),
            _ => values
                .iter()
                .for_each(|v| data.extend_from_slice(&v.to_le_bytes())),
        }
        // GGUF lists dimensions innermost first: PyTorch's shape reversed.
        let dims: Vec<u64> = shape.iter().rev().copied().collect();
        w = w.raw_tensor(hearth_gguf::writer::TensorSpec {
            name: gguf.clone(),
            dims,
            type_id: ty.id(),
            offset: None,
            data,
        });
    }
    if let Some(extra) = found.keys().min() {
        return Err(ConvertError::Unsupported {
            path: dir.to_path_buf(),
            message: format!("tensor {extra} is beyond what config.json describes"),
        });
    }
    Ok(Converted {
        writer: w,
        architecture: "bert",
        name,
        n_params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_llama_cpp() {
        let m = |s| map_name(s).unwrap().map(|(n, _)| n);
        assert_eq!(
            m("embeddings.word_embeddings.weight").unwrap(),
            "token_embd.weight"
        );
        assert_eq!(
            m("bert.embeddings.LayerNorm.gamma").unwrap(),
            "token_embd_norm.weight"
        );
        assert_eq!(
            m("encoder.layer.5.attention.output.LayerNorm.bias").unwrap(),
            "blk.5.attn_output_norm.bias"
        );
        assert_eq!(
            m("encoder.layer.0.output.dense.weight").unwrap(),
            "blk.0.ffn_down.weight"
        );
        assert_eq!(m("pooler.dense.weight"), None);
        assert_eq!(m("embeddings.position_ids"), None);
        assert!(map_name("encoder.layer.x.output.dense.weight").is_err());
        assert!(map_name("lm_head.weight").is_err());
        assert!(map_name("encoder.layer.0.attention.self.rotary.weight").is_err());
        assert!(
            map_name("encoder.layer.0.output.dense.bias")
                .unwrap()
                .unwrap()
                .1
                == Storage::F32
        );
    }
}
