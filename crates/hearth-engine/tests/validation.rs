//! A file that fails hearth-gguf validation never reaches llama.cpp.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use hearth_engine::{EngineError, LoadOptions, Model};
use hearth_gguf::writer::tiny_llama;

fn load_bytes(bytes: &[u8]) -> (tempfile::TempDir, Result<Model, EngineError>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, bytes).unwrap();
    let r = Model::load(&path, LoadOptions::default());
    (dir, r)
}

#[test]
fn hostile_files_are_rejected_before_llama_cpp() {
    let good = tiny_llama().to_bytes();
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated tensor data", good[..good.len() - 7].to_vec()),
        ("truncated header", good[..20].to_vec()),
        ("bad magic", {
            let mut b = good.clone();
            b[0] = b'X';
            b
        }),
        ("empty", Vec::new()),
    ];
    // Tensor count claims far more tensors than the file holds.
    let mut huge = good.clone();
    huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    cases.push(("tensor count bomb", huge));
    for (what, bytes) in cases {
        let (_dir, r) = load_bytes(&bytes);
        match r {
            Err(EngineError::Invalid { path, message }) => {
                assert!(path.ends_with("model.gguf"), "{what}: {path:?}");
                assert!(!message.is_empty(), "{what}");
            }
            other => panic!("{what}: expected a validation error, got {other:?}"),
        }
    }
}

#[test]
fn missing_file_is_a_clear_error() {
    let r = Model::load(
        std::path::Path::new("/nonexistent/x.gguf"),
        LoadOptions::default(),
    );
    let msg = r.unwrap_err().to_string();
    assert!(msg.contains("/nonexistent/x.gguf"), "{msg}");
}

#[test]
fn bad_options_are_rejected() {
    let opts = LoadOptions {
        n_parallel: 0,
        ..LoadOptions::default()
    };
    let r = Model::load(std::path::Path::new("/nonexistent/x.gguf"), opts);
    assert!(matches!(
        r,
        Err(EngineError::Option {
            option: "n_parallel",
            ..
        })
    ));
}
