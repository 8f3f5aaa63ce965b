//! Tool calls in model output, in every form models write them ([`tool_forms`]), anywhere in
//! the answer, as the answer streams: text before, between and after calls streams on; a call
//! region is held back from the text from its first byte and parsed when it closes. Calls are
//! checked against the declared tool's schema (name, required arguments, argument types; XML
//! arguments typed by it): a call that fails is returned as text, never as a broken call. A
//! whole answer that is a bare JSON call of a declared tool (small coder models answer so, or
//! fenced as ```json) is a call too, and so is one that opens with such a call (what follows
//! it, the model imagining the result, is dropped).
//!
//! [`tool_forms`]: crate::service::tool_forms
use serde_json::{Map, Value};

use crate::service::partial::partial_suffix;
use crate::service::tool_forms::{
    json_calls, leading_json_calls, parse_region, RawArgs, RawCall, MARKERS,
};

/// A tool call parsed from the model's output; each protocol writes it in its own shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    /// Function name.
    pub(crate) name: String,
    /// Arguments object.
    pub(crate) arguments: Map<String, Value>,
}

/// A declared tool: its name and its arguments' JSON schema (`Null`: none given).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolSpec {
    pub(crate) name: String,
    pub(crate) schema: Value,
}

impl ToolSpec {
    /// The specs of tools in the chat template's (OpenAI function) shape.
    pub(crate) fn from_template_tools(tools: &[Value]) -> Vec<ToolSpec> {
        tools
            .iter()
            .filter_map(|t| {
                let f = t.get("function").unwrap_or(t);
                Some(ToolSpec {
                    name: f.get("name")?.as_str()?.to_string(),
                    schema: f.get("parameters").cloned().unwrap_or(Value::Null),
                })
            })
            .collect()
    }
}

