//! Tool calls in model output: `<tool_call>{"name": .., "arguments": ..}</tool_call>` blocks
//! (Qwen / Hermes style), and a streaming filter that holds content back while the output may
//! be a tool call, so streaming clients see either text or tool calls, not raw markup.
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
        if let Ok(v) = serde_json::from_str::<Value>(body.trim()) {
            if let Some(name) = v.get("name").and_then(Value::as_str) {
                let arguments = match v.get("arguments") {
                    Some(Value::Object(m)) => m.clone(),
                    // Some models write the arguments as a JSON string.
                    Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_default(),
                    _ => serde_json::Map::new(),
                };
                calls.push(ToolCall {
                    name: name.to_string(),
                    arguments,
                });
            }
        }
        rest = next;
    }
    content.push_str(rest);
    (content.trim().to_string(), calls)
}

/// Streaming filter: text passes through unless the output starts with a tool call, in which
/// case everything is held and parsed at the end.
#[derive(Debug, Default)]
pub(crate) struct ToolHold {
    acc: String,
    decided: bool,
    holding: bool,
}

impl ToolHold {
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
        if head.starts_with(OPEN) {
            self.decided = true;
            self.holding = true;
            String::new()
        } else if OPEN.starts_with(head) {
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
            if calls.is_empty() {
                // Not a well-formed call after all: show the text.
                return (self.acc.clone(), calls);
            }
            return (content, calls);
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
