//! Detection: the keyword prefilter, the rules' regexes, known values, internal hostnames and
//! the deny list, merged into non-overlapping spans (the longest wins).
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::{Regex, RegexBuilder};

use crate::known::KnownValue;
use crate::rules::{Check, Rule, BUILTIN};
use crate::RedactError;

/// A rule with its compiled regex.
#[derive(Debug)]
struct Compiled {
    rule: Rule,
    regex: Regex,
}

/// Where a found secret came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `BUILTIN[i]`.
    Rule(usize),
    /// A known value (`known[i]`).
    Known(usize),
    /// An internal hostname.
    Host,
    /// The user's deny list.
    Denied,
}

/// A secret's span in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) source: Source,
}

/// The compiled detectors; built once, shared by every request.
#[derive(Debug)]
pub(crate) struct Detectors {
    rules: Vec<Compiled>,
    /// Keyword automaton (ASCII case-insensitive) and, per pattern, the rules it enables.
    keywords: AhoCorasick,
    keyword_rules: Vec<Vec<usize>>,
    /// Known values and deny-list strings (exact, case-sensitive), pattern i → `exact_src[i]`.
    exact: Option<AhoCorasick>,
    exact_src: Vec<Source>,
    hosts: Option<Regex>,
    pub(crate) deadline: Duration,
}

/// `\b` as an ASCII word boundary: a Unicode one makes the lazy DFA give up on non-ASCII text.
fn ascii_boundaries(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

fn compile(pattern: &str, what: &str) -> Result<Regex, RedactError> {
    RegexBuilder::new(&ascii_boundaries(pattern))
        .size_limit(64 << 20)
        .build()
        .map_err(|e| RedactError::Pattern {
            what: what.to_string(),
            message: e.to_string(),
        })
}

impl Detectors {
    pub(crate) fn new(
        known: &[KnownValue],
        deny: &[String],
        internal_domains: &[String],
        deadline: Duration,
    ) -> Result<Self, RedactError> {
        let rules = BUILTIN
            .iter()
            .map(|r| {
                Ok(Compiled {
                    rule: *r,
                    regex: compile(r.pattern, r.id)?,
                })
            })
            .collect::<Result<Vec<_>, RedactError>>()?;
        let mut words: Vec<&str> = Vec::new();
        let mut keyword_rules: Vec<Vec<usize>> = Vec::new();
        for (i, r) in BUILTIN.iter().enumerate() {
            for k in r.keywords {
                match words.iter().position(|w| w == k) {
                    Some(j) => keyword_rules[j].push(i),
                    None => {
                        words.push(k);
                        keyword_rules.push(vec![i]);
                    }
                }
            }
        }
        let keywords = AhoCorasickBuilder::new()
            .ascii_case_insensitive(true)
            .build(&words)
            .map_err(|e| RedactError::Pattern {
                what: "keywords".into(),
                message: e.to_string(),
            })?;
        let mut exact_pats: Vec<&str> = Vec::new();
        let mut exact_src = Vec::new();
        for (i, k) in known.iter().enumerate() {
            for form in &k.forms {
                exact_pats.push(form);
                exact_src.push(Source::Known(i));
            }
        }
        for d in deny.iter().filter(|d| !d.is_empty()) {
            exact_pats.push(d);
            exact_src.push(Source::Denied);
        }
        let exact = if exact_pats.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&exact_pats)
                    .map_err(|e| RedactError::Pattern {
                        what: "known values".into(),
                        message: e.to_string(),
                    })?,
            )
        };
        let hosts = host_regex(internal_domains)?;
        Ok(Detectors {
            rules,
            keywords,
            keyword_rules,
            exact,
            exact_src,
            hosts,
            deadline,
        })
    }

    /// Every secret span in `text`, non-overlapping, in order. `started` is when the request's
    /// scan began: past the deadline the scan stops with an error.
    pub(crate) fn find(&self, text: &str, started: Instant) -> Result<Vec<Span>, RedactError> {
        let mut found: Vec<Span> = Vec::new();
        if let Some(exact) = &self.exact {
            for m in exact.find_iter(text) {
                found.push(Span {
                    start: m.start(),
                    end: m.end(),
                    source: self.exact_src[m.pattern().as_usize()].clone(),
                });
            }
        }
        if let Some(hosts) = &self.hosts {
            for m in hosts.captures_iter(text).filter_map(|c| c.get(1)) {
                found.push(Span {
                    start: m.start(),
                    end: m.end(),
                    source: Source::Host,
                });
            }
        }
        let mut active = vec![false; self.rules.len()];
        for m in self.keywords.find_overlapping_iter(text) {
            for &r in &self.keyword_rules[m.pattern().as_usize()] {
                active[r] = true;
            }
        }
        for (i, c) in self.rules.iter().enumerate() {
            if !active[i] {
                continue;
            }
            if started.elapsed() > self.deadline {
                return Err(RedactError::Deadline(self.deadline));
            }
            for caps in c.regex.captures_iter(text) {
                let Some(m) = (1..caps.len())
                    .find_map(|g| caps.get(g))
                    .or_else(|| caps.get(0))
                else {
                    continue;
                };
                if accepts(&c.rule, m.as_str()) {
                    found.push(Span {
                        start: m.start(),
                        end: m.end(),
                        source: Source::Rule(i),
                    });
                }
            }
        }
        if started.elapsed() > self.deadline {
            return Err(RedactError::Deadline(self.deadline));
        }
        Ok(merge(found))
    }
}

