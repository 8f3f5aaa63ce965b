//! Model names in Ollama's grammar: `[host/][namespace/]model[:tag]`, with defaults
//! `registry.ollama.ai`, `library` and `latest`; `hf.co/{owner}/{repo}[:{quant}]` names a
//! Hugging Face GGUF repo. Parsing is strict: every part must match Ollama's character rules,
//! so a valid name is always a safe relative path `host/namespace/model/tag`.

use std::fmt;
use std::path::PathBuf;

use crate::error::{Result, StoreError};

pub const DEFAULT_HOST: &str = "registry.ollama.ai";
pub const DEFAULT_NAMESPACE: &str = "library";
pub const DEFAULT_TAG: &str = "latest";
/// The host that names Hugging Face repos (`huggingface.co` is accepted and normalised to it).
pub const HF_HOST: &str = "hf.co";

/// A fully qualified, validated model name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelName {
    pub host: String,
    pub namespace: String,
    pub model: String,
    pub tag: String,
    /// `http` only when the name was written with an explicit `http://` prefix.
    pub scheme: Scheme,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scheme {
    Https,
    Http,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    Host,
    Namespace,
    Model,
    Tag,
}

impl Part {
    fn label(self) -> &'static str {
        match self {
            Part::Host => "host",
            Part::Namespace => "namespace",
            Part::Model => "model",
            Part::Tag => "tag",
        }
    }
    fn max_len(self) -> usize {
        match self {
            Part::Host => 350,
            _ => 80,
        }
    }
}

fn check_part(name: &str, kind: Part, s: &str) -> Result<()> {
    let err = |why: String| StoreError::InvalidName {
        name: name.chars().take(200).collect(),
        reason: format!("{} {s:?} {why}", kind.label()),
    };
    if s.is_empty() {
        return Err(err("is empty".into()));
    }
    if s.len() > kind.max_len() {
        return Err(err(format!("is longer than {} bytes", kind.max_len())));
    }
    for (i, c) in s.bytes().enumerate() {
        let ok = c.is_ascii_alphanumeric()
            || c == b'_'
            || (i > 0
                && match c {
                    b'-' => true,
                    b'.' => kind != Part::Namespace,
                    b':' => kind == Part::Host,
                    _ => false,
                });
        if !ok {
            return Err(err(format!(
                "has {:?} at byte {i}; allowed: letters, digits, '_' first, then '-', '_'{}",
                c as char,
                match kind {
                    Part::Host => ", '.', ':'",
                    Part::Namespace => "",
                    _ => ", '.'",
                }
            )));
        }
    }
    Ok(())
}

impl ModelName {
    /// Parse a user-written name, filling in Ollama's defaults.
    pub fn parse(input: &str) -> Result<ModelName> {
        let invalid = |reason: &str| StoreError::InvalidName {
            name: input.chars().take(200).collect(),
            reason: reason.to_string(),
        };
        let mut s = input;
        let mut scheme = Scheme::Https;
        if let Some(rest) = s.strip_prefix("https://") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix("http://") {
            s = rest;
            scheme = Scheme::Http;
        } else if s.contains("://") {
            return Err(invalid("only http:// and https:// are allowed"));
        }
        if s.is_empty() {
            return Err(invalid("is empty"));
        }
        if s.contains('@') {
            return Err(invalid("digest references (@sha256:...) are not supported"));
        }
        // The tag follows the last ':' after the last '/' ("/" never appears in a tag, and a
        // host may carry a port).
        let (rest, tag) = match (s.rfind(':'), s.rfind('/')) {
            (Some(c), slash) if slash.is_none_or(|sl| c > sl) => (&s[..c], Some(&s[c + 1..])),
            _ => (s, None),
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let (host, namespace, model) = match parts.as_slice() {
            [m] => (None, None, *m),
            [ns, m] => (None, Some(*ns), *m),
            [h, ns, m] => (Some(*h), Some(*ns), *m),
            _ => {
                return Err(invalid(
                    "has too many '/' parts (at most host/namespace/model)",
                ))
            }
        };
        let mut host = host.unwrap_or(DEFAULT_HOST).to_string();
        if host.eq_ignore_ascii_case("huggingface.co") || host.eq_ignore_ascii_case(HF_HOST) {
            host = HF_HOST.to_string();
        }
        let n = ModelName {
            host,
            namespace: namespace.unwrap_or(DEFAULT_NAMESPACE).to_string(),
            model: model.to_string(),
            tag: tag.unwrap_or(DEFAULT_TAG).to_string(),
            scheme,
        };
        n.validate(input)?;
        Ok(n)
    }

    /// Build from the four parts of a manifest path (`host/namespace/model/tag`).
    pub fn from_parts(host: &str, namespace: &str, model: &str, tag: &str) -> Result<ModelName> {
        let n = ModelName {
            host: host.to_string(),
            namespace: namespace.to_string(),
            model: model.to_string(),
            tag: tag.to_string(),
            scheme: Scheme::Https,
        };
        n.validate(&format!("{host}/{namespace}/{model}:{tag}"))?;
        Ok(n)
    }

    fn validate(&self, input: &str) -> Result<()> {
        check_part(input, Part::Host, &self.host)?;
        check_part(input, Part::Namespace, &self.namespace)?;
        check_part(input, Part::Model, &self.model)?;
        check_part(input, Part::Tag, &self.tag)?;
        Ok(())
    }

    /// Whether this names a Hugging Face repo (`hf.co/owner/repo[:quant]`).
    pub fn is_huggingface(&self) -> bool {
        self.host == HF_HOST
    }

    /// `host/namespace/model/tag`, relative to `manifests/`.
    pub fn manifest_rel_path(&self) -> PathBuf {
        [&self.host, &self.namespace, &self.model, &self.tag]
            .iter()
            .collect()
    }

    /// `namespace/model`, the repository in registry URLs.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.namespace, self.model)
    }

