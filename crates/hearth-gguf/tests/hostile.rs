//! Hostile GGUF inputs: each must be rejected with a typed error, without panicking, without
//! allocating more than a few MB and quickly.
//!
//! One #[test] runs every case in sequence so the counting allocator below measures one case
//! at a time (tests in the same binary would otherwise share the counter).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearth_gguf::writer::{put_str, put_u32, put_u64, tiny_llama, GgufWriter, TensorSpec};
use hearth_gguf::{Array, ErrorKind, GgmlType, Gguf, ParseError, Value};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator and only adds bookkeeping.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const MAX_ALLOC: usize = 4 << 20;
/// Generous: the cases take microseconds; this only catches a pathological loop.
const MAX_TIME: Duration = Duration::from_millis(100);

struct Measured {
    result: Result<Gguf, ParseError>,
    peak: usize,
    time: Duration,
}

fn measure(bytes: &[u8]) -> Measured {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let result = std::panic::catch_unwind(|| Gguf::parse(bytes)).expect("parser panicked");
    let time = t.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    Measured { result, peak, time }
}

/// Header with given counts; the caller appends the rest.
fn header(version: u32, tensors: u64, kvs: u64) -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    put_u32(&mut b, version);
    put_u64(&mut b, tensors);
    put_u64(&mut b, kvs);
    b
}

fn kv_raw(b: &mut Vec<u8>, key: &str, ty: u32) {
    put_str(b, key);
    put_u32(b, ty);
}

fn tensor(
    name: &str,
    dims: &[u64],
    ty: GgmlType,
    offset: Option<u64>,
    data_len: usize,
) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        dims: dims.to_vec(),
        type_id: ty.id(),
        offset,
        data: vec![0; data_len],
    }
}

fn base() -> GgufWriter {
    GgufWriter::new().kv("general.architecture", Value::String("llama".into()))
}

type Check = fn(&ErrorKind) -> bool;

