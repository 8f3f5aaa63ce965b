//! Converting checkpoint folders: a synthetic tiny BERT (always), and the real
//! all-MiniLM-L6-v2, whose output must match the sha256 pinned for the test model.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use std::path::Path;

use hearth_convert::{convert_dir, Options, OutType};
use hearth_gguf::testing::{minilm_source_dir, test_model, TestModel};
use hearth_gguf::{GgmlType, Gguf};
use sha2::Digest;

const H: u64 = 32;
const FF: u64 = 64;
const VOCAB: u64 = 12;
const POS: u64 = 16;

/// Tensors of a one-layer BERT (hidden 32) in Hugging Face's names, with deterministic data.
fn tiny_tensors() -> Vec<(String, Vec<u64>)> {
    let mut t = vec![
        (
            "embeddings.word_embeddings.weight".to_owned(),
            vec![VOCAB, H],
        ),
        (
            "embeddings.position_embeddings.weight".to_owned(),
            vec![POS, H],
        ),
        (
            "embeddings.token_type_embeddings.weight".to_owned(),
            vec![2, H],
        ),
        ("embeddings.LayerNorm.weight".to_owned(), vec![H]),
        ("embeddings.LayerNorm.bias".to_owned(), vec![H]),
        ("pooler.dense.weight".to_owned(), vec![H, H]),
    ];
    for (n, s) in [
        ("attention.self.query.weight", vec![H, H]),
        ("attention.self.query.bias", vec![H]),
        ("attention.self.key.weight", vec![H, H]),
        ("attention.self.key.bias", vec![H]),
        ("attention.self.value.weight", vec![H, H]),
        ("attention.self.value.bias", vec![H]),
        ("attention.output.dense.weight", vec![H, H]),
        ("attention.output.dense.bias", vec![H]),
        ("attention.output.LayerNorm.weight", vec![H]),
        ("attention.output.LayerNorm.bias", vec![H]),
        ("intermediate.dense.weight", vec![FF, H]),
        ("intermediate.dense.bias", vec![FF]),
        ("output.dense.weight", vec![H, FF]),
        ("output.dense.bias", vec![H]),
        ("output.LayerNorm.weight", vec![H]),
        ("output.LayerNorm.bias", vec![H]),
    ] {
        t.push((format!("encoder.layer.0.{n}"), s));
    }
    t
}

fn write_safetensors(path: &Path, tensors: &[(String, Vec<u64>)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (i, (name, shape)) in tensors.iter().enumerate() {
        let n: u64 = shape.iter().product();
        let begin = data.len();
        for j in 0..n {
            let v = ((i as f32 + 1.0) * 0.01) * ((j % 7) as f32 - 3.0);
            data.extend_from_slice(&v.to_le_bytes());
        }
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [begin, data.len()]}),
        );
    }
    let header = serde_json::to_vec(&header).unwrap();
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}

fn tiny_dir(tensors: &[(String, Vec<u64>)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "model_type": "bert", "architectures": ["BertModel"], "hidden_size": H,
        "intermediate_size": FF, "num_attention_heads": 4, "num_hidden_layers": 1,
        "layer_norm_eps": 1e-12, "max_position_embeddings": POS, "type_vocab_size": 2,
        "vocab_size": VOCAB, "hidden_act": "gelu", "position_embedding_type": "absolute"
    });
    std::fs::write(d.path().join("config.json"), config.to_string()).unwrap();
    std::fs::write(
        d.path().join("vocab.txt"),
        "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\n",
    )
    .unwrap();
    std::fs::create_dir(d.path().join("1_Pooling")).unwrap();
    std::fs::write(
        d.path().join("1_Pooling/config.json"),
        r#"{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}"#,
    )
    .unwrap();
    write_safetensors(&d.path().join("model.safetensors"), tensors);
    d
}

fn convert_to_gguf(dir: &Path, out_type: OutType) -> Gguf {
    let c = convert_dir(
        dir,
        &Options {
            out_type,
            name: Some("tiny".into()),
        },
    )
    .unwrap();
    let out = dir.join("out.gguf");
    c.write(&out).unwrap();
    hearth_gguf::parse(&std::fs::read(&out).unwrap()).unwrap()
}

#[test]
fn tiny_bert_in_every_type() {
    let d = tiny_dir(&tiny_tensors());
    for (ty, weight) in [
        (OutType::F32, GgmlType::F32),
        (OutType::F16, GgmlType::F16),
        (OutType::Q8_0, GgmlType::Q8_0),
    ] {
        let g = convert_to_gguf(d.path(), ty);
        let m = &g.metadata;
        assert_eq!(m.architecture(), Some("bert"));
        assert_eq!(m.get_u64("bert.pooling_type"), Some(2));
        assert_eq!(m.get_bool("bert.attention.causal"), Some(false));
        assert_eq!(m.get_u64("bert.block_count"), Some(1));
        assert_eq!(m.get_u64("tokenizer.ggml.cls_token_id"), Some(2));
        assert_eq!(m.get_u64("tokenizer.ggml.seperator_token_id"), Some(3));
        let tokens = m
            .get_array("tokenizer.ggml.tokens")
            .unwrap()
            .as_strings()
            .unwrap();
        assert_eq!(tokens.len(), VOCAB as usize);
        assert_eq!(tokens[5], "\u{2581}hello");
        assert_eq!(tokens[7], "s");
        assert_eq!(tokens[11], "[PAD11]");
        // Pooler dropped; 5 embedding tensors + 16 per layer.
        assert_eq!(g.tensors.len(), 21);
        let t = |n: &str| g.tensor(n).unwrap_or_else(|| panic!("{n}"));
        assert_eq!(t("token_embd.weight").dims, vec![H, VOCAB]);
        assert_eq!(t("blk.0.ffn_up.weight").dims, vec![H, FF]);
        assert_eq!(t("blk.0.ffn_down.weight").dims, vec![FF, H]);
        assert_eq!(t("token_embd.weight").ty, weight);
        assert_eq!(t("blk.0.attn_q.weight").ty, weight);
        for keep_f32 in [
            "position_embd.weight",
            "token_types.weight",
            "blk.0.attn_q.bias",
        ] {
            assert_eq!(t(keep_f32).ty, GgmlType::F32, "{keep_f32}");
        }
    }
}

