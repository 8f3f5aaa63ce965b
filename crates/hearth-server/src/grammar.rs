//! JSON Schema → GBNF (llama.cpp grammar) conversion, so `format: "json"`, a JSON-schema `format`
//! and OpenAI `response_format` constrain generation to output that parses.
//!
//! Supported: `type` (object, array, string, number, integer, boolean, null, or a list of them),
//! `properties` / `required` (required first, then optional ones, in key order), `items`,
//! `minItems` / `maxItems`, `minLength` / `maxLength`, `enum`, `const`, `anyOf` / `oneOf`,
//! single-element `allOf`, local `$ref` into `$defs` / `definitions`, nesting. Unsupported keywords
//! (`pattern`, `format`, numeric bounds) are ignored: the output is still valid JSON of the type.
//! The grammar is built as a small AST ([`Grammar`]) rendered to GBNF text, so tests can sample
//! strings from exactly what is rendered.
use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

/// A schema that cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("JSON schema at {path}: {reason}")]
pub(crate) struct SchemaError {
    /// JSON pointer-ish location in the schema.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// One element of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    /// A literal string.
    Lit(String),
    /// A character class; `negated` = `[^...]`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// Reference to a rule.
    Ref(String),
    /// Alternatives, each a sequence.
    Alt(Vec<Vec<Term>>),
    /// Repetition of a term between `min` and `max` (None = unbounded) times.
    Repeat(Box<Term>, u32, Option<u32>),
}

/// A grammar: rule name → alternatives. The start rule is `root`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Grammar {
    /// Rules.
    pub rules: BTreeMap<String, Vec<Vec<Term>>>,
}

const MAX_DEPTH: usize = 64;
const MAX_RULES: usize = 2000;

fn lit(s: &str) -> Term {
    Term::Lit(s.to_string())
}
fn r(s: &str) -> Term {
    Term::Ref(s.to_string())
}

impl Grammar {
    /// The grammar for any JSON value whose top level is an object (Ollama's `format: "json"`).
    pub(crate) fn json_object() -> Grammar {
        let mut g = Grammar::default();
        g.add_primitives();
        g.add_generic();
        g.rules.insert("root".into(), vec![vec![r("object")]]);
        g
    }

    /// Convert a JSON schema.
    pub(crate) fn from_schema(schema: &Value) -> Result<Grammar, SchemaError> {
        let mut g = Grammar::default();
        g.add_primitives();
        let mut conv = Converter {
            g: &mut g,
            root: schema,
            refs: BTreeMap::new(),
            counter: 0,
        };
        let t = conv.visit(schema, "root", 0, "#")?;
        g.rules.insert("root".into(), vec![vec![t]]);
        Ok(g)
    }

    /// Output that is exactly one tool call in the form the service parses
    /// (`<tool_call>{"name": …, "arguments": …}</tool_call>`), for a client's `tool_choice` of
    /// "any tool" or one named tool. `tools` are `(name, parameters schema)`; a schema this
    /// converter cannot follow falls back to any JSON object for that tool's arguments.
    pub(crate) fn tool_call(tools: &[(String, Value)]) -> Result<Grammar, SchemaError> {
        let variant = |name: &str, params: &Value| {
            serde_json::json!({"type": "object",
                "properties": {"name": {"const": name}, "arguments": params},
                "required": ["name", "arguments"]})
        };
        let any_object = serde_json::json!({"type": "object"});
        let variants: Vec<Value> = tools
            .iter()
            .map(|(name, params)| {
                let precise = variant(name, params);
                if params.is_object() && Grammar::from_schema(&precise).is_ok() {
                    precise
                } else {
                    variant(name, &any_object)
                }
            })
            .collect();
        let schema = match variants.as_slice() {
            [one] => one.clone(),
            _ => serde_json::json!({ "anyOf": variants }),
        };
        let mut g = Grammar::from_schema(&schema)?;
        let call = g.rules.remove("root").unwrap_or_default();
        g.rules.insert("forced-tool-call".into(), call);
        g.rules.insert(
            "root".into(),
            vec![vec![
                lit("<tool_call>\n"),
                r("forced-tool-call"),
                lit("\n</tool_call>"),
            ]],
        );
        Ok(g)
    }

