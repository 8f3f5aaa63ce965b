//! Autocomplete on the real Qwen2.5-Coder-0.5B: cache reuse does not change results, healing,
//! raw prompts, models without FIM, and superseding a burst of keystrokes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hearth_complete::{CompleteError, Completer, FimRequest, FinishReason};
use hearth_engine::{LoadOptions, Model};
use hearth_gguf::testing::{test_model, TestModel};
use hearth_prompt::FimLayout;

/// One model decoding at a time (2-core CI machines).
fn heavy() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn load(which: TestModel, n_parallel: u32) -> Option<Model> {
    let path = test_model(which)?;
    let opts = LoadOptions {
        n_ctx: 4096 * n_parallel,
        n_parallel,
        // One thread: no spin barriers to collapse when CI runs other builds beside the tests.
        threads: Some(1),
        ..LoadOptions::default()
    };
    Some(Model::load(&path, opts).expect("load model"))
}

/// (name, text with `█` at the cursor).
const CASES: &[(&str, &str)] = &[
    ("py_body", "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    ret█\n\n\ndef sub(a, b):\n    return a - b\n"),
    ("py_args", "import os\n\ndef read(path):\n    with open(path, █) as f:\n        return f.read()\n"),
    ("py_docstring", "def fibonacci(n):\n    \"\"\"█\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n"),
    ("py_loop", "def total(xs):\n    s = 0\n    for x in █\n        s += x\n    return s\n"),
    ("py_close", "values = [1, 2, 3]\nsquares = [v * v for v in values█\nprint(squares)\n"),
    ("py_class", "class Point:\n    def __init__(self, x, y):\n        self.x = x\n        self.█\n\n    def norm(self):\n        return (self.x ** 2 + self.y ** 2) ** 0.5\n"),
    ("py_dict", "config = {\n    \"host\": \"localhost\",\n    \"po█\n}\n"),
    ("rs_body", "fn max(a: i32, b: i32) -> i32 {\n    if a > b {█\n}\n\nfn main() {\n    println!(\"{}\", max(1, 2));\n}\n"),
    ("rs_args", "use std::fs;\n\nfn main() {\n    let text = fs::read_to_string(█).unwrap();\n    println!(\"{text}\");\n}\n"),
    ("rs_close", "fn squares(v: &[i32]) -> Vec<i32> {\n    v.iter().map(|x| x * x).collect()█\n\nfn main() {}\n"),
    ("rs_struct", "#[derive(Debug)]\nstruct User {\n    name: String,\n    ag█\n}\n"),
    ("rs_match", "enum Op { Add, Sub }\n\nfn apply(op: Op, a: i64, b: i64) -> i64 {\n    match op {\n        Op::Add => a + b,\n        Op::S█\n    }\n}\n"),
    ("rs_doc", "/// █\nfn is_even(n: u32) -> bool {\n    n % 2 == 0\n}\n"),
    ("js_body", "function greet(name) {\n  return `Hello, ${█\n}\n\nmodule.exports = { greet };\n"),
    ("js_args", "const fs = require('fs');\n\nfs.readFile('data.txt', 'utf8', (err, █) => {\n  if (err) throw err;\n  console.log(data);\n});\n"),
    ("js_arrow", "const nums = [1, 2, 3];\nconst doubled = nums.map(█);\nconsole.log(doubled);\n"),
    ("js_close", "function sum(xs) {\n  let s = 0;\n  for (const x of xs) {\n    s += x;\n  █\n  return s;\n}\n"),
    ("js_doc", "/**\n * █\n */\nfunction clamp(x, lo, hi) {\n  return Math.min(Math.max(x, lo), hi);\n}\n"),
    ("go_body", "package main\n\nimport \"fmt\"\n\nfunc abs(x int) int {\n\tif x < 0 {\n\t\tret█\n\t}\n\treturn x\n}\n\nfunc main() {\n\tfmt.Println(abs(-3))\n}\n"),
    ("go_args", "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tname := \"hearth\"\n\tfmt.Printf(█)\n}\n"),
    ("go_close", "package main\n\nfunc sum(xs []int) int {\n\tt := 0\n\tfor _, x := range xs {\n\t\tt += x\n\t}\n\treturn t\n█\n"),
    ("go_struct", "package main\n\ntype Server struct {\n\tHost string\n\tPo█\n}\n"),
];

