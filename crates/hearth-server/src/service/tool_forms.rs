//! The tool-call forms models write, each parsed from the raw text of one call region:
//! Hermes/Qwen `<tool_call>{json}</tool_call>`, Qwen3-Coder's XML
//! (`<function=NAME><parameter=P>value</parameter></function>`), Llama 3.x JSON (`parameters`,
//! after `<|python_tag|>`, `;`-separated), Mistral `[TOOL_CALLS]` (a JSON list, or
//! `NAME[ARGS]{json}`), DeepSeek's `<｜tool▁call▁begin｜>` blocks, and a bare JSON object.
use serde_json::{Map, Value};

/// Where a call region starts, and where it ends (`None`: at the end of the output).
pub(crate) const MARKERS: &[(&str, Option<&str>)] = &[
    ("<tool_call>", Some("</tool_call>")),
    ("<function=", Some("</function>")),
    ("[TOOL_CALLS]", None),
    ("<|python_tag|>", None),
    ("<｜tool▁calls▁begin｜>", Some("<｜tool▁calls▁end｜>")),
];

/// A raw argument value: JSON, or text from an XML parameter (typed later by the schema).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawArgs {
    Json(Map<String, Value>),
    /// `(name, text)` pairs of XML parameters.
    Text(Vec<(String, String)>),
}

/// A call as written, before validation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawCall {
    pub(crate) name: String,
    pub(crate) args: RawArgs,
}

/// A call from a JSON object `{"name": …, "arguments" | "parameters": …}` (also OpenAI's
/// `{"type": "function", "function": {…}}`).
pub(crate) fn call_of(v: &Value) -> Option<RawCall> {
    if let Some(f) = v.get("function").filter(|f| f.is_object()) {
        return call_of(f);
    }
    let name = v.get("name").and_then(Value::as_str)?;
    let args = match v.get("arguments").or_else(|| v.get("parameters")) {
        Some(Value::Object(m)) => m.clone(),
        // Some models write the arguments as a JSON string.
        Some(Value::String(s)) => match serde_json::from_str(s) {
            Ok(Value::Object(m)) => m,
            _ => return None,
        },
        None | Some(Value::Null) => Map::new(),
        Some(_) => return None,
    };
    Some(RawCall {
        name: name.to_string(),
        args: RawArgs::Json(args),
    })
}

/// The calls of one JSON value: a call object, or a non-empty list of them.
fn calls_of_value(v: &Value) -> Option<Vec<RawCall>> {
    match v {
        Value::Array(items) if !items.is_empty() => items.iter().map(call_of).collect(),
        Value::Object(_) => call_of(v).map(|c| vec![c]),
        _ => None,
    }
}

/// Calls from JSON text: one object, a list of them, or objects separated by `;` or newlines.
pub(crate) fn json_calls(text: &str) -> Option<Vec<RawCall>> {
    let t = strip_fence(text.trim());
    if t.is_empty() {
        return None;
    }
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return calls_of_value(&v);
    }
    // Doubled braces (`{{…}}`), seen from small models.
    if let Some(inner) = t.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        if let Ok(v) = serde_json::from_str::<Value>(inner.trim()) {
            return calls_of_value(&v);
        }
    }
    // Several objects in a row (whitespace or `;` between them).
    let mut calls = Vec::new();
    for v in serde_json::Deserializer::from_str(t).into_iter::<Value>() {
        match v.ok().as_ref().and_then(calls_of_value) {
            Some(c) => calls.extend(c),
            None => {
                calls.clear();
                break;
            }
        }
    }
    if calls.is_empty() {
        for part in t.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let v = serde_json::from_str::<Value>(part).ok()?;
            calls.extend(calls_of_value(&v)?);
        }
    }
    (!calls.is_empty()).then_some(calls)
}

/// The calls a bare answer opens with, and the text after them: one JSON value (a call or a
/// list of calls), `{{…}}`-doubled or fenced as ```json, followed by more text (small models
/// write a call and then imagine its result). `None` when the answer does not open so.
pub(crate) fn leading_json_calls(text: &str) -> Option<(Vec<RawCall>, &str)> {
    let t = text.trim_start();
    if let Some(body) = t.strip_prefix("```json") {
        let end = body.find("```")?;
        let calls = json_calls(&body[..end])?;
        return Some((calls, &body[end + 3..]));
    }
    let (doubled, from) = match t.strip_prefix("{{") {
        Some(_) => (true, &t[1..]),
        None => (false, t),
    };
    let mut values = serde_json::Deserializer::from_str(from).into_iter::<Value>();
    let v = values.next()?.ok()?;
    let mut rest = &from[values.byte_offset()..];
    if doubled {
        rest = rest.trim_start().strip_prefix('}')?;
    }
    Some((calls_of_value(&v)?, rest))
}

