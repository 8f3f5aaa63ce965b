//! `hearth run MODEL [PROMPT]`: one-shot generation or an interactive chat REPL. With a server
//! running at HEARTH_HOST / OLLAMA_HOST, a model name is run by the server (`cmd/run_remote.rs`);
//! a GGUF file path, `--local` or HEARTH_NO_SERVER=1 run it in this process.
use std::io::{BufRead, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use hearth_engine::{
    CancelToken, DoneReason, EngineError, Event, GenerateRequest, GenerationStats, GpuLayers,
    LoadOptions, Model, SamplingParams,
};

use super::resolve_model;

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

/// Settings that `/set parameter` can change.
#[derive(Debug, Clone)]
struct Settings {
    sampling: SamplingParams,
    num_predict: Option<u32>,
    stop: Vec<String>,
    system: Option<String>,
    verbose: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if super::client::use_server(args.local) && !std::path::Path::new(&args.model).is_file() {
        if let Some(code) = super::run_remote::run(&args)? {
            return Ok(code);
        }
    }
    let path = resolve_model(&args.model)?;
    let opts = LoadOptions {
        n_ctx: args.ctx_size.unwrap_or(4096),
        n_parallel: 1,
        threads: args.threads,
        threads_batch: args.threads,
        gpu_layers: args.gpu_layers.unwrap_or_default(),
        ..LoadOptions::default()
    };
    let model = Model::load(&path, opts).with_context(|| format!("loading {}", path.display()))?;
    let mut sampling = SamplingParams::default();
    if let Some(t) = args.temperature {
        sampling.temperature = t;
    }
    sampling.seed = args.seed;
    let mut settings = Settings {
        sampling,
        num_predict: args.num_predict,
        stop: Vec::new(),
        system: args.system.clone(),
        verbose: args.verbose,
    };

    if let Some(prompt) = one_shot_prompt(&args.prompt)? {
        let text = if args.raw {
            prompt
        } else {
            render_chat(
                &model,
                &Chat::for_model(&model),
                &settings,
                &[("user".into(), prompt)],
            )?
        };
        let answer = answer(&model, &text, &settings, None)?;
        if !answer.text.ends_with('\n') {
            println!();
        }
        if settings.verbose {
            print_stats(&model, &answer.stats);
        }
        return Ok(ExitCode::SUCCESS);
    }
    repl(&model, &Chat::for_model(&model), &mut settings, args.raw)
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

/// A finished answer.
struct Answer {
    text: String,
    stats: GenerationStats,
    reason: DoneReason,
}

/// How a conversation becomes prompt text.
enum Chat {
    /// The GGUF's `tokenizer.chat_template`, rendered by hearth-prompt (sandboxed minijinja with
    /// Hugging Face semantics).
    Jinja {
        template: Box<hearth_prompt::ChatTemplate>,
        bos: String,
        eos: String,
    },
    /// No usable Jinja template: llama.cpp's built-in template families (ChatML if unknown).
    Builtin,
}

impl Chat {
    fn for_model(model: &Model) -> Chat {
        let info = model.info();
        let piece = |t: Option<i32>| {
            t.map(|t| String::from_utf8_lossy(&model.token_piece(t)).into_owned())
                .unwrap_or_default()
        };
        match info
            .chat_template
            .as_deref()
            .map(hearth_prompt::ChatTemplate::new)
        {
            Some(Ok(template)) => Chat::Jinja {
                template: Box::new(template),
                bos: piece(info.bos),
                eos: piece(info.eos),
            },
            Some(Err(e)) => {
                tracing::warn!(error = %e, "chat template not usable; using llama.cpp's built-in templates");
                Chat::Builtin
            }
            None => Chat::Builtin,
        }
    }
}

/// Render a conversation (plus the system message) with the model's chat template.
fn render_chat(
    model: &Model,
    chat: &Chat,
    settings: &Settings,
    turns: &[(String, String)],
) -> anyhow::Result<String> {
    let mut messages = Vec::with_capacity(turns.len() + 1);
    if let Some(sys) = &settings.system {
        messages.push(("system".to_string(), sys.clone()));
    }
    messages.extend(turns.iter().cloned());
    match chat {
        Chat::Jinja { template, bos, eos } => {
            let input = hearth_prompt::RenderInput {
                messages: messages
                    .into_iter()
                    .map(|(r, c)| hearth_prompt::Message::new(r, c))
                    .collect(),
                add_generation_prompt: true,
                bos_token: bos.clone(),
                eos_token: eos.clone(),
                ..hearth_prompt::RenderInput::default()
            };
            Ok(template.render(&input)?)
        }
        Chat::Builtin => Ok(model.apply_builtin_chat_template(&messages, true)?),
    }
}

fn tokenize_prompt(model: &Model, text: &str) -> Result<Vec<i32>, EngineError> {
    let info = model.info();
    let starts_with_bos = info
        .bos
        .map(|b| String::from_utf8_lossy(&model.token_piece(b)).into_owned())
        .is_some_and(|b| !b.is_empty() && text.starts_with(&b));
    model.tokenize(text, info.add_bos && !starts_with_bos, true)
}

/// Generate an answer and stream it to stdout. `current` receives the cancel token so a
/// Ctrl-C handler can stop this answer.
fn answer(
    model: &Model,
    text: &str,
    settings: &Settings,
    current: Option<&Mutex<Option<CancelToken>>>,
) -> anyhow::Result<Answer> {
    let prompt = tokenize_prompt(model, text)?;
    let req = GenerateRequest {
        prompt,
        sampling: settings.sampling.clone(),
        max_tokens: settings.num_predict,
        stop: settings.stop.clone(),
        ..GenerateRequest::default()
    };
    let mut gen = model.generate(req)?;
    if let Some(c) = current {
        if let Ok(mut c) = c.lock() {
            *c = Some(gen.cancel.clone());
        }
    }
    let mut out = std::io::stdout().lock();
    let mut full = String::new();
    let mut result = None;
    while let Some(ev) = gen.events.blocking_recv() {
        match ev {
            Event::Token { text, .. } => {
                out.write_all(text.as_bytes())?;
                out.flush()?;
                full.push_str(&text);
            }
            Event::Done { reason, stats } => {
                result = Some((reason, stats));
                break;
            }
            Event::Error(e) => return Err(e.into()),
        }
    }
    if let Some(c) = current {
        if let Ok(mut c) = c.lock() {
            *c = None;
        }
    }
    let (reason, stats) = result.context("generation ended without a result")?;
    Ok(Answer {
        text: full,
        stats,
        reason,
    })
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

/// Ollama-style statistics on stderr.
fn print_stats(model: &Model, s: &GenerationStats) {
    let evaluated = s.prompt_tokens.saturating_sub(s.cached_tokens);
    // The first token comes out of the prompt evaluation; the eval window covers the rest.
    let decoded = s.eval_tokens.saturating_sub(1);
    eprintln!("total duration:       {}", fmt_duration(s.total));
    eprintln!(
        "load duration:        {}",
        fmt_duration(model.info().load_duration)
    );
    eprintln!("prompt eval count:    {evaluated} token(s)");
    if s.cached_tokens > 0 {
        eprintln!("prompt cached:        {} token(s)", s.cached_tokens);
    }
    eprintln!("prompt eval duration: {}", fmt_duration(s.prompt_eval));
    eprintln!(
        "prompt eval rate:     {:.2} tokens/s",
        rate(evaluated, s.prompt_eval)
    );
    eprintln!("eval count:           {} token(s)", s.eval_tokens);
    eprintln!("eval duration:        {}", fmt_duration(s.eval));
    eprintln!(
        "eval rate:            {:.2} tokens/s",
        rate(decoded, s.eval)
    );
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

fn repl(
    model: &Model,
    chat: &Chat,
    settings: &mut Settings,
    raw: bool,
) -> anyhow::Result<ExitCode> {
    // Ctrl-C cancels the running answer instead of ending the program.
    let interrupted = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))
        .context("installing the Ctrl-C handler")?;
    let current: Arc<Mutex<Option<CancelToken>>> = Arc::new(Mutex::new(None));
    {
        let interrupted = Arc::clone(&interrupted);
        let current = Arc::clone(&current);
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(20));
            if interrupted.load(Ordering::Relaxed) {
                if let Ok(c) = current.lock() {
                    if let Some(c) = c.as_ref() {
                        c.cancel();
                        interrupted.store(false, Ordering::Relaxed);
                    }
                }
            }
        });
    }

    let mut turns: Vec<(String, String)> = Vec::new();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        let input = match next_input(&mut lines, &interrupted)? {
            Input::Eof => break,
            Input::Command(line) => {
                match command(model, settings, &line, &mut turns) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => eprintln!("{e:#}"),
                }
                continue;
            }
            Input::Message(m) => m,
        };
        turns.push(("user".into(), input.clone()));
        let text = if raw {
            input
        } else {
            // Drop the oldest turns while the conversation does not fit the context.
            loop {
                let text = render_chat(model, chat, settings, &turns)?;
                let n = tokenize_prompt(model, &text)?.len();
                let budget = model.info().n_ctx_seq.saturating_sub(256) as usize;
                if n <= budget || turns.len() <= 1 {
                    break text;
                }
                turns.drain(..turns.len().min(2));
            }
        };
        interrupted.store(false, Ordering::Relaxed);
        match answer(model, &text, settings, Some(&current)) {
            Ok(a) => {
                if !a.text.ends_with('\n') {
                    println!();
                }
                if a.reason == DoneReason::Cancelled {
                    println!();
                }
                println!();
                if settings.verbose {
                    print_stats(model, &a.stats);
                }
                turns.push(("assistant".into(), a.text));
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                turns.pop();
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Handle a slash command; `Ok(true)` means exit.
fn command(
    model: &Model,
    settings: &mut Settings,
    line: &str,
    turns: &mut Vec<(String, String)>,
) -> anyhow::Result<bool> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("/bye" | "/exit"), _) => return Ok(true),
        (Some("/clear"), _) => {
            turns.clear();
            println!("Cleared session context");
        }
        (Some("/?" | "/help"), _) => println!("{HELP}"),
        (Some("/show"), Some("info")) => {
            let i = model.info();
            println!("  architecture    {}", i.architecture);
            println!("  parameters      {}", i.n_params);
            println!("  context length  {} (trained {})", i.n_ctx, i.n_ctx_train);
            println!("  threads         {}", i.threads);
            println!("  file            {}", i.path.display());
        }
        (Some("/set"), Some("verbose")) => settings.verbose = true,
        (Some("/set"), Some("quiet")) => settings.verbose = false,
        (Some("/set"), Some("system")) => {
            settings.system = system_message(line);
            println!("Set system message.");
        }
        (Some("/set"), Some("parameter")) => {
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                bail!("usage: /set parameter NAME VALUE");
            };
            set_parameter(settings, name, value)?;
            println!("Set parameter '{name}' to '{value}'");
        }
        _ => bail!("unknown command {line:?}; type /? for help"),
    }
    Ok(false)
}

