//! `hearth sandbox` and `hearth check-code` end to end through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::process::{Command, Stdio};

fn hearth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
}

#[cfg(target_os = "linux")]
#[test]
fn sandbox_runs_a_command_reports_protections_and_maps_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = hearth()
        .args(["sandbox", "--json", "--dir"])
        .arg(dir.path())
        .args(["--", "/bin/sh", "-c", "echo hi; exit 7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stdout"], "hi\n");
    assert_eq!(v["status"], 7);
    let prots = v["protections"].as_array().unwrap();
    assert!(prots.iter().any(|p| p["protection"] == "seccomp"));
    assert!(prots.iter().all(|p| p["status"]["state"].is_string()));

    let out = hearth()
        .args([
            "sandbox",
            "--timeout",
            "0.5",
            "--",
            "/bin/sh",
            "-c",
            "while :; do :; done",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("timeout"));

    let out = hearth().args(["sandbox"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn check_code_reads_a_file_or_stdin_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("app.py");
    std::fs::write(&f, "import os\ndef f(x):\n    os.system('ls ' + x)\n").unwrap();
    let out = hearth().arg("check-code").arg(&f).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(":3:5: high CWE-78 [os-command-injection]"),
        "{text}"
    );

    let mut child = hearth()
        .args(["check-code", "-", "--lang", "go", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"package main\nimport \"crypto/sha256\"\nfunc h(b []byte) [32]byte { return sha256.Sum256(b) }\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["language"], "go");
    assert_eq!(v["findings"].as_array().unwrap().len(), 0);

    let out = hearth().args(["check-code", "-"]).output().unwrap();
    assert!(
        !out.status.success(),
        "stdin without --lang must be refused"
    );
}
