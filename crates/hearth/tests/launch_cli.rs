//! `hearth launch TOOL --print`: the setup each agent or editor gets, for the server at
//! HEARTH_HOST, checked as the text a user would paste.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

fn launch(args: &[&str], key: Option<&str>) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
    cmd.arg("launch")
        .args(args)
        .env("HOME", home.path())
        .env("HEARTH_HOST", "127.0.0.1:18123")
        .env("HEARTH_MODELS", home.path().join("models"))
        .env("OLLAMA_MODELS", home.path().join("none"))
        .env("HEARTH_EXTRA_STORES", "")
        .env("PATH", home.path());
    match key {
        Some(k) => cmd.env("HEARTH_API_KEY", k),
        None => cmd.env_remove("HEARTH_API_KEY"),
    };
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn print_for_every_tool() {
    let m = ["--print", "--model", "qwen2.5-coder:1.5b"];
    let run = |tool: &str| {
        let mut a = vec![tool];
        a.extend(m);
        let (code, out, err) = launch(&a, None);
        assert_eq!(code, 0, "{err}");
        out
    };
    let claude = run("claude");
    assert!(
        claude.contains("export ANTHROPIC_BASE_URL=http://127.0.0.1:18123\n"),
        "{claude}"
    );
    assert!(
        claude.contains("export ANTHROPIC_MODEL=qwen2.5-coder:1.5b\n"),
        "{claude}"
    );
    assert!(
        claude.ends_with("claude --model qwen2.5-coder:1.5b\n"),
        "{claude}"
    );

    let codex = run("codex");
    assert!(
        codex.starts_with("codex -c 'model_provider=\"hearth\"'"),
        "{codex}"
    );
    assert!(
        codex.contains("'model_providers.hearth.base_url=\"http://127.0.0.1:18123/v1\"'"),
        "{codex}"
    );
    assert!(
        codex.contains("'model_providers.hearth.wire_api=\"responses\"'"),
        "{codex}"
    );
    assert!(codex.contains("model_context_window=32768"), "{codex}");

    let opencode = run("opencode");
    let json = opencode
        .strip_prefix("export OPENCODE_CONFIG_CONTENT='")
        .and_then(|r| r.split_once("'\n"))
        .unwrap()
        .0;
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(v["model"], "hearth/qwen2.5-coder:1.5b");
    assert_eq!(
        v["provider"]["hearth"]["options"]["baseURL"],
        "http://127.0.0.1:18123/v1"
    );

    let aider = run("aider");
    assert!(
        aider.contains("export OLLAMA_API_BASE=http://127.0.0.1:18123\n"),
        "{aider}"
    );
    assert!(
        aider.contains("aider --model ollama_chat/qwen2.5-coder:1.5b"),
        "{aider}"
    );

    let zed = run("zed");
    assert!(
        zed.contains("\"api_url\": \"http://127.0.0.1:18123\""),
        "{zed}"
    );
    assert!(zed.contains("\"provider\": \"ollama\""), "{zed}");

    let cont = run("continue");
    assert!(cont.contains("provider: ollama\n"), "{cont}");
    assert!(cont.contains("apiBase: http://127.0.0.1:18123\n"), "{cont}");
    assert!(
        cont.contains("roles: [chat, edit, apply, autocomplete]"),
        "{cont}"
    );
    assert!(cont.contains("cn --config "), "{cont}");
}

#[test]
fn a_key_travels_and_a_missing_tool_is_named() {
    let (code, out, _) = launch(&["codex", "--print", "-m", "m"], Some("s3cret"));
    assert_eq!(code, 0);
    assert!(out.starts_with("export HEARTH_API_KEY=s3cret\n"), "{out}");
    assert!(out.contains("env_key=\"HEARTH_API_KEY\""), "{out}");
    // Not installed (PATH is empty): the setup is shown and the exit status says so.
    let (code, _, err) = launch(&["claude", "-m", "m"], None);
    assert_ne!(code, 0);
    assert!(err.contains("claude is not installed"), "{err}");
    assert!(err.contains("ANTHROPIC_BASE_URL"), "{err}");
    // No model named and none installed.
    let (code, _, err) = launch(&["claude", "--print"], None);
    assert_ne!(code, 0);
    assert!(err.contains("no model is installed"), "{err}");
}
