//! Static insecure-code checks over tree-sitter syntax trees.
//!
//! [`check`] parses source code of one [`Lang`] and runs hand-written rules, each tagged with a
//! CWE id: SQL built from strings (89), OS command injection (78), eval of data (94), path
//! traversal (22), hard-coded credentials (798), insecure deserialization (502), broken crypto
//! (327), weak hashes (328), weak randomness for secrets (338), disabled TLS verification (295),
//! SSRF-prone fetches (918) and XSS sinks (79).
//!
//! The rules are heuristics over the syntax tree (with a small same-file resolver for local
//! variables), not a data-flow engine: they aim at the insecure idioms small code models
//! reproduce, and their precision and recall are measured on the labelled corpus in
//! `tests/corpus`.

use std::fmt;
use std::path::Path;

use serde::Serialize;

mod ast;
mod rules;
mod rules_more;

/// Largest source accepted (bytes); larger inputs are an error, not a slow parse.
pub const MAX_SOURCE_BYTES: usize = 4 << 20;

/// A supported language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Python 3.
    Python,
    /// JavaScript (including JSX).
    JavaScript,
    /// TypeScript.
    TypeScript,
    /// TypeScript with JSX.
    Tsx,
    /// Go.
    Go,
    /// Rust.
    Rust,
    /// Java.
    Java,
    /// C.
    C,
    /// C++.
    Cpp,
}

impl Lang {
    /// Every language.
    pub const ALL: [Lang; 9] = [
        Lang::Python,
        Lang::JavaScript,
        Lang::TypeScript,
        Lang::Tsx,
        Lang::Go,
        Lang::Rust,
        Lang::Java,
        Lang::C,
        Lang::Cpp,
    ];

    /// Parse a language name or common alias (`py`, `js`, `ts`, `golang`, `c++`, ...).
    pub fn from_name(name: &str) -> Option<Lang> {
        Some(match name.to_ascii_lowercase().as_str() {
            "python" | "py" | "python3" => Lang::Python,
            "javascript" | "js" | "jsx" | "node" | "mjs" | "cjs" => Lang::JavaScript,
            "typescript" | "ts" => Lang::TypeScript,
            "tsx" => Lang::Tsx,
            "go" | "golang" => Lang::Go,
            "rust" | "rs" => Lang::Rust,
            "java" => Lang::Java,
            "c" | "h" => Lang::C,
            "cpp" | "c++" | "cc" | "cxx" | "hpp" | "hh" | "hxx" => Lang::Cpp,
            _ => return None,
        })
    }

    /// Guess the language of untagged code from what it contains (shebang, keywords,
    /// punctuation); `None` when no language stands out.
    pub fn detect(code: &str) -> Option<Lang> {
        let first = code.lines().next().unwrap_or("");
        if first.starts_with("#!") {
            if first.contains("python") {
                return Some(Lang::Python);
            }
            if first.contains("node") || first.contains("deno") {
                return Some(Lang::JavaScript);
            }
        }
        let mut score = [0u32; 9];
        let idx = |l: Lang| Lang::ALL.iter().position(|x| *x == l).unwrap_or(0);
        let mut add = |l: Lang, n: u32| score[idx(l)] += n;
        for line in code.lines().map(str::trim) {
            let starts = |p: &str| line.starts_with(p);
            if starts("def ")
                || starts("elif ")
                || (starts("from ") && line.contains(" import "))
                || (starts("import ") && !line.ends_with(';'))
                || (starts("class ") && line.ends_with(':'))
                || starts("print(")
                || line.contains("self.")
            {
                add(Lang::Python, 2);
            }
            if starts("fn ")
                || starts("pub fn ")
                || starts("let mut ")
                || starts("use std::")
                || starts("impl ")
                || line.contains("println!(")
                || line.contains("unwrap()")
            {
                add(Lang::Rust, 2);
            }
            if starts("package ")
                || starts("func ")
                || line.contains(" := ")
                || line.contains("fmt.")
            {
                add(Lang::Go, 2);
            }
            if starts("public class ")
                || starts("import java.")
                || line.contains("System.out.")
                || starts("public static void ")
            {
                add(Lang::Java, 3);
            }
            if starts("#include") || line.contains("printf(") || starts("int main(") {
                add(Lang::C, 2);
            }
            if line.contains("std::")
                || line.contains("cout <<")
                || starts("template<")
                || starts("#include <iostream>")
            {
                add(Lang::Cpp, 3);
            }
            if starts("function ")
                || starts("const ")
                || line.contains("console.log")
                || line.contains("require(")
                || line.contains("=> {")
                || line.contains("document.")
                || line.contains("innerHTML")
            {
                add(Lang::JavaScript, 2);
            }
            if starts("interface ") || line.contains(": string") || line.contains(": number") {
                add(Lang::TypeScript, 3);
            }
        }
        // TypeScript is JavaScript with types: its score needs the JavaScript signals too.
        let ts = idx(Lang::TypeScript);
        if score[ts] > 0 {
            score[ts] += score[idx(Lang::JavaScript)];
        }
        let (best, &top) = score.iter().enumerate().max_by_key(|(_, s)| **s)?;
        let unique = score.iter().filter(|s| **s == top).count() == 1;
        (top >= 2 && unique).then(|| Lang::ALL[best])
    }

