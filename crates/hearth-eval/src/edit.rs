//! Agent edits, the way Aider's benchmark asks for them: the model gets an exercise's
//! instructions and files and answers with edits in one of two formats; the edited files run
//! their tests, and a failure is shown to the model once more.
//!
//! - [`EditFormat::Whole`]: every changed file in full, its name on the line before the fence;
//! - [`EditFormat::Diff`]: search/replace blocks (`<<<<<<< SEARCH` … `=======` … `>>>>>>> REPLACE`).
//!
//! An answer that cannot be applied (no file in it, a SEARCH text that is not in the file)
//! is *malformed*: it counts as a failed try, and the model is told why, as Aider tells it.

use crate::message::Message;
use crate::polyglot::Exercise;

/// Names the prompts and the way answers are applied, in every logged result.
pub const EDIT_SCORER: &str = "edit-v1";

/// How the model is asked to write its edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditFormat {
    Whole,
    Diff,
}

impl EditFormat {
    pub fn name(self) -> &'static str {
        match self {
            EditFormat::Whole => "whole",
            EditFormat::Diff => "diff",
        }
    }

    pub fn parse(s: &str) -> Option<EditFormat> {
        [EditFormat::Whole, EditFormat::Diff]
            .into_iter()
            .find(|f| f.name() == s)
    }

    /// The suite name its results carry: `edit-whole`, `edit-diff`.
    pub fn suite(self) -> String {
        format!("edit-{}", self.name())
    }

    fn system(self) -> &'static str {
        match self {
            EditFormat::Whole => WHOLE_SYSTEM,
            EditFormat::Diff => DIFF_SYSTEM,
        }
    }
}

const WHOLE_SYSTEM: &str = "You are an expert software developer. You get the instructions of \
a programming exercise and its files; change the files so that the exercise is solved.

Answer with the complete new content of every file you change, each in this form:

FILENAME
```
the entire content of the file
```

The first line is the file's name exactly as it was given, alone on its line. Write out the \
whole file: never leave parts out with \"...\" or comments like \"rest of the code unchanged\".";

const DIFF_SYSTEM: &str = "You are an expert software developer. You get the instructions of \
a programming exercise and its files; change the files so that the exercise is solved.

Write every change as a search/replace block in this form:

FILENAME
```
<<<<<<< SEARCH
lines copied exactly from the current file
=======
the lines that replace them
>>>>>>> REPLACE
```

The first line is the file's name exactly as it was given. The SEARCH part must match the \
current file exactly, whitespace and comments included. Use several small blocks rather than \
one large one; to rewrite a whole file, SEARCH for all of it.";

/// The conversation's first two messages: the format, then the instructions and the files.
pub fn first_messages(ex: &Exercise, format: EditFormat) -> Vec<Message> {
    let mut user = format!(
        "{}####\n\nSolve the exercise above by changing these files: {}.\nKeep the names of \
         existing functions and classes: the tests use them.\nUse only the standard library; \
         do not suggest installing packages.\n\n",
        ex.instructions,
        ex.file_list()
    );
    for (name, text) in &ex.solution {
        user.push_str(&format!("{name}\n```\n{}\n```\n\n", text.trim_end()));
    }
    vec![
        Message::system(format.system()),
        Message::user(user.trim_end()),
    ]
}

/// The message after a failed try: what went wrong (the test output, or why the edits could
/// not be applied).
pub fn retry_message(ex: &Exercise, failure: &str) -> Message {
    Message::user(format!(
        "{}\n\n####\n\nSee the errors above. The tests are correct: do not change them. Fix the \
         code in {} so that they pass.",
        failure.trim_end(),
        ex.file_list()
    ))
}

/// Most bytes of test output shown to the model (its end: where unittest puts the summary).
pub const MAX_FEEDBACK: usize = 4096;

/// The end of a test run's output, at most [`MAX_FEEDBACK`] bytes, cut at a line start.
pub fn feedback(output: &str) -> String {
    if output.len() <= MAX_FEEDBACK {
        return output.to_string();
    }
    let mut start = output.len() - MAX_FEEDBACK;
    while !output.is_char_boundary(start) {
        start += 1;
    }
    let tail = &output[start..];
    tail.find('\n').map_or(tail, |i| &tail[i + 1..]).to_string()
}

/// Why an answer's edits could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("the answer has no file listing (FILENAME, then the file in a ``` fence)")]
    NoFile,
    #[error("the answer has no SEARCH/REPLACE block")]
    NoBlock,
    #[error("{0} is not one of the files to change")]
    UnknownFile(String),
    #[error("a SEARCH/REPLACE block is not closed with >>>>>>> REPLACE")]
    Unclosed,
    #[error("the SEARCH text of block {block} is not in {file}:\n{search}")]
    NotFound {
        block: usize,
        file: String,
        search: String,
    },
}

/// The solution files after applying an answer in `format`.
pub fn apply(
    format: EditFormat,
    answer: &str,
    files: &[(String, String)],
) -> Result<Vec<(String, String)>, Malformed> {
    match format {
        EditFormat::Whole => apply_whole(answer, files),
        EditFormat::Diff => apply_diff(answer, files),
    }
}