fn split(case: &str) -> (String, String) {
    let (a, b) = case.split_once('█').expect("cursor marker");
    (a.to_owned(), b.to_owned())
}

fn run(
    c: &Completer,
    prefix: &str,
    suffix: &str,
    layout: FimLayout,
) -> hearth_complete::Completion {
    let req = FimRequest {
        layout,
        max_tokens: 16,
        session: Some("test".into()),
        ..FimRequest::new(prefix, suffix)
    };
    c.complete(req).expect("start").wait().expect("complete")
}

/// A request sharing (almost) nothing with the cases, so the next one starts cold.
fn flush(c: &Completer) {
    let r = run(c, "zzz unrelated text\n", "", FimLayout::Psm);
    assert!(r.stats.prompt_tokens > 0);
}

/// A time budget ends a long completion early, keeping what was generated.
#[test]
fn time_budget_ends_generation_early() {
    let Some(model) = load(TestModel::Qwen05, 1) else {
        return;
    };
    let _g = heavy();
    let c = Completer::open(model).expect("qwen has FIM");
    let req = FimRequest {
        max_tokens: 200,
        time_budget: Some(std::time::Duration::from_millis(1)),
        // A long docstring to write: without the budget this runs for many tokens.
        ..FimRequest::new("def parse_config(path):\n    \"\"\"", "\n")
    };
    let done = c.complete(req).expect("start").wait().expect("complete");
    assert_eq!(
        done.reason,
        hearth_complete::FinishReason::TimeBudget,
        "{done:?}"
    );
    assert!(done.stats.generated_tokens <= 8, "{done:?}");
}

/// Streamed pieces are the start of the final text, and together with `Done` make all of it.
#[test]
fn streamed_pieces_add_up_to_the_completion() {
    let Some(model) = load(TestModel::Qwen05, 1) else {
        return;
    };
    let _g = heavy();
    let c = Completer::open(model).expect("qwen has FIM");
    let mut streamed_early = 0;
    for (name, case) in CASES {
        let (prefix, suffix) = split(case);
        let whole = run(&c, &prefix, &suffix, FimLayout::Middle);
        let req = FimRequest {
            max_tokens: 16,
            session: Some("test".into()),
            ..FimRequest::new(prefix.as_str(), suffix.as_str())
        };
        let mut stream = c.complete(req).expect("start");
        let mut pieces = String::new();
        let done = loop {
            match stream.wait_progress() {
                hearth_complete::Progress::Text(t) => {
                    assert!(!t.is_empty(), "{name}: empty piece");
                    pieces.push_str(&t);
                }
                hearth_complete::Progress::Done(d) => break d.expect("complete"),
            }
        };
        assert_eq!(
            done.text, whole.text,
            "{name}: streaming changed the result"
        );
        assert!(
            done.text.starts_with(&pieces),
            "{name}: streamed {pieces:?}, final {:?}",
            done.text
        );
        if !pieces.is_empty() {
            streamed_early += 1;
        }
    }
    // Multi-line and mid-line completions give text before the end.
    assert!(
        streamed_early >= 5,
        "only {streamed_early} cases streamed anything early"
    );
}