fn strip_fence(t: &str) -> &str {
    let Some(rest) = t.strip_prefix("```") else {
        return t;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    rest.trim_end().strip_suffix("```").unwrap_or(rest).trim()
}

/// Qwen3-Coder's XML: `<function=NAME>` then `<parameter=P>value</parameter>`s.
fn xml_call(text: &str) -> Option<RawCall> {
    let rest = text.trim().strip_prefix("<function=")?;
    let (name, mut body) = rest.split_once('>')?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    if let Some(i) = body.find("</function>") {
        body = &body[..i];
    }
    let mut params = Vec::new();
    while let Some(i) = body.find("<parameter=") {
        let after = &body[i + "<parameter=".len()..];
        let (pname, value) = after.split_once('>')?;
        let (value, next) = match value.find("</parameter>") {
            Some(j) => (&value[..j], &value[j + "</parameter>".len()..]),
            // An unclosed parameter runs to the next one (or the end).
            None => match value.find("<parameter=") {
                Some(j) => (&value[..j], &value[j..]),
                None => (value, ""),
            },
        };
        let value = value.strip_prefix('\n').unwrap_or(value);
        let value = value.strip_suffix('\n').unwrap_or(value);
        params.push((pname.trim().to_string(), value.to_string()));
        body = next;
    }
    if !body.trim().is_empty() {
        return None;
    }
    Some(RawCall {
        name: name.to_string(),
        args: RawArgs::Text(params),
    })
}

/// Mistral's newer form: `NAME[ARGS]{json}` (repeated after further `[TOOL_CALLS]`).
fn mistral_args_calls(text: &str) -> Option<Vec<RawCall>> {
    let mut calls = Vec::new();
    for part in text.split("[TOOL_CALLS]") {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (name, args) = part.split_once("[ARGS]")?;
        let name = name.trim();
        let args = match serde_json::from_str::<Value>(args.trim()).ok()? {
            Value::Object(m) => m,
            _ => return None,
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return None;
        }
        calls.push(RawCall {
            name: name.to_string(),
            args: RawArgs::Json(args),
        });
    }
    (!calls.is_empty()).then_some(calls)
}

/// DeepSeek's `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{…}\n```<｜tool▁call▁end｜>`.
fn deepseek_calls(text: &str) -> Option<Vec<RawCall>> {
    const BEGIN: &str = "<｜tool▁call▁begin｜>";
    const SEP: &str = "<｜tool▁sep｜>";
    const END: &str = "<｜tool▁call▁end｜>";
    let mut calls = Vec::new();
    for part in text.split(BEGIN).skip(1) {
        let part = part.split(END).next()?;
        let (_, rest) = part.split_once(SEP)?;
        let (name, args) = rest.split_once('\n')?;
        let args = match serde_json::from_str::<Value>(strip_fence(args.trim())).ok()? {
            Value::Object(m) => m,
            _ => return None,
        };
        calls.push(RawCall {
            name: name.trim().to_string(),
            args: RawArgs::Json(args),
        });
    }
    (!calls.is_empty()).then_some(calls)
}

/// The calls in one region that starts with `MARKERS[marker]` (the open and close tags
/// included in `raw`); `None` when it is not a well-formed call.
pub(crate) fn parse_region(marker: usize, raw: &str) -> Option<Vec<RawCall>> {
    let (open, close) = MARKERS.get(marker)?;
    let body = raw.strip_prefix(open)?;
    let body = match close {
        Some(c) => body.strip_suffix(c).unwrap_or(body),
        None => body,
    };
    match *open {
        "<tool_call>" => {
            let b = body.trim();
            if b.starts_with("<function=") {
                xml_call(b).map(|c| vec![c])
            } else {
                json_calls(b)
            }
        }
        "<function=" => xml_call(&format!("<function={body}")).map(|c| vec![c]),
        "[TOOL_CALLS]" => json_calls(body).or_else(|| mistral_args_calls(body)),
        "<|python_tag|>" => json_calls(body),
        _ => deepseek_calls(body),
    }
}
