//! Command-line definition and dispatch. Each subcommand lives in `cmd/<name>.rs`.
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::cmd;

#[derive(Debug, Parser)]
#[command(name = "hearth", version, about = "Local-first AI coding server", long_about = None)]
pub struct Cli {
    /// More log output on stderr (repeat for more); RUST_LOG overrides.
    #[arg(short = 'v', long = "log-verbose", action = clap::ArgAction::Count, global = true)]
    pub log_verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a GGUF file and print what is inside (architecture, size, quantization, tokenizer).
    Inspect(cmd::inspect::Args),
    /// Which models this machine can run: memory needed, GPU/CPU placement, expected speed.
    Fit(cmd::fit::Args),
    /// Run untrusted code with no network, a scratch-only filesystem view, seccomp and rlimits.
    Sandbox(cmd::sandbox::Args),
    /// Static insecure-code checks (CWE-tagged) over a source file or stdin.
    CheckCode(cmd::check_code::Args),
    /// Where the routing policy would send a request (local or a cloud upstream), step by step.
    Route(cmd::route::Args),
    /// What hybrid routing sent to the cloud: attempts, tokens and cost per day, project and
    /// upstream, and the redaction rules that fired (from the audit log).
    Audit(cmd::audit::Args),
    /// Replace secrets in text by placeholders: what would leave the machine for a cloud model.
    Redact(cmd::redact::Args),
    /// Scan model files (GGUF, pickle/PyTorch, safetensors) for hostile content; exit code by severity.
    Scan(cmd::scan::Args),
    /// Write a manifest of file digests and a minisign-compatible Ed25519 signature of it.
    Sign(cmd::sign::Args),
    /// Verify a signed manifest (signature and every file digest), a minisign-signed file, or
    /// an OpenSSF model-signing (OMS) key signature of a model (`--pubkey KEY.pem`).
    Verify(cmd::verify::Args),
    /// Run a model: one-shot answer or interactive chat (through the running server when one
    /// answers; `--local` or HEARTH_NO_SERVER=1 runs it here).
    Run(cmd::run::Args),
    /// Measure prompt processing and generation speed (llama-bench style).
    Bench(cmd::bench::Args),
    /// Autocomplete latency: simulate typing through a source file (prefix cache, healing).
    BenchFim(cmd::bench_fim::Args),
    /// Coding quality of models on this machine (HumanEval pass@1, tests run in the sandbox),
    /// optionally side by side with another OpenAI-compatible server.
    Eval(cmd::eval::Args),
    /// Serve the Ollama- and OpenAI-compatible HTTP API (default 127.0.0.1:11434).
    Serve(cmd::serve::Args),
    /// List the models loaded in the running server.
    Ps(cmd::ps::Args),
    /// Unload a model from the running server.
    Stop(cmd::stop::Args),
    /// Download a model (Ollama registry name, hf.co/owner/repo:quant, or a GGUF URL); through
    /// the running server when one answers.
    Pull(cmd::pull::Args),
    /// List installed models (the running server's when one answers).
    #[command(alias = "ls")]
    List(cmd::list::Args),
    /// Show a model's details or Modelfile.
    Show(cmd::show::Args),
    /// Remove models.
    Rm(cmd::rm::Args),
    /// Copy a model under a new name.
    Cp(cmd::cp::Args),
    /// Create a model from a Modelfile.
    Create(cmd::create::Args),
    /// Write a model to a tar bundle for air-gapped transfer.
    Export(cmd::export::Args),
    /// Install the models of a tar bundle.
    Import(cmd::import::Args),
    /// Convert a Hugging Face safetensors folder (BERT embedding models) to GGUF.
    Convert(cmd::convert::Args),
    /// Point a coding agent or editor (Claude Code, Codex, OpenCode, Aider, Zed, Continue) at
    /// the hearth server and start it; `--print` shows the setup instead.
    Launch(cmd::launch::Args),
}

/// Parse the process arguments, set up logging and run the chosen subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_verbose);
    if !matches!(cli.command, Command::Serve(_) | Command::Sandbox(_)) {
        quiet_on_closed_stdout();
    }
    let result = match cli.command {
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Fit(args) => cmd::fit::run(args),
        Command::Launch(args) => cmd::launch::run(args),
        Command::Sandbox(args) => cmd::sandbox::run(args),
        Command::CheckCode(args) => cmd::check_code::run(args),
        Command::Redact(args) => cmd::redact::run(args),
        Command::Route(args) => cmd::route::run(args),
        Command::Audit(args) => cmd::audit::run(args),
        Command::Scan(args) => cmd::scan::run(args),
        Command::Sign(args) => cmd::sign::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::BenchFim(args) => cmd::bench_fim::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Ps(args) => cmd::ps::run(args),
        Command::Stop(args) => cmd::stop::run(args),
        Command::Pull(args) => cmd::pull::run(args),
        Command::List(args) => cmd::list::run(args),
        Command::Show(args) => cmd::show::run(args),
        Command::Rm(args) => cmd::rm::run(args),
        Command::Cp(args) => cmd::cp::run(args),
        Command::Create(args) => cmd::create::run(args),
        Command::Export(args) => cmd::export::run(args),
        Command::Import(args) => cmd::import::run(args),
        Command::Convert(args) => cmd::convert::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hearth: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// `hearth list | head`: end quietly when the reader goes away, as Unix tools do, instead of
/// panicking in `println!` (Rust ignores SIGPIPE by default). Not for `serve` (its sockets
/// never raise it anyway) and `sandbox` (it reports its child's fate itself).
#[allow(unsafe_code)]
fn quiet_on_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE is async-signal-safe; it runs at
    // the start of main, before any thread that could depend on the old disposition exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Logs go to stderr (stdout is for data); colour only on a terminal and never with NO_COLOR.
fn init_logging(verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        // llama.cpp warns about quirks of many published GGUFs; show its errors only.
        0 => "warn,llama-cpp-2=error",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color)
        .try_init();
}
