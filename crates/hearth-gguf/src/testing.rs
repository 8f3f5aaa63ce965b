//! Locating the real test models (fetched by `scripts/fetch-test-models`) from tests in any crate.
//!
//! Tests call [`test_model`]; it returns `None` when the file is absent so a quick `cargo test`
//! works on a machine without the models, unless `HEARTH_REQUIRE_TEST_MODELS=1` is set (CI sets
//! it after fetching them), in which case a missing model fails the test.

use std::path::PathBuf;

/// The three real models hearth is tested with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestModel {
    /// Qwen2.5-Coder-0.5B-Instruct Q4_K_M (qwen2).
    Qwen05,
    /// Qwen2.5-Coder-1.5B-Instruct Q4_K_M (qwen2).
    Qwen15,
    /// SmolLM2-135M-Instruct Q4_1 (llama).
    SmolLm2,
}

impl TestModel {
    pub const ALL: [TestModel; 3] = [TestModel::Qwen05, TestModel::Qwen15, TestModel::SmolLm2];

    pub fn file_name(self) -> &'static str {
        match self {
            TestModel::Qwen05 => "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            TestModel::Qwen15 => "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            TestModel::SmolLm2 => "SmolLM2-135M-Instruct.Q4_1.gguf",
        }
    }

    pub fn sha256(self) -> &'static str {
        match self {
            TestModel::Qwen05 => "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            TestModel::Qwen15 => "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            TestModel::SmolLm2 => {
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
            }
        }
    }

    pub fn size(self) -> u64 {
        match self {
            TestModel::Qwen05 => 491_400_064,
            TestModel::Qwen15 => 1_117_320_768,
            TestModel::SmolLm2 => 98_362_432,
        }
    }
}

/// `$HEARTH_TEST_MODELS`, default `~/.cache/hearth/test-models`.
pub fn test_models_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HEARTH_TEST_MODELS").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/hearth/test-models")
}

/// Whether missing test models are an error (`HEARTH_REQUIRE_TEST_MODELS=1`, set by CI).
pub fn models_required() -> bool {
    std::env::var("HEARTH_REQUIRE_TEST_MODELS").is_ok_and(|v| v == "1")
}

/// The path of a test model, or `None` (with a note on stderr) when it has not been fetched.
/// With `HEARTH_REQUIRE_TEST_MODELS=1` a missing model panics, failing the test that asked.
#[allow(clippy::panic)] // test support: failing loudly is the point
pub fn test_model(m: TestModel) -> Option<PathBuf> {
    let p = test_models_dir().join(m.file_name());
    if p.is_file() {
        return Some(p);
    }
    if models_required() {
        panic!(
            "test model {} is missing (run scripts/fetch-test-models)",
            p.display()
        );
    }
    eprintln!(
        "skipping: test model {} not fetched (scripts/fetch-test-models)",
        p.display()
    );
    None
}