#[test]
fn cache_reuse_does_not_change_completions() {
    let Some(model) = load(TestModel::Qwen05, 1) else {
        return;
    };
    let _g = heavy();
    let c = Completer::open(model).expect("qwen has FIM");
    let mut differing = Vec::new();
    let mut reused = 0u32;
    // Every case in the default layout, a sample in PSM (CI time).
    let runs = CASES
        .iter()
        .map(|c| (FimLayout::Middle, c))
        .chain(CASES.iter().step_by(4).map(|c| (FimLayout::Psm, c)));
    {
        for (layout, (name, case)) in runs {
            let (prefix, suffix) = split(case);
            // Cold: the slot holds an unrelated prompt.
            flush(&c);
            let cold = run(&c, &prefix, &suffix, layout);
            assert!(
                cold.stats.cached_tokens <= 1,
                "{name}: cold request reused {} tokens",
                cold.stats.cached_tokens
            );
            // Warm: the previous keystroke (one character less) was computed just before.
            let mut shorter = prefix.clone();
            shorter.pop();
            let _ = run(&c, &shorter, &suffix, layout);
            let warm = run(&c, &prefix, &suffix, layout);
            assert!(
                warm.stats.cached_tokens > 0,
                "{name}: warm request reused nothing"
            );
            reused += warm.stats.cached_tokens;
            eprintln!(
                "{layout:?} {name}: cached {}/{} -> {:?} ({:?})",
                warm.stats.cached_tokens, warm.stats.prompt_tokens, warm.text, warm.reason
            );
            if cold.text != warm.text || cold.reason != warm.reason {
                differing.push(format!(
                    "{layout:?} {name}: cold {:?} warm {:?}",
                    cold.text, warm.text
                ));
            }
        }
    }
    assert!(reused > 0);
    assert!(
        differing.is_empty(),
        "cache changed completions:\n{}",
        differing.join("\n")
    );
}

#[test]
fn healing_continues_the_typed_word() {
    let Some(model) = load(TestModel::Qwen05, 1) else {
        return;
    };
    let _g = heavy();
    let c = Completer::open(model).expect("qwen has FIM");
    let prefix = "def add(a, b):\n    \"\"\"Return the sum of a and b.\"\"\"\n    ret";
    let suffix = "\n\n\ndef sub(a, b):\n    return a - b\n";
    let req = FimRequest::new(prefix, suffix);
    let stream = c.complete(req).unwrap();
    assert!(!stream.prepared().heal.is_empty(), "typed text is healed");
    let done = stream.wait().unwrap();
    // The typed `ret` + completion must read as a return of the sum.
    let line = format!("ret{}", done.text);
    assert!(line.starts_with("return"), "{line:?}");
    assert!(line.contains('a') && line.contains('b'), "{line:?}");
    assert!(!done.text.contains('\n'), "line scope: {:?}", done.text);
    assert!(done.stats.heal_bytes > 0);
    assert!(done.stats.generated_tokens >= 1);
    // Without healing the same request still gives text, never the typed part again.
    let req = FimRequest {
        heal_tokens: 0,
        ..FimRequest::new(prefix, suffix)
    };
    let plain = c.complete(req).unwrap();
    assert!(plain.prepared().heal.is_empty());
    let plain = plain.wait().unwrap();
    assert!(!plain.text.starts_with("ret"), "{:?}", plain.text);
}

#[test]
fn raw_fim_prompt_is_sent_untouched() {
    let Some(model) = load(TestModel::Qwen05, 1) else {
        return;
    };
    let _g = heavy();
    let c = Completer::open(model.clone()).expect("qwen has FIM");
    let raw = "<|fim_prefix|>def square(x):\n    return <|fim_suffix|>\n<|fim_middle|>";
    let req = FimRequest::new(raw, "");
    let stream = c.complete(req).unwrap();
    let prepared = stream.prepared().clone();
    assert!(prepared.raw);
    assert!(prepared.heal.is_empty());
    assert_eq!(prepared.tokens, model.tokenize(raw, false, true).unwrap());
    let done = stream.wait().unwrap();
    assert!(done.text.contains('x'), "{:?}", done.text);
}

#[test]
fn model_without_fim_is_a_typed_error() {
    let Some(model) = load(TestModel::SmolLm2, 1) else {
        return;
    };
    let err = Completer::open(model).unwrap_err();
    assert!(matches!(err, CompleteError::NoFim { .. }), "{err}");
    assert!(err.to_string().contains("SmolLM2"), "{err}");
}

