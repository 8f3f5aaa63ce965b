//! Chat templates: a GGUF's `tokenizer.chat_template` (Jinja) rendered the way Hugging Face
//! `transformers` renders it (`apply_chat_template(..., tokenize=False)`), in a sandbox.
//!
//! What matches transformers: the variables (`messages`, `tools`, `documents`,
//! `add_generation_prompt`, `bos_token`, `eos_token`, extra keyword variables), message keys
//! whose value is null are dropped, `reasoning_content` / `thinking` / `reasoning` are aliased,
//! `trim_blocks` and `lstrip_blocks` on, `raise_exception`, `strftime_now`, HF's `tojson`
//! (`json.dumps` with `ensure_ascii=False`, `indent`, `separators`, `sort_keys`), loop controls,
//! `namespace`, Python string/dict/list methods, and values printed as Python prints them
//! (`None`, `True`, `{'a': 1}`, `1.0`). `{% generation %}` blocks render their body.
//!
//! The sandbox: no loader (no include/import/extends of other templates), a fuel budget that
//! bounds both instructions and allocated data, a recursion limit, an output-size cap and a
//! template-size cap. Nothing in a template can reach the host: minijinja has no attribute
//! access to Rust internals, so `''.__class__` is just undefined.

use std::io;

use minijinja::value::{Kwargs, Serde, Value};
use minijinja::{Environment, Error, ErrorKind, State};
use serde::{Deserialize, Serialize};

use crate::py;

/// Name under which a template is registered when none is given.
pub const DEFAULT_TEMPLATE_NAME: &str = "tokenizer.chat_template";

/// Marker put in front of `raise_exception` messages so they can be told from engine errors.
const RAISE_MARKER: &str = "raise_exception: ";

/// Resource limits of one render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// minijinja fuel: about one unit per instruction and per 64 bytes of data created.
    pub fuel: u64,
    /// Maximum bytes of rendered output.
    pub max_output: usize,
    /// Maximum nesting (loops, macro calls) during a render (at most 500).
    pub recursion: usize,
    /// Maximum bytes of template source.
    pub max_source: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            fuel: 1_000_000,
            max_output: 16 << 20,
            recursion: 200,
            max_source: 1 << 20,
        }
    }
}

/// Why a template could not be compiled or rendered. Every variant names the template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("chat template {name}: {len} bytes is over the {limit}-byte limit")]
    SourceTooLarge {
        name: String,
        len: usize,
        limit: usize,
    },
    #[error("chat template {name}: syntax error{}: {message}", line_suffix(*line))]
    Syntax {
        name: String,
        line: Option<usize>,
        message: String,
    },
    /// The template itself called `raise_exception(message)` (e.g. "roles must alternate").
    #[error("chat template {name} raised an exception{}: {message}", line_suffix(*line))]
    Raised {
        name: String,
        line: Option<usize>,
        message: String,
    },
    #[error("chat template {name}: render ran out of fuel (budget {fuel}); the template loops too long or builds too much data")]
    OutOfFuel { name: String, fuel: u64 },
    #[error("chat template {name}: output exceeds {limit} bytes")]
    OutputTooLarge { name: String, limit: usize },
    #[error("chat template {name}: render failed{}: {message}", line_suffix(*line))]
    Render {
        name: String,
        line: Option<usize>,
        message: String,
    },
    #[error("chat template {name}: cannot pass the input to the template: {message}")]
    Input { name: String, message: String },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

/// A tool call made by the assistant (OpenAI / Ollama shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", default = "function_type")]
    pub kind: String,
    pub function: FunctionCall,
}

fn function_type() -> String {
    "function".into()
}

/// The function a [`ToolCall`] invokes. `arguments` is passed to the template as given: an
/// object (Ollama, and what most Hugging Face templates expect) or a JSON string (OpenAI).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    pub name: String,
    #[serde(default)]
    pub arguments: serde_json::Value,
}

impl FunctionCall {
    /// Turns `arguments` given as a JSON string holding an object (OpenAI's form) into that
    /// object, which is what most templates (`arguments | tojson`) expect. Other values stay.
    pub fn parse_string_arguments(&mut self) {
        if let serde_json::Value::String(s) = &self.arguments {
            if let Ok(v @ serde_json::Value::Object(_)) =
                serde_json::from_str::<serde_json::Value>(s)
            {
                self.arguments = v;
            }
        }
    }
}

impl ToolCall {
    /// A function call with object arguments.
    pub fn function(name: impl Into<String>, arguments: serde_json::Value) -> ToolCall {
        ToolCall {
            id: None,
            kind: function_type(),
            function: FunctionCall {
                name: name.into(),
                arguments,
            },
        }
    }
}

