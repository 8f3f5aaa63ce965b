//! Exact values the user's machine knows to be secret: from `.env` files and from environment
//! variables whose names say so. Each is matched in the forms it takes in a prompt: as is,
//! JSON-escaped, and with its line breaks written as `\n` (or the reverse).
use zeroize::Zeroizing;

/// Values shorter than this are not matched (too many accidental hits).
pub const MIN_KNOWN_LEN: usize = 8;

/// A known secret value, in every form it is matched in.
#[derive(Debug, Clone)]
pub struct KnownValue {
    /// Where it came from (an environment variable's or a `.env` key's name), for the
    /// placeholder's tag and the audit; never the value.
    pub name: String,
    pub(crate) forms: Vec<Zeroizing<String>>,
}

impl KnownValue {
    /// `None` when the value is too short to match safely.
    pub fn new(name: &str, value: &str) -> Option<KnownValue> {
        let value = value.trim();
        if value.len() < MIN_KNOWN_LEN {
            return None;
        }
        let mut forms: Vec<Zeroizing<String>> = vec![Zeroizing::new(value.to_string())];
        let mut add = |f: String| {
            if f.len() >= MIN_KNOWN_LEN && !forms.iter().any(|g| **g == f) {
                forms.push(Zeroizing::new(f));
            }
        };
        let json = serde_json::to_string(value).unwrap_or_default();
        if json.len() >= 2 {
            add(json[1..json.len() - 1].to_string());
        }
        if value.contains("\\n") {
            add(value.replace("\\n", "\n"));
        }
        if value.contains('\n') {
            add(value.replace('\n', "\\n"));
            add(value.replace("\r\n", "\n").replace('\n', "\\n"));
        }
        Some(KnownValue {
            name: name.to_string(),
            forms,
        })
    }
}

/// Whether an environment variable's name says its value is a secret.
pub fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL"]
        .iter()
        .any(|w| n.contains(w))
        && !n.ends_with("_PATH")
        && !n.ends_with("_FILE")
        && !n.ends_with("_URL")
}

/// The known values among environment variables (`vars`: name, value pairs).
pub fn from_env<I, K, V>(vars: I) -> Vec<KnownValue>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    vars.into_iter()
        .filter(|(k, _)| secret_name(k.as_ref()))
        .filter_map(|(k, v)| KnownValue::new(k.as_ref(), v.as_ref()))
        .collect()
}

/// Every value of a `.env` file's `NAME=VALUE` lines (all of them: the file is secret by
/// being there), `export` prefixes, quotes and comments handled; multi-line double-quoted
/// values joined.
pub fn from_dotenv(text: &str) -> Vec<KnownValue> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, rest)) = line.split_once('=') else {
            continue;
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let rest = rest.trim();
        let value = if let Some(q) = rest.strip_prefix('"') {
            match q.find('"') {
                Some(end) => q[..end].to_string(),
                None => {
                    // A value that spans lines (a PEM key) runs to the closing quote.
                    let mut v = q.to_string();
                    for more in lines.by_ref() {
                        v.push('\n');
                        match more.find('"') {
                            Some(end) => {
                                v.push_str(&more[..end]);
                                break;
                            }
                            None => v.push_str(more),
                        }
                    }
                    v
                }
            }
        } else if let Some(q) = rest.strip_prefix('\'') {
            q.split('\'').next().unwrap_or_default().to_string()
        } else {
            rest.split(" #")
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        out.extend(KnownValue::new(name, &value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms(k: &KnownValue) -> Vec<&str> {
        k.forms.iter().map(|f| f.as_str()).collect()
    }

    #[test]
    fn dotenv_values_in_every_form() {
        let env = "# comment\nexport API_TOKEN=\"tok-12345678\"\nSHORT=abc\nDB_PASS='p@ss \"word\" 99'\nKEY=\"-----BEGIN-----\nAAAABBBB\n-----END-----\"\nPLAIN=plain-value-1 # note\n";
        let got = from_dotenv(env);
        let names: Vec<&str> = got.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["API_TOKEN", "DB_PASS", "KEY", "PLAIN"]);
        assert_eq!(forms(&got[0]), ["tok-12345678"]);
        assert_eq!(forms(&got[1]), ["p@ss \"word\" 99", "p@ss \\\"word\\\" 99"]);
        assert_eq!(
            forms(&got[2]),
            [
                "-----BEGIN-----\nAAAABBBB\n-----END-----",
                "-----BEGIN-----\\nAAAABBBB\\n-----END-----"
            ]
        );
        assert_eq!(forms(&got[3]), ["plain-value-1"]);
    }

    #[test]
    fn env_names_that_say_secret() {
        let got = from_env([
            ("OPENAI_API_KEY", "sk-1234567890"),
            ("HOME", "/root/somewhere"),
            ("GITHUB_TOKEN", "short"),
            ("SSH_KEY_PATH", "/root/.ssh/id_ed25519"),
            ("db_password", "correct horse battery"),
        ]);
        let names: Vec<&str> = got.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["OPENAI_API_KEY", "db_password"]);
    }
}
