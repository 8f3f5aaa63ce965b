//! The models `hearth eval` asks: hearth's own server in this process and another
//! OpenAI-compatible server, one [`Client`] over either, as a chat model and as an autocomplete
//! model.
use std::io::Read;
use std::time::Duration;

use anyhow::Context;
use hearth_eval::{Answer, Chat, ChatError, Complete, Message};
use hearth_prompt::fim::{FimFormat, FimInput, FimLayout};
use serde_json::{json, Value};

use super::Args;

/// How hearth is asked for a completion (`--fim-path`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FimPath {
    /// Ollama's `/api/generate` with `prompt` and `suffix` (what Continue's and most editors'
    /// Ollama providers send): hearth builds the FIM prompt.
    Ollama,
    /// `/v1/completions` with `prompt` and `suffix` (OpenAI's completions API).
    Openai,
    /// `/infill` with `input_prefix` and `input_suffix` (llama.cpp's server's endpoint, what
    /// llama.vim and llama.vscode send).
    Infill,
    /// `/v1/completions` with the FIM prompt written by the client (the PSM layout of the
    /// model's FIM tokens): the same bytes another server gets with `--compare`.
    Raw,
}

impl FimPath {
    pub(crate) fn name(self) -> &'static str {
        match self {
            FimPath::Ollama => "ollama",
            FimPath::Openai => "openai",
            FimPath::Infill => "infill",
            FimPath::Raw => "raw",
        }
    }
}

/// The raw prompt (PSM: `<prefix>P<suffix>S<middle>`) and the stops for a model's FIM format,
/// for requests that write the prompt themselves.
#[derive(Debug, Clone)]
pub(crate) struct RawFim {
    format: FimFormat,
    /// Shape each completion the way hearth's autocomplete path does (`--shape`).
    shape: bool,
}

impl RawFim {
    /// The FIM format of the model file at `path`.
    pub(crate) fn of(path: &std::path::Path, shape: bool) -> anyhow::Result<RawFim> {
        let gguf = hearth_gguf::GgufFile::open(path)
            .with_context(|| format!("{}: not a valid GGUF model", path.display()))?;
        let format = FimFormat::detect(gguf.metadata()).with_context(|| {
            format!(
                "{}: the vocabulary has no fill-in-the-middle tokens",
                path.display()
            )
        })?;
        Ok(RawFim { format, shape })
    }

    /// What the client keeps of a completion: all of it, or with `--shape` what hearth's
    /// autocomplete path would insert (cut at the end of the line or block, no repeat of the
    /// text after the cursor, no trailing whitespace).
    fn keep(&self, mut answer: Answer, prefix: &str, suffix: &str) -> Answer {
        if self.shape {
            answer.text = hearth_prompt::shape::shape(&answer.text, prefix, suffix, None);
        }
        answer
    }

    /// How the path is named in labels and result keys.
    pub(crate) fn name(&self) -> &'static str {
        if self.shape {
            "raw, shaped"
        } else {
            "raw"
        }
    }

    fn prompt(&self, prefix: &str, suffix: &str) -> String {
        let input = FimInput {
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
            ..FimInput::default()
        };
        self.format.build(&input, FimLayout::Psm).text()
    }

    fn stops(&self, one_line: bool) -> Vec<String> {
        let mut stops: Vec<String> = one_line.then(|| "\n".to_string()).into_iter().collect();
        stops.extend(self.format.stop_tokens().iter().cloned());
        // OpenAI's API takes at most 4 stops; llama.cpp's server and hearth take more.
        stops
    }
}

/// Which sampling settings requests carry (`--sampling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Sampling {
    /// Greedy, spelled out: temperature 0, top-k 1, top-p 1, min-p 0, no repeat penalty, so
    /// that no server adds its own defaults to a `temperature: 0` request.
    Explicit,
    /// Only `temperature: 0`: each server applies its own defaults, as an editor's request
    /// leaves it to.
    Defaults,
}

