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

/// hearth's server in this process, the pipeline `hearth serve` runs, for one sequence and one
/// model at a time (`hearth run --local`, `hearth eval`), and the name to ask it for `model`:
/// a GGUF file given by path is checked and scanned first (it was never scanned at install)
/// and added under a name of its own; anything else is an installed model's name.
pub(crate) fn one_sequence_server(
    model: &str,
    ctx: u32,
    threads: Option<u32>,
    gpu_layers: hearth_engine::GpuLayers,
) -> anyhow::Result<(hearth_server::InProcess, String)> {
    use anyhow::Context;
    let cfg = hearth_server::config::ServerConfig {
        default_num_ctx: ctx.max(256),
        threads,
        num_parallel: 1,
        max_loaded_models: 1,
        keep_alive: None,
        ..hearth_server::config::ServerConfig::default()
    };
    let stores = hearth_store::Stores::from_env()?;
    let engine = hearth_server::engine_adapter::LlamaEngine {
        gpu_layers,
        flash_attention: false,
        // One conversation at a time: its slot keeps its prefix.
        cache_ram: 0,
    };
    let server = hearth_server::InProcess::start(cfg, stores, std::sync::Arc::new(engine))?;
    let path = std::path::Path::new(model);
    if !path.is_file() {
        return Ok((server, model.to_string()));
    }
    // Validated before anything else reads it.
    hearth_gguf::GgufFile::open(path)
        .with_context(|| format!("{}: not a valid GGUF model", path.display()))?;
    let policy = hearth_store::Policy::load_or_default()?;
    hearth_store::guard::scan_before_serving(path, &policy)?;
    let name = server.add_file(path);
    Ok((server, name))
}
