//! `hearth bench` results calibrate the speed estimate: a benchmarked model is predicted at
//! its measured speed, and other models scale from it by bytes (decode) and FLOPs (prefill).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_fit::estimate::ContextParams;
use hearth_fit::plan::estimate;
use hearth_fit::speed::{speed, weights_read_per_token, BenchRecord, Calibration};
use hearth_fit::{Hardware, ModelSpec};
use hearth_gguf::testing::{test_model, TestModel};

#[test]
fn a_benchmarked_model_is_predicted_at_its_measured_speed() {
    let (Some(p05), Some(p15)) = (test_model(TestModel::Qwen05), test_model(TestModel::Qwen15))
    else {
        return;
    };
    let hw = Hardware::from_sizes(None, 16 << 30);
    let rec = BenchRecord {
        cpu_model: hw.cpu.model.clone(),
        model_file: Some(p05.display().to_string()),
        model_bytes: 491_400_064,
        n_params: Some(630_167_424),
        gpu_layers: 0,
        threads: Some(2),
        prompt_tokens: Some(512),
        prompt_tok_s: Some(300.0),
        decode_tok_s: Some(60.0),
    };
    let calib = Calibration::from_records(&[rec], &hw.cpu.model).unwrap();
    let p = ContextParams::new(2048, 1);
    let s05 = ModelSpec::from_path(&p05).unwrap();
    let e05 = estimate(&s05, &p, 0, false);
    let sp = speed(&s05, &e05, &hw, Some(&calib), 0);
    assert!(sp.calibrated);
    assert!((sp.decode_tok_s - 60.0).abs() < 0.01, "{}", sp.decode_tok_s);
    assert!(
        (sp.prefill_tok_s - 300.0).abs() < 0.01,
        "{}",
        sp.prefill_tok_s
    );
    // The 1.5B reads proportionally more bytes per token.
    let s15 = ModelSpec::from_path(&p15).unwrap();
    let e15 = estimate(&s15, &p, 0, false);
    let sp15 = speed(&s15, &e15, &hw, Some(&calib), 0);
    let ratio = weights_read_per_token(&s15) as f64 / weights_read_per_token(&s05) as f64;
    assert!((sp15.decode_tok_s * ratio - 60.0).abs() < 0.01);
    // A full context adds the KV cache to the bytes read: slower.
    let sp_full = speed(&s15, &e15, &hw, Some(&calib), 2048);
    assert!(sp_full.decode_tok_s < sp15.decode_tok_s);
}
