//! `hearth fit` end to end: the --vram guidance table and a real model file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use hearth_gguf::testing::{test_model, TestModel};

fn hearth(args: &[&str]) -> (i32, serde_json::Value) {
    let cache = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("XDG_CACHE_HOME", cache.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let json = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout} {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap_or(-1), json)
}

fn verdict<'a>(table: &'a serde_json::Value, model: &str, quant: &str) -> &'a str {
    table["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == model && r["quant"] == quant)
        .unwrap_or_else(|| panic!("{model} {quant}"))["verdict"]["kind"]
        .as_str()
        .unwrap()
}

#[test]
fn vram_flags_reproduce_the_common_guidance() {
    let t = |v: &str| hearth(&["fit", "--vram", v, "--ram", "64G", "--json"]).1;
    let (t8, t16, t24) = (t("8G"), t("16G"), t("24G"));
    assert_eq!(verdict(&t8, "qwen2.5-coder-7b", "Q4_K_M"), "gpu");
    assert_ne!(verdict(&t8, "qwen2.5-coder-14b", "Q4_K_M"), "gpu");
    assert_eq!(verdict(&t16, "qwen2.5-coder-14b", "Q4_K_M"), "gpu");
    assert_eq!(verdict(&t24, "qwen2.5-coder-32b", "Q4_K_M"), "gpu");
    assert_eq!(verdict(&t24, "llama-3.1-70b", "Q4_K_M"), "partial");
    let t12 = t("12G");
    assert_eq!(verdict(&t12, "qwen2.5-coder-7b", "Q8_0"), "gpu");
}

#[test]
fn presets_and_unknown_preset() {
    let (code, t) = hearth(&["fit", "--gpu", "m3-max-64g", "--json"]);
    assert_eq!(code, 0);
    // 64 GB unified memory, 3/4 usable by the GPU: a 32B Q8_0 (~35 GB) runs on it.
    assert_eq!(verdict(&t, "qwen2.5-coder-32b", "Q8_0"), "gpu");
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["fit", "--gpu", "rtx9999"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--list-gpus"));
}

#[test]
fn one_file_reports_llama_cpp_kv_size_and_refuses_what_does_not_fit() {
    let Some(path) = test_model(TestModel::Qwen15) else {
        return;
    };
    let p = path.to_str().unwrap();
    let (code, j) = hearth(&["fit", p, "--ctx", "8192", "--ram", "8G", "--json"]);
    assert_eq!(code, 0);
    let m = &j["models"][0];
    let kv = m["estimate"]["kv"]["k_bytes"].as_u64().unwrap()
        + m["estimate"]["kv"]["v_bytes"].as_u64().unwrap();
    assert_eq!(kv, 224 << 20); // llama.cpp: "CPU KV buffer size = 224.00 MiB"
                               // 1 GiB of RAM cannot hold the 1 GiB of weights plus cache: refused, with a suggestion.
    let (code, j) = hearth(&["fit", p, "--ctx", "32768", "--ram", "1G", "--json"]);
    assert_eq!(code, 3);
    let m = &j["models"][0];
    assert_eq!(m["verdict"]["kind"], "does_not_fit");
    let text = m["suggestion"]["text"].as_str().unwrap();
    assert!(
        text.contains("nothing close fits") || text.contains("would fit"),
        "{text}"
    );
    // 2.5 GiB: the file fits at a smaller context; the suggestion names it.
    let (code, j) = hearth(&["fit", p, "--ctx", "32768", "--ram", "2.5G", "--json"]);
    assert_eq!(code, 3);
    let s = &j["models"][0]["suggestion"];
    let n_ctx = s["n_ctx"].as_u64().unwrap();
    assert!((2048..32768).contains(&n_ctx), "{s}");
}

/// `hearth fit … | head -1`: a reader that goes away ends hearth quietly (SIGPIPE), without a
/// `println!` panic on stderr.
#[cfg(unix)]
#[test]
fn closed_stdout_ends_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    let cache = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(["fit", "--vram", "24G", "--ram", "64G", "--no-probe"])
        .env("XDG_CACHE_HOME", cache.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the read end before hearth writes its table.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc_sigpipe()),
        "{:?} {stderr}",
        out.status
    );
}

/// SIGPIPE's number on Linux and the BSDs.
#[cfg(unix)]
fn libc_sigpipe() -> i32 {
    13
}
