//! `hearth run`'s answers and chat, over a [`Backend`]: a running server (like `ollama run`) or
//! the same server in this process. The one-shot answer streams from `POST /api/generate`, the
//! chat from `POST /api/chat` with the conversation so far; the server keeps a long chat within
//! the context (dropping the oldest turns, and saying so). Ctrl-C ends the current answer by
//! closing the stream, which stops the generation.
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use anyhow::{bail, Context as _};
use hearth_server::wire::ollama::{
    ChatRequest, Final, GenerateRequest, Message, Options, Reply, StringOrVec,
};
use serde_json::{json, Value};

use super::client::{Backend, Ndjson, ServerError};
use super::run::{
    fmt_duration, next_input, one_shot_prompt, rate, system_message, Args, Input, HELP,
};

/// What `/set` changes.
struct Session {
    model: String,
    /// Ollama `options` sent with every request.
    options: Options,
    system: Option<String>,
    verbose: bool,
    raw: bool,
}

impl Session {
    fn from_args(args: &Args, model: String) -> Session {
        let options = Options {
            temperature: args.temperature,
            seed: args.seed.map(i64::from),
            num_predict: args.num_predict.map(i64::from),
            num_ctx: args.ctx_size.map(i64::from),
            ..Options::default()
        };
        Session {
            model,
            options,
            system: args.system.clone(),
            verbose: args.verbose,
            raw: args.raw,
        }
    }

    /// A `/api/generate` request for one prompt (an empty prompt only loads the model).
    fn generate(&self, prompt: &str) -> GenerateRequest {
        GenerateRequest {
            model: Some(self.model.clone()),
            prompt: prompt.to_string(),
            stream: Some(true),
            options: Some(self.options.clone()),
            raw: self.raw,
            system: self.system.clone().filter(|_| !self.raw),
            ..GenerateRequest::default()
        }
    }

    /// A `/api/chat` request for the conversation.
    fn chat(&self, turns: &[(String, String)]) -> ChatRequest {
        let mut messages = Vec::with_capacity(turns.len() + 1);
        if let Some(s) = &self.system {
            messages.push(Message::new("system", s.clone()));
        }
        messages.extend(
            turns
                .iter()
                .map(|(r, c)| Message::new(r.clone(), c.clone())),
        );
        ChatRequest {
            model: Some(self.model.clone()),
            messages,
            stream: Some(true),
            options: Some(self.options.clone()),
            ..ChatRequest::default()
        }
    }
}

/// A request as the JSON body sent.
fn body(r: &impl serde::Serialize) -> anyhow::Result<Value> {
    serde_json::to_value(r).context("encoding a request")
}

/// Run `model` on `backend`; `Ok(None)` when no server answers (the caller runs it here).
pub(crate) fn run(
    args: &Args,
    backend: &Backend,
    model: String,
) -> anyhow::Result<Option<ExitCode>> {
    let session = Session::from_args(args, model);
    // Loading the model first tells whether a server answers and whether it has the model,
    // before a prompt is read from stdin.
    let load = GenerateRequest {
        system: None,
        raw: false,
        stream: None,
        ..session.generate("")
    };
    let loaded = match backend.post_stream("/api/generate", &body(&load)?) {
        Ok(Some(mut lines)) => lines.next_value().map(|_| ()),
        Ok(None) => return Ok(None),
        Err(e) => Err(e),
    };
    if let Err(e) = loaded {
        if matches!(backend, Backend::Local(_))
            && ServerError::code_of(&e) == Some("model_not_found")
        {
            bail!(
                "model {:?}: not a GGUF file, and not in the local store (try `hearth pull {}`)",
                session.model,
                session.model
            );
        }
        let what = match backend {
            Backend::Remote => " on the server (or use --local)",
            Backend::Local(_) => "",
        };
        return Err(e.context(format!("loading {}{what}", session.model)));
    }
    tracing::info!("running {} on {}", session.model, backend.label()?);
    if let Some(prompt) = one_shot_prompt(&args.prompt)? {
        let Some(lines) =
            backend.post_stream("/api/generate", &body(&session.generate(&prompt))?)?
        else {
            bail!("the server at {} went away", backend.label()?);
        };
        let a = stream_answer(lines, None)?;
        if !a.text.ends_with('\n') {
            println!();
        }
        if session.verbose {
            print_stats(a.last.as_ref());
        }
        return Ok(Some(ExitCode::SUCCESS));
    }
    repl(session, backend).map(Some)
}

/// A streamed answer.
#[derive(Debug, Default)]
struct Answer {
    text: String,
    /// The reason and stats of the final object; `None` when cut off.
    last: Option<Final>,
    cancelled: bool,
}

/// One object of the answer stream, typed.
fn reply(v: Value) -> anyhow::Result<Reply> {
    serde_json::from_value(v).context("an answer object the server should not send")
}

