//! Fill-in-the-middle prompt formats, detected from the model's vocabulary.
//!
//! | family | prompt (PSM order) |
//! |---|---|
//! | Qwen2.5-Coder | `<\|fim_prefix\|>P<\|fim_suffix\|>S<\|fim_middle\|>` (+ `<\|repo_name\|>`, `<\|file_sep\|>`) |
//! | StarCoder | `<fim_prefix>P<fim_suffix>S<fim_middle>` (+ `<repo_name>`, `<file_sep>`) |
//! | CodeLlama | `<PRE> P <SUF>S <MID>` (vocab spelling, `▁<PRE>` in GGUF SentencePiece vocabularies) |
//! | DeepSeek-Coder | `<｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>` |
//! | Codestral | `[SUFFIX]S[PREFIX]P` (suffix first: the prefix is the end of the prompt) |
//!
//! Layout of the line being typed (see `shared/notes/fim-layout.md`): with [`FimLayout::Middle`]
//! the prefix up to the start of the current line and the suffix stay fixed while the user
//! types on that line, and the typed part goes after the middle token, so each keystroke only
//! appends tokens to a cached prompt. [`FimLayout::Psm`] is the classic layout that llama.cpp's
//! `/infill` and Continue use. In both, [`FimPrompt::healable`] is the typed text whose last
//! tokens the engine may drop and regenerate under a constraint (token healing).

use hearth_gguf::Metadata;

/// The FIM dialect a model was trained with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FimFamily {
    Qwen,
    StarCoder,
    CodeLlama,
    DeepSeek,
    Codestral,
}

impl FimFamily {
    pub fn name(self) -> &'static str {
        match self {
            FimFamily::Qwen => "qwen",
            FimFamily::StarCoder => "starcoder",
            FimFamily::CodeLlama => "codellama",
            FimFamily::DeepSeek => "deepseek",
            FimFamily::Codestral => "codestral",
        }
    }
}

/// Where the text typed on the cursor's line goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FimLayout {
    /// At the end of the prefix (`<pre>before typed<suf>after<mid>`).
    Psm,
    /// After the middle token (`<pre>before<suf>after<mid>typed`): cheaper per keystroke and,
    /// with token healing, better measured quality. Same as `Psm` when nothing is typed.
    #[default]
    Middle,
}

/// What an editor sends for one completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FimInput {
    /// Text before the cursor.
    pub prefix: String,
    /// Text after the cursor.
    pub suffix: String,
    /// Other files for repository-level context: `(path, text)`.
    pub extra_files: Vec<(String, String)>,
    pub repo_name: Option<String>,
    /// Path of the file being edited (used with repository context).
    pub file_path: Option<String>,
}

/// A FIM prompt as text in three consecutive parts: `before` + `healable` + `after`.
/// Tokenize it with special-token parsing on (the FIM markers are special tokens) but tokenize
/// `healable` separately when healing, so its last tokens can be dropped and regenerated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FimPrompt {
    pub before: String,
    /// The part of the current line the user has typed; may be empty.
    pub healable: String,
    pub after: String,
}

impl FimPrompt {
    /// The whole prompt text.
    pub fn text(&self) -> String {
        let mut s =
            String::with_capacity(self.before.len() + self.healable.len() + self.after.len());
        s.push_str(&self.before);
        s.push_str(&self.healable);
        s.push_str(&self.after);
        s
    }

    /// Whether the healable text ends the prompt (generation continues right after it).
    pub fn healable_at_end(&self) -> bool {
        self.after.is_empty()
    }
}

/// A detected FIM format with the exact token spellings found in the vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FimFormat {
    pub family: FimFamily,
    pub prefix_token: String,
    pub suffix_token: String,
    /// Empty for Codestral (generation follows the prefix directly).
    pub middle_token: String,
    pub repo_token: Option<String>,
    pub file_sep_token: Option<String>,
    stops: Vec<String>,
}

/// (family, prefix, suffix, middle) spellings, most specific first.
const MARKERS: &[(FimFamily, &str, &str, &str)] = &[
    (
        FimFamily::Qwen,
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
    ),
    (
        FimFamily::StarCoder,
        "<fim_prefix>",
        "<fim_suffix>",
        "<fim_middle>",
    ),
    (
        FimFamily::StarCoder,
        "<fim-prefix>",
        "<fim-suffix>",
        "<fim-middle>",
    ),
    (
        FimFamily::DeepSeek,
        "<｜fim▁begin｜>",
        "<｜fim▁hole｜>",
        "<｜fim▁end｜>",
    ),
    (FimFamily::CodeLlama, "▁<PRE>", "▁<SUF>", "▁<MID>"),
    (FimFamily::CodeLlama, "<PRE>", "<SUF>", "<MID>"),
    (FimFamily::Codestral, "[PREFIX]", "[SUFFIX]", ""),
];

