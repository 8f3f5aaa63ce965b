//! Prompt-building facts of a GGUF (chat template, FIM format, special tokens), read once per
//! file off the async workers and cached; the one place where a conversation or a FIM request
//! becomes prompt text.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hearth_prompt::{ChatTemplate, FimFormat, FimInput, FimLayout, Message, RenderInput};
use serde_json::Value;

use crate::service::error::ServiceError;

/// The template used for a model without a usable chat template (ChatML, llama.cpp's default
/// for unknown templates too).
const FALLBACK_TEMPLATE: &str = "{% for message in messages %}<|im_start|>{{ message.role }}\n\
    {{ message.content }}<|im_end|>\n{% endfor %}\
    {% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// Prompt-building facts of one GGUF.
pub(crate) struct PromptInfo {
    /// The model's chat template, or the ChatML fallback.
    chat: ChatTemplate,
    /// FIM format (`None`: suffix requests are refused).
    pub(crate) fim: Option<FimFormat>,
    /// BOS token text.
    bos: String,
    /// EOS token text.
    eos: String,
    /// Whether the template mentions tools.
    pub(crate) tools: bool,
    /// Whether the model thinks (its template handles `<think>` blocks or reasoning content).
    pub(crate) thinking: bool,
    /// Whether the template has a thinking switch (`enable_thinking`).
    think_switch: bool,
    /// An embedding model (`Metadata::embedding_pooling`, the engine's rule too): it embeds and
    /// never generates.
    pub(crate) embedding: bool,
    /// `{arch}.context_length`: the context the model was trained with.
    pub(crate) n_ctx_train: Option<u64>,
}

/// Cache of [`PromptInfo`] by GGUF path.
#[derive(Default)]
pub(crate) struct PromptCache {
    map: Mutex<HashMap<PathBuf, Arc<PromptInfo>>>,
}

impl PromptCache {
    /// Facts of the GGUF at `path` (opened and validated once; blocking on the first call).
    pub(crate) fn get(&self, path: &Path) -> Result<Arc<PromptInfo>, ServiceError> {
        if let Some(p) = self.map.lock().ok().and_then(|m| m.get(path).cloned()) {
            return Ok(p);
        }
        let f = hearth_gguf::GgufFile::open(path).map_err(|e| ServiceError::Engine {
            model: path.display().to_string(),
            message: e.to_string(),
        })?;
        let md = f.metadata();
        let own = match ChatTemplate::from_metadata(md, None) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                tracing::warn!(path = %path.display(), "chat template unusable, using ChatML: {e}");
                None
            }
            None => None,
        };
        let chat = match own {
            Some(t) => t,
            None => ChatTemplate::new(FALLBACK_TEMPLATE).map_err(|e| ServiceError::Engine {
                model: path.display().to_string(),
                message: format!("fallback chat template: {e}"),
            })?,
        };
        let source = md.get_str("tokenizer.chat_template").unwrap_or_default();
        let tools = source.contains("tools");
        let think_switch = source.contains("enable_thinking");
        let thinking =
            think_switch || source.contains("<think>") || source.contains("reasoning_content");
        let (bos, eos) = hearth_prompt::chat::special_tokens(md);
        let embedding = md.embedding_pooling().is_some();
        let info = Arc::new(PromptInfo {
            chat,
            fim: FimFormat::detect(md),
            bos,
            eos,
            tools,
            thinking,
            think_switch,
            embedding,
            n_ctx_train: md.hparams().context_length,
        });
        if let Ok(mut m) = self.map.lock() {
            m.insert(path.to_path_buf(), info.clone());
        }
        Ok(info)
    }
}

impl PromptInfo {
    /// Render a conversation (with the generation prompt); `think` sets the template's
    /// thinking switch where it has one.
    pub(crate) fn render_chat(
        &self,
        messages: &[Message],
        tools: Option<&[Value]>,
        think: Option<bool>,
    ) -> Result<String, ServiceError> {
        let mut extra = serde_json::Map::new();
        if let (true, Some(on)) = (self.think_switch, think) {
            extra.insert("enable_thinking".into(), Value::Bool(on));
        }
        self.chat
            .render(&RenderInput {
                messages: messages.to_vec(),
                tools: tools.map(<[Value]>::to_vec),
                add_generation_prompt: true,
                bos_token: self.bos.clone(),
                eos_token: self.eos.clone(),
                extra,
            })
            .map_err(|e| ServiceError::Invalid(format!("chat template: {e}")))
    }

    /// The FIM prompt (what the size check counts), or [`ServiceError::NoFim`].
    pub(crate) fn render_fim(
        &self,
        model: &str,
        prefix: &str,
        suffix: &str,
    ) -> Result<String, ServiceError> {
        let fim = self
            .fim
            .as_ref()
            .ok_or_else(|| ServiceError::NoFim(model.to_string()))?;
        let input = FimInput {
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
            ..FimInput::default()
        };
        Ok(fim.build(&input, FimLayout::Psm).text())
    }

    /// Capabilities as Ollama's `/api/show` lists them.
    pub(crate) fn capabilities(&self) -> Vec<&'static str> {
        if self.embedding {
            return vec!["embedding"];
        }
        let mut c = vec!["completion"];
        if self.fim.is_some() {
            c.push("insert");
        }
        if self.tools {
            c.push("tools");
        }
        if self.thinking {
            c.push("thinking");
        }
        c
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fallback_is_chatml() {
        let t = hearth_prompt::ChatTemplate::new(super::FALLBACK_TEMPLATE).unwrap();
        let out = t
            .render(&hearth_prompt::RenderInput {
                messages: vec![
                    hearth_prompt::Message::system("S"),
                    hearth_prompt::Message::user("U"),
                ],
                add_generation_prompt: true,
                ..hearth_prompt::RenderInput::default()
            })
            .unwrap();
        assert_eq!(
            out,
            "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
        );
    }
}