    fn add_primitives(&mut self) {
        let rules = &mut self.rules;
        rules.insert(
            "ws".into(),
            vec![vec![Term::Repeat(
                Box::new(Term::Class {
                    negated: false,
                    ranges: vec![(' ', ' '), ('\t', '\t'), ('\n', '\n')],
                }),
                0,
                Some(8),
            )]],
        );
        let hex = Term::Class {
            negated: false,
            ranges: vec![('0', '9'), ('a', 'f'), ('A', 'F')],
        };
        rules.insert(
            "char".into(),
            vec![
                vec![Term::Class {
                    negated: true,
                    ranges: vec![('"', '"'), ('\\', '\\'), ('\x7f', '\x7f'), ('\x00', '\x1f')],
                }],
                vec![
                    lit("\\"),
                    Term::Alt(vec![
                        vec![Term::Class {
                            negated: false,
                            ranges: vec![
                                ('"', '"'),
                                ('\\', '\\'),
                                ('/', '/'),
                                ('b', 'b'),
                                ('f', 'f'),
                                ('n', 'n'),
                                ('r', 'r'),
                                ('t', 't'),
                            ],
                        }],
                        // \u escapes exclude the surrogate range D800-DFFF (a lone surrogate does not parse).
                        vec![
                            lit("u"),
                            Term::Class {
                                negated: false,
                                ranges: vec![
                                    ('0', '9'),
                                    ('a', 'c'),
                                    ('e', 'f'),
                                    ('A', 'C'),
                                    ('E', 'F'),
                                ],
                            },
                            Term::Repeat(Box::new(hex.clone()), 3, Some(3)),
                        ],
                        vec![
                            lit("u"),
                            Term::Class {
                                negated: false,
                                ranges: vec![('d', 'd'), ('D', 'D')],
                            },
                            Term::Class {
                                negated: false,
                                ranges: vec![('0', '7')],
                            },
                            Term::Repeat(Box::new(hex), 2, Some(2)),
                        ],
                    ]),
                ],
            ],
        );
        rules.insert(
            "string".into(),
            vec![vec![
                lit("\""),
                Term::Repeat(Box::new(r("char")), 0, None),
                lit("\""),
            ]],
        );
        let digit = || Term::Class {
            negated: false,
            ranges: vec![('0', '9')],
        };
        // No "-0": it would parse as a float in most JSON libraries.
        rules.insert(
            "integer".into(),
            vec![
                vec![lit("0")],
                vec![
                    Term::Repeat(Box::new(lit("-")), 0, Some(1)),
                    Term::Class {
                        negated: false,
                        ranges: vec![('1', '9')],
                    },
                    Term::Repeat(Box::new(digit()), 0, Some(15)),
                ],
            ],
        );
        rules.insert(
            "number".into(),
            vec![vec![
                r("integer"),
                Term::Repeat(
                    Box::new(Term::Alt(vec![vec![
                        lit("."),
                        Term::Repeat(Box::new(digit()), 1, Some(16)),
                    ]])),
                    0,
                    Some(1),
                ),
                Term::Repeat(
                    Box::new(Term::Alt(vec![vec![
                        Term::Class {
                            negated: false,
                            ranges: vec![('e', 'e'), ('E', 'E')],
                        },
                        Term::Repeat(
                            Box::new(Term::Class {
                                negated: false,
                                ranges: vec![('-', '-'), ('+', '+')],
                            }),
                            0,
                            Some(1),
                        ),
                        Term::Repeat(Box::new(digit()), 1, Some(2)),
                    ]])),
                    0,
                    Some(1),
                ),
            ]],
        );
        rules.insert(
            "boolean".into(),
            vec![vec![lit("true")], vec![lit("false")]],
        );
        rules.insert("null".into(), vec![vec![lit("null")]]);
    }

    fn add_generic(&mut self) {
        if self.rules.contains_key("value") {
            return;
        }
        let rules = &mut self.rules;
        rules.insert(
            "value".into(),
            ["object", "array", "string", "number", "boolean", "null"]
                .iter()
                .map(|n| vec![r(n)])
                .collect(),
        );
        let kv = vec![r("string"), r("ws"), lit(":"), r("ws"), r("value"), r("ws")];
        let mut more = vec![lit(","), r("ws")];
        more.extend(kv.clone());
        let mut body = kv;
        body.push(Term::Repeat(Box::new(Term::Alt(vec![more])), 0, None));
        rules.insert(
            "object".into(),
            vec![vec![
                lit("{"),
                r("ws"),
                Term::Repeat(Box::new(Term::Alt(vec![body])), 0, Some(1)),
                lit("}"),
            ]],
        );
        let body = vec![
            r("value"),
            r("ws"),
            Term::Repeat(
                Box::new(Term::Alt(vec![vec![
                    lit(","),
                    r("ws"),
                    r("value"),
                    r("ws"),
                ]])),
                0,
                None,
            ),
        ];
        rules.insert(
            "array".into(),
            vec![vec![
                lit("["),
                r("ws"),
                Term::Repeat(Box::new(Term::Alt(vec![body])), 0, Some(1)),
                lit("]"),
            ]],
        );
    }

