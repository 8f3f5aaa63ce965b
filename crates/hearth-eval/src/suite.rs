//! The loop: each problem asked through a [`Chat`], its answer tested in the sandbox, the
//! result logged before the next one starts.

use std::time::Instant;

use crate::exec::{self, Limits};
use crate::humaneval::Problem;
use crate::log::{Record, ResultLog};
use crate::{instruction, program, Chat, EvalError, SCORER};

/// How one problem went, for progress displays.
pub struct Progress<'a> {
    pub done: usize,
    pub total: usize,
    pub record: &'a Record,
    /// Taken from an earlier run's log.
    pub resumed: bool,
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
    mut progress: impl FnMut(Progress<'_>),
) -> Result<Vec<Record>, EvalError> {
    let mut out = Vec::with_capacity(problems.len());
    for (i, p) in problems.iter().enumerate() {
        if let Some(r) = log.get(&p.task_id) {
            let mut r = r.clone();
            if r.scorer != SCORER {
                let t1 = Instant::now();
                r.verdict = exec::run_python(&p.task_id, &program(p, &r.answer), limits)?;
                r.test_s = t1.elapsed().as_secs_f64();
                r.scorer = SCORER.into();
                log.push(r.clone())?;
            }
            progress(Progress {
                done: i + 1,
                total: problems.len(),
                record: &r,
                resumed: true,
            });
            out.push(r);
            continue;
        }
        let t0 = Instant::now();
        let crate::Answer {
            text: answer,
            tokens,
        } = chat
            .chat(&instruction(p), max_tokens)
            .map_err(|source| EvalError::Chat {
                model: chat.label(),
                task: p.task_id.clone(),
                source,
            })?;
        let model_s = t0.elapsed().as_secs_f64();
        let t1 = Instant::now();
        let verdict = exec::run_python(&p.task_id, &program(p, &answer), limits)?;
        let r = Record {
            task_id: p.task_id.clone(),
            verdict,
            answer,
            model_s,
            test_s: t1.elapsed().as_secs_f64(),
            tokens,
            scorer: SCORER.into(),
        };
        log.push(r.clone())?;
        progress(Progress {
            done: i + 1,
            total: problems.len(),
            record: &r,
            resumed: false,
        });
        out.push(r);
    }
    Ok(out)
}
