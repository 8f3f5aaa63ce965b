//! The generation service: everything between a protocol and the engine, with no HTTP in it.
//! Every wire protocol (Ollama, OpenAI, llama.cpp's `/infill`) and `hearth run` hand it one
//! [`GenRequest`] and get a [`Running`] stream of typed [`Event`]s. Model resolution, Modelfile
//! defaults (`SYSTEM`, `PARAMETER`, `MESSAGE`), template choice, the BOS rule, size checks,
//! context truncation, superseding of stale autocomplete requests and residency live here once.
pub(crate) mod embed;
pub(crate) mod error;
pub(crate) mod options;
mod partial;
pub(crate) mod prompts;
pub(crate) mod request;
pub(crate) mod running;
pub(crate) mod scheduler;
pub(crate) mod sessions;
pub(crate) mod think;
mod tool_forms;
pub(crate) mod tools;
mod truncate;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_prompt::Message;
use hearth_store::{ResolvedModel, Stores};

use crate::backend::{Engine, FimInput, GenParams, ModelEntry};
use crate::metrics::Metrics;
use error::{blocking, ServiceError};
use options::{Checked, Options};
use prompts::{PromptCache, PromptInfo};
use request::{GenRequest, Input};
use running::{Memory, Running};
use scheduler::{SchedConfig, Scheduler};
use sessions::Sessions;
use think::ThinkSplit;
use tools::{ToolHold, ToolSpec};

/// Limits of the service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Largest prompt text accepted, in bytes.
    pub(crate) max_prompt_bytes: usize,
}

/// Everything generation needs; cheap to clone.
#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    stores: Stores,
    sched: Scheduler,
    prompts: PromptCache,
    sessions: Arc<Sessions>,
    metrics: Arc<Metrics>,
    limits: Limits,
    /// GGUF files served by path (registered in-process only, never over HTTP).
    files: std::sync::Mutex<std::collections::HashMap<String, ModelEntry>>,
}

/// A model found in the stores.
pub(crate) struct Resolved {
    /// What the scheduler loads.
    pub(crate) entry: ModelEntry,
    /// Everything the store knows (`None` for a file served by path).
    pub(crate) model: Option<ResolvedModel>,
}

impl Service {
    /// A service over `stores` and `engine` (spawns the residency expiry task on the current
    /// tokio runtime).
    pub(crate) fn new(
        stores: Stores,
        engine: Arc<dyn Engine>,
        sched: SchedConfig,
        limits: Limits,
    ) -> Self {
        Service {
            inner: Arc::new(Inner {
                stores,
                sched: Scheduler::new(engine, sched),
                prompts: PromptCache::default(),
                sessions: Arc::new(Sessions::default()),
                metrics: Arc::new(Metrics::default()),
                limits,
                files: std::sync::Mutex::new(std::collections::HashMap::new()),
            }),
        }
    }

    /// The model stores.
    pub fn stores(&self) -> &Stores {
        &self.inner.stores
    }

    /// Gauges for `/metrics` and `/health`.
    pub(crate) fn gauges(&self) -> crate::metrics::Gauges {
        crate::metrics::Gauges {
            fim_sessions: self.inner.sessions.len(),
            ..self.inner.sched.gauges()
        }
    }