fn type_ok(kind: &str, v: &Value) -> bool {
    match kind {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

/// The schema's type(s) of property `p`, if it says.
fn prop_types<'a>(schema: &'a Value, p: &str) -> Vec<&'a str> {
    match schema
        .pointer(&format!(
            "/properties/{}",
            p.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(|s| s.get("type"))
    {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// An XML parameter's text as the schema's type.
fn typed(text: &str, kinds: &[&str]) -> Value {
    for k in kinds {
        let v = match *k {
            "string" => return Value::String(text.to_string()),
            "integer" | "number" | "boolean" | "array" | "object" | "null" => {
                serde_json::from_str::<Value>(text.trim()).ok()
            }
            _ => None,
        };
        if let Some(v) = v.filter(|v| type_ok(k, v)) {
            return v;
        }
    }
    // Untyped: JSON when it parses as a non-string, else the text.
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(v) if kinds.is_empty() && !v.is_string() => v,
        _ => Value::String(text.to_string()),
    }
}

/// The call if it fits a declared tool (with XML arguments typed by the schema).
fn validate(raw: RawCall, tools: &[ToolSpec]) -> Option<ToolCall> {
    let spec = tools.iter().find(|t| t.name == raw.name)?;
    let schema = &spec.schema;
    let mut arguments = match raw.args {
        RawArgs::Json(m) => m,
        RawArgs::Text(params) => params
            .into_iter()
            .map(|(k, v)| {
                let kinds = prop_types(schema, &k);
                (k, typed(&v, &kinds))
            })
            .collect(),
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    // An optional argument written as `null` where the schema has no null: left out, as the
    // model meant (`"timeout": null`), rather than refusing the whole call.
    arguments.retain(|k, v| {
        !(v.is_null() && !required.contains(&k.as_str()) && {
            let kinds = prop_types(schema, k);
            !kinds.is_empty() && !kinds.contains(&"null")
        })
    });
    if required.iter().any(|r| !arguments.contains_key(*r)) {
        return None;
    }
    for (k, v) in &arguments {
        let kinds = prop_types(schema, k);
        if !kinds.is_empty() && !kinds.iter().any(|t| type_ok(t, v)) {
            return None;
        }
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false)) {
        let props = schema.get("properties").and_then(Value::as_object);
        if arguments
            .keys()
            .any(|k| !props.is_some_and(|p| p.contains_key(k)))
        {
            return None;
        }
    }
    Some(ToolCall {
        name: raw.name,
        arguments,
    })
}

/// All calls of a region if every one is valid.
fn validate_all(raw: Vec<RawCall>, tools: &[ToolSpec]) -> Option<Vec<ToolCall>> {
    raw.into_iter().map(|c| validate(c, tools)).collect()
}

/// Where the filter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing but whitespace yet: the answer may be a bare JSON call.
    Start,
    /// Text; a call region may open.
    Text,
    /// Inside the region opened by `MARKERS[i]`.
    Region(usize),
    /// The answer began like a bare JSON call: held to the end.
    Bare,
}

/// How a bare JSON call may begin.
const FENCE: &str = "```json";

/// The streaming filter.
#[derive(Debug)]
pub(crate) struct ToolHold {
    tools: Vec<ToolSpec>,
    mode: Mode,
    /// Text not yet shown (a possible marker prefix, trailing whitespace, a region).
    buf: String,
    calls: Vec<ToolCall>,
    /// Whether any text was shown.
    shown: bool,
}

/// Length of the longest suffix of `s` that is a proper prefix of a marker.
fn marker_prefix_len(s: &str) -> usize {
    MARKERS
        .iter()
        .map(|(open, _)| partial_suffix(s, open))
        .max()
        .unwrap_or(0)
}

impl ToolHold {
    /// A filter for an answer that may call one of `tools`.
    pub(crate) fn new(tools: Vec<ToolSpec>) -> Self {
        ToolHold {
            tools,
            mode: Mode::Start,
            buf: String::new(),
            calls: Vec::new(),
            shown: false,
        }
    }

    fn show(&mut self, out: &mut String, t: &str) {
        // Whitespace before the first call is not an answer.
        let t = if self.shown { t } else { t.trim_start() };
        if !t.is_empty() {
            self.shown = true;
            out.push_str(t);
        }
    }

    /// Feed generated text; returns what may be shown now.
    pub(crate) fn push(&mut self, t: &str) -> String {
        self.buf.push_str(t);
        let mut out = String::new();
        loop {
            match self.mode {
                Mode::Start => {
                    let head = self.buf.trim_start();
                    if head.is_empty() {
                        return out;
                    }
                    if MARKERS.iter().any(|(open, _)| head.starts_with(open)) {
                        self.mode = Mode::Text;
                        continue;
                    }
                    if MARKERS.iter().any(|(open, _)| open.starts_with(head)) {
                        return out;
                    }
                    if head.starts_with('{') || head.starts_with('[') || head.starts_with(FENCE) {
                        self.mode = Mode::Bare;
                        return out;
                    }
                    if FENCE.starts_with(head) {
                        return out;
                    }
                    self.mode = Mode::Text;
                }
                Mode::Text => {
                    let found = MARKERS
                        .iter()
                        .enumerate()
                        .filter_map(|(i, (open, _))| self.buf.find(open).map(|at| (at, i)))
                        .min();
                    if let Some((at, i)) = found {
                        let before: String = self.buf.drain(..at).collect();
                        self.show(&mut out, before.trim_end());
                        self.mode = Mode::Region(i);
                        continue;
                    }
                    // Hold back what may start a marker, and trailing whitespace (it may
                    // only separate the text from a call).
                    let prefix = marker_prefix_len(&self.buf);
                    let cut = self.buf[..self.buf.len() - prefix].trim_end().len();
                    let shown: String = self.buf.drain(..cut).collect();
                    self.show(&mut out, &shown);
                    return out;
                }
                Mode::Region(i) => {
                    let Some(close) = MARKERS[i].1 else {
                        return out;
                    };
                    let Some(j) = self.buf.find(close) else {
                        return out;
                    };
                    let raw: String = self.buf.drain(..j + close.len()).collect();
                    match parse_region(i, &raw).and_then(|c| validate_all(c, &self.tools)) {
                        Some(calls) => self.calls.extend(calls),
                        None => self.show(&mut out, &raw),
                    }
                    self.mode = Mode::Text;
                }
                Mode::Bare => return out,
            }
        }
    }

    /// At the end: text not yet shown, and every call.
    pub(crate) fn finish(&mut self) -> (String, Vec<ToolCall>) {
        let buf = std::mem::take(&mut self.buf);
        let mut out = String::new();
        match self.mode {
            Mode::Region(i) => {
                // An unclosed region: the model stopped at its end-of-turn token.
                match parse_region(i, &buf).and_then(|c| validate_all(c, &self.tools)) {
                    Some(calls) => self.calls.extend(calls),
                    None => self.show(&mut out, &buf),
                }
            }
            Mode::Bare => {
                if let Some(calls) = json_calls(&buf).and_then(|c| validate_all(c, &self.tools)) {
                    self.calls.extend(calls);
                } else if let Some((calls, after)) = leading_json_calls(&buf)
                    .and_then(|(c, after)| Some((validate_all(c, &self.tools)?, after)))
                {
                    // A call and then more: the model imagining the call's result. The turn
                    // ends at the call, as it does for a client that runs the tool.
                    tracing::debug!(dropped = after.len(), "text after a bare tool call");
                    self.calls.extend(calls);
                } else {
                    self.show(&mut out, &buf);
                }
            }
            Mode::Start | Mode::Text => {
                let rest = if self.calls.is_empty() {
                    buf.as_str()
                } else {
                    buf.trim_end()
                };
                self.show(&mut out, rest);
            }
        }
        self.mode = Mode::Text;
        (out, std::mem::take(&mut self.calls))
    }
}

/// Split a whole answer into the text outside tool calls and the calls of `tools`.
#[cfg(test)]
pub(crate) fn parse_tool_calls(text: &str, tools: &[ToolSpec]) -> (String, Vec<ToolCall>) {
    let mut h = ToolHold::new(tools.to_vec());
    let mut shown = h.push(text);
    let (rest, calls) = h.finish();
    shown.push_str(&rest);
    (shown, calls)
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
