//! A human- and machine-readable summary of a validated model.

use serde::Serialize;

use crate::reader::Gguf;
use crate::types::file_type_name;

/// What `hearth inspect` prints.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub gguf_version: u32,
    pub architecture: Option<String>,
    pub name: Option<String>,
    pub parameters: u64,
    /// `494.03M`, `1.54B`: Ollama's `parameter_size` style.
    pub parameter_size: String,
    /// The recipe from `general.file_type` (`Q4_K_M`), when present.
    pub file_type: Option<String>,
    pub file_size: u64,
    pub tensor_count: usize,
    pub tensor_bytes: u64,
    pub metadata_count: usize,
    pub quantization: Vec<QuantShare>,
    pub context_length: Option<u64>,
    pub block_count: Option<u64>,
    pub embedding_length: Option<u64>,
    pub head_count: Option<u64>,
    pub head_count_kv: Option<u64>,
    pub tokenizer_model: Option<String>,
    pub tokenizer_pre: Option<String>,
    pub vocab_size: Option<usize>,
    pub chat_template: bool,
    pub trailing_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct QuantShare {
    #[serde(rename = "type")]
    pub ty: String,
    pub tensors: u64,
    pub bytes: u64,
    pub bits_per_weight: f64,
}

/// Format a parameter count the way Ollama does (`494.03M`, `7.62B`).
pub(crate) fn parameter_size(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2}B", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.2}K", n / 1e3)
    } else {
        format!("{n}")
    }
}

impl Summary {
    pub fn of(g: &Gguf) -> Summary {
        let md = &g.metadata;
        let hp = md.hparams();
        let tok = md.tokenizer();
        let parameters = g.parameter_count();
        Summary {
            gguf_version: g.version,
            architecture: hp.architecture,
            name: md.get_str("general.name").map(str::to_owned),
            parameters,
            parameter_size: parameter_size(parameters),
            file_type: hp
                .file_type
                .and_then(|f| u32::try_from(f).ok())
                .and_then(file_type_name)
                .map(str::to_owned),
            file_size: g.file_size,
            tensor_count: g.tensors.len(),
            tensor_bytes: g.tensor_bytes(),
            metadata_count: md.len(),
            quantization: g
                .type_mix()
                .into_iter()
                .map(|s| QuantShare {
                    ty: s.ty.name().to_owned(),
                    tensors: s.tensors,
                    bytes: s.bytes,
                    bits_per_weight: if s.elements == 0 {
                        0.0
                    } else {
                        s.bytes as f64 * 8.0 / s.elements as f64
                    },
                })
                .collect(),
            context_length: hp.context_length,
            block_count: hp.block_count,
            embedding_length: hp.embedding_length,
            head_count: hp.head_count,
            head_count_kv: hp.head_count_kv,
            tokenizer_model: tok.model,
            tokenizer_pre: tok.pre,
            vocab_size: tok.vocab_size,
            chat_template: tok.chat_template.is_some(),
            trailing_bytes: g.trailing_bytes(),
        }
    }
}
