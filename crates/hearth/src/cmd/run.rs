//! `hearth run MODEL [PROMPT]`: one-shot generation or an interactive chat REPL (`cmd/chat.rs`).
//! With a server running at HEARTH_HOST / OLLAMA_HOST, a model name is run by the server; a GGUF
//! file path, `--local`, HEARTH_NO_SERVER=1 or no server answering run it on the same server
//! code in this process, so both give the same answers.
use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use hearth_engine::GpuLayers;

use super::client::{self, Backend};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Model: a name (run by the server at HEARTH_HOST / OLLAMA_HOST when one is running, else
    /// from the local store) or a GGUF file path (always run here).
    pub model: String,
    /// Prompt for a one-shot answer; without it (and with a terminal on stdin) a chat starts.
    /// Text piped on stdin is used as (or prepended to) the prompt.
    pub prompt: Vec<String>,
    /// Print timing statistics after each answer (like `ollama run --verbose`).
    #[arg(long)]
    pub verbose: bool,
    /// Context size in tokens (default 4096 here; the server's default with a server).
    #[arg(short = 'c', long = "ctx-size")]
    pub ctx_size: Option<u32>,
    /// Threads (default: physical cores; the server decides with a server).
    #[arg(short = 't', long)]
    pub threads: Option<u32>,
    /// Layers to offload to the GPU: a number or `all` (needs a `cuda` build; default 0; the
    /// server decides with a server).
    #[arg(long = "gpu-layers")]
    pub gpu_layers: Option<GpuLayers>,
    /// Sampling temperature (0 = greedy).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Seed for reproducible sampling.
    #[arg(long)]
    pub seed: Option<u32>,
    /// Maximum tokens per answer.
    #[arg(short = 'n', long = "num-predict")]
    pub num_predict: Option<u32>,
    /// System message for chat.
    #[arg(long)]
    pub system: Option<String>,
    /// Send the prompt as-is, without the chat template.
    #[arg(long)]
    pub raw: bool,
    /// Run the model in this process even when a server is running (also HEARTH_NO_SERVER=1).
    #[arg(long)]
    pub local: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = std::path::Path::new(&args.model).is_file();
    if client::use_server(args.local) && !file {
        if args.threads.is_some() || args.gpu_layers.is_some() {
            tracing::warn!(
                "--threads and --gpu-layers are decided by the server; use --local to set them"
            );
        }
        if let Some(code) = super::chat::run(&args, &Backend::Remote, args.model.clone())? {
            return Ok(code);
        }
    }
    let (backend, model) = local(&args)?;
    match super::chat::run(&args, &backend, model)? {
        Some(code) => Ok(code),
        None => bail!("the in-process server did not answer"),
    }
}

/// hearth's server in this process, for `--local` runs and GGUF files: the same pipeline as
/// `hearth serve`, one sequence, the model kept loaded until the chat ends.
fn local(args: &Args) -> anyhow::Result<(Backend, String)> {
    let (server, model) = super::one_sequence_server(
        &args.model,
        args.ctx_size.unwrap_or(4096),
        args.threads,
        args.gpu_layers.unwrap_or_default(),
    )?;
    Ok((Backend::Local(server), model))
}

/// The one-shot prompt: the arguments, plus text piped on stdin; `None` when a chat should start
/// (no prompt and a terminal on stdin).
pub(super) fn one_shot_prompt(words: &[String]) -> anyhow::Result<Option<String>> {
    let stdin_is_tty = std::io::stdin().is_terminal();
    let mut prompt = words.join(" ");
    if !stdin_is_tty {
        let mut piped = String::new();
        std::io::stdin()
            .read_to_string(&mut piped)
            .context("reading the prompt from stdin")?;
        if !piped.trim().is_empty() {
            prompt = if prompt.is_empty() {
                piped
            } else {
                format!("{prompt}\n\n{piped}")
            };
        }
    }
    if prompt.is_empty() && stdin_is_tty {
        return Ok(None);
    }
    if prompt.trim().is_empty() {
        bail!("empty prompt");
    }
    Ok(Some(prompt))
}

/// The message of `/set system TEXT` (quotes around it dropped); `None` when empty.
pub(super) fn system_message(line: &str) -> Option<String> {
    let text = line
        .splitn(3, char::is_whitespace)
        .nth(2)
        .unwrap_or("")
        .trim()
        .trim_matches('"');
    (!text.is_empty()).then(|| text.to_string())
}

/// One step of the chat REPL's input.
pub(super) enum Input {
    /// End of input (Ctrl-D).
    Eof,
    /// A `/command` line.
    Command(String),
    /// A message to answer (one line, or a `"""` block).
    Message(String),
}

/// Prompt with `>>> ` and read the next command or message; blank lines (and a Ctrl-C at the
/// prompt, which gets a hint) are skipped.
pub(super) fn next_input(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    interrupted: &AtomicBool,
) -> anyhow::Result<Input> {
    loop {
        print!(">>> ");
        std::io::stdout().flush()?;
        let Some(line) = lines.next() else {
            println!();
            return Ok(Input::Eof);
        };
        let line = line?;
        if interrupted.swap(false, Ordering::Relaxed) && line.trim().is_empty() {
            println!("Use Ctrl + d or /bye to exit.");
            continue;
        }
        let input = if let Some(rest) = line.trim_start().strip_prefix("\"\"\"") {
            multi_line(rest, lines)?
        } else if line.trim_start().starts_with('/') {
            return Ok(Input::Command(line.trim().to_string()));
        } else {
            line
        };
        if !input.trim().is_empty() {
            return Ok(Input::Message(input));
        }
    }
}

/// The rest of a `"""` multi-line message begun with `rest`: lines up to one ending with `"""`.
pub(super) fn multi_line(
    rest: &str,
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> anyhow::Result<String> {
    let mut buf = String::new();
    let mut rest = rest.to_string();
    loop {
        if let Some(done) = rest.trim_end().strip_suffix("\"\"\"") {
            buf.push_str(done);
            break;
        }
        buf.push_str(&rest);
        buf.push('\n');
        print!("... ");
        std::io::stdout().flush()?;
        match lines.next() {
            Some(l) => rest = l?,
            None => break,
        }
    }
    Ok(buf)
}

pub(super) fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 1.0 {
        format!("{s:.6}s")
    } else {
        format!("{:.6}ms", s * 1000.0)
    }
}

pub(super) fn rate(n: u32, d: Duration) -> f64 {
    let s = d.as_secs_f64();
    if s > 0.0 {
        f64::from(n) / s
    } else {
        0.0
    }
}

pub(super) const HELP: &str = "Available commands:
  /set parameter NAME VALUE   temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n,
                              presence_penalty, frequency_penalty, seed, num_predict, stop
  /set system TEXT            set the system message
  /set verbose | quiet        show or hide timing statistics
  /show info                  model information
  /clear                      forget the conversation
  /bye                        exit
Use \"\"\" to begin and end a multi-line message. Ctrl-C stops the current answer.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_system_message() {
        assert_eq!(
            system_message("/set system \"You are terse.\"").as_deref(),
            Some("You are terse.")
        );
        assert_eq!(
            system_message("/set system  a  b ").as_deref(),
            Some("a  b")
        );
        assert_eq!(system_message("/set system"), None);
        assert_eq!(system_message("/set system \"\""), None);
    }

    #[test]
    fn durations_and_rates() {
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.500000s");
        assert_eq!(rate(10, Duration::from_secs(2)), 5.0);
        assert_eq!(rate(10, Duration::ZERO), 0.0);
    }
}
