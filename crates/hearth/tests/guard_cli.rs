//! `hearth scan`, `hearth sign` and `hearth verify` end to end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use hearth_gguf::testing::{test_model, TestModel};
use hearth_gguf::writer::tiny_llama;
use hearth_gguf::Value;

fn hearth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
}

#[test]
fn scan_exit_codes_and_formats() {
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean.gguf");
    std::fs::write(&clean, tiny_llama().to_bytes()).unwrap();
    let mut w = tiny_llama();
    w.metadata.retain(|(k, _)| k != "tokenizer.chat_template");
    let evil = dir.path().join("evil.gguf");
    std::fs::write(
        &evil,
        w.kv(
            "tokenizer.chat_template",
            Value::String("{{ ''.__class__.__mro__[1].__subclasses__() }}".into()),
        )
        .to_bytes(),
    )
    .unwrap();
    let pkl = dir.path().join("model.bin");
    std::fs::write(&pkl, b"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.").unwrap();

    // The tiny model's template is not pinned: a low finding, exit 0.
    let out = hearth().arg("scan").arg(&clean).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("template.unknown"));

    // A file in no model format was not checked: its own exit code, never "clean".
    let notes = dir.path().join("notes.txt");
    std::fs::write(&notes, b"just text").unwrap();
    let out = hearth().arg("scan").arg(&notes).output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stdout).contains("format.unknown"));

    let out = hearth()
        .args(["scan", "--json"])
        .arg(&evil)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["format"], "gguf");
    assert!(j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["rule_id"] == "template.sandbox-escape" && f["severity"] == "high"));

    let out = hearth()
        .args(["scan", "--sarif"])
        .arg(&pkl)
        .arg(&clean)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let results = s["runs"][0]["results"].as_array().unwrap();
    assert!(results
        .iter()
        .any(|r| r["ruleId"] == "pickle.dangerous-import" && r["level"] == "error"));

    let out = hearth()
        .arg("scan")
        .arg(dir.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    if let Some(real) = test_model(TestModel::SmolLm2) {
        let out = hearth().arg("scan").arg(&real).output().unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).contains("template.known"));
    }
}

#[test]
fn sign_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    let out = hearth()
        .arg("sign")
        .arg("--generate-key")
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Refuses to overwrite an existing key.
    assert!(!hearth()
        .arg("sign")
        .arg("--generate-key")
        .arg(&key)
        .output()
        .unwrap()
        .status
        .success());
    let model = dir.path().join("m.gguf");
    std::fs::write(&model, tiny_llama().to_bytes()).unwrap();
    let manifest = dir.path().join("hearth.manifest");
    let out = hearth()
        .arg("sign")
        .arg("--key")
        .arg(&key)
        .arg("-o")
        .arg(&manifest)
        .arg(&model)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pubkey = dir.path().join("k.pub");
    let verify = || {
        hearth()
            .arg("verify")
            .arg("--pubkey")
            .arg(&pubkey)
            .arg(&manifest)
            .output()
            .unwrap()
    };
    let out = verify();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 file digest(s) verified"));
    // Model changed after signing: refused.
    std::fs::write(&model, b"GGUF tampered").unwrap();
    let out = verify();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("digest mismatch"));
}
