//! One module per subcommand.
pub(crate) mod audit;
pub(crate) mod bench;
pub(crate) mod bench_fim;
pub(crate) mod chat;
pub(crate) mod check_code;
pub(crate) mod client;
pub(crate) mod convert;
pub(crate) mod cp;
pub(crate) mod create;
pub(crate) mod eval;
pub(crate) mod export;
pub(crate) mod fit;
pub(crate) mod import;
pub(crate) mod inspect;
pub(crate) mod launch;
pub(crate) mod list;
pub(crate) mod models;
pub(crate) mod ps;
pub(crate) mod pull;
pub(crate) mod redact;
pub(crate) mod rm;
pub(crate) mod route;
pub(crate) mod run;
pub(crate) mod sandbox;
pub(crate) mod scan;
pub(crate) mod serve;
pub(crate) mod show;
pub(crate) mod sign;
pub(crate) mod stop;
pub(crate) mod verify;

/// Turn what the user typed (`hearth run X`, `hearth bench X`) into a GGUF file to load.
///
/// An existing file path is used as is; anything else is a model name (`qwen2.5-coder:1.5b`,
/// `hf.co/owner/repo:Q4_K_M`) resolved through the model store (`$HEARTH_MODELS`, then the
/// read-only Ollama store). `hearth_store::Stores::resolve` also gives the model's template,
/// system prompt and default parameters.
pub(crate) fn resolve_model(name: &str) -> anyhow::Result<std::path::PathBuf> {
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
