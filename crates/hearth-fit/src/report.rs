//! The `hearth fit` table: every catalog model × quantization on one machine.
use serde::Serialize;

use crate::catalog::MODELS;
use crate::estimate::ContextParams;
use crate::hw::Hardware;
use crate::plan::{place, Budget, MemoryEstimate, ModelSpec, Verdict};
use crate::quant::Quant;
use crate::speed::{speed, Calibration, SpeedEstimate};

/// Decode speed below which a placement is listed but not recommended for interactive use.
pub const INTERACTIVE_TOK_S: f64 = 10.0;

/// One model × quantization.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitRow {
    pub model: String,
    pub quant: Quant,
    pub params: u64,
    pub active_params: u64,
    pub verdict: Verdict,
    /// GPU + RAM the placement needs to run at full speed.
    pub memory: u64,
    /// GPU + RAM it will show as resident (more than `memory` where the CPU repacks weights).
    pub resident: u64,
    pub estimate: MemoryEstimate,
    pub speed: Option<SpeedEstimate>,
    /// The quantization to pick for this model on this machine.
    pub best_for_model: bool,
    /// Why it is the pick (set on `best_for_model` rows).
    pub why: Option<String>,
    /// The overall recommendation (one row at most).
    pub recommended: bool,
}

/// Rows for every catalog model and quantization at `p`, on `hw` within `budget`.
pub fn catalog_table(
    hw: &Hardware,
    budget: &Budget,
    p: &ContextParams,
    calib: Option<&Calibration>,
) -> Vec<FitRow> {
    let mut rows = Vec::new();
    for m in MODELS {
        for q in Quant::ALL {
            let spec = ModelSpec::from_catalog(m, q);
            rows.push(row(&spec, hw, budget, p, calib));
        }
    }
    mark_recommendations(&mut rows);
    rows
}

/// One row for a model spec.
pub fn row(
    spec: &ModelSpec,
    hw: &Hardware,
    budget: &Budget,
    p: &ContextParams,
    calib: Option<&Calibration>,
) -> FitRow {
    let (verdict, estimate) = place(spec, p, budget);
    // Speed with the context half full, a typical coding session.
    let fill = u64::from(p.n_ctx / p.n_parallel.max(1) / 2);
    let sp = (verdict != Verdict::DoesNotFit).then(|| speed(spec, &estimate, hw, calib, fill));
    FitRow {
        model: spec.shape.name.clone(),
        quant: spec.quant.unwrap_or(Quant::F16),
        params: spec.shape.n_params,
        active_params: spec.shape.n_active_params,
        verdict,
        memory: estimate.needed(),
        resident: estimate.total(),
        estimate,
        speed: sp,
        best_for_model: false,
        why: None,
        recommended: false,
    }
}

/// Per model, the best quantization: the highest-quality one that runs fully on the GPU; else,
/// among those at interactive speed whose quality is close to F16 (see
/// [`crate::quant::CLOSE_QUALITY`]), the fastest, unless a higher-quality one is within 10%
/// of its speed; else the fastest that fits. Overall: the largest model whose best row runs
/// entirely on the GPU at interactive speed, or, when none does, the largest whose best row
/// reaches interactive speed at all.
pub fn mark_recommendations(rows: &mut [FitRow]) {
    let mut best_rows = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let model = rows[i].model.clone();
        let end = rows[i..]
            .iter()
            .position(|r| r.model != model)
            .map_or(rows.len(), |k| i + k);
        if let Some((k, why)) = pick(&rows[i..end]) {
            rows[i + k].best_for_model = true;
            rows[i + k].why = Some(why);
            best_rows.push(i + k);
        }
        i = end;
    }
    // Prefer what runs entirely on a GPU; partial offload only when nothing does. Among
    // equals, the first in catalog order (the Qwen coders before the R1 distill).
    let interactive = |k: &usize| {
        rows[*k]
            .speed
            .is_some_and(|s| s.decode_tok_s >= INTERACTIVE_TOK_S)
    };
    let size = |k: &usize| rows[*k].active_params.max(rows[*k].params / 4);
    let on_gpu: Vec<usize> = best_rows
        .iter()
        .copied()
        .filter(|k| rows[*k].verdict == Verdict::Gpu && interactive(k))
        .collect();
    let pool = if on_gpu.is_empty() {
        best_rows.into_iter().filter(interactive).collect()
    } else {
        on_gpu
    };
    let overall = pool.into_iter().rev().max_by_key(size);
    if let Some(k) = overall {
        rows[k].recommended = true;
    }
}

/// The best row of one model's rows (index and reason), see [`mark_recommendations`].
fn pick(group: &[FitRow]) -> Option<(usize, String)> {
    let decode = |r: &FitRow| r.speed.map_or(0.0, |s| s.decode_tok_s);
    let fits = |r: &FitRow| r.verdict != Verdict::DoesNotFit;
    let needed = |r: &FitRow| crate::human_bytes(r.memory);
    if let Some((k, r)) = group
        .iter()
        .enumerate()
        .rev()
        .find(|(_, r)| r.verdict == Verdict::Gpu && r.quant != Quant::F16)
    {
        return Some((
            k,
            format!(
                "{}: the highest quality that runs entirely on the GPU ({} needed)",
                r.quant,
                needed(r)
            ),
        ));
    }
    let close: Vec<(usize, &FitRow)> = group
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            fits(r)
                && decode(r) >= INTERACTIVE_TOK_S
                && r.quant.ppl_increase() <= crate::quant::CLOSE_QUALITY
        })
        .collect();
    if let Some(&(fast_k, fast)) = close
        .iter()
        .max_by(|a, b| decode(a.1).total_cmp(&decode(b.1)))
    {
        // A better-quality recipe nearly as fast wins.
        let (k, r) = close
            .iter()
            .filter(|(_, r)| decode(r) >= 0.9 * decode(fast))
            .min_by(|a, b| {
                a.1.quant
                    .ppl_increase()
                    .total_cmp(&b.1.quant.ppl_increase())
            })
            .copied()
            .unwrap_or((fast_k, fast));
        let slower: Vec<String> = close
            .iter()
            .filter(|(j, _)| *j != k)
            .map(|(_, o)| {
                let ratio = decode(r) / decode(o).max(1e-9);
                if ratio >= 1.0 {
                    format!("{:.0}% faster than {}", (ratio - 1.0) * 100.0, o.quant)
                } else {
                    format!(
                        "{:.0}% slower than {}, which costs {:.1}% perplexity",
                        (1.0 - ratio) * 100.0,
                        o.quant,
                        o.quant.ppl_increase() * 100.0
                    )
                }
            })
            .collect();
        let compare = if slower.is_empty() {
            String::new()
        } else {
            format!("; {}", slower.join(", "))
        };
        return Some((
            k,
            format!(
                "{}: decodes ~{:.1} tok/s at a perplexity cost of {:.1}% over F16{compare}; {} needed",
                r.quant,
                decode(r),
                r.quant.ppl_increase() * 100.0,
                needed(r)
            ),
        ));
    }
    group
        .iter()
        .enumerate()
        .filter(|(_, r)| fits(r))
        .max_by(|a, b| decode(a.1).total_cmp(&decode(b.1)))
        .map(|(k, r)| {
            (
                k,
                format!(
                    "{}: the fastest that fits (~{:.1} tok/s, below interactive speed)",
                    r.quant,
                    decode(r)
                ),
            )
        })
}
