//! Loading a model: hearth-gguf validation, then llama.cpp; the handle upper layers hold.
use std::num::NonZeroU32;
use std::path::Path;
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::embed::{self, Embeddings};
use crate::scheduler::{self, Command, Shared};
use crate::types::{
    EmbeddingInfo, EngineError, FimTokens, GenerateRequest, Generation, GpuLayers, LoadOptions,
    ModelInfo, Pooling, SlotStats, Token,
};

/// Longest text [`Model::tokenize`] accepts (llama.cpp counts in i32).
pub const MAX_TOKENIZE_BYTES: usize = 64 << 20;
/// Most sequence slots one model may have.
pub const MAX_PARALLEL: u32 = 64;

/// The process-wide llama.cpp backend, initialised once (llama.cpp's backend init is global).
pub(crate) fn backend() -> Result<&'static LlamaBackend, EngineError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs to stderr by default; route it into tracing (target "llama-cpp-2").
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| EngineError::Option {
            option: "backend",
            message: format!("llama.cpp backend initialisation failed: {e}"),
        })
}

/// llama.cpp's description of the CPU features and backends it was built with, e.g.
/// `CPU : SSE3 = 1 | AVX2 = 1 | AVX512 = 1 | ...`.
pub fn system_info() -> String {
    if backend().is_err() {
        return String::new();
    }
    #[allow(unsafe_code)]
    // SAFETY: llama_print_system_info returns a pointer to a static, NUL-terminated buffer
    // owned by llama.cpp; we copy it out immediately. The backend is initialised above.
    let s = unsafe {
        let p = llama_cpp_sys_2::llama_print_system_info();
        if p.is_null() {
            return String::new();
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    };
    s.trim().to_owned()
}

/// Number of physical CPU cores (hyper-threads not counted), at least 1.
pub fn physical_cores() -> u32 {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    let physical = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|s| {
        let mut pairs = std::collections::BTreeSet::new();
        let mut phys = "";
        for line in s.lines() {
            let mut kv = line.splitn(2, ':').map(str::trim);
            match (kv.next(), kv.next()) {
                (Some("physical id"), Some(v)) => phys = v,
                (Some("core id"), Some(v)) => {
                    pairs.insert((phys.to_owned(), v.to_owned()));
                }
                _ => {}
            }
        }
        (!pairs.is_empty()).then_some(pairs.len())
    });
    // In a cgroup/affinity-limited process, never exceed the CPUs we may run on.
    let n = physical.map_or(logical, |p| p.min(logical));
    u32::try_from(n.max(1)).unwrap_or(1)
}

pub(crate) struct Inner {
    pub(crate) llama: Arc<LlamaModel>,
    info: ModelInfo,
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the command channel ends the scheduler loop once its work is cancelled.
        if let Ok(mut tx) = self.commands.lock() {
            tx.take();
        }
        if let Ok(mut t) = self.thread.lock() {
            if let Some(handle) = t.take() {
                let _ = handle.join();
            }
        }
    }
}

/// A loaded model with its scheduler thread. Cheap to clone; the model is freed when the last
/// clone is dropped.
#[derive(Clone)]
pub struct Model {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.inner.info)
            .finish()
    }
}

fn token_opt(t: LlamaToken, n_vocab: i32) -> Option<Token> {
    (t.0 >= 0 && t.0 < n_vocab).then_some(t.0)
}

