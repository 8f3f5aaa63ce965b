#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Autocomplete quality floor: a fixed subset of the public HumanEval single-line infilling set
//! (`shared/data/human-eval-infilling`, OpenAI, MIT) through the default autocomplete path an
//! editor uses (Ollama `/api/generate` with `suffix`, only `temperature: 0` set), with the real
//! 0.5B. Fails when fewer first lines than the recorded floor equal the masked line: a change
//! to sampling defaults, prompt layout, healing or shaping that costs completions shows up
//! here. The full comparison with llama.cpp is `scripts/fim-quality`.
mod common;

use std::io::Read;
use std::path::PathBuf;

use common::*;
use hearth_gguf::testing::{models_required, test_model, TestModel};
use hearth_server::config::ServerConfig;
use serde_json::{json, Value};

const MODEL: &str = "qwen2.5-coder:0.5b";
/// Every 17th task of the 1,033: 61 tasks over 60 problems (about two minutes on 2 cores).
const STRIDE: usize = 17;
/// Exact first lines measured on this subset when the floor was set (2026-12-07, 2-vCPU AMD
/// EPYC), and the floor: one below, so a single flip from a different CPU's kernels does not
/// fail. The causes fixed in issue 17 cost more: with the old 1.1 repeat penalty this subset
/// scores 22.
const MEASURED: usize = 24;
const FLOOR: usize = MEASURED.saturating_sub(1);

fn data_file() -> Option<PathBuf> {
    let name = "HumanEval-SingleLineInfilling.jsonl.gz";
    if let Some(d) = std::env::var_os("HEARTH_FIM_DATA") {
        return Some(PathBuf::from(d).join(name));
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|a| a.join("shared/data/human-eval-infilling").join(name))
        .find(|p| p.is_file())
}

#[tokio::test]
async fn single_line_infilling_stays_above_its_floor() {
    let Some(model) = test_model(TestModel::Qwen05) else {
        return;
    };
    let Some(file) = data_file() else {
        assert!(
            !models_required(),
            "shared/data/human-eval-infilling not found (set HEARTH_FIM_DATA)"
        );
        return;
    };
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&file).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let tasks: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(tasks.len(), 1033, "{}", file.display());

    let cfg = ServerConfig {
        threads: Some(2),
        default_num_ctx: 2048,
        ..ServerConfig::default()
    };
    let (_dir, s) = serve_models(&[(MODEL, &model)], cfg);
    let mut exact = Vec::new();
    let mut missed = Vec::new();
    for t in tasks.iter().step_by(STRIDE) {
        let body = json!({"model": MODEL, "prompt": t["prompt"], "suffix": t["suffix"],
            "stream": false, "options": {"temperature": 0, "num_predict": 48}});
        let r = send(&s, post("/api/generate", body.to_string())).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let got = r.json()["response"].as_str().unwrap().to_string();
        let first = got.split('\n').next().unwrap_or_default();
        let want = t["canonical_solution"].as_str().unwrap();
        let id = t["task_id"].as_str().unwrap().to_string();
        if first.trim() == want.trim() {
            exact.push(id);
        } else {
            missed.push(format!("{id}: want {:?}, got {got:?}", want.trim_end()));
        }
    }
    eprintln!(
        "exact first lines: {} of {} (floor {FLOOR})",
        exact.len(),
        exact.len() + missed.len()
    );
    assert!(
        exact.len() >= FLOOR,
        "autocomplete quality fell: {} exact of {} (floor {FLOOR}); misses:\n{}",
        exact.len(),
        exact.len() + missed.len(),
        missed.join("\n")
    );
}
