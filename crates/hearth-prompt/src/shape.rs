//! Completion shaping: turn what a model generated at the cursor into what an editor should
//! insert. Pure functions on text; the engine and server decide when to apply them.
//!
//! - [`Scope::Line`] when the cursor is inside a line that continues after it (complete only to
//!   the end of the line), [`Scope::Block`] otherwise (complete until the block ends);
//! - never repeat what already follows the cursor ([`drop_repeated_suffix`]);
//! - no trailing whitespace ([`trim_trailing_whitespace`]).

use crate::fim::split_current_line;

/// How far a completion may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Up to the end of the current line.
    Line,
    /// Up to the end of the block the completion starts in.
    Block,
}

/// [`Scope::Line`] when text other than whitespace follows the cursor on its line, except at
/// the very start of such a line, where whole lines are inserted before it ([`Scope::Block`]).
pub fn scope_for(prefix: &str, suffix: &str) -> Scope {
    if rest_of_line(suffix).trim().is_empty() || inserts_lines(prefix, suffix) {
        Scope::Block
    } else {
        Scope::Line
    }
}

/// The cursor is at column 0 of a line with text: a completion there is whole lines inserted
/// before that line (what multi-line infilling asks, and where the model's middle ends with a
/// line break), so it may span lines and always ends with one.
fn inserts_lines(prefix: &str, suffix: &str) -> bool {
    split_current_line(prefix).1.is_empty() && !rest_of_line(suffix).trim().is_empty()
}

/// `suffix` up to (not including) its first newline.
fn rest_of_line(suffix: &str) -> &str {
    suffix.split('\n').next().unwrap_or_default()
}

/// The completion up to (not including) its first newline.
pub fn stop_at_line_end(completion: &str) -> &str {
    completion.split('\n').next().unwrap_or_default()
}

/// Indentation width (a tab counts 4).
fn indent_width(line: &str) -> usize {
    line.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

fn is_closer(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with(['}', ')', ']']) || t == "end" || t.starts_with("end ")
}

fn continues_block(line: &str) -> bool {
    let t = line.trim();
    let opens = t.ends_with('{') || t.ends_with(':');
    let word = t.trim_start_matches(['}', ')', ']', ' ']);
    let kw = ["else", "elif", "except", "finally", "catch"]
        .iter()
        .any(|k| {
            word.strip_prefix(k)
                .is_some_and(|r| r.is_empty() || r.starts_with([' ', ':', '{', '(']))
        });
    opens && kw
}

/// The completion up to the end of the block it starts in. The base indentation is that of the
/// cursor's line; the completion stops before the first line indented less than the base, and
/// once it has gone deeper and come back to the base, after a closing bracket line (`}`, `)`,
/// `]`, `end`) or before any other line.
pub fn stop_at_block_end<'a>(completion: &'a str, prefix: &str) -> &'a str {
    let base = indent_width(split_current_line(prefix).1);
    let mut offset = 0;
    let mut opened = false;
    for (i, line) in completion.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        if i == 0 || line.trim().is_empty() {
            continue;
        }
        let w = indent_width(line);
        if w > base {
            opened = true;
            continue;
        }
        if w < base {
            return &completion[..start];
        }
        if opened {
            if continues_block(line) {
                // `} else {`, `else:`, `except ...:`: the same statement goes on.
                opened = false;
                continue;
            }
            if is_closer(line) {
                return &completion[..start + line.trim_end_matches(['\n', '\r']).len()];
            }
            return &completion[..start];
        }
    }
    completion
}

/// Whole lines inserted at column 0 before the suffix's line: they belong to the block of that
/// line, or of their own first line where it starts shallower (`x = 1` then `if a:` before a
/// deeper suffix line). They stop before the first line (after the first) indented less than
/// that. Lines at the base level after a nested block are more statements of the same block
/// (unlike [`stop_at_block_end`], where the cursor's own line is the block's first statement);
/// a repeat of the suffix's line is cut by [`drop_repeated_suffix`].
pub fn stop_at_insert_end<'a>(completion: &'a str, suffix: &str) -> &'a str {
    let Some(next) = suffix.lines().find(|l| !l.trim().is_empty()) else {
        return completion;
    };
    let first = completion
        .lines()
        .find(|l| !l.trim().is_empty())
        .map_or(usize::MAX, indent_width);
    let base = indent_width(next).min(first);
    let mut offset = 0;
    for (i, line) in completion.split_inclusive('\n').enumerate() {
        let start = offset;
        offset += line.len();
        if i > 0 && !line.trim().is_empty() && indent_width(line) < base {
            return &completion[..start];
        }
    }
    completion
}

