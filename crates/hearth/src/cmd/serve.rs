//! `hearth serve`: the Ollama- and OpenAI-compatible HTTP server.
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use hearth_server::config::{
    parse_host, parse_keep_alive, read_key_file, Management, ServerConfig,
};
use hearth_server::engine_adapter::LlamaEngine;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Listen address (`127.0.0.1:11434`, `:8080`, `0.0.0.0`); default from HEARTH_HOST / OLLAMA_HOST.
    #[arg(long)]
    pub host: Option<String>,
    /// Read the API key (Bearer token) from this file; HEARTH_API_KEY also works.
    #[arg(long)]
    pub api_key_file: Option<String>,
    /// Allow listening off loopback without an API key (anyone on the network can use the server).
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Parallel sequences per model (OLLAMA_NUM_PARALLEL).
    #[arg(long)]
    pub num_parallel: Option<u32>,
    /// Models resident at once (OLLAMA_MAX_LOADED_MODELS).
    #[arg(long)]
    pub max_loaded_models: Option<usize>,
    /// Waiting requests before 503 (OLLAMA_MAX_QUEUE).
    #[arg(long)]
    pub max_queue: Option<usize>,
    /// Default keep-alive (`5m`, `0`, `-1`).
    #[arg(long)]
    pub keep_alive: Option<String>,
    /// Default context per sequence.
    #[arg(long)]
    pub ctx_size: Option<u32>,
    /// Engine threads (default: physical cores).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Memory budget for loaded models: bytes or a size like `6G` (0 = what the machine has).
    /// Before loading, the fit estimate (weights, KV cache, buffers) is checked against it and
    /// against available RAM; a model that does not fit is refused with a suggestion.
    #[arg(long, value_parser = parse_budget)]
    pub memory_budget: Option<u64>,
    /// Layers to offload to the GPU: a number, or `all` for as many as the fit estimate says
    /// free VRAM holds (needs a `cuda` build).
    #[arg(long = "gpu-layers", default_value = "0")]
    pub gpu_layers: hearth_engine::GpuLayers,
    /// Flash attention on (faster long prompts; not bit-identical to runs without it).
    #[arg(long)]
    pub flash_attention: bool,
    /// RAM per model for the KV states of prompts its slots let go (llama.cpp's --cache-ram):
    /// an agent's next turn restores its long prefix instead of evaluating it again. `0` off.
    #[arg(long, value_parser = parse_budget, default_value = "2G", env = "HEARTH_CACHE_RAM")]
    pub cache_ram: u64,
    /// Who may pull, push, create, upload blobs, copy and delete over HTTP: `open` (like any
    /// endpoint), `key` (only with HEARTH_MANAGEMENT_KEY, or the API key, on every bind,
    /// loopback included), `off`; HEARTH_MANAGEMENT.
    #[arg(long, value_parser = parse_management)]
    pub management: Option<Management>,
    /// Read the management key from this file (implies `--management key`);
    /// HEARTH_MANAGEMENT_KEY also works.
    #[arg(long)]
    pub management_key_file: Option<String>,
    /// Same as `--management off`.
    #[arg(long)]
    pub disable_management: bool,
    /// Let pulls requested over HTTP reach loopback and private-network hosts (a registry on
    /// your LAN); HEARTH_ALLOW_PRIVATE_PULLS=1.
    #[arg(long)]
    pub allow_private_pulls: bool,
    /// A directory whose GGUF files `/api/create` may name by path (`"from": "/models/x.gguf"`);
    /// repeatable; HEARTH_ALLOW_MODELS_FROM (colon-separated). None by default: clients upload
    /// model files with `/api/blobs`, as `ollama create` does.
    #[arg(long, value_name = "DIR")]
    pub allow_models_from: Vec<std::path::PathBuf>,
    /// Extra CORS origins, comma-separated (HEARTH_ORIGINS / OLLAMA_ORIGINS).
    #[arg(long)]
    pub origins: Option<String>,
    /// The routing policy (default `~/.config/hearth/router.toml`; missing: local-only).
    #[arg(long, env = "HEARTH_ROUTER_CONFIG", value_name = "FILE")]
    pub router_config: Option<std::path::PathBuf>,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut cfg = ServerConfig::from_env(|k| std::env::var(k).ok())?;
    if let Some(h) = &args.host {
        cfg.bind = parse_host(h, "--host")?;
    }
    if let Some(f) = &args.api_key_file {
        cfg.api_key = Some(read_key_file(f)?);
    }
    cfg.insecure_no_auth |= args.insecure_no_auth;
    if let Some(n) = args.num_parallel {
        cfg.num_parallel = n.clamp(1, 256);
    }
    if let Some(n) = args.max_loaded_models {
        cfg.max_loaded_models = n.max(1);
    }
    if let Some(n) = args.max_queue {
        cfg.max_queue = n;
    }
    if let Some(k) = &args.keep_alive {
        cfg.keep_alive =
            parse_keep_alive(k).with_context(|| format!("invalid --keep-alive {k:?}"))?;
    }
    if let Some(n) = args.ctx_size {
        cfg.default_num_ctx = n.max(256);
    }
    if args.threads.is_some() {
        cfg.threads = args.threads;
    }
    if let Some(b) = args.memory_budget {
        cfg.memory_budget = b;
    }
    if let Some(f) = &args.management_key_file {
        cfg.management_key = Some(read_key_file(f)?);
        cfg.management = Management::Key;
    }
    if let Some(m) = args.management {
        cfg.management = m;
    }
    if args.disable_management {
        cfg.management = Management::Off;
    }
    cfg.allow_private_pulls |= args.allow_private_pulls;
    cfg.allow_models_from
        .extend(args.allow_models_from.iter().cloned());
    if let Some(o) = &args.origins {
        cfg.allowed_origins.extend(
            o.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty()),
        );
    }
    if let Some(path) = args
        .router_config
        .clone()
        .or_else(hearth_route::default_policy_path)
    {
        cfg.route_policy = hearth_route::Policy::load(&path)?;
        cfg.route_policy_file = Some(path.display().to_string());
    }
    // Before the stores and the engine; hearth_server::serve checks the upstreams as it builds
    // them.
    cfg.validate()?;
    let stores = hearth_store::Stores::from_env()?;
    let engine = LlamaEngine {
        gpu_layers: args.gpu_layers,
        flash_attention: args.flash_attention,
        cache_ram: usize::try_from(args.cache_ram).unwrap_or(usize::MAX),
    };
    hearth_server::serve::run_blocking(cfg, stores, Arc::new(engine))?;
    Ok(ExitCode::SUCCESS)
}

fn parse_management(s: &str) -> Result<Management, String> {
    s.parse()
        .map_err(|e: hearth_server::config::ConfigError| e.to_string())
}

fn parse_budget(s: &str) -> Result<u64, String> {
    hearth_fit::parse_size(s).ok_or_else(|| format!("expected bytes or a size like 6G, got {s:?}"))
}