    /// Guess from a file extension.
    pub fn from_path(path: &Path) -> Option<Lang> {
        Lang::from_name(path.extension()?.to_str()?)
    }

    /// Stable lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Lang::Python => "python",
            Lang::JavaScript => "javascript",
            Lang::TypeScript => "typescript",
            Lang::Tsx => "tsx",
            Lang::Go => "go",
            Lang::Rust => "rust",
            Lang::Java => "java",
            Lang::C => "c",
            Lang::Cpp => "cpp",
        }
    }

    fn grammar(self) -> tree_sitter::Language {
        match self {
            Lang::Python => tree_sitter_python::LANGUAGE.into(),
            Lang::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Lang::Go => tree_sitter_go::LANGUAGE.into(),
            Lang::Rust => tree_sitter_rust::LANGUAGE.into(),
            Lang::Java => tree_sitter_java::LANGUAGE.into(),
            Lang::C => tree_sitter_c::LANGUAGE.into(),
            Lang::Cpp => tree_sitter_cpp::LANGUAGE.into(),
        }
    }

    /// JavaScript family (JS, TS, TSX).
    pub(crate) fn is_js(self) -> bool {
        matches!(self, Lang::JavaScript | Lang::TypeScript | Lang::Tsx)
    }

    /// C family.
    pub(crate) fn is_c(self) -> bool {
        matches!(self, Lang::C | Lang::Cpp)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Likely a weakness.
    Medium,
    /// Likely exploitable.
    High,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        })
    }
}

/// One rule hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Rule id, e.g. `py-sql-string-build`.
    pub rule_id: &'static str,
    /// CWE number, e.g. 89.
    pub cwe: u32,
    /// Severity.
    pub severity: Severity,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in bytes).
    pub column: usize,
    /// What is wrong and what to do instead.
    pub message: String,
    /// The offending source line (trimmed, at most 200 characters).
    pub snippet: String,
}

/// Why a check could not run.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The input is larger than [`MAX_SOURCE_BYTES`].
    #[error("source is {0} bytes, more than the {MAX_SOURCE_BYTES}-byte limit")]
    TooLarge(usize),
    /// The grammar could not be loaded (ABI mismatch between tree-sitter and the grammar).
    #[error("cannot load the {lang} grammar: {reason}")]
    Grammar {
        /// The language.
        lang: Lang,
        /// The tree-sitter error.
        reason: String,
    },
    /// The parser gave no tree.
    #[error("the {0} parser produced no syntax tree")]
    Parse(Lang),
}

/// Check `source` written in `lang`; findings sorted by line. Errors (oversized input, grammar
/// problems) give an empty list; use [`try_check`] to see them.
pub fn check(source: &str, lang: Lang) -> Vec<Finding> {
    try_check(source, lang).unwrap_or_default()
}

/// Check `source` written in `lang`.
pub fn try_check(source: &str, lang: Lang) -> Result<Vec<Finding>, CheckError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(CheckError::TooLarge(source.len()));
    }
    let mut parser = tree_sitter::Parser::new();
    parser
        .set_language(&lang.grammar())
        .map_err(|e| CheckError::Grammar {
            lang,
            reason: e.to_string(),
        })?;
    let tree = parser.parse(source, None).ok_or(CheckError::Parse(lang))?;
    let ctx = ast::Ctx::new(source, lang, &tree);
    let mut findings = Vec::new();
    rules::run(&ctx, &mut findings);
    findings.sort_by(|a, b| (a.line, a.column, a.rule_id).cmp(&(b.line, b.column, b.rule_id)));
    findings.dedup_by(|a, b| a.line == b.line && a.rule_id == b.rule_id);
    Ok(findings)
}

/// The rule catalogue: (rule id, CWE, severity, summary).
pub fn catalogue() -> Vec<(&'static str, u32, Severity, &'static str)> {
    rules::CATALOGUE.to_vec()
}

/// Findings for one fenced code block of a model answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockFindings {
    /// 0-based index of the fenced block in the text.
    pub block: usize,
    /// 1-based line of the block's first code line in the whole text.
    pub start_line: usize,
    /// The language of the block.
    pub lang: Lang,
    /// Findings, with lines relative to the whole text.
    pub findings: Vec<Finding>,
}