    /// The registry base URL (`https://registry.ollama.ai`).
    pub fn base_url(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        format!("{scheme}://{}", self.host)
    }

    /// The shortest form that parses back to the same name (`qwen2.5-coder:latest`,
    /// `ns/model:tag`, `host/ns/model:tag`), as Ollama displays names.
    pub fn display_shortest(&self) -> String {
        if !self.host.eq_ignore_ascii_case(DEFAULT_HOST) {
            format!(
                "{}/{}/{}:{}",
                self.host, self.namespace, self.model, self.tag
            )
        } else if !self.namespace.eq_ignore_ascii_case(DEFAULT_NAMESPACE) {
            format!("{}/{}:{}", self.namespace, self.model, self.tag)
        } else {
            format!("{}:{}", self.model, self.tag)
        }
    }

    /// Case-insensitive equality, as Ollama compares names.
    pub fn eq_fold(&self, o: &ModelName) -> bool {
        self.host.eq_ignore_ascii_case(&o.host)
            && self.namespace.eq_ignore_ascii_case(&o.namespace)
            && self.model.eq_ignore_ascii_case(&o.model)
            && self.tag.eq_ignore_ascii_case(&o.tag)
    }
}

impl serde::Serialize for ModelName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_shortest())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(s: &str) -> String {
        let n = ModelName::parse(s).unwrap();
        format!("{}/{}/{}:{}", n.host, n.namespace, n.model, n.tag)
    }

    #[test]
    fn defaults_fill_in() {
        assert_eq!(
            full("qwen2.5-coder"),
            "registry.ollama.ai/library/qwen2.5-coder:latest"
        );
        assert_eq!(
            full("qwen2.5-coder:7b"),
            "registry.ollama.ai/library/qwen2.5-coder:7b"
        );
        assert_eq!(full("me/m:1"), "registry.ollama.ai/me/m:1");
        assert_eq!(full("127.0.0.1:8080/ns/m"), "127.0.0.1:8080/ns/m:latest");
        assert_eq!(full("127.0.0.1:8080/ns/m:q4"), "127.0.0.1:8080/ns/m:q4");
        assert_eq!(
            full("hf.co/bartowski/Qwen2.5-Coder-0.5B-Instruct-GGUF:Q4_K_M"),
            "hf.co/bartowski/Qwen2.5-Coder-0.5B-Instruct-GGUF:Q4_K_M"
        );
        assert_eq!(full("huggingface.co/a/b"), "hf.co/a/b:latest");
        let n = ModelName::parse("http://127.0.0.1:9/ns/m").unwrap();
        assert_eq!(n.scheme, Scheme::Http);
        assert_eq!(n.base_url(), "http://127.0.0.1:9");
    }

    #[test]
    fn display_shortest_round_trips() {
        for s in ["m:latest", "ns/m:t", "h.example/ns/m:t", "hf.co/o/r:Q4_K_M"] {
            let n = ModelName::parse(s).unwrap();
            assert_eq!(n.display_shortest(), s);
            assert_eq!(ModelName::parse(&n.display_shortest()).unwrap(), n);
        }
    }

    #[test]
    fn rejects_unsafe_or_malformed() {
        for bad in [
            "",
            "..",
            "../x",
            "a/../b",
            "a/b/c/d",
            "m:",
            ":t",
            "/m",
            "m/",
            "ns.dot/m",
            "m:t/x",
            "m:..",
            "-m",
            ".m",
            "m@sha256:00",
            "ftp://h/n/m",
            "a b",
            "m:t:u",
            "ns/m\\x",
            "m\0",
            "hf.co/o/../r",
        ] {
            assert!(ModelName::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(ModelName::parse(&"m".repeat(81)).is_err());
    }

    #[test]
    fn manifest_path_is_four_components() {
        let n = ModelName::parse("qwen2.5-coder:0.5b").unwrap();
        let p = n.manifest_rel_path();
        assert_eq!(p.components().count(), 4);
        assert_eq!(
            p,
            PathBuf::from("registry.ollama.ai/library/qwen2.5-coder/0.5b")
        );
    }
}
