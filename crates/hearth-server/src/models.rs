//! Model facts the server needs beyond the store's manifest: the chat template and FIM format
//! from the GGUF (cached per file), capabilities, `details`, `model_info`, and the Go-style
//! `template` `/api/show` reports (with `.Suffix` for FIM models, which is how Continue decides
//! to send `suffix`).
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hearth_prompt::{ChatTemplate, FimFormat, FimInput, FimLayout, Message, RenderInput};
use hearth_store::{ResolvedModel, ShowInfo, Stores};
use serde_json::Value;

use crate::backend::ModelEntry;
use crate::error::ApiError;
use crate::ollama_types::ModelDetails;

/// Prompt-building facts of one GGUF.
pub struct PromptInfo {
    /// The model's chat template (`None`: the model has none; a plain fallback is used).
    pub chat: Option<ChatTemplate>,
    /// FIM format (`None`: suffix requests get 400).
    pub fim: Option<FimFormat>,
    /// BOS token text.
    pub bos: String,
    /// EOS token text.
    pub eos: String,
    /// Whether the template mentions tools.
    pub tools: bool,
    /// Whether the tokenizer adds BOS.
    pub add_bos: bool,
}

/// Cache of [`PromptInfo`] by GGUF path.
#[derive(Default)]
pub struct PromptCache {
    map: Mutex<HashMap<PathBuf, Arc<PromptInfo>>>,
}

fn store_err(name: &str, e: hearth_store::StoreError) -> ApiError {
    match e {
        hearth_store::StoreError::NotFound(_) => ApiError::model_not_found(name),
        hearth_store::StoreError::InvalidName { .. } => ApiError::bad_request(e.to_string()),
        other => ApiError::internal(format!("model \"{name}\": {other}")),
    }
}

/// Resolve a name in the stores to an entry.
pub fn resolve(stores: &Stores, name: &str) -> Result<(ModelEntry, ResolvedModel), ApiError> {
    let r = stores.resolve(name).map_err(|e| store_err(name, e))?;
    let entry = ModelEntry {
        name: r.name.display_shortest(),
        path: r.gguf_path.clone(),
        size: r.size,
        digest: r.digest.clone(),
        modified: r.modified,
        template: r.template.clone(),
        system: r.system.clone(),
        parameters: r
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        license: r.license.first().cloned(),
    };
    Ok((entry, r))
}

/// Map a store error for handlers.
pub fn map_store_error(name: &str, e: hearth_store::StoreError) -> ApiError {
    store_err(name, e)
}

impl PromptCache {
    /// Facts of the GGUF at `path` (opened and validated once).
    pub fn get(&self, path: &Path) -> Result<Arc<PromptInfo>, ApiError> {
        if let Some(p) = self.map.lock().ok().and_then(|m| m.get(path).cloned()) {
            return Ok(p);
        }
        let f = hearth_gguf::GgufFile::open(path)
            .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
        let md = f.metadata();
        let chat = match ChatTemplate::from_metadata(md, None) {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                tracing::warn!(path = %path.display(), "chat template unusable, using a plain format: {e}");
                None
            }
            None => None,
        };
        let tools = md
            .get_str("tokenizer.chat_template")
            .is_some_and(|t| t.contains("tools"));
        let tk = md.tokenizer();
        let tokens = md.tokens().unwrap_or(&[]);
        let text = |id: Option<u64>| {
            id.and_then(|i| usize::try_from(i).ok())
                .and_then(|i| tokens.get(i))
                .cloned()
                .unwrap_or_default()
        };
        let info = Arc::new(PromptInfo {
            chat,
            fim: FimFormat::detect(md),
            bos: text(tk.bos_token_id),
            eos: text(tk.eos_token_id),
            tools,
            add_bos: tk.add_bos_token.unwrap_or(false),
        });
        if let Ok(mut m) = self.map.lock() {
            m.insert(path.to_path_buf(), info.clone());
        }
        Ok(info)
    }
}