impl Sampling {
    /// How results are keyed.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Sampling::Explicit => "greedy, no penalties",
            Sampling::Defaults => "temperature 0, server defaults",
        }
    }

    /// The fields every request carries.
    fn fields(self) -> serde_json::Map<String, Value> {
        let v = match self {
            Sampling::Explicit => json!({
                "temperature": 0,
                "top_p": 1,
                "top_k": 1,
                "min_p": 0,
                "repeat_penalty": 1,
                "seed": 0,
            }),
            Sampling::Defaults => json!({"temperature": 0}),
        };
        match v {
            Value::Object(m) => m,
            _ => serde_json::Map::new(),
        }
    }
}

/// An OpenAI completions request.
fn completions_body(
    sampling: Sampling,
    model: &str,
    prompt: &str,
    suffix: Option<&str>,
    max_tokens: u32,
    stop: &[String],
) -> Value {
    let mut body = sampling.fields();
    body.insert("model".into(), json!(model));
    body.insert("prompt".into(), json!(prompt));
    if let Some(suffix) = suffix {
        body.insert("suffix".into(), json!(suffix));
    }
    body.insert("max_tokens".into(), json!(max_tokens));
    body.insert("stream".into(), json!(false));
    if !stop.is_empty() {
        body.insert("stop".into(), json!(stop));
    }
    Value::Object(body)
}

/// An Ollama generate request with a suffix.
fn generate_body(
    sampling: Sampling,
    model: &str,
    prefix: &str,
    suffix: &str,
    max_tokens: u32,
    one_line: bool,
) -> Value {
    let mut options = sampling.fields();
    options.insert("num_predict".into(), json!(max_tokens));
    if one_line {
        options.insert("stop".into(), json!(["\n"]));
    }
    json!({
        "model": model,
        "prompt": prefix,
        "suffix": suffix,
        "stream": false,
        "options": options,
    })
}

/// A llama.cpp `/infill` request.
fn infill_body(
    sampling: Sampling,
    model: &str,
    prefix: &str,
    suffix: &str,
    max_tokens: u32,
    one_line: bool,
) -> Value {
    let mut body = sampling.fields();
    body.insert("model".into(), json!(model));
    body.insert("input_prefix".into(), json!(prefix));
    body.insert("input_suffix".into(), json!(suffix));
    body.insert("n_predict".into(), json!(max_tokens));
    body.insert("stream".into(), json!(false));
    if one_line {
        body.insert("stop".into(), json!(["\n"]));
    }
    Value::Object(body)
}

/// The completion from an `/infill` response.
fn infilled_of(status: u16, body: &[u8]) -> Result<Answer, ChatError> {
    let v = json_of(status, body)?;
    let text = v["content"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ChatError(format!("no content in {v}")))?;
    Ok(Answer {
        text,
        tokens: tokens(&v["tokens_predicted"]),
    })
}

/// The parsed JSON of a response, or what went wrong.
fn json_of(status: u16, body: &[u8]) -> Result<Value, ChatError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ChatError(format!(
            "status {status}, not JSON ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))
    })?;
    if status != 200 {
        return Err(ChatError(format!("status {status}: {}", v["error"])));
    }
    Ok(v)
}

/// The completion (text, and tokens generated) from an OpenAI completions response.
fn completion_of(status: u16, body: &[u8]) -> Result<Answer, ChatError> {
    let v = json_of(status, body)?;
    let text = v["choices"][0]["text"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ChatError(format!("no choices[0].text in {v}")))?;
    Ok(Answer {
        text,
        tokens: tokens(&v["usage"]["completion_tokens"]),
    })
}

/// The completion from an Ollama generate response.
fn generated_of(status: u16, body: &[u8]) -> Result<Answer, ChatError> {
    let v = json_of(status, body)?;
    let text = v["response"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ChatError(format!("no response in {v}")))?;
    Ok(Answer {
        text,
        tokens: tokens(&v["eval_count"]),
    })
}

fn tokens(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|t| u32::try_from(t).ok())
}

/// Where requests go: hearth's server in this process, or another server over HTTP.
enum Transport {
    InProcess(hearth_server::InProcess),
    Http { base: String, agent: ureq::Agent },
}