/// Removes trailing spaces and tabs on every line, and trailing whitespace at the end.
pub fn trim_trailing_whitespace(completion: &str) -> String {
    let mut out = String::with_capacity(completion.len());
    for line in completion.split_inclusive('\n') {
        let (body, nl) = if let Some(b) = line.strip_suffix("\r\n") {
            (b, "\r\n")
        } else if let Some(b) = line.strip_suffix('\n') {
            (b, "\n")
        } else {
            (line, "")
        };
        out.push_str(body.trim_end_matches([' ', '\t']));
        out.push_str(nl);
    }
    out.truncate(out.trim_end().len());
    out
}

/// Drops the part of the completion that repeats text already after the cursor:
/// 1. from the first completion line (after its first) that equals the suffix's first
///    non-blank line, ignoring indentation;
/// 2. a tail equal to the start of the cursor's line rest, when it is all of that rest or
///    only closing punctuation (`)`, `]`, `}`, quotes, `;`, `,`, `:`). A tail that is part of a
///    word (`b` of `b + c`) is kept: it is more likely new text than a repeat.
pub fn drop_repeated_suffix<'a>(completion: &'a str, suffix: &str) -> &'a str {
    let mut out = completion;
    if let Some(first) = suffix.lines().map(str::trim).find(|l| !l.is_empty()) {
        let mut offset = 0;
        for (i, line) in completion.split_inclusive('\n').enumerate() {
            if i > 0 && line.trim() == first {
                out = &completion[..offset];
                break;
            }
            offset += line.len();
        }
    }
    let trimmed = out.trim_end();
    let rest = rest_of_line(suffix).trim_end();
    if rest.trim().is_empty() {
        return out;
    }
    let max = rest.len().min(trimmed.len());
    for k in (1..=max).rev() {
        if !rest.is_char_boundary(k) {
            continue;
        }
        let head = &rest[..k];
        if head.trim().is_empty() || !trimmed.ends_with(head) {
            continue;
        }
        let whole = k == rest.len();
        let closing = head
            .chars()
            .all(|c| c.is_whitespace() || ")]}>\"'`;,:".contains(c));
        if whole || closing {
            return &trimmed[..trimmed.len() - k];
        }
    }
    out
}

/// All shaping in order: scope cut (given, or [`scope_for`]), suffix repeats, trailing
/// whitespace. When the cursor sits at the start of a line that has text after it, a completion
/// that ended its line keeps that newline.
pub fn shape(completion: &str, prefix: &str, suffix: &str, scope: Option<Scope>) -> String {
    let scope = scope.unwrap_or_else(|| scope_for(prefix, suffix));
    let cut = match scope {
        Scope::Line => stop_at_line_end(completion),
        Scope::Block if inserts_lines(prefix, suffix) => stop_at_insert_end(completion, suffix),
        Scope::Block => stop_at_block_end(completion, prefix),
    };
    let mut out = trim_trailing_whitespace(drop_repeated_suffix(cut, suffix));
    // Before text on the cursor's line, nothing but whitespace typed: what is inserted must end
    // its own line. Whole lines (column 0, block scope) always do; a line completion does when
    // the model ended the line.
    let typed = split_current_line(prefix).1;
    if out.is_empty() || !typed.trim().is_empty() || rest_of_line(suffix).trim().is_empty() {
        return out;
    }
    let ends_line = match scope {
        Scope::Block => typed.is_empty(),
        Scope::Line => completion[stop_at_line_end(completion).len()..].starts_with('\n'),
    };
    if ends_line {
        out.push('\n');
    }
    out
}

