//! Chat-template audit.
//!
//! 1. A static pass over the template's tags (our own small lexer, independent of any engine)
//!    flags Jinja sandbox-escape idioms that are harmless in minijinja but execute code in
//!    Python Jinja2 consumers of the same GGUF (`__class__`, `__globals__`, `lipsum`, `cycler`,
//!    `joiner`, `|attr('_...')`, `include`/`import`/`extends`), and resource bombs (`**`,
//!    string repetition, huge literals and ranges, recursive macros, values that double in a loop).
//! 2. hearth-prompt's renderer (minijinja with Hugging Face semantics, no loader, no file or
//!    network access) compiles the template.
//! 3. Only when no high-severity idiom was found, the template is rendered on sample
//!    conversations with fuel, a recursion limit and an output cap.
//! 4. Its sha256 is compared with the pinned known-good list; a diff against the closest pinned
//!    template is attached when it differs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hearth_prompt::RenderInput;

use crate::report::{Finding, Location, Severity};
use crate::{known_templates, ScanOptions};

/// What the audit knows about the model the template belongs to.
#[derive(Debug, Clone, Default)]
pub struct TemplateContext {
    /// `general.architecture`, to prefer same-family templates for the diff.
    pub family: Option<String>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Str(&'a str),
    Num(f64),
    Op(&'a str),
}

#[derive(Debug)]
struct Tag<'a> {
    stmt: bool,
    toks: Vec<Tok<'a>>,
    line: u64,
}

/// Split a template into its `{{ }}` and `{% %}` tags (comments and raw blocks skipped).
fn tags(src: &str) -> Vec<Tag<'_>> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut line = 1u64;
    let mut line_pos = 0;
    let mut in_raw = false;
    while i + 1 < b.len() {
        if b[i] != b'{' || !matches!(b[i + 1], b'{' | b'%' | b'#') {
            i += 1;
            continue;
        }
        line += b[line_pos..i].iter().filter(|&&c| c == b'\n').count() as u64;
        line_pos = i;
        let kind = b[i + 1];
        if kind == b'#' {
            i = find(b, i + 2, b"#}").map_or(b.len(), |e| e + 2);
            continue;
        }
        let close: &[u8] = if kind == b'{' { b"}}" } else { b"%}" };
        let body_start = i + 2;
        let end = find_close(b, body_start, close).unwrap_or(b.len());
        let body = src.get(body_start..end).unwrap_or("");
        let body = body
            .trim_start_matches(['-', '+'])
            .trim_end_matches(['-', '+']);
        let toks = lex(body);
        let first = match toks.first() {
            Some(Tok::Ident(s)) => *s,
            _ => "",
        };
        if in_raw {
            if kind == b'%' && first == "endraw" {
                in_raw = false;
            }
        } else if kind == b'%' && first == "raw" {
            in_raw = true;
        } else {
            out.push(Tag {
                stmt: kind == b'%',
                toks,
                line,
            });
        }
        i = (end + 2).min(b.len());
    }
    out
}

fn find(b: &[u8], from: usize, pat: &[u8]) -> Option<usize> {
    b.get(from..)?
        .windows(pat.len())
        .position(|w| w == pat)
        .map(|p| p + from)
}

/// The closing delimiter, skipping string literals.
fn find_close(b: &[u8], from: usize, close: &[u8]) -> Option<usize> {
    let mut i = from;
    let mut quote = 0u8;
    while i < b.len() {
        let c = b[i];
        if quote != 0 {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == quote {
                quote = 0;
            }
        } else if c == b'\'' || c == b'"' {
            quote = c;
        } else if b[i..].starts_with(close) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn lex(s: &str) -> Vec<Tok<'_>> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Tok::Ident(&s[st..i]));
        } else if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            let text: String = s[st..i].chars().filter(|&c| c != '_').collect();
            out.push(Tok::Num(text.parse::<f64>().unwrap_or(f64::INFINITY)));
        } else if c == b'\'' || c == b'"' {
            let st = i + 1;
            i += 1;
            while i < b.len() && b[i] != c {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            let end = i.min(b.len());
            out.push(Tok::Str(s.get(st..end).unwrap_or("")));
            i += 1;
        } else {
            let two = s.get(i..i + 2).unwrap_or("");
            if matches!(two, "**" | "//" | "==" | "!=" | "<=" | ">=") {
                out.push(Tok::Op(two));
                i += 2;
            } else {
                // Multi-byte UTF-8 outside strings: skip the whole character.
                let w = s[i..].chars().next().map_or(1, char::len_utf8);
                out.push(Tok::Op(&s[i..i + w]));
                i += w;
            }
        }
    }
    out
}

