//! Acceptance: pickle samples built here are classified correctly by the disassembler; none
//! is unpickled (there is no Python anywhere; payloads target a canary file that must not appear).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_guard::pickle::{disassemble, Class};
use hearth_guard::{scan_bytes, zip, Format, ScanOptions, Severity};

fn short_str(out: &mut Vec<u8>, s: &str) {
    out.push(0x8c); // SHORT_BINUNICODE
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

fn bin_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'X'); // BINUNICODE
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// `os.system('id')` via GLOBAL (protocol 2).
fn global_os_system() -> Vec<u8> {
    let mut p = b"\x80\x02cos\nsystem\nq\x00".to_vec();
    bin_str(&mut p, "id");
    p.extend_from_slice(b"q\x01\x85q\x02Rq\x03.");
    p
}

/// `posix.system(...)` via STACK_GLOBAL whose operands come back from the memo
/// (MEMOIZE / BINGET, and LONG_BINPUT / LONG_BINGET), with decoy pops in between.
fn stack_global_memo(module: &str, name: &str) -> Vec<u8> {
    let mut p = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(); // PROTO 4, FRAME
    short_str(&mut p, module);
    p.push(0x94); // MEMOIZE -> memo[0]
    p.push(b'0'); // POP
    short_str(&mut p, "decoy");
    p.extend_from_slice(b"r\x07\x00\x00\x00"); // LONG_BINPUT 7
    p.push(b'0');
    short_str(&mut p, name);
    p.extend_from_slice(b"r\x05\x01\x00\x00"); // LONG_BINPUT 261
    p.push(b'0');
    p.extend_from_slice(b"h\x00"); // BINGET 0 -> module
    p.extend_from_slice(b"j\x05\x01\x00\x00"); // LONG_BINGET 261 -> name
    p.push(0x93); // STACK_GLOBAL
    short_str(&mut p, "touch /tmp/hearth-guard-canary-should-not-exist");
    p.extend_from_slice(b"\x85R."); // TUPLE1, REDUCE, STOP
    p
}

