//! What a streaming filter must hold back: the end of the text that may still grow into a tag
//! (`<think>`, `</think>`, `<tool_call>`, `[TOOL_CALLS]`, ...).

/// Length of the longest suffix of `s` that is a proper prefix of `tag` (0: none), on a char
/// boundary of `s`.
pub(crate) fn partial_suffix(s: &str, tag: &str) -> usize {
    (1..tag.len().min(s.len() + 1))
        .rev()
        .find(|&n| s.is_char_boundary(s.len() - n) && tag.starts_with(&s[s.len() - n..]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::partial_suffix;

    #[test]
    fn longest_proper_prefix_at_the_end() {
        assert_eq!(partial_suffix("abc </thi", "</think>"), 5);
        assert_eq!(partial_suffix("abc <", "</think>"), 1);
        assert_eq!(partial_suffix("abc", "</think>"), 0);
        // The whole tag is not a partial one.
        assert_eq!(partial_suffix("x</think>", "</think>"), 0);
        // Multi-byte tags and text: only char boundaries.
        assert_eq!(
            partial_suffix("é<｜tool", "<｜tool▁calls▁begin｜>"),
            "<｜tool".len()
        );
        assert_eq!(partial_suffix("é", "<｜tool"), 0);
    }
}
