//! Talking to a running `hearth serve` (for `ps`, `stop`, and `list`, `pull`, `run` when a server
//! answers): the address from HEARTH_HOST / OLLAMA_HOST (unspecified addresses are reached over
//! loopback) and the key from HEARTH_API_KEY. `HEARTH_NO_SERVER=1` (or `--local`) keeps the
//! model commands standalone.
use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use anyhow::Context as _;
use hearth_server::config::ServerConfig;
use serde_json::Value;

/// Longest NDJSON line accepted from a server (a token, a progress line or a final object).
const MAX_LINE: u64 = 16 << 20;
/// Longest error body read from a failed request.
const MAX_ERROR_BODY: u64 = 64 << 10;

/// Base URL of the local server.
pub(crate) fn base_url() -> anyhow::Result<String> {
    let cfg = ServerConfig::from_env(|k| std::env::var(k).ok())?;
    let mut addr = cfg.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(format!("http://{addr}"))
}

/// Whether `list`, `pull` and `run` should try the server first: not with `--local`, nor with
/// `HEARTH_NO_SERVER` set to anything but empty or `0`.
pub(crate) fn use_server(local_flag: bool) -> bool {
    !local_flag && !no_server_env(std::env::var("HEARTH_NO_SERVER").ok().as_deref())
}

fn no_server_env(v: Option<&str>) -> bool {
    v.map(str::trim)
        .is_some_and(|v| !v.is_empty() && v != "0" && !v.eq_ignore_ascii_case("false"))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// For streamed answers and pulls, which may run for as long as they need: only connecting
/// is bounded.
fn stream_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn auth() -> Option<String> {
    std::env::var("HEARTH_API_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .map(|k| format!("Bearer {k}"))
}

/// Whether a request failed because nothing listens at the address (so the command may run
/// standalone), as opposed to a server that answered badly or a timeout.
fn no_server(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::ConnectionFailed => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::AddrNotAvailable
        ),
        _ => false,
    }
}