fn set_parameter(settings: &mut Settings, name: &str, value: &str) -> anyhow::Result<()> {
    let s = &mut settings.sampling;
    let f = || -> anyhow::Result<f32> {
        value
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .with_context(|| format!("{name}: expected a number, got {value:?}"))
    };
    let i = || -> anyhow::Result<i32> {
        value
            .parse::<i32>()
            .with_context(|| format!("{name}: expected an integer, got {value:?}"))
    };
    match name {
        "temperature" => s.temperature = f()?,
        "top_k" => s.top_k = i()?,
        "top_p" => s.top_p = f()?,
        "min_p" => s.min_p = f()?,
        "repeat_penalty" => s.repeat_penalty = f()?.max(f32::MIN_POSITIVE),
        "repeat_last_n" => s.repeat_last_n = i()?,
        "presence_penalty" => s.presence_penalty = f()?,
        "frequency_penalty" => s.frequency_penalty = f()?,
        "seed" => s.seed = Some(u32::try_from(i()?).context("seed must be >= 0")?),
        "num_predict" => {
            let n = i()?;
            settings.num_predict = u32::try_from(n).ok().filter(|&n| n > 0);
        }
        "stop" => settings.stop.push(value.trim_matches('"').to_string()),
        _ => bail!("unknown parameter {name:?}"),
    }
    Ok(())
}

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

    fn settings() -> Settings {
        Settings {
            sampling: SamplingParams::default(),
            num_predict: None,
            stop: Vec::new(),
            system: None,
            verbose: false,
        }
    }

    #[test]
    fn set_parameter_parses_and_rejects() {
        let mut s = settings();
        set_parameter(&mut s, "temperature", "0.2").unwrap();
        assert_eq!(s.sampling.temperature, 0.2);
        set_parameter(&mut s, "num_predict", "12").unwrap();
        assert_eq!(s.num_predict, Some(12));
        set_parameter(&mut s, "stop", "\"END\"").unwrap();
        assert_eq!(s.stop, vec!["END".to_string()]);
        assert!(set_parameter(&mut s, "temperature", "hot").is_err());
        assert!(set_parameter(&mut s, "nope", "1").is_err());
        assert!(set_parameter(&mut s, "seed", "-1").is_err());
    }

    #[test]
    fn durations_and_rates() {
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.500000s");
        assert_eq!(rate(10, Duration::from_secs(2)), 5.0);
        assert_eq!(rate(10, Duration::ZERO), 0.0);
    }
}
