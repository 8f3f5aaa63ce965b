//! Source rewrites that make minijinja parse a template the way Jinja2 (as transformers
//! configures it) does:
//!
//! - newlines: Jinja2 turns `\r\n` and `\r` in the template into `\n`;
//! - string-literal escapes: Jinja2 decodes string literals with Python's `unicode-escape`
//!   (`\` + newline is removed, `\a`, `\v`, `\U0001F600` are characters, `\/` stays `\/`),
//!   minijinja with JSON-like rules; literals are rewritten into minijinja's dialect;
//! - `{% generation %}…{% endgeneration %}` (transformers' assistant-mask extension, which
//!   renders its body unchanged) becomes `{% if true %}…{% endif %}` with the same whitespace
//!   control.

use std::borrow::Cow;

/// All rewrites, in order.
pub(crate) fn normalize_source(source: &str) -> String {
    let s: Cow<'_, str> = if source.contains('\r') {
        Cow::Owned(source.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(source)
    };
    let s = if s.contains('\\') {
        Cow::Owned(rewrite_string_escapes(&s))
    } else {
        s
    };
    neutralize_generation_tags(&s)
}

/// Rewrites the escapes of string literals inside `{{ }}` and `{% %}` (not in text, comments or
/// `{% raw %}` blocks) from Python's rules to minijinja's.
fn rewrite_string_escapes(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut rest = src;
    loop {
        // Text up to the next tag.
        let Some(pos) = rest.find('{') else {
            out.push_str(rest);
            return out;
        };
        let (text, tail) = rest.split_at(pos);
        out.push_str(text);
        rest = tail;
        if rest.starts_with("{#") {
            let end = rest.find("#}").map_or(rest.len(), |e| e + 2);
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let close = if rest.starts_with("{{") {
            "}}"
        } else if rest.starts_with("{%") {
            if tag_word(&rest[2..]) == "raw" {
                let end = find_endraw(rest).unwrap_or(rest.len());
                out.push_str(&rest[..end]);
                rest = &rest[end..];
                continue;
            }
            "%}"
        } else {
            out.push('{');
            rest = &rest[1..];
            continue;
        };
        out.push_str(&rest[..2]);
        rest = &rest[2..];
        // Inside a tag: copy up to the closing delimiter, rewriting string literals.
        loop {
            let Some(i) = rest.find(['\'', '"', '}', '%']) else {
                out.push_str(rest);
                return out;
            };
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            if rest.starts_with(close) {
                out.push_str(close);
                rest = &rest[2..];
                break;
            }
            let c = rest.as_bytes()[0];
            if c == b'\'' || c == b'"' {
                let quote = c as char;
                let body_len = literal_len(&rest[1..], quote);
                out.push(quote);
                rewrite_literal(&rest[1..1 + body_len], quote, &mut out);
                rest = &rest[1 + body_len..];
                if let Some(r) = rest.strip_prefix(quote) {
                    out.push(quote);
                    rest = r;
                }
            } else {
                out.push(c as char);
                rest = &rest[1..];
            }
        }
    }
}

/// The first word after a block opener (`{%`), skipping whitespace control and spaces.
fn tag_word(s: &str) -> &str {
    let s = s.trim_start_matches(['-', '+']).trim_start();
    let end = s
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(s.len());
    &s[..end]
}

/// End (exclusive) of the `{% endraw %}` tag that closes the raw block starting at `s`.
fn find_endraw(s: &str) -> Option<usize> {
    let mut from = 2;
    while let Some(i) = s[from..].find("{%") {
        let at = from + i;
        if tag_word(&s[at + 2..]) == "endraw" {
            return s[at..].find("%}").map(|e| at + e + 2);
        }
        from = at + 2;
    }
    None
}

/// Length of a string literal's body up to (not including) its closing quote.
fn literal_len(s: &str, quote: char) -> usize {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return i;
        }
    }
    s.len()
}

fn push_escaped_char(c: char, quote: char, out: &mut String) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push(c),
    }
}

fn rewrite_literal(body: &str, quote: char, out: &mut String) {
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(d) = chars.next() else {
            out.push('\\');
            break;
        };
        match d {
            '\n' => {}
            'a' => out.push_str("\\u0007"),
            'v' => out.push_str("\\u000b"),
            '/' => out.push_str("\\\\/"),
            'U' => {
                let hex: String = chars.clone().take(8).collect();
                match u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| hex.len() == 8)
                    .and_then(char::from_u32)
                {
                    Some(ch) => {
                        for _ in 0..8 {
                            chars.next();
                        }
                        push_escaped_char(ch, quote, out);
                    }
                    None => out.push_str("\\\\U"),
                }
            }
            'N' => out.push_str("\\\\N"),
            other => {
                out.push('\\');
                out.push(other);
            }
        }
    }
}

/// Rewrites `{% generation %}` / `{% endgeneration %}` to `{% if true %}` / `{% endif %}`,
/// keeping whitespace control.
pub(crate) fn neutralize_generation_tags(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(pos) = rest.find("{%") {
        out.push_str(&rest[..pos]);
        let tag = &rest[pos..];
        let after_open = &tag[2..];
        let (ctl_open, body) = match after_open.chars().next() {
            Some(c @ ('-' | '+')) => (Some(c), &after_open[1..]),
            _ => (None, after_open),
        };
        let trimmed = body.trim_start();
        let word_len = trimmed
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(trimmed.len());
        let word = &trimmed[..word_len];
        let after_word = trimmed[word_len..].trim_start();
        let (ctl_close, close_rest) = match after_word.chars().next() {
            Some(c @ ('-' | '+')) if after_word[1..].starts_with("%}") => {
                (Some(c), &after_word[1..])
            }
            _ => (None, after_word),
        };
        if (word == "generation" || word == "endgeneration") && close_rest.starts_with("%}") {
            out.push_str("{%");
            if let Some(c) = ctl_open {
                out.push(c);
            }
            out.push_str(if word == "generation" {
                " if true "
            } else {
                " endif "
            });
            if let Some(c) = ctl_close {
                out.push(c);
            }
            out.push_str("%}");
            rest = &close_rest[2..];
        } else {
            out.push_str("{%");
            rest = &tag[2..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_tags() {
        assert_eq!(
            neutralize_generation_tags("{% generation %}x{%endgeneration%}"),
            "{% if true %}x{% endif %}"
        );
        assert_eq!(
            neutralize_generation_tags("{%- generation -%}"),
            "{%- if true -%}"
        );
        assert_eq!(
            neutralize_generation_tags("{% if a %}{%- gen -%}"),
            "{% if a %}{%- gen -%}"
        );
    }

    #[test]
    fn escapes_in_literals_only() {
        let src = "a\\\nb {{ 'x\\\ny' ~ \"q\\\"\\a\\v\\/\" }} {# '\\\n' #} {% set s = '\\U0001F600\\U00000027' %}";
        assert_eq!(
            rewrite_string_escapes(src),
            "a\\\nb {{ 'xy' ~ \"q\\\"\\u0007\\u000b\\\\/\" }} {# '\\\n' #} {% set s = '😀\\'' %}"
        );
    }

    #[test]
    fn raw_blocks_and_braces_in_literals() {
        let src = "{% raw %}{{ '\\\n' }}{% endraw %}{{ '}}\\\n' }}{ x";
        assert_eq!(
            rewrite_string_escapes(src),
            "{% raw %}{{ '\\\n' }}{% endraw %}{{ '}}' }}{ x"
        );
    }

    #[test]
    fn newlines() {
        assert_eq!(normalize_source("a\r\nb\rc"), "a\nb\nc");
    }
}