/// An error the server answered: its message and, from hearth servers, a stable `code`
/// (`prompt_too_long`, `model_not_found`, ...) that callers match instead of the wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerError {
    /// The URL asked (or `local` for the in-process server).
    pub url: String,
    /// The HTTP status; `None` for an error line inside a stream.
    pub status: Option<u16>,
    /// The server's message.
    pub message: String,
    /// The server's code, when it sent one.
    pub code: Option<String>,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server {}: {}", self.url, self.message)?;
        if let Some(s) = self.status {
            write!(f, " (HTTP {s})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

impl ServerError {
    /// From an error object: Ollama's `{"error": "...", "code": "..."}` or OpenAI's
    /// `{"error": {"message": "...", "code": "..."}}`.
    fn from_value(url: &str, status: Option<u16>, v: &Value) -> Option<ServerError> {
        let e = v.get("error")?;
        let (message, code) = match e {
            Value::String(m) => (m.clone(), v.get("code")),
            Value::Object(o) => (
                o.get("message")
                    .and_then(Value::as_str)
                    .map_or_else(|| e.to_string(), str::to_string),
                o.get("code"),
            ),
            other => (other.to_string(), None),
        };
        Some(ServerError {
            url: url.to_string(),
            status,
            message,
            code: code.and_then(Value::as_str).map(str::to_string),
        })
    }

    /// The code of `e` when it is a server's error.
    pub(crate) fn code_of(e: &anyhow::Error) -> Option<&str> {
        e.downcast_ref::<ServerError>()?.code.as_deref()
    }
}

/// The error of a failed response: the server's message (and code) when it sent one.
fn error_text(url: &str, status: u16, body: &str) -> anyhow::Error {
    let e = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| ServerError::from_value(url, Some(status), &v))
        .unwrap_or_else(|| ServerError {
            url: url.to_string(),
            status: Some(status),
            message: body.trim().to_string(),
            code: None,
        });
    anyhow::Error::new(e)
}

fn read_capped(r: impl Read, cap: u64) -> String {
    let mut buf = Vec::new();
    let _ = r.take(cap).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// GET a JSON document; `Ok(None)` when no server answers.
pub(crate) fn get_json(path: &str) -> anyhow::Result<Option<Value>> {
    let url = format!("{}{path}", base_url()?);
    let mut req = agent().get(&url);
    if let Some(a) = auth() {
        req = req.header("authorization", a);
    }
    let mut resp = match req.call() {
        Ok(r) => r,
        Err(e) if no_server(&e) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("GET {url}")),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string()?;
    if status != 200 {
        return Err(error_text(&url, status, &text));
    }
    Ok(Some(
        serde_json::from_str(&text).with_context(|| format!("GET {url}: invalid JSON"))?,
    ))
}

/// POST a JSON body; `Ok(None)` when no server answers.
pub(crate) fn post_json(path: &str, body: &Value) -> anyhow::Result<Option<Value>> {
    let url = format!("{}{path}", base_url()?);
    let mut req = agent()
        .post(&url)
        .header("content-type", "application/json");
    if let Some(a) = auth() {
        req = req.header("authorization", a);
    }
    let mut resp = match req.send(body.to_string().as_str()) {
        Ok(r) => r,
        Err(e) if no_server(&e) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("POST {url}")),
    };
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string()?;
    if status != 200 {
        return Err(error_text(&url, status, &text));
    }
    Ok(Some(
        serde_json::from_str(text.lines().last().unwrap_or("{}"))
            .with_context(|| format!("POST {url}: invalid JSON"))?,
    ))
}

/// POST a JSON body and read the NDJSON stream it answers; `Ok(None)` when no server answers.
/// Dropping the stream closes the connection, which stops the server's generation.
pub(crate) fn post_stream(path: &str, body: &Value) -> anyhow::Result<Option<Ndjson>> {
    let url = format!("{}{path}", base_url()?);
    let mut req = stream_agent()
        .post(&url)
        .header("content-type", "application/json");
    if let Some(a) = auth() {
        req = req.header("authorization", a);
    }
    let resp = match req.send(body.to_string().as_str()) {
        Ok(r) => r,
        Err(e) if no_server(&e) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("POST {url}")),
    };
    let status = resp.status().as_u16();
    let reader = resp.into_body().into_reader();
    if status != 200 {
        return Err(error_text(
            &url,
            status,
            &read_capped(reader, MAX_ERROR_BODY),
        ));
    }
    Ok(Some(Ndjson::new(url, Box::new(reader))))
}

/// Where `hearth run` sends its requests: a running server, or the same server in this
/// process (`--local`, or when none answers), so both run one pipeline.
pub(crate) enum Backend {
    /// The server at [`base_url`].
    Remote,
    /// hearth-server's router in this process.
    Local(hearth_server::InProcess),
}

impl Backend {
    /// Where answers come from, for messages.
    pub(crate) fn label(&self) -> anyhow::Result<String> {
        match self {
            Backend::Remote => base_url(),
            Backend::Local(_) => Ok("local".into()),
        }
    }

    /// POST and read the NDJSON answer; `Ok(None)` when no server answers (remote only).
    pub(crate) fn post_stream(&self, path: &str, body: &Value) -> anyhow::Result<Option<Ndjson>> {
        match self {
            Backend::Remote => post_stream(path, body),
            Backend::Local(s) => {
                let (status, reader) = s.request("POST", path, body.to_string().into_bytes())?;
                if status != 200 {
                    return Err(error_text(
                        "local",
                        status,
                        &read_capped(reader, MAX_ERROR_BODY),
                    ));
                }
                Ok(Some(Ndjson::new("local".into(), Box::new(reader))))
            }
        }
    }

