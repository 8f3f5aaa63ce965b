//! Placeholders: identifier-shaped and kind-tagged (`HEARTH_OPENAI_KEY_3f9a1c2e`), or for host
//! names a name that can never resolve (`h-3f9a1c2e.invalid`, RFC 6761). The id is the first
//! 32 bits of HMAC-SHA256 under a per-process key of the value: the same value gets the same
//! placeholder in every message of every turn, and nobody without the key can make one for a
//! value they guess.
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The per-process key.
#[derive(Clone)]
pub(crate) struct Key(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

impl Key {
    pub(crate) fn random() -> Result<Key, getrandom::Error> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::getrandom(&mut k[..])?;
        Ok(Key(k))
    }

    #[cfg(test)]
    pub(crate) fn fixed(b: u8) -> Key {
        Key(Zeroizing::new([b; 32]))
    }

    /// 8 lower-case hex digits identifying `value`.
    pub(crate) fn id(&self, value: &str) -> String {
        // HMAC takes keys of any length: `new_from_slice` cannot fail here.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0[..]) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(value.as_bytes());
        let out = mac.finalize().into_bytes();
        out[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The placeholder for a value of kind `tag` (`HOST` gets the host-name form).
pub(crate) fn make(tag: &str, id: &str) -> String {
    if tag == HOST_TAG {
        format!("h-{id}.invalid")
    } else {
        format!("HEARTH_{tag}_{id}")
    }
}

/// The tag of internal host names.
pub(crate) const HOST_TAG: &str = "HOST";

/// A tag from a free-form name (`OPENAI_API_KEY` → `OPENAI_API_KEY`, `db-pass` → `DB_PASS`),
/// at most 24 characters.
pub(crate) fn tag_of(name: &str) -> String {
    let t: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .take(24)
        .collect();
    let t = t.trim_matches('_');
    if t.is_empty() {
        "KNOWN".to_string()
    } else {
        t.to_string()
    }
}

fn is_hex8(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Whether `s` is shaped like a placeholder (issued or not).
pub(crate) fn is_placeholder(s: &str) -> bool {
    if let Some(rest) = s.strip_prefix("HEARTH_") {
        return rest
            .rsplit_once('_')
            .is_some_and(|(tag, id)| !tag.is_empty() && is_hex8(id));
    }
    s.strip_prefix("h-")
        .and_then(|r| r.strip_suffix(".invalid"))
        .is_some_and(is_hex8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_key_and_differ_across_keys() {
        let a = Key::fixed(1);
        assert_eq!(a.id("secret-value"), a.id("secret-value"));
        assert_ne!(a.id("secret-value"), a.id("secret-valuf"));
        assert_ne!(a.id("secret-value"), Key::fixed(2).id("secret-value"));
        assert_eq!(a.id("x").len(), 8);
    }

    #[test]
    fn shapes() {
        assert_eq!(make("AWS_KEY_ID", "0123abcd"), "HEARTH_AWS_KEY_ID_0123abcd");
        assert_eq!(make(HOST_TAG, "0123abcd"), "h-0123abcd.invalid");
        assert!(is_placeholder("HEARTH_AWS_KEY_ID_0123abcd"));
        assert!(is_placeholder("h-0123abcd.invalid"));
        assert!(!is_placeholder("HEARTH_0123abcd"));
        assert!(!is_placeholder("HEARTH_X_0123ABCD"));
        assert_eq!(tag_of("db-pass"), "DB_PASS");
        assert_eq!(tag_of("--"), "KNOWN");
    }
}
