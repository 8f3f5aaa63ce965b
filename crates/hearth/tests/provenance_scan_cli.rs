//! `hearth show --provenance` and `hearth scan MODEL` (by installed name) end to end, against a
//! store in a temporary directory.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use hearth_gguf::testing::{test_model, TestModel};

fn hearth(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .args(args)
        .env("HOME", home)
        .env("HEARTH_MODELS", home.join("hearth-models"))
        .env("OLLAMA_MODELS", home.join("ollama-models"))
        .env_remove("HEARTH_POLICY")
        .env_remove("XDG_CONFIG_HOME")
        .env("NO_COLOR", "1")
        .current_dir(home)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sha256_hex(path: &Path) -> String {
    hearth_store::Digest::from_bytes(&std::fs::read(path).unwrap())
        .hex()
        .to_string()
}

#[test]
fn show_provenance_of_created_copied_and_legacy_models() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    let gguf = home.join("tiny.gguf");
    std::fs::write(&gguf, hearth_gguf::writer::tiny_llama().to_bytes()).unwrap();
    std::fs::write(home.join("Modelfile"), "FROM ./tiny.gguf\n").unwrap();
    let out = hearth(home, &["create", "tiny:v1", "-f", "Modelfile"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = hearth(home, &["show", "tiny:v1", "--provenance"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    let digest = format!("sha256:{}", sha256_hex(&gguf));
    assert!(shown.contains("name:      tiny:v1\n"), "{shown}");
    assert!(shown.contains("registry:  local\n"), "{shown}");
    assert!(
        shown.contains(&format!(
            "url:       {}\n",
            std::fs::canonicalize(&gguf).unwrap().display()
        )),
        "{shown}"
    );
    assert!(shown.contains(&format!("digest:    {digest}\n")), "{shown}");
    assert!(shown.contains(" UTC ("), "{shown}");
    assert!(shown.contains("scan:      "), "{shown}");

    let out = hearth(home, &["show", "tiny:v1", "--provenance", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["registry"], "local");
    assert_eq!(v["digest"], digest.as_str());
    assert!(v["retrieved_at"].as_u64().unwrap() > 1_600_000_000);

    // cp carries the record under the new name.
    assert!(hearth(home, &["cp", "tiny:v1", "me/tiny:copy"])
        .status
        .success());
    let out = hearth(home, &["show", "me/tiny:copy", "--provenance", "--json"]);
    let c: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(c["name"], "me/tiny:copy");
    assert_eq!((&c["digest"], &c["url"]), (&v["digest"], &v["url"]));

    // rm deletes it with the model.
    assert!(hearth(home, &["rm", "me/tiny:copy"]).status.success());
    let record =
        home.join("hearth-models/provenance/registry.ollama.ai/me/tiny/copy.provenance.json");
    assert!(!record.exists());
    let out = hearth(home, &["show", "me/tiny:copy", "--provenance"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );

    // A model installed before provenance was recorded: a note, not an error.
    let legacy =
        home.join("hearth-models/provenance/registry.ollama.ai/library/tiny/v1.provenance.json");
    assert!(legacy.is_file());
    std::fs::remove_file(&legacy).unwrap();
    let out = hearth(home, &["show", "tiny:v1", "--provenance"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("no provenance record (installed before hearth recorded provenance"),
        "{}",
        text(&out.stdout)
    );
    let out = hearth(home, &["show", "tiny:v1", "--provenance", "--json"]);
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).trim(), "null");
    // And it still shows and resolves as before.
    assert!(hearth(home, &["show", "tiny:v1"]).status.success());
}

#[test]
fn pinned_digest_mismatch_is_refused_at_load_but_provenance_still_shows() {
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    std::fs::write(
        home.join("tiny.gguf"),
        hearth_gguf::writer::tiny_llama().to_bytes(),
    )
    .unwrap();
    std::fs::write(home.join("Modelfile"), "FROM ./tiny.gguf\n").unwrap();
    assert!(hearth(home, &["create", "tiny", "-f", "Modelfile"])
        .status
        .success());
    let cfg = home.join(".config/hearth");
    std::fs::create_dir_all(&cfg).unwrap();
    let wrong = "0".repeat(64);
    std::fs::write(
        cfg.join("policy.json"),
        format!(r#"{{"pinned": {{"tiny": "sha256:{wrong}"}}}}"#),
    )
    .unwrap();
    let out = hearth(home, &["show", "tiny"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("does not match the pinned"), "{err}");
    assert!(err.contains("Load of tiny:latest"), "{err}");
    let out = hearth(home, &["show", "tiny", "--provenance"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("registry:  local"));
}

#[test]
fn scan_an_installed_model_by_name() {
    let Some(smol) = test_model(TestModel::SmolLm2) else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let home = d.path();
    std::fs::write(home.join("Modelfile"), format!("FROM {}\n", smol.display())).unwrap();
    let out = hearth(home, &["create", "smol", "--link", "-f", "Modelfile"]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let out = hearth(home, &["scan", "smol"]);
    let shown = text(&out.stdout);
    // The scan runs on the store's blob and the output names the model; SmolLM2's template
    // matches the pinned known-good one (an info finding): exit 0.
    assert!(out.status.code() == Some(0), "{shown}{}", text(&out.stderr));
    assert!(shown.starts_with("model smol:latest\n"), "{shown}");
    assert!(shown.contains("hearth-models/blobs/sha256-"), "{shown}");
    assert!(shown.contains(": GGUF (98362432 bytes)"), "{shown}");

    let out = hearth(home, &["scan", "--json", "smol"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["model"], "smol:latest");
    assert_eq!(v["file_size"], 98_362_432);

    // A path and a name together: the path's report has no model field.
    let out = hearth(home, &["scan", "--json", smol.to_str().unwrap(), "smol"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v[0].get("model").is_none());
    assert_eq!(v[1]["model"], "smol:latest");

    let out = hearth(home, &["scan", "no-such-model"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no installed model \"no-such-model:latest\""),
        "{}",
        text(&out.stderr)
    );
}