/// What `torch.save(OrderedDict(w=tensor))` pickles (protocol 2): only rebuild helpers.
fn benign_tensor_pickle() -> Vec<u8> {
    let mut p = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01(".to_vec();
    bin_str(&mut p, "w");
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\nq\x02((");
    bin_str(&mut p, "storage");
    p.extend_from_slice(b"ctorch\nFloatStorage\nq\x03");
    bin_str(&mut p, "0");
    bin_str(&mut p, "cpu");
    p.extend_from_slice(b"K\x04tq\x04QK\x00K\x04\x85K\x01\x85\x89h\x00)Rq\x05tq\x06Rq\x07u.");
    p
}

fn severity(bytes: &[u8]) -> (Format, Option<Severity>, hearth_guard::Report) {
    let r = scan_bytes(bytes, &ScanOptions::default());
    (r.format, r.max_severity(), r)
}

#[test]
fn os_system_via_global_is_critical() {
    let d = disassemble(&global_os_system(), 0, 1000);
    assert!(d.stopped && d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(d.imports.len(), 1);
    assert_eq!(
        (d.imports[0].module.as_str(), d.imports[0].name.as_str()),
        ("os", "system")
    );
    assert_eq!(d.imports[0].class, Class::Dangerous);
    let (f, s, r) = severity(&global_os_system());
    assert_eq!(f, Format::Pickle);
    assert_eq!(s, Some(Severity::Critical));
    assert!(r.has_rule("pickle.dangerous-import"));
    assert_eq!(r.exit_code(), 5);
}

#[test]
fn stack_global_through_memo_resolves() {
    for (m, n) in [
        ("posix", "system"),
        ("subprocess", "check_output"),
        ("builtins", "exec"),
    ] {
        let p = stack_global_memo(m, n);
        let d = disassemble(&p, 0, 1000);
        assert!(d.stopped && d.problems.is_empty(), "{:?}", d.problems);
        assert_eq!(d.imports.len(), 1, "{m}.{n}");
        assert_eq!(d.imports[0].module, m);
        assert_eq!(d.imports[0].name, n);
        assert_eq!(d.imports[0].opcode, "STACK_GLOBAL");
        assert_eq!(d.imports[0].class, Class::Dangerous);
        assert_eq!(severity(&p).1, Some(Severity::Critical));
    }
}

#[test]
fn builtins_exec_via_global_is_critical() {
    let mut p = b"\x80\x03cbuiltins\nexec\n".to_vec();
    bin_str(&mut p, "import os");
    p.extend_from_slice(b"\x85R.");
    let (_, s, r) = severity(&p);
    assert_eq!(s, Some(Severity::Critical), "{}", r.to_text());
    assert!(r.findings[0].message.contains("builtins.exec"));
}

#[test]
fn computed_stack_global_is_flagged() {
    // Module name from a function call result: not resolvable statically.
    let mut p = b"\x80\x04".to_vec();
    p.extend_from_slice(b"cbuiltins\nstr\n)R"); // str() -> opaque
    short_str(&mut p, "system");
    p.extend_from_slice(b"\x93.");
    let (_, s, r) = severity(&p);
    assert!(r.has_rule("pickle.dynamic-import"), "{}", r.to_text());
    assert!(s >= Some(Severity::High));
}

#[test]
fn benign_tensor_pickle_is_clean() {
    let p = benign_tensor_pickle();
    let d = disassemble(&p, 0, 10_000);
    assert!(d.stopped && d.problems.is_empty(), "{:?}", d.problems);
    assert!(d.imports.len() >= 3);
    assert!(
        d.imports.iter().all(|i| i.class == Class::Allowed),
        "{:?}",
        d.imports
    );
    let (f, s, r) = severity(&p);
    assert_eq!(f, Format::Pickle);
    assert_eq!(s, Some(Severity::Info), "{}", r.to_text());
}

#[test]
fn unknown_global_is_suspicious() {
    let p = b"\x80\x02cmypkg.models\nNet\n)R.".to_vec();
    let (_, s, r) = severity(&p);
    assert_eq!(s, Some(Severity::Medium));
    assert!(r.has_rule("pickle.unknown-import"));
}

#[test]
fn pytorch_zip_with_payload_is_critical() {
    for deflate in [false, true] {
        let z = zip::build(
            &[
                (
                    "archive/data.pkl",
                    &stack_global_memo("os", "system"),
                    deflate,
                ),
                ("archive/version", b"3\n", false),
                ("archive/data/0", &[0u8; 16], false),
            ],
            &[],
        );
        let (f, s, r) = severity(&z);
        assert_eq!(f, Format::PytorchZip);
        assert_eq!(s, Some(Severity::Critical), "{}", r.to_text());
        let hit = r
            .findings
            .iter()
            .find(|f| f.rule_id == "pickle.dangerous-import")
            .unwrap();
        assert!(hit
            .location
            .field
            .as_deref()
            .unwrap()
            .contains("archive/data.pkl"));
    }
}

#[test]
fn benign_pytorch_zip_is_clean() {
    let z = zip::build(
        &[
            ("archive/data.pkl", &benign_tensor_pickle(), false),
            ("archive/byteorder", b"little", false),
            ("archive/data/0", &[0u8; 16], true),
        ],
        &[],
    );
    let (f, s, r) = severity(&z);
    assert_eq!(f, Format::PytorchZip);
    assert_eq!(s, Some(Severity::Info), "{}", r.to_text());
}

#[test]
fn zip_local_central_name_mismatch_is_flagged() {
    let z = zip::build(
        &[("archive/data.pkl", &benign_tensor_pickle(), false)],
        &[("archive/data.pkl", "archive/evil.pkl")],
    );
    let (_, s, r) = severity(&z);
    assert!(r.has_rule("zip.name-mismatch"), "{}", r.to_text());
    assert!(s >= Some(Severity::High));
}

#[test]
fn nested_archive_is_flagged() {
    let inner = zip::build(&[("data.pkl", &global_os_system(), false)], &[]);
    let z = zip::build(&[("archive/inner.zip", &inner, false)], &[]);
    let (_, _, r) = severity(&z);
    assert!(r.has_rule("zip.nested-archive"), "{}", r.to_text());
}

#[test]
fn legacy_torch_sequence_is_scanned() {
    // magic number, protocol version, sys_info, then the payload pickle, then raw bytes.
    let mut f = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.".to_vec();
    f.extend_from_slice(b"\x80\x02M\xe9\x03.");
    f.extend_from_slice(b"\x80\x02}q\x00.");
    f.extend_from_slice(&global_os_system());
    f.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let (fmt, s, r) = severity(&f);
    assert_eq!(fmt, Format::PytorchLegacy);
    assert_eq!(s, Some(Severity::Critical), "{}", r.to_text());
}

#[test]
fn protocol0_inst_is_critical() {
    let p = b"(S'id'\nios\nsystem\n.";
    let (fmt, s, r) = severity(p);
    assert_eq!(fmt, Format::Pickle);
    assert_eq!(s, Some(Severity::Critical), "{}", r.to_text());
    assert!(r.findings[0].message.starts_with("INST imports os.system"));
}

fn tar_member(name: &str, data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
    h[156] = b'0';
    h[257..262].copy_from_slice(b"ustar");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h.extend_from_slice(data);
    h.resize(h.len().div_ceil(512) * 512, 0);
    h
}

#[test]
fn legacy_torch_tar_is_scanned() {
    let mut t = tar_member("sys_info", b"\x80\x02}q\x00.");
    t.extend(tar_member("pickle", &stack_global_memo("nt", "system")));
    t.extend(vec![0u8; 1024]);
    let (fmt, s, r) = severity(&t);
    assert_eq!(fmt, Format::PytorchTar);
    assert_eq!(s, Some(Severity::Critical), "{}", r.to_text());
}

#[test]
fn truncated_and_garbage_pickles_do_not_panic() {
    let full = stack_global_memo("os", "system");
    for cut in 0..full.len() {
        let r = scan_bytes(&full[..cut], &ScanOptions::default());
        assert!(r.format == Format::Pickle || r.format == Format::Unknown);
    }
    // Every opcode byte once, with short arguments.
    for op in 0u8..=255 {
        let b = [0x80, 2, op, 1, 0, 0, 0, b'.'];
        let _ = disassemble(&b, 0, 100);
    }
    assert!(!std::path::Path::new("/tmp/hearth-guard-canary-should-not-exist").exists());
}