/// The file a name in an answer means: the same name (or the same base name, for a name
/// given with a directory or in markup); with only one file to change, a missing name or a
/// line of prose means it, but another file's name (the tests') never does.
fn target(name: &str, files: &[(String, String)]) -> Option<usize> {
    let clean = name
        .trim()
        .trim_matches(|c: char| c == '*' || c == '`' || c == '#' || c == ':' || c.is_whitespace());
    let base = clean.rsplit(['/', '\\']).next().unwrap_or(clean);
    let file_like = clean.contains('.') && !clean.contains(char::is_whitespace);
    files
        .iter()
        .position(|(n, _)| n == clean || n == base)
        .or_else(|| (files.len() == 1 && !file_like).then_some(0))
}

/// ``` fenced blocks with the last non-blank line before each fence.
fn fenced(answer: &str) -> Vec<(Option<&str>, String)> {
    let mut out = Vec::new();
    let mut last_text: Option<&str> = None;
    let mut current: Option<(Option<&str>, String)> = None;
    for line in answer.lines() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) => current = Some((last_text.take(), String::new())),
            (Some(_), true) => out.extend(current.take()),
            (Some((_, body)), false) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, false) => {
                if !line.trim().is_empty() {
                    last_text = Some(line);
                }
            }
        }
    }
    // An unclosed fence (a cut answer) runs to the end.
    out.extend(current);
    out
}

fn apply_whole(
    answer: &str,
    files: &[(String, String)],
) -> Result<Vec<(String, String)>, Malformed> {
    let mut out = files.to_vec();
    let mut any = false;
    for (name, body) in fenced(answer) {
        let Some(i) = target(name.unwrap_or(""), files) else {
            continue;
        };
        out[i].1 = body;
        any = true;
    }
    if any {
        Ok(out)
    } else {
        Err(Malformed::NoFile)
    }
}

/// One SEARCH/REPLACE block and the file name before it.
struct Block<'a> {
    file: Option<&'a str>,
    search: String,
    replace: String,
}

fn blocks(answer: &str) -> Result<Vec<Block<'_>>, Malformed> {
    let mut out = Vec::new();
    let mut name: Option<&str> = None;
    let mut lines = answer.lines();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if !t.starts_with("<<<<<<<") || !t.contains("SEARCH") {
            // A file name is one word; prose between blocks keeps the last name.
            if !t.is_empty() && !t.starts_with("```") && !t.contains(char::is_whitespace) {
                name = Some(line);
            }
            continue;
        }
        let (mut search, mut replace) = (String::new(), String::new());
        let mut in_replace = false;
        let mut closed = false;
        for l in lines.by_ref() {
            let lt = l.trim();
            if !in_replace && lt.starts_with("=======") && lt.trim_start_matches('=').is_empty() {
                in_replace = true;
            } else if in_replace && lt.starts_with(">>>>>>>") {
                closed = true;
                break;
            } else if in_replace {
                replace.push_str(l);
                replace.push('\n');
            } else {
                search.push_str(l);
                search.push('\n');
            }
        }
        if !closed {
            return Err(Malformed::Unclosed);
        }
        out.push(Block {
            file: name,
            search,
            replace,
        });
    }
    Ok(out)
}

fn apply_diff(
    answer: &str,
    files: &[(String, String)],
) -> Result<Vec<(String, String)>, Malformed> {
    let blocks = blocks(answer)?;
    if blocks.is_empty() {
        return Err(Malformed::NoBlock);
    }
    let mut out = files.to_vec();
    for (n, b) in blocks.iter().enumerate() {
        let name = b.file.unwrap_or("");
        let i = target(name, files).ok_or_else(|| Malformed::UnknownFile(name.trim().into()))?;
        let text = &out[i].1;
        let new = replace_once(text, &b.search, &b.replace).ok_or_else(|| Malformed::NotFound {
            block: n + 1,
            file: out[i].0.clone(),
            search: b.search.clone(),
        })?;
        out[i].1 = new;
    }
    Ok(out)
}

