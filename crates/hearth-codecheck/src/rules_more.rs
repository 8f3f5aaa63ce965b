//! Rules for CWE 327, 328, 338, 295, 918 and 79.

use tree_sitter::Node;

use crate::ast::{contains_any, Binding, Call, Ctx};
use crate::rules::{is_dynamic_string, is_secret_context, report};
use crate::{Finding, Lang};

fn lit_lower(ctx: &Ctx<'_>, n: Option<Node<'_>>) -> String {
    n.filter(|a| ctx.is_plain_string(*a))
        .map(|a| ctx.text(a).to_ascii_lowercase())
        .unwrap_or_default()
}

fn weak_hash_name(s: &str) -> bool {
    let s = s.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    matches!(
        s,
        "md5" | "md4" | "md2" | "sha1" | "sha-1" | "sha" | "ripemd160" | "rmd160"
    )
}

fn weak_cipher_name(s: &str) -> bool {
    let s = s.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    s == "aes"
        || s.starts_with("des")
        || s.starts_with("rc4")
        || s.starts_with("rc2")
        || s.starts_with("bf")
        || s.starts_with("blowfish")
        || s.starts_with("arcfour")
        || s.contains("ecb")
        || s.starts_with("3des")
        || s.starts_with("tripledes")
}

/// CWE-327 / 328 / 338.
pub(crate) fn crypto(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    let callee = c.callee.as_str();
    let name = c.name.as_str();
    let a0 = lit_lower(ctx, c.arg(0));
    // ---- weak hash (328)
    let weak_hash = match ctx.lang {
        Lang::Python => {
            (matches!(
                callee,
                "hashlib.md5"
                    | "hashlib.sha1"
                    | "MD5.new"
                    | "SHA.new"
                    | "SHA1.new"
                    | "Crypto.Hash.MD5.new"
            ) && c
                .kwarg("usedforsecurity")
                .is_none_or(|v| ctx.text(v) != "False"))
                || (callee == "hashlib.new" && weak_hash_name(&a0))
        }
        l if l.is_js() => name == "createHash" && weak_hash_name(&a0),
        Lang::Go => matches!(callee, "md5.New" | "md5.Sum" | "sha1.New" | "sha1.Sum"),
        Lang::Java => {
            (name == "getInstance" && callee.contains("MessageDigest") && weak_hash_name(&a0))
                || (callee.starts_with("DigestUtils.")
                    && matches!(name, "md5" | "md5Hex" | "sha1" | "sha1Hex" | "shaHex"))
        }
        Lang::Rust => {
            callee == "md5::compute"
                || ((callee.starts_with("Md5::")
                    || callee.starts_with("Sha1::")
                    || callee.starts_with("md5::Md5::")
                    || callee.starts_with("sha1::Sha1::"))
                    && matches!(name, "new" | "digest"))
        }
        Lang::C | Lang::Cpp => matches!(
            name,
            "MD5" | "MD5_Init" | "SHA1" | "SHA1_Init" | "EVP_md5" | "EVP_sha1" | "MD4" | "EVP_md4"
        ),
        _ => false,
    };
    if weak_hash {
        report(ctx, c.node, "weak-hash", "weak hash algorithm", out);
        return;
    }
    // ---- broken cipher (327)
    let args_text = ctx.text(c.node);
    let broken = match ctx.lang {
        Lang::Python => {
            matches!(
                callee,
                "DES.new" | "DES3.new" | "ARC4.new" | "ARC2.new" | "Blowfish.new"
            ) || (callee == "AES.new" && args_text.contains("MODE_ECB"))
                || matches!(
                    callee,
                    "modes.ECB"
                        | "algorithms.TripleDES"
                        | "algorithms.ARC4"
                        | "algorithms.Blowfish"
                )
        }
        l if l.is_js() => {
            (matches!(name, "createCipheriv" | "createDecipheriv") && weak_cipher_name(&a0))
                || matches!(name, "createCipher" | "createDecipher")
        }
        Lang::Go => matches!(
            callee,
            "des.NewCipher" | "des.NewTripleDESCipher" | "rc4.NewCipher" | "blowfish.NewCipher"
        ),
        Lang::Java => {
            name == "getInstance" && callee.contains("Cipher") && {
                let alg = a0.trim_matches('"');
                alg == "aes"
                    || alg.starts_with("des")
                    || alg.starts_with("rc4")
                    || alg.starts_with("rc2")
                    || alg.starts_with("blowfish")
                    || alg.contains("/ecb/")
                    || alg.starts_with("arcfour")
            }
        }
        Lang::Rust => contains_any(
            callee,
            &[
                "Des::",
                "TdesEde3::",
                "Rc4::",
                "Blowfish::",
                "ecb::Encryptor",
                "ecb::Decryptor",
            ],
        ),
        Lang::C | Lang::Cpp => {
            name.starts_with("EVP_des_")
                || name == "EVP_rc4"
                || name.starts_with("EVP_bf_")
                || (name.starts_with("EVP_aes_") && name.ends_with("_ecb"))
                || matches!(
                    name,
                    "DES_set_key"
                        | "DES_ecb_encrypt"
                        | "RC4_set_key"
                        | "RC4"
                        | "AES_ecb_encrypt"
                        | "BF_set_key"
                )
        }
        _ => false,
    };
    if broken {
        report(
            ctx,
            c.node,
            "broken-cipher",
            "broken cipher or ECB mode",
            out,
        );
        return;
    }
    // ---- weak PRNG for secrets (338)
    let weak_rng = match ctx.lang {
        Lang::Python => {
            callee.starts_with("random.")
                && matches!(
                    name,
                    "random"
                        | "randint"
                        | "choice"
                        | "choices"
                        | "randrange"
                        | "getrandbits"
                        | "sample"
                        | "uniform"
                )
        }
        l if l.is_js() => callee == "Math.random",
        Lang::Go => {
            ctx.src.contains("\"math/rand\"")
                && (callee.starts_with("rand.") || callee.ends_with(".Intn"))
                && matches!(
                    name,
                    "Intn"
                        | "Int"
                        | "Int63"
                        | "Int31"
                        | "Uint32"
                        | "Uint64"
                        | "Read"
                        | "Int63n"
                        | "Int31n"
                )
        }
        Lang::Java => {
            callee == "Math.random"
                || callee == "new Random"
                || callee.starts_with("ThreadLocalRandom.")
        }
        Lang::Rust => contains_any(
            callee,
            &["SmallRng::", "fastrand::", "seed_from_u64", "oorandom::"],
        ),
        Lang::C | Lang::Cpp => matches!(name, "rand" | "random" | "drand48" | "lrand48"),
        _ => false,
    };
    if weak_rng && is_secret_context(ctx, c.node) {
        report(
            ctx,
            c.node,
            "weak-random-secret",
            "predictable PRNG used for a secret",
            out,
        );
    }
}

