//! A GGUF writer: builds tiny synthetic models for tests, and (through the raw encoders)
//! hostile files that the reader must reject.

use crate::metadata::{Array, Value};
use crate::reader::{align_up, DEFAULT_ALIGNMENT, MAGIC};
use crate::types::GgmlType;

/// A tensor to write. `offset: None` lays it out after the previous one, aligned.
#[derive(Debug, Clone)]
pub struct TensorSpec {
    pub name: String,
    pub dims: Vec<u64>,
    /// Raw type id, so tests can write unknown ones.
    pub type_id: u32,
    pub offset: Option<u64>,
    pub data: Vec<u8>,
}

/// Builds a GGUF file in memory.
#[derive(Debug, Clone)]
pub struct GgufWriter {
    pub version: u32,
    pub alignment: u64,
    pub metadata: Vec<(String, Value)>,
    pub tensors: Vec<TensorSpec>,
}

impl Default for GgufWriter {
    fn default() -> Self {
        GgufWriter {
            version: 3,
            alignment: DEFAULT_ALIGNMENT,
            metadata: Vec::new(),
            tensors: Vec::new(),
        }
    }
}

impl GgufWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a metadata entry (duplicates are written as given).
    pub fn kv(mut self, key: impl Into<String>, value: Value) -> Self {
        let key = key.into();
        if key == "general.alignment" {
            if let Some(a) = value.as_u64() {
                self.alignment = a;
            }
        }
        self.metadata.push((key, value));
        self
    }

    /// Add a tensor with its data, placed after the previous tensor. The data is zero-filled
    /// or truncated to the size the type and dims imply.
    pub fn tensor(mut self, name: impl Into<String>, dims: &[u64], ty: GgmlType) -> Self {
        let n: u64 = dims.iter().product();
        let bytes = n / ty.block_size() * ty.type_size();
        self.tensors.push(TensorSpec {
            name: name.into(),
            dims: dims.to_vec(),
            type_id: ty.id(),
            offset: None,
            data: vec![0u8; bytes as usize],
        });
        self
    }

    /// Add a tensor spec as given (raw type id, explicit offset, any data).
    pub fn raw_tensor(mut self, spec: TensorSpec) -> Self {
        self.tensors.push(spec);
        self
    }

    /// Serialize. Tensors without an explicit offset are packed in order, each aligned.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        put_u32(&mut out, self.version);
        put_u64(&mut out, self.tensors.len() as u64);
        put_u64(&mut out, self.metadata.len() as u64);
        for (k, v) in &self.metadata {
            put_str(&mut out, k);
            put_u32(&mut out, v.value_type() as u32);
            put_value(&mut out, v);
        }
        let align = self.alignment.max(1);
        let mut next = 0u64;
        let mut placed = Vec::with_capacity(self.tensors.len());
        for t in &self.tensors {
            let off = t
                .offset
                .unwrap_or_else(|| align_up(next, align).unwrap_or(next));
            next = next.max(off.saturating_add(t.data.len() as u64));
            placed.push(off);
            put_str(&mut out, &t.name);
            put_u32(&mut out, t.dims.len() as u32);
            for &d in &t.dims {
                put_u64(&mut out, d);
            }
            put_u32(&mut out, t.type_id);
            put_u64(&mut out, off);
        }
        if !self.tensors.is_empty() {
            let start = align_up(out.len() as u64, align).unwrap_or(out.len() as u64) as usize;
            out.resize(start, 0);
            for (t, &off) in self.tensors.iter().zip(&placed) {
                // Hostile test files may claim offsets far past anything writable: no data then.
                if off > 1 << 32 || t.data.is_empty() {
                    continue;
                }
                let at = start + off as usize;
                if out.len() < at + t.data.len() {
                    out.resize(at + t.data.len(), 0);
                }
                out[at..at + t.data.len()].copy_from_slice(&t.data);
            }
            let end = align_up(out.len() as u64, align).unwrap_or(out.len() as u64) as usize;
            out.resize(end, 0);
        }
        out
    }
}