/// `text` with the first occurrence of `search` at a line start replaced: exactly, else line
/// by line ignoring
/// whitespace at line ends, else ignoring indentation too (Aider's matching is as lenient).
/// An empty search appends.
fn replace_once(text: &str, search: &str, replace: &str) -> Option<String> {
    if search.trim().is_empty() {
        let mut out = text.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(replace);
        return Some(out);
    }
    let at_line_start = text
        .match_indices(search)
        .map(|(at, _)| at)
        .find(|&at| at == 0 || text[..at].ends_with('\n'));
    if let Some(at) = at_line_start {
        return Some(format!(
            "{}{replace}{}",
            &text[..at],
            &text[at + search.len()..]
        ));
    }
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let want: Vec<&str> = search.lines().collect();
    for norm in [str::trim_end as fn(&str) -> &str, str::trim] {
        let want: Vec<&str> = want.iter().map(|l| norm(l)).collect();
        if want.len() > lines.len() {
            return None;
        }
        for start in 0..=lines.len() - want.len() {
            let window = &lines[start..start + want.len()];
            if window.iter().zip(&want).all(|(l, w)| norm(l) == *w) {
                let mut out: String = lines[..start].concat();
                out.push_str(replace);
                out.push_str(&lines[start + want.len()..].concat());
                return Some(out);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<(String, String)> {
        vec![(
            "two_fer.py".to_string(),
            "def two_fer(name):\n    pass\n".to_string(),
        )]
    }

    #[test]
    fn whole_files_replace_by_name() {
        let a = "Here it is:\n\ntwo_fer.py\n```python\ndef two_fer(name='you'):\n    return name\n```\n";
        let out = apply(EditFormat::Whole, a, &files()).unwrap();
        assert_eq!(out[0].1, "def two_fer(name='you'):\n    return name\n");
        // Markup around the name, or no name with one file to change.
        let a = "**two_fer.py**\n```\nx = 1\n```";
        assert_eq!(
            apply(EditFormat::Whole, a, &files()).unwrap()[0].1,
            "x = 1\n"
        );
        let a = "```\nx = 2\n```";
        assert_eq!(
            apply(EditFormat::Whole, a, &files()).unwrap()[0].1,
            "x = 2\n"
        );
        assert_eq!(
            apply(EditFormat::Whole, "I cannot do that.", &files()),
            Err(Malformed::NoFile)
        );
    }

    #[test]
    fn with_two_files_an_unknown_name_changes_nothing() {
        let mut two = files();
        two.push(("helper.py".into(), "y = 0\n".into()));
        let a = "other.py\n```\nz\n```\nhelper.py\n```\ny = 1\n```";
        let out = apply(EditFormat::Whole, a, &two).unwrap();
        assert_eq!(out[0].1, two[0].1);
        assert_eq!(out[1].1, "y = 1\n");
    }

    #[test]
    fn search_replace_blocks_apply_in_order() {
        let a = "two_fer.py\n```python\n<<<<<<< SEARCH\ndef two_fer(name):\n=======\ndef two_fer(name='you'):\n>>>>>>> REPLACE\n```\n\ntwo_fer.py\n```\n<<<<<<< SEARCH\n    pass\n=======\n    return f'One for {name}, one for me.'\n>>>>>>> REPLACE\n```\n";
        let out = apply(EditFormat::Diff, a, &files()).unwrap();
        assert_eq!(
            out[0].1,
            "def two_fer(name='you'):\n    return f'One for {name}, one for me.'\n"
        );
    }

    #[test]
    fn search_matches_leniently_then_fails_with_the_text() {
        // Trailing spaces, then other indentation.
        assert_eq!(
            replace_once("a\n    b  \nc\n", "    b\n", "B\n").as_deref(),
            Some("a\nB\nc\n")
        );
        assert_eq!(
            replace_once("a\n    b\nc\n", "b\nc\n", "X\n").as_deref(),
            Some("a\nX\n")
        );
        assert_eq!(replace_once("a\n", "", "b\n").as_deref(), Some("a\nb\n"));
        let a = "two_fer.py\n<<<<<<< SEARCH\nnot there\n=======\nx\n>>>>>>> REPLACE\n";
        let e = apply(EditFormat::Diff, a, &files()).unwrap_err();
        assert!(matches!(e, Malformed::NotFound { block: 1, .. }), "{e}");
        assert!(e.to_string().contains("not there"), "{e}");
    }

    #[test]
    fn diff_answers_without_blocks_or_unclosed_are_malformed() {
        assert_eq!(
            apply(EditFormat::Diff, "two_fer.py\n```\nx\n```", &files()),
            Err(Malformed::NoBlock)
        );
        let a = "two_fer.py\n<<<<<<< SEARCH\nx\n=======\ny\n";
        assert_eq!(
            apply(EditFormat::Diff, a, &files()),
            Err(Malformed::Unclosed)
        );
    }

    #[test]
    fn feedback_keeps_the_end_on_a_line_start() {
        let long = format!("{}\nFAILED (failures=1)\n", "é line\n".repeat(2000));
        let f = feedback(&long);
        assert!(f.len() <= MAX_FEEDBACK);
        assert!(f.starts_with("é line\n") && f.ends_with("FAILED (failures=1)\n"));
        assert_eq!(feedback("short"), "short");
    }

    #[test]
    fn the_first_messages_carry_the_format_and_the_files() {
        let ex = Exercise {
            name: "two-fer".into(),
            instructions: "Say hi.\n\n".into(),
            solution: files(),
            tests: vec![("two_fer_test.py".into(), "import unittest\n".into())],
        };
        let m = first_messages(&ex, EditFormat::Diff);
        assert!(m[0].content.contains("<<<<<<< SEARCH"));
        assert!(m[1].content.starts_with("Say hi.\n\n####"));
        assert!(m[1]
            .content
            .contains("two_fer.py\n```\ndef two_fer(name):\n    pass\n```"));
        assert!(!m[1].content.contains("unittest"), "tests are not shown");
        assert!(retry_message(&ex, "FAILED").content.contains("two_fer.py"));
    }
}
