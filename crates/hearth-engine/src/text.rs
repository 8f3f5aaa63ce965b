//! Streaming text helpers: UTF-8 reassembly across token boundaries and stop-string matching
//! with hold-back. Pure Rust, no llama.cpp.

/// Turns a stream of token byte pieces into complete UTF-8 text.
///
/// A token may end in the middle of a multi-byte character (byte-level BPE does this for
/// emoji and CJK); the incomplete tail is kept until the next piece completes it. Bytes that
/// can never become valid UTF-8 are replaced by U+FFFD, so output is always valid text.
#[derive(Debug, Default, Clone)]
pub struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// New decoder with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add bytes and return the text that is now complete.
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    // `valid` bytes are valid UTF-8 by the contract of `Utf8Error`.
                    out.push_str(&String::from_utf8_lossy(&self.pending[..valid]));
                    match e.error_len() {
                        // Incomplete sequence at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                        // Invalid bytes: replace them and go on.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
    }

    /// End of stream: whatever is still pending comes out (lossily).
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}

/// Outcome of feeding text to a [`StopMatcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopScan {
    /// Text that is safe to emit now (cannot be part of a stop string).
    pub emit: String,
    /// A stop string matched; `emit` holds the text before it and generation should end.
    pub stopped: bool,
}

/// Matches stop strings across token boundaries.
///
/// Text that could still turn out to be the beginning of a stop string is held back until it
/// is disambiguated; the stop string itself is never emitted.
#[derive(Debug, Clone, Default)]
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    /// Matcher for the given stop strings (empty strings are ignored).
    pub fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    /// Feed newly decoded text.
    pub fn push(&mut self, text: &str) -> StopScan {
        if self.stops.is_empty() {
            return StopScan {
                emit: text.to_owned(),
                stopped: false,
            };
        }
        self.held.push_str(text);
        // Earliest complete match wins.
        let first = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min();
        if let Some(pos) = first {
            let emit = self.held[..pos].to_owned();
            self.held.clear();
            return StopScan {
                emit,
                stopped: true,
            };
        }
        // Hold back the longest suffix of `held` that is a proper prefix of some stop string.
        let keep = self.partial_suffix_len();
        let cut = self.held.len() - keep;
        let emit = self.held[..cut].to_owned();
        self.held.drain(..cut);
        StopScan {
            emit,
            stopped: false,
        }
    }

    /// End of generation without a match: release what was held back.
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    fn partial_suffix_len(&self) -> usize {
        let mut best = 0;
        for stop in &self.stops {
            // Candidate suffix lengths, longest first, on char boundaries of `held`.
            let max = stop.len().saturating_sub(1).min(self.held.len());
            for len in (1..=max).rev() {
                let start = self.held.len() - len;
                if !self.held.is_char_boundary(start) {
                    continue;
                }
                if stop.as_bytes().starts_with(&self.held.as_bytes()[start..]) {
                    best = best.max(len);
                    break;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_pieces() {
        let rocket = "🚀".as_bytes();
        let mut d = Utf8Stream::new();
        assert_eq!(d.push(&rocket[..1]), "");
        assert_eq!(d.push(&rocket[1..3]), "");
        assert_eq!(d.push(&[rocket[3], b'a']), "🚀a");
        assert_eq!(d.finish(), "");
    }

    #[test]
    fn utf8_invalid_bytes_replaced_and_tail_flushed() {
        let mut d = Utf8Stream::new();
        assert_eq!(d.push(&[b'x', 0xff, b'y']), "x\u{fffd}y");
        assert_eq!(d.push(&[0xe6, 0x97]), "");
        assert_eq!(d.finish(), "\u{fffd}");
    }

    #[test]
    fn every_split_of_mixed_text_reassembles() {
        let text = "naïve café — 日本語 🚀 ok";
        let bytes = text.as_bytes();
        for cut in 0..=bytes.len() {
            let mut d = Utf8Stream::new();
            let mut out = d.push(&bytes[..cut]);
            out.push_str(&d.push(&bytes[cut..]));
            out.push_str(&d.finish());
            assert_eq!(out, text, "cut at {cut}");
        }
    }

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            let scan = m.push(p);
            out.push_str(&scan.emit);
            if scan.stopped {
                return (out, true);
            }
        }
        out.push_str(&m.finish());
        (out, false)
    }

    #[test]
    fn stop_across_boundaries() {
        assert_eq!(
            run(&["</end>"], &["abc<", "/e", "nd>tail"]),
            ("abc".into(), true)
        );
        assert_eq!(run(&["\n\n"], &["a\n", "\nb"]), ("a".into(), true));
    }

    #[test]
    fn false_prefix_is_released() {
        assert_eq!(run(&["</end>"], &["a</", "x"]), ("a</x".into(), false));
        assert_eq!(run(&["STOP"], &["ST"]), ("ST".into(), false));
    }

    #[test]
    fn held_text_is_not_emitted_early() {
        let stops = vec!["###".to_string()];
        let mut m = StopMatcher::new(&stops);
        assert_eq!(m.push("x#").emit, "x");
        assert_eq!(m.push("#").emit, "");
        let s = m.push("#y");
        assert!(s.stopped);
        assert_eq!(s.emit, "");
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        assert_eq!(run(&["b", "a"], &["xab"]), ("x".into(), true));
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
    }

    #[test]
    fn multibyte_hold_back_on_char_boundary() {
        assert_eq!(run(&["日本"], &["x日", "本y"]), ("x".into(), true));
        assert_eq!(run(&["日本"], &["x日", "y"]), ("x日y".into(), false));
    }
}
