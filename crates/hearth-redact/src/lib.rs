//! `hearth-redact`: secrets found in text before it leaves the machine, replaced by
//! placeholders, and put back in the reply where that is safe. Pure text: no HTTP, no engine.
//!
//! * Detection ([`Redactor`]): the built-in [`rules`] (provider token formats, private keys,
//!   env-style `NAME=VALUE` lines whose name says secret, URL passwords, secret-sounding
//!   assignments of random-looking values), behind one case-insensitive keyword automaton so
//!   that only rules whose keywords occur run their regex; exact [`known`] values (from `.env`
//!   files and secret-named environment variables, in their JSON-escaped and multi-line forms
//!   too); host names under internal suffixes; a user deny list. Overlapping finds: the
//!   longest wins.
//! * Placeholders are deterministic per process ([`placeholder`]): the same secret gets the
//!   same one in every message of every turn, so a conversation stays coherent, and the map
//!   back to values lives only in the [`Request`].
//! * A finding of a class marked *block* (private keys; known values unless told otherwise)
//!   marks the request: it must not leave at all ([`Request::blocked`]). The scan fails closed:
//!   an error or the deadline (250 ms by default) is an `Err`, and the caller keeps the request
//!   local.
//! * [`Restorer`] puts issued values back into a streamed reply, holding back at most one
//!   placeholder's length, and by default not inside URLs or markdown link targets (where a
//!   prompt-injected instruction could make the model exfiltrate the value).
mod known;
mod placeholder;
mod restore;
pub mod rules;
mod scan;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

pub use known::{from_dotenv, from_env, secret_name, KnownValue, MIN_KNOWN_LEN};
pub use restore::{Escape, RestorePolicy, Restorer};

use placeholder::Key;
use scan::{Detectors, Source};

/// Why text could not be redacted. Every error means: do not send it.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    #[error("redaction pattern {what} does not compile: {message}")]
    Pattern { what: String, message: String },
    #[error("redaction passed its {0:?} deadline")]
    Deadline(Duration),
    #[error("no randomness for the placeholder key: {0}")]
    Random(String),
    #[error("two different values got placeholder {0}")]
    Collision(String),
}

/// Settings for a [`Redactor`].
#[derive(Debug, Clone)]
pub struct Builder {
    known: Vec<KnownValue>,
    deny: Vec<String>,
    internal_domains: Vec<String>,
    deadline: Duration,
    block_known: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            known: Vec::new(),
            deny: Vec::new(),
            internal_domains: Vec::new(),
            deadline: Duration::from_millis(250),
            block_known: true,
        }
    }
}

impl Builder {
    /// Exact values to find (see [`from_env`], [`from_dotenv`]).
    pub fn known(mut self, values: impl IntoIterator<Item = KnownValue>) -> Self {
        self.known.extend(values);
        self
    }

    /// Strings that must never leave (exact, case-sensitive).
    pub fn deny(mut self, words: impl IntoIterator<Item = String>) -> Self {
        self.deny.extend(words);
        self
    }

    /// Host-name suffixes that are internal (`corp.example.com`, `.internal`).
    pub fn internal_domains(mut self, domains: impl IntoIterator<Item = String>) -> Self {
        self.internal_domains.extend(domains);
        self
    }

    /// The longest a request's scan may take; past it the scan fails.
    pub fn deadline(mut self, d: Duration) -> Self {
        self.deadline = d;
        self
    }

    /// Whether a known value keeps the request local (default) or is only replaced.
    pub fn block_known(mut self, block: bool) -> Self {
        self.block_known = block;
        self
    }

    pub fn build(self) -> Result<Redactor, RedactError> {
        let detectors = Detectors::new(
            &self.known,
            &self.deny,
            &self.internal_domains,
            self.deadline,
        )?;
        let key = Key::random().map_err(|e| RedactError::Random(e.to_string()))?;
        Ok(Redactor {
            detectors,
            known: self.known,
            key,
            block_known: self.block_known,
        })
    }
}