/// Longest first (ties: known values, then rules in their order), then keep what does not
/// overlap a span already kept.
fn merge(mut found: Vec<Span>) -> Vec<Span> {
    let rank = |s: &Source| match s {
        Source::Known(_) => 0,
        Source::Denied => 1,
        Source::Host => 2,
        Source::Rule(i) => 3 + i,
    };
    found.sort_by(|a, b| {
        (b.end - b.start)
            .cmp(&(a.end - a.start))
            .then(rank(&a.source).cmp(&rank(&b.source)))
            .then(a.start.cmp(&b.start))
    });
    // Kept spans by start, for the overlap test.
    let mut kept: BTreeMap<usize, Span> = BTreeMap::new();
    for s in found {
        let before = kept.range(..s.end).next_back();
        if before.is_some_and(|(_, k)| k.end > s.start) {
            continue;
        }
        kept.insert(s.start, s);
    }
    kept.into_values().collect()
}

/// A regex for host names under the configured internal suffixes; the host is group 1 (the
/// match also takes the byte after it: `regex` has no look-ahead).
fn host_regex(domains: &[String]) -> Result<Option<Regex>, RedactError> {
    let label = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
    // A suffix with a dot is a host itself; a one-label suffix (`.internal`) needs a name in
    // front of it, or every use of the word would match.
    let suffixes: Vec<String> = domains
        .iter()
        .map(|d| d.trim().trim_start_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .map(|d| {
            let q = if d.contains('.') { '*' } else { '+' };
            format!(r"(?:{label}\.){q}{}", regex::escape(&d))
        })
        .collect();
    if suffixes.is_empty() {
        return Ok(None);
    }
    // Not followed by more name (`corp.example.com.evil.org`, `-x`); a sentence's full stop is
    // fine.
    let pattern = format!(
        r"(?i)(?-u:\b)((?:{}))(?:\.?(?:[^.\-_A-Za-z0-9]|$))",
        suffixes.join("|")
    );
    compile(&pattern, "internal domains").map(Some)
}

/// Whether a candidate `value` of `rule` is a secret.
pub(crate) fn accepts(rule: &Rule, value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if rule.stopwords.iter().any(|w| lower.contains(w)) {
        return false;
    }
    if crate::placeholder::is_placeholder(value) {
        return false;
    }
    if rule.min_entropy > 0.0 && entropy(value) < rule.min_entropy {
        return false;
    }
    match rule.check {
        Check::None => true,
        Check::Generic => {
            !stand_in(value)
                && value.bytes().any(|b| b.is_ascii_digit())
                && value.bytes().any(|b| b.is_ascii_alphabetic())
                && !value.starts_with("./")
                && !value.starts_with('/')
                && !value.contains("://")
                && !identifier_like(value)
        }
        Check::Assigned => !stand_in(value) && !numeric_literal(value),
    }
}

/// A name from code (`sse2_token`, `TokenStream2`, `XXH3_hashLong_64b`, `a::b`), not a secret.
fn identifier_like(v: &str) -> bool {
    if v.contains("::") || v.contains("()") {
        return true;
    }
    // A word: letters only, or a short single-case run of letters and digits.
    let wordy = |p: &str| {
        !p.is_empty()
            && (p.bytes().all(|b| b.is_ascii_alphabetic())
                || (p.len() <= 8
                    && (p
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
                        || p.bytes()
                            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))))
    };
    // A reference, dereference or negation of a name is still a name (`&self.colon2_token`).
    let v = v
        .trim_start_matches(['&', '*', '!'])
        .trim_matches(|c: char| c == '_' || c == '.' || c == ',' || c == ';');
    if v.contains('_') || v.contains('.') {
        return v.split(['_', '.']).all(wordy);
    }
    // CamelCase: each capital starts a word of at least three letters (`Kq2Lm7` is not).
    let mut words = 0;
    let mut rest = v;
    while !rest.is_empty() {
        let first = rest.len()
            - rest[1..]
                .trim_start_matches(|c: char| !c.is_ascii_uppercase())
                .len();
        let (w, r) = rest.split_at(first);
        let letters = w.bytes().take_while(|b| b.is_ascii_alphabetic()).count();
        if letters < 3 || !w[letters..].bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        words += 1;
        rest = r;
    }
    words >= 2
}

