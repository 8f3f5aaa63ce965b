//! plan_load: the server's pre-load check. GPU layers are the most that fit; a model that does
//! not fit is refused with what would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hearth_fit::plan::{estimate, place};
use hearth_fit::{plan_load, Budget, ContextParams, FitError, Hardware, ModelSpec, Quant, Verdict};
use hearth_gguf::testing::{test_model, TestModel};
use hearth_gguf::GgufFile;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

#[test]
fn plan_load_fits_on_this_kind_of_machine_and_refuses_a_tiny_budget() {
    let Some(path) = test_model(TestModel::Qwen15) else {
        return;
    };
    let f = GgufFile::open(&path).unwrap();
    let hw = Hardware::from_sizes(None, 16 * GIB);
    let ok = plan_load(&f, 8192, 1, &hw, &Budget::of(&hw)).unwrap();
    assert_eq!(ok.gpu_layers, 0);
    assert_eq!(ok.verdict, Verdict::CpuOnly);

    let tight = Budget {
        ram: 1600 * MIB,
        vram: 0,
        unified: false,
    };
    match plan_load(&f, 32768, 1, &hw, &tight) {
        Err(FitError::DoesNotFit {
            needed,
            available,
            suggestion,
            ..
        }) => {
            assert!(needed > available);
            // 1.6 GiB holds the 1.06 GiB of weights, buffers and a smaller context: the suggestion
            // names a context that fits, and it really does.
            let n_ctx = suggestion.n_ctx.expect("a smaller context");
            assert!(n_ctx < 32768 && n_ctx % 256 == 0, "{n_ctx}");
            assert!(plan_load(&f, n_ctx, 1, &hw, &tight).is_ok());
            assert!(plan_load(&f, n_ctx + 256, 1, &hw, &tight).is_err());
            let msg = FitError::DoesNotFit {
                model: "m".into(),
                n_ctx: 32768,
                needed,
                available,
                suggestion,
            }
            .to_string();
            assert!(msg.contains("would fit") && msg.contains("ctx"), "{msg}");
        }
        other => panic!("expected DoesNotFit, got {other:?}"),
    }
}

#[test]
fn partial_offload_picks_the_most_layers_that_fit() {
    let spec = ModelSpec::from_catalog(
        hearth_fit::catalog::find("qwen2.5-coder-32b").unwrap(),
        Quant::Q4_K_M,
    );
    let p = ContextParams::new(8192, 1);
    let budget = Budget {
        ram: 64 * GIB,
        vram: 12 * GIB,
        unified: false,
    };
    let (v, e) = place(&spec, &p, &budget);
    let Verdict::Partial { gpu_layers, of } = v else {
        panic!("{v:?}")
    };
    assert_eq!(of, 65);
    assert!(e.gpu_total <= budget.vram);
    // One more layer would not fit.
    assert!(estimate(&spec, &p, gpu_layers + 1, true).gpu_total > budget.vram);
    // The GPU holds the output layer and the last layers; the rest is in RAM.
    assert!(e.weights_cpu > 0 && e.kv_cpu > 0 && e.kv_gpu > 0);
}

#[test]
fn a_smaller_quantization_is_suggested_when_it_fits() {
    let spec = ModelSpec::from_catalog(
        hearth_fit::catalog::find("qwen2.5-coder-14b").unwrap(),
        Quant::F16,
    );
    let p = ContextParams::new(8192, 1);
    let budget = Budget {
        ram: 20 * GIB,
        vram: 0,
        unified: false,
    };
    let err = hearth_fit::plan(&spec, &p, &budget).unwrap_err();
    let FitError::DoesNotFit { suggestion, .. } = err else {
        panic!()
    };
    // F16 (~28 GiB) does not fit 20 GiB; Q8_0 (~15 GiB) does.
    assert_eq!(suggestion.quant, Some(Quant::Q8_0));
    assert!(suggestion.text.contains("Q8_0"), "{}", suggestion.text);
}