impl Model {
    /// Validate `path` with hearth-gguf, then load it with llama.cpp and start its scheduler.
    ///
    /// A file that fails validation is never handed to llama.cpp.
    pub fn load(path: &Path, opts: LoadOptions) -> Result<Model, EngineError> {
        let started = Instant::now();
        if opts.n_parallel == 0 || opts.n_parallel > MAX_PARALLEL {
            return Err(EngineError::Option {
                option: "n_parallel",
                message: format!("must be 1..={MAX_PARALLEL}, got {}", opts.n_parallel),
            });
        }
        if opts.n_batch == 0 || opts.n_batch > 65_536 {
            return Err(EngineError::Option {
                option: "n_batch",
                message: format!("must be 1..=65536, got {}", opts.n_batch),
            });
        }
        let gguf = hearth_gguf::GgufFile::open(path).map_err(|e| EngineError::Invalid {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let meta = gguf.metadata();
        let architecture = meta.architecture().unwrap_or("unknown").to_owned();
        let name = meta.get_str("general.name").map(str::to_owned);
        let chat_template = meta.tokenizer().chat_template;
        let hp = meta.hparams();
        let file_size = gguf.file_size;
        let n_ctx_train_meta = hp.context_length.unwrap_or(0);
        // An embedding model names its pooling; encoders also say their attention is not causal.
        let pooling = meta.embedding_pooling().and_then(Pooling::from_gguf);
        let causal = meta
            .get_bool(&format!("{architecture}.attention.causal"))
            .unwrap_or(true);
        let embedding_out = meta.get_u64(&format!("{architecture}.embedding_length_out"));
        drop(gguf);

        let backend = backend()?;
        let mut mparams = LlamaModelParams::default().with_use_mmap(opts.use_mmap);
        mparams = match opts.gpu_layers {
            GpuLayers::None => mparams.with_n_gpu_layers(0),
            GpuLayers::All => mparams.with_n_gpu_layers(u32::MAX >> 1),
            GpuLayers::Count(n) => mparams.with_n_gpu_layers(n),
        };
        let llama =
            LlamaModel::load_from_file(backend, path, &mparams).map_err(|_| EngineError::Load {
                path: path.to_path_buf(),
                architecture: architecture.clone(),
            })?;
        let llama = Arc::new(llama);

        let n_ctx_train = llama.n_ctx_train();
        let embedding = pooling.map(|pooling| EmbeddingInfo {
            dimensions: embedding_out
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or_else(|| u32::try_from(llama.n_embd()).unwrap_or(0)),
            pooling,
        });
        let mut n_ctx = if opts.n_ctx == 0 {
            n_ctx_train
        } else {
            opts.n_ctx
        };
        let (n_parallel, n_seq_max, n_batch);
        if embedding.is_some() {
            // A whole input is evaluated in one batch: the context is the batch, no longer than
            // the model was trained for. Encoders batch many inputs; a decoder's KV cache is
            // split per sequence, so it takes one at a time.
            if n_ctx_train > 0 {
                n_ctx = n_ctx.min(n_ctx_train);
            }
            n_ctx = n_ctx.clamp(16, 8192);
            n_parallel = 1;
            n_seq_max = if causal { 1 } else { embed::MAX_SEQ };
            n_batch = n_ctx;
        } else {
            // Each sequence needs at least a few cells; round to a multiple of n_parallel.
            n_ctx = n_ctx.max(opts.n_parallel.saturating_mul(16));
            n_ctx -= n_ctx % opts.n_parallel;
            n_parallel = opts.n_parallel;
            n_seq_max = opts.n_parallel;
            n_batch = opts.n_batch.min(n_ctx);
        }
        let threads = opts.threads.unwrap_or_else(physical_cores).max(1);
        let threads_batch = opts.threads_batch.unwrap_or(threads).max(1);

        let cparams = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(n_ctx))
            .with_n_batch(n_batch)
            .with_n_ubatch(n_batch)
            .with_n_seq_max(n_seq_max)
            .with_embeddings(embedding.is_some())
            .with_n_threads(i32::try_from(threads).unwrap_or(i32::MAX))
            .with_n_threads_batch(i32::try_from(threads_batch).unwrap_or(i32::MAX))
            .with_flash_attention_policy(if opts.flash_attention {
                llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_ENABLED
            } else {
                llama_cpp_sys_2::LLAMA_FLASH_ATTN_TYPE_DISABLED
            });

        let n_vocab = llama.n_vocab();
        let vocab = llama.vocab();
        let fim = match (
            token_opt(vocab.fim_pre(), n_vocab),
            token_opt(vocab.fim_suf(), n_vocab),
            token_opt(vocab.fim_mid(), n_vocab),
        ) {
            (Some(prefix), Some(suffix), Some(middle)) => Some(FimTokens {
                prefix,
                suffix,
                middle,
            }),
            _ => None,
        };
        // KV size: per layer, per cell, K (head_count_kv * key_length) + V (.. * value_length), f16.
        let kv_bytes = if !causal {
            0
        } else {
            let head_count = hp.head_count.unwrap_or(1).max(1);
            let key_len = hp
                .key_length
                .unwrap_or(hp.embedding_length.unwrap_or(0) / head_count);
            let val_len = hp.value_length.unwrap_or(key_len);
            let kv_heads = hp.head_count_kv.unwrap_or(head_count);
            hp.block_count
                .unwrap_or(0)
                .saturating_mul(u64::from(n_ctx))
                .saturating_mul(kv_heads.saturating_mul(key_len.saturating_add(val_len)))
                .saturating_mul(2)
        };
        let mut info = ModelInfo {
            path: path.to_path_buf(),
            architecture,
            name,
            n_ctx,
            n_ctx_seq: n_ctx / n_parallel,
            n_parallel,
            n_ctx_train: if n_ctx_train > 0 {
                n_ctx_train
            } else {
                u32::try_from(n_ctx_train_meta).unwrap_or(u32::MAX)
            },
            n_vocab: u32::try_from(n_vocab).unwrap_or(0),
            n_params: llama.n_params(),
            bos: token_opt(vocab.bos(), n_vocab),
            eos: token_opt(vocab.eos(), n_vocab),
            eot: token_opt(vocab.eot(), n_vocab),
            add_bos: vocab.should_add_bos(),
            fim,
            chat_template,
            file_size,
            kv_bytes,
            load_duration: started.elapsed(),
            threads,
            threads_batch,
            embedding,
        };

        let shared = Arc::new(Shared::new(n_parallel, n_ctx));
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = {
            let llama = Arc::clone(&llama);
            let shared = Arc::clone(&shared);
            let cfg = scheduler::Config {
                n_parallel,
                n_ctx_seq: n_ctx / n_parallel,
                n_batch,
                cache_ram: opts.cache_ram,
            };
            let embed_cfg = embed::Config {
                n_batch,
                n_seq: n_seq_max,
            };
            let is_embedding = embedding.is_some();
            std::thread::Builder::new()
                .name(
                    if is_embedding {
                        "hearth-embed"
                    } else {
                        "hearth-sched"
                    }
                    .into(),
                )
                .spawn(move || {
                    if is_embedding {
                        embed::run(&llama, backend, cparams, embed_cfg, &shared, rx, ready_tx);
                    } else {
                        scheduler::run(&llama, backend, cparams, cfg, &shared, rx, ready_tx);
                    }
                })
                .map_err(|e| EngineError::Context {
                    path: path.to_path_buf(),
                    n_ctx,
                    n_parallel,
                    message: format!("cannot start scheduler thread: {e}"),
                })?
        };
        let ready = ready_rx
            .recv()
            .unwrap_or_else(|_| Err("scheduler thread exited".into()));
        if let Err(message) = ready {
            let _ = thread.join();
            return Err(EngineError::Context {
                path: path.to_path_buf(),
                n_ctx,
                n_parallel,
                message,
            });
        }
        info.load_duration = started.elapsed();
        tracing::info!(
            path = %path.display(),
            n_ctx,
            n_parallel,
            embedding = embedding.is_some(),
            threads,
            load_ms = info.load_duration.as_millis() as u64,
            "model loaded"
        );
        Ok(Model {
            inner: Arc::new(Inner {
                llama,
                info,
                commands: Mutex::new(Some(tx)),
                shared,
                thread: Mutex::new(Some(thread)),
            }),
        })
    }

    /// Facts about the loaded model.
    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    /// Tokenize text. `parse_special` turns special-token text (e.g. `<|im_start|>`) into the
    /// special token; `add_bos` adds BOS when the model's tokenizer wants one.
    pub fn tokenize(
        &self,
        text: &str,
        add_bos: bool,
        parse_special: bool,
    ) -> Result<Vec<Token>, EngineError> {
        if text.len() > MAX_TOKENIZE_BYTES {
            return Err(EngineError::TextTooLong {
                len: text.len(),
                max: MAX_TOKENIZE_BYTES,
            });
        }
        if text.is_empty() && !add_bos {
            return Ok(Vec::new());
        }
        let toks = self
            .inner
            .llama
            .vocab()
            .tokenize(text.as_bytes(), add_bos, parse_special);
        Ok(toks.into_iter().map(|t| t.0).collect())
    }

    /// Tokenize a rendered prompt with hearth's one BOS rule: BOS is added when the tokenizer
    /// wants one and the text does not already begin with the BOS token's text (chat templates
    /// that emit `{{ bos_token }}` would otherwise get two). Special-token text is parsed.
    pub fn tokenize_prompt(&self, text: &str) -> Result<Vec<Token>, EngineError> {
        let info = self.info();
        let bos = info
            .bos
            .map(|b| String::from_utf8_lossy(&self.token_piece(b)).into_owned());
        self.tokenize(text, needs_bos(info.add_bos, bos.as_deref(), text), true)
    }

    /// Text of a token sequence (special tokens rendered as text).
    pub fn detokenize(&self, tokens: &[Token]) -> Result<String, EngineError> {
        let mut bytes = Vec::new();
        for &t in tokens {
            self.check_token(t)?;
            bytes.extend_from_slice(&self.token_piece(t));
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Raw bytes of one token (may be part of a UTF-8 character); empty for an unknown id.
    pub fn token_piece(&self, t: Token) -> Vec<u8> {
        if self.check_token(t).is_err() {
            return Vec::new();
        }
        self.inner
            .llama
            .vocab()
            .token_to_piece(LlamaToken(t), true, None)
    }

    /// Whether `t` ends generation (EOS, EOT, `<|im_end|>`, ...).
    pub fn is_eog(&self, t: Token) -> bool {
        self.check_token(t).is_ok() && self.inner.llama.vocab().is_eog(LlamaToken(t))
    }

    /// Look up a special token by its text (e.g. `<|fim_pad|>`); `None` if the text is not a
    /// single token.
    pub fn token_id(&self, text: &str) -> Option<Token> {
        match self.tokenize(text, false, true).ok()?.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// Queue a generation on the scheduler. Events arrive on the returned receiver.
    pub fn generate(&self, req: GenerateRequest) -> Result<Generation, EngineError> {
        self.submit(req, None)
    }

    /// Like [`Model::generate`], with token healing: the first generated tokens are constrained
    /// to spell `heal` (each one's text must start with what is left of `heal`, or be a prefix
    /// of it); decoding is free after that. The healed text is part of the generated text
    /// (and counts toward `max_tokens`); the caller strips it. Not combined with `grammar`.
    pub fn generate_healed(
        &self,
        req: GenerateRequest,
        heal: Vec<u8>,
    ) -> Result<Generation, EngineError> {
        self.submit(req, (!heal.is_empty()).then_some(heal))
    }

    fn submit(
        &self,
        req: GenerateRequest,
        heal: Option<Vec<u8>>,
    ) -> Result<Generation, EngineError> {
        if self.inner.info.embedding.is_some() {
            return Err(EngineError::Request(
                "this is an embedding model; it does not generate text".into(),
            ));
        }
        if req.prompt.is_empty() {
            return Err(EngineError::Request("empty prompt".into()));
        }
        for &t in &req.prompt {
            self.check_token(t)?;
        }
        for &(t, b) in &req.sampling.logit_bias {
            self.check_token(t)?;
            if b.is_nan() {
                return Err(EngineError::Request(format!(
                    "logit bias for token {t} is NaN"
                )));
            }
        }
        let s = &req.sampling;
        for (name, v) in [
            ("temperature", s.temperature),
            ("top_p", s.top_p),
            ("min_p", s.min_p),
            ("repeat_penalty", s.repeat_penalty),
            ("presence_penalty", s.presence_penalty),
            ("frequency_penalty", s.frequency_penalty),
        ] {
            if !v.is_finite() {
                return Err(EngineError::Request(format!(
                    "{name} must be finite, got {v}"
                )));
            }
        }
        if s.repeat_penalty <= 0.0 {
            return Err(EngineError::Request(format!(
                "repeat_penalty must be > 0, got {}",
                s.repeat_penalty
            )));
        }
        let n_ctx_seq = self.inner.info.n_ctx_seq;
        if req.prompt.len() >= n_ctx_seq as usize {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: req.prompt.len(),
                n_ctx_seq,
            });
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let cancel = req.cancel.clone();
        self.send(Command::Generate {
            req: Box::new(req),
            events: tx,
            received: Instant::now(),
            heal,
        })?;
        Ok(Generation { events: rx, cancel })
    }

    /// Queue a command on the model's worker thread, counted as queued until it picks it up.
    fn send(&self, cmd: Command) -> Result<(), EngineError> {
        let commands = self
            .inner
            .commands
            .lock()
            .map_err(|_| EngineError::SchedulerGone)?;
        let sender = commands.as_ref().ok_or(EngineError::SchedulerGone)?;
        self.inner.shared.queued_add(1);
        if sender.send(cmd).is_err() {
            self.inner.shared.queued_add(-1);
            return Err(EngineError::SchedulerGone);
        }
        Ok(())
    }

    /// Pooled embeddings of whole token sequences (embedding models only). Each input must be
    /// non-empty and fit the context ([`ModelInfo::n_ctx`]); truncating is the caller's choice.
    pub async fn embed(&self, inputs: Vec<Vec<Token>>) -> Result<Embeddings, EngineError> {
        if self.inner.info.embedding.is_none() {
            return Err(EngineError::Request(
                "this model does not produce embeddings".into(),
            ));
        }
        let n_ctx = self.inner.info.n_ctx;
        for input in &inputs {
            if input.is_empty() {
                return Err(EngineError::Request("empty input".into()));
            }
            if input.len() > n_ctx as usize {
                return Err(EngineError::PromptTooLong {
                    prompt_tokens: input.len(),
                    n_ctx_seq: n_ctx,
                });
            }
            for &t in input {
                self.check_token(t)?;
            }
        }
        if inputs.is_empty() {
            return Ok(Embeddings::default());
        }
        let (reply, rx) = tokio::sync::oneshot::channel();
        self.send(Command::Embed { inputs, reply })?;
        rx.await.map_err(|_| EngineError::SchedulerGone)?
    }

    /// Render a conversation with llama.cpp's built-in chat-template engine, which recognises
    /// the common template families (ChatML, Llama 2/3, Mistral, Gemma, ...) from the GGUF's
    /// `tokenizer.chat_template`. `messages` are (role, content) pairs. This is a fallback for
    /// callers without a Jinja renderer; it does not run the template itself.
    pub fn apply_builtin_chat_template(
        &self,
        messages: &[(String, String)],
        add_assistant: bool,
    ) -> Result<String, EngineError> {
        use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate};
        let tmpl = match self.inner.llama.chat_template(None) {
            Ok(t) => t,
            Err(_) => LlamaChatTemplate::new("chatml")
                .map_err(|e| EngineError::Request(format!("chat template: {e}")))?,
        };
        let chat = messages
            .iter()
            .map(|(r, c)| LlamaChatMessage::new(r.clone(), c.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Request(format!("chat message: {e}")))?;
        self.inner
            .llama
            .apply_chat_template(&tmpl, &chat, add_assistant)
            .map_err(|e| {
                EngineError::Request(format!(
                    "{}: llama.cpp does not know this chat template: {e}",
                    self.inner.info.path.display()
                ))
            })
    }

    /// Occupancy of the sequence slots.
    pub fn slots(&self) -> SlotStats {
        self.inner.shared.stats()
    }

    fn check_token(&self, t: Token) -> Result<(), EngineError> {
        let n = self.inner.info.n_vocab;
        if t < 0 || t as u32 >= n {
            return Err(EngineError::Request(format!(
                "token id {t} outside the vocabulary of {n} tokens"
            )));
        }
        Ok(())
    }
}

/// The one BOS rule: add BOS when the tokenizer wants it and `text` does not already start with
/// the BOS token's text.
pub fn needs_bos(add_bos: bool, bos_text: Option<&str>, text: &str) -> bool {
    add_bos && !bos_text.is_some_and(|b| !b.is_empty() && text.starts_with(b))
}

#[cfg(test)]
mod bos_tests {
    #[test]
    fn one_bos() {
        use super::needs_bos;
        assert!(needs_bos(true, Some("<s>"), "[INST] hi"));
        assert!(!needs_bos(true, Some("<s>"), "<s>[INST] hi"));
        assert!(!needs_bos(false, Some("<s>"), "hi"));
        assert!(needs_bos(true, None, "hi"));
        assert!(needs_bos(true, Some(""), "hi"));
    }
}