#[test]
fn same_input_same_bytes() {
    let d = tiny_dir(&tiny_tensors());
    let bytes = |ty| {
        let c = convert_dir(
            d.path(),
            &Options {
                out_type: ty,
                name: Some("t".into()),
            },
        )
        .unwrap();
        let mut v = Vec::new();
        c.writer.write_to(&mut v).unwrap();
        v
    };
    assert_eq!(bytes(OutType::Q8_0), bytes(OutType::Q8_0));
}

#[test]
fn refuses_broken_checkpoints() {
    let err = |tensors: Vec<(String, Vec<u64>)>| {
        let d = tiny_dir(&tensors);
        convert_dir(d.path(), &Options::default())
            .unwrap_err()
            .to_string()
    };
    let mut missing = tiny_tensors();
    missing.retain(|(n, _)| n != "encoder.layer.0.output.dense.bias");
    assert!(err(missing).contains("no tensor for blk.0.ffn_down.bias"));
    let mut wrong = tiny_tensors();
    wrong[0].1 = vec![VOCAB, H + 1];
    assert!(err(wrong).contains("config.json implies"));
    let mut unknown = tiny_tensors();
    unknown.push((
        "encoder.layer.0.attention.self.rotary_emb.inv_freq".into(),
        vec![4],
    ));
    assert!(err(unknown).contains("not part of a BERT encoder"));
    let mut extra_layer = tiny_tensors();
    extra_layer.push(("encoder.layer.1.output.dense.bias".into(), vec![H]));
    assert!(err(extra_layer).contains("beyond what config.json describes"));

    let d = tiny_dir(&tiny_tensors());
    std::fs::write(
        d.path().join("config.json"),
        r#"{"model_type": "llama", "hidden_size": 8}"#,
    )
    .unwrap();
    assert!(convert_dir(d.path(), &Options::default())
        .unwrap_err()
        .to_string()
        .contains("\"llama\" cannot be converted"));

    let pickle = tiny_dir(&tiny_tensors());
    std::fs::remove_file(pickle.path().join("model.safetensors")).unwrap();
    std::fs::write(pickle.path().join("pytorch_model.bin"), b"PK").unwrap();
    assert!(convert_dir(pickle.path(), &Options::default())
        .unwrap_err()
        .to_string()
        .contains("safetensors only"));

    let shards = tiny_dir(&tiny_tensors());
    std::fs::remove_file(shards.path().join("model.safetensors")).unwrap();
    std::fs::write(
        shards.path().join("model.safetensors.index.json"),
        r#"{"weight_map": {"a": "../../etc/passwd"}}"#,
    )
    .unwrap();
    assert!(convert_dir(shards.path(), &Options::default())
        .unwrap_err()
        .to_string()
        .contains("not a plain file name"));
}

#[test]
fn sharded_checkpoint() {
    let tensors = tiny_tensors();
    let d = tiny_dir(&tensors);
    std::fs::remove_file(d.path().join("model.safetensors")).unwrap();
    let (a, b) = tensors.split_at(10);
    write_safetensors(&d.path().join("model-00001-of-00002.safetensors"), a);
    write_safetensors(&d.path().join("model-00002-of-00002.safetensors"), b);
    let mut map = serde_json::Map::new();
    for (n, _) in a {
        map.insert(n.clone(), "model-00001-of-00002.safetensors".into());
    }
    for (n, _) in b {
        map.insert(n.clone(), "model-00002-of-00002.safetensors".into());
    }
    std::fs::write(
        d.path().join("model.safetensors.index.json"),
        serde_json::json!({ "weight_map": map }).to_string(),
    )
    .unwrap();
    assert_eq!(convert_to_gguf(d.path(), OutType::F16).tensors.len(), 21);
}

/// The real model: the converter's output is the pinned test model, byte for byte.
#[test]
fn minilm_is_reproducible() {
    let Some(src) = minilm_source_dir() else {
        return;
    };
    let Some(pinned) = test_model(TestModel::MiniLm) else {
        return;
    };
    let c = convert_dir(
        &src,
        &Options {
            out_type: OutType::F16,
            name: Some("all-MiniLM-L6-v2".into()),
        },
    )
    .unwrap();
    assert_eq!(c.n_params, 22_565_376);
    let mut bytes = Vec::new();
    c.writer.write_to(&mut bytes).unwrap();
    let got = format!("{:x}", sha2::Sha256::digest(&bytes));
    assert_eq!(got, TestModel::MiniLm.sha256(), "converter output changed");
    assert_eq!(bytes.len() as u64, TestModel::MiniLm.size());
    assert_eq!(bytes, std::fs::read(pinned).unwrap());
}
