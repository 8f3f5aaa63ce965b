//! Metadata values and typed accessors.

use std::collections::HashMap;

use serde::Serialize;

/// Value type ids as written in GGUF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ValueType {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
}

impl ValueType {
    pub fn from_id(id: u32) -> Option<ValueType> {
        use ValueType::*;
        Some(match id {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            _ => return None,
        })
    }

    /// Smallest encoding of one value of this type, used to bound claimed counts.
    pub fn min_size(self) -> u64 {
        use ValueType::*;
        match self {
            U8 | I8 | Bool => 1,
            U16 | I16 => 2,
            U32 | I32 | F32 => 4,
            U64 | I64 | F64 => 8,
            String => 8,
            Array => 12,
        }
    }

    pub fn name(self) -> &'static str {
        use ValueType::*;
        match self {
            U8 => "u8",
            I8 => "i8",
            U16 => "u16",
            I16 => "i16",
            U32 => "u32",
            I32 => "i32",
            F32 => "f32",
            Bool => "bool",
            String => "string",
            Array => "array",
            U64 => "u64",
            I64 => "i64",
            F64 => "f64",
        }
    }
}

/// One metadata value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Array),
    U64(u64),
    I64(i64),
    F64(f64),
}

/// A homogeneous array, stored as a typed vector (no per-element enum overhead).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Array {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    Bool(Vec<bool>),
    String(Vec<String>),
    Array(Vec<Array>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F64(Vec<f64>),
}

impl Value {
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::U8(_) => ValueType::U8,
            Value::I8(_) => ValueType::I8,
            Value::U16(_) => ValueType::U16,
            Value::I16(_) => ValueType::I16,
            Value::U32(_) => ValueType::U32,
            Value::I32(_) => ValueType::I32,
            Value::F32(_) => ValueType::F32,
            Value::Bool(_) => ValueType::Bool,
            Value::String(_) => ValueType::String,
            Value::Array(_) => ValueType::Array,
            Value::U64(_) => ValueType::U64,
            Value::I64(_) => ValueType::I64,
            Value::F64(_) => ValueType::F64,
        }
    }

    /// Any integer type that holds a non-negative value, widened to u64.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any integer type, widened to i64 (u64 above i64::MAX gives None).
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::U64(v) => i64::try_from(v).ok(),
            Value::I64(v) => Some(v),
            _ => self.as_u64().map(|v| v as i64).or(match *self {
                Value::I8(v) => Some(v.into()),
                Value::I16(v) => Some(v.into()),
                Value::I32(v) => Some(v.into()),
                _ => None,
            }),
        }
    }

    /// F32 or F64 (integers are accepted too: some converters write `rope.freq_base` as an int).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&Array> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