/// The text that [`shape`] keeps whatever the model generates after `visible`: a prefix of
/// `shape(visible + more, prefix, suffix, scope)` for every `more`. What a server can stream of a
/// completion while it is still being generated.
///
/// - Line scope: the line so far without trailing whitespace, minus as many bytes as the rest of
///   the cursor's line (a tail that repeats it is dropped at the end); all of it once the line
///   is complete.
/// - Block scope: the first line as it grows, then only complete lines (a later line's
///   indentation and content decide the block end), without trailing whitespace; all of it once
///   the block has ended.
pub fn stable_prefix(visible: &str, prefix: &str, suffix: &str, scope: Option<Scope>) -> String {
    let scope = scope.unwrap_or_else(|| scope_for(prefix, suffix));
    let rest = rest_of_line(suffix).trim_end();
    match scope {
        Scope::Line => {
            if visible.contains('\n') {
                return shape(visible, prefix, suffix, Some(scope));
            }
            let w = visible.trim_end();
            let mut keep = if rest.trim().is_empty() {
                w.len()
            } else {
                w.len().saturating_sub(rest.len())
            };
            while !w.is_char_boundary(keep) {
                keep -= 1;
            }
            w[..keep].trim_end().to_string()
        }
        Scope::Block => {
            // Text after the cursor on its line would make a tail repeat possible: wait.
            if !rest.trim().is_empty() {
                return String::new();
            }
            // The first line is never cut (block ends and suffix repeats are found on later
            // lines): all of it but trailing whitespace is final.
            let Some(nl) = visible.rfind('\n') else {
                return visible.trim_end().to_string();
            };
            let lines = &visible[..=nl];
            if stop_at_block_end(lines, prefix).len() < lines.len() {
                return shape(visible, prefix, suffix, Some(scope));
            }
            trim_trailing_whitespace(drop_repeated_suffix(lines, suffix))
        }
    }
}

/// If the characters typed since a suggestion was shown are its start, the rest of it is still
/// the answer, with no model call.
pub fn continue_suggestion<'a>(previous: &'a str, typed_since: &str) -> Option<&'a str> {
    previous
        .strip_prefix(typed_since)
        .filter(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_selection() {
        assert_eq!(scope_for("x = foo(", ")\n"), Scope::Line);
        assert_eq!(scope_for("def f():\n    ", "\n\nx = 1"), Scope::Block);
        assert_eq!(scope_for("x", "   \ny"), Scope::Block);
        assert_eq!(scope_for("x", ""), Scope::Block);
        // Column 0 of a line with text: lines inserted before it; in its indentation: the line.
        assert_eq!(scope_for("def f():\n", "    return 1\n"), Scope::Block);
        assert_eq!(scope_for("def f():\n    ", "return 1\n"), Scope::Line);
    }

    #[test]
    fn line_end() {
        assert_eq!(stop_at_line_end("a, b)\n    more"), "a, b)");
        assert_eq!(stop_at_line_end("abc"), "abc");
    }

    #[test]
    fn block_end_python() {
        let prefix = "def f(x):\n    ";
        let c = "if x:\n        return 1\n    return 2\n\ndef g():\n    pass\n";
        assert_eq!(stop_at_block_end(c, prefix), "if x:\n        return 1\n");
        // Siblings at the base level without a nested block continue; a dedent stops.
        let c2 = "a = 1\n    b = 2\nprint(a)\n";
        assert_eq!(stop_at_block_end(c2, prefix), "a = 1\n    b = 2\n");
        // Top-level function: stop before the next top-level definition.
        let c3 = "def h():\n    return 3\n\n\ndef i():\n    pass";
        assert_eq!(
            stop_at_block_end(c3, "x = 1\n"),
            "def h():\n    return 3\n\n\n"
        );
    }

    #[test]
    fn block_end_braces() {
        let c = "fn a() {\n    1\n}\n\nfn b() {}\n";
        assert_eq!(stop_at_block_end(c, "\n"), "fn a() {\n    1\n}");
        let js = "if (x) {\n    y();\n  } else {\n    z();\n  }\n  w();\n";
        assert_eq!(
            stop_at_block_end(js, "f() {\n  "),
            "if (x) {\n    y();\n  } else {\n    z();\n  }"
        );
        let py = "if x:\n        a()\n    else:\n        b()\n    c()\n";
        assert_eq!(
            stop_at_block_end(py, "def f():\n    "),
            "if x:\n        a()\n    else:\n        b()\n"
        );
    }

    #[test]
    fn trailing_whitespace() {
        assert_eq!(trim_trailing_whitespace("a  \n  b\t\n\n  "), "a\n  b");
        assert_eq!(trim_trailing_whitespace("a \r\nb"), "a\r\nb");
        assert_eq!(trim_trailing_whitespace("   "), "");
    }

    #[test]
    fn suffix_repeats() {
        // Closing bracket already after the cursor.
        assert_eq!(drop_repeated_suffix("a, b)", ")\n"), "a, b");
        assert_eq!(drop_repeated_suffix("\"hi\")", "\")"), "\"hi");
        // Whole rest of the line repeated.
        assert_eq!(drop_repeated_suffix("x + y", "y"), "x + ");
        // Part of a word is not a repeat.
        assert_eq!(drop_repeated_suffix("a + b", "b + c"), "a + b");
        // The next line of the suffix regenerated.
        let c = "    total += x\n    return total\nprint(f())";
        assert_eq!(
            drop_repeated_suffix(c, "\n    return total\n"),
            "    total += x\n"
        );
        assert_eq!(drop_repeated_suffix("abc", ""), "abc");
    }

    #[test]
    fn shape_all() {
        assert_eq!(shape("a, b))\nfoo()", "x = f(", "))\n", None), "a, b");
        assert_eq!(
            shape(
                "urn x  \n\ndef g():\n    pass\n",
                "def f(x):\n    ret",
                "\n",
                None
            ),
            "urn x"
        );
        // Cursor at column 0 of a non-empty line: whole lines before it, ending with a line
        // break; a line that repeats the one after the cursor ends them.
        assert_eq!(
            shape("import os\nimport sys", "", "import re\n", None),
            "import os\nimport sys\n"
        );
        assert_eq!(
            shape(
                "    x = 1\n    y = 2\n    return x + y\n",
                "def f():\n",
                "    return x + y\n",
                None
            ),
            "    x = 1\n    y = 2\n"
        );
        assert_eq!(
            shape(
                "    return x + y\n",
                "def f():\n",
                "    return x + y\n",
                None
            ),
            ""
        );
        // Inserted lines may hold a nested block and more statements after it; they end at a
        // line less indented than the one they go before (here the next top-level function).
        assert_eq!(
            shape(
                "    for x in xs:\n        s += x\n    s *= 2\n\ndef g():\n    pass\n",
                "def f(xs):\n    s = 0\n",
                "    return s\n",
                None
            ),
            "    for x in xs:\n        s += x\n    s *= 2\n"
        );
        // Inside a loop body: lines that leave the loop are not part of what goes there.
        assert_eq!(
            shape(
                "        y = x * 2\n        t += y\n    return t\n",
                "def f(xs):\n    t = 0\n    for x in xs:\n",
                "        t += 1\n    return t\n",
                None
            ),
            "        y = x * 2\n        t += y\n"
        );
        // Lines that open the block the suffix's deeper line belongs to are kept.
        assert_eq!(
            shape(
                "    x = 1\n    y = 2\n    if x > y:\n",
                "def f():\n",
                "        return 1\n    return 2\n",
                None
            ),
            "    x = 1\n    y = 2\n    if x > y:\n"
        );
        // In the indentation, the line's own completion.
        assert_eq!(
            shape("y = 2\n    z", "def f():\n    ", "return y\n", None),
            "y = 2\n"
        );
        assert_eq!(shape("", "x", ")", None), "");
    }

    #[test]
    fn continuing() {
        assert_eq!(
            continue_suggestion("return total", "ret"),
            Some("urn total")
        );
        assert_eq!(continue_suggestion("return total", "rex"), None);
        assert_eq!(continue_suggestion("ab", "ab"), None);
    }
}

