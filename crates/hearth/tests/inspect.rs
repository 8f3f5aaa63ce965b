//! `hearth inspect` end to end: the real 0.5B model and a hostile file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use hearth_gguf::testing::{test_model, TestModel};

fn hearth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
}

#[test]
fn inspect_prints_the_quantization_mix_of_the_0_5b() {
    let Some(path) = test_model(TestModel::Qwen05) else {
        return;
    };
    let out = hearth().arg("inspect").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "architecture  qwen2",
        "Q4_K_M",
        "chat template present",
        "vocab 151936",
        "verdict       valid",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let rows: Vec<(String, u64)> = text
        .lines()
        .skip_while(|l| !l.starts_with("quantization"))
        .skip(1)
        .take_while(|l| l.starts_with("    "))
        .map(|l| {
            let mut f = l.split_whitespace();
            (
                f.next().unwrap().to_owned(),
                f.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let want = [
        ("Q5_0", 133),
        ("F32", 121),
        ("Q8_0", 13),
        ("Q6_K", 12),
        ("Q4_K", 12),
    ];
    assert_eq!(rows, want.map(|(t, n)| (t.to_owned(), n)).to_vec());

    let out = hearth()
        .args(["inspect", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["architecture"], "qwen2");
    assert_eq!(v["block_count"], 24);
    assert_eq!(v["tensor_count"], 291);
    assert_eq!(v["quantization"][0]["type"], "Q5_0");
    assert_eq!(v["quantization"][0]["tensors"], 133);
}

#[test]
fn inspect_rejects_a_truncated_file_with_field_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.gguf");
    let bytes = hearth_gguf::writer::tiny_llama().to_bytes();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let out = hearth()
        .args(["inspect", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    let err = v["error"].as_str().unwrap();
    assert!(err.contains("bad.gguf") && err.contains("at byte"), "{err}");
}
