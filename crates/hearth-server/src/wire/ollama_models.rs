//! Ollama's model-management wire types (`/api/tags`, `/api/show`, `/api/ps`) and the facts
//! they report: `details`, `model_info`, and the Go-style `template` (with `.Suffix` for FIM
//! models, which is how Continue decides to send `suffix`).
use std::path::Path;

use hearth_store::{ResolvedModel, ShowInfo};
use serde::Serialize;
use serde_json::Value;

use crate::service::prompts::PromptInfo;

/// `details` of a model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct ModelDetails {
    pub(crate) parent_model: String,
    pub(crate) format: String,
    pub(crate) family: String,
    pub(crate) families: Vec<String>,
    pub(crate) parameter_size: String,
    pub(crate) quantization_level: String,
}

/// One entry of `/api/tags`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ListModel {
    pub(crate) name: String,
    pub(crate) model: String,
    pub(crate) modified_at: String,
    pub(crate) size: u64,
    pub(crate) digest: String,
    pub(crate) details: ModelDetails,
}

/// One entry of `/api/ps`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ProcessModel {
    pub(crate) name: String,
    pub(crate) model: String,
    pub(crate) size: u64,
    pub(crate) digest: String,
    pub(crate) details: ModelDetails,
    pub(crate) expires_at: String,
    pub(crate) size_vram: u64,
    pub(crate) context_length: u32,
}

/// RFC 3339 time like Go's `time.Time` JSON.
pub(crate) fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let whole = secs.floor() as i64;
    let micros = ((secs - whole as f64) * 1e6) as u32;
    let days = whole.div_euclid(86_400);
    let rem = whole.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `details` from the store's show info.
pub(crate) fn details(show: &ShowInfo) -> ModelDetails {
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

/// `details` for a list entry (opens the GGUF header: call it off the async workers).
pub(crate) fn details_of(r: &ResolvedModel) -> ModelDetails {
    ShowInfo::of(r)
        .map(|s| details(&s))
        .unwrap_or_else(|_| ModelDetails {
            format: "gguf".into(),
            ..ModelDetails::default()
        })
}

/// GGUF metadata flattened for `model_info`; arrays longer than 16 are left out unless `verbose`
/// (as Ollama does for the vocabulary). Blocking.
pub(crate) fn model_info(
    path: &Path,
    verbose: bool,
) -> Result<serde_json::Map<String, Value>, hearth_gguf::GgufError> {
    let f = hearth_gguf::GgufFile::open(path)?;
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
    out.insert(
        "general.parameter_count".into(),
        Value::from(f.summary().parameters),
    );
    Ok(out)
}

/// A Go-template text for `/api/show`: the manifest's when it has one, else one built from
/// the FIM tokens and a ChatML-like body. It contains `.Suffix` exactly when FIM works.
pub(crate) fn go_template(info: &PromptInfo, manifest: Option<&str>) -> String {
    if let Some(t) = manifest {
        // A manifest template without `.Suffix` would hide FIM from Continue.
        if info.fim.is_none() || t.contains(".Suffix") {
            return t.to_string();
        }
    }
    let chat = "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}\
                {{- if .Prompt }}<|im_start|>user\n{{ .Prompt }}<|im_end|>\n{{ end }}\
                <|im_start|>assistant\n{{ .Response }}<|im_end|>";
    match &info.fim {
        Some(f) => format!(
            "{{{{- if .Suffix }}}}{}{{{{ .Prompt }}}}{}{{{{ .Suffix }}}}{}\n{{{{- else }}}}{chat}{{{{- end }}}}",
            f.prefix_token, f.suffix_token, f.middle_token
        ),
        None => chat.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20.000000Z");
    }
}
