//! WordPiece vocabularies (BERT) in llama.cpp's form.
use std::collections::HashSet;
use std::path::Path;

use crate::{read_capped, read_json, ConvertError};

/// llama.cpp token types.
pub(crate) const TOKEN_NORMAL: i32 = 1;
pub(crate) const TOKEN_CONTROL: i32 = 3;
pub(crate) const TOKEN_USER_DEFINED: i32 = 4;

/// Most tokens a vocabulary may have.
const MAX_VOCAB: usize = 1 << 22;

/// A WordPiece vocabulary, written the way llama.cpp's WPM tokenizer reads it.
#[derive(Debug)]
pub(crate) struct Vocab {
    pub(crate) tokens: Vec<String>,
    pub(crate) types: Vec<i32>,
    pub(crate) cls: Option<u32>,
    pub(crate) sep: Option<u32>,
    pub(crate) unk: Option<u32>,
    pub(crate) pad: Option<u32>,
    pub(crate) mask: Option<u32>,
    pub(crate) lowercase: bool,
    /// `None`: follow `lowercase` (Hugging Face's BertNormalizer default).
    pub(crate) strip_accents: Option<bool>,
}

/// llama.cpp's "phantom space" form: a word-initial piece gets `▁`, a continuation (`##x`)
/// loses its marker, bracketed specials stay as they are.
pub(crate) fn phantom(tok: &str) -> String {
    if tok.starts_with('[') && tok.ends_with(']') && tok.len() >= 2 {
        tok.to_owned()
    } else if let Some(rest) = tok.strip_prefix("##") {
        rest.to_owned()
    } else {
        format!("\u{2581}{tok}")
    }
}

/// Load the vocabulary of `dir` (`vocab.txt`, else `tokenizer.json`), padded to `n_vocab`
/// entries (the embedding table's rows).
pub(crate) fn load_wordpiece(dir: &Path, n_vocab: usize) -> Result<Vocab, ConvertError> {
    let tok_json_path = dir.join("tokenizer.json");
    let tok_json: Option<serde_json::Value> = if tok_json_path.is_file() {
        Some(read_json(&tok_json_path)?)
    } else {
        None
    };
    let vocab_txt = dir.join("vocab.txt");
    let mut raw: Vec<String> = if vocab_txt.is_file() {
        let bytes = read_capped(&vocab_txt)?;
        let text = String::from_utf8(bytes).map_err(|e| ConvertError::Config {
            path: vocab_txt.clone(),
            message: format!("not UTF-8 at byte {}", e.utf8_error().valid_up_to()),
        })?;
        let mut v: Vec<String> = text
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
            .collect();
        if v.last().is_some_and(String::is_empty) {
            v.pop();
        }
        v
    } else if let Some(j) = &tok_json {
        from_tokenizer_json(&tok_json_path, j)?
    } else {
        return Err(ConvertError::Unsupported {
            path: dir.to_path_buf(),
            message: "no vocab.txt or tokenizer.json".into(),
        });
    };
    if raw.len() > n_vocab || raw.len() > MAX_VOCAB {
        return Err(ConvertError::Config {
            path: dir.to_path_buf(),
            message: format!(
                "the vocabulary has {} tokens but the embedding table {n_vocab} rows",
                raw.len()
            ),
        });
    }

    // Special tokens: the added tokens marked special, else the special-tokens map.
    let mut specials: HashSet<String> = HashSet::new();
    if let Some(added) = tok_json
        .as_ref()
        .and_then(|j| j.get("added_tokens"))
        .and_then(|a| a.as_array())
    {
        for t in added {
            if t.get("special").and_then(|s| s.as_bool()) == Some(true) {
                if let Some(c) = t.get("content").and_then(|c| c.as_str()) {
                    specials.insert(c.to_owned());
                }
            }
        }
    }
    let map_path = dir.join("special_tokens_map.json");
    let map: serde_json::Value = if map_path.is_file() {
        read_json(&map_path)?
    } else {
        serde_json::Value::Null
    };
    let special_text = |key: &str, default: &str| -> String {
        match map.get(key) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(v) => v
                .get("content")
                .and_then(|c| c.as_str())
                .unwrap_or(default)
                .to_owned(),
            None => default.to_owned(),
        }
    };
    let names = [
        special_text("cls_token", "[CLS]"),
        special_text("sep_token", "[SEP]"),
        special_text("unk_token", "[UNK]"),
        special_text("pad_token", "[PAD]"),
        special_text("mask_token", "[MASK]"),
    ];
    specials.extend(names.iter().cloned());
    let id_of = |text: &str| {
        raw.iter()
            .position(|t| t == text)
            .and_then(|i| u32::try_from(i).ok())
    };
    let [cls, sep, unk, pad, mask] = names.map(|n| id_of(&n));

    let mut types: Vec<i32> = raw
        .iter()
        .map(|t| {
            if specials.contains(t) {
                TOKEN_CONTROL
            } else {
                TOKEN_NORMAL
            }
        })
        .collect();
    let mut tokens: Vec<String> = raw.drain(..).map(|t| phantom(&t)).collect();
    for i in tokens.len()..n_vocab {
        tokens.push(format!("[PAD{i}]"));
        types.push(TOKEN_USER_DEFINED);
    }

    let config_path = dir.join("tokenizer_config.json");
    let config: serde_json::Value = if config_path.is_file() {
        read_json(&config_path)?
    } else {
        serde_json::Value::Null
    };
    let normalizer = tok_json.as_ref().and_then(|j| j.get("normalizer"));
    let lowercase = config
        .get("do_lower_case")
        .and_then(|v| v.as_bool())
        .or_else(|| {
            normalizer
                .and_then(|n| n.get("lowercase"))
                .and_then(|v| v.as_bool())
        })
        .unwrap_or(true);
    let strip_accents = normalizer
        .and_then(|n| n.get("strip_accents"))
        .and_then(|v| v.as_bool())
        .or_else(|| config.get("strip_accents").and_then(|v| v.as_bool()));
    Ok(Vocab {
        tokens,
        types,
        cls,
        sep,
        unk,
        pad,
        mask,
        lowercase,
        strip_accents,
    })
}