    /// POST and read one JSON answer; `Ok(None)` when no server answers (remote only).
    pub(crate) fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Option<Value>> {
        match self {
            Backend::Remote => post_json(path, body),
            Backend::Local(_) => {
                let Some(mut lines) = self.post_stream(path, body)? else {
                    return Ok(None);
                };
                let mut last = None;
                while let Some(v) = lines.next_value()? {
                    last = Some(v);
                }
                Ok(last)
            }
        }
    }
}

/// One JSON object per line, each line at most [`MAX_LINE`] bytes; an `{"error": ...}` object
/// becomes an error.
pub(crate) struct Ndjson {
    url: String,
    reader: BufReader<Box<dyn Read + Send>>,
}

impl Ndjson {
    pub(crate) fn new(url: String, reader: Box<dyn Read + Send>) -> Ndjson {
        Ndjson {
            url,
            reader: BufReader::new(reader),
        }
    }

    /// The next object, `Ok(None)` at the end of the stream.
    pub(crate) fn next_value(&mut self) -> anyhow::Result<Option<Value>> {
        loop {
            let mut line = Vec::new();
            let n = (&mut self.reader)
                .take(MAX_LINE)
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading the answer of {}", self.url))?;
            if n == 0 {
                return Ok(None);
            }
            if line.last() != Some(&b'\n') && n as u64 >= MAX_LINE {
                anyhow::bail!(
                    "{}: a line of the answer is over {MAX_LINE} bytes",
                    self.url
                );
            }
            let text = String::from_utf8_lossy(&line);
            if text.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(text.trim())
                .with_context(|| format!("{}: invalid JSON line {:?}", self.url, text.trim()))?;
            if let Some(e) = ServerError::from_value(&self.url, None, &v) {
                return Err(anyhow::Error::new(e));
            }
            return Ok(Some(v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &'static str) -> Ndjson {
        Ndjson::new("test".into(), Box::new(s.as_bytes()))
    }

    #[test]
    fn ndjson_lines_errors_and_blank_lines() {
        let mut n = lines("{\"a\":1}\n\n{\"b\":2}");
        assert_eq!(n.next_value().unwrap().unwrap()["a"], 1);
        assert_eq!(n.next_value().unwrap().unwrap()["b"], 2);
        assert!(n.next_value().unwrap().is_none());

        let mut n = lines("{\"status\":\"x\"}\n{\"error\":\"model \\\"m\\\" not found\"}\n");
        assert!(n.next_value().unwrap().is_some());
        let e = n.next_value().unwrap_err().to_string();
        assert!(e.contains("model \"m\" not found"), "{e}");

        assert!(lines("not json\n").next_value().is_err());
    }

    #[test]
    fn error_bodies_show_the_server_message() {
        let e = error_text(
            "http://h/api/chat",
            404,
            r#"{"error":"model \"x\" not found","code":"model_not_found"}"#,
        );
        assert_eq!(
            e.to_string(),
            "server http://h/api/chat: model \"x\" not found (HTTP 404)"
        );
        assert_eq!(ServerError::code_of(&e), Some("model_not_found"));
        let e = error_text(
            "u",
            400,
            r#"{"error":{"message":"too long","type":"invalid_request_error","code":"prompt_too_long"}}"#,
        );
        assert_eq!(ServerError::code_of(&e), Some("prompt_too_long"));
        let e = error_text("u", 500, "plain text\n");
        assert_eq!(e.to_string(), "server u: plain text (HTTP 500)");
        assert_eq!(ServerError::code_of(&e), None);
        let mut n = Ndjson::new(
            "t".into(),
            Box::new(&b"{\"error\":\"no\",\"code\":\"internal_error\"}\n"[..]),
        );
        let e = n.next_value().unwrap_err();
        assert_eq!(ServerError::code_of(&e), Some("internal_error"));
    }

    #[test]
    fn no_server_env_values() {
        assert!(!no_server_env(None));
        assert!(!no_server_env(Some("")));
        assert!(!no_server_env(Some("0")));
        assert!(!no_server_env(Some("false")));
        assert!(no_server_env(Some("1")));
        assert!(no_server_env(Some("yes")));
    }
}