const ESCAPE_GLOBALS: &[&str] = &["lipsum", "cycler", "joiner"];

struct Audit<'k> {
    key: &'k str,
    hits: BTreeMap<(String, u64), (Severity, String)>,
}

impl Audit<'_> {
    fn hit(&mut self, rule: &str, sev: Severity, line: u64, msg: String) {
        self.hits
            .entry((format!("{rule}\u{0}{msg}"), line))
            .or_insert((sev, msg));
    }

    fn max(&self) -> Option<Severity> {
        self.hits.values().map(|(s, _)| *s).max()
    }

    fn into_findings(self, out: &mut Vec<Finding>) {
        const MAX: usize = 50;
        let n = self.hits.len();
        for ((key, line), (sev, msg)) in self.hits.into_iter().take(MAX) {
            let rule = key.split('\u{0}').next().unwrap_or("template");
            out.push(Finding::new(
                rule,
                sev,
                msg,
                Location::field(format!("metadata[{:?}]", self.key)).with_line(line),
            ));
        }
        if n > MAX {
            out.push(Finding::new(
                "template.sandbox-escape",
                Severity::Info,
                format!("{} more template findings not shown", n - MAX),
                Location::field(format!("metadata[{:?}]", self.key)),
            ));
        }
    }
}

/// Static idiom scan. Returns the worst severity found.
fn static_audit(text: &str, a: &mut Audit<'_>) {
    let tags = tags(text);
    // Pass 1: every assigned name (set targets, loop targets are data and not counted).
    let mut assigned: BTreeSet<&str> = BTreeSet::new();
    for t in &tags {
        if t.stmt && t.toks.first() == Some(&Tok::Ident("set")) {
            if let Some(Tok::Ident(n)) = t.toks.get(1) {
                assigned.insert(n);
            }
        }
    }
    let mut loop_depth = 0usize;
    let mut macro_stack: Vec<&str> = Vec::new();
    let mut calls: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    let mut macro_lines: HashMap<&str, u64> = HashMap::new();
    let mut block_set: Option<(&str, u64, usize)> = None;
    for t in &tags {
        let line = t.line;
        let toks = &t.toks;
        let first = match toks.first() {
            Some(Tok::Ident(s)) if t.stmt => *s,
            _ => "",
        };
        match first {
            "include" | "import" | "from" | "extends" => a.hit(
                "template.include",
                Severity::High,
                line,
                format!("`{first}` loads another template (file access in Jinja2 consumers)"),
            ),
            "for" => {
                loop_depth += 1;
                if toks.contains(&Tok::Ident("recursive")) {
                    a.hit(
                        "template.recursion",
                        Severity::Low,
                        line,
                        "recursive for-loop (depth bounded only by the data)".into(),
                    );
                }
                if loop_depth >= 3 {
                    a.hit(
                        "template.loop-nesting",
                        Severity::Medium,
                        line,
                        format!("for-loops nested {loop_depth} deep"),
                    );
                }
            }
            "endfor" => loop_depth = loop_depth.saturating_sub(1),
            "macro" => {
                if let Some(Tok::Ident(name)) = toks.get(1) {
                    macro_stack.push(name);
                    macro_lines.entry(name).or_insert(line);
                    calls.entry(name).or_default();
                }
            }
            "endmacro" => {
                macro_stack.pop();
            }
            "set" => set_rule(
                toks,
                line,
                loop_depth + macro_stack.len(),
                &assigned,
                a,
                &mut block_set,
            ),
            "endset" => block_set = None,
            _ => {}
        }
        if let Some((target, _, ref mut count)) = block_set {
            if first != "set" {
                *count += toks.iter().filter(|t| **t == Tok::Ident(target)).count();
                if *count >= 2 && loop_depth + macro_stack.len() > 0 {
                    a.hit(
                        "template.resource-bomb",
                        Severity::High,
                        line,
                        format!("block `set {target}` uses `{target}` more than once inside a loop or macro (exponential growth)"),
                    );
                }
            }
        }
        for (k, tok) in toks.iter().enumerate() {
            let prev = k.checked_sub(1).and_then(|p| toks.get(p));
            let next = toks.get(k + 1);
            match tok {
                Tok::Ident(s) | Tok::Str(s) if is_dunder(s) => a.hit(
                    "template.sandbox-escape",
                    Severity::High,
                    line,
                    format!("accesses Python internals `{}`", clip(s)),
                ),
                Tok::Ident(s) if ESCAPE_GLOBALS.contains(s) => a.hit(
                    "template.sandbox-escape",
                    Severity::High,
                    line,
                    format!("uses Jinja2 global `{s}` (a known route to Python globals)"),
                ),
                Tok::Ident(s @ ("namespace" | "self" | "config" | "request"))
                    if next == Some(&Tok::Op(".")) =>
                {
                    a.hit(
                        "template.sandbox-escape",
                        Severity::High,
                        line,
                        format!("attribute access on `{s}`"),
                    )
                }
                Tok::Ident("attr") if prev == Some(&Tok::Op("|")) => {
                    let arg = toks.get(k + 2);
                    let sev = match arg {
                        Some(Tok::Str(s)) if !s.starts_with('_') => Severity::Medium,
                        _ => Severity::High,
                    };
                    a.hit(
                        "template.sandbox-escape",
                        sev,
                        line,
                        "`|attr(...)` filter reads arbitrary attributes".into(),
                    );
                }
                Tok::Ident("format") if prev == Some(&Tok::Op(".")) => a.hit(
                    "template.sandbox-escape",
                    Severity::Medium,
                    line,
                    "str.format() can reach attributes in Jinja2 consumers".into(),
                ),
                Tok::Ident(s) if s.starts_with('_') && prev == Some(&Tok::Op(".")) => a.hit(
                    "template.sandbox-escape",
                    Severity::High,
                    line,
                    format!("accesses private attribute `{}`", clip(s)),
                ),
                Tok::Op("**") => a.hit(
                    "template.resource-bomb",
                    Severity::High,
                    line,
                    "exponentiation `**` (numbers large enough to exhaust memory)".into(),
                ),
                Tok::Op("*") => {
                    let big = |t: Option<&Tok<'_>>| match t {
                        Some(Tok::Num(n)) => *n >= 1000.0,
                        _ => true,
                    };
                    let stringy =
                        matches!(prev, Some(Tok::Str(_))) || matches!(next, Some(Tok::Str(_)));
                    if stringy || (big(prev) && big(next)) {
                        a.hit(
                            "template.resource-bomb",
                            Severity::High,
                            line,
                            "`*` repetition of a string or sequence by a large or computed count"
                                .into(),
                        );
                    } else {
                        a.hit(
                            "template.resource-bomb",
                            Severity::Medium,
                            line,
                            "multiplication `*` in a template".into(),
                        );
                    }
                }
                Tok::Num(n) if *n >= 100_000.0 => a.hit(
                    "template.resource-bomb",
                    Severity::High,
                    line,
                    format!("huge number literal {n}"),
                ),
                Tok::Ident("range") if next == Some(&Tok::Op("(")) => {
                    let big = toks[k..]
                        .iter()
                        .take_while(|t| **t != Tok::Op(")"))
                        .any(|t| matches!(t, Tok::Num(n) if *n >= 10_000.0));
                    if big {
                        a.hit(
                            "template.resource-bomb",
                            Severity::High,
                            line,
                            "range() over 10,000 or more items".into(),
                        );
                    }
                }
                Tok::Ident(s) if next == Some(&Tok::Op("(")) => {
                    if let Some(m) = macro_stack.last() {
                        calls.entry(m).or_default().insert(s);
                    }
                }
                _ => {}
            }
        }
    }
    // Recursion: any cycle in the macro call graph.
    for (&m, &line) in &macro_lines {
        if reaches(&calls, m, m) {
            a.hit(
                "template.recursion",
                Severity::High,
                line,
                format!("macro `{m}` calls itself (directly or through other macros)"),
            );
        }
    }
}

