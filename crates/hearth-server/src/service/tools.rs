//! Tool calls in model output: `<tool_call>{"name": .., "arguments": ..}</tool_call>` blocks
//! (Qwen / Hermes style), and, when the whole answer is nothing else, a bare JSON object naming
//! a declared tool (small coder models write `{"name": …, "arguments": …}`, fenced as ```json,
//! or with doubled braces, instead of the template's form). A streaming filter holds content
//! back while the output may be a tool call, so streaming clients see either text or tool
//! calls, not raw markup.
use serde_json::{Map, Value};

/// A tool call parsed from the model's output; each protocol writes it in its own shape.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    /// Function name.
    pub(crate) name: String,
    /// Arguments object.
    pub(crate) arguments: Map<String, Value>,
}

const OPEN: &str = "<tool_call>";
const CLOSE: &str = "</tool_call>";

/// A call from a JSON object `{"name": …, "arguments" | "parameters": …}`.
fn call_of(v: &Value) -> Option<ToolCall> {
    let name = v.get("name").and_then(Value::as_str)?;
    let arguments = match v.get("arguments").or_else(|| v.get("parameters")) {
        Some(Value::Object(m)) => m.clone(),
        // Some models write the arguments as a JSON string.
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
        _ => Map::new(),
    };
    Some(ToolCall {
        name: name.to_string(),
        arguments,
    })
}

/// The whole answer as one call of a declared tool, when it is a bare JSON object (optionally
/// fenced as ```json, or with its braces doubled) naming one of `tools`.
fn bare_call(text: &str, tools: &[String]) -> Option<ToolCall> {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .and_then(|r| r.trim_end().strip_suffix("```"))
        .unwrap_or(t)
        .trim();
    let v = serde_json::from_str::<Value>(t).ok().or_else(|| {
        let inner = t.strip_prefix('{')?.strip_suffix('}')?;
        serde_json::from_str::<Value>(inner.trim()).ok()
    })?;
    let call = call_of(&v)?;
    let declared = tools.contains(&call.name);
    (declared && v.get("arguments").or_else(|| v.get("parameters")).is_some()).then_some(call)
}

/// Split text into the content outside tool-call blocks and the parsed calls.
pub(crate) fn parse_tool_calls(text: &str) -> (String, Vec<ToolCall>) {
    let mut content = String::new();
    let mut calls = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(OPEN) {
        content.push_str(&rest[..i]);
        let after = &rest[i + OPEN.len()..];
        let (body, next) = match after.find(CLOSE) {
            Some(j) => (&after[..j], &after[j + CLOSE.len()..]),
            None => (after, ""),
        };
        if let Some(call) = serde_json::from_str::<Value>(body.trim())
            .ok()
            .as_ref()
            .and_then(call_of)
        {
            calls.push(call);
        }
        rest = next;
    }
    content.push_str(rest);
    (content.trim().to_string(), calls)
}

/// Streaming filter: text passes through unless the output starts with a tool call (or a JSON
/// object that may be a bare one), in which case everything is held and parsed at the end.
#[derive(Debug, Default)]
pub(crate) struct ToolHold {
    acc: String,
    decided: bool,
    holding: bool,
    /// Names of the declared tools (a bare JSON call must name one).
    tools: Vec<String>,
}

/// How a bare JSON call may begin.
const FENCE: &str = "```json";

impl ToolHold {
    /// A filter for an answer that may call one of `tools`.
    pub(crate) fn new(tools: Vec<String>) -> Self {
        ToolHold {
            tools,
            ..ToolHold::default()
        }
    }

    /// Feed generated text; returns what may be shown now.
    pub(crate) fn push(&mut self, t: &str) -> String {
        self.acc.push_str(t);
        if self.decided {
            return if self.holding {
                String::new()
            } else {
                t.to_string()
            };
        }
        let head = self.acc.trim_start();
        let bare = !self.tools.is_empty();
        if head.starts_with(OPEN) || (bare && (head.starts_with('{') || head.starts_with(FENCE))) {
            self.decided = true;
            self.holding = true;
            String::new()
        } else if OPEN.starts_with(head) || (bare && FENCE.starts_with(head)) {
            String::new() // could still become a tool call
        } else {
            self.decided = true;
            self.acc.clone()
        }
    }

