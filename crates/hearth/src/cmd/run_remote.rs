//! `hearth run` through a running server (like `ollama run`): the one-shot answer streams from
//! `POST /api/generate`, the chat from `POST /api/chat` with the conversation so far. Ctrl-C ends
//! the current answer by closing the connection, which stops the server's generation.
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde_json::{json, Map, Value};

use super::client::{self, Ndjson};
use super::run::{
    fmt_duration, next_input, one_shot_prompt, rate, system_message, Args, Input, HELP,
};

/// What `/set` changes.
struct Session {
    model: String,
    /// Ollama `options` sent with every request.
    options: Map<String, Value>,
    system: Option<String>,
    verbose: bool,
    raw: bool,
}

impl Session {
    fn from_args(args: &Args) -> Session {
        let mut options = Map::new();
        if let Some(t) = args.temperature {
            options.insert("temperature".into(), json!(t));
        }
        if let Some(s) = args.seed {
            options.insert("seed".into(), json!(s));
        }
        if let Some(n) = args.num_predict {
            options.insert("num_predict".into(), json!(n));
        }
        if let Some(n) = args.ctx_size {
            options.insert("num_ctx".into(), json!(n));
        }
        Session {
            model: args.model.clone(),
            options,
            system: args.system.clone(),
            verbose: args.verbose,
            raw: args.raw,
        }
    }

    /// A `/api/generate` body for one prompt.
    fn generate(&self, prompt: &str) -> Value {
        let mut b = json!({"model": self.model, "prompt": prompt, "stream": true,
            "options": self.options, "raw": self.raw});
        if let Some(s) = self.system.as_ref().filter(|_| !self.raw) {
            b["system"] = json!(s);
        }
        b
    }

    /// A `/api/chat` body for the conversation.
    fn chat(&self, turns: &[(String, String)]) -> Value {
        let mut messages: Vec<Value> = Vec::with_capacity(turns.len() + 1);
        if let Some(s) = &self.system {
            messages.push(json!({"role": "system", "content": s}));
        }
        messages.extend(turns.iter().map(|(r, c)| json!({"role": r, "content": c})));
        json!({"model": self.model, "messages": messages, "stream": true, "options": self.options})
    }
}

/// Run through the server; `Ok(None)` when no server answers (the caller runs the model here).
pub fn run(args: &Args) -> anyhow::Result<Option<ExitCode>> {
    if args.threads.is_some() || args.gpu_layers.is_some() {
        tracing::warn!(
            "--threads and --gpu-layers are decided by the server; use --local to set them"
        );
    }
    let session = Session::from_args(args);
    // Loading the model first tells whether a server answers and whether it has the model,
    // before a prompt is read from stdin.
    let load = json!({"model": session.model, "options": session.options});
    let Some(mut lines) = client::post_stream("/api/generate", &load)? else {
        return Ok(None);
    };
    lines
        .next_value()
        .with_context(|| format!("loading {} on the server (or use --local)", session.model))?;
    drop(lines);
    tracing::info!(
        "running {} on the server at {}",
        session.model,
        client::base_url()?
    );
    if let Some(prompt) = one_shot_prompt(&args.prompt)? {
        let Some(lines) = client::post_stream("/api/generate", &session.generate(&prompt))? else {
            bail!("the server at {} went away", client::base_url()?);
        };
        let a = stream_answer(lines, None)?;
        if !a.text.ends_with('\n') {
            println!();
        }
        if session.verbose {
            print_stats(&a.last);
        }
        return Ok(Some(ExitCode::SUCCESS));
    }
    repl(session).map(Some)
}

/// A streamed answer.
#[derive(Debug, Default)]
struct Answer {
    text: String,
    /// The final object (`done: true`, with durations and counts); `Null` when cut off.
    last: Value,
    cancelled: bool,
}

/// The text of one stream object: `response` (generate) or `message.content` (chat).
fn piece(v: &Value) -> &str {
    v.get("response")
        .and_then(Value::as_str)
        .or_else(|| v.pointer("/message/content").and_then(Value::as_str))
        .unwrap_or("")
}

