//! Loud context limits. A conversation that does not fit keeps its system message and latest
//! turns, drops the oldest, and says so ([`Truncated`]); with `truncate: false` it is refused
//! with token counts. A raw or completion prompt that does not fit is always refused: code is
//! never cut silently.
use hearth_prompt::Message;
use serde_json::Value;

use crate::backend::Runner;
use crate::service::error::ServiceError;
use crate::service::prompts::PromptInfo;
use crate::service::running::Truncated;

/// A conversation that may lose its oldest turns.
pub(crate) struct Chat {
    /// All messages, system first.
    pub(crate) messages: Vec<Message>,
    /// Tool definitions.
    pub(crate) tools: Option<Vec<Value>>,
    /// The template's thinking switch.
    pub(crate) think: Option<bool>,
}

/// The prompt that will be sent.
pub(crate) struct Fitted {
    pub(crate) prompt: String,
    /// Its tokens as the engine will feed them (`None` after earlier `context` tokens, which
    /// change the BOS rule: the engine tokenizes those prompts itself).
    pub(crate) tokens: Option<Vec<i32>>,
    pub(crate) truncated: Option<Truncated>,
}

/// Room kept for the answer when a conversation is cut: the answer's limit, at most a quarter of
/// the context, 256 tokens when the request sets none.
pub(crate) fn reserve(max_tokens: Option<u32>, n_ctx: u32) -> usize {
    max_tokens.unwrap_or(256).min(n_ctx / 4) as usize
}

/// How a prompt must fit.
pub(crate) struct Fit {
    /// The model (for messages).
    pub(crate) model: String,
    /// Tokens of Ollama's `context` that go before the prompt.
    pub(crate) context_len: usize,
    /// Context per sequence.
    pub(crate) n_ctx: u32,
    /// Tokens a cut conversation leaves for the answer.
    pub(crate) reserve: usize,
    /// Whether a conversation may be cut.
    pub(crate) truncate: bool,
}

impl Fit {
    /// Tokenize `prompt` and make it fit: a conversation (`chat`) that leaves less than
    /// `reserve` tokens for the answer drops its oldest turns when `truncate` allows; whatever
    /// still does not fit at all is [`ServiceError::PromptTooLong`]. Blocking.
    pub(crate) fn run(
        &self,
        runner: &dyn Runner,
        info: &PromptInfo,
        prompt: String,
        chat: Option<Chat>,
    ) -> Result<Fitted, ServiceError> {
        let tokenize = |text: &str| -> Result<Vec<i32>, ServiceError> {
            runner
                .prompt_tokens(text)
                .map_err(|e| ServiceError::backend(&self.model, e))
        };
        let total = |t: &[i32]| t.len().saturating_add(self.context_len);
        let ctx = self.n_ctx as usize;
        let too_long = |tokens: usize| ServiceError::PromptTooLong {
            tokens,
            ctx: self.n_ctx,
            model: self.model.clone(),
        };
        let mut tokens = tokenize(&prompt)?;
        let before = total(&tokens);
        let mut fitted = Fitted {
            prompt,
            tokens: None,
            truncated: None,
        };
        let cut = chat.filter(|_| self.truncate && before.saturating_add(self.reserve) > ctx);
        if let Some(Chat {
            mut messages,
            tools,
            think,
        }) = cut
        {
            let keep = messages.iter().take_while(|m| m.role == "system").count();
            let mut dropped = 0;
            while total(&tokens).saturating_add(self.reserve) > ctx && messages.len() > keep + 1 {
                messages.remove(keep);
                dropped += 1;
                // A conversation resumes at a user turn (an answer or tool result without its
                // question confuses templates and models alike).
                while messages.len() > keep + 1 && messages[keep].role != "user" {
                    messages.remove(keep);
                    dropped += 1;
                }
                fitted.prompt = info.render_chat(&messages, tools.as_deref(), think)?;
                tokens = tokenize(&fitted.prompt)?;
            }
            fitted.truncated = (dropped > 0).then_some(Truncated {
                messages: dropped,
                tokens_before: before,
                tokens_after: total(&tokens),
            });
        }
        if total(&tokens) >= ctx {
            return Err(too_long(total(&tokens)));
        }
        fitted.tokens = (self.context_len == 0).then_some(tokens);
        Ok(fitted)
    }
}