/// Print an answer's text as it streams. With `interrupted`, the stream is read on a thread so
/// that Ctrl-C ends the answer at once; the connection closes when that thread ends.
fn stream_answer(mut lines: Ndjson, interrupted: Option<&AtomicBool>) -> anyhow::Result<Answer> {
    let mut out = std::io::stdout().lock();
    let mut a = Answer::default();
    let mut take = |v: Value, a: &mut Answer| -> anyhow::Result<bool> {
        let r = reply(v)?;
        // Thinking goes to stderr: stdout stays the answer (for pipes and scripts).
        if !r.thinking().is_empty() {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(r.thinking().as_bytes());
            let _ = err.flush();
        }
        out.write_all(r.text().as_bytes())?;
        out.flush()?;
        a.text.push_str(r.text());
        if r.done() {
            a.last = r.last().cloned();
        }
        Ok(r.done())
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

/// Say when the server left the oldest turns out of a chat that no longer fits the context.
fn truncation_note(last: Option<&Final>) {
    if let Some(t) = last.and_then(|l| l.truncated.as_ref()) {
        eprintln!(
            "(the conversation is longer than the context: its {} oldest message(s) were left out)",
            t.messages
        );
    }
}

/// Ollama-style statistics on stderr, from the final object's durations and counts.
fn print_stats(last: Option<&Final>) {
    let Some(st) = last.map(|l| &l.stats) else {
        return;
    };
    let ns = Duration::from_nanos;
    let (pc, pd) = (st.prompt_eval_count, ns(st.prompt_eval_duration));
    let (ec, ed) = (st.eval_count, ns(st.eval_duration));
    eprintln!(
        "total duration:       {}",
        fmt_duration(ns(st.total_duration))
    );
    eprintln!(
        "load duration:        {}",
        fmt_duration(ns(st.load_duration))
    );
    eprintln!("prompt eval count:    {pc} token(s)");
    eprintln!("prompt eval duration: {}", fmt_duration(pd));
    eprintln!("prompt eval rate:     {:.2} tokens/s", rate(pc, pd));
    eprintln!("eval count:           {ec} token(s)");
    eprintln!("eval duration:        {}", fmt_duration(ed));
    eprintln!("eval rate:            {:.2} tokens/s", rate(ec, ed));
}

fn repl(mut session: Session, backend: &Backend) -> anyhow::Result<ExitCode> {
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
                match command(&mut session, backend, &line, &mut turns) {
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
        let (path, request) = if session.raw {
            ("/api/generate", body(&session.generate(&input))?)
        } else {
            ("/api/chat", body(&session.chat(&turns))?)
        };
        let result = match backend.post_stream(path, &request) {
            Ok(Some(lines)) => stream_answer(lines, Some(&interrupted)),
            Ok(None) => Err(anyhow::anyhow!(
                "the server at {} went away",
                backend.label()?
            )),
            Err(e) => Err(e),
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
                truncation_note(a.last.as_ref());
                if session.verbose {
                    print_stats(a.last.as_ref());
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

/// Handle a slash command; `Ok(true)` means exit.
fn command(
    session: &mut Session,
    backend: &Backend,
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
            match backend.post_json("/api/show", &json!({"model": session.model})) {
                Ok(Some(v)) => {
                    let d = &v["details"];
                    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
                    println!("  architecture    {}", s(&d["family"]));
                    println!("  parameters      {}", s(&d["parameter_size"]));
                    println!("  quantization    {}", s(&d["quantization_level"]));
                }
                // A GGUF file run by path is not in a store.
                Err(e) if ServerError::code_of(&e) == Some("model_not_found") => {
                    println!("  file            {}", session.model);
                }
                Ok(None) => bail!("the server went away"),
                Err(e) => return Err(e),
            }
            println!("  server          {}", backend.label()?);
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
fn set_option(options: &mut Options, name: &str, value: &str) -> anyhow::Result<()> {
    let f = || -> anyhow::Result<Option<f32>> {
        value
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .with_context(|| format!("{name}: expected a number, got {value:?}"))
    };
    let i = || -> anyhow::Result<Option<i64>> {
        value
            .parse::<i64>()
            .map(Some)
            .with_context(|| format!("{name}: expected an integer, got {value:?}"))
    };
    match name {
        "temperature" => options.temperature = f()?,
        "top_p" => options.top_p = f()?,
        "min_p" => options.min_p = f()?,
        "repeat_penalty" => options.repeat_penalty = f()?,
        "presence_penalty" => options.presence_penalty = f()?,
        "frequency_penalty" => options.frequency_penalty = f()?,
        "top_k" => options.top_k = i()?,
        "repeat_last_n" => options.repeat_last_n = i()?,
        "num_predict" => options.num_predict = i()?,
        "num_ctx" => options.num_ctx = i()?,
        "seed" => {
            let n = i()?;
            if n.is_some_and(|n| n < 0) {
                bail!("seed must be >= 0");
            }
            options.seed = n;
        }
        "stop" => {
            let s = value.trim_matches('"').to_string();
            let mut all = options
                .stop
                .take()
                .map(StringOrVec::into_vec)
                .unwrap_or_default();
            all.push(s);
            options.stop = Some(StringOrVec::Many(all));
        }
        _ => bail!("unknown parameter {name:?}"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            model: "m".into(),
            options: Options::default(),
            system: Some("Be brief.".into()),
            verbose: false,
            raw: false,
        }
    }

    #[test]
    fn set_option_checks_and_collects_stops() {
        let mut o = Options::default();
        set_option(&mut o, "temperature", "0.2").unwrap();
        set_option(&mut o, "num_predict", "12").unwrap();
        set_option(&mut o, "stop", "\"END\"").unwrap();
        set_option(&mut o, "stop", "###").unwrap();
        assert_eq!(
            body(&o).unwrap(),
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
            body(&s.chat(&turns)).unwrap(),
            json!({"model": "m", "stream": true, "options": {"seed": 7}, "messages": [
                {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]})
        );
        assert_eq!(body(&s.generate("hi")).unwrap()["system"], "Be brief.");
        s.raw = true;
        let g = body(&s.generate("hi")).unwrap();
        assert_eq!((g["raw"].clone(), g.get("system")), (json!(true), None));
        // What the server parses is what was meant.
        let back: GenerateRequest = serde_json::from_value(g).unwrap();
        assert_eq!(back.options.unwrap().seed, Some(7));
    }

    #[test]
    fn typed_pieces_and_final_objects() {
        let r = reply(json!({"model": "m", "created_at": "t", "response": "a", "done": false}))
            .unwrap();
        assert_eq!((r.text(), r.done(), r.last().is_none()), ("a", false, true));
        let r = reply(json!({"model": "m", "created_at": "t", "done": false,
            "message": {"role": "assistant", "content": "b"}}))
        .unwrap();
        assert_eq!(r.text(), "b");
        let last = reply(
            json!({"model": "m", "created_at": "t", "response": "", "done": true,
            "done_reason": "stop", "total_duration": 3, "load_duration": 0,
            "prompt_eval_count": 5, "prompt_eval_duration": 1, "eval_count": 10,
            "eval_duration": 2_000_000_000u64, "truncated": {"messages": 2,
            "prompt_tokens_before": 900, "prompt_tokens": 400}}),
        )
        .unwrap();
        let f = last.last().unwrap();
        assert_eq!((f.stats.eval_count, f.done_reason.as_str()), (10, "stop"));
        assert_eq!(f.truncated.as_ref().unwrap().messages, 2);
        // A load answer is done without stats.
        let load = reply(
            json!({"model": "m", "created_at": "t", "response": "", "done": true,
            "done_reason": "load"}),
        )
        .unwrap();
        assert!(load.done() && load.last().is_none());
        assert!(reply(json!({"done": "yes"})).is_err());
    }

    #[test]
    fn streamed_answers_end_at_done_and_report_errors() {
        let text = "{\"model\":\"m\",\"created_at\":\"t\",\"response\":\"Hel\",\"done\":false}\n\
                    {\"model\":\"m\",\"created_at\":\"t\",\"response\":\"lo\",\"done\":false}\n\
                    {\"model\":\"m\",\"created_at\":\"t\",\"response\":\"\",\"done\":true,\
                    \"done_reason\":\"stop\",\"total_duration\":1,\"load_duration\":0,\
                    \"prompt_eval_count\":1,\"prompt_eval_duration\":1,\"eval_count\":2,\
                    \"eval_duration\":1}\n";
        let a = stream_answer(Ndjson::new("t".into(), Box::new(text.as_bytes())), None).unwrap();
        assert_eq!(a.text, "Hello");
        assert_eq!(a.last.unwrap().stats.eval_count, 2);
        let flag = AtomicBool::new(false);
        let a = stream_answer(
            Ndjson::new("t".into(), Box::new(text.as_bytes())),
            Some(&flag),
        )
        .unwrap();
        assert_eq!((a.text.as_str(), a.cancelled), ("Hello", false));
        let bad = "{\"model\":\"m\",\"created_at\":\"t\",\"response\":\"x\",\"done\":false}\n\
                   {\"error\":\"out of memory\"}\n";
        let e = stream_answer(
            Ndjson::new("t".into(), Box::new(bad.as_bytes())),
            Some(&flag),
        )
        .unwrap_err();
        assert!(e.to_string().contains("out of memory"), "{e}");
        let long = "{\"error\":\"prompt is 900 tokens, more than the context of 512 tokens\",\"code\":\"prompt_too_long\"}\n";
        let e =
            stream_answer(Ndjson::new("t".into(), Box::new(long.as_bytes())), None).unwrap_err();
        assert_eq!(ServerError::code_of(&e), Some("prompt_too_long"), "{e}");
    }
}