/// Check every fenced code block (```` ```lang ````) of a markdown answer: by its language
/// tag, or for an untagged block `default` or else the language [`Lang::detect`] finds; a
/// block still open at the end of the text (an answer cut off) is checked too. Text outside
/// fences is ignored. This is what the server's opt-in `"check": true` returns beside
/// generated text.
pub fn check_markdown(text: &str, default: Option<Lang>) -> Vec<BlockFindings> {
    struct Open {
        /// The tag's language; `None` for an untagged block (or an unknown tag: `Some(None)`).
        tagged: Option<Option<Lang>>,
        start: usize,
        code: String,
    }
    let mut out = Vec::new();
    let mut block = 0usize;
    let mut open: Option<Open> = None;
    let finish = |o: Open, block: usize, out: &mut Vec<BlockFindings>| {
        let lang = match o.tagged {
            Some(l) => l,
            None => default.or_else(|| Lang::detect(&o.code)),
        };
        if let Some(l) = lang {
            let mut findings = check(&o.code, l);
            for f in &mut findings {
                f.line += o.start - 1;
            }
            out.push(BlockFindings {
                block,
                start_line: o.start,
                lang: l,
                findings,
            });
        }
    };
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(tag) = trimmed.strip_prefix("```") {
                    let tag = tag.trim().split([' ', '{', ',']).next().unwrap_or("");
                    let tagged = (!tag.is_empty()).then(|| Lang::from_name(tag));
                    open = Some(Open {
                        tagged,
                        start: i + 2,
                        code: String::new(),
                    });
                }
            }
            Some(o) => {
                if trimmed.starts_with("```") {
                    if let Some(o) = open.take() {
                        finish(o, block, &mut out);
                    }
                    block += 1;
                } else if o.code.len() <= MAX_SOURCE_BYTES {
                    o.code.push_str(line);
                    o.code.push('\n');
                }
            }
        }
    }
    if let Some(o) = open {
        finish(o, block, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_blocks_are_checked_with_absolute_lines() {
        let text = "Here you go:\n\n```python\nimport os\nos.system('ls ' + d)\n```\n\nand\n```\nplain\n```\n```js\nel.innerHTML = x;\n```\n";
        let r = check_markdown(text, None);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].block, r[0].lang, r[0].start_line),
            (0, Lang::Python, 4)
        );
        assert_eq!(r[0].findings.len(), 1);
        assert_eq!((r[0].findings[0].cwe, r[0].findings[0].line), (78, 5));
        assert_eq!((r[1].block, r[1].lang), (2, Lang::JavaScript));
        assert_eq!(r[1].findings[0].cwe, 79);
        assert_eq!(r[1].findings[0].line, 13);
    }

    #[test]
    fn untagged_and_unterminated_blocks_are_checked() {
        let text = "Try:\n```\nimport os\n\ndef run(d):\n    os.system('ls ' + d)\n```\nand\n```js\nel.innerHTML = x;\n";
        let r = check_markdown(text, None);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!((r[0].lang, r[0].findings[0].cwe), (Lang::Python, 78));
        assert_eq!(
            (r[1].block, r[1].lang, r[1].findings[0].cwe),
            (1, Lang::JavaScript, 79)
        );
        // Prose in a fence, or an unknown tag, is left alone.
        assert!(
            check_markdown("```\nhello there\n```\n```cobol\nDISPLAY X.\n```\n", None).is_empty()
        );
    }

    #[test]
    fn languages_are_detected() {
        let d = Lang::detect;
        assert_eq!(d("#!/usr/bin/env python3\nx = 1\n"), Some(Lang::Python));
        assert_eq!(d("def f(x):\n    return x\n"), Some(Lang::Python));
        assert_eq!(
            d("fn main() {\n    let mut v = vec![];\n    println!(\"{v:?}\");\n}\n"),
            Some(Lang::Rust)
        );
        assert_eq!(
            d("package main\n\nfunc main() {\n\tx := 1\n}\n"),
            Some(Lang::Go)
        );
        assert_eq!(
            d("public class A {\n  public static void main(String[] a) {}\n}\n"),
            Some(Lang::Java)
        );
        assert_eq!(
            d("#include <iostream>\nint main() { std::cout << 1; }\n"),
            Some(Lang::Cpp)
        );
        assert_eq!(
            d("#include <stdio.h>\nint main() { printf(\"x\"); }\n"),
            Some(Lang::C)
        );
        assert_eq!(
            d("const x = require('fs');\nconsole.log(x);\n"),
            Some(Lang::JavaScript)
        );
        assert_eq!(
            d("interface A { n: number }\nconst a: A = { n: 1 };\n"),
            Some(Lang::TypeScript)
        );
        assert_eq!(d("just some words\n"), None);
    }

    #[test]
    fn language_names_and_extensions() {
        assert_eq!(Lang::from_name("PY"), Some(Lang::Python));
        assert_eq!(Lang::from_name("c++"), Some(Lang::Cpp));
        assert_eq!(Lang::from_name("golang"), Some(Lang::Go));
        assert_eq!(Lang::from_name("cobol"), None);
        assert_eq!(Lang::from_path(Path::new("a/b.tsx")), Some(Lang::Tsx));
    }

    #[test]
    fn catalogue_covers_the_required_cwes() {
        let cwes: Vec<u32> = catalogue().iter().map(|e| e.1).collect();
        for c in [89, 78, 94, 22, 798, 502, 327, 328, 338, 295, 918, 79] {
            assert!(cwes.contains(&c), "CWE-{c}");
        }
    }
}
