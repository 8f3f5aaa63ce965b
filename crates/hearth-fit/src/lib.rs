//! `hearth-fit`: what can this machine run, at what speed, and will it fit.
//!
//! - [`hw`]: hardware detection (CPU, RAM with cgroup limits, NVIDIA GPUs, Apple unified
//!   memory) and [`bandwidth`]: a cached memory-bandwidth probe.
//! - [`shape`], [`quant`], [`estimate`]: model shapes (from GGUF files or the [`catalog`]),
//!   weights, the KV cache exactly as llama.cpp sizes it, compute buffers and overhead.
//! - [`plan`]: the GPU/CPU split; the server's engine adapter calls [`plan()`] with the context
//!   and parallelism of each load before loading.
//! - [`speed`]: decode/prefill estimates, calibrated by `hearth bench` results.
//! - [`report`]: the `hearth fit` table.
//!
//! Pure Rust over `hearth-gguf`; it never links llama.cpp.

pub mod bandwidth;
pub mod catalog;
pub mod estimate;
pub mod hw;
pub mod plan;
pub mod quant;
pub mod report;
pub mod shape;
pub mod speed;

use std::path::PathBuf;

use serde::Serialize;

pub use estimate::{kv_cache, ContextParams, KvEstimate};
pub use hw::Hardware;
pub use plan::{
    plan, plan_load, plan_load_path, plan_load_with, Budget, LoadPlan, MemoryEstimate, ModelSpec,
    Verdict,
};
pub use quant::{CacheType, Quant};
pub use shape::ModelShape;

/// What would fit instead.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Suggestion {
    /// Human-readable: "would fit: Q4_K_M at ctx 32768; or this model at ctx 8192".
    pub text: String,
    /// A smaller quantization that fits at the asked context.
    pub quant: Option<Quant>,
    /// The largest context that fits with this model file.
    pub n_ctx: Option<u32>,
    /// A KV cache type that makes the asked context fit.
    pub cache_type: Option<CacheType>,
}

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error("model {model}: {reason}")]
    BadModel { model: String, reason: String },
    #[error("cannot read model file {}: {source}", path.display())]
    Gguf {
        path: PathBuf,
        #[source]
        source: Box<hearth_gguf::GgufError>,
    },
    #[error(
        "{model} at ctx {n_ctx} needs {} but only {} is available; {}",
        human_bytes(*needed), human_bytes(*available), suggestion.text
    )]
    DoesNotFit {
        model: String,
        n_ctx: u32,
        needed: u64,
        available: u64,
        suggestion: Suggestion,
    },
}

/// `1.5 GiB`, `512.0 MiB`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Parse a size: `24G`, `24GB`, `24GiB`, `512M`, `1.5T`, or plain bytes. Units are binary
/// (G = GiB), as users mean them for RAM and VRAM.
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1u64,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    let v = n * mult as f64;
    (v.is_finite() && (0.0..1.0e19).contains(&v)).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("24G"), Some(24 << 30));
        assert_eq!(parse_size("24GiB"), Some(24 << 30));
        assert_eq!(parse_size("512m"), Some(512 << 20));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("5Q"), None);
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
    }
}