/// A number as code writes it (`0x00000004,`, `1024`), not a secret.
fn numeric_literal(v: &str) -> bool {
    let v = v.trim_end_matches([',', ';', ')']);
    let v = v.trim_end_matches(['u', 'U', 'l', 'L']);
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .map(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or(false);
    digits || (!v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
}

/// A reference to a secret or an obvious stand-in for one, not a secret.
fn stand_in(value: &str) -> bool {
    let v = value.trim_matches(|c| c == '"' || c == '\'');
    let lower = v.to_ascii_lowercase();
    const WORDS: &[&str] = &[
        "changeme",
        "change_me",
        "change-me",
        "password",
        "secret",
        "example",
        "placeholder",
        "your_",
        "your-",
        "redacted",
        "dummy",
        "null",
        "none",
        "undefined",
        "true",
        "false",
    ];
    v.starts_with('$')
        || v.starts_with('<')
        || v.starts_with('{')
        || v.starts_with('%')
        || v.bytes()
            .all(|b| b == b'*' || b == b'x' || b == b'X' || b == b'.')
        || WORDS.iter().any(|w| lower == *w || lower.starts_with(w))
        || lower.contains("xxxx")
        || lower.contains("example")
        || lower.contains("****")
}

/// Shannon entropy in bits per byte.
pub(crate) fn entropy(s: &str) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(entropy(""), 0.0);
        assert_eq!(entropy("aaaa"), 0.0);
        assert!((entropy("abcd") - 2.0).abs() < 1e-9);
    }

    #[test]
    fn code_names_and_numbers_are_not_secrets() {
        for v in [
            "sse2_token",
            "TokenStream2",
            "XXH3_hashLong_64b_internal",
            "avx2::InitToken",
            "getApiKey",
        ] {
            assert!(identifier_like(v), "{v}");
        }
        for v in [
            "x9Kq2Lm7Zr4Tv8Wn3Bc6",
            "prod_8f3a9c2e1b7d",
            "a81bc3f40e9d2c75b6",
            "Pq7Zx2Lm9Kt4Wv",
        ] {
            assert!(!identifier_like(v), "{v}");
        }
        assert!(
            numeric_literal("0x00000004,")
                && numeric_literal("1024")
                && !numeric_literal("0xdeadbeefg")
        );
    }

    #[test]
    fn merge_keeps_the_longest_and_drops_overlaps() {
        let s = |start, end, r| Span {
            start,
            end,
            source: Source::Rule(r),
        };
        let kept = merge(vec![s(0, 5, 1), s(3, 12, 2), s(12, 14, 0), s(4, 6, 0)]);
        assert_eq!(kept, vec![s(3, 12, 2), s(12, 14, 0)]);
    }
}
