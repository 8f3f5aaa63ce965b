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
}

/// The prompt that will be sent.
pub(crate) struct Fitted {
    pub(crate) prompt: String,
    pub(crate) truncated: Option<Truncated>,
}

/// Room kept for the answer when a conversation is cut: the answer's limit, at most a quarter of
/// the context, 256 tokens when the request sets none.
pub(crate) fn reserve(max_tokens: Option<u32>, n_ctx: u32) -> usize {
    max_tokens.unwrap_or(256).min(n_ctx / 4) as usize
}

/// Count `prompt` (plus `context_len` earlier tokens) and make it fit `n_ctx`: a conversation
/// (`chat`) that leaves less than `reserve` tokens for the answer drops its oldest turns when
/// `truncate` allows; whatever still does not fit at all is [`ServiceError::PromptTooLong`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn fit(
    runner: &dyn Runner,
    info: &PromptInfo,
    model: &str,
    prompt: String,
    chat: Option<Chat>,
    context_len: usize,
    n_ctx: u32,
    reserve: usize,
    truncate: bool,
) -> Result<Fitted, ServiceError> {
    let count = |text: &str| -> Result<usize, ServiceError> {
        Ok(runner
            .count_tokens(text)
            .map_err(|e| ServiceError::backend(model, e))?
            .saturating_add(context_len))
    };
    let ctx = n_ctx as usize;
    let before = count(&prompt)?;
    let too_long = |tokens: usize| ServiceError::PromptTooLong {
        tokens,
        ctx: n_ctx,
        model: model.to_string(),
    };
    let mut fitted = Fitted {
        prompt,
        truncated: None,
    };
    let Some(Chat {
        mut messages,
        tools,
    }) = chat.filter(|_| truncate && before.saturating_add(reserve) > ctx)
    else {
        return if before >= ctx {
            Err(too_long(before))
        } else {
            Ok(fitted)
        };
    };
    let keep = messages.iter().take_while(|m| m.role == "system").count();
    let mut tokens = before;
    let mut dropped = 0;
    while tokens.saturating_add(reserve) > ctx && messages.len() > keep + 1 {
        messages.remove(keep);
        dropped += 1;
        // A conversation resumes at a user turn (an answer or tool result without its
        // question confuses templates and models alike).
        while messages.len() > keep + 1 && messages[keep].role != "user" {
            messages.remove(keep);
            dropped += 1;
        }
        fitted.prompt = info.render_chat(&messages, tools.as_deref())?;
        tokens = count(&fitted.prompt)?;
    }
    if tokens >= ctx {
        return Err(too_long(tokens));
    }
    fitted.truncated = (dropped > 0).then_some(Truncated {
        messages: dropped,
        tokens_before: before,
        tokens_after: tokens,
    });
    Ok(fitted)
}