    /// Render as GBNF text (root rule first).
    pub(crate) fn to_gbnf(&self) -> String {
        let mut out = String::new();
        let mut names: Vec<&String> = self.rules.keys().collect();
        names.sort_by_key(|n| (n.as_str() != "root", n.as_str()));
        for name in names {
            let alts = &self.rules[name];
            let _ = writeln!(out, "{name} ::= {}", render_alts(alts));
        }
        out
    }
}

fn render_alts(alts: &[Vec<Term>]) -> String {
    alts.iter()
        .map(|s| render_seq(s))
        .collect::<Vec<_>>()
        .join(" | ")
}

fn render_seq(seq: &[Term]) -> String {
    if seq.is_empty() {
        return "\"\"".into();
    }
    seq.iter().map(render_term).collect::<Vec<_>>().join(" ")
}

fn esc_char(c: char, in_class: bool) -> String {
    match c {
        '"' if !in_class => "\\\"".into(),
        '\\' => "\\\\".into(),
        ']' if in_class => "\\]".into(),
        '^' if in_class => "\\^".into(),
        '-' if in_class => "\\-".into(),
        '\n' => "\\n".into(),
        '\r' => "\\r".into(),
        '\t' => "\\t".into(),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => format!("\\x{:02X}", c as u32),
        c => c.to_string(),
    }
}

fn render_term(t: &Term) -> String {
    match t {
        Term::Lit(s) => format!(
            "\"{}\"",
            s.chars().map(|c| esc_char(c, false)).collect::<String>()
        ),
        Term::Class { negated, ranges } => {
            let mut s = String::from("[");
            if *negated {
                s.push('^');
            }
            for (a, b) in ranges {
                s.push_str(&esc_char(*a, true));
                if a != b {
                    s.push('-');
                    s.push_str(&esc_char(*b, true));
                }
            }
            s.push(']');
            s
        }
        Term::Ref(n) => n.clone(),
        Term::Alt(alts) => format!("({})", render_alts(alts)),
        Term::Repeat(inner, min, max) => {
            let i = render_term(inner);
            match (min, max) {
                (0, None) => format!("{i}*"),
                (1, None) => format!("{i}+"),
                (0, Some(1)) => format!("{i}?"),
                (m, None) => format!("{i}{{{m},}}"),
                (m, Some(x)) if m == x => format!("{i}{{{m}}}"),
                (m, Some(x)) => format!("{i}{{{m},{x}}}"),
            }
        }
    }
}

struct Converter<'a> {
    g: &'a mut Grammar,
    root: &'a Value,
    refs: BTreeMap<String, String>,
    counter: usize,
}

fn err(path: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError {
        path: path.to_string(),
        reason: reason.into(),
    }
}

fn sanitize(s: &str) -> String {
    let t: String = s
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    if t.is_empty() {
        "r".into()
    } else {
        t
    }
}