    pub(crate) fn sched(&self) -> &Scheduler {
        &self.inner.sched
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    #[cfg_attr(not(feature = "cloud"), allow(dead_code))]
    pub(crate) fn metrics_handle(&self) -> Arc<Metrics> {
        self.inner.metrics.clone()
    }

    pub(crate) fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// Resolve a model name in the stores (off the async workers: it reads manifests, the
    /// trust policy and hashes text layers).
    pub(crate) async fn resolve(&self, name: &str) -> Result<Resolved, ServiceError> {
        let s = self.clone();
        let name = name.to_string();
        blocking(move || s.resolve_blocking(&name)).await
    }

    /// Serve the GGUF file at `path` under the name `path` (for `hearth run FILE.gguf`; a
    /// client over HTTP cannot name files). Returns the name.
    pub(crate) fn add_file(&self, path: &std::path::Path) -> String {
        let name = path.display().to_string();
        let meta = std::fs::metadata(path).ok();
        let entry = ModelEntry {
            name: name.clone(),
            path: path.to_path_buf(),
            size: meta.as_ref().map_or(0, std::fs::Metadata::len),
            digest: String::new(),
            modified: meta
                .and_then(|m| m.modified().ok())
                .unwrap_or(std::time::SystemTime::UNIX_EPOCH),
            system: None,
            parameters: serde_json::Map::new(),
            messages: Vec::new(),
        };
        if let Ok(mut f) = self.inner.files.lock() {
            f.insert(name.clone(), entry);
        }
        name
    }

    /// [`Service::resolve`] for callers already on a blocking thread.
    pub(crate) fn resolve_blocking(&self, name: &str) -> Result<Resolved, ServiceError> {
        let file = self
            .inner
            .files
            .lock()
            .ok()
            .and_then(|f| f.get(name).cloned());
        if let Some(entry) = file {
            return Ok(Resolved { entry, model: None });
        }
        let r = self
            .inner
            .stores
            .resolve(name)
            .map_err(|e| ServiceError::store(name, e))?;
        let entry = ModelEntry {
            name: r.name.display_shortest(),
            path: r.gguf_path.clone(),
            size: r.size,
            digest: r.digest.clone(),
            modified: r.modified,
            system: r.system.clone(),
            parameters: r.params.clone(),
            messages: r
                .messages
                .iter()
                .map(|m| (m.role.clone(), m.content.clone()))
                .collect(),
        };
        Ok(Resolved {
            entry,
            model: Some(r),
        })
    }

    /// The prompt facts of a model file (read once, off the async workers).
    pub(crate) async fn prompt_info(
        &self,
        path: &std::path::Path,
    ) -> Result<Arc<PromptInfo>, ServiceError> {
        let s = self.clone();
        let path = path.to_path_buf();
        blocking(move || s.inner.prompts.get(&path)).await
    }

    /// [`Service::prompt_info`] for callers already on a blocking thread.
    pub(crate) fn prompt_info_blocking(
        &self,
        path: &std::path::Path,
    ) -> Result<Arc<PromptInfo>, ServiceError> {
        self.inner.prompts.get(path)
    }

    /// Load a model without generating (Ollama's empty prompt) and set its keep-alive, or with
    /// a zero keep-alive unload it. Returns whether it was unloaded.
    pub(crate) async fn load_or_unload(
        &self,
        model: &str,
        options: Options,
        keep_alive: Option<Option<Duration>>,
    ) -> Result<bool, ServiceError> {
        options.clone().check()?;
        let r = self.resolve(model).await?;
        if keep_alive == Some(Some(Duration::ZERO)) {
            self.inner.sched.unload(&r.entry.name);
            return Ok(true);
        }
        let opts = options
            .or(Options::from_params(&r.entry.name, &r.entry.parameters)?)
            .check()?;
        self.inner
            .sched
            .preload(&r.entry, opts.num_ctx, keep_alive)
            .await?;
        Ok(false)
    }

    /// The model and the checked options: the request's own checked before anything is looked
    /// up, then the Modelfile's as defaults.
    pub(crate) async fn resolve_with_options(
        &self,
        model: &str,
        options: Options,
    ) -> Result<(ModelEntry, Checked), ServiceError> {
        options.clone().check()?;
        let Resolved { entry, .. } = self.resolve(model).await?;
        let opts = options
            .or(Options::from_params(&entry.name, &entry.parameters)?)
            .check()?;
        Ok((entry, opts))
    }

    /// Refuse prompt text (all of a request's inputs together) over the size limit.
    pub(crate) fn check_prompt_bytes(&self, bytes: usize) -> Result<(), ServiceError> {
        let limit = self.inner.limits.max_prompt_bytes;
        if bytes > limit {
            return Err(ServiceError::PromptTooLarge { bytes, limit });
        }
        Ok(())
    }

    /// What a request needs before it runs: the model, the checked options (the request's
    /// own checked before anything is looked up, then the Modelfile's as defaults), the prompt
    /// facts, and the input made into prompt text (rendering a long conversation is work too:
    /// off the async workers).
    async fn prepare(
        &self,
        model: &str,
        options: Options,
        input: Input,
        think: Option<bool>,
    ) -> Result<(ModelEntry, Checked, Arc<PromptInfo>, Built), ServiceError> {
        let (entry, opts) = self.resolve_with_options(model, options).await?;
        let info = self.prompt_info(&entry.path).await?;
        if info.embedding {
            return Err(ServiceError::Invalid(format!(
                "model \"{}\" is an embedding model: it does not generate text (use /api/embed \
                 or /v1/embeddings)",
                entry.name
            )));
        }
        let (e, i) = (entry.clone(), info.clone());
        let built = blocking(move || build(&e, &i, input, think)).await?;
        Ok((entry, opts, info, built))
    }

    /// The prompt tokens `req` would send (Anthropic's `count_tokens`): the model is loaded to
    /// tokenize with its own vocabulary; nothing is generated.
    pub(crate) async fn count_tokens(&self, req: GenRequest) -> Result<usize, ServiceError> {
        let (entry, opts, _, built) = self
            .prepare(&req.model, req.options, req.input, req.think)
            .await?;
        let lease = self
            .inner
            .sched
            .acquire(&entry, opts.num_ctx, req.keep_alive)
            .await?;
        let runner = lease.resident.runner.clone();
        let name = entry.name.clone();
        let context = built.context.len();
        blocking(move || {
            let tokens = runner
                .prompt_tokens(&built.prompt)
                .map_err(|e| ServiceError::backend(&name, e))?;
            Ok(tokens.len().saturating_add(context))
        })
        .await
    }

    /// Start a generation.
    pub(crate) async fn start(&self, req: GenRequest) -> Result<Running, ServiceError> {
        let started = Instant::now();
        let (entry, opts, info, built) = self
            .prepare(&req.model, req.options, req.input, req.think)
            .await?;
        if built.fim.is_some() && req.grammar.is_some() {
            return Err(ServiceError::Invalid(
                "format cannot be combined with fill-in-the-middle (suffix)".into(),
            ));
        }
        // Repository context sent beside a FIM request (`/infill`'s `input_extra`) is prompt
        // text too.
        let extra: usize = built.fim.as_ref().map_or(0, |f| {
            f.extra_files
                .iter()
                .map(|(name, text)| name.len() + text.len())
                .sum()
        });
        self.check_prompt_bytes(built.prompt.len().saturating_add(extra))?;
        let ticket = built.session.map(|k| self.inner.sessions.begin(k));
        let acquire = async {
            let lease = self
                .inner
                .sched
                .acquire(&entry, opts.num_ctx, req.keep_alive)
                .await;
            if let Err(ServiceError::Busy(_)) = &lease {
                self.inner.metrics.rejected.fetch_add(1, Ordering::Relaxed);
            }
            lease
        };
        let lease = match &ticket {
            None => acquire.await?,
            Some(t) => tokio::select! {
                lease = acquire => lease?,
                () = t.superseded.notified() => {
                    return Ok(Running::superseded(started, self.inner.metrics.clone()));
                }
            },
        };
        let runner = lease.resident.runner.clone();
        let n_ctx = lease.resident.n_ctx_per_seq;
        let name = entry.name.clone();
        let Built {
            prompt,
            chat,
            tools,
            context,
            remember,
            fim,
            fim_prompt,
            think,
            ..
        } = built;
        let memory_prior = remember.then(|| context.clone());
        let fit = truncate::Fit {
            model: entry.name.clone(),
            context_len: context.len(),
            n_ctx,
            reserve: truncate::reserve(opts.max_tokens, n_ctx),
            truncate: req.truncate,
        };
        let mut sampling = opts.sampling;
        if fim_prompt || req.penalties_off_by_default {
            penalty_free_defaults(&mut sampling);
        }
        let mut params = GenParams {
            prompt: String::new(),
            tokens: None,
            sampling,
            max_tokens: opts.max_tokens,
            stop: opts.stop,
            grammar: req.grammar,
            fim,
            context,
        };
        // Counting, fitting and tokenizing a prompt of up to megabytes, and starting the
        // engine, run off the async workers. FIM requests are windowed around the cursor by
        // the autocomplete path, which refuses what still does not fit itself.
        let keep_prompt = memory_prior.is_some();
        let (prompt, truncated, stream) = blocking(move || {
            let fitted = if params.fim.is_some() {
                truncate::Fitted {
                    prompt,
                    tokens: None,
                    truncated: None,
                }
            } else {
                fit.run(&*runner, &info, prompt, chat)?
            };
            params.prompt = fitted.prompt;
            params.tokens = fitted.tokens;
            let prompt = keep_prompt.then(|| params.prompt.clone());
            let stream = runner
                .generate(params)
                .map_err(|e| ServiceError::backend(&name, e))?;
            Ok((prompt, fitted.truncated, stream))
        })
        .await?;
        if let Some(t) = truncated {
            self.inner.metrics.truncated(t.messages);
            tracing::warn!(
                model = %entry.name,
                dropped_messages = t.messages,
                tokens_before = t.tokens_before,
                tokens_after = t.tokens_after,
                ctx = n_ctx,
                "conversation longer than the context: dropped the oldest turns"
            );
        }
        let memory = memory_prior
            .zip(prompt)
            .map(|(prior, prompt)| Memory { prior, prompt });
        let mut running = Running::new(stream.events, started, self.inner.metrics.clone());
        running.lease = Some(lease);
        running.ticket = ticket;
        running.truncated = truncated;
        running.tools = tools.map(ToolHold::new);
        running.think = think;
        running.memory = memory;
        running.check = req.check;
        Ok(running)
    }
}

/// Turn an input into prompt text (and the autocomplete request for FIM).
fn build(
    entry: &ModelEntry,
    info: &PromptInfo,
    input: Input,
    think: Option<bool>,
) -> Result<Built, ServiceError> {
    let mut b = Built::default();
    match input {
        Input::Chat { messages, tools } => {
            // The request's leading system messages (else the Modelfile's SYSTEM), then the
            // Modelfile's MESSAGEs, then the rest of the conversation.
            let lead = messages.iter().take_while(|m| m.role == "system").count();
            let mut rest = messages;
            let mut msgs: Vec<Message> = rest.drain(..lead).collect();
            if msgs.is_empty() {
                if let Some(sys) = entry.system.clone().filter(|s| !s.is_empty()) {
                    msgs.push(Message::system(sys));
                }
            }
            msgs.extend(
                entry
                    .messages
                    .iter()
                    .map(|(r, c)| Message::new(r.clone(), c.clone())),
            );
            msgs.extend(rest);
            b.tools = tools.as_deref().map(ToolSpec::from_template_tools);
            b.prompt = info.render_chat(&msgs, tools.as_deref(), think)?;
            b.think = Some(split_for(&b.prompt, think));
            b.chat = Some(truncate::Chat {
                messages: msgs,
                tools,
                think,
            });
        }
        Input::Prompt {
            prompt,
            system,
            context,
        } => {
            let mut msgs = Vec::new();
            if let Some(sys) = system
                .filter(|s| !s.is_empty())
                .or_else(|| entry.system.clone().filter(|s| !s.is_empty()))
            {
                msgs.push(Message::system(sys));
            }
            if context.is_empty() {
                msgs.extend(
                    entry
                        .messages
                        .iter()
                        .map(|(r, c)| Message::new(r.clone(), c.clone())),
                );
            }
            msgs.push(Message::user(prompt));
            b.prompt = info.render_chat(&msgs, None, think)?;
            b.think = Some(split_for(&b.prompt, think));
            b.context = context;
            b.remember = true;
        }
        Input::Raw { prompt, session } => {
            b.fim_prompt = info.fim.is_some() && hearth_prompt::is_raw_fim(&prompt);
            // Continue's raw path: a client-built FIM prompt from a typing session goes
            // through autocomplete; without a session it is plain generation.
            if session.is_some() && b.fim_prompt {
                b.fim = Some(FimInput {
                    prefix: prompt.clone(),
                    suffix: String::new(),
                    raw: true,
                    extra_files: Vec::new(),
                    time_budget: Some(FIM_TIME_BUDGET),
                });
                b.session = session;
            }
            b.prompt = prompt;
        }
        Input::Fim { prefix, suffix, .. } if suffix.is_empty() && info.fim.is_none() => {
            // An empty suffix (the cursor at the end of a file) asks nothing a model without
            // FIM tokens cannot do: it continues the prompt, as Ollama answers such a request.
            let input = Input::Prompt {
                prompt: prefix,
                system: None,
                context: Vec::new(),
            };
            return build(entry, info, input, think);
        }
        Input::Fim {
            prefix,
            suffix,
            extra_files,
            time_budget,
            session,
        } => {
            b.fim_prompt = true;
            // The rendering is the refusal for a model without FIM tokens and what the
            // size check counts.
            b.prompt = info.render_fim(&entry.name, &prefix, &suffix)?;
            b.fim = Some(FimInput {
                prefix,
                suffix,
                raw: false,
                extra_files,
                time_budget: Some(time_budget),
            });
            b.session = Some(session);
        }
    }
    Ok(b)
}

/// The thinking split of a conversation's answer: inside a block when the prompt opened one;
/// the thinking dropped when the client asked for none.
fn split_for(prompt: &str, think: Option<bool>) -> ThinkSplit {
    ThinkSplit::new(ThinkSplit::prompt_opens(prompt), think != Some(false))
}

/// Sampling defaults for autocomplete and for the OpenAI and Anthropic APIs, where the
/// request and the Modelfile left a setting unset: no repetition penalties.
///
/// Code repeats the identifiers around it, and a prompt ends with the code it quotes, so the
/// penalty window (the last 64 prompt tokens) punishes exactly the names, fences and
/// indentation an answer needs. Measured with the 0.5B Q4_K_M: on HumanEval single-line
/// infilling (`scripts/fim-quality`) a 1.1 penalty turned `    return sorted(...)` into
/// `if __name__ == "__main__":` and cost 3.5 points of exact match; on HumanEval chat
/// (`hearth eval`) it turned the opening fence of HumanEval/0's answer from llama.cpp's
/// greedy "```\n" into "```python\n". llama.cpp's server defaults to no penalty too.
fn penalty_free_defaults(s: &mut crate::backend::Sampling) {
    s.repeat_penalty.get_or_insert(1.0);
    s.presence_penalty.get_or_insert(0.0);
    s.frequency_penalty.get_or_insert(0.0);
}

/// Generation time allowed to one completion (prompt processing not counted, as llama.cpp's
/// `t_max_predict_ms`): a suggestion still being written after this is worthless to someone
/// typing; what was generated by then is returned.
pub(crate) const FIM_TIME_BUDGET: Duration = Duration::from_secs(5);

/// An input made into prompt text.
#[derive(Default)]
struct Built {
    prompt: String,
    /// The conversation, when it may be truncated.
    chat: Option<truncate::Chat>,
    /// Offer tool calls as events: the declared tools.
    tools: Option<Vec<ToolSpec>>,
    /// Ollama `context` tokens evaluated before the prompt.
    context: Vec<i32>,
    /// Report the new `context` at the end.
    remember: bool,
    fim: Option<FimInput>,
    /// The prompt is a fill-in-the-middle prompt (through the autocomplete path or a raw FIM
    /// prompt generated as is): sampling takes the autocomplete defaults.
    fim_prompt: bool,
    session: Option<sessions::SessionKey>,
    /// Thinking split (conversations only).
    think: Option<ThinkSplit>,
}
