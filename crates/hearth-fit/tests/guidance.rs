//! `hearth fit --vram 8G/12G/16G/24G` must reproduce the shape of the common guidance from
//! computation alone: a 7B-class model at Q4 runs on an 8 GB GPU, 14B on 16 GB, 32B at Q4 on
//! 24 GB, and a 70B at Q4 does not fit in 24 GB.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_fit::report::{catalog_table, FitRow};
use hearth_fit::{Budget, ContextParams, Hardware, Quant, Verdict};

const GIB: u64 = 1 << 30;

fn table(vram_gib: u64) -> Vec<FitRow> {
    let hw = Hardware::from_sizes(Some(vram_gib * GIB), 64 * GIB);
    let budget = Budget::of(&hw);
    catalog_table(&hw, &budget, &ContextParams::new(8192, 1), None)
}

fn verdict(rows: &[FitRow], model: &str, q: Quant) -> (Verdict, f64) {
    let r = rows
        .iter()
        .find(|r| r.model == model && r.quant == q)
        .unwrap_or_else(|| panic!("{model} {q}"));
    (r.verdict, r.estimate.gpu_total as f64 / GIB as f64)
}

#[test]
fn eight_gb_runs_7b_q4_but_not_14b() {
    let rows = table(8);
    let (v, gpu) = verdict(&rows, "qwen2.5-coder-7b", Quant::Q4_K_M);
    assert_eq!(v, Verdict::Gpu, "7B Q4_K_M needs {gpu:.2} GiB");
    assert!(gpu > 4.5 && gpu < 7.0, "{gpu}");
    // 7B at Q8_0 (~7.5 GiB of weights) no longer fits entirely.
    assert_ne!(
        verdict(&rows, "qwen2.5-coder-7b", Quant::Q8_0).0,
        Verdict::Gpu
    );
    assert_ne!(
        verdict(&rows, "qwen2.5-coder-14b", Quant::Q4_K_M).0,
        Verdict::Gpu
    );
}

#[test]
fn twelve_gb_runs_7b_q8() {
    let rows = table(12);
    assert_eq!(
        verdict(&rows, "qwen2.5-coder-7b", Quant::Q8_0).0,
        Verdict::Gpu
    );
    assert_ne!(
        verdict(&rows, "qwen2.5-coder-32b", Quant::Q4_K_M).0,
        Verdict::Gpu
    );
}

#[test]
fn sixteen_gb_runs_14b_q4() {
    let rows = table(16);
    let (v, gpu) = verdict(&rows, "qwen2.5-coder-14b", Quant::Q4_K_M);
    assert_eq!(v, Verdict::Gpu, "14B Q4_K_M needs {gpu:.2} GiB");
    assert!(gpu > 8.5 && gpu < 14.0, "{gpu}");
    assert_ne!(
        verdict(&rows, "qwen2.5-coder-14b", Quant::F16).0,
        Verdict::Gpu
    );
}

#[test]
fn twenty_four_gb_runs_32b_q4_but_not_70b() {
    let rows = table(24);
    let (v, gpu) = verdict(&rows, "qwen2.5-coder-32b", Quant::Q4_K_M);
    assert_eq!(v, Verdict::Gpu, "32B Q4_K_M needs {gpu:.2} GiB");
    assert!(gpu > 18.0 && gpu < 23.5, "{gpu}");
    assert_eq!(
        verdict(&rows, "deepseek-r1-distill-qwen-32b", Quant::Q4_K_M).0,
        Verdict::Gpu
    );
    // 70B at Q4: about 40 GiB of weights. With 64 GiB of RAM it can still run split.
    let (v70, _) = verdict(&rows, "llama-3.1-70b", Quant::Q4_K_M);
    assert!(matches!(v70, Verdict::Partial { .. }), "{v70:?}");
    let r = rows
        .iter()
        .find(|r| r.model == "llama-3.1-70b" && r.quant == Quant::Q4_K_M)
        .unwrap();
    assert!(r.estimate.weights_total as f64 / GIB as f64 > 38.0);
}

#[test]
fn without_enough_ram_70b_does_not_fit_at_all() {
    let hw = Hardware::from_sizes(Some(24 * GIB), 16 * GIB);
    let rows = catalog_table(&hw, &Budget::of(&hw), &ContextParams::new(8192, 1), None);
    assert_eq!(
        verdict(&rows, "llama-3.1-70b", Quant::Q4_K_M).0,
        Verdict::DoesNotFit
    );
}

#[test]
fn recommendation_grows_with_the_gpu() {
    let pick = |vram| {
        let rows = table(vram);
        let r = rows
            .iter()
            .find(|r| r.recommended)
            .expect("a recommendation")
            .clone();
        assert_eq!(
            r.verdict,
            Verdict::Gpu,
            "{vram} GiB: {} {}",
            r.model,
            r.quant
        );
        (r.model, r.params)
    };
    let ((m8, p8), (_, p16), (m24, p24)) = (pick(8), pick(16), pick(24));
    assert_eq!(m8, "qwen2.5-coder-7b");
    assert_eq!(m24, "qwen2.5-coder-32b");
    assert!(p8 < p16 && p16 < p24, "{p8} {p16} {p24}");
}

#[test]
fn moe_speed_uses_active_parameters() {
    let rows = table(24);
    let lite = rows
        .iter()
        .find(|r| r.model == "deepseek-coder-v2-lite" && r.quant == Quant::Q4_K_M)
        .unwrap();
    let q14 = rows
        .iter()
        .find(|r| r.model == "qwen2.5-coder-14b" && r.quant == Quant::Q4_K_M)
        .unwrap();
    // 15.7B parameters in memory but 2.4B read per token: faster than a dense 14B.
    assert!(lite.params > q14.params);
    let (a, b) = (
        lite.speed.unwrap().decode_tok_s,
        q14.speed.unwrap().decode_tok_s,
    );
    assert!(a > 2.0 * b, "{a} vs {b}");
}
