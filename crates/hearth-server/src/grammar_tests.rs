//! Tests for the schema → grammar converter: strings sampled at random from the grammar AST (the
//! same AST that is rendered to GBNF) must parse as JSON and satisfy the schema.
use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Minimum expansion cost of each rule (fixpoint), used to steer sampling to termination.
fn costs(g: &Grammar) -> BTreeMap<String, u64> {
    let mut c: BTreeMap<String, u64> = g.rules.keys().map(|k| (k.clone(), u64::MAX / 4)).collect();
    for _ in 0..200 {
        let mut changed = false;
        for (name, alts) in &g.rules {
            let v = alts.iter().map(|s| seq_cost(s, &c)).min().unwrap_or(0);
            if v < c[name] {
                c.insert(name.clone(), v);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    c
}

fn seq_cost(s: &[Term], c: &BTreeMap<String, u64>) -> u64 {
    s.iter()
        .map(|t| term_cost(t, c))
        .fold(0u64, |a, b| a.saturating_add(b))
}

fn term_cost(t: &Term, c: &BTreeMap<String, u64>) -> u64 {
    match t {
        Term::Lit(_) | Term::Class { .. } => 1,
        Term::Ref(n) => c.get(n).copied().unwrap_or(u64::MAX / 4).saturating_add(1),
        Term::Alt(a) => a.iter().map(|s| seq_cost(s, c)).min().unwrap_or(0),
        Term::Repeat(i, min, _) => term_cost(i, c).saturating_mul(u64::from(*min)),
    }
}

fn in_class(ch: char, negated: bool, ranges: &[(char, char)]) -> bool {
    ranges.iter().any(|(a, b)| *a <= ch && ch <= *b) != negated
}

struct Sampler<'a> {
    g: &'a Grammar,
    cost: BTreeMap<String, u64>,
    rng: Rng,
    out: String,
}

impl Sampler<'_> {
    fn seq(&mut self, s: &[Term], depth: usize) {
        for t in s {
            self.term(t, depth);
        }
    }
    fn pick<'b>(&mut self, alts: &'b [Vec<Term>], depth: usize) -> &'b [Term] {
        if depth > 12 {
            let best = alts.iter().min_by_key(|s| seq_cost(s, &self.cost)).unwrap();
            best
        } else {
            &alts[self.rng.below(alts.len())]
        }
    }
    fn term(&mut self, t: &Term, depth: usize) {
        match t {
            Term::Lit(s) => self.out.push_str(s),
            Term::Class { negated, ranges } => {
                let cands = [
                    'a', 'Z', '0', '7', ' ', '\t', '\n', 'é', '€', '"', '\\', '{', '-', '+', 'e',
                    'E', '.', '\u{1}', 'u', 'n',
                ];
                let ok: Vec<char> = cands
                    .iter()
                    .copied()
                    .filter(|c| in_class(*c, *negated, ranges))
                    .collect();
                if !*negated && (ok.is_empty() || self.rng.below(2) == 0) {
                    let (a, b) = ranges[self.rng.below(ranges.len())];
                    let span = (b as u32) - (a as u32) + 1;
                    let c =
                        char::from_u32(a as u32 + self.rng.below(span as usize) as u32).unwrap();
                    self.out.push(c);
                } else {
                    self.out.push(ok[self.rng.below(ok.len())]);
                }
            }
            Term::Ref(n) => {
                let alts = &self.g.rules[n];
                let s = self.pick(alts, depth + 1);
                self.seq(s, depth + 1);
            }
            Term::Alt(alts) => {
                let s = self.pick(alts, depth);
                self.seq(s, depth);
            }
            Term::Repeat(inner, min, max) => {
                let extra = if depth > 12 {
                    0
                } else {
                    max.unwrap_or(min + 4).saturating_sub(*min).min(4)
                };
                let n = min + self.rng.below(extra as usize + 1) as u32;
                for _ in 0..n {
                    self.term(inner, depth + 1);
                }
            }
        }
    }
}

fn sample(g: &Grammar, seed: u64) -> String {
    let mut s = Sampler {
        g,
        cost: costs(g),
        rng: Rng(seed | 1),
        out: String::new(),
    };
    s.term(&Term::Ref("root".into()), 0);
    s.out
}

/// A validator for the subset the converter supports.
fn validates(s: &Value, v: &Value, root: &Value) -> bool {
    let Some(o) = s.as_object() else {
        return *s == Value::Bool(true);
    };
    if let Some(Value::String(r)) = o.get("$ref") {
        let key = r.rsplit('/').next().unwrap();
        return validates(&root["$defs"][key], v, root);
    }
    if let Some(c) = o.get("const") {
        return c == v;
    }
    if let Some(Value::Array(e)) = o.get("enum") {
        return e.contains(v);
    }
    if let Some(Value::Array(a)) = o.get("anyOf").or(o.get("oneOf")) {
        return a.iter().any(|s| validates(s, v, root));
    }
    let types: Vec<&str> = match o.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ if o.contains_key("properties") => vec!["object"],
        _ => return true,
    };
    types.iter().any(|t| match *t {
        "string" => v.as_str().is_some_and(|x| {
            let n = x.chars().count() as u64;
            o.get("minLength")
                .and_then(Value::as_u64)
                .is_none_or(|m| n >= m)
                && o.get("maxLength")
                    .and_then(Value::as_u64)
                    .is_none_or(|m| n <= m)
        }),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "array" => v.as_array().is_some_and(|a| {
            o.get("minItems")
                .and_then(Value::as_u64)
                .is_none_or(|m| a.len() as u64 >= m)
                && o.get("maxItems")
                    .and_then(Value::as_u64)
                    .is_none_or(|m| a.len() as u64 <= m)
                && a.iter()
                    .all(|x| o.get("items").is_none_or(|s| validates(s, x, root)))
        }),
        "object" => v.as_object().is_some_and(|m| {
            let props = o.get("properties").and_then(Value::as_object);
            let req: Vec<&str> = o
                .get("required")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            req.iter().all(|k| m.contains_key(*k))
                && m.iter().all(|(k, x)| match props {
                    Some(p) => p.get(k).is_some_and(|s| validates(s, x, root)),
                    None => true,
                })
        }),
        _ => false,
    })
}