#[test]
fn burst_of_keystrokes_computes_only_the_last() {
    let Some(model) = load(TestModel::Qwen05, 1) else {
        return;
    };
    let _g = heavy();
    let c = std::sync::Arc::new(Completer::open(model.clone()).expect("qwen has FIM"));
    let base = "import math\n\n\nclass Shape:\n    def area(self):\n        raise NotImplementedError\n\n\nclass Circle(Shape):\n    def __init__(self, r):\n        self.r = r\n\n    def area(self):\n        ";
    let typed = "return math.pi * self.r ** 2 + 0";
    let mut handles = Vec::new();
    for k in 0..20 {
        let prefix = format!("{base}{}", &typed[..k + 1]);
        let req = FimRequest {
            session: Some("client-1:circle.py".into()),
            max_tokens: 32,
            ..FimRequest::new(prefix, "")
        };
        let stream = c.complete(req).unwrap();
        handles.push(std::thread::spawn(move || stream.wait().unwrap()));
        std::thread::sleep(Duration::from_millis(30));
    }
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for (k, r) in results.iter().enumerate() {
        eprintln!(
            "#{k}: {:?} generated {} cached {}/{} total {:?}",
            r.reason,
            r.stats.generated_tokens,
            r.stats.cached_tokens,
            r.stats.prompt_tokens,
            r.stats.total
        );
    }
    let (last, earlier) = results.split_last().unwrap();
    assert!(
        matches!(last.reason, FinishReason::Stop | FinishReason::Length),
        "last request ran to its end: {:?}",
        last.reason
    );
    for (k, r) in earlier.iter().enumerate() {
        assert_eq!(r.reason, FinishReason::Superseded, "request #{k}");
    }
    // The scheduler publishes slot stats at the end of the step that sent `Done`.
    let mut slots = model.slots();
    for _ in 0..200 {
        if slots.busy == 0 && slots.queued == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        slots = model.slots();
    }
    assert_eq!(slots.busy, 0, "{slots:?}");
    assert_eq!(slots.queued, 0, "{slots:?}");
    assert_eq!(c.sessions_in_flight(), 0);
}

#[test]
fn different_sessions_do_not_supersede_each_other() {
    let Some(model) = load(TestModel::Qwen05, 2) else {
        return;
    };
    let _g = heavy();
    let c = Completer::open(model).expect("qwen has FIM");
    let a = c
        .complete(FimRequest {
            session: Some("a".into()),
            ..FimRequest::new("def one():\n    return ", "\n")
        })
        .unwrap();
    let b = c
        .complete(FimRequest {
            session: Some("b".into()),
            ..FimRequest::new("def two():\n    return ", "\n")
        })
        .unwrap();
    let (a, b) = (a.wait().unwrap(), b.wait().unwrap());
    assert_ne!(a.reason, FinishReason::Superseded);
    assert_ne!(b.reason, FinishReason::Superseded);
}

/// `/infill`'s repository files are trimmed to the context window: the files sent last (the
/// nearest to the cursor) are kept whole, the rest dropped, and the completion runs instead
/// of failing with a prompt that does not fit.
#[test]
fn repository_files_are_trimmed_to_the_context() {
    let Some(path) = test_model(TestModel::Qwen05) else {
        return;
    };
    let _g = heavy();
    let opts = LoadOptions {
        n_ctx: 1024,
        n_parallel: 1,
        threads: Some(1),
        ..LoadOptions::default()
    };
    let model = Model::load(&path, opts).expect("load model");
    let c = Completer::open(model).expect("qwen has FIM");
    // Each far file alone is ~1,000 tokens; the near one is small.
    let far: String = (0..120)
        .map(|i| format!("def helper_{i}(x):\n    return x * {i}\n"))
        .collect();
    let near = "def circle_area(r):\n    return 3.14159 * r * r\n".to_string();
    let (prefix, suffix) = split(CASES[0].1);
    let req = FimRequest {
        max_tokens: 16,
        extra_files: vec![
            ("far1.py".into(), far.clone()),
            ("far2.py".into(), far),
            ("geometry.py".into(), near),
        ],
        ..FimRequest::new(prefix, suffix)
    };
    let prepared = c.prepare(&req).unwrap();
    assert!(
        prepared.tokens.len() + 16 < 1024,
        "{} prompt tokens",
        prepared.tokens.len()
    );
    let text = c.model().detokenize(&prepared.tokens).unwrap();
    assert!(text.contains("circle_area"), "the nearest file was dropped");
    assert!(!text.contains("helper_119"), "a far file was kept");
    let done = c.complete(req).unwrap().wait().unwrap();
    assert!(done.stats.prompt_tokens > 0);
}