impl Transport {
    /// POST a JSON body to `route`: the status and the body (capped).
    fn post(&self, route: &str, body: &Value) -> Result<(u16, Vec<u8>), ChatError> {
        let mut buf = Vec::new();
        let status = match self {
            Transport::InProcess(server) => {
                let (status, reader) = server
                    .request("POST", route, body.to_string().into_bytes())
                    .map_err(|e| ChatError(e.to_string()))?;
                reader
                    .take(MAX_ANSWER_BODY)
                    .read_to_end(&mut buf)
                    .map_err(|e| ChatError(e.to_string()))?;
                status
            }
            Transport::Http { base, agent } => {
                let url = format!("{base}{route}");
                let resp = agent
                    .post(&url)
                    .header("content-type", "application/json")
                    .send(body.to_string().as_str())
                    .map_err(|e| ChatError(format!("POST {url}: {e}")))?;
                let status = resp.status().as_u16();
                resp.into_body()
                    .into_reader()
                    .take(MAX_ANSWER_BODY)
                    .read_to_end(&mut buf)
                    .map_err(|e| ChatError(format!("POST {url}: {e}")))?;
                status
            }
        };
        Ok((status, buf))
    }
}

/// A model to ask: hearth's server in this process with one model and one sequence
/// ([`Client::local`]), or another OpenAI-compatible server ([`Client::remote`]), which gets
/// completions as the raw FIM prompt.
pub(crate) struct Client {
    transport: Transport,
    model: String,
    label: String,
    /// How completions are asked, and the raw prompt's format where the path needs it.
    fim: (FimPath, Option<RawFim>),
    sampling: Sampling,
}

impl Client {
    pub(crate) fn local(name: &str, path: &std::path::Path, args: &Args) -> anyhow::Result<Client> {
        let (server, model) =
            super::super::one_sequence_server(name, args.ctx(), args.threads, Default::default())?;
        let label = path
            .file_name()
            .map_or(name.to_string(), |f| f.to_string_lossy().into_owned());
        let raw = match args.fim_path {
            FimPath::Raw => Some(RawFim::of(path, args.shape)?),
            FimPath::Ollama | FimPath::Openai | FimPath::Infill => None,
        };
        Ok(Client {
            transport: Transport::InProcess(server),
            model,
            label,
            fim: (args.fim_path, raw),
            sampling: args.sampling,
        })
    }

    pub(crate) fn remote(
        label: &str,
        url: &str,
        model: &str,
        raw: Option<RawFim>,
        sampling: Sampling,
    ) -> Client {
        let base = url.trim_end_matches('/').trim_end_matches("/v1");
        Client {
            transport: Transport::Http {
                base: base.to_string(),
                agent: ureq::Agent::config_builder()
                    .timeout_connect(Some(Duration::from_secs(10)))
                    .timeout_global(Some(Duration::from_secs(900)))
                    .http_status_as_error(false)
                    .build()
                    .new_agent(),
            },
            model: model.to_string(),
            label: format!("{label}={base}"),
            fim: (FimPath::Raw, raw),
            sampling,
        }
    }

    /// Another server's chat completions URL (its results are keyed by it).
    pub(crate) fn chat_url(&self) -> Option<String> {
        match &self.transport {
            Transport::Http { base, .. } => Some(format!("{base}/v1/chat/completions")),
            Transport::InProcess(_) => None,
        }
    }
}

/// The request both sides get: greedy, no penalties (llama.cpp's server would otherwise add
/// its own defaults, e.g. a repeat penalty, to a `temperature: 0` request).
fn chat_body(sampling: Sampling, model: &str, messages: &[Message], max_tokens: u32) -> Value {
    let mut body = sampling.fields();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), json!(messages));
    body.insert("max_tokens".into(), json!(max_tokens));
    body.insert("stream".into(), json!(false));
    Value::Object(body)
}

/// A sampled chat request for pass@k: the same on every server (temperature, nucleus 0.95,
/// no top-k cut, no penalties, a seed).
fn sampled_body(model: &str, user: &str, max_tokens: u32, temperature: f32, seed: u64) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": user}],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": 0.95,
        "top_k": 0,
        "min_p": 0,
        "repeat_penalty": 1,
        "seed": seed,
        "stream": false,
    })
}