impl GgufWriter {
    /// Stream the file to `out` without building it in memory first: the same bytes as
    /// [`GgufWriter::to_bytes`] for tensors packed in order. Explicit offsets (hostile test
    /// files) are an `InvalidInput` error.
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        if self.tensors.iter().any(|t| t.offset.is_some()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "write_to lays tensors out in order; explicit offsets need to_bytes",
            ));
        }
        let align = self.alignment.max(1);
        let mut head = Vec::new();
        head.extend_from_slice(&MAGIC);
        put_u32(&mut head, self.version);
        put_u64(&mut head, self.tensors.len() as u64);
        put_u64(&mut head, self.metadata.len() as u64);
        for (k, v) in &self.metadata {
            put_str(&mut head, k);
            put_u32(&mut head, v.value_type() as u32);
            put_value(&mut head, v);
        }
        let mut next = 0u64;
        for t in &self.tensors {
            let off = align_up(next, align).unwrap_or(next);
            next = off + t.data.len() as u64;
            put_str(&mut head, &t.name);
            put_u32(&mut head, t.dims.len() as u32);
            for &d in &t.dims {
                put_u64(&mut head, d);
            }
            put_u32(&mut head, t.type_id);
            put_u64(&mut head, off);
        }
        out.write_all(&head)?;
        if self.tensors.is_empty() {
            return Ok(());
        }
        let pad = |n: u64| align_up(n, align).unwrap_or(n) - n;
        let zeros = |out: &mut dyn std::io::Write, mut n: u64| -> std::io::Result<()> {
            const Z: [u8; 256] = [0; 256];
            while n > 0 {
                let k = n.min(Z.len() as u64);
                out.write_all(&Z[..k as usize])?;
                n -= k;
            }
            Ok(())
        };
        zeros(out, pad(head.len() as u64))?;
        let mut pos = 0u64;
        for t in &self.tensors {
            let p = pad(pos);
            zeros(out, p)?;
            out.write_all(&t.data)?;
            pos += p + t.data.len() as u64;
        }
        zeros(out, pad(pos))
    }
}

pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u64(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Encode a value's payload (without its type id).
pub fn put_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.push(*x as u8),
        Value::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::U32(x) => put_u32(out, *x),
        Value::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => put_str(out, s),
        Value::Array(a) => put_array(out, a),
        Value::U64(x) => put_u64(out, *x),
        Value::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Value::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
}

/// Encode an array payload: element type, count, elements.
pub fn put_array(out: &mut Vec<u8>, a: &Array) {
    put_u32(out, a.elem_type() as u32);
    put_u64(out, a.len() as u64);
    match a {
        Array::U8(v) => out.extend_from_slice(v),
        Array::I8(v) => v.iter().for_each(|x| out.push(*x as u8)),
        Array::U16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::I16(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::U32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::I32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::Bool(v) => v.iter().for_each(|x| out.push(u8::from(*x))),
        Array::String(v) => v.iter().for_each(|s| put_str(out, s)),
        Array::Array(v) => v.iter().for_each(|a| put_array(out, a)),
        Array::U64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        Array::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
}

/// A tiny but complete llama-architecture model (2 blocks, 8-wide), for tests across crates.
pub fn tiny_llama() -> GgufWriter {
    let mut w = GgufWriter::new()
        .kv("general.architecture", Value::String("llama".into()))
        .kv("general.name", Value::String("tiny".into()))
        .kv("general.file_type", Value::U32(0))
        .kv("llama.block_count", Value::U32(2))
        .kv("llama.context_length", Value::U32(128))
        .kv("llama.embedding_length", Value::U32(8))
        .kv("llama.feed_forward_length", Value::U32(16))
        .kv("llama.attention.head_count", Value::U32(2))
        .kv("llama.attention.head_count_kv", Value::U32(1))
        .kv("llama.rope.freq_base", Value::F32(10000.0))
        .kv("llama.attention.layer_norm_rms_epsilon", Value::F32(1e-5))
        .kv("tokenizer.ggml.model", Value::String("llama".into()))
        .kv(
            "tokenizer.ggml.tokens",
            Value::Array(Array::String(vec![
                "<unk>".into(),
                "<s>".into(),
                "</s>".into(),
                "a".into(),
            ])),
        )
        .kv(
            "tokenizer.ggml.token_type",
            Value::Array(Array::I32(vec![2, 3, 3, 1])),
        )
        .kv("tokenizer.ggml.bos_token_id", Value::U32(1))
        .kv("tokenizer.ggml.eos_token_id", Value::U32(2))
        .kv(
            "tokenizer.chat_template",
            Value::String("{% for m in messages %}{{ m.content }}{% endfor %}".into()),
        )
        .tensor("token_embd.weight", &[8, 4], GgmlType::F32);
    for b in 0..2 {
        for (n, dims) in [
            ("attn_norm.weight", vec![8]),
            ("attn_q.weight", vec![8, 8]),
            ("attn_k.weight", vec![8, 4]),
            ("attn_v.weight", vec![8, 4]),
            ("attn_output.weight", vec![8, 8]),
            ("ffn_norm.weight", vec![8]),
            ("ffn_gate.weight", vec![8, 16]),
            ("ffn_up.weight", vec![8, 16]),
            ("ffn_down.weight", vec![16, 8]),
        ] {
            w = w.tensor(format!("blk.{b}.{n}"), &dims, GgmlType::F32);
        }
    }
    w.tensor("output_norm.weight", &[8], GgmlType::F32)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn streaming_matches_in_memory() {
        let w = super::tiny_llama();
        let mut streamed = Vec::new();
        w.write_to(&mut streamed).unwrap();
        assert_eq!(streamed, w.to_bytes());
        let empty = super::GgufWriter::new();
        let mut e = Vec::new();
        empty.write_to(&mut e).unwrap();
        assert_eq!(e, empty.to_bytes());
    }
}
