//! Hugging Face: list a repo's files (`/api/models/{owner}/{repo}/tree/main?recursive=true`),
//! pick the GGUF file for a quant tag, and build its resolve URL
//! (`/{owner}/{repo}/resolve/main/{path}`).

use serde::Deserialize;

use crate::digest::Digest;
use crate::error::{Result, StoreError};
use crate::http::{Credential, HttpClient};
use crate::name::ModelName;

/// The listing may not exceed this many bytes per page.
pub(crate) const MAX_LISTING_BYTES: u64 = 16 << 20;
/// Pages followed through `Link: <...>; rel="next"`.
pub(crate) const MAX_LISTING_PAGES: usize = 20;

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct TreeEntry {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub path: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub lfs: Option<Lfs>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Lfs {
    #[serde(default)]
    pub oid: String,
    #[serde(default)]
    pub size: u64,
}

/// The file chosen for a pull.
#[derive(Debug, Clone)]
pub(crate) struct HfFile {
    pub path: String,
    pub size: u64,
    /// From the LFS pointer; `None` for files stored in git directly.
    pub sha256: Option<Digest>,
}

pub(crate) fn list(
    client: &HttpClient,
    endpoint: &str,
    name: &ModelName,
    credential: Option<&Credential>,
) -> Result<Vec<TreeEntry>> {
    let repo = name.repository();
    let first = format!("{endpoint}/api/models/{repo}/tree/main?recursive=true");
    let origin = crate::http::origin(&crate::http::parse_uri(&first)?);
    let mut url = first;
    let mut out = Vec::new();
    for _ in 0..MAX_LISTING_PAGES {
        let resp = client.get(&url, &[("Accept", "application/json".into())], credential)?;
        if resp.status() == 404 || resp.status() == 401 {
            return Err(StoreError::HuggingFace {
                repo,
                reason: format!(
                    "not found (HTTP {}): check the name, or set HF_TOKEN for a gated repo",
                    resp.status()
                ),
            });
        }
        let resp = resp.error_for_status()?;
        let next = resp.header("link").and_then(next_link);
        let bytes = resp.read_limited(MAX_LISTING_BYTES, &format!("file listing of {repo}"))?;
        let page: Vec<TreeEntry> =
            serde_json::from_slice(&bytes).map_err(|source| StoreError::Json {
                what: format!("file listing of {repo}"),
                source,
            })?;
        out.extend(page);
        match next {
            Some(n)
                if crate::http::parse_uri(&n).is_ok_and(|u| crate::http::origin(&u) == origin) =>
            {
                url = n
            }
            Some(n) => {
                return Err(StoreError::HuggingFace {
                    repo,
                    reason: format!("listing points to another host: {n}"),
                })
            }
            None => return Ok(out),
        }
    }
    Err(StoreError::HuggingFace {
        repo,
        reason: format!("listing has more than {MAX_LISTING_PAGES} pages"),
    })
}

fn next_link(h: &str) -> Option<String> {
    h.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

fn is_split(path: &str) -> bool {
    // name-00001-of-00003.gguf
    let stem = path.to_ascii_lowercase();
    let stem = stem.trim_end_matches(".gguf");
    let b = stem.as_bytes();
    b.len() >= 15 && {
        let t = &b[b.len() - 15..];
        t[0] == b'-'
            && t[1..6].iter().all(u8::is_ascii_digit)
            && &t[6..10] == b"-of-"
            && t[10..].iter().all(u8::is_ascii_digit)
    }
}

/// Whether `tag` occurs in `file` as a whole token (so `Q4_K` does not match `Q4_K_M`).
fn has_token(file: &str, tag: &str) -> bool {
    let f = file.to_ascii_uppercase();
    let t = tag.to_ascii_uppercase();
    let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    f.match_indices(&t)
        .any(|(i, _)| !word(f[..i].chars().next_back()) && !word(f[i + t.len()..].chars().next()))
}

/// Pick the GGUF file for `tag` (`latest`: Q4_K_M, then Q4_0, Q8_0, or the only file).
pub(crate) fn choose(entries: &[TreeEntry], name: &ModelName) -> Result<HfFile> {
    let repo = name.repository();
    let ggufs: Vec<&TreeEntry> = entries
        .iter()
        .filter(|e| e.kind == "file" && e.path.to_ascii_lowercase().ends_with(".gguf"))
        .filter(|e| !e.path.to_ascii_lowercase().contains("mmproj"))
        .collect();
    if ggufs.is_empty() {
        return Err(StoreError::HuggingFace {
            repo,
            reason: "has no .gguf files (only GGUF repos can be pulled)".into(),
        });
    }
    let file_name = |e: &TreeEntry| e.path.rsplit('/').next().unwrap_or(&e.path).to_string();
    let matching = |tag: &str| -> Vec<&TreeEntry> {
        ggufs
            .iter()
            .copied()
            .filter(|e| has_token(&file_name(e), tag))
            .collect()
    };
    let mut candidates = if name.tag == "latest" {
        ["Q4_K_M", "Q4_0", "Q8_0"]
            .iter()
            .map(|t| matching(t))
            .find(|m| !m.is_empty())
            .unwrap_or_else(|| {
                if ggufs.len() == 1 {
                    ggufs.clone()
                } else {
                    vec![]
                }
            })
    } else {
        matching(&name.tag)
    };
    if candidates.is_empty() {
        let mut avail: Vec<String> = ggufs.iter().map(|e| file_name(e)).collect();
        avail.sort();
        return Err(StoreError::HuggingFace {
            repo,
            reason: format!(
                "no GGUF file matches tag {:?}; files: {}",
                name.tag,
                avail.join(", ")
            ),
        });
    }
    candidates.sort_by_key(|e| (e.path.matches('/').count(), e.path.len(), e.path.clone()));
    let e = candidates[0];
    if is_split(&e.path) {
        return Err(StoreError::HuggingFace {
            repo,
            reason: format!(
                "{} is split into several files; split GGUF is not supported yet",
                e.path
            ),
        });
    }
    if e.path
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(StoreError::HuggingFace {
            repo,
            reason: format!("refusing odd path {:?}", e.path),
        });
    }
    let sha256 = match &e.lfs {
        Some(l) => Some(
            Digest::from_hex(&l.oid).ok_or_else(|| StoreError::InvalidDigest {
                digest: l.oid.chars().take(100).collect(),
            })?,
        ),
        None => None,
    };
    Ok(HfFile {
        path: e.path.clone(),
        size: e.lfs.as_ref().map(|l| l.size).unwrap_or(e.size),
        sha256,
    })
}

/// `{endpoint}/{owner}/{repo}/resolve/main/{path}` with each path segment percent-encoded.
pub(crate) fn resolve_url(endpoint: &str, name: &ModelName, path: &str) -> String {
    let enc: Vec<String> = path.split('/').map(percent_encode).collect();
    format!(
        "{endpoint}/{}/resolve/main/{}",
        name.repository(),
        enc.join("/")
    )
}

fn percent_encode(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(path: &str) -> TreeEntry {
        TreeEntry {
            kind: "file".into(),
            path: path.into(),
            size: 10,
            lfs: Some(Lfs {
                oid: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32".into(),
                size: 10,
            }),
        }
    }

    #[test]
    fn chooses_quant_by_whole_token() {
        let files = vec![
            e("README.md"),
            e("m-Q4_K.gguf"),
            e("m-Q4_K_M.gguf"),
            e("m-Q8_0.gguf"),
            e("mmproj-m-Q4_K_M.gguf"),
        ];
        let n = |t: &str| ModelName::parse(&format!("hf.co/o/r:{t}")).unwrap();
        assert_eq!(choose(&files, &n("Q4_K")).unwrap().path, "m-Q4_K.gguf");
        assert_eq!(choose(&files, &n("q4_k_m")).unwrap().path, "m-Q4_K_M.gguf");
        assert_eq!(choose(&files, &n("latest")).unwrap().path, "m-Q4_K_M.gguf");
        assert!(choose(&files, &n("Q2_K")).is_err());
        let split = vec![e("m-Q4_K_M-00001-of-00002.gguf")];
        assert!(choose(&split, &n("Q4_K_M")).is_err());
        let mut bad = e("x-Q4_K_M.gguf");
        bad.lfs.as_mut().unwrap().oid = "../../etc".into();
        assert!(choose(&[bad], &n("Q4_K_M")).is_err());
    }

    #[test]
    fn links_and_urls() {
        assert_eq!(
            next_link("<https://h/api?cursor=x>; rel=\"next\"").as_deref(),
            Some("https://h/api?cursor=x")
        );
        let n = ModelName::parse("hf.co/o/r:Q4").unwrap();
        assert_eq!(
            resolve_url("https://hf", &n, "a b/c.gguf"),
            "https://hf/o/r/resolve/main/a%20b/c.gguf"
        );
    }
}