impl Array {
    pub fn len(&self) -> usize {
        match self {
            Array::U8(v) => v.len(),
            Array::I8(v) => v.len(),
            Array::U16(v) => v.len(),
            Array::I16(v) => v.len(),
            Array::U32(v) => v.len(),
            Array::I32(v) => v.len(),
            Array::F32(v) => v.len(),
            Array::Bool(v) => v.len(),
            Array::String(v) => v.len(),
            Array::Array(v) => v.len(),
            Array::U64(v) => v.len(),
            Array::I64(v) => v.len(),
            Array::F64(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn elem_type(&self) -> ValueType {
        match self {
            Array::U8(_) => ValueType::U8,
            Array::I8(_) => ValueType::I8,
            Array::U16(_) => ValueType::U16,
            Array::I16(_) => ValueType::I16,
            Array::U32(_) => ValueType::U32,
            Array::I32(_) => ValueType::I32,
            Array::F32(_) => ValueType::F32,
            Array::Bool(_) => ValueType::Bool,
            Array::String(_) => ValueType::String,
            Array::Array(_) => ValueType::Array,
            Array::U64(_) => ValueType::U64,
            Array::I64(_) => ValueType::I64,
            Array::F64(_) => ValueType::F64,
        }
    }

    pub fn as_strings(&self) -> Option<&[String]> {
        match self {
            Array::String(v) => Some(v),
            _ => None,
        }
    }

    /// Integer elements widened to u64 (None if any is negative or the array is not integers).
    pub fn to_u64s(&self) -> Option<Vec<u64>> {
        fn conv<T: Copy>(v: &[T], f: impl Fn(T) -> Option<u64>) -> Option<Vec<u64>> {
            v.iter().map(|&x| f(x)).collect()
        }
        match self {
            Array::U8(v) => conv(v, |x| Some(x.into())),
            Array::U16(v) => conv(v, |x| Some(x.into())),
            Array::U32(v) => conv(v, |x| Some(x.into())),
            Array::U64(v) => conv(v, Some),
            Array::I8(v) => conv(v, |x| u64::try_from(x).ok()),
            Array::I16(v) => conv(v, |x| u64::try_from(x).ok()),
            Array::I32(v) => conv(v, |x| u64::try_from(x).ok()),
            Array::I64(v) => conv(v, |x| u64::try_from(x).ok()),
            _ => None,
        }
    }

    pub fn as_i32s(&self) -> Option<&[i32]> {
        match self {
            Array::I32(v) => Some(v),
            _ => None,
        }
    }
}

/// Metadata in file order with a key index.
#[derive(Debug, Clone, Default)]
pub struct Metadata {
    entries: Vec<(String, Value)>,
    index: HashMap<String, usize>,
}

impl Metadata {
    pub fn new() -> Self {
        Self::default()
    }

    /// Insert a key; returns false (and changes nothing) if the key is already present.
    pub fn insert(&mut self, key: String, value: Value) -> bool {
        if self.index.contains_key(&key) {
            return false;
        }
        self.index.insert(key.clone(), self.entries.len());
        self.entries.push((key, value));
        true
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.index
            .get(key)
            .and_then(|&i| self.entries.get(i))
            .map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    pub fn get_u64(&self, key: &str) -> Option<u64> {
        self.get(key).and_then(Value::as_u64)
    }

    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }

    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key).and_then(Value::as_bool)
    }

    pub fn get_array(&self, key: &str) -> Option<&Array> {
        self.get(key).and_then(Value::as_array)
    }

    /// `general.architecture` (`qwen2`, `llama`, ...).
    pub fn architecture(&self) -> Option<&str> {
        self.get_str("general.architecture")
    }

    /// llama.cpp's `{arch}.pooling_type` when it pools a sequence into one vector (1 mean,
    /// 2 CLS, 3 last token): what marks an embedding model. `None` without one, and for
    /// none (0) or rank (4, rerankers).
    pub fn embedding_pooling(&self) -> Option<u64> {
        self.arch_key("pooling_type")
            .and_then(Value::as_u64)
            .filter(|p| (1..=3).contains(p))
    }

    /// An architecture-scoped key: `arch_key("block_count")` reads `{arch}.block_count`.
    pub fn arch_key(&self, suffix: &str) -> Option<&Value> {
        let arch = self.architecture()?;
        self.get(&format!("{arch}.{suffix}"))
    }

    /// A per-model integer that some architectures store per layer as an array: the maximum.
    fn arch_u64_or_max(&self, suffix: &str) -> Option<u64> {
        match self.arch_key(suffix)? {
            Value::Array(a) => a.to_u64s()?.into_iter().max(),
            v => v.as_u64(),
        }
    }

    /// Architecture hyper-parameters.
    pub fn hparams(&self) -> HParams {
        let head_count = self.arch_u64_or_max("attention.head_count");
        let embedding_length = self.arch_key("embedding_length").and_then(Value::as_u64);
        let key_length = self
            .arch_key("attention.key_length")
            .and_then(Value::as_u64)
            .or_else(|| match (embedding_length, head_count) {
                (Some(e), Some(h)) if h > 0 => Some(e / h),
                _ => None,
            });
        let value_length = self
            .arch_key("attention.value_length")
            .and_then(Value::as_u64)
            .or(key_length);
        HParams {
            architecture: self.architecture().map(str::to_owned),
            block_count: self.arch_key("block_count").and_then(Value::as_u64),
            context_length: self.arch_key("context_length").and_then(Value::as_u64),
            embedding_length,
            feed_forward_length: self.arch_u64_or_max("feed_forward_length"),
            head_count,
            head_count_kv: self
                .arch_u64_or_max("attention.head_count_kv")
                .or(head_count),
            key_length,
            value_length,
            rope_freq_base: self.arch_key("rope.freq_base").and_then(Value::as_f64),
            rope_dimension_count: self
                .arch_key("rope.dimension_count")
                .and_then(Value::as_u64),
            layer_norm_rms_epsilon: self
                .arch_key("attention.layer_norm_rms_epsilon")
                .and_then(Value::as_f64),
            expert_count: self.arch_key("expert_count").and_then(Value::as_u64),
            expert_used_count: self.arch_key("expert_used_count").and_then(Value::as_u64),
            sliding_window: self
                .arch_key("attention.sliding_window")
                .and_then(Value::as_u64),
            file_type: self.get_u64("general.file_type"),
        }
    }

    /// Tokenizer metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`).
    pub fn tokenizer(&self) -> TokenizerInfo {
        let id = |k: &str| self.get_u64(&format!("tokenizer.ggml.{k}"));
        TokenizerInfo {
            model: self.get_str("tokenizer.ggml.model").map(str::to_owned),
            pre: self.get_str("tokenizer.ggml.pre").map(str::to_owned),
            vocab_size: self.get_array("tokenizer.ggml.tokens").map(Array::len),
            merges: self.get_array("tokenizer.ggml.merges").map(Array::len),
            bos_token_id: id("bos_token_id"),
            eos_token_id: id("eos_token_id"),
            eot_token_id: id("eot_token_id"),
            padding_token_id: id("padding_token_id"),
            unknown_token_id: id("unknown_token_id"),
            add_bos_token: self.get_bool("tokenizer.ggml.add_bos_token"),
            add_eos_token: self.get_bool("tokenizer.ggml.add_eos_token"),
            chat_template: self.get_str("tokenizer.chat_template").map(str::to_owned),
        }
    }

    /// Every `tokenizer.chat_template*` key with its text (the default one and named variants).
    pub fn chat_templates(&self) -> Vec<(&str, &str)> {
        self.iter()
            .filter(|(k, _)| k.starts_with("tokenizer.chat_template"))
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s)))
            .collect()
    }

    /// The vocabulary pieces, if present.
    pub fn tokens(&self) -> Option<&[String]> {
        self.get_array("tokenizer.ggml.tokens")
            .and_then(Array::as_strings)
    }
}

