//! Generated code never reaches the network or the user's files: answers that try to escape
//! (connect out, write to `$HOME`, read a private key, fork without end, allocate 10 GB) are
//! each contained, and each is a failure of its problem, not of the run. Every planted answer
//! *also* solves the problem, so it passes exactly when its escape succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use hearth_eval::exec::{Limits, Verdict};
use hearth_eval::humaneval::Problem;
use hearth_eval::log::{ResultLog, RunKey};
use hearth_eval::suite::run_humaneval;
use hearth_eval::{Answer, Chat, ChatError, Message};

/// Answers from a script, one per problem in order (the model is not what is tested here).
struct Planted(Vec<String>, std::cell::Cell<usize>);

impl Chat for Planted {
    fn label(&self) -> String {
        "planted".into()
    }
    fn converse(&self, _m: &[Message], _max_tokens: u32) -> Result<Answer, ChatError> {
        let i = self.1.get();
        self.1.set(i + 1);
        self.0
            .get(i)
            .cloned()
            .map(Answer::from)
            .ok_or_else(|| ChatError("no more answers".into()))
    }
}

fn problem(i: usize) -> Problem {
    Problem {
        task_id: format!("Escape/{i}"),
        prompt: "def add(a: int, b: int) -> int:\n    \"\"\"Sum of a and b.\"\"\"\n".into(),
        canonical_solution: "    return a + b\n".into(),
        test: "def check(candidate):\n    assert candidate(2, 3) == 5\n".into(),
        entry_point: "add".into(),
    }
}

/// The escape runs inside the solution, when the tests call it (the scorer drops bare
/// statements at the top level of an answer, as EvalPlus' sanitizer does).
fn answer(escape: &str) -> String {
    let body: String = escape.lines().map(|l| format!("    {l}\n")).collect();
    format!("```python\ndef add(a, b):\n{body}    return a + b\n```\n")
}

fn python() -> Option<Limits> {
    let limits = Limits {
        timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    if limits.python.exists() {
        Some(limits)
    } else {
        eprintln!("skipping: no {}", limits.python.display());
        None
    }
}

#[test]
fn escapes_fail_their_problem_and_the_run_goes_on() {
    let Some(limits) = python() else { return };
    // A listener on the host's loopback: a connection from the sandbox would reach it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Files outside the scratch directory: a "home" to write into, a "private key" to read.
    let home = tempfile::tempdir().unwrap();
    let key_dir = tempfile::tempdir().unwrap();
    let key = key_dir.path().join("id_ed25519");
    std::fs::write(&key, "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n").unwrap();
    // The real home directory where there is one (the file is removed again if the
    // sandbox ever let it through), else a stand-in.
    let home_dir = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .filter(|h| h.is_dir())
        .unwrap_or_else(|| home.path().to_path_buf());
    let planted_file = home_dir.join(format!("hearth-eval-planted-{}.txt", std::process::id()));
    let escapes = [
        format!("import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'leak')"),
        format!("open({:?}, 'w').write('written')", planted_file.display().to_string()),
        format!("assert 'secret' in open({:?}).read()", key.display().to_string()),
        "import os\nwhile True:\n    os.fork()".to_string(),
        "buf = bytearray(10 * 1024 ** 3)\nbuf[-1] = 1".to_string(),
    ];
    let mut answers: Vec<String> = escapes.iter().map(|e| answer(e)).collect();
    // After them, an honest answer: the run is still going and still scores.
    answers.push(answer("import math"));
    let problems: Vec<Problem> = (0..answers.len()).map(problem).collect();
    let chat = Planted(answers, std::cell::Cell::new(0));
    let logs = tempfile::tempdir().unwrap();
    let key = RunKey {
        model: "planted".into(),
        suite: "containment".into(),
        settings: serde_json::json!({}),
    };
    let mut log = ResultLog::open(logs.path(), &key).unwrap();
    let records = run_humaneval(&chat, &problems, 64, &limits, &mut log, |_| {}).unwrap();

    let verdicts: Vec<&Verdict> = records.iter().map(|r| &r.verdict).collect();
    for (r, what) in records.iter().zip([
        "connect out",
        "write to $HOME",
        "read a private key",
        "fork bomb",
        "allocate 10 GB",
    ]) {
        assert!(
            !r.verdict.passed(),
            "{what}: the escape worked ({:?})",
            r.verdict
        );
        eprintln!("{what}: {:?}", r.verdict);
    }
    assert_eq!(*verdicts[5], Verdict::Passed, "{verdicts:?}");
    let escaped = planted_file.exists();
    let _ = std::fs::remove_file(&planted_file);
    assert!(!escaped, "the sandbox wrote into {}", home_dir.display());
    // Nothing connected to the host's listener.
    let mut got = Vec::new();
    if let Ok((mut s, _)) = listener.accept() {
        let _ = s.read_to_end(&mut got);
        panic!("the sandbox connected to the host: {got:?}");
    }
}

#[test]
fn a_program_that_runs_forever_times_out() {
    let Some(mut limits) = python() else { return };
    limits.timeout = Duration::from_secs(2);
    let v = hearth_eval::exec::run_python("T", "while True:\n    pass\n", &limits).unwrap();
    let Verdict::Failed { reason } = v else {
        panic!("passed")
    };
    assert!(
        reason.contains("timed out") || reason.contains("signal"),
        "{reason}"
    );
}