/// Tokens that end a FIM completion, per family (kept only when in the vocabulary).
fn stop_candidates(family: FimFamily) -> &'static [&'static str] {
    match family {
        FimFamily::Qwen => &[
            "<|endoftext|>",
            "<|fim_prefix|>",
            "<|fim_suffix|>",
            "<|fim_middle|>",
            "<|fim_pad|>",
            "<|repo_name|>",
            "<|file_sep|>",
            "<|im_start|>",
            "<|im_end|>",
        ],
        FimFamily::StarCoder => &[
            "<|endoftext|>",
            "<fim_prefix>",
            "<fim_suffix>",
            "<fim_middle>",
            "<fim_pad>",
            "<fim-prefix>",
            "<fim-suffix>",
            "<fim-middle>",
            "<fim-pad>",
            "<repo_name>",
            "<reponame>",
            "<file_sep>",
            "<filename>",
        ],
        FimFamily::CodeLlama => &[
            "▁<EOT>", "<EOT>", "▁<PRE>", "▁<SUF>", "▁<MID>", "<PRE>", "<SUF>", "<MID>", "</s>",
        ],
        FimFamily::DeepSeek => &[
            "<｜fim▁begin｜>",
            "<｜fim▁hole｜>",
            "<｜fim▁end｜>",
            "<|EOT|>",
            "<｜end▁of▁sentence｜>",
        ],
        FimFamily::Codestral => &["[PREFIX]", "[SUFFIX]", "[MIDDLE]", "</s>"],
    }
}

/// Whether a client-built prompt already contains FIM markers (a prefix and a suffix marker of
/// one family); such prompts are used as sent.
pub fn is_raw_fim(prompt: &str) -> bool {
    MARKERS.iter().any(|(_, p, s, _)| {
        let (p, s) = (p.trim_start_matches('▁'), s.trim_start_matches('▁'));
        prompt.contains(p) && prompt.contains(s)
    })
}

/// Snippet separator for families without a file-separator token (as llama.cpp's `/infill`).
const SNIPPET_SEPARATOR: &str = "\n\n--- snippet ---\n\n";

impl FimFormat {
    /// The FIM format a vocabulary supports, or `None` (no FIM: answer suffix requests with 400).
    pub fn detect(md: &Metadata) -> Option<FimFormat> {
        FimFormat::detect_tokens(md.tokens()?)
    }

    /// [`FimFormat::detect`] on a bare list of token texts.
    pub fn detect_tokens(tokens: &[String]) -> Option<FimFormat> {
        // One pass over the vocabulary, recording which of the known spellings occur.
        let mut wanted: Vec<&str> = Vec::new();
        for (_, p, s, m) in MARKERS {
            wanted.extend([*p, *s, *m].iter().filter(|t| !t.is_empty()));
        }
        for fam in [
            FimFamily::Qwen,
            FimFamily::StarCoder,
            FimFamily::CodeLlama,
            FimFamily::DeepSeek,
            FimFamily::Codestral,
        ] {
            wanted.extend(stop_candidates(fam));
        }
        wanted.extend([
            "<|repo_name|>",
            "<|file_sep|>",
            "<repo_name>",
            "<reponame>",
            "<file_sep>",
        ]);
        let mut present = vec![false; wanted.len()];
        for t in tokens {
            if let Some(i) = wanted.iter().position(|w| *w == t) {
                present[i] = true;
            }
        }
        let has = |tok: &str| {
            wanted
                .iter()
                .position(|w| *w == tok)
                .is_some_and(|i| present[i])
        };

        let &(family, p, s, m) = MARKERS
            .iter()
            .find(|(_, p, s, m)| has(p) && has(s) && (m.is_empty() || has(m)))?;
        let (repo_token, file_sep_token) = match family {
            FimFamily::Qwen => (
                Some("<|repo_name|>").filter(|t| has(t)),
                Some("<|file_sep|>").filter(|t| has(t)),
            ),
            FimFamily::StarCoder => (
                ["<repo_name>", "<reponame>"].into_iter().find(|t| has(t)),
                Some("<file_sep>").filter(|t| has(t)),
            ),
            _ => (None, None),
        };
        let stops = stop_candidates(family)
            .iter()
            .filter(|t| has(t))
            .map(|t| t.to_string())
            .collect();
        Some(FimFormat {
            family,
            prefix_token: p.into(),
            suffix_token: s.into(),
            middle_token: m.into(),
            repo_token: repo_token.map(str::to_owned),
            file_sep_token: file_sep_token.map(str::to_owned),
            stops,
        })
    }