// ---------------------------------------------------------------- CWE-295

fn is_false(ctx: &Ctx<'_>, n: Node<'_>) -> bool {
    matches!(
        ctx.text(ctx.strip(n)),
        "False" | "false" | "0" | "0L" | "'0'" | "\"0\"" | "FALSE"
    )
}

fn is_true(ctx: &Ctx<'_>, n: Node<'_>) -> bool {
    matches!(
        ctx.text(ctx.strip(n)),
        "True" | "true" | "1" | "1L" | "TRUE"
    )
}

pub(crate) fn tls_call(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    let callee = c.callee.as_str();
    let name = c.name.as_str();
    let msg = "TLS certificate verification is disabled";
    let bad = match ctx.lang {
        Lang::Python => {
            c.kwarg("verify").is_some_and(|v| is_false(ctx, v))
                || c.kwarg("ssl").is_some_and(|v| is_false(ctx, v))
                || c.kwarg("cert_reqs")
                    .is_some_and(|v| ctx.text(v).contains("CERT_NONE"))
                || matches!(
                    callee,
                    "ssl._create_unverified_context" | "_create_unverified_context"
                )
        }
        Lang::Rust => {
            (matches!(
                name,
                "danger_accept_invalid_certs" | "danger_accept_invalid_hostnames"
            ) && c.arg(0).is_some_and(|a| is_true(ctx, a)))
                || (name == "set_verify" && ctx.text(c.node).contains("NONE"))
                || name == "set_certificate_verifier"
        }
        Lang::Java => {
            (name == "setHostnameVerifier" && {
                let t = ctx.text(c.node);
                t.contains("-> true")
                    || t.contains("NoopHostnameVerifier")
                    || t.contains("ALLOW_ALL")
            }) || callee == "new NoopHostnameVerifier"
                || callee == "new TrustAllStrategy"
                || callee == "new TrustSelfSignedStrategy"
        }
        Lang::C | Lang::Cpp => {
            (name == "curl_easy_setopt"
                && c.arg(1).is_some_and(|o| {
                    matches!(
                        ctx.text(o),
                        "CURLOPT_SSL_VERIFYPEER" | "CURLOPT_SSL_VERIFYHOST"
                    )
                })
                && c.arg(2).is_some_and(|v| is_false(ctx, v)))
                || (name == "SSL_CTX_set_verify"
                    && c.arg(1).is_some_and(|v| ctx.text(v) == "SSL_VERIFY_NONE"))
        }
        _ => false,
    };
    if bad {
        report(ctx, c.node, "tls-verification-disabled", msg, out);
    }
}