impl Converter<'_> {
    fn new_rule(
        &mut self,
        hint: &str,
        alts: Vec<Vec<Term>>,
        path: &str,
    ) -> Result<Term, SchemaError> {
        if self.g.rules.len() >= MAX_RULES {
            return Err(err(path, "schema too large"));
        }
        self.counter += 1;
        let name = format!("{}-{}", sanitize(hint), self.counter);
        self.g.rules.insert(name.clone(), alts);
        Ok(Term::Ref(name))
    }

    fn visit(
        &mut self,
        s: &Value,
        hint: &str,
        depth: usize,
        path: &str,
    ) -> Result<Term, SchemaError> {
        if depth > MAX_DEPTH {
            return Err(err(path, "nested too deeply"));
        }
        let obj = match s {
            Value::Bool(true) => {
                self.g.add_generic();
                return Ok(r("value"));
            }
            Value::Bool(false) => return Err(err(path, "schema `false` matches nothing")),
            Value::Object(o) => o,
            _ => return Err(err(path, "a schema must be an object or a boolean")),
        };
        if let Some(reference) = obj.get("$ref") {
            return self.visit_ref(reference, depth, path);
        }
        if let Some(c) = obj.get("const") {
            return Ok(Term::Lit(c.to_string()));
        }
        if let Some(e) = obj.get("enum") {
            let items = e
                .as_array()
                .ok_or_else(|| err(path, "enum must be an array"))?;
            if items.is_empty() {
                return Err(err(path, "enum is empty"));
            }
            return Ok(Term::Alt(
                items
                    .iter()
                    .map(|v| vec![Term::Lit(v.to_string())])
                    .collect(),
            ));
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(list) = obj.get(key) {
                let items = list
                    .as_array()
                    .ok_or_else(|| err(path, format!("{key} must be an array")))?;
                if items.is_empty() {
                    return Err(err(path, format!("{key} is empty")));
                }
                let mut alts = Vec::new();
                for (i, sub) in items.iter().enumerate() {
                    alts.push(vec![self.visit(
                        sub,
                        hint,
                        depth + 1,
                        &format!("{path}/{key}/{i}"),
                    )?]);
                }
                return Ok(Term::Alt(alts));
            }
        }
        if let Some(list) = obj.get("allOf") {
            match list.as_array().map(Vec::as_slice) {
                Some([one]) => return self.visit(one, hint, depth + 1, &format!("{path}/allOf/0")),
                _ => {
                    return Err(err(
                        path,
                        "allOf with more than one schema is not supported",
                    ))
                }
            }
        }
        match obj.get("type") {
            None => {
                if obj.contains_key("properties") {
                    self.visit_type("object", obj, hint, depth, path)
                } else if obj.contains_key("items") {
                    self.visit_type("array", obj, hint, depth, path)
                } else {
                    self.g.add_generic();
                    Ok(r("value"))
                }
            }
            Some(Value::String(t)) => self.visit_type(t, obj, hint, depth, path),
            Some(Value::Array(ts)) => {
                let mut alts = Vec::new();
                for t in ts {
                    let t = t
                        .as_str()
                        .ok_or_else(|| err(path, "type list must hold strings"))?;
                    alts.push(vec![self.visit_type(t, obj, hint, depth, path)?]);
                }
                if alts.is_empty() {
                    return Err(err(path, "type list is empty"));
                }
                Ok(Term::Alt(alts))
            }
            Some(_) => Err(err(path, "type must be a string or a list of strings")),
        }
    }

    fn visit_ref(
        &mut self,
        reference: &Value,
        depth: usize,
        path: &str,
    ) -> Result<Term, SchemaError> {
        let reference = reference
            .as_str()
            .ok_or_else(|| err(path, "$ref must be a string"))?;
        if let Some(name) = self.refs.get(reference) {
            return Ok(Term::Ref(name.clone()));
        }
        let target = ["#/$defs/", "#/definitions/"]
            .iter()
            .find_map(|p| {
                let key = reference.strip_prefix(p)?;
                let section = &p[2..p.len() - 1];
                self.root.get(section)?.get(key)
            })
            .ok_or_else(|| {
                err(
                    path,
                    format!("unsupported or unresolved $ref {reference:?}"),
                )
            })?;
        self.counter += 1;
        let name = format!(
            "ref-{}-{}",
            sanitize(reference.rsplit('/').next().unwrap_or("x")),
            self.counter
        );
        self.refs.insert(reference.to_string(), name.clone());
        self.g.rules.insert(name.clone(), vec![vec![]]);
        let t = self.visit(target, &name, depth + 1, reference)?;
        self.g.rules.insert(name.clone(), vec![vec![t]]);
        Ok(Term::Ref(name))
    }

    fn visit_type(
        &mut self,
        t: &str,
        obj: &serde_json::Map<String, Value>,
        hint: &str,
        depth: usize,
        path: &str,
    ) -> Result<Term, SchemaError> {
        match t {
            "string" => {
                let min = obj.get("minLength").and_then(Value::as_u64);
                let max = obj.get("maxLength").and_then(Value::as_u64);
                if min.is_none() && max.is_none() {
                    return Ok(r("string"));
                }
                let min = min.unwrap_or(0).min(10_000) as u32;
                let max = max.map(|m| (m.min(10_000) as u32).max(min));
                Ok(Term::Alt(vec![vec![
                    lit("\""),
                    Term::Repeat(Box::new(r("char")), min, max),
                    lit("\""),
                ]]))
            }
            "number" => Ok(r("number")),
            "integer" => Ok(r("integer")),
            "boolean" => Ok(r("boolean")),
            "null" => Ok(r("null")),
            "object" => self.visit_object(obj, hint, depth, path),
            "array" => {
                let item = match obj.get("items") {
                    Some(items) => self.visit(
                        items,
                        &format!("{hint}-item"),
                        depth + 1,
                        &format!("{path}/items"),
                    )?,
                    None => {
                        self.g.add_generic();
                        r("value")
                    }
                };
                let min = obj
                    .get("minItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .min(1000) as u32;
                let max = obj
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .map(|m| (m.min(1000) as u32).max(min));
                if max == Some(0) {
                    return self.new_rule(hint, vec![vec![lit("["), r("ws"), lit("]")]], path);
                }
                let more = Term::Repeat(
                    Box::new(Term::Alt(vec![vec![
                        lit(","),
                        r("ws"),
                        item.clone(),
                        r("ws"),
                    ]])),
                    min.saturating_sub(1),
                    max.map(|m| m - 1),
                );
                let body = vec![item, r("ws"), more];
                let alts = if min == 0 {
                    vec![vec![
                        lit("["),
                        r("ws"),
                        Term::Repeat(Box::new(Term::Alt(vec![body])), 0, Some(1)),
                        lit("]"),
                    ]]
                } else {
                    let mut seq = vec![lit("["), r("ws")];
                    seq.extend(body);
                    seq.push(lit("]"));
                    vec![seq]
                };
                self.new_rule(hint, alts, path)
            }
            other => Err(err(path, format!("unknown type {other:?}"))),
        }
    }

    fn visit_object(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        hint: &str,
        depth: usize,
        path: &str,
    ) -> Result<Term, SchemaError> {
        let props = match obj.get("properties") {
            None => {
                self.g.add_generic();
                return Ok(r("object"));
            }
            Some(Value::Object(p)) => p,
            Some(_) => return Err(err(path, "properties must be an object")),
        };
        let required: Vec<&str> = match obj.get("required") {
            None => Vec::new(),
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            Some(_) => return Err(err(path, "required must be an array of strings")),
        };
        if let Some(missing) = required.iter().find(|k| !props.contains_key(**k)) {
            return Err(err(
                path,
                format!("required property {missing:?} is not in properties"),
            ));
        }
        let mut req = Vec::new();
        let mut opt = Vec::new();
        for (key, sub) in props {
            let v = self.visit(
                sub,
                &format!("{hint}-{key}"),
                depth + 1,
                &format!("{path}/properties/{key}"),
            )?;
            let kv = vec![
                Term::Lit(Value::String(key.clone()).to_string()),
                r("ws"),
                lit(":"),
                r("ws"),
                v,
                r("ws"),
            ];
            if required.contains(&key.as_str()) {
                req.push(kv);
            } else {
                opt.push(kv);
            }
        }
        let comma = |mut kv: Vec<Term>| {
            let mut s = vec![lit(","), r("ws")];
            s.append(&mut kv);
            s
        };
        let mut seq = vec![lit("{"), r("ws")];
        if !req.is_empty() {
            for (i, kv) in req.into_iter().enumerate() {
                if i == 0 {
                    seq.extend(kv)
                } else {
                    seq.extend(comma(kv))
                }
            }
            for kv in opt {
                seq.push(Term::Repeat(
                    Box::new(Term::Alt(vec![comma(kv)])),
                    0,
                    Some(1),
                ));
            }
        } else if !opt.is_empty() {
            // The first present optional property has no comma before it.
            let mut alts = Vec::new();
            for i in 0..opt.len() {
                let mut a = opt[i].clone();
                for kv in &opt[i + 1..] {
                    a.push(Term::Repeat(
                        Box::new(Term::Alt(vec![comma(kv.clone())])),
                        0,
                        Some(1),
                    ));
                }
                alts.push(a);
            }
            seq.push(Term::Repeat(Box::new(Term::Alt(alts)), 0, Some(1)));
        }
        seq.push(lit("}"));
        self.new_rule(hint, vec![seq], path)
    }
}

/// The grammar for an Ollama `format` value: `"json"`, `""`/null (none), or a schema object.
pub(crate) fn for_ollama_format(format: &Value) -> Result<Option<String>, SchemaError> {
    match format {
        Value::Null => Ok(None),
        Value::String(s) if s.is_empty() => Ok(None),
        Value::String(s) if s == "json" => Ok(Some(Grammar::json_object().to_gbnf())),
        Value::String(s) => Err(err(
            "format",
            format!("invalid format {s:?}: use \"json\" or a JSON schema"),
        )),
        Value::Object(_) => Ok(Some(Grammar::from_schema(format)?.to_gbnf())),
        _ => Err(err(
            "format",
            "format must be \"json\" or a JSON schema object",
        )),
    }
}

#[cfg(test)]
#[path = "grammar_tests.rs"]
mod tests;