impl PromptInfo {
    /// Render a conversation (with the generation prompt).
    pub fn render_chat(
        &self,
        messages: Vec<Message>,
        tools: Option<Vec<Value>>,
    ) -> Result<String, ApiError> {
        match &self.chat {
            Some(t) => t
                .render(&RenderInput {
                    messages,
                    tools,
                    add_generation_prompt: true,
                    bos_token: self.bos.clone(),
                    eos_token: self.eos.clone(),
                    extra: serde_json::Map::new(),
                })
                .map_err(|e| ApiError::bad_request(format!("chat template: {e}"))),
            None => {
                let mut s = String::new();
                for m in messages {
                    s.push_str(&format!("{}: {}\n", m.role, m.content.unwrap_or_default()));
                }
                s.push_str("assistant:");
                Ok(s)
            }
        }
    }

    /// The FIM prompt, or 400 for models without FIM.
    pub fn render_fim(&self, model: &str, prefix: &str, suffix: &str) -> Result<String, ApiError> {
        let fim = self.fim.as_ref().ok_or_else(|| {
            ApiError::bad_request(format!(
                "model \"{model}\" does not support insert (fill-in-the-middle)"
            ))
        })?;
        let input = FimInput {
            prefix: prefix.to_string(),
            suffix: suffix.to_string(),
            ..FimInput::default()
        };
        Ok(fim.build(&input, FimLayout::Psm).text())
    }

    /// Capabilities as `/api/show` lists them.
    pub fn capabilities(&self) -> Vec<&'static str> {
        let mut c = vec!["completion"];
        if self.fim.is_some() {
            c.push("insert");
        }
        if self.tools {
            c.push("tools");
        }
        c
    }

    /// A Go-template text for `/api/show`: the manifest's when it has one, else one built from
    /// the FIM tokens and a ChatML-like body. It contains `.Suffix` exactly when FIM works.
    pub fn go_template(&self, manifest: Option<&str>) -> String {
        if let Some(t) = manifest {
            if self.fim.is_some() && !t.contains(".Suffix") {
                // fall through: the manifest template would hide FIM from Continue
            } else {
                return t.to_string();
            }
        }
        let chat = "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}\
                    {{- if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}\
                    <|im_start|>assistant\n{{ .Response }}<|im_end|>";
        match &self.fim {
            Some(f) => format!(
                "{{{{- if .Suffix }}}}{}{{{{ .Prompt }}}}{}{{{{ .Suffix }}}}{}\n{{{{- else }}}}{chat}{{{{- end }}}}",
                f.prefix_token, f.suffix_token, f.middle_token
            ),
            None => chat.to_string(),
        }
    }
}

/// `details` from the store's show info.
pub fn details(show: &ShowInfo) -> ModelDetails {
    let family = show.architecture.clone().unwrap_or_default();
    ModelDetails {
        parent_model: String::new(),
        format: "gguf".into(),
        families: if family.is_empty() {
            Vec::new()
        } else {
            vec![family.clone()]
        },
        family,
        parameter_size: show.parameter_size.clone(),
        quantization_level: show.quantization.clone().unwrap_or_default(),
    }
}

/// `details` for a list entry (opens the GGUF header).
pub fn details_of(r: &ResolvedModel) -> ModelDetails {
    ShowInfo::of(r)
        .map(|s| details(&s))
        .unwrap_or_else(|_| ModelDetails {
            format: "gguf".into(),
            ..ModelDetails::default()
        })
}

/// GGUF metadata flattened for `model_info`; arrays longer than 16 are left out unless `verbose`
/// (as Ollama does for the vocabulary).
pub fn model_info(path: &Path, verbose: bool) -> Result<serde_json::Map<String, Value>, ApiError> {
    let f = hearth_gguf::GgufFile::open(path)
        .map_err(|e| ApiError::internal(format!("{}: {e}", path.display())))?;
    let md = f.metadata();
    let mut out = serde_json::Map::new();
    for (k, v) in md.iter() {
        if k == "tokenizer.chat_template" {
            continue;
        }
        if let hearth_gguf::Value::Array(a) = v {
            if a.len() > 16 && !verbose {
                out.insert(k.to_string(), Value::Null);
                continue;
            }
        }
        out.insert(
            k.to_string(),
            serde_json::to_value(v).unwrap_or(Value::Null),
        );
    }
    if let Some(p) = f.summary().parameters.checked_add(0) {
        out.insert("general.parameter_count".into(), Value::from(p));
    }
    Ok(out)
}