pub(crate) fn tls_binding(ctx: &Ctx<'_>, b: &Binding<'_>, out: &mut Vec<Finding>) {
    let v = b.value;
    let bad = match b.name.as_str() {
        "rejectUnauthorized" | "strictSSL" | "verify_ssl" | "check_hostname" | "verify_peer"
        | "verifyPeer" | "ssl_verify" | "sslVerify" => is_false(ctx, v),
        "InsecureSkipVerify"
        | "insecure"
        | "insecureSkipVerify"
        | "danger_accept_invalid_certs" => is_true(ctx, v),
        "NODE_TLS_REJECT_UNAUTHORIZED" => is_false(ctx, v),
        "verify_mode" | "cert_reqs" => ctx.text(v).contains("CERT_NONE"),
        _ => false,
    };
    if bad {
        report(
            ctx,
            b.name_node,
            "tls-verification-disabled",
            &format!("`{}` turns verification off", b.name),
            out,
        );
    }
}

// ---------------------------------------------------------------- CWE-918

const URL_CHECKS: &[&str] = &[
    "ALLOWED",
    "allowed",
    "allowlist",
    "whitelist",
    "ALLOWLIST",
    "WHITELIST",
    "is_allowed",
    "isAllowed",
    "allowedHosts",
    "ALLOW_LIST",
    "permitted",
    "PERMITTED",
    "trusted_hosts",
    "TRUSTED",
];