/// The compiled detectors and the process's placeholder key. Build once; each request gets
/// its own [`Request`].
#[derive(Debug)]
pub struct Redactor {
    detectors: Detectors,
    known: Vec<KnownValue>,
    key: Key,
    block_known: bool,
}

/// How often one rule found something in a request (never the values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Rule id (`openai-api-key`), or `known-value`, `internal-host`, `deny-list`.
    pub rule: String,
    pub count: usize,
}

impl Redactor {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The state of one request: every text of it goes through the same [`Request`].
    pub fn request(&self) -> Request<'_> {
        Request {
            redactor: self,
            started: Instant::now(),
            issued: HashMap::new(),
            counts: BTreeMap::new(),
            blocked: None,
        }
    }

    #[cfg(test)]
    fn with_key(mut self, key: Key) -> Self {
        self.key = key;
        self
    }

    /// (rule id, placeholder tag, block) of a source.
    fn describe(&self, s: &Source) -> (&'static str, String, bool) {
        match s {
            Source::Rule(i) => {
                let r = &rules::BUILTIN[*i];
                (r.id, r.tag.to_string(), r.block)
            }
            Source::Known(i) => (
                "known-value",
                placeholder::tag_of(&self.known[*i].name),
                self.block_known,
            ),
            Source::Host => ("internal-host", placeholder::HOST_TAG.to_string(), false),
            Source::Denied => ("deny-list", "DENIED".to_string(), false),
        }
    }
}

/// One request's redaction: the placeholders it issued (and their values, for the reply),
/// counts per rule, and whether something in it must not leave.
#[derive(Debug)]
pub struct Request<'a> {
    redactor: &'a Redactor,
    started: Instant,
    /// Placeholder → value.
    issued: HashMap<String, Zeroizing<String>>,
    counts: BTreeMap<&'static str, usize>,
    blocked: Option<&'static str>,
}

impl Request<'_> {
    /// `text` with every secret replaced by its placeholder.
    pub fn redact(&mut self, text: &str) -> Result<String, RedactError> {
        let spans = self.redactor.detectors.find(text, self.started)?;
        if spans.is_empty() {
            return Ok(text.to_string());
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for s in spans {
            let value = &text[s.start..s.end];
            let (rule, tag, block) = self.redactor.describe(&s.source);
            let ph = placeholder::make(&tag, &self.redactor.key.id(value));
            match self.issued.get(&ph) {
                Some(v) if v.as_str() != value => return Err(RedactError::Collision(ph)),
                Some(_) => {}
                None => {
                    self.issued
                        .insert(ph.clone(), Zeroizing::new(value.to_string()));
                }
            }
            *self.counts.entry(rule).or_default() += 1;
            if block && self.blocked.is_none() {
                self.blocked = Some(rule);
            }
            out.push_str(&text[at..s.start]);
            out.push_str(&ph);
            at = s.end;
        }
        out.push_str(&text[at..]);
        Ok(out)
    }

    /// The rule of the first finding that must not leave, if any: the request stays local.
    pub fn blocked(&self) -> Option<&'static str> {
        self.blocked
    }

    /// Counts per rule, by rule id.
    pub fn findings(&self) -> Vec<Finding> {
        self.counts
            .iter()
            .map(|(r, c)| Finding {
                rule: (*r).to_string(),
                count: *c,
            })
            .collect()
    }

    /// How many distinct placeholders were issued.
    pub fn issued(&self) -> usize {
        self.issued.len()
    }

    /// A restorer for this request's reply.
    pub fn restorer(&self, policy: RestorePolicy, escape: Escape) -> Restorer {
        Restorer::new(
            self.issued
                .iter()
                .map(|(p, v)| (p.clone(), v.clone()))
                .collect(),
            policy,
            escape,
        )
    }
}

#[cfg(test)]
mod tests;
