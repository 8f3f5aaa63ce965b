//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use hearth_engine::{DoneReason, Event, GenerateRequest, Model, Token};

/// Tests that run a model take this lock: several models decoding at once on a 2-core CI
/// machine would oversubscribe the CPU (llama.cpp's threads spin).
pub(crate) fn heavy() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Threads for tests: at most 2.
pub(crate) fn threads() -> u32 {
    hearth_engine::physical_cores().min(2)
}

/// Directory with llama.cpp's reference outputs (`shared/reference` next to the checkout).
pub(crate) fn reference_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("HEARTH_REFERENCE_DIR") {
        return Some(PathBuf::from(d));
    }
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .map(|a| a.join("shared/reference"))
        .find(|p| p.join("README.md").is_file())
}

/// Result of running a generation to its end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    pub tokens: Vec<Token>,
    pub text: String,
    pub reason: DoneReason,
    pub cached_tokens: u32,
}

/// Run `req` to completion (blocking).
pub(crate) fn collect(model: &Model, req: GenerateRequest) -> Outcome {
    let gen = model.generate(req).expect("generate");
    drain(gen.events)
}

pub(crate) fn drain(mut rx: hearth_engine::EventReceiver) -> Outcome {
    let mut tokens = Vec::new();
    let mut text = String::new();
    while let Some(ev) = rx.blocking_recv() {
        match ev {
            Event::Token { id, text: t } => {
                tokens.push(id);
                text.push_str(&t);
            }
            Event::Done { reason, stats } => {
                return Outcome {
                    tokens,
                    text,
                    reason,
                    cached_tokens: stats.cached_tokens,
                }
            }
            Event::Error(e) => panic!("generation failed: {e}"),
        }
    }
    panic!("event stream ended without Done");
}