/// Architecture hyper-parameters read from `{arch}.*` keys. Missing keys are `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HParams {
    pub architecture: Option<String>,
    pub block_count: Option<u64>,
    pub context_length: Option<u64>,
    pub embedding_length: Option<u64>,
    pub feed_forward_length: Option<u64>,
    pub head_count: Option<u64>,
    /// Defaults to `head_count` when absent, as in llama.cpp.
    pub head_count_kv: Option<u64>,
    /// Per-head key width; defaults to `embedding_length / head_count`.
    pub key_length: Option<u64>,
    /// Per-head value width; defaults to `key_length`.
    pub value_length: Option<u64>,
    pub rope_freq_base: Option<f64>,
    pub rope_dimension_count: Option<u64>,
    pub layer_norm_rms_epsilon: Option<f64>,
    pub expert_count: Option<u64>,
    pub expert_used_count: Option<u64>,
    pub sliding_window: Option<u64>,
    pub file_type: Option<u64>,
}

/// Tokenizer metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenizerInfo {
    /// `gpt2` (byte-level BPE), `llama` (SentencePiece), `bert`, `t5`, `rwkv`, ...
    pub model: Option<String>,
    /// Pre-tokenizer name (`qwen2`, `smollm`, ...).
    pub pre: Option<String>,
    pub vocab_size: Option<usize>,
    pub merges: Option<usize>,
    pub bos_token_id: Option<u64>,
    pub eos_token_id: Option<u64>,
    pub eot_token_id: Option<u64>,
    pub padding_token_id: Option<u64>,
    pub unknown_token_id: Option<u64>,
    pub add_bos_token: Option<bool>,
    pub add_eos_token: Option<bool>,
    pub chat_template: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use crate::writer::tiny_llama;
    use crate::Value;

    #[test]
    fn embedding_pooling_is_mean_cls_or_last() {
        let pooling = |v: Option<u32>| {
            let mut w = tiny_llama();
            if let Some(v) = v {
                w = w.kv("llama.pooling_type", Value::U32(v));
            }
            crate::parse(&w.to_bytes())
                .unwrap()
                .metadata
                .embedding_pooling()
        };
        assert_eq!(pooling(None), None);
        assert_eq!(pooling(Some(0)), None);
        assert_eq!(pooling(Some(1)), Some(1));
        assert_eq!(pooling(Some(3)), Some(3));
        assert_eq!(pooling(Some(4)), None, "rank pooling is a reranker");
    }
}
