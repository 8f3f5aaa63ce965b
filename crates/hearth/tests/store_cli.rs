//! The model-store subcommands end to end: create from a Modelfile, list, show, cp, export,
//! rm, import, list --all-stores over an Ollama-layout store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

fn hearth(home: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HOME", home)
        .env("HEARTH_MODELS", home.join("hearth-models"))
        .env("OLLAMA_MODELS", home.join("ollama-models"))
        .env("NO_COLOR", "1")
        .current_dir(home)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn create_list_show_cp_export_rm_import() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    std::fs::write(
        home.join("tiny.gguf"),
        hearth_gguf::writer::tiny_llama().to_bytes(),
    )
    .unwrap();
    std::fs::write(
        home.join("Modelfile"),
        "FROM ./tiny.gguf\nSYSTEM \"\"\"You are terse.\"\"\"\nPARAMETER stop <|end|>\nPARAMETER temperature 0.1\n",
    )
    .unwrap();
    let (ok, _, err) = hearth(home, &["create", "tiny:v1", "-f", "Modelfile"]);
    assert!(ok, "{err}");
    let (ok, out, err) = hearth(home, &["list"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("tiny:v1"), "{out}");

    let (ok, out, _) = hearth(home, &["show", "tiny:v1"]);
    assert!(ok);
    assert!(out.contains("architecture        llama"), "{out}");
    let (_, mf, _) = hearth(home, &["show", "tiny:v1", "--modelfile"]);
    assert!(
        mf.contains("SYSTEM You are terse.") && mf.contains("PARAMETER stop <|end|>"),
        "{mf}"
    );
    let (_, params, _) = hearth(home, &["show", "tiny:v1", "--parameters"]);
    assert!(params.contains("\"<|end|>\""), "{params}");

    assert!(hearth(home, &["cp", "tiny:v1", "me/tiny:copy"]).0);
    assert!(hearth(home, &["export", "me/tiny:copy", "-o", "b.tar"]).0);
    assert!(hearth(home, &["rm", "tiny:v1", "me/tiny:copy"]).0);
    let (_, out, _) = hearth(home, &["list"]);
    assert!(!out.contains("tiny"), "{out}");
    let blobs = home.join("hearth-models/blobs");
    assert_eq!(
        std::fs::read_dir(&blobs).unwrap().count(),
        0,
        "rm collected every blob"
    );
    let (ok, out, err) = hearth(home, &["import", "b.tar"]);
    assert!(ok, "{err}");
    assert!(out.contains("me/tiny:copy"), "{out}");
    let (ok, _, err) = hearth(home, &["show", "me/tiny:copy", "--system"]);
    assert!(ok, "{err}");

    // An Ollama-layout store (written here as Ollama writes it) is listed with --all-stores
    // and usable by name, without copying anything.
    let ollama = home.join("ollama-models");
    let gguf = hearth_gguf::writer::tiny_llama().to_bytes();
    let cfg =
        br#"{"model_format":"gguf","model_family":"llama","architecture":"amd64","os":"linux"}"#;
    let (gd, cd) = (
        hearth_store::Digest::from_bytes(&gguf),
        hearth_store::Digest::from_bytes(cfg),
    );
    std::fs::create_dir_all(ollama.join("blobs")).unwrap();
    std::fs::write(ollama.join("blobs").join(gd.file_name()), &gguf).unwrap();
    std::fs::write(ollama.join("blobs").join(cd.file_name()), cfg).unwrap();
    let m = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.ollama.image.model","digest":"{gd}","size":{}}}]}}"#,
        cfg.len(),
        gguf.len()
    );
    let mdir = ollama.join("manifests/registry.ollama.ai/library/olla");
    std::fs::create_dir_all(&mdir).unwrap();
    std::fs::write(mdir.join("latest"), m).unwrap();
    let (_, out, _) = hearth(home, &["list"]);
    assert!(!out.contains("olla"), "{out}");
    let (ok, out, err) = hearth(home, &["list", "--all-stores"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("STORE") && out.contains("olla:latest"),
        "{out}"
    );
    let (ok, out, err) = hearth(home, &["show", "olla"]);
    assert!(ok && out.contains("llama"), "{out}{err}");
    let (ok, _, err) = hearth(home, &["rm", "olla"]);
    assert!(!ok && err.contains("read-only"), "{err}");
    assert!(mdir.join("latest").is_file());
}