/// The answer (text, and tokens generated) from an OpenAI chat completion.
fn answer_of(status: u16, body: &[u8]) -> Result<Answer, ChatError> {
    let v = json_of(status, body)?;
    let text = v["choices"][0]["message"]["content"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| ChatError(format!("no choices[0].message.content in {v}")))?;
    Ok(Answer {
        text,
        tokens: tokens(&v["usage"]["completion_tokens"]),
    })
}

/// Most bytes read of one answer.
const MAX_ANSWER_BODY: u64 = 8 << 20;

impl Chat for Client {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn sample(
        &self,
        user: &str,
        max_tokens: u32,
        temperature: f32,
        seed: u64,
    ) -> Result<Answer, ChatError> {
        let body = sampled_body(&self.model, user, max_tokens, temperature, seed);
        let (status, buf) = self.transport.post("/v1/chat/completions", &body)?;
        answer_of(status, &buf)
    }

    fn converse(&self, messages: &[Message], max_tokens: u32) -> Result<Answer, ChatError> {
        let (status, buf) = self.transport.post(
            "/v1/chat/completions",
            &chat_body(self.sampling, &self.model, messages, max_tokens),
        )?;
        answer_of(status, &buf)
    }
}

impl Complete for Client {
    fn label(&self) -> String {
        let path = match &self.fim.1 {
            Some(raw) => raw.name(),
            None => self.fim.0.name(),
        };
        format!("{} ({path})", self.label)
    }

