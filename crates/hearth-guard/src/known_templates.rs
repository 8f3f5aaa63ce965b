//! The pinned list of known-good chat templates (sha256 of the exact UTF-8 text as stored in
//! GGUF `tokenizer.chat_template`).
//!
//! Entries with text (the three real test models' templates, extracted with hearth-gguf by
//! `examples/dump_templates.rs`) can be diffed against; the others are pinned by hash only
//! (hashes of the GGUF templates shipped in the Ollama library builds of those models, as
//! listed in huggingface.js `ollama-utils`), so a match is recognised but no diff is shown.

use crate::diff;

/// One pinned template.
#[derive(Debug, Clone, Copy)]
pub struct KnownTemplate {
    pub family: &'static str,
    pub name: &'static str,
    pub sha256: &'static str,
    pub text: Option<&'static str>,
}

/// The pinned list.
pub const KNOWN: &[KnownTemplate] = &[
    KnownTemplate {
        family: "qwen2",
        name: "Qwen2.5-Coder-Instruct (0.5B GGUF; Ollama qwen2.5-coder)",
        sha256: "cd8e9439f0570856fd70470bf8889ebd8b5d1107207f67a5efb46e342330527f",
        text: Some(include_str!("../templates/qwen2.5-coder-instruct-a.jinja")),
    },
    KnownTemplate {
        family: "qwen2",
        name: "Qwen2.5-Instruct (also Qwen2.5-Coder-1.5B-Instruct GGUF; Ollama qwen2.5)",
        sha256: "d5495a1e5db0611132a97e46a65dbb64a642a499421228b9c8b93229097fa9a4",
        text: Some(include_str!("../templates/qwen2.5-coder-instruct-b.jinja")),
    },
    KnownTemplate {
        family: "llama",
        name: "SmolLM2-Instruct",
        sha256: "872be49dbb638044ad01b60388f48d469ff2980e5f0dccdc22ec907db54d0788",
        text: Some(include_str!("../templates/smollm2-instruct.jinja")),
    },
    KnownTemplate {
        family: "llama",
        name: "Llama-3-Instruct",
        sha256: "ba03a121d097859c7b5b9cd03af99aafe95275210d2876f642ad9929a150f122",
        text: None,
    },
    KnownTemplate {
        family: "llama",
        name: "Llama-3.1-Instruct",
        sha256: "e10ca381b1ccc5cf9db52e371f3b6651576caee0a630b452e2816b2d404d4b65",
        text: None,
    },
    KnownTemplate {
        family: "llama",
        name: "Llama-3.2-Instruct",
        sha256: "5816fce10444e03c2e9ee1ef8a4a1ea61ae7e69e438613f3b17b69d0426223a4",
        text: None,
    },
    KnownTemplate {
        family: "llama",
        name: "Llama-3.2-Vision-Instruct",
        sha256: "e407323269d15bba92fc431b5b7d757e66d920d01b45cae58149a692d7697d3c",
        text: None,
    },
    KnownTemplate {
        family: "llama",
        name: "Mistral-7B-Instruct",
        sha256: "7e995b379ec01747807246483647cd99030abf331653f1119e16d7ac041a3495",
        text: None,
    },
    KnownTemplate {
        family: "llama",
        name: "Mistral-Small-24B-Instruct",
        sha256: "d99c0a28fd4eebd7ba2cc0309651f6d7c5486024989bc42f6bb4cc558d553689",
        text: None,
    },
    KnownTemplate {
        family: "llama",
        name: "Mistral-Large-Instruct",
        sha256: "3c4ad5fa60dd8c7ccdf82fa4225864c903e107728fcaf859fa6052cb80c92ee9",
        text: None,
    },
];

/// The pinned template with this sha256, if any.
pub fn by_hash(sha256: &str) -> Option<&'static KnownTemplate> {
    KNOWN.iter().find(|k| k.sha256.eq_ignore_ascii_case(sha256))
}

/// The known template (with text) most similar to `text`, preferring the same family.
pub fn closest(text: &str, family: Option<&str>) -> Option<(&'static KnownTemplate, f64)> {
    KNOWN
        .iter()
        .filter_map(|k| k.text.map(|t| (k, diff::similarity(t, text))))
        .max_by(|a, b| {
            let fa = family.is_some_and(|f| f == a.0.family);
            let fb = family.is_some_and(|f| f == b.0.family);
            (a.1 + f64::from(u8::from(fa)) * 0.05)
                .total_cmp(&(b.1 + f64::from(u8::from(fb)) * 0.05))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_texts_match_their_hashes() {
        for k in KNOWN {
            if let Some(t) = k.text {
                assert_eq!(crate::sha256_hex(t.as_bytes()), k.sha256, "{}", k.name);
            }
            assert_eq!(k.sha256.len(), 64);
        }
    }

    #[test]
    fn closest_finds_the_edited_template() {
        let smol = KNOWN[2].text.unwrap();
        let edited = smol.replace("helpful", "harmful");
        let (k, s) = closest(&edited, None).unwrap();
        assert_eq!(k.name, "SmolLM2-Instruct");
        assert!(s > 0.3 && s < 1.0);
    }
}
