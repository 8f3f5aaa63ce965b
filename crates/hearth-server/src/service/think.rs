//! Reasoning models write their thinking in a `<think>…</think>` block before the answer
//! (DeepSeek R1 distills, Qwen3, QwQ); templates of some open the block in the prompt so the
//! output starts inside it. [`ThinkSplit`] separates the thinking from the answer as text
//! streams in, holding back only what may still be part of a tag, so `<think>` text never
//! reaches an answer's content.

use crate::service::partial::partial_suffix;

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// A piece of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    /// Thinking text.
    Thinking(String),
    /// Answer text.
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start: a `<think>` may open (after whitespace, which stays in an answer
    /// without thinking).
    Start,
    /// Inside the thinking block.
    Inside,
    /// After the block (or there was none): whitespace right after `</think>` is dropped.
    AfterClose,
    /// Answer text.
    Answer,
}

/// Splits thinking from the answer.
#[derive(Debug, Clone)]
pub(crate) struct ThinkSplit {
    state: State,
    /// Text not yet classified (a possible tag prefix).
    held: String,
    /// Whether thinking is returned (else dropped: the client asked for no thinking from a
    /// model that cannot switch it off).
    show: bool,
    /// Thinking returned so far is only whitespace (leading whitespace is dropped).
    thinking_started: bool,
    /// The output had a thinking block (opened by the prompt or by the model).
    entered: bool,
}

impl ThinkSplit {
    /// A splitter for output that starts inside a thinking block when `inside` (the prompt
    /// opened it).
    pub(crate) fn new(inside: bool, show: bool) -> Self {
        ThinkSplit {
            state: if inside { State::Inside } else { State::Start },
            held: String::new(),
            show,
            thinking_started: false,
            entered: inside,
        }
    }

    /// Whether output still to come may be thinking: before the block could open, or inside
    /// it. Once the answer has begun, the raw text is not needed for [`Self::thinking_part`].
    pub(crate) fn may_think(&self) -> bool {
        matches!(self.state, State::Start | State::Inside)
    }

