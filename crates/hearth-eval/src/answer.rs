//! What a chat model is asked, and the program made of its answer.

use crate::humaneval::Problem;

/// Names the instruction and extraction below in result keys and reports: change it when
/// either changes, so cached results of the old way are not mixed with new ones.
pub const ANSWER_STYLE: &str = "evalplus-instruct-v1";

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
/// [`code_of`]), the problem's tests, and the call of `check`.
pub fn program(p: &Problem, answer: &str) -> String {
    let code = code_of(p, answer);
    format!(
        "{code}\n\n{}\n\ncheck({})\n",
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
        let prog = program(&problem(), a);
        assert!(
            prog.starts_with("from typing import List\ndef total(xs):\n    return sum(xs)\n"),
            "{prog}"
        );
        assert!(prog.ends_with("check(total)\n"), "{prog}");
        assert!(!prog.contains("pip install"));
    }

    #[test]
    fn a_bare_body_continues_the_prompt() {
        let prog = program(&problem(), "```python\n    return sum(xs)\n```");
        assert!(prog.starts_with(&problem().prompt), "{prog}");
        assert!(
            prog.contains("\"\"\"Sum.\"\"\"\n    return sum(xs)\n"),
            "{prog}"
        );
    }

    #[test]
    fn an_unclosed_fence_runs_to_the_end() {
        let prog = program(&problem(), "```python\ndef total(xs):\n    return sum(xs)");
        assert!(
            prog.contains("def total(xs):\n    return sum(xs)\n"),
            "{prog}"
        );
    }

    #[test]
    fn no_fence_means_the_whole_answer() {
        let prog = program(&problem(), "def total(xs):\n    return sum(xs)\n");
        assert!(
            prog.contains("def total(xs):\n    return sum(xs)\n"),
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