/// One chat message. Fields that are `None` are not passed to the template at all (as
/// transformers drops null keys); `extra` carries any other keys a template may read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Message {
    /// A message with a role and text content.
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message {
            role: role.into(),
            content: Some(content.into()),
            ..Default::default()
        }
    }
    pub fn system(content: impl Into<String>) -> Message {
        Message::new("system", content)
    }
    pub fn user(content: impl Into<String>) -> Message {
        Message::new("user", content)
    }
    pub fn assistant(content: impl Into<String>) -> Message {
        Message::new("assistant", content)
    }
    /// A tool result answering the call with `tool_call_id`.
    pub fn tool(content: impl Into<String>, tool_call_id: Option<String>) -> Message {
        Message {
            tool_call_id,
            ..Message::new("tool", content)
        }
    }
}

/// Everything a chat template sees.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RenderInput {
    pub messages: Vec<Message>,
    /// Tool definitions (JSON schemas), passed as given; `None` renders as Python's `None`.
    #[serde(default)]
    pub tools: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub add_generation_prompt: bool,
    #[serde(default)]
    pub bos_token: String,
    #[serde(default)]
    pub eos_token: String,
    /// Further template variables (transformers' `**kwargs`, e.g. `enable_thinking`). They
    /// never replace the variables above.
    #[serde(default)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl RenderInput {
    /// [`FunctionCall::parse_string_arguments`] on every tool call of every message.
    pub fn parse_string_arguments(&mut self) {
        for m in &mut self.messages {
            for call in m.tool_calls.iter_mut().flatten() {
                call.function.parse_string_arguments();
            }
        }
    }
}

/// A compiled chat template, cheap to render many times; `Send + Sync`.
pub struct ChatTemplate {
    name: String,
    env: Environment<'static>,
    limits: Limits,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate")
            .field("name", &self.name)
            .field("limits", &self.limits)
            .finish()
    }
}

impl ChatTemplate {
    /// Compiles `source` under the default name with default limits.
    pub fn new(source: &str) -> Result<ChatTemplate, TemplateError> {
        ChatTemplate::with_options(DEFAULT_TEMPLATE_NAME, source, Limits::default())
    }

