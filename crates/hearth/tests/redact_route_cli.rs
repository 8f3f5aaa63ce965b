//! `hearth redact` and `hearth route --explain` end to end through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn hearth() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
}

#[test]
fn redact_replaces_secrets_and_sets_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let env = dir.path().join(".env");
    std::fs::write(&env, "STAGING_DB_PASS=\"tr0ub4dor&3x\"\n").unwrap();
    let prompt = dir.path().join("prompt.txt");
    std::fs::write(
        &prompt,
        "Fix this config:\nGITHUB_TOKEN=ghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u\nhost = api.corp.example.com\n",
    )
    .unwrap();
    let out = hearth()
        .arg("redact")
        .arg(&prompt)
        .args(["--internal-domain", "corp.example.com"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Fix this config:\nGITHUB_TOKEN=HEARTH_"),
        "{text}"
    );
    assert!(
        !text.contains("ghp_R8x2") && !text.contains("api.corp"),
        "{text}"
    );
    assert!(text.contains(".invalid\n"), "{text}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("internal-host"), "{err}");

    // A known value blocks; --json says which rule.
    std::fs::write(&prompt, "password is tr0ub4dor&3x\n").unwrap();
    let out = hearth()
        .arg("redact")
        .arg(&prompt)
        .arg("--env-file")
        .arg(&env)
        .arg("--json")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["blocked"], "known-value");
    assert!(v["text"]
        .as_str()
        .unwrap()
        .starts_with("password is HEARTH_STAGING_DB_PASS_"));

    // Nothing to hide: the text as it was, exit 0.
    std::fs::write(&prompt, "def add(a, b):\n    return a + b\n").unwrap();
    let out = hearth().arg("redact").arg(&prompt).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(out.stdout, b"def add(a, b):\n    return a + b\n");
}

#[test]
fn route_explains_without_sending() {
    let dir = tempfile::tempdir().unwrap();
    let req = dir.path().join("req.json");
    std::fs::write(
        &req,
        r#"{"model": "qwen2.5-coder:1.5b", "messages": [{"role": "user", "content": "fix it"}],
            "tools": [{"type": "function", "function": {"name": "bash"}}]}"#,
    )
    .unwrap();
    let route = |config: &std::path::Path, extra: &[&str]| {
        hearth()
            .current_dir(dir.path())
            .env_remove("HEARTH_NO_CLOUD")
            .args(["route", "--explain"])
            .arg(&req)
            .arg("--config")
            .arg(config)
            .args(extra)
            .output()
            .unwrap()
    };
    // No policy file: local-only, and an explicit cloud ask is refused.
    let none = dir.path().join("missing.toml");
    let out = route(&none, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("→ local (mode:local-only)"));
    let out = route(&none, &["-H", "X-Hearth-Route: cloud"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");

    let cfg = dir.path().join("router.toml");
    std::fs::write(
        &cfg,
        "[router]\nmode = \"hybrid\"\n[[upstream]]\nname = \"up\"\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9\"\n\
         [[alias]]\nname = \"smart\"\ntarget = \"up:big\"\nfallback = [\"local\"]\n\
         [[rule]]\nid = \"agent\"\nwhen = { has_tools = true }\nroute = \"alias:smart\"\n",
    )
    .unwrap();
    let out = route(&cfg, &["--json"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"]["route"], "cloud");
    assert_eq!(v["decision"]["upstream"], "up");
    assert_eq!(v["decision"]["rule"], "rule:agent");
    // A private key in the conversation keeps it local, whatever the rules say.
    let with_key = dir.path().join("key.json");
    std::fs::write(
        &with_key,
        serde_json::json!({"model": "m", "tools": [{"type": "function", "function": {"name": "bash"}}],
            "messages": [{"role": "user", "content": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n-----END OPENSSH PRIVATE KEY-----"}]})
            .to_string(),
    )
    .unwrap();
    let out = hearth()
        .current_dir(dir.path())
        .env_remove("HEARTH_NO_CLOUD")
        .args(["route", "--json", "--explain"])
        .arg(&with_key)
        .arg("--config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"]["rule"], "guard:private-key");
    assert_eq!(v["secrets"]["private-key"], 1);
    // The project's file tightens it back to local.
    std::fs::create_dir_all(dir.path().join(".hearth")).unwrap();
    std::fs::write(
        dir.path().join(".hearth/router.toml"),
        "[router]\nmode = \"local-only\"\n",
    )
    .unwrap();
    let out = route(&cfg, &[]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // A broken policy names its file.
    std::fs::write(&cfg, "[router]\nmode = \"maybe\"\n").unwrap();
    let out = route(&cfg, &[]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("router.toml"),
        "{out:?}"
    );
}

#[test]
fn audit_sums_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let day = 20_794u64 * 86_400;
    std::fs::write(
        &log,
        format!(
            "{{\"ts\":{day},\"project\":\"acme\",\"upstream\":\"up\",\"model\":\"big\",\"status\":\"ok\",\"bytes_out\":120,\"prompt_tokens\":1000,\"completion_tokens\":500,\"cost_usd\":0.0105,\"redactions\":{{\"github-token\":2}},\"fallback\":null}}\n"
        ),
    )
    .unwrap();
    let out = hearth()
        .args(["audit", "--json", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["by_day"]["2026-12-07"]["attempts"], 1);
    assert_eq!(v["by_project"]["acme"]["cost_usd"], 0.0105);
    assert_eq!(v["top_rules"][0][0], "github-token");
    let out = hearth()
        .args(["audit", "--log"])
        .arg(&log)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("2026-12-07") && text.contains("acme"),
        "{text}"
    );
    assert!(
        text.contains("total: 1 attempts, 120 bytes out, $0.0105"),
        "{text}"
    );
}