pub(crate) fn ssrf(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    let callee = c.callee.as_str();
    let name = c.name.as_str();
    let http_verbs = [
        "get", "post", "put", "delete", "head", "patch", "request", "options",
    ];
    let (sink, url_arg) = match ctx.lang {
        Lang::Python => (
            (callee.starts_with("requests.")
                || callee.starts_with("httpx.")
                || callee.starts_with("session.")
                || callee.starts_with("client."))
                && http_verbs.contains(&name)
                || matches!(
                    callee,
                    "urlopen" | "urllib.request.urlopen" | "urllib2.urlopen" | "urllib.urlopen"
                ),
            if name == "request" { 1 } else { 0 },
        ),
        l if l.is_js() => (
            matches!(
                callee,
                "fetch" | "axios" | "got" | "needle" | "superagent.get" | "window.fetch"
            ) || ((callee.starts_with("axios.")
                || callee.starts_with("http.")
                || callee.starts_with("https.")
                || callee.starts_with("got."))
                && http_verbs.contains(&name)),
            0,
        ),
        Lang::Go => (
            matches!(
                callee,
                "http.Get" | "http.Post" | "http.Head" | "http.PostForm"
            ) || (name == "NewRequest" || name == "NewRequestWithContext")
                || (callee.starts_with("client.") && matches!(name, "Get" | "Post" | "Head")),
            match name {
                "NewRequest" => 1,
                "NewRequestWithContext" => 2,
                _ => 0,
            },
        ),
        Lang::Java => (
            matches!(
                callee,
                "new URL" | "URI.create" | "Jsoup.connect" | "new HttpGet" | "new HttpPost"
            ) || matches!(
                name,
                "getForObject" | "getForEntity" | "postForObject" | "exchange"
            ),
            0,
        ),
        Lang::Rust => (
            matches!(
                callee,
                "reqwest::get" | "ureq::get" | "reqwest::blocking::get"
            ) || (callee.starts_with("client.") && http_verbs.contains(&name)),
            0,
        ),
        Lang::C | Lang::Cpp => (
            name == "curl_easy_setopt" && c.arg(1).is_some_and(|o| ctx.text(o) == "CURLOPT_URL"),
            2,
        ),
        _ => (false, 0),
    };
    if !sink {
        return;
    }
    let Some(url) = c.arg(url_arg) else { return };
    if !ctx.is_const(url) && ctx.is_tainted(url) && !ctx.fn_contains(c.node, URL_CHECKS) {
        report(
            ctx,
            c.node,
            "ssrf-user-url",
            "server-side request to a URL from user input",
            out,
        );
    }
}

// ---------------------------------------------------------------- CWE-79

const HTML_ESCAPES: &[&str] = &[
    "sanitize",
    "DOMPurify",
    "escape",
    "Escape",
    "encodeFor",
    "forHtml",
    "htmlEscape",
    "EscapeString",
    "escapeHtml",
    "bleach",
    "textContent",
    "innerText",
    "encode_text",
    "encode_safe",
];

fn sanitized(ctx: &Ctx<'_>, n: Node<'_>) -> bool {
    contains_any(ctx.text(n), HTML_ESCAPES)
        || ctx.identifiers(n).into_iter().any(|id| {
            ctx.resolve(ctx.text(id), id)
                .is_some_and(|v| contains_any(ctx.text(v), HTML_ESCAPES))
        })
}

pub(crate) fn xss_call(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    let callee = c.callee.as_str();
    let name = c.name.as_str();
    let msg = "data is written into HTML without escaping";
    let data_arg = |i: usize| {
        c.arg(i)
            .filter(|a| ctx.is_dynamic(*a) && !sanitized(ctx, *a))
    };
    let bad = match ctx.lang {
        l if l.is_js() => {
            (matches!(callee, "document.write" | "document.writeln") && data_arg(0).is_some())
                || (name == "insertAdjacentHTML" && data_arg(1).is_some())
                || (name == "setHTMLUnsafe" && data_arg(0).is_some())
                || (name == "html"
                    && (callee.starts_with('$') || callee.starts_with("jQuery"))
                    && data_arg(0).is_some())
        }
        Lang::Python => {
            (matches!(
                callee,
                "Markup" | "markupsafe.Markup" | "mark_safe" | "render_template_string"
            ) && data_arg(0).is_some())
                || (matches!(callee, "make_response" | "HttpResponse" | "Response")
                    && data_arg(0).is_some_and(|a| html_with_input(ctx, a)))
        }
        Lang::Go => {
            (callee == "template.HTML" && data_arg(0).is_some())
                || (callee == "fmt.Fprintf"
                    && c.arg(0).is_some_and(|w| ctx.text(w) == "w")
                    && c.arg(1).is_some_and(|f| ctx.text(f).contains('<'))
                    && c.args
                        .iter()
                        .skip(2)
                        .any(|a| ctx.is_tainted(*a) && !sanitized(ctx, *a)))
                || ((callee == "w.Write" || callee == "io.WriteString")
                    && c.args
                        .iter()
                        .any(|a| html_with_input(ctx, *a) && !sanitized(ctx, *a)))
        }
        Lang::Java => {
            matches!(name, "println" | "print" | "write" | "append")
                && (callee.contains("getWriter()")
                    || callee.starts_with("out.")
                    || callee.starts_with("writer."))
                && data_arg(0).is_some_and(|a| html_with_input(ctx, a))
        }
        Lang::Rust => callee == "Html" && data_arg(0).is_some_and(|a| html_with_input(ctx, a)),
        _ => false,
    };
    if bad {
        report(ctx, c.node, "xss-sink", msg, out);
    }
}