    /// Compiles `source`; `name` (e.g. the model and metadata key) appears in every error.
    pub fn with_options(
        name: &str,
        source: &str,
        limits: Limits,
    ) -> Result<ChatTemplate, TemplateError> {
        let name = name.to_string();
        if source.len() > limits.max_source {
            return Err(TemplateError::SourceTooLarge {
                name,
                len: source.len(),
                limit: limits.max_source,
            });
        }
        let source = crate::compat::normalize_source(source);
        let mut env = Environment::new();
        let syntax = minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| map_error(&name, &limits, &e, false))?;
        env.set_syntax(syntax);
        env.set_fuel(Some(limits.fuel));
        env.set_recursion_limit(limits.recursion);
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.set_formatter(|out, _state, value| {
            let res = match value.as_str() {
                Some(s) if value.kind() == minijinja::value::ValueKind::String => out.write_str(s),
                _ => out.write_str(&py::py_str(value)?),
            };
            res.map_err(|_| Error::new(ErrorKind::WriteFailure, "could not write output"))
        });
        env.add_filter("tojson", tojson);
        env.add_filter("string", |v: &Value| py::py_str(v));
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", |fmt: &str| {
            py::strftime(fmt, &py::DateTime::now_utc())
        });
        env.add_template_owned(name.clone(), source)
            .map_err(|e| map_error(&name, &limits, &e, false))?;
        Ok(ChatTemplate { name, env, limits })
    }

    /// The default chat template of a GGUF (`tokenizer.chat_template`), or a named variant
    /// (`tokenizer.chat_template.<variant>`, e.g. `tool_use`). `None` when the key is absent.
    pub fn from_metadata(
        md: &hearth_gguf::Metadata,
        variant: Option<&str>,
    ) -> Option<Result<ChatTemplate, TemplateError>> {
        let key = match variant {
            Some(v) => format!("tokenizer.chat_template.{v}"),
            None => "tokenizer.chat_template".to_string(),
        };
        let source = md.get_str(&key)?;
        Some(ChatTemplate::with_options(&key, source, Limits::default()))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Top-level variables the template reads that hearth does not define itself (e.g.
    /// `tools`, `enable_thinking`, `documents`), for deciding a model's capabilities.
    pub fn variables(&self) -> Vec<String> {
        let Ok(t) = self.env.get_template(&self.name) else {
            return Vec::new();
        };
        let mut v: Vec<String> = t.undeclared_variables(false).into_iter().collect();
        v.sort();
        v
    }

    /// Whether the template renders the `tools` it is given (Ollama's `tools` capability).
    pub fn supports_tools(&self) -> bool {
        self.variables().iter().any(|v| v == "tools")
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Renders the conversation to prompt text.
    pub fn render(&self, input: &RenderInput) -> Result<String, TemplateError> {
        let ctx = self.context(input)?;
        let tmpl = self
            .env
            .get_template(&self.name)
            .map_err(|e| self.err(&e, false))?;
        let mut w = CappedWriter {
            buf: Vec::new(),
            limit: self.limits.max_output,
            exceeded: false,
        };
        let res = tmpl.render_captured_to(ctx, &mut w);
        if let Err(e) = res {
            return Err(self.err(&e, w.exceeded));
        }
        String::from_utf8(w.buf).map_err(|e| TemplateError::Render {
            name: self.name.clone(),
            line: None,
            message: format!("output is not UTF-8: {e}"),
        })
    }

    fn err(&self, e: &Error, output_exceeded: bool) -> TemplateError {
        map_error(&self.name, &self.limits, e, output_exceeded)
    }

    fn context(&self, input: &RenderInput) -> Result<Value, TemplateError> {
        let mut messages = Vec::with_capacity(input.messages.len());
        for m in &input.messages {
            let v = serde_json::to_value(m).map_err(|e| TemplateError::Input {
                name: self.name.clone(),
                message: format!("message with role {:?}: {e}", m.role),
            })?;
            messages.push(alias_reasoning(drop_nulls(v)));
        }
        let mut pairs: Vec<(String, Value)> = vec![
            ("messages".into(), Value::from(Serde(messages))),
            ("tools".into(), Value::from(Serde(&input.tools))),
            ("documents".into(), Value::from(())),
            (
                "add_generation_prompt".into(),
                Value::from(input.add_generation_prompt),
            ),
            ("bos_token".into(), Value::from(input.bos_token.as_str())),
            ("eos_token".into(), Value::from(input.eos_token.as_str())),
        ];
        for (k, v) in &input.extra {
            if !pairs.iter().any(|(name, _)| name == k) {
                pairs.push((k.clone(), Value::from(Serde(v))));
            }
        }
        Ok(Value::from_pairs(pairs))
    }
}

/// The BOS and EOS token texts of a GGUF vocabulary (what transformers passes as `bos_token`
/// and `eos_token`); empty when the metadata does not say.
pub fn special_tokens(md: &hearth_gguf::Metadata) -> (String, String) {
    let tokens = md.tokens().unwrap_or_default();
    let info = md.tokenizer();
    let text = |id: Option<u64>| {
        id.and_then(|i| usize::try_from(i).ok())
            .and_then(|i| tokens.get(i))
            .cloned()
            .unwrap_or_default()
    };
    (text(info.bos_token_id), text(info.eos_token_id))
}

/// transformers drops the keys of a message whose value is null.
fn drop_nulls(v: serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}

/// transformers' `_alias_reasoning_fields`: the first of `reasoning_content`, `thinking`,
/// `reasoning` that is set becomes `{"thinking": r, **message, "reasoning_content": r}`.
fn alias_reasoning(v: serde_json::Value) -> serde_json::Value {
    let serde_json::Value::Object(m) = v else {
        return v;
    };
    let reasoning = ["reasoning_content", "thinking", "reasoning"]
        .iter()
        .find_map(|k| m.get(*k).filter(|v| !v.is_null()).cloned());
    let Some(r) = reasoning else {
        return serde_json::Value::Object(m);
    };
    let mut out = serde_json::Map::new();
    out.insert("thinking".into(), r.clone());
    for (k, v) in m {
        out.insert(k, v);
    }
    out.insert("reasoning_content".into(), r);
    serde_json::Value::Object(out)
}

fn map_error(name: &str, limits: &Limits, e: &Error, output_exceeded: bool) -> TemplateError {
    let name = name.to_string();
    let line = e.line();
    if output_exceeded {
        return TemplateError::OutputTooLarge {
            name,
            limit: limits.max_output,
        };
    }
    match e.kind() {
        ErrorKind::OutOfFuel => TemplateError::OutOfFuel {
            name,
            fuel: limits.fuel,
        },
        ErrorKind::SyntaxError | ErrorKind::InvalidDelimiter | ErrorKind::BadEscape => {
            TemplateError::Syntax {
                name,
                line,
                message: e.detail().unwrap_or("invalid syntax").to_string(),
            }
        }
        _ => {
            // raise_exception errors may arrive wrapped in the error of a macro call.
            let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
            while let Some(err) = cur {
                if let Some(mj) = err.downcast_ref::<Error>() {
                    if let Some(msg) = mj.detail().and_then(|d| d.strip_prefix(RAISE_MARKER)) {
                        return TemplateError::Raised {
                            name,
                            line: mj.line().or(line),
                            message: msg.to_string(),
                        };
                    }
                    if mj.kind() == ErrorKind::OutOfFuel {
                        return TemplateError::OutOfFuel {
                            name,
                            fuel: limits.fuel,
                        };
                    }
                }
                cur = err.source();
            }
            let message = match e.detail() {
                Some(d) => format!("{}: {d}", e.kind()),
                None => e.kind().to_string(),
            };
            TemplateError::Render {
                name,
                line,
                message,
            }
        }
    }
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("{RAISE_MARKER}{message}"),
    ))
}

