//! Putting issued values back into a reply as it streams. Text goes out at once except a tail
//! that may still become a placeholder (shorter than one placeholder); only placeholders
//! issued for this request are restored (their ids are keyed hashes: text cannot hit one by
//! chance), and by default not inside a URL or a markdown link or image target, where restoring would hand
//! the value to whatever host a prompt-injected instruction named.
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use zeroize::Zeroizing;

/// Where values are put back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestorePolicy {
    /// Restore inside URLs and link targets too (off by default).
    pub in_urls: bool,
}

/// How a restored value is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Escape {
    /// As is (text, code).
    #[default]
    None,
    /// As the inside of a JSON string (streamed tool-call arguments).
    Json,
}

/// The streaming restorer of one reply.
pub struct Restorer {
    values: Vec<(String, Zeroizing<String>)>,
    finder: Option<AhoCorasick>,
    policy: RestorePolicy,
    escape: Escape,
    pending: String,
    last: Option<char>,
    /// The run of emitted text since the last separator, as far as the URL test needs it.
    run_len: usize,
    run_head: String,
    run_tail: String,
    run_url: bool,
    restored: usize,
    skipped: usize,
}

impl std::fmt::Debug for Restorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer")
            .field("placeholders", &self.values.len())
            .field("held", &self.pending.len())
            .finish_non_exhaustive()
    }
}

/// Characters that end a run (the unit the URL test looks at).
fn separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ',' | ';' | '<' | '>')
}

impl Restorer {
    pub(crate) fn new(
        values: Vec<(String, Zeroizing<String>)>,
        policy: RestorePolicy,
        escape: Escape,
    ) -> Restorer {
        let finder = if values.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(values.iter().map(|(p, _)| p.as_str()))
                .ok()
        };
        Restorer {
            values,
            finder,
            policy,
            escape,
            pending: String::new(),
            last: None,
            run_len: 0,
            run_head: String::new(),
            run_tail: String::new(),
            run_url: false,
            restored: 0,
            skipped: 0,
        }
    }

    /// Feed reply text; returns what may be shown now.
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        self.drain(false)
    }

    /// At the end of the reply: everything still held.
    pub fn finish(&mut self) -> String {
        self.drain(true)
    }

    /// A whole text at once.
    pub fn restore_all(&mut self, text: &str) -> String {
        let mut out = self.push(text);
        out.push_str(&self.finish());
        out
    }

    /// Placeholders put back so far.
    pub fn restored(&self) -> usize {
        self.restored
    }

    /// Placeholders left as they are because of where they stood (a URL, a link target).
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Bytes held back now.
    pub fn held(&self) -> usize {
        self.pending.len()
    }

    fn emit(&mut self, out: &mut String, text: &str) {
        for c in text.chars() {
            if separator(c) {
                self.run_len = 0;
                self.run_head.clear();
                self.run_tail.clear();
                self.run_url = false;
            } else {
                self.run_len += 1;
                if self.run_head.len() < 8 {
                    self.run_head.push(c.to_ascii_lowercase());
                }
                self.run_tail.push(c);
                if self.run_tail.len() > 3 {
                    let cut = self.run_tail.len() - 3;
                    let cut = (cut..self.run_tail.len())
                        .find(|&i| self.run_tail.is_char_boundary(i))
                        .unwrap_or(self.run_tail.len());
                    self.run_tail.drain(..cut);
                }
                if self.run_tail.ends_with("://") || self.run_tail.ends_with("](") {
                    self.run_url = true;
                }
                if ["www.", "mailto:", "data:"]
                    .iter()
                    .any(|p| self.run_head.starts_with(p))
                {
                    self.run_url = true;
                }
            }
        }
        if let Some(c) = text.chars().next_back() {
            self.last = Some(c);
        }
        out.push_str(text);
    }

    fn drain(&mut self, end: bool) -> String {
        let mut out = String::new();
        let Some(finder) = self.finder.clone() else {
            let all = std::mem::take(&mut self.pending);
            self.emit(&mut out, &all);
            return out;
        };
        let pending = std::mem::take(&mut self.pending);
        let mut at = 0; // emitted up to
        for m in finder.find_iter(&pending) {
            self.put(&mut out, &pending, at, m.start(), m.pattern().as_usize());
            at = m.end();
        }
        let rest = &pending[at..];
        let hold = if end { 0 } else { self.partial_len(rest) };
        let cut = rest.len() - hold;
        self.emit(&mut out, &rest[..cut]);
        self.pending = rest[cut..].to_string();
        out
    }

    /// Emit `pending[at..s]`, then placeholder `i` restored (or kept, in a URL).
    fn put(&mut self, out: &mut String, pending: &str, at: usize, s: usize, i: usize) {
        self.emit(out, &pending[at..s]);
        let in_url = self.run_url;
        let (ph, value) = &self.values[i];
        if in_url && !self.policy.in_urls {
            let ph = ph.clone();
            self.skipped += 1;
            self.emit(out, &ph);
            return;
        }
        let text = match self.escape {
            Escape::None => value.to_string(),
            Escape::Json => {
                let j = serde_json::to_string(value.as_str()).unwrap_or_default();
                j.get(1..j.len().saturating_sub(1))
                    .unwrap_or_default()
                    .to_string()
            }
        };
        self.restored += 1;
        self.emit(out, &text);
    }

    /// The longest tail of `rest` that is a proper prefix of a placeholder.
    fn partial_len(&self, rest: &str) -> usize {
        self.values
            .iter()
            .map(|(p, _)| {
                (1..p.len().min(rest.len() + 1))
                    .rev()
                    .find(|&k| rest.ends_with(&p[..k]))
                    .unwrap_or(0)
            })
            .max()
            .unwrap_or(0)
    }
}
