//! `hearth verify` on OpenSSF model-signing (OMS) bundles made by the reference tool
//! (fixtures in crates/hearth-guard/tests/fixtures/oms).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../hearth-guard/tests/fixtures/oms")
}

fn verify(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("verify")
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn verifies_reference_bundles_and_names_the_files() {
    let f = fixtures();
    // PEM key: OMS mode is detected; MODEL/model.sig is the default bundle.
    let o = verify(&["--pubkey", "pub.pem", "model"], &f);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("OK: OMS signature"), "{out}");
    for name in ["config.json", "sub/tokenizer.json", "weights.dat"] {
        assert!(out.contains(&format!("  {name}\n")), "{out}");
    }
    let o = verify(
        &[
            "--key",
            "pub.pem",
            "--oms-bundle",
            "single.model.sig",
            "single.model",
        ],
        &f,
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn tampered_model_and_wrong_bundle_fail() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("model");
    std::fs::create_dir_all(model.join("sub")).unwrap();
    for name in [
        "config.json",
        "weights.dat",
        "sub/tokenizer.json",
        "model.sig",
    ] {
        std::fs::copy(fixtures().join("model").join(name), model.join(name)).unwrap();
    }
    std::fs::copy(fixtures().join("pub.pem"), dir.path().join("pub.pem")).unwrap();
    let ok = verify(&["-p", "pub.pem", "model"], dir.path());
    assert!(ok.status.success(), "{}", text(&ok));

    std::fs::write(model.join("config.json"), b"{\"hidden_size\": 9}\n").unwrap();
    std::fs::write(model.join("payload.py"), b"import os\n").unwrap();
    let bad = verify(&["-p", "pub.pem", "model"], dir.path());
    assert!(!bad.status.success());
    let err = text(&bad);
    assert!(err.contains("config.json: digest mismatch"), "{err}");
    assert!(err.contains("payload.py: present but not signed"), "{err}");

    // The single-file bundle does not describe this directory.
    let single = fixtures().join("single.model.sig");
    let bad = verify(
        &[
            "-p",
            "pub.pem",
            "--oms-bundle",
            single.to_str().unwrap(),
            "model",
        ],
        dir.path(),
    );
    assert!(!bad.status.success());
    assert!(
        text(&bad).contains(".: signed but missing"),
        "{}",
        text(&bad)
    );
}