/// Hugging Face's `tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)`.
fn tojson(
    state: &State,
    value: &Value,
    ensure_ascii: Option<Value>,
    indent: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    // Positionally only the first two options (minijinja functions take at most five arguments);
    // `separators` and `sort_keys` as keywords, which is how templates pass them.
    let pick = |pos: Option<Value>, key: &str| -> Result<Option<Value>, Error> {
        match kwargs.get::<Option<Value>>(key)? {
            Some(v) => Ok(Some(v)),
            None => Ok(pos),
        }
    };
    let ensure_ascii = pick(ensure_ascii, "ensure_ascii")?.is_some_and(|v| v.is_true());
    let sort_keys = pick(None, "sort_keys")?.is_some_and(|v| v.is_true());
    let indent = match pick(indent, "indent")? {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) => match v.as_str() {
            Some(s) => Some(s.to_string()),
            None => {
                let n = v.as_i64().ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        "tojson: indent must be an int or a str",
                    )
                })?;
                Some(" ".repeat(usize::try_from(n).unwrap_or(0).min(64)))
            }
        },
    };
    let separators = match pick(None, "separators")? {
        None => None,
        Some(v) if v.is_none() || v.is_undefined() => None,
        Some(v) => {
            let parts: Vec<Value> = v.try_iter()?.collect();
            match parts.as_slice() {
                [a, b] => match (a.as_str(), b.as_str()) {
                    (Some(a), Some(b)) => Some((a.to_string(), b.to_string())),
                    _ => None,
                },
                _ => None,
            }
            .map(Some)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    "tojson: separators must be two strings",
                )
            })?
        }
    };
    kwargs.assert_all_used()?;
    let opts = py::JsonOptions {
        ensure_ascii,
        indent,
        separators,
        sort_keys,
    };
    let s = py::json_dumps(value, &opts)?;
    state.consume_fuel(s.len() as u64 / 64)?;
    Ok(Value::from(s))
}

/// An `io::Write` into memory that refuses to grow past `limit` bytes.
struct CappedWriter {
    buf: Vec<u8>,
    limit: usize,
    exceeded: bool,
}

