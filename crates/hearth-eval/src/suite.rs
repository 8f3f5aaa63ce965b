//! The loop: each problem asked through a [`Chat`] (or a [`Complete`]), its answer tested in the sandbox, the
//! result logged before the next one starts.

use std::time::Instant;

use crate::edit::{self, EditFormat, EDIT_SCORER};
use crate::exec::{self, Limits, Verdict};
use crate::humaneval::Problem;
use crate::infilling::{self, FimTask, Variant, FIM_SCORER};
use crate::log::{Record, ResultLog, Try};
use crate::polyglot::Exercise;
use crate::{instruction, program, Answer, Chat, Complete, EvalError, Message, SCORER};

/// How one problem went, for progress displays.
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub record: &'a Record,
    /// Taken from an earlier run's log.
    pub resumed: bool,
}

/// How an answer scored.
pub struct Scored {
    pub verdict: Verdict,
    /// Whether it is the reference text, where the suite asks that.
    pub exact: Option<bool>,
}

/// Answer and test every problem not already in `log`, in order; the results of all of them,
/// in order. An answer in `log` that was scored another way than [`SCORER`] is tested again,
/// not asked again. A model error stops the run (what was done stays logged); a failing or
/// misbehaving program is that problem's failure.
pub fn run_humaneval(
    chat: &dyn Chat,
    problems: &[Problem],
    max_tokens: u32,
    limits: &Limits,
    log: &mut ResultLog,
    progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Record>, EvalError> {
    run_tasks(
        problems,
        |p| &p.task_id,
        SCORER,
        |p| {
            chat.chat(&instruction(p), max_tokens)
                .map_err(|source| EvalError::Chat {
                    model: chat.label(),
                    task: p.task_id.clone(),
                    source,
                })
        },
        |p, answer| {
            Ok(Scored {
                verdict: exec::run_python(&p.task_id, &program(p, answer), limits)?,
                exact: None,
            })
        },
        log,
        progress,
    )
}

/// HumanEval with `samples` sampled answers per problem (for pass@k): the answer `i` to
/// problem `P` is logged as `P#i`, asked with temperature `temperature` and seed `i`.
#[allow(clippy::too_many_arguments)]
pub fn run_humaneval_sampled(
    chat: &dyn Chat,
    problems: &[Problem],
    samples: u32,
    temperature: f32,
    max_tokens: u32,
    limits: &Limits,
    log: &mut ResultLog,
    progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Record>, EvalError> {
    let tasks: Vec<(String, &Problem, u64)> = problems
        .iter()
        .flat_map(|p| (0..samples).map(move |i| (format!("{}#{i}", p.task_id), p, u64::from(i))))
        .collect();
    run_tasks(
        &tasks,
        |t| &t.0,
        SCORER,
        |(id, p, seed)| {
            chat.sample(&instruction(p), max_tokens, temperature, *seed)
                .map_err(|source| EvalError::Chat {
                    model: chat.label(),
                    task: id.clone(),
                    source,
                })
        },
        |(id, p, _), answer| {
            Ok(Scored {
                verdict: exec::run_python(id, &program(p, answer), limits)?,
                exact: None,
            })
        },
        log,
        progress,
    )
}

/// [`run_humaneval`] for a variant of the infilling benchmark through a [`Complete`]: each
/// task's completion is inserted at the cursor ([`infilling::inserted`]), compared with the
/// masked text and the completed program's tests run in the sandbox.
pub fn run_fim(
    model: &dyn Complete,
    variant: Variant,
    tasks: &[FimTask],
    limits: &Limits,
    log: &mut ResultLog,
    progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Record>, EvalError> {
    run_tasks(
        tasks,
        |t| &t.task_id,
        FIM_SCORER,
        |t| {
            model
                .complete(
                    &t.prefix,
                    &t.suffix,
                    variant.max_tokens(),
                    variant.one_line(),
                )
                .map_err(|source| EvalError::Chat {
                    model: model.label(),
                    task: t.task_id.clone(),
                    source,
                })
        },
        |t, completion| {
            let text = infilling::inserted(variant, completion);
            Ok(Scored {
                verdict: exec::run_python(&t.task_id, &infilling::program(t, &text), limits)?,
                exact: Some(infilling::exact(t, &text)),
            })
        },
        log,
        progress,
    )
}

/// Most answers per exercise: the first, and one after seeing the test output (as Aider's
/// leaderboard counts).
pub const EDIT_TRIES: usize = 2;

/// The Aider-style edit suite: each exercise's files are edited by the model in `format`
/// and their tests run in the sandbox; after a failure (or edits that could not be applied)
/// the model sees the test output (or why) and tries once more. An exercise in `log` is
/// taken from it when it was run with [`EDIT_SCORER`], else asked again.
pub fn run_edit(
    chat: &dyn Chat,
    format: EditFormat,
    exercises: &[Exercise],
    max_tokens: u32,
    limits: &Limits,
    log: &mut ResultLog,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Record>, EvalError> {
    let mut out = Vec::with_capacity(exercises.len());
    for (i, ex) in exercises.iter().enumerate() {
        let (r, resumed) = match log.get(&ex.name) {
            Some(r) if r.scorer == EDIT_SCORER => (r.clone(), true),
            _ => {
                let r = edit_one(chat, format, ex, max_tokens, limits)?;
                log.push(r.clone())?;
                (r, false)
            }
        };
        progress(Progress {
            done: i + 1,
            total: exercises.len(),
            record: &r,
            resumed,
        });
        out.push(r);
    }
    Ok(out)
}

fn edit_one(
    chat: &dyn Chat,
    format: EditFormat,
    ex: &Exercise,
    max_tokens: u32,
    limits: &Limits,
) -> Result<Record, EvalError> {
    let mut messages = edit::first_messages(ex, format);
    let mut tries = Vec::new();
    let (mut model_s, mut test_s) = (0.0, 0.0);
    let mut tokens: Option<u32> = Some(0);
    let mut verdict = Verdict::Failed {
        reason: "not tried".into(),
    };
    let mut answer = String::new();
    for _ in 0..EDIT_TRIES {
        let t0 = Instant::now();
        let a = chat
            .converse(&messages, max_tokens)
            .map_err(|source| EvalError::Chat {
                model: chat.label(),
                task: ex.name.clone(),
                source,
            })?;
        model_s += t0.elapsed().as_secs_f64();
        tokens = tokens.zip(a.tokens).map(|(t, n)| t.saturating_add(n));
        let t1 = Instant::now();
        let (v, failure, malformed) = match edit::apply(format, &a.text, &ex.solution) {
            Err(m) => (
                Verdict::Failed {
                    reason: format!("malformed edit: {}", first_line(&m.to_string())),
                },
                m.to_string(),
                true,
            ),
            Ok(files) => {
                let all: Vec<(String, String)> =
                    files.into_iter().chain(ex.tests.iter().cloned()).collect();
                let (v, output) = exec::run_tests(&ex.name, &all, limits)?;
                (v, edit::feedback(&output), false)
            }
        };
        test_s += t1.elapsed().as_secs_f64();
        tries.push(Try {
            passed: v.passed(),
            malformed,
        });
        verdict = v;
        answer = a.text;
        if verdict.passed() {
            break;
        }
        messages.push(Message::assistant(answer.clone()));
        messages.push(edit::retry_message(ex, &failure));
    }
    Ok(Record {
        task_id: ex.name.clone(),
        verdict,
        answer,
        model_s,
        test_s,
        tokens,
        scorer: EDIT_SCORER.into(),
        exact: None,
        tries,
    })
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The loop every suite shares: ask (unless `log` has the answer), score, log, report.
fn run_tasks<T>(
    tasks: &[T],
    id: impl Fn(&T) -> &str,
    scorer: &str,
    mut ask: impl FnMut(&T) -> Result<Answer, EvalError>,
    score: impl Fn(&T, &str) -> Result<Scored, EvalError>,
    log: &mut ResultLog,
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Record>, EvalError> {
    let mut out = Vec::with_capacity(tasks.len());
    for (i, t) in tasks.iter().enumerate() {
        let task_id = id(t);
        let (r, resumed) = match log.get(task_id) {
            Some(r) if r.scorer == scorer => (r.clone(), true),
            Some(r) => {
                let mut r = r.clone();
                let t1 = Instant::now();
                let s = score(t, &r.answer)?;
                r.test_s = t1.elapsed().as_secs_f64();
                r.verdict = s.verdict;
                r.exact = s.exact;
                r.scorer = scorer.into();
                log.push(r.clone())?;
                (r, true)
            }
            None => {
                let t0 = Instant::now();
                let Answer { text, tokens } = ask(t)?;
                let model_s = t0.elapsed().as_secs_f64();
                let t1 = Instant::now();
                let s = score(t, &text)?;
                let r = Record {
                    task_id: task_id.to_string(),
                    verdict: s.verdict,
                    answer: text,
                    model_s,
                    test_s: t1.elapsed().as_secs_f64(),
                    tokens,
                    scorer: scorer.into(),
                    exact: s.exact,
                    tries: Vec::new(),
                };
                log.push(r.clone())?;
                (r, false)
            }
        };
        progress(Progress {
            done: i + 1,
            total: tasks.len(),
            record: &r,
            resumed,
        });
        out.push(r);
    }
    Ok(out)
}
