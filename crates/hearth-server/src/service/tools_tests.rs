use serde_json::json;

use super::*;

fn specs() -> Vec<ToolSpec> {
    ToolSpec::from_template_tools(&[
        json!({"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}}),
        json!({"type": "function", "function": {"name": "read_file", "parameters": {"type": "object",
            "properties": {"path": {"type": "string"}, "offset": {"type": "integer"}},
            "required": ["path"], "additionalProperties": false}}}),
        json!({"type": "function", "function": {"name": "bash", "parameters": {"type": "object",
            "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}},
            "required": ["command"]}}}),
    ])
}

/// Feed `output` cut at `cuts` (byte offsets on char boundaries), then finish:
/// (text shown while streaming, text at the end, calls).
fn run(output: &str, cuts: &[usize]) -> (String, String, Vec<ToolCall>) {
    let mut h = ToolHold::new(specs());
    let mut shown = String::new();
    let mut last = 0;
    for &c in cuts.iter().chain(std::iter::once(&output.len())) {
        shown.push_str(&h.push(&output[last..c]));
        last = c;
    }
    let (rest, calls) = h.finish();
    (shown, rest, calls)
}

const MARKUP: &[&str] = &[
    "<tool_call",
    "</tool_call",
    "<function=",
    "[TOOL_CALLS",
    "python_tag",
    "tool▁",
];

/// The corpus of model outputs in every form, each split at every byte (char boundary) and
/// fed one char at a time: the same calls and text every way, and no markup in the text of
/// an answer whose calls were valid.
#[test]
fn corpus_at_every_split() {
    let corpus: Vec<Value> =
        serde_json::from_str(include_str!("../../testdata/tool_calls.json")).unwrap();
    assert!(corpus.len() >= 30, "{}", corpus.len());
    for case in &corpus {
        let output = case["output"].as_str().unwrap();
        let want_text = case["text"].as_str().unwrap();
        let want_calls: Vec<ToolCall> = case["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| ToolCall {
                name: c["name"].as_str().unwrap().to_string(),
                arguments: c["arguments"].as_object().unwrap().clone(),
            })
            .collect();
        let bounds: Vec<usize> = (1..output.len())
            .filter(|&i| output.is_char_boundary(i))
            .collect();
        let mut splits: Vec<Vec<usize>> = vec![Vec::new(), bounds.clone()];
        splits.extend(bounds.iter().map(|&i| vec![i]));
        for cuts in splits {
            let (shown, rest, calls) = run(output, &cuts);
            let text = format!("{shown}{rest}");
            assert_eq!(
                (text.as_str(), &calls),
                (want_text, &want_calls),
                "{} {output:?} cut at {cuts:?}",
                case["form"]
            );
            if !want_calls.is_empty() {
                for m in MARKUP {
                    assert!(!shown.contains(m), "{m} leaked from {output:?} at {cuts:?}");
                }
            }
        }
    }
}

#[test]
fn text_streams_before_and_after_calls() {
    let mut h = ToolHold::new(specs());
    assert_eq!(h.push("Looking"), "Looking");
    assert_eq!(h.push(" now.\n<tool_"), " now.");
    assert_eq!(
        h.push("call>{\"name\": \"bash\", \"arguments\": {\"command\": \"ls\"}}"),
        ""
    );
    assert_eq!(h.push("</tool_call>\nDone"), "\nDone");
    let (rest, calls) = h.finish();
    assert_eq!((rest.as_str(), calls.len()), ("", 1));
    // Code answers stream at once.
    let mut h = ToolHold::new(specs());
    assert_eq!(h.push("```"), "");
    assert_eq!(h.push("python\nprint(1)"), "```python\nprint(1)");
}

#[test]
fn xml_arguments_take_the_schema_types() {
    let (text, calls) = parse_tool_calls(
        "<function=read_file><parameter=path>007</parameter><parameter=offset>7</parameter></function>",
        &specs(),
    );
    assert_eq!(text, "");
    assert_eq!(calls[0].arguments["path"], json!("007"));
    assert_eq!(calls[0].arguments["offset"], json!(7));
    // additionalProperties: false refuses unknown arguments.
    let (text, calls) = parse_tool_calls(
        "<function=read_file><parameter=path>a</parameter><parameter=mode>x</parameter></function>",
        &specs(),
    );
    assert!(calls.is_empty() && text.starts_with("<function="), "{text}");
}