    /// At the end: content not yet shown, and the tool calls.
    pub(crate) fn finish(&mut self) -> (String, Vec<ToolCall>) {
        if self.holding {
            let (content, calls) = parse_tool_calls(&self.acc);
            if !calls.is_empty() {
                return (content, calls);
            }
            if let Some(call) = bare_call(&self.acc, &self.tools) {
                return (String::new(), vec![call]);
            }
            // Not a well-formed call after all: show the text.
            return (self.acc.clone(), calls);
        }
        if self.decided {
            (String::new(), Vec::new())
        } else {
            (self.acc.clone(), Vec::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        let (c, calls) = parse_tool_calls(
            "<tool_call>\n{\"name\": \"read_file\", \"arguments\": {\"path\": \"a.rs\"}}\n</tool_call>",
        );
        assert_eq!(c, "");
        assert_eq!(calls[0].name, "read_file");
        assert_eq!(calls[0].arguments["path"], "a.rs");
        let (c, calls) = parse_tool_calls("just text");
        assert_eq!((c.as_str(), calls.len()), ("just text", 0));
    }

    fn tools() -> Vec<String> {
        vec!["Bash".to_string(), "read_file".to_string()]
    }

    /// Feed `pieces`, then finish: (text shown while streaming, rest, calls).
    fn run(h: &mut ToolHold, pieces: &[&str]) -> (String, String, Vec<ToolCall>) {
        let shown: String = pieces.iter().map(|p| h.push(p)).collect();
        let (rest, calls) = h.finish();
        (shown, rest, calls)
    }

    #[test]
    fn bare_json_calls_of_declared_tools() {
        // Seen from the 1.5B through Claude Code: doubled braces.
        let (shown, rest, calls) = run(
            &mut ToolHold::new(tools()),
            &[
                "{{\"name\": \"Bash\", ",
                "\"arguments\": {\"command\": \"echo 4\"}}}",
            ],
        );
        assert_eq!((shown.as_str(), rest.as_str()), ("", ""));
        assert_eq!(calls[0].name, "Bash");
        assert_eq!(calls[0].arguments["command"], "echo 4");
        // Fenced, with Llama's `parameters`.
        let (_, rest, calls) = run(
            &mut ToolHold::new(tools()),
            &[
                "```js",
                "on\n{\"name\": \"read_file\", \"parameters\": {\"path\": \"a\"}}\n```",
            ],
        );
        assert_eq!((rest.as_str(), calls[0].name.as_str()), ("", "read_file"));
        // An undeclared name, or an object that is not a call, stays text.
        for text in [
            "{\"name\": \"rm_rf\", \"arguments\": {}}",
            "{\"name\": \"Bash\"}",
            "{not json",
        ] {
            let (shown, rest, calls) = run(&mut ToolHold::new(tools()), &[text]);
            assert_eq!(
                (shown + &rest, calls.len()),
                (text.to_string(), 0),
                "{text}"
            );
        }
        // Without declared tools nothing is held; code answers stream at once.
        assert_eq!(ToolHold::default().push("{\"a\": 1}"), "{\"a\": 1}");
        let mut h = ToolHold::new(tools());
        assert_eq!(h.push("```"), "");
        assert_eq!(h.push("python\nprint(1)"), "```python\nprint(1)");
    }

    #[test]
    fn hold() {
        let mut h = ToolHold::default();
        let shown: String = [
            "<tool",
            "_call>",
            "{\"name\":\"f\",\"arguments\":{}}",
            "</tool_call>",
        ]
        .iter()
        .map(|t| h.push(t))
        .collect();
        assert_eq!(shown, "");
        let (_, calls) = h.finish();
        assert_eq!(calls.len(), 1);
        let mut h = ToolHold::default();
        assert_eq!(h.push("<"), "");
        assert_eq!(h.push("b>hi"), "<b>hi");
        assert_eq!(h.push(" there"), " there");
        assert_eq!(h.finish(), (String::new(), Vec::new()));
        let mut h = ToolHold::default();
        assert_eq!(h.push("<to"), "");
        assert_eq!(h.finish().0, "<to");
    }
}