    /// Token texts that end a completion in this format (map them to ids with the vocabulary;
    /// EOS/EOT ids from the metadata apply too).
    pub fn stop_tokens(&self) -> &[String] {
        &self.stops
    }

    /// Builds the prompt for `input` in `layout`.
    pub fn build(&self, input: &FimInput, layout: FimLayout) -> FimPrompt {
        let (head, typed) = match layout {
            FimLayout::Psm => (input.prefix.as_str(), ""),
            FimLayout::Middle => split_current_line(&input.prefix),
        };
        let context = self.repo_context(input);
        let (prefix_sep, middle_sep) = match (self.family, self.prefix_token.starts_with('▁')) {
            // CodeLlama: `<PRE> {prefix} <SUF>{suffix} <MID>`; the `▁` spelling carries the space.
            (FimFamily::CodeLlama, true) => (" ", ""),
            (FimFamily::CodeLlama, false) => (" ", " "),
            _ => ("", ""),
        };
        match (self.family, layout) {
            (FimFamily::Codestral, _) => {
                // `[SUFFIX]{suffix}[PREFIX]{prefix}`: the prefix ends the prompt in either layout.
                let (head, typed) = split_current_line(&input.prefix);
                FimPrompt {
                    before: format!(
                        "{context}{}{}{}{head}",
                        self.suffix_token, input.suffix, self.prefix_token
                    ),
                    healable: typed.to_string(),
                    after: String::new(),
                }
            }
            (_, FimLayout::Psm) => {
                let (head, typed) = split_current_line(head);
                FimPrompt {
                    before: format!("{context}{}{prefix_sep}{head}", self.prefix_token),
                    healable: typed.to_string(),
                    after: format!(
                        "{middle_sep}{}{}{middle_sep}{}",
                        self.suffix_token, input.suffix, self.middle_token
                    ),
                }
            }
            (_, FimLayout::Middle) => FimPrompt {
                before: format!(
                    "{context}{}{prefix_sep}{head}{middle_sep}{}{}{middle_sep}{}",
                    self.prefix_token, self.suffix_token, input.suffix, self.middle_token
                ),
                healable: typed.to_string(),
                after: String::new(),
            },
        }
    }