fn cases() -> Vec<(&'static str, Vec<u8>, Check)> {
    let mut v: Vec<(&'static str, Vec<u8>, Check)> = Vec::new();

    v.push(("empty file", vec![], |k| {
        matches!(k, ErrorKind::Truncated { .. })
    }));
    v.push(("bad magic", b"GGML\x03\0\0\0".to_vec(), |k| {
        matches!(k, ErrorKind::BadMagic(_))
    }));
    v.push(("version 1", header(1, 0, 0), |k| {
        matches!(k, ErrorKind::UnsupportedVersion(1))
    }));
    v.push(("version 99", header(99, 0, 0), |k| {
        matches!(k, ErrorKind::UnsupportedVersion(99))
    }));
    v.push(("big endian", header(3u32.swap_bytes(), 0, 0), |k| {
        matches!(k, ErrorKind::BigEndian)
    }));
    v.push(
        ("kv_count 2^40 in a tiny file", header(3, 0, 1 << 40), |k| {
            matches!(
                k,
                ErrorKind::TooManyKeys { .. } | ErrorKind::CountTooLarge { .. }
            )
        }),
    );
    v.push(("kv_count 1000 in a tiny file", header(3, 0, 1000), |k| {
        matches!(k, ErrorKind::CountTooLarge { .. })
    }));
    v.push(("tensor_count 2^40", header(3, 1 << 40, 0), |k| {
        matches!(
            k,
            ErrorKind::TooManyTensors { .. } | ErrorKind::CountTooLarge { .. }
        )
    }));
    v.push(("tensor_count 2^63", header(3, 1 << 63, 0), |k| {
        matches!(k, ErrorKind::TooManyTensors { .. })
    }));

    let mut b = header(3, 0, 1);
    put_u64(&mut b, 1 << 63);
    b.extend_from_slice(b"key");
    v.push(("key length 2^63", b, |k| {
        matches!(k, ErrorKind::LengthTooLarge { .. })
    }));

    let mut b = header(3, 0, 1);
    kv_raw(&mut b, "general.name", 8);
    put_u64(&mut b, u64::MAX);
    v.push(("string value length 2^64-1", b, |k| {
        matches!(k, ErrorKind::LengthTooLarge { .. })
    }));

    let mut b = header(3, 0, 1);
    kv_raw(&mut b, "tokenizer.ggml.tokens", 9);
    put_u32(&mut b, 8);
    put_u64(&mut b, 1 << 63);
    v.push(("string array count 2^63", b, |k| {
        matches!(k, ErrorKind::CountTooLarge { .. })
    }));

    let mut b = header(3, 0, 1);
    kv_raw(&mut b, "x.u64s", 9);
    put_u32(&mut b, 10);
    put_u64(&mut b, (1 << 61) + 1);
    v.push(("u64 array count overflowing bytes", b, |k| {
        matches!(k, ErrorKind::CountTooLarge { .. })
    }));

    let mut b = header(3, 0, 1);
    kv_raw(&mut b, "x.strings", 9);
    put_u32(&mut b, 8);
    put_u64(&mut b, 2);
    put_str(&mut b, "ok");
    put_u64(&mut b, 1 << 40);
    v.push(("second string of array past EOF", b, |k| {
        matches!(
            k,
            ErrorKind::LengthTooLarge { .. } | ErrorKind::CountTooLarge { .. }
        )
    }));

    let mut b = header(3, 0, 1);
    kv_raw(&mut b, "deep", 9);
    for _ in 0..10_000 {
        put_u32(&mut b, 9);
        put_u64(&mut b, 1);
    }
    put_u32(&mut b, 0);
    put_u64(&mut b, 0);
    v.push(("nested array depth bomb", b, |k| {
        matches!(k, ErrorKind::NestingTooDeep { .. })
    }));

    let mut b = header(3, 0, 1);
    kv_raw(&mut b, "x", 13);
    b.push(0);
    v.push(("unknown value type 13", b, |k| {
        matches!(k, ErrorKind::UnknownValueType(13))
    }));

    let mut b = header(3, 0, 1);
    kv_raw(&mut b, "x.flag", 7);
    b.push(2);
    v.push(("bool byte 2", b, |k| matches!(k, ErrorKind::InvalidBool(2))));

    let mut b = header(3, 0, 1);
    put_u64(&mut b, 2);
    b.extend_from_slice(&[0xff, 0xfe]);
    put_u32(&mut b, 0);
    b.push(0);
    v.push(("invalid UTF-8 key", b, |k| {
        matches!(k, ErrorKind::InvalidUtf8)
    }));

    let mut b = header(3, 0, 1);
    kv_raw(&mut b, "", 0);
    b.push(0);
    v.push(("empty key", b, |k| matches!(k, ErrorKind::EmptyKey)));

    let w = base().kv("general.architecture", Value::String("qwen2".into()));
    v.push(("duplicate metadata key", w.to_bytes(), |k| {
        matches!(k, ErrorKind::DuplicateKey(_))
    }));

    let w = base().kv("general.alignment", Value::U32(3));
    v.push(("alignment 3", w.to_bytes(), |k| {
        matches!(k, ErrorKind::BadAlignment(3))
    }));
    let w = base().kv("general.alignment", Value::U32(0));
    v.push(("alignment 0", w.to_bytes(), |k| {
        matches!(k, ErrorKind::BadAlignment(0))
    }));
    let w = base().kv("general.alignment", Value::String("32".into()));
    v.push(("alignment of type string", w.to_bytes(), |k| {
        matches!(k, ErrorKind::WrongValueType { .. })
    }));

    let w = base().raw_tensor(tensor("t", &[1, 1, 1, 1, 1], GgmlType::F32, None, 4));
    v.push(("n_dims 5", w.to_bytes(), |k| {
        matches!(k, ErrorKind::TooManyDims { n_dims: 5, .. })
    }));
    let w = base().raw_tensor(tensor("t", &[4, 0], GgmlType::F32, None, 0));
    v.push(("zero dimension", w.to_bytes(), |k| {
        matches!(k, ErrorKind::BadDim { value: 0, .. })
    }));
    let w = base().raw_tensor(tensor("t", &[u64::MAX, 1], GgmlType::F32, None, 4));
    v.push(("dimension above i64::MAX", w.to_bytes(), |k| {
        matches!(k, ErrorKind::BadDim { .. })
    }));
    let w = base().raw_tensor(tensor(
        "t",
        &[1 << 32, 1 << 32, 1 << 32],
        GgmlType::F32,
        None,
        4,
    ));
    v.push(("dim product overflow", w.to_bytes(), |k| {
        matches!(k, ErrorKind::SizeOverflow { .. })
    }));
    let w = base().raw_tensor(tensor("t", &[1 << 61], GgmlType::F32, None, 4));
    v.push(("byte size overflow", w.to_bytes(), |k| {
        matches!(k, ErrorKind::SizeOverflow { .. })
    }));
    let mut t = tensor("t", &[4], GgmlType::F32, None, 16);
    t.type_id = 1000;
    v.push((
        "unknown type id 1000",
        base().raw_tensor(t).to_bytes(),
        |k| matches!(k, ErrorKind::UnknownTensorType { id: 1000, .. }),
    ));
    let mut t = tensor("t", &[32], GgmlType::F32, None, 32);
    t.type_id = 4;
    v.push((
        "removed type id 4 (Q4_2)",
        base().raw_tensor(t).to_bytes(),
        |k| matches!(k, ErrorKind::RemovedTensorType { id: 4, .. }),
    ));
    let w = base().raw_tensor(tensor("t", &[33], GgmlType::Q4_0, None, 18));
    v.push(("ne0 not a multiple of the block size", w.to_bytes(), |k| {
        matches!(k, ErrorKind::NotBlockMultiple { .. })
    }));
    let w = base().raw_tensor(tensor("t", &[4], GgmlType::F32, Some(8), 16));
    v.push(("misaligned tensor offset", w.to_bytes(), |k| {
        matches!(k, ErrorKind::Misaligned { offset: 8, .. })
    }));
    let w = base().raw_tensor(tensor("t", &[1024], GgmlType::F32, Some(0), 16));
    v.push(("tensor past EOF", w.to_bytes(), |k| {
        matches!(k, ErrorKind::TensorOutOfBounds { .. })
    }));
    let w = base().raw_tensor(tensor("t", &[4], GgmlType::F32, Some(u64::MAX - 31), 0));
    v.push(("tensor offset + size overflows", w.to_bytes(), |k| {
        matches!(k, ErrorKind::TensorOutOfBounds { .. })
    }));
    let w = base()
        .raw_tensor(tensor("a", &[16], GgmlType::F32, Some(0), 64))
        .raw_tensor(tensor("b", &[16], GgmlType::F32, Some(32), 0));
    v.push(("overlapping tensors", w.to_bytes(), |k| {
        matches!(k, ErrorKind::Overlap { .. })
    }));
    let w = base()
        .raw_tensor(tensor("a", &[8], GgmlType::F32, None, 32))
        .raw_tensor(tensor("a", &[8], GgmlType::F32, None, 32));
    v.push(("duplicate tensor names", w.to_bytes(), |k| {
        matches!(k, ErrorKind::DuplicateTensor(_))
    }));
    let w = base().raw_tensor(tensor(&"n".repeat(64), &[8], GgmlType::F32, None, 32));
    v.push(("tensor name of 64 bytes", w.to_bytes(), |k| {
        matches!(k, ErrorKind::TensorNameTooLong { .. })
    }));
    let w = base().raw_tensor(tensor("", &[8], GgmlType::F32, None, 32));
    v.push(("empty tensor name", w.to_bytes(), |k| {
        matches!(k, ErrorKind::EmptyTensorName)
    }));

    let mut b = header(3, 1, 0);
    put_u64(&mut b, 2);
    b.extend_from_slice(&[0xc3, 0x28]);
    put_u32(&mut b, 1);
    put_u64(&mut b, 8);
    put_u32(&mut b, 0);
    put_u64(&mut b, 0);
    b.resize(b.len() + 64, 0);
    v.push(("invalid UTF-8 tensor name", b, |k| {
        matches!(k, ErrorKind::InvalidUtf8)
    }));

    let mut w = base()
        .raw_tensor(tensor("t", &[8], GgmlType::F32, None, 32))
        .to_bytes();
    let header_len = w.len() - 32;
    w.truncate(header_len);
    v.push(("header only, data section missing", w, |k| {
        matches!(
            k,
            ErrorKind::TensorOutOfBounds { .. } | ErrorKind::Truncated { .. }
        )
    }));

    let big_array = Value::Array(Array::Array(vec![Array::U8(vec![1, 2]); 3]));
    let mut w = base().kv("nested", big_array).to_bytes();
    w.truncate(w.len() - 1);
    v.push(("nested array truncated", w, |k| {
        matches!(
            k,
            ErrorKind::Truncated { .. } | ErrorKind::CountTooLarge { .. }
        )
    }));
    for (name, bytes, _) in &mut v {
        if !matches!(
            *name,
            "empty file"
                | "bad magic"
                | "kv_count 1000 in a tiny file"
                | "nested array truncated"
                | "header only, data section missing"
        ) && !name.starts_with("version")
        {
            bytes.extend_from_slice(&[0u8; 64]);
        }
    }
    v
}

#[test]
fn hostile_inputs_are_rejected_with_typed_errors() {
    let cases = cases();
    assert!(cases.len() >= 25, "only {} cases", cases.len());
    let mut worst_time = Duration::ZERO;
    let mut worst_alloc = 0;
    for (name, bytes, check) in &cases {
        let m = measure(bytes);
        let e = match m.result {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e,
        };
        assert!(check(&e.kind), "{name}: unexpected error {e}");
        assert!(!e.field.is_empty(), "{name}: error names no field");
        assert!(m.peak <= MAX_ALLOC, "{name}: allocated {} bytes", m.peak);
        assert!(m.time <= MAX_TIME, "{name}: took {:?}", m.time);
        worst_time = worst_time.max(m.time);
        worst_alloc = worst_alloc.max(m.peak);
        eprintln!("{name:45} -> {e}");
    }

    // Truncation at every byte of a small valid file: every prefix that cuts into the header
    // or a tensor's bytes is an error.
    let full = tiny_llama().to_bytes();
    let valid = Gguf::parse(&full).expect("tiny model parses");
    let needed = valid.data_end() as usize;
    for len in 0..needed {
        let m = measure(&full[..len]);
        assert!(m.result.is_err(), "prefix of {len} bytes accepted");
        assert!(
            m.peak <= MAX_ALLOC && m.time <= MAX_TIME,
            "prefix {len}: {} bytes, {:?}",
            m.peak,
            m.time
        );
        worst_time = worst_time.max(m.time);
        worst_alloc = worst_alloc.max(m.peak);
    }
    eprintln!(
        "{} named cases + {needed} truncations: worst {worst_time:?}, peak allocation {worst_alloc} bytes",
        cases.len()
    );
}