fn check(schema: &Value, seeds: u64) {
    let g = Grammar::from_schema(schema).unwrap();
    let text = g.to_gbnf();
    assert!(text.starts_with("root ::= "), "{text}");
    for seed in 1..=seeds {
        let s = sample(&g, seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let v: Value = serde_json::from_str(&s)
            .unwrap_or_else(|e| panic!("{s:?} does not parse: {e}\n{text}"));
        assert!(validates(schema, &v, schema), "{s} does not match {schema}");
    }
}

#[test]
fn generic_json_samples_parse() {
    let g = Grammar::json_object();
    for seed in 1..300u64 {
        let s = sample(&g, seed * 7919);
        let v: Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{s:?}: {e}"));
        assert!(v.is_object());
    }
}

#[test]
fn fixed_schemas() {
    check(
        &json!({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
        "tags":{"type":"array","items":{"type":"string"},"minItems":1,"maxItems":3},
        "kind":{"enum":["a","b",3]},"ok":{"type":"boolean"},"n":{"type":["number","null"]}},
        "required":["name","age"]}),
        200,
    );
    check(
        &json!({"type":"object","properties":{"a":{"const":"x"},"b":{"anyOf":[{"type":"integer"},{"type":"string","maxLength":2}]}}}),
        200,
    );
    check(
        &json!({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},
        "$ref":"#/$defs/node"}),
        100,
    );
}

#[test]
fn gbnf_text() {
    let g = Grammar::from_schema(
        &json!({"type":"object","properties":{"a\"b":{"type":"string"}},"required":["a\"b"]}),
    )
    .unwrap();
    let t = g.to_gbnf();
    assert!(t.contains(r#""\"a\\\"b\"""#), "{t}");
    assert!(t.contains(r#"char ::= [^"\\\x7F\x00-\x1F]"#), "{t}");
    assert!(for_ollama_format(&json!("json"))
        .unwrap()
        .unwrap()
        .contains("root ::= object"));
    assert!(for_ollama_format(&json!("yaml")).is_err());
    assert!(for_ollama_format(&json!(null)).unwrap().is_none());
    assert!(
        Grammar::from_schema(&json!({"type":"object","required":["x"],"properties":{}})).is_err()
    );
    assert!(Grammar::from_schema(&json!({"type":"frob"})).is_err());
}

fn arb_schema() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!({"type":"string"})),
        (0u64..3, 3u64..6).prop_map(|(a, b)| json!({"type":"string","minLength":a,"maxLength":b})),
        Just(json!({"type":"number"})),
        Just(json!({"type":"integer"})),
        Just(json!({"type":"boolean"})),
        Just(json!({"type":"null"})),
        Just(json!({"enum":["x", 1, null, true]})),
        Just(json!({"const": {"k": [1, "z"]}})),
        Just(json!({})),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            (
                proptest::collection::btree_map("[a-z]{1,6}", inner.clone(), 0..4),
                any::<u8>()
            )
                .prop_map(|(props, mask)| {
                    let required: Vec<String> = props
                        .keys()
                        .enumerate()
                        .filter(|(i, _)| mask & (1 << i) != 0)
                        .map(|(_, k)| k.clone())
                        .collect();
                    json!({"type":"object","properties":props,"required":required})
                }),
            (inner.clone(), 0u64..2, 2u64..4)
                .prop_map(|(i, a, b)| json!({"type":"array","items":i,"minItems":a,"maxItems":b})),
            proptest::collection::vec(inner, 1..3).prop_map(|v| json!({"anyOf": v})),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn random_schemas_random_outputs_validate(schema in arb_schema()) {
        check(&schema, 20);
    }
}

#[test]
fn forced_tool_calls_parse_to_a_declared_tool() {
    let weather = json!({"type": "object", "properties": {"city": {"type": "string"}},
        "required": ["city"]});
    // A schema the converter cannot follow falls back to any object for that tool.
    let odd = json!({"type": "object", "patternProperties": {"^x": {"type": "string"}},
        "properties": {"n": {"$ref": "#/nowhere"}}});
    let tools = vec![
        ("get_weather".to_string(), weather.clone()),
        ("odd".to_string(), odd),
    ];
    let g = Grammar::tool_call(&tools).unwrap();
    assert!(g
        .to_gbnf()
        .starts_with("root ::= \"<tool_call>\\n\" forced-tool-call"));
    let mut names = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let text = sample(&g, seed);
        let specs: Vec<crate::service::tools::ToolSpec> = tools
            .iter()
            .map(|(name, schema)| crate::service::tools::ToolSpec {
                name: name.clone(),
                schema: schema.clone(),
            })
            .collect();
        let (rest, calls) = crate::service::tools::parse_tool_calls(&text, &specs);
        assert_eq!((rest.as_str(), calls.len()), ("", 1), "{text}");
        let c = &calls[0];
        if c.name == "get_weather" {
            let args = Value::Object(c.arguments.clone());
            assert!(validates(&weather, &args, &weather), "{text}");
        } else {
            assert_eq!(c.name, "odd");
        }
        names.insert(c.name.clone());
    }
    assert_eq!(names.len(), 2, "both tools reachable");
}