    fn complete(
        &self,
        prefix: &str,
        suffix: &str,
        max_tokens: u32,
        one_line: bool,
    ) -> Result<Answer, ChatError> {
        match &self.fim {
            (FimPath::Ollama, _) => {
                let body = generate_body(
                    self.sampling,
                    &self.model,
                    prefix,
                    suffix,
                    max_tokens,
                    one_line,
                );
                let (status, buf) = self.transport.post("/api/generate", &body)?;
                generated_of(status, &buf)
            }
            (FimPath::Infill, _) => {
                let body = infill_body(
                    self.sampling,
                    &self.model,
                    prefix,
                    suffix,
                    max_tokens,
                    one_line,
                );
                let (status, buf) = self.transport.post("/infill", &body)?;
                infilled_of(status, &buf)
            }
            (FimPath::Raw, Some(raw)) => {
                let body = completions_body(
                    self.sampling,
                    &self.model,
                    &raw.prompt(prefix, suffix),
                    None,
                    max_tokens,
                    &raw.stops(one_line),
                );
                let (status, buf) = self.transport.post("/v1/completions", &body)?;
                Ok(raw.keep(completion_of(status, &buf)?, prefix, suffix))
            }
            (FimPath::Raw, None) => Err(ChatError("no FIM format for the raw prompt".into())),
            (FimPath::Openai, _) => {
                let stop: Vec<String> = one_line.then(|| "\n".to_string()).into_iter().collect();
                let body = completions_body(
                    self.sampling,
                    &self.model,
                    prefix,
                    Some(suffix),
                    max_tokens,
                    &stop,
                );
                let (status, buf) = self.transport.post("/v1/completions", &body)?;
                completion_of(status, &buf)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_answer_or_names_the_error() {
        let ok = br#"{"choices":[{"message":{"role":"assistant","content":"```python\nx\n```"}}],
                      "usage":{"prompt_tokens":30,"completion_tokens":5}}"#;
        let a = answer_of(200, ok).unwrap();
        assert_eq!(a.text, "```python\nx\n```");
        assert_eq!(a.tokens, Some(5));
        let no_usage = br#"{"choices":[{"message":{"content":"x"}}]}"#;
        assert_eq!(answer_of(200, no_usage).unwrap().tokens, None);
        let e = answer_of(404, br#"{"error":{"message":"model not found"}}"#).unwrap_err();
        assert!(
            e.0.contains("404") && e.0.contains("model not found"),
            "{e}"
        );
        let e = answer_of(502, b"<html>bad gateway</html>").unwrap_err();
        assert!(e.0.contains("not JSON"), "{e}");
    }

    #[test]
    fn reads_completions_of_both_apis() {
        let openai = br#"{"choices":[{"text":"x + 1"}],"usage":{"completion_tokens":3}}"#;
        let a = completion_of(200, openai).unwrap();
        assert_eq!((a.text.as_str(), a.tokens), ("x + 1", Some(3)));
        let ollama = br#"{"response":"y","done":true,"eval_count":1}"#;
        let a = generated_of(200, ollama).unwrap();
        assert_eq!((a.text.as_str(), a.tokens), ("y", Some(1)));
        assert!(generated_of(200, b"{}").is_err());
        let infill = br#"{"content":"z","tokens_predicted":2,"stop":true}"#;
        let a = infilled_of(200, infill).unwrap();
        assert_eq!((a.text.as_str(), a.tokens), ("z", Some(2)));
        let b = infill_body(Sampling::Explicit, "m", "p", "s", 48, true);
        assert_eq!(
            (b["input_prefix"].clone(), b["n_predict"].clone()),
            (json!("p"), json!(48))
        );
        assert!(completion_of(400, br#"{"error":"bad"}"#)
            .unwrap_err()
            .0
            .contains("400"));
    }

    #[test]
    fn completion_requests_are_greedy_and_stop_at_the_line_end_when_asked() {
        let g = generate_body(Sampling::Explicit, "m", "def f():\n", "\n", 48, true);
        assert_eq!(g["suffix"], "\n");
        assert_eq!(g["options"]["repeat_penalty"], 1);
        assert_eq!(g["options"]["num_predict"], 48);
        assert_eq!(g["options"]["stop"], json!(["\n"]));
        assert!(
            generate_body(Sampling::Explicit, "m", "a", "b", 128, false)["options"]
                .get("stop")
                .is_none()
        );
        let c = completions_body(Sampling::Explicit, "m", "P", None, 48, &["\n".to_string()]);
        assert_eq!(
            (c["top_k"].clone(), c["stop"].clone()),
            (json!(1), json!(["\n"]))
        );
        assert!(c.get("suffix").is_none());
    }

    #[test]
    fn the_raw_prompt_is_psm_with_the_models_stops() {
        let tokens: Vec<String> = [
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            "<|endoftext|>",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let raw = RawFim {
            format: FimFormat::detect_tokens(&tokens).unwrap(),
            shape: true,
        };
        let shaped = raw.keep(
            Answer::from("x + 1\n    return y\n\n# tests\n".to_string()),
            "def f(x):\n    y = ",
            "\n    return y\n",
        );
        assert_eq!(shaped.text, "x + 1");
        assert_eq!(
            raw.prompt("def f():\n    ", "\n"),
            "<|fim_prefix|>def f():\n    <|fim_suffix|>\n<|fim_middle|>"
        );
        let stops = raw.stops(true);
        assert_eq!(stops[0], "\n");
        assert!(stops.len() > 1, "{stops:?}");
        assert!(!raw.stops(false).contains(&"\n".to_string()));
    }

    #[test]
    fn sampled_requests_sample() {
        let b = sampled_body("m", "hi", 10, 0.8, 3);
        assert_eq!(b["seed"], 3);
        assert_eq!(b["top_k"], 0);
        assert!((b["temperature"].as_f64().unwrap() - 0.8).abs() < 1e-6);
    }

    #[test]
    fn server_defaults_mean_temperature_only() {
        let b = chat_body(Sampling::Defaults, "m", &[Message::user("hi")], 10);
        assert_eq!(b["temperature"], 0);
        assert!(b.get("top_k").is_none() && b.get("repeat_penalty").is_none());
        assert_ne!(Sampling::Defaults.key(), Sampling::Explicit.key());
    }

    #[test]
    fn the_request_is_greedy_on_both_sides() {
        let b = chat_body(Sampling::Explicit, "m", &[Message::user("hi")], 10);
        assert_eq!(b["temperature"], 0);
        assert_eq!(b["repeat_penalty"], 1);
        assert_eq!(b["messages"][0]["content"], "hi");
    }
}