    /// The part of the raw `output` that was thinking: up to and including `</think>` (all of
    /// it while the block is still open); empty without a block. What `reasoning_tokens`
    /// counts.
    pub(crate) fn thinking_part<'a>(&self, output: &'a str) -> &'a str {
        if !self.entered {
            return "";
        }
        match output.find(CLOSE) {
            Some(i) => &output[..i + CLOSE.len()],
            None => output,
        }
    }

    /// Whether the rendered prompt ends by opening a thinking block (the generation prompt of
    /// R1 distills and of Qwen3 with thinking on).
    pub(crate) fn prompt_opens(prompt: &str) -> bool {
        prompt.trim_end().ends_with(OPEN)
    }

    fn thinking(&mut self, out: &mut Vec<Piece>, t: &str) {
        let t = if self.thinking_started {
            t
        } else {
            t.trim_start()
        };
        if t.is_empty() {
            return;
        }
        self.thinking_started = true;
        if self.show {
            match out.last_mut() {
                Some(Piece::Thinking(s)) => s.push_str(t),
                _ => out.push(Piece::Thinking(t.to_string())),
            }
        }
    }

    fn text(out: &mut Vec<Piece>, t: &str) {
        if t.is_empty() {
            return;
        }
        match out.last_mut() {
            Some(Piece::Text(s)) => s.push_str(t),
            _ => out.push(Piece::Text(t.to_string())),
        }
    }

    /// Feed text; returns what is final.
    pub(crate) fn push(&mut self, t: &str) -> Vec<Piece> {
        self.held.push_str(t);
        let mut out = Vec::new();
        loop {
            match self.state {
                State::Start => {
                    let rest = self.held.trim_start();
                    if rest.is_empty() {
                        // Only whitespace so far: it may still precede `<think>`.
                        return out;
                    }
                    if let Some(after) = rest.strip_prefix(OPEN) {
                        self.held = after.to_string();
                        self.state = State::Inside;
                        self.entered = true;
                    } else if OPEN.starts_with(rest) {
                        return out;
                    } else {
                        self.state = State::Answer;
                    }
                }
                State::Inside => match self.held.find(CLOSE) {
                    Some(i) => {
                        let thinking = self.held[..i].to_string();
                        self.thinking(&mut out, &thinking);
                        self.held = self.held[i + CLOSE.len()..].to_string();
                        self.state = State::AfterClose;
                    }
                    None => {
                        let keep = partial_suffix(&self.held, CLOSE);
                        let cut = self.held.len() - keep;
                        let thinking = self.held[..cut].to_string();
                        self.thinking(&mut out, &thinking);
                        self.held.drain(..cut);
                        return out;
                    }
                },
                State::AfterClose => {
                    let rest = self.held.trim_start();
                    if rest.is_empty() {
                        self.held.clear();
                        return out;
                    }
                    self.held = rest.to_string();
                    self.state = State::Answer;
                }
                State::Answer => {
                    let held = std::mem::take(&mut self.held);
                    Self::text(&mut out, &held);
                    return out;
                }
            }
        }
    }

    /// The end of the output: what was held back. An unclosed block is thinking (the answer
    /// was cut off while the model was thinking).
    pub(crate) fn finish(&mut self) -> Vec<Piece> {
        let held = std::mem::take(&mut self.held);
        let mut out = Vec::new();
        match self.state {
            State::Inside => self.thinking(&mut out, &held),
            State::Start | State::Answer => Self::text(&mut out, &held),
            State::AfterClose => {}
        }
        self.state = State::Answer;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thinking_part_is_the_block_with_its_tags() {
        let out = "<think>\nplan</think>\n\nAnswer";
        let mut split = ThinkSplit::new(false, true);
        assert!(split.may_think());
        split.push("<think>\npl");
        assert!(split.may_think());
        split.push("an</think>\n\nAnswer");
        assert!(!split.may_think(), "the answer has begun");
        assert_eq!(split.thinking_part(out), "<think>\nplan</think>");
        let opened = ThinkSplit::new(true, false);
        assert_eq!(opened.thinking_part("still thinking"), "still thinking");
        let mut plain = ThinkSplit::new(false, true);
        plain.push("Answer </think>");
        assert!(!plain.may_think());
        assert_eq!(plain.thinking_part("Answer </think>"), "");
    }

    /// Feed `output` split at `at` (each cut a byte offset on a char boundary) and join.
    fn run(output: &str, cuts: &[usize], inside: bool, show: bool) -> (String, String) {
        let mut s = ThinkSplit::new(inside, show);
        let mut pieces = Vec::new();
        let mut last = 0;
        for &c in cuts.iter().chain(std::iter::once(&output.len())) {
            pieces.extend(s.push(&output[last..c]));
            last = c;
        }
        pieces.extend(s.finish());
        let (mut think, mut text) = (String::new(), String::new());
        for p in pieces {
            match p {
                Piece::Thinking(t) => think.push_str(&t),
                Piece::Text(t) => text.push_str(&t),
            }
        }
        (think, text)
    }

    fn every_split(output: &str, inside: bool, show: bool, want: (&str, &str)) {
        let bounds: Vec<usize> = (1..output.len())
            .filter(|&i| output.is_char_boundary(i))
            .collect();
        assert_eq!(
            run(output, &[], inside, show),
            (want.0.into(), want.1.into())
        );
        for &i in &bounds {
            assert_eq!(
                run(output, &[i], inside, show),
                (want.0.into(), want.1.into()),
                "split at {i}"
            );
        }
        // Byte by byte (char by char).
        assert_eq!(
            run(output, &bounds, inside, show),
            (want.0.into(), want.1.into())
        );
    }

    #[test]
    fn leading_block_is_thinking_at_every_split() {
        every_split(
            "<think>\nLet me add: 2+2=4 (a < b).\n</think>\n\nThe answer is 4.",
            false,
            true,
            ("Let me add: 2+2=4 (a < b).\n", "The answer is 4."),
        );
    }

    #[test]
    fn prompt_opened_block() {
        every_split(
            "The user wants ✓ sums.\n</think>\n\n4",
            true,
            true,
            ("The user wants ✓ sums.\n", "4"),
        );
    }

    #[test]
    fn hidden_thinking_is_dropped() {
        every_split("<think>secret</think>answer", false, false, ("", "answer"));
    }

    #[test]
    fn no_block_passes_through() {
        every_split(
            "  <thin air> is text",
            false,
            true,
            ("", "  <thin air> is text"),
        );
        every_split(
            "x <think>not at start</think>",
            false,
            true,
            ("", "x <think>not at start</think>"),
        );
    }

    #[test]
    fn cut_off_while_thinking() {
        every_split(
            "<think>still going </thi",
            false,
            true,
            ("still going </thi", ""),
        );
    }

    #[test]
    fn prompt_opens_detection() {
        assert!(ThinkSplit::prompt_opens("<|Assistant|><think>\n"));
        assert!(!ThinkSplit::prompt_opens("<|im_start|>assistant\n"));
        assert!(!ThinkSplit::prompt_opens(
            "<|im_start|>assistant\n<think>\n\n</think>\n\n"
        ));
    }
}