fn reaches(calls: &HashMap<&str, BTreeSet<&str>>, from: &str, target: &str) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        for &c in calls.get(n).into_iter().flatten() {
            if c == target {
                return true;
            }
            if seen.insert(c) {
                stack.push(c);
            }
        }
    }
    false
}

fn set_rule<'a>(
    toks: &[Tok<'a>],
    line: u64,
    repeat_depth: usize,
    assigned: &BTreeSet<&str>,
    a: &mut Audit<'_>,
    block_set: &mut Option<(&'a str, u64, usize)>,
) {
    let Some(Tok::Ident(target)) = toks.get(1) else {
        return;
    };
    let Some(eq) = toks.iter().position(|t| *t == Tok::Op("=")) else {
        *block_set = Some((target, line, 0));
        return;
    };
    let rhs = &toks[eq + 1..];
    for name in assigned {
        let uses = rhs.iter().filter(|t| **t == Tok::Ident(name)).count();
        if uses >= 2 {
            let (sev, where_) = if repeat_depth > 0 {
                (
                    Severity::High,
                    "inside a loop or macro (exponential growth)",
                )
            } else {
                (Severity::Low, "(doubles the value once)")
            };
            a.hit(
                "template.resource-bomb",
                sev,
                line,
                format!("`set {target}` uses the assigned variable `{name}` {uses} times {where_}"),
            );
        }
    }
}

fn is_dunder(s: &str) -> bool {
    s.contains("__") && s.chars().any(|c| c.is_ascii_alphabetic())
}

fn clip(s: &str) -> String {
    let mut c: String = s.chars().take(60).collect();
    if c.len() < s.len() {
        c.push('…');
    }
    c
}

/// Audit one template; findings are appended. `key` names the metadata key.
pub fn audit(
    key: &str,
    text: &str,
    ctx: &TemplateContext,
    opts: &ScanOptions,
    out: &mut Vec<Finding>,
) {
    let loc = || Location::field(format!("metadata[{key:?}]"));
    if text.len() > opts.max_template_bytes {
        out.push(Finding::new(
            "template.too-large",
            Severity::High,
            format!(
                "chat template is {} bytes (limit {}); not parsed or rendered",
                text.len(),
                opts.max_template_bytes
            ),
            loc(),
        ));
        return;
    }
    let hash = crate::sha256_hex(text.as_bytes());
    let known = known_templates::by_hash(&hash);
    let mut a = Audit {
        key,
        hits: BTreeMap::new(),
    };
    static_audit(text, &mut a);
    let worst = a.max();
    a.into_findings(out);

    let limits = hearth_prompt::Limits {
        fuel: opts.template_fuel,
        max_output: opts.max_render_output,
        recursion: 64,
        max_source: opts.max_template_bytes,
    };
    let tmpl = match hearth_prompt::ChatTemplate::with_options(key, text, limits) {
        Ok(t) => t,
        Err(e) => {
            let line = match &e {
                hearth_prompt::TemplateError::Syntax { line, .. } => *line,
                _ => None,
            };
            out.push(Finding::new(
                "template.syntax",
                Severity::Medium,
                format!("chat template does not compile: {e}"),
                match line {
                    Some(l) => loc().with_line(l as u64),
                    None => loc(),
                },
            ));
            compare_known(key, text, &hash, known, ctx, out);
            return;
        }
    };

    if worst.is_some_and(|s| s >= Severity::High) {
        out.push(Finding::new(
            "template.not-rendered",
            Severity::Info,
            "not rendered on sample conversations because of the findings above",
            loc(),
        ));
    } else if opts.render_templates {
        render_samples(&tmpl, ctx, opts, &loc, out);
    }
    compare_known(key, text, &hash, known, ctx, out);
}

fn compare_known(
    key: &str,
    text: &str,
    hash: &str,
    known: Option<&known_templates::KnownTemplate>,
    ctx: &TemplateContext,
    out: &mut Vec<Finding>,
) {
    let loc = Location::field(format!("metadata[{key:?}]"));
    if let Some(k) = known {
        out.push(Finding::new(
            "template.known",
            Severity::Info,
            format!(
                "chat template matches the pinned known-good template {:?}",
                k.name
            ),
            loc,
        ));
        return;
    }
    let mut f = Finding::new(
        "template.unknown",
        Severity::Low,
        format!("chat template (sha256 {hash}) is not on the pinned known-good list"),
        loc,
    );
    if let Some((k, sim)) = known_templates::closest(text, ctx.family.as_deref()) {
        if let Some(d) = k.text.and_then(|t| crate::diff::unified(t, text, 2, 120)) {
            f.message = format!(
                "{}; closest pinned template is {:?} ({:.0}% of lines equal)",
                f.message,
                k.name,
                sim * 100.0
            );
            f = f.with_detail(format!("--- {}\n+++ {key}\n{d}", k.name));
        }
    }
    out.push(f);
}

fn samples(ctx: &TemplateContext) -> Vec<(&'static str, RenderInput)> {
    use hearth_prompt::{Message, ToolCall};
    let base = RenderInput {
        add_generation_prompt: true,
        bos_token: ctx.bos_token.clone().unwrap_or_else(|| "<s>".into()),
        eos_token: ctx.eos_token.clone().unwrap_or_else(|| "</s>".into()),
        ..RenderInput::default()
    };
    let call = Message {
        tool_calls: Some(vec![ToolCall::function(
            "get_weather",
            serde_json::json!({"city": "Paris"}),
        )]),
        ..Message::assistant("")
    };
    let tool = serde_json::json!({"type": "function", "function": {"name": "get_weather",
        "description": "Current weather", "parameters": {"type": "object",
        "properties": {"city": {"type": "string"}}, "required": ["city"]}}});
    vec![
        (
            "system+user+assistant+user",
            RenderInput {
                messages: vec![
                    Message::system("You are a coding assistant."),
                    Message::user("Write hello world in Rust."),
                    Message::assistant("fn main() { println!(\"hello\"); }"),
                    Message::user("Now in C."),
                ],
                ..base.clone()
            },
        ),
        (
            "single user turn",
            RenderInput {
                messages: vec![Message::user("hi")],
                ..base.clone()
            },
        ),
        (
            "tool call",
            RenderInput {
                messages: vec![
                    Message::user("Weather in Paris?"),
                    call,
                    Message::tool("{\"temp\": 12}", None),
                ],
                tools: Some(vec![tool]),
                ..base
            },
        ),
    ]
}

fn render_samples(
    tmpl: &hearth_prompt::ChatTemplate,
    ctx: &TemplateContext,
    opts: &ScanOptions,
    loc: &dyn Fn() -> Location,
    out: &mut Vec<Finding>,
) {
    use hearth_prompt::TemplateError as E;
    let mut ok = 0;
    let mut failures = Vec::new();
    for (name, sample) in samples(ctx) {
        match tmpl.render(&sample) {
            Ok(_) => ok += 1,
            Err(E::OutOfFuel { .. }) => out.push(Finding::new(
                "template.fuel-exhausted",
                Severity::High,
                format!("rendering the {name:?} sample ran out of fuel ({} units): unbounded loop, recursion or data growth", opts.template_fuel),
                loc(),
            )),
            Err(E::OutputTooLarge { .. }) => out.push(Finding::new(
                "template.output-cap",
                Severity::High,
                format!(
                    "rendering the {name:?} sample produced more than {} bytes",
                    opts.max_render_output
                ),
                loc(),
            )),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    if ok == 0 && !failures.is_empty() {
        out.push(
            Finding::new(
                "template.render-failed",
                Severity::Low,
                "the template rendered none of the sample conversations",
                loc(),
            )
            .with_detail(failures.join("\n")),
        );
    } else if !failures.is_empty() {
        out.push(
            Finding::new(
                "template.render-failed",
                Severity::Info,
                format!(
                    "{} of the sample conversations did not render",
                    failures.len()
                ),
                loc(),
            )
            .with_detail(failures.join("\n")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> Vec<(String, Severity)> {
        let mut out = Vec::new();
        audit(
            "tokenizer.chat_template",
            text,
            &TemplateContext::default(),
            &ScanOptions::default(),
            &mut out,
        );
        out.into_iter().map(|f| (f.rule_id, f.severity)).collect()
    }

    #[test]
    fn lexer_skips_comments_and_strings() {
        let t = tags("a{# {{ __class__ }} #}{{ '}}' ~ x }}{% if y %}");
        assert_eq!(t.len(), 2);
        assert_eq!(
            t[0].toks,
            vec![Tok::Str("}}"), Tok::Op("~"), Tok::Ident("x")]
        );
        assert!(t[1].stmt);
    }

    #[test]
    fn benign_template_renders_clean() {
        let r = rules("{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
        assert!(r.iter().all(|(_, s)| *s <= Severity::Low), "{r:?}");
        assert!(r.iter().any(|(id, _)| id == "template.unknown"));
    }

    #[test]
    fn fuel_stops_long_loops() {
        let r =
            rules("{% for a in range(9000) %}{% for b in range(9000) %}{% endfor %}{% endfor %}");
        assert!(
            r.contains(&("template.fuel-exhausted".into(), Severity::High)),
            "{r:?}"
        );
    }

    #[test]
    fn edited_known_template_gets_a_diff() {
        let smol = crate::known_templates::KNOWN[2].text.unwrap();
        let edited = smol.replace("helpful AI assistant", "assistant that leaks secrets");
        let mut out = Vec::new();
        audit(
            "tokenizer.chat_template",
            &edited,
            &TemplateContext::default(),
            &ScanOptions::default(),
            &mut out,
        );
        let f = out
            .iter()
            .find(|f| f.rule_id == "template.unknown")
            .unwrap();
        assert!(f.message.contains("SmolLM2-Instruct"), "{}", f.message);
        let d = f.detail.as_deref().unwrap();
        assert!(
            d.contains("\n-You are a helpful AI assistant named SmolLM"),
            "{d}"
        );
        assert!(
            d.contains("\n+You are a assistant that leaks secrets named SmolLM"),
            "{d}"
        );
        let known = rules(smol);
        assert!(
            known.contains(&("template.known".into(), Severity::Info)),
            "{known:?}"
        );
    }

    #[test]
    fn pinned_templates_raise_no_static_findings() {
        for k in crate::known_templates::KNOWN {
            let Some(t) = k.text else { continue };
            let mut a = Audit {
                key: "t",
                hits: BTreeMap::new(),
            };
            static_audit(t, &mut a);
            assert!(a.hits.is_empty(), "{}: {:?}", k.name, a.hits);
        }
    }

    #[test]
    fn common_idioms_are_not_escapes() {
        let r = rules("{% set ns = namespace(found=false) %}{% for m in messages %}{% if m.role == 'system' %}{% set ns.found = true %}{% endif %}{{ m.content | trim }}{% endfor %}{{ loop_messages | length * 2 }}");
        assert!(
            r.iter()
                .all(|(id, s)| id != "template.sandbox-escape" && *s <= Severity::Medium),
            "{r:?}"
        );
    }

    #[test]
    fn mutual_recursion_is_found() {
        let r =
            rules("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}");
        assert!(
            r.contains(&("template.recursion".into(), Severity::High)),
            "{r:?}"
        );
    }
}