    /// Repository-level context in front of the FIM prompt: Qwen/StarCoder use their repo and
    /// file-separator tokens, other families llama.cpp's plain snippet separator.
    fn repo_context(&self, input: &FimInput) -> String {
        let mut out = String::new();
        if input.extra_files.is_empty() && input.repo_name.is_none() {
            return out;
        }
        match &self.file_sep_token {
            Some(sep) => {
                if let (Some(repo_tok), Some(repo)) = (&self.repo_token, &input.repo_name) {
                    out.push_str(repo_tok);
                    out.push_str(repo);
                    out.push('\n');
                }
                for (path, text) in &input.extra_files {
                    out.push_str(sep);
                    out.push_str(path);
                    out.push('\n');
                    out.push_str(text);
                    if !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
                out.push_str(sep);
                out.push_str(input.file_path.as_deref().unwrap_or("untitled"));
                out.push('\n');
            }
            None => {
                for (_, text) in &input.extra_files {
                    out.push_str(SNIPPET_SEPARATOR);
                    out.push_str(text);
                }
                if !input.extra_files.is_empty() {
                    out.push_str(SNIPPET_SEPARATOR);
                }
            }
        }
        out
    }
}

/// Splits `prefix` at the start of its last line: `(up to and including the last '\n', rest)`.
pub fn split_current_line(prefix: &str) -> (&str, &str) {
    match prefix.rfind('\n') {
        Some(i) => prefix.split_at(i + 1),
        None => ("", prefix),
    }
}

/// The end of `prefix` that fits in about `max_bytes`, starting at a line start, with a start
/// that stays put while the user types: the earliest allowed cut (`len - max_bytes`) is rounded
/// up to a multiple of `step` bytes before moving to the next line start, so the window (and the
/// KV cache of the prompt built from it) only shifts once per `step` bytes typed.
pub fn window_prefix(prefix: &str, max_bytes: usize, step: usize) -> &str {
    if prefix.len() <= max_bytes {
        return prefix;
    }
    let step = step.clamp(1, max_bytes.max(1));
    let min_cut = prefix.len() - max_bytes;
    let cut = min_cut
        .div_ceil(step)
        .saturating_mul(step)
        .min(prefix.len());
    match prefix.as_bytes()[cut..].iter().position(|&b| b == b'\n') {
        Some(i) => &prefix[cut + i + 1..],
        None => {
            // One very long last line: cut inside it, on a character boundary.
            let mut at = cut;
            while !prefix.is_char_boundary(at) {
                at += 1;
            }
            &prefix[at..]
        }
    }
}

/// The start of `suffix` that fits in `max_bytes`, ending after a complete line when possible.
pub fn window_suffix(suffix: &str, max_bytes: usize) -> &str {
    if suffix.len() <= max_bytes {
        return suffix;
    }
    let mut end = max_bytes;
    while !suffix.is_char_boundary(end) {
        end -= 1;
    }
    match suffix[..end].rfind('\n') {
        Some(i) => &suffix[..i + 1],
        None => &suffix[..end],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab(extra: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = ["a", "b", "Ġreturn", "PREFIX", "<s>", "</s>"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    fn qwen() -> FimFormat {
        FimFormat::detect_tokens(&vocab(&[
            "<|endoftext|>",
            "<|im_end|>",
            "<|fim_prefix|>",
            "<|fim_middle|>",
            "<|fim_suffix|>",
            "<|fim_pad|>",
            "<|repo_name|>",
            "<|file_sep|>",
        ]))
        .unwrap()
    }

    #[test]
    fn no_fim_without_markers() {
        assert_eq!(
            FimFormat::detect_tokens(&vocab(&["<|im_start|>", "<|im_end|>", "<repo_name>"])),
            None
        );
        // Two of three markers are not enough.
        assert_eq!(
            FimFormat::detect_tokens(&vocab(&["<fim_prefix>", "<fim_suffix>"])),
            None
        );
    }

    #[test]
    fn qwen_layouts() {
        let f = qwen();
        assert_eq!(f.family, FimFamily::Qwen);
        assert_eq!(f.repo_token.as_deref(), Some("<|repo_name|>"));
        assert!(f.stop_tokens().contains(&"<|file_sep|>".to_string()));
        assert!(
            !f.stop_tokens().contains(&"<|im_start|>".to_string()),
            "not in this vocab"
        );
        let input = FimInput {
            prefix: "def f(x):\n    ret".into(),
            suffix: "\n\nprint(f(1))\n".into(),
            ..Default::default()
        };
        let psm = f.build(&input, FimLayout::Psm);
        assert_eq!(
            psm.text(),
            "<|fim_prefix|>def f(x):\n    ret<|fim_suffix|>\n\nprint(f(1))\n<|fim_middle|>"
        );
        assert_eq!(psm.healable, "    ret");
        assert!(!psm.healable_at_end());
        let mid = f.build(&input, FimLayout::Middle);
        assert_eq!(
            mid.text(),
            "<|fim_prefix|>def f(x):\n<|fim_suffix|>\n\nprint(f(1))\n<|fim_middle|>    ret"
        );
        assert_eq!(mid.healable, "    ret");
        assert!(mid.healable_at_end());
        // Typing one more character only extends the middle prompt.
        let next = FimInput {
            prefix: "def f(x):\n    retu".into(),
            ..input.clone()
        };
        assert!(f
            .build(&next, FimLayout::Middle)
            .text()
            .starts_with(&mid.text()));
        // Nothing typed on the line: both layouts are the same prompt.
        let empty = FimInput {
            prefix: "def f(x):\n".into(),
            ..input
        };
        assert_eq!(
            f.build(&empty, FimLayout::Psm).text(),
            f.build(&empty, FimLayout::Middle).text()
        );
    }

    #[test]
    fn qwen_repo_context() {
        let f = qwen();
        let input = FimInput {
            prefix: "import lib\n".into(),
            suffix: String::new(),
            extra_files: vec![("lib.py".into(), "X = 1".into())],
            repo_name: Some("proj".into()),
            file_path: Some("main.py".into()),
        };
        assert_eq!(
            f.build(&input, FimLayout::Psm).text(),
            "<|repo_name|>proj\n<|file_sep|>lib.py\nX = 1\n<|file_sep|>main.py\n<|fim_prefix|>import lib\n<|fim_suffix|><|fim_middle|>"
        );
    }

    #[test]
    fn other_families() {
        let input = FimInput {
            prefix: "a = \nb = c".into(),
            suffix: "\nd".into(),
            ..Default::default()
        };
        let sc = FimFormat::detect_tokens(&vocab(&[
            "<|endoftext|>",
            "<fim_prefix>",
            "<fim_middle>",
            "<fim_suffix>",
            "<file_sep>",
        ]))
        .unwrap();
        assert_eq!(sc.family, FimFamily::StarCoder);
        assert_eq!(
            sc.build(&input, FimLayout::Psm).text(),
            "<fim_prefix>a = \nb = c<fim_suffix>\nd<fim_middle>"
        );

        let cl =
            FimFormat::detect_tokens(&vocab(&["▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"])).unwrap();
        assert_eq!(cl.family, FimFamily::CodeLlama);
        assert_eq!(
            cl.build(&input, FimLayout::Psm).text(),
            "▁<PRE> a = \nb = c▁<SUF>\nd▁<MID>"
        );
        assert_eq!(cl.stop_tokens()[0], "▁<EOT>");
        let cl2 = FimFormat::detect_tokens(&vocab(&["<PRE>", "<SUF>", "<MID>", "<EOT>"])).unwrap();
        assert_eq!(
            cl2.build(&input, FimLayout::Psm).text(),
            "<PRE> a = \nb = c <SUF>\nd <MID>"
        );

        let ds = FimFormat::detect_tokens(&vocab(&[
            "<｜fim▁begin｜>",
            "<｜fim▁hole｜>",
            "<｜fim▁end｜>",
            "<|EOT|>",
        ]))
        .unwrap();
        assert_eq!(ds.family, FimFamily::DeepSeek);
        assert_eq!(
            ds.build(&input, FimLayout::Middle).text(),
            "<｜fim▁begin｜>a = \n<｜fim▁hole｜>\nd<｜fim▁end｜>b = c"
        );

        let cs = FimFormat::detect_tokens(&vocab(&["[PREFIX]", "[SUFFIX]", "[INST]"])).unwrap();
        assert_eq!(cs.family, FimFamily::Codestral);
        for layout in [FimLayout::Psm, FimLayout::Middle] {
            let p = cs.build(&input, layout);
            assert_eq!(p.text(), "[SUFFIX]\nd[PREFIX]a = \nb = c");
            assert_eq!(p.healable, "b = c");
            assert!(p.healable_at_end());
        }
        let with_files = FimInput {
            extra_files: vec![("x.rs".into(), "fn x() {}".into())],
            ..input
        };
        assert_eq!(
            ds.build(&with_files, FimLayout::Psm).before,
            "\n\n--- snippet ---\n\nfn x() {}\n\n--- snippet ---\n\n<｜fim▁begin｜>a = \n"
        );
    }

    #[test]
    fn raw_fim_detection() {
        assert!(is_raw_fim("<|fim_prefix|>x<|fim_suffix|>y<|fim_middle|>"));
        assert!(is_raw_fim("<fim_prefix>def<fim_suffix>"));
        assert!(!is_raw_fim("<fim_prefix>def"));
        assert!(is_raw_fim("<PRE> a <SUF>b <MID>"));
        assert!(!is_raw_fim("<PRE>html</PRE>"));
        assert!(is_raw_fim("[SUFFIX]x[PREFIX]y"));
        assert!(!is_raw_fim("def f(x):\n    return x"));
        assert!(!is_raw_fim("<|im_start|>user\nhi<|im_end|>"));
    }

    #[test]
    fn prefix_window_is_stable_while_typing() {
        let base: String = (0..200)
            .map(|i| format!("line {i:03} of the file\n"))
            .collect();
        let mut starts = std::collections::BTreeSet::new();
        for typed in 0..300 {
            let text = format!("{base}{}", "x".repeat(typed));
            let w = window_prefix(&text, 1000, 256);
            assert!(w.len() <= 1000, "{}", w.len());
            assert!(w.starts_with("line "), "window starts at a line start");
            assert!(text.ends_with(w));
            starts.insert(text.len() - w.len());
        }
        // 300 keystrokes move the window start only about 300 / 256 + 1 times.
        assert!(starts.len() <= 3, "{starts:?}");
        assert_eq!(window_prefix("short", 100, 10), "short");
        assert_eq!(window_prefix("ééééé", 4, 2), "éé");
    }

    #[test]
    fn suffix_window_ends_at_a_line() {
        assert_eq!(window_suffix("ab\ncd\nef\n", 7), "ab\ncd\n");
        assert_eq!(window_suffix("abcdef", 3), "abc");
        assert_eq!(window_suffix("éé", 3), "é");
        assert_eq!(window_suffix("x", 3), "x");
    }

    #[test]
    fn current_line_split() {
        assert_eq!(split_current_line("a\nb"), ("a\n", "b"));
        assert_eq!(split_current_line("a\n"), ("a\n", ""));
        assert_eq!(split_current_line("ab"), ("", "ab"));
        assert_eq!(split_current_line(""), ("", ""));
    }
}