/// Markup assembled with user input.
fn html_with_input(ctx: &Ctx<'_>, n: Node<'_>) -> bool {
    ctx.literal_text(n).contains('<') && ctx.is_tainted(n) && !sanitized(ctx, n)
}

pub(crate) fn xss_binding(ctx: &Ctx<'_>, b: &Binding<'_>, out: &mut Vec<Finding>) {
    if !ctx.lang.is_js() {
        return;
    }
    if matches!(b.name.as_str(), "innerHTML" | "outerHTML" | "__html")
        && ctx.is_dynamic(b.value)
        && !sanitized(ctx, b.value)
    {
        report(
            ctx,
            b.name_node,
            "xss-sink",
            &format!("`{}` receives unescaped data", b.name),
            out,
        );
    }
}

/// Rules on node kinds other than calls and bindings.
pub(crate) fn other_nodes(ctx: &Ctx<'_>, n: Node<'_>, out: &mut Vec<Finding>) {
    match (ctx.lang, n.kind()) {
        // Rust macro arguments are token trees, not expressions: look for the calls by text.
        (Lang::Rust, "token_tree")
            if n.parent().is_some_and(|p| p.kind() == "macro_invocation") =>
        {
            let t = ctx.text(n);
            let pats = [
                "md5::compute(",
                "Md5::digest(",
                "Sha1::digest(",
                "Md5::new(",
                "Sha1::new(",
            ];
            if pats.iter().any(|p| t.contains(p)) {
                report(ctx, n, "weak-hash", "weak hash algorithm", out);
            }
        }
        // C: #define DB_PASSWORD "hunter2"
        (Lang::C | Lang::Cpp, "preproc_def") => {
            if let (Some(name), Some(v)) = (
                n.child_by_field_name("name"),
                n.child_by_field_name("value"),
            ) {
                let val = ctx.text(v).trim();
                if crate::rules::secret_name(ctx.text(name))
                    && val.starts_with('"')
                    && crate::rules::plausible_secret(val)
                {
                    report(
                        ctx,
                        name,
                        "hardcoded-credential",
                        "literal secret in a #define",
                        out,
                    );
                }
            }
        }
        // Java: X509TrustManager.checkServerTrusted with an empty body accepts every certificate.
        (Lang::Java, "method_declaration") => {
            let is_check = n.child_by_field_name("name").is_some_and(|x| {
                matches!(ctx.text(x), "checkServerTrusted" | "checkClientTrusted")
            });
            let empty = n
                .child_by_field_name("body")
                .is_some_and(|b| b.named_child_count() == 0);
            if is_check && empty {
                report(
                    ctx,
                    n,
                    "tls-verification-disabled",
                    "trust manager accepts every certificate",
                    out,
                );
            }
        }
        // Python: return f"<p>{request.args['q']}</p>"
        (Lang::Python, "return_statement") => {
            if let Some(v) = n.named_child(0) {
                if is_dynamic_string(ctx, v, 0) && html_with_input(ctx, v) {
                    report(
                        ctx,
                        n,
                        "xss-sink",
                        "HTML built from request data is returned unescaped",
                        out,
                    );
                }
            }
        }
        _ => {}
    }
}
