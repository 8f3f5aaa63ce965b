//! Locating the real test models (fetched by `scripts/fetch-test-models`) from tests in any crate.
//!
//! Tests call [`test_model`]; it returns `None` when the file is absent so a quick `cargo test`
//! works on a machine without the models, unless `HEARTH_REQUIRE_TEST_MODELS=1` is set (CI sets
//! it after fetching them), in which case a missing model fails the test.

use std::path::PathBuf;

/// The real models hearth is tested with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestModel {
    /// Qwen2.5-Coder-0.5B-Instruct Q4_K_M (qwen2).
    Qwen05,
    /// Qwen2.5-Coder-1.5B-Instruct Q4_K_M (qwen2).
    Qwen15,
    /// SmolLM2-135M-Instruct Q4_1 (llama).
    SmolLm2,
    /// all-MiniLM-L6-v2 (bert, F16), an embedding model: converted by `hearth convert` from the
    /// safetensors `scripts/fetch-test-models` downloads (no registry ships it as GGUF).
    MiniLm,
}

impl TestModel {
    /// The text-generation models.
    pub const ALL: [TestModel; 3] = [TestModel::Qwen05, TestModel::Qwen15, TestModel::SmolLm2];

    pub fn file_name(self) -> &'static str {
        match self {
            TestModel::Qwen05 => "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            TestModel::Qwen15 => "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            TestModel::SmolLm2 => "SmolLM2-135M-Instruct.Q4_1.gguf",
            TestModel::MiniLm => "all-MiniLM-L6-v2-f16.gguf",
        }
    }

    pub fn sha256(self) -> &'static str {
        match self {
            TestModel::Qwen05 => "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            TestModel::Qwen15 => "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            TestModel::SmolLm2 => {
                "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
            }
            TestModel::MiniLm => "754d50b4d0104b4d25f7f8d8292fa4a7256b0d53360e8b7fcf70c8d231f57bec",
        }
    }

    pub fn size(self) -> u64 {
        match self {
            TestModel::Qwen05 => 491_400_064,
            TestModel::Qwen15 => 1_117_320_768,
            TestModel::SmolLm2 => 98_362_432,
            TestModel::MiniLm => 46_220_576,
        }
    }
}

/// The safetensors folder all-MiniLM-L6-v2 is converted from (`$HEARTH_TEST_MODELS/
/// all-MiniLM-L6-v2`), or `None` as [`test_model`] handles a missing model.
#[allow(clippy::panic)] // test support: failing loudly is the point
pub fn minilm_source_dir() -> Option<PathBuf> {
    let d = test_models_dir().join("all-MiniLM-L6-v2");
    if d.join("model.safetensors").is_file() {
        return Some(d);
    }
    if models_required() {
        panic!("{} is missing (run scripts/fetch-test-models)", d.display());
    }
    eprintln!(
        "skipping: {} not fetched (scripts/fetch-test-models)",
        d.display()
    );
    None
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