/// Print an answer's text as it streams. With `interrupted`, the stream is read on a thread so
/// that Ctrl-C ends the answer at once; the connection closes when that thread ends.
fn stream_answer(mut lines: Ndjson, interrupted: Option<&AtomicBool>) -> anyhow::Result<Answer> {
    let mut out = std::io::stdout().lock();
    let mut a = Answer::default();
    let mut take = |v: Value, a: &mut Answer| -> anyhow::Result<bool> {
        let t = piece(&v);
        out.write_all(t.as_bytes())?;
        out.flush()?;
        a.text.push_str(t);
        let done = v.get("done").and_then(Value::as_bool) == Some(true);
        if done {
            a.last = v;
        }
        Ok(done)
    };
    let Some(flag) = interrupted else {
        while let Some(v) = lines.next_value()? {
            if take(v, &mut a)? {
                break;
            }
        }
        return Ok(a);
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || loop {
        let r = lines.next_value();
        let end = !matches!(r, Ok(Some(_)));
        if tx.send(r).is_err() || end {
            break;
        }
    });
    loop {
        if flag.swap(false, Ordering::Relaxed) {
            a.cancelled = true;
            return Ok(a);
        }
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(Ok(Some(v))) => {
                if take(v, &mut a)? {
                    return Ok(a);
                }
            }
            Ok(Ok(None)) | Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(a),
            Ok(Err(e)) => return Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

fn nanos(v: &Value, key: &str) -> Duration {
    Duration::from_nanos(v.get(key).and_then(Value::as_u64).unwrap_or(0))
}

fn count(v: &Value, key: &str) -> u32 {
    v.get(key)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// Ollama-style statistics on stderr, from the final object's durations and counts.
fn print_stats(last: &Value) {
    if last.is_null() {
        return;
    }
    let (pc, pd) = (
        count(last, "prompt_eval_count"),
        nanos(last, "prompt_eval_duration"),
    );
    let (ec, ed) = (count(last, "eval_count"), nanos(last, "eval_duration"));
    eprintln!(
        "total duration:       {}",
        fmt_duration(nanos(last, "total_duration"))
    );
    eprintln!(
        "load duration:        {}",
        fmt_duration(nanos(last, "load_duration"))
    );
    eprintln!("prompt eval count:    {pc} token(s)");
    eprintln!("prompt eval duration: {}", fmt_duration(pd));
    eprintln!("prompt eval rate:     {:.2} tokens/s", rate(pc, pd));
    eprintln!("eval count:           {ec} token(s)");
    eprintln!("eval duration:        {}", fmt_duration(ed));
    eprintln!("eval rate:            {:.2} tokens/s", rate(ec, ed));
}

fn repl(mut session: Session) -> anyhow::Result<ExitCode> {
    // Ctrl-C ends the running answer instead of the program.
    let interrupted = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&interrupted))
        .context("installing the Ctrl-C handler")?;
    let mut turns: Vec<(String, String)> = Vec::new();
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    loop {
        let input = match next_input(&mut lines, &interrupted)? {
            Input::Eof => break,
            Input::Command(line) => {
                match command(&mut session, &line, &mut turns) {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(e) => eprintln!("{e:#}"),
                }
                continue;
            }
            Input::Message(m) => m,
        };
        if !session.raw {
            turns.push(("user".into(), input.clone()));
        }
        interrupted.store(false, Ordering::Relaxed);
        let result = loop {
            let (path, body) = if session.raw {
                ("/api/generate", session.generate(&input))
            } else {
                ("/api/chat", session.chat(&turns))
            };
            let r = match client::post_stream(path, &body) {
                Ok(Some(lines)) => stream_answer(lines, Some(&interrupted)),
                Ok(None) => Err(anyhow::anyhow!(
                    "the server at {} went away",
                    client::base_url()?
                )),
                Err(e) => Err(e),
            };
            // Drop the oldest turns while the conversation does not fit the context.
            match r {
                Err(e) if !session.raw && turns.len() > 1 && too_long(&e) => {
                    turns.drain(..(turns.len() - 1).min(2));
                    tracing::info!("dropped the oldest turns to fit the context");
                }
                r => break r,
            }
        };
        match result {
            Ok(a) => {
                if !a.text.ends_with('\n') {
                    println!();
                }
                if a.cancelled {
                    println!();
                }
                println!();
                if session.verbose {
                    print_stats(&a.last);
                }
                if !session.raw {
                    turns.push(("assistant".into(), a.text));
                }
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                if !session.raw {
                    turns.pop();
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether the server refused the prompt as longer than the context (hearth-server's check
/// before generating, or hearth-engine's `PromptTooLong`).
fn too_long(e: &anyhow::Error) -> bool {
    let e = format!("{e:#}");
    (e.contains("prompt is ") && e.contains("more than the context"))
        || e.contains("does not fit the per-sequence context")
}

/// Handle a slash command; `Ok(true)` means exit.
fn command(
    session: &mut Session,
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
            let v = client::post_json("/api/show", &json!({"model": session.model}))?
                .context("the server went away")?;
            let d = &v["details"];
            let s = |v: &Value| v.as_str().unwrap_or("").to_string();
            println!("  architecture    {}", s(&d["family"]));
            println!("  parameters      {}", s(&d["parameter_size"]));
            println!("  quantization    {}", s(&d["quantization_level"]));
            println!("  server          {}", client::base_url()?);
        }
        (Some("/set"), Some("verbose")) => session.verbose = true,
        (Some("/set"), Some("quiet")) => session.verbose = false,
        (Some("/set"), Some("system")) => {
            session.system = system_message(line);
            println!("Set system message.");
        }
        (Some("/set"), Some("parameter")) => {
            let (Some(name), Some(value)) = (words.next(), words.next()) else {
                bail!("usage: /set parameter NAME VALUE");
            };
            set_option(&mut session.options, name, value)?;
            println!("Set parameter '{name}' to '{value}'");
        }
        _ => bail!("unknown command {line:?}; type /? for help"),
    }
    Ok(false)
}

/// `/set parameter NAME VALUE` as an Ollama option, checked as `run.rs` checks it locally.
fn set_option(options: &mut Map<String, Value>, name: &str, value: &str) -> anyhow::Result<()> {
    let v = match name {
        "temperature" | "top_p" | "min_p" | "repeat_penalty" | "presence_penalty"
        | "frequency_penalty" => json!(value
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .with_context(|| format!("{name}: expected a number, got {value:?}"))?),
        "top_k" | "repeat_last_n" | "num_predict" | "num_ctx" | "seed" => {
            let n = value
                .parse::<i64>()
                .with_context(|| format!("{name}: expected an integer, got {value:?}"))?;
            if name == "seed" && n < 0 {
                bail!("seed must be >= 0");
            }
            json!(n)
        }
        "stop" => {
            let s = json!(value.trim_matches('"'));
            match options.get_mut("stop") {
                Some(Value::Array(a)) => a.push(s),
                _ => {
                    options.insert("stop".into(), json!([s]));
                }
            }
            return Ok(());
        }
        _ => bail!("unknown parameter {name:?}"),
    };
    options.insert(name.into(), v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            model: "m".into(),
            options: Map::new(),
            system: Some("Be brief.".into()),
            verbose: false,
            raw: false,
        }
    }

    #[test]
    fn set_option_checks_and_collects_stops() {
        let mut o = Map::new();
        set_option(&mut o, "temperature", "0.2").unwrap();
        set_option(&mut o, "num_predict", "12").unwrap();
        set_option(&mut o, "stop", "\"END\"").unwrap();
        set_option(&mut o, "stop", "###").unwrap();
        assert_eq!(
            Value::Object(o.clone()),
            json!({"temperature": 0.2f32, "num_predict": 12, "stop": ["END", "###"]})
        );
        assert!(set_option(&mut o, "temperature", "hot").is_err());
        assert!(set_option(&mut o, "temperature", "NaN").is_err());
        assert!(set_option(&mut o, "nope", "1").is_err());
        assert!(set_option(&mut o, "seed", "-1").is_err());
    }

    #[test]
    fn request_bodies() {
        let mut s = session();
        set_option(&mut s.options, "seed", "7").unwrap();
        let turns = vec![("user".to_string(), "hi".to_string())];
        assert_eq!(
            s.chat(&turns),
            json!({"model": "m", "stream": true, "options": {"seed": 7}, "messages": [
                {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]})
        );
        assert_eq!(s.generate("hi")["system"], "Be brief.");
        s.raw = true;
        let g = s.generate("hi");
        assert_eq!((g["raw"].clone(), g.get("system")), (json!(true), None));
    }

    #[test]
    fn pieces_and_stats_of_stream_objects() {
        assert_eq!(piece(&json!({"response": "a", "done": false})), "a");
        assert_eq!(
            piece(&json!({"message": {"role": "assistant", "content": "b"}})),
            "b"
        );
        assert_eq!(piece(&json!({"done": true})), "");
        let last = json!({"eval_count": 10, "eval_duration": 2_000_000_000u64});
        assert_eq!(count(&last, "eval_count"), 10);
        assert_eq!(nanos(&last, "eval_duration"), Duration::from_secs(2));
        assert_eq!(count(&json!({"eval_count": -3}), "eval_count"), 0);
    }

    #[test]
    fn streamed_answers_end_at_done_and_report_errors() {
        let text = "{\"response\":\"Hel\",\"done\":false}\n{\"response\":\"lo\",\"done\":false}\n\
                    {\"response\":\"\",\"done\":true,\"eval_count\":2}\n";
        let a = stream_answer(Ndjson::new("t".into(), Box::new(text.as_bytes())), None).unwrap();
        assert_eq!(a.text, "Hello");
        assert_eq!(a.last["eval_count"], 2);
        let flag = AtomicBool::new(false);
        let a = stream_answer(
            Ndjson::new("t".into(), Box::new(text.as_bytes())),
            Some(&flag),
        )
        .unwrap();
        assert_eq!((a.text.as_str(), a.cancelled), ("Hello", false));
        let bad = "{\"response\":\"x\",\"done\":false}\n{\"error\":\"out of memory\"}\n";
        let e = stream_answer(
            Ndjson::new("t".into(), Box::new(bad.as_bytes())),
            Some(&flag),
        )
        .unwrap_err();
        assert!(e.to_string().contains("out of memory"), "{e}");
        assert!(!too_long(&e));
        let long = "{\"error\":\"prompt of 900 tokens does not fit the per-sequence context of 512 tokens\"}\n";
        let e =
            stream_answer(Ndjson::new("t".into(), Box::new(long.as_bytes())), None).unwrap_err();
        assert!(too_long(&e), "{e}");
        let e = error_text_of(
            "{\"error\":\"prompt is 265 tokens, more than the context of 256 tokens for model \\\"m\\\"\"}",
        );
        assert!(too_long(&e), "{e}");
    }

    fn error_text_of(line: &'static str) -> anyhow::Error {
        Ndjson::new("t".into(), Box::new(line.as_bytes()))
            .next_value()
            .unwrap_err()
    }
}
