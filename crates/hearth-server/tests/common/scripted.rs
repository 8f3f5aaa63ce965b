//! A scripted engine: every generation emits the same text pieces, records what it was asked,
//! and notices cancellation. With it the server's streaming formats, context limits and
//! Modelfile handling are tested without llama.cpp.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_gguf::{Array, Value};
use hearth_server::backend::{
    BackendError, Engine, Finish, GenEvent, GenParams, GenStream, LoadParams, Runner, RunnerInfo,
    SlotUsage, Stats,
};

/// The chat template of the tiny model: `<|role|>content` lines, then `<|assistant|>`.
pub(crate) const TEMPLATE: &str =
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}\n{% endfor %}\
    {% if add_generation_prompt %}<|assistant|>{% endif %}";

/// A tiny GGUF with [`TEMPLATE`] and Qwen's FIM tokens, written under `dir`.
pub(crate) fn tiny_model(dir: &Path) -> PathBuf {
    let mut w = hearth_gguf::writer::tiny_llama();
    let tokens = [
        "<unk>",
        "<s>",
        "</s>",
        "a",
        "<|fim_prefix|>",
        "<|fim_suffix|>",
        "<|fim_middle|>",
    ];
    for (k, v) in &mut w.metadata {
        match k.as_str() {
            "tokenizer.ggml.tokens" => {
                *v = Value::Array(Array::String(
                    tokens.iter().map(|t| t.to_string()).collect(),
                ))
            }
            "tokenizer.ggml.token_type" => *v = Value::Array(Array::I32(vec![2, 3, 3, 1, 4, 4, 4])),
            "tokenizer.chat_template" => *v = Value::String(TEMPLATE.into()),
            _ => {}
        }
    }
    for t in &mut w.tensors {
        if t.name == "token_embd.weight" {
            t.dims = vec![8, tokens.len() as u64];
            t.data = vec![0; 8 * tokens.len() * 4];
        }
    }
    let path = dir.join("tiny.gguf");
    std::fs::write(&path, w.to_bytes()).unwrap();
    path
}

/// A server whose only model, `tiny:latest`, is the tiny GGUF run by a scripted runner that
/// answers `pieces` with `n_ctx` context per sequence.
pub(crate) fn serve_tiny(
    pieces: &[&str],
    n_ctx: u32,
    cfg: hearth_server::config::ServerConfig,
) -> (
    tempfile::TempDir,
    hearth_server::AppState,
    Arc<ScriptedRunner>,
) {
    let (dir, stores) = super::temp_store();
    super::import(&stores, "tiny:latest", &tiny_model(dir.path()));
    let runner = ScriptedRunner::new(pieces, n_ctx);
    let s = super::state(cfg, stores, Arc::new(ScriptedEngine(runner.clone())));
    (dir, s, runner)
}

/// What a scripted generation does.
pub(crate) struct Script {
    /// Text pieces, in order.
    pub pieces: Vec<String>,
    /// Context per sequence.
    pub n_ctx: u32,
    /// Pause between pieces.
    pub delay: Duration,
    /// End with this engine failure instead of `Done`.
    pub fail: Option<String>,
}

/// The runner: records every request, counts a token per byte.
pub(crate) struct ScriptedRunner {
    pub script: Mutex<Script>,
    pub seen: Mutex<Vec<GenParams>>,
    /// Generations whose receiver was gone before they ended.
    pub cancelled: Arc<AtomicU32>,
}

impl ScriptedRunner {
    pub(crate) fn new(pieces: &[&str], n_ctx: u32) -> Arc<Self> {
        Arc::new(ScriptedRunner {
            script: Mutex::new(Script {
                pieces: pieces.iter().map(|p| p.to_string()).collect(),
                n_ctx,
                delay: Duration::from_millis(2),
                fail: None,
            }),
            seen: Mutex::new(Vec::new()),
            cancelled: Arc::new(AtomicU32::new(0)),
        })
    }

    /// The last request the runner got.
    pub(crate) fn last(&self) -> GenParams {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("no request")
    }
}

impl Runner for ScriptedRunner {
    fn info(&self) -> RunnerInfo {
        RunnerInfo {
            n_ctx_per_seq: self.script.lock().unwrap().n_ctx,
            memory_bytes: 1,
            ..RunnerInfo::default()
        }
    }

    fn prompt_tokens(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        Ok(text.bytes().map(i32::from).collect())
    }

    fn tokenize(&self, text: &str) -> Result<Vec<i32>, BackendError> {
        Ok(text.bytes().map(i32::from).collect())
    }

    fn generate(&self, params: GenParams) -> Result<GenStream, BackendError> {
        // The service hands over the tokens it counted, so the prompt is not tokenized twice.
        let tokens = params.tokens.clone().unwrap_or_else(|| {
            assert!(
                params.fim.is_some() || !params.context.is_empty(),
                "prompt not tokenized"
            );
            params.prompt.bytes().map(i32::from).collect()
        });
        let prompt_tokens = u32::try_from(tokens.len() + params.context.len()).unwrap();
        self.seen.lock().unwrap().push(params);
        let (pieces, delay, fail) = {
            let s = self.script.lock().unwrap();
            (s.pieces.clone(), s.delay, s.fail.clone())
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let flag = self.cancelled.clone();
        std::thread::spawn(move || {
            for p in &pieces {
                std::thread::sleep(delay);
                if tx.send(GenEvent::Text(p.clone())).is_err() {
                    flag.fetch_add(1, Ordering::SeqCst);
                    return;
                }
            }
            std::thread::sleep(delay);
            let last = match fail {
                Some(m) => GenEvent::Error(BackendError::Other(m)),
                None => GenEvent::Done(
                    Finish::Stop,
                    Stats {
                        prompt_tokens,
                        cached_tokens: 0,
                        prompt_eval: Duration::from_millis(3),
                        eval_tokens: u32::try_from(pieces.len()).unwrap(),
                        eval: Duration::from_millis(7),
                    },
                ),
            };
            if tx.send(last).is_err() {
                flag.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(GenStream { events: rx })
    }

    fn slots(&self) -> SlotUsage {
        SlotUsage::default()
    }
}

/// An engine whose every model is `runner`.
pub(crate) struct ScriptedEngine(pub Arc<ScriptedRunner>);

impl Engine for ScriptedEngine {
    fn load(&self, _: &Path, _: &LoadParams) -> Result<Arc<dyn Runner>, BackendError> {
        Ok(self.0.clone())
    }
}
