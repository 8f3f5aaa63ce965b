//! The real Qwen2.5-Coder 0.5B model through a local registry and a local Hugging Face:
//! parallel ranges, a dropped connection mid-blob resumed on the next pull, concurrent pulls.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use hearth_gguf::testing::{test_model, TestModel};
use hearth_store::{Digest, Store};

fn qwen() -> Option<(std::path::PathBuf, Digest, u64)> {
    let p = test_model(TestModel::Qwen05)?;
    let d = Digest::from_hex(TestModel::Qwen05.sha256()).unwrap();
    Some((p, d, TestModel::Qwen05.size()))
}

#[test]
fn registry_pull_in_parallel_ranges_with_a_dropped_part_resumes() {
    let Some((path, d, size)) = qwen() else {
        return;
    };
    let srv = Server::start();
    serve_registry_model(
        &srv,
        "library/qwen2.5-coder",
        "0.5b",
        Body::File(path.clone()),
        &d,
        &[(
            "application/vnd.ollama.image.params",
            br#"{"stop":["<|im_end|>"]}"#,
        )],
    );
    let blob = format!("/v2/library/qwen2.5-coder/blobs/{d}");
    // The first range request breaks after 50 MB; with no retries the pull fails.
    srv.drop_after(&blob, 50_000_000);
    let t = tempfile::tempdir().unwrap();
    let st = Store::open(t.path()).unwrap();
    let mut o = opts();
    o.download.retries = 0;
    o.download.part_min = 64 << 20;
    o.download.parallel = 4;
    let name = format!("http://{}/library/qwen2.5-coder:0.5b", srv.host());
    let first = st.pull(&name, &o, &|_| {});
    assert!(first.as_ref().is_err_and(|e| e.is_transient()), "{first:?}");
    let got_first = srv.bytes_sent(&blob);
    assert!(got_first < size, "the first pull did not finish");
    assert!(
        st.resolve(&name).is_err(),
        "not installed after a failed pull"
    );

    srv.clear_seen();
    st.pull(&name, &o, &|_| {}).unwrap();
    let got_second = srv.bytes_sent(&blob);
    let ranged = srv
        .seen()
        .iter()
        .filter(|s| s.path == blob && s.headers.contains_key("range"))
        .count();
    assert!(ranged >= 1, "ranges used");
    // Resumed from where each range stopped: bytes fetched twice are under 10% of the blob.
    let twice = (got_first + got_second).saturating_sub(size);
    assert!(twice * 10 < size, "re-downloaded {twice} of {size} bytes");
    let r = st.resolve(&name).unwrap();
    assert_eq!(Digest::of_file(&r.gguf_path).unwrap().0, d);
    assert_eq!(r.params["stop"], serde_json::json!(["<|im_end|>"]));
    let f = hearth_gguf::GgufFile::open(&r.gguf_path).unwrap();
    assert_eq!(f.metadata().architecture(), Some("qwen2"));
    assert!(files_under(&st.blobs_dir())
        .iter()
        .all(|f| !f.contains("partial")));
}

#[test]
fn hf_pull_of_the_real_model_and_concurrent_pulls_fetch_once() {
    let Some((path, d, size)) = qwen() else {
        return;
    };
    let hf = Server::start();
    let tree = serde_json::json!([
        {"type": "file", "path": ".gitattributes", "size": 1500, "oid": "a"},
        {"type": "file", "path": "qwen2.5-coder-0.5b-instruct-q8_0.gguf", "size": 1, "oid": "b",
         "lfs": {"oid": "0".repeat(64), "size": 1, "pointerSize": 134}},
        {"type": "file", "path": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "size": size, "oid": "c",
         "lfs": {"oid": d.hex(), "size": size, "pointerSize": 135}},
    ]);
    hf.bytes(
        "/api/models/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/tree/main",
        serde_json::to_vec(&tree).unwrap(),
    );
    hf.file("/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/resolve/main/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", path);
    let t = tempfile::tempdir().unwrap();
    let st = Store::open(t.path()).unwrap();
    let mut o = opts();
    o.hf_endpoint = hf.base.clone();
    let name = "hf.co/Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF:Q4_K_M";
    std::thread::scope(|s| {
        let a = s.spawn(|| st.pull(name, &o, &|_| {}));
        let b = s.spawn(|| st.pull(name, &o, &|_| {}));
        a.join().unwrap().unwrap();
        b.join().unwrap().unwrap();
    });
    assert_eq!(
        hf.bytes_sent("/resolve/"),
        size,
        "the blob was downloaded exactly once"
    );
    let r = st.resolve(name).unwrap();
    assert_eq!(r.config.model_family, "qwen2");
    assert_eq!(r.config.file_type, "Q4_K_M");
    assert_eq!(std::fs::metadata(&r.gguf_path).unwrap().len(), size);
    let list = st.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name.display_shortest(), name);
}