/// Tokens of a `tokenizer.json` WordPiece model, in id order.
fn from_tokenizer_json(path: &Path, j: &serde_json::Value) -> Result<Vec<String>, ConvertError> {
    let bad = |message: String| ConvertError::Config {
        path: path.to_path_buf(),
        message,
    };
    let model = j.get("model").ok_or_else(|| bad("no \"model\"".into()))?;
    let kind = model.get("type").and_then(|t| t.as_str()).unwrap_or("");
    if kind != "WordPiece" {
        return Err(bad(format!(
            "model.type is {kind:?}; a BERT vocabulary is WordPiece"
        )));
    }
    let vocab = model
        .get("vocab")
        .and_then(|v| v.as_object())
        .ok_or_else(|| bad("model.vocab is not an object".into()))?;
    if vocab.len() > MAX_VOCAB {
        return Err(bad(format!("{} tokens", vocab.len())));
    }
    let mut out: Vec<Option<String>> = vec![None; vocab.len()];
    for (tok, id) in vocab {
        let id = id
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < out.len())
            .ok_or_else(|| {
                bad(format!(
                    "token {tok:?} has id {id}, outside 0..{}",
                    out.len()
                ))
            })?;
        if out[id].replace(tok.clone()).is_some() {
            return Err(bad(format!("id {id} is used twice")));
        }
    }
    // Ids are distinct and below the count, so every slot is filled.
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phantom_space_form() {
        assert_eq!(phantom("hello"), "\u{2581}hello");
        assert_eq!(phantom("##ing"), "ing");
        assert_eq!(phantom("[CLS]"), "[CLS]");
        assert_eq!(phantom("["), "\u{2581}[");
        assert_eq!(phantom("#"), "\u{2581}#");
    }

    #[test]
    fn vocab_txt_with_specials_and_padding() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("vocab.txt"),
            "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n##s\n",
        )
        .unwrap();
        let v = load_wordpiece(d.path(), 9).unwrap();
        assert_eq!(v.tokens.len(), 9);
        assert_eq!(v.tokens[5], "\u{2581}the");
        assert_eq!(v.tokens[6], "s");
        assert_eq!(v.tokens[8], "[PAD8]");
        assert_eq!(&v.types[..7], &[3, 3, 3, 3, 3, 1, 1]);
        assert_eq!(v.types[8], TOKEN_USER_DEFINED);
        assert_eq!(
            (v.cls, v.sep, v.unk, v.pad, v.mask),
            (Some(2), Some(3), Some(1), Some(0), Some(4))
        );
        assert!(v.lowercase);
        assert!(load_wordpiece(d.path(), 3)
            .unwrap_err()
            .to_string()
            .contains("7 tokens"));
    }

    #[test]
    fn tokenizer_json_vocab() {
        let d = tempfile::tempdir().unwrap();
        let j = serde_json::json!({
            "normalizer": {"type": "BertNormalizer", "lowercase": false, "strip_accents": null},
            "added_tokens": [{"id": 0, "content": "[PAD]", "special": true}],
            "model": {"type": "WordPiece", "vocab": {"[PAD]": 0, "a": 2, "##b": 1}}
        });
        std::fs::write(d.path().join("tokenizer.json"), j.to_string()).unwrap();
        let v = load_wordpiece(d.path(), 3).unwrap();
        assert_eq!(v.tokens, ["[PAD]", "b", "\u{2581}a"]);
        assert!(!v.lowercase);
        assert_eq!(v.strip_accents, None);
        let bad = serde_json::json!({"model": {"type": "WordPiece", "vocab": {"a": 0, "b": 0}}});
        std::fs::write(d.path().join("tokenizer.json"), bad.to_string()).unwrap();
        assert!(load_wordpiece(d.path(), 3).is_err());
        let bpe = serde_json::json!({"model": {"type": "BPE", "vocab": {}}});
        std::fs::write(d.path().join("tokenizer.json"), bpe.to_string()).unwrap();
        assert!(load_wordpiece(d.path(), 3)
            .unwrap_err()
            .to_string()
            .contains("WordPiece"));
    }
}
