//! One module per subcommand.
pub mod bench;
pub mod bench_fim;
pub mod chat;
pub mod check_code;
pub mod client;
pub mod cp;
pub mod create;
pub mod export;
pub mod fit;
pub mod import;
pub mod inspect;
pub mod list;
pub mod models;
pub mod ps;
pub mod pull;
pub mod rm;
pub mod run;
pub mod sandbox;
pub mod scan;
pub mod serve;
pub mod show;
pub mod sign;
pub mod stop;
pub mod verify;

/// Turn what the user typed (`hearth run X`, `hearth bench X`) into a GGUF file to load.
///
/// An existing file path is used as is; anything else is a model name (`qwen2.5-coder:1.5b`,
/// `hf.co/owner/repo:Q4_K_M`) resolved through the model store (`$HEARTH_MODELS`, then the
/// read-only Ollama store). `hearth_store::Stores::resolve` also gives the model's template,
/// system prompt and default parameters.
pub fn resolve_model(name: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = std::path::PathBuf::from(name);
    if path.is_file() {
        return Ok(path);
    }
    match hearth_store::Stores::from_env()?.resolve(name) {
        Ok(r) => Ok(r.gguf_path),
        Err(e) => {
            anyhow::bail!("model {name:?}: not a GGUF file, and {e} (try `hearth pull {name}`)")
        }
    }
}
