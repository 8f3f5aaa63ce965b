//! What a chat model is asked, and the program made of its answer.

use crate::humaneval::Problem;

/// Names the instruction below in result keys and reports: change it when it changes, so
/// cached answers to the old instruction are not mixed with new ones.
pub const ANSWER_STYLE: &str = "evalplus-instruct-v1";

/// Names the way an answer becomes a program ([`program`]), in every logged result: a cached
/// answer scored another way is tested again (not asked again) when this changes.
pub const SCORER: &str = "fence-sanitize-v2";

/// Python run before the answer: executes the answer's code the way EvalPlus' sanitizer
/// leaves it, keeping the imports, function and class definitions and assignments at its
/// top level and dropping bare statements (a language name left on its own line after the
/// fence, example calls and prints, `if __name__ == "__main__":` blocks). Code that does not
/// parse runs as it is, so its own syntax error is the verdict. It runs inside the sandbox
/// like the rest of the program.
const SANITIZE: &str = r#"import ast as _hearth_ast


def _hearth_exec(src):
    try:
        tree = _hearth_ast.parse(src)
    except SyntaxError:
        exec(src, globals())
        return
    keep = (_hearth_ast.Import, _hearth_ast.ImportFrom, _hearth_ast.FunctionDef,
            _hearth_ast.AsyncFunctionDef, _hearth_ast.ClassDef, _hearth_ast.Assign,
            _hearth_ast.AnnAssign)
    tree.body = [n for n in tree.body if isinstance(n, keep)]
    exec(compile(tree, "<answer>", "exec"), globals())
"#;

/// The user message for a problem: EvalPlus' instruct prompt, which Qwen2.5-Coder's own
/// evaluation of its instruct models uses.
pub fn instruction(p: &Problem) -> String {
    format!(
        "Please provide a self-contained Python script that solves the following problem in a \
         markdown code block:\n```\n{}\n```\n",
        p.prompt.trim()
    )
}

/// The program that runs the problem's tests on an answer: the answer's code (see
/// [`code_of`]) executed through [`SANITIZE`], the problem's tests, and the call of `check`.
pub fn program(p: &Problem, answer: &str) -> String {
    // A JSON string is a valid Python string literal (serde_json escapes only `"`, `\\` and
    // control characters, all with escapes Python reads the same way).
    let code = serde_json::to_string(&code_of(p, answer)).unwrap_or_default();
    format!(
        "{SANITIZE}\n_hearth_exec({code})\n\n{}\n\ncheck({})\n",
        p.test.trim_end(),
        p.entry_point
    )
}

/// The code of an answer: the first fenced block that defines the entry point (else the first
/// fenced block, else the whole answer; an unclosed fence runs to the end, as a truncated
/// answer does). Code that does not define the entry point is taken as its body and appended
/// to the prompt. The prompt's imports go first either way (answers often use `List` without
/// importing it; a repeated import is harmless).
fn code_of(p: &Problem, answer: &str) -> String {
    let blocks = fenced_blocks(answer);
    let def = format!("def {}(", p.entry_point);
    let code = blocks
        .iter()
        .find(|b| b.contains(&def))
        .or_else(|| blocks.first())
        .map_or(answer, |b| b.as_str());
    let imports: String = p
        .prompt
        .lines()
        .filter(|l| l.starts_with("import ") || l.starts_with("from "))
        .map(|l| format!("{l}\n"))
        .collect();
    if code.contains(&def) {
        format!("{imports}{code}")
    } else {
        format!("{}{code}", p.prompt)
    }
}

/// The contents of ```-fenced blocks, in order.
fn fenced_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let fence = line.trim_start().starts_with("```");
        match (&mut current, fence) {
            (None, true) => current = Some(String::new()),
            (Some(_), true) => blocks.extend(current.take()),
            (Some(b), false) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks.extend(current);
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem() -> Problem {
        Problem {
            task_id: "T/0".into(),
            prompt: "from typing import List\n\n\ndef total(xs: List[int]) -> int:\n    \"\"\"Sum.\"\"\"\n".into(),
            canonical_solution: "    return sum(xs)\n".into(),
            test: "def check(c):\n    assert c([1, 2]) == 3\n".into(),
            entry_point: "total".into(),
        }
    }

    #[test]
    fn takes_the_block_that_defines_the_function() {
        let a = "Here:\n```bash\npip install nothing\n```\n```python\ndef total(xs):\n    return sum(xs)\n```\nDone.";
        let code = code_of(&problem(), a);
        assert_eq!(
            code,
            "from typing import List\ndef total(xs):\n    return sum(xs)\n"
        );
    }

    #[test]
    fn a_bare_body_continues_the_prompt() {
        let prog = code_of(&problem(), "```python\n    return sum(xs)\n```");
        assert!(prog.starts_with(&problem().prompt), "{prog}");
        assert!(
            prog.contains("\"\"\"Sum.\"\"\"\n    return sum(xs)\n"),
            "{prog}"
        );
    }

    #[test]
    fn an_unclosed_fence_runs_to_the_end() {
        let prog = code_of(&problem(), "```python\ndef total(xs):\n    return sum(xs)");
        assert!(
            prog.contains("def total(xs):\n    return sum(xs)\n"),
            "{prog}"
        );
    }

    #[test]
    fn no_fence_means_the_whole_answer() {
        let prog = code_of(&problem(), "def total(xs):\n    return sum(xs)\n");
        assert!(
            prog.contains("def total(xs):\n    return sum(xs)\n"),
            "{prog}"
        );
    }

    #[test]
    fn the_program_runs_the_code_as_a_string_then_the_tests() {
        let a = "```python\ndef total(xs):\n    return sum(xs)  # \"sum\" \\ \t\n```";
        let prog = program(&problem(), a);
        let literal = "_hearth_exec(\"from typing import List\\ndef total(xs):\\n    return \
                       sum(xs)  # \\\"sum\\\" \\\\ \\t\\n\")\n";
        assert!(prog.contains(literal), "{prog}");
        assert!(
            prog.ends_with("def check(c):\n    assert c([1, 2]) == 3\n\ncheck(total)\n"),
            "{prog}"
        );
    }

    #[test]
    fn the_instruction_quotes_the_prompt() {
        let i = instruction(&problem());
        assert!(i.contains("```\nfrom typing import List"), "{i}");
        assert!(i.ends_with("\"\"\"Sum.\"\"\"\n```\n"), "{i}");
    }
}