impl io::Write for CappedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len().saturating_add(data.len()) > self.limit {
            self.exceeded = true;
            return Err(io::Error::other("chat template output limit reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str, input: &RenderInput) -> Result<String, TemplateError> {
        ChatTemplate::new(src)?.render(input)
    }

    fn input(messages: Vec<Message>) -> RenderInput {
        RenderInput {
            messages,
            ..Default::default()
        }
    }

    #[test]
    fn python_printing() {
        let out = render(
            "{{ none }} {{ true }} {{ 1.0 }} {{ [1, 'a', none] }} {{ {'k': false} }} {{ x }}|",
            &input(vec![]),
        )
        .unwrap();
        assert_eq!(out, "None True 1.0 [1, 'a', None] {'k': False} |");
    }

    #[test]
    fn generation_tag_renders_body() {
        let src = "{% for m in messages %}{%- generation -%}\n[{{ m.content }}]\n{%- endgeneration %}{% endfor %}";
        let out = render(
            src,
            &input(vec![Message::user("a"), Message::assistant("b")]),
        )
        .unwrap();
        assert_eq!(out, "[a][b]");
    }

    #[test]
    fn null_keys_are_dropped_and_reasoning_aliased() {
        let mut m = Message::assistant("x");
        m.reasoning_content = Some("think".into());
        m.extra.insert("foo".into(), serde_json::Value::Null);
        let src = "{{ messages[0].keys() | list }} {{ messages[0].thinking }} {{ messages[0].foo is defined }}";
        let out = render(src, &input(vec![m])).unwrap();
        assert_eq!(
            out,
            "['thinking', 'role', 'content', 'reasoning_content'] think False"
        );
    }

    #[test]
    fn raise_exception_is_typed() {
        let err = render(
            "{{ raise_exception('roles must alternate') }}",
            &input(vec![]),
        )
        .unwrap_err();
        match err {
            TemplateError::Raised { name, message, .. } => {
                assert_eq!(name, DEFAULT_TEMPLATE_NAME);
                assert_eq!(message, "roles must alternate");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_name_the_template() {
        let err =
            ChatTemplate::with_options("my-model", "{% if %}", Limits::default()).unwrap_err();
        assert!(matches!(err, TemplateError::Syntax { .. }), "{err:?}");
        assert!(err.to_string().contains("my-model"), "{err}");
    }

    #[test]
    fn tojson_options() {
        let mut inp = input(vec![]);
        inp.extra
            .insert("d".into(), serde_json::json!({"b": "é", "a": [1, 2]}));
        let out = render(
            "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ d | tojson(sort_keys=true, separators=(',', ':')) }}|{{ d | tojson(ensure_ascii=true) }}",
            &inp,
        )
        .unwrap();
        assert_eq!(
            out,
            "{\"b\": \"é\", \"a\": [1, 2]}|{\n  \"b\": \"é\",\n  \"a\": [\n    1,\n    2\n  ]\n}|{\"a\":[1,2],\"b\":\"é\"}|{\"b\": \"\\u00e9\", \"a\": [1, 2]}"
        );
    }

    #[test]
    fn extra_vars_do_not_override() {
        let mut inp = input(vec![Message::user("hi")]);
        inp.extra.insert("messages".into(), serde_json::json!([]));
        inp.extra
            .insert("enable_thinking".into(), serde_json::json!(false));
        let out = render(
            "{{ messages | length }} {{ enable_thinking }} {{ tools }}",
            &inp,
        )
        .unwrap();
        assert_eq!(out, "1 False None");
    }

    #[test]
    fn variables_and_tools() {
        let t = ChatTemplate::new("{% if tools %}{{ tools | length }}{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}{{ enable_thinking }}").unwrap();
        assert_eq!(t.variables(), ["enable_thinking", "messages", "tools"]);
        assert!(t.supports_tools());
        assert!(!ChatTemplate::new("{{ messages[0].content }}")
            .unwrap()
            .supports_tools());
    }

    #[test]
    fn output_cap() {
        let limits = Limits {
            max_output: 100,
            ..Limits::default()
        };
        let t = ChatTemplate::with_options(
            "t",
            "{% for i in range(1000) %}xxxxxxxx{% endfor %}",
            limits,
        )
        .unwrap();
        let err = t.render(&input(vec![])).unwrap_err();
        assert!(
            matches!(err, TemplateError::OutputTooLarge { limit: 100, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn source_cap() {
        let limits = Limits {
            max_source: 10,
            ..Limits::default()
        };
        let err = ChatTemplate::with_options("t", "{{ 'aaaaaaaaaaaaaa' }}", limits).unwrap_err();
        assert!(matches!(err, TemplateError::SourceTooLarge { .. }));
    }

    #[test]
    fn messages_deserialize_from_openai_json() {
        let j = r#"{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]}"#;
        let m: Message = serde_json::from_str(j).unwrap();
        assert_eq!(m.content, None);
        let calls = m.tool_calls.as_ref().unwrap();
        assert_eq!(calls[0].function.arguments, serde_json::json!("{\"x\":1}"));
        let out = render(
            "{{ messages[0].content is defined }} {{ messages[0].tool_calls[0].id }}",
            &input(vec![m]),
        )
        .unwrap();
        assert_eq!(out, "False c1");
    }

    #[test]
    fn string_arguments_become_objects() {
        let mut m = Message::assistant("");
        m.tool_calls = Some(vec![
            ToolCall::function("f", serde_json::json!("{\"b\": 1, \"a\": [2]}")),
            ToolCall::function("g", serde_json::json!("not json")),
            ToolCall::function("h", serde_json::json!("[1]")),
        ]);
        let mut inp = input(vec![m]);
        inp.parse_string_arguments();
        let out = render(
            "{% for c in messages[0].tool_calls %}{{ c.function.arguments | tojson }};{% endfor %}",
            &inp,
        )
        .unwrap();
        assert_eq!(out, "{\"b\": 1, \"a\": [2]};\"not json\";\"[1]\";");
    }
}