#[cfg(test)]
mod stable_tests {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just("a"),
                Just("b"),
                Just(" "),
                Just("    "),
                Just("\t"),
                Just("\n"),
                Just(")"),
                Just("}"),
                Just(":"),
                Just("{"),
                Just("else:"),
                Just("end"),
                Just("é"),
            ],
            0..24,
        )
        .prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Whatever comes after, the streamed text is where the final shaped text starts.
        #[test]
        fn stable_prefix_is_a_prefix_of_every_final(
            full in text(), prefix in text(), suffix in text(), cut in 0usize..200,
            forced in prop_oneof![Just(None), Just(Some(Scope::Line)), Just(Some(Scope::Block))],
        ) {
            let mut k = cut.min(full.len());
            while !full.is_char_boundary(k) {
                k -= 1;
            }
            let stable = stable_prefix(&full[..k], &prefix, &suffix, forced);
            let fin = shape(&full, &prefix, &suffix, forced);
            prop_assert!(fin.starts_with(&stable), "stable {stable:?} final {fin:?}");
        }
    }

    #[test]
    fn streams_complete_lines_and_holds_back_repeats() {
        // Block scope: complete lines only.
        let p = "def f(x):\n    ";
        assert_eq!(
            stable_prefix("y = x + 1\n    ret", p, "\n", None),
            "y = x + 1"
        );
        assert_eq!(stable_prefix("y = x ", p, "\n", None), "y = x");
        // Line scope: hold back as much as the rest of the line (`)` may be a repeat).
        assert_eq!(stable_prefix("a, b)", "f(", ")\n", None), "a, b");
        assert_eq!(stable_prefix("a, b  ", "f(", ")\n", None), "a,");
        assert_eq!(stable_prefix("a, b)\nx", "f(", ")\n", None), "a, b");
    }
}
