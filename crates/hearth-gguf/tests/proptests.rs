//! Property tests: writer → reader round trips, and the reader never panics on arbitrary or
//! mutated input (`PROPTEST_CASES=100000 cargo test -p hearth-gguf --test proptests` to fuzz longer).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_gguf::writer::{tiny_llama, GgufWriter};
use hearth_gguf::{Array, GgmlType, Gguf, Value};
use proptest::prelude::*;

fn leaf_array() -> impl Strategy<Value = Array> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..8).prop_map(Array::U8),
        prop::collection::vec(any::<i8>(), 0..8).prop_map(Array::I8),
        prop::collection::vec(any::<u16>(), 0..8).prop_map(Array::U16),
        prop::collection::vec(any::<i16>(), 0..8).prop_map(Array::I16),
        prop::collection::vec(any::<u32>(), 0..8).prop_map(Array::U32),
        prop::collection::vec(any::<i32>(), 0..8).prop_map(Array::I32),
        prop::collection::vec(-1e6f32..1e6, 0..8).prop_map(Array::F32),
        prop::collection::vec(any::<bool>(), 0..8).prop_map(Array::Bool),
        prop::collection::vec(".{0,12}", 0..8).prop_map(Array::String),
        prop::collection::vec(any::<u64>(), 0..8).prop_map(Array::U64),
        prop::collection::vec(any::<i64>(), 0..8).prop_map(Array::I64),
        prop::collection::vec(-1e9f64..1e9, 0..8).prop_map(Array::F64),
    ]
}

fn array() -> impl Strategy<Value = Array> {
    leaf_array().prop_recursive(3, 24, 4, |inner| {
        prop::collection::vec(inner, 0..4).prop_map(Array::Array)
    })
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u8>().prop_map(Value::U8),
        any::<i8>().prop_map(Value::I8),
        any::<u16>().prop_map(Value::U16),
        any::<i16>().prop_map(Value::I16),
        any::<u32>().prop_map(Value::U32),
        any::<i32>().prop_map(Value::I32),
        (-1e6f32..1e6).prop_map(Value::F32),
        any::<bool>().prop_map(Value::Bool),
        ".{0,24}".prop_map(Value::String),
        array().prop_map(Value::Array),
        any::<u64>().prop_map(Value::U64),
        any::<i64>().prop_map(Value::I64),
        (-1e9f64..1e9).prop_map(Value::F64),
    ]
}

fn tensor_type() -> impl Strategy<Value = GgmlType> {
    prop::sample::select(GgmlType::ALL.to_vec())
}

prop_compose! {
    fn model()(
        kvs in prop::collection::btree_map("[a-z]{1,8}(\\.[a-z_]{1,8}){0,2}", value(), 0..12),
        tensors in prop::collection::vec((tensor_type(), 1u64..4, prop::collection::vec(1u64..5, 0..3)), 0..6),
        version in 2u32..=3,
        align_pow in 3u32..8,
    ) -> (GgufWriter, Vec<(String, Value)>) {
        let mut w = GgufWriter { version, ..GgufWriter::default() };
        let alignment = 1u32 << align_pow;
        w = w.kv("general.alignment", Value::U32(alignment));
        let mut kv: Vec<(String, Value)> = vec![("general.alignment".into(), Value::U32(alignment))];
        for (k, v) in kvs {
            if k == "general.alignment" { continue; }
            w = w.kv(k.clone(), v.clone());
            kv.push((k, v));
        }
        for (i, (ty, blocks, rest)) in tensors.into_iter().enumerate() {
            let mut dims = vec![blocks * ty.block_size()];
            dims.extend(rest);
            w = w.tensor(format!("t{i}.weight"), &dims, ty);
        }
        (w, kv)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn write_then_read_round_trips((w, kv) in model()) {
        let bytes = w.to_bytes();
        let g = Gguf::parse(&bytes).unwrap();
        prop_assert_eq!(g.version, w.version);
        let got: Vec<(String, Value)> = g.metadata.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
        prop_assert_eq!(got, kv);
        prop_assert_eq!(g.tensors.len(), w.tensors.len());
        for (t, spec) in g.tensors.iter().zip(&w.tensors) {
            prop_assert_eq!(&t.name, &spec.name);
            prop_assert_eq!(&t.dims, &spec.dims);
            prop_assert_eq!(t.ty.id(), spec.type_id);
            prop_assert_eq!(t.n_bytes, spec.data.len() as u64);
            prop_assert_eq!(t.offset % g.alignment, 0);
        }
        prop_assert_eq!(g.trailing_bytes(), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = Gguf::parse(&bytes);
        let mut with_magic = b"GGUF\x03\0\0\0".to_vec();
        with_magic.extend_from_slice(&bytes);
        let _ = Gguf::parse(&with_magic);
    }

    #[test]
    fn mutated_valid_file_never_panics(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = tiny_llama().to_bytes();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let _ = Gguf::parse(&bytes);
        let n = cut.index(bytes.len() + 1);
        let _ = Gguf::parse(&bytes[..n]);
    }
}
