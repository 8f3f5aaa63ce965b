//! The built-in detection rules, written for hearth from the token formats providers document
//! (prefixes, alphabets, lengths). Each rule names the keywords that must appear (lower-case,
//! searched case-insensitively) before its regex runs, and carries text it must find and
//! text it must not, checked by the tests in every file context.

/// What else a candidate value must satisfy after its regex matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Nothing: the format is distinctive enough.
    None,
    /// A value assigned to a secret-sounding name in code: random-looking (entropy, a digit
    /// and a letter) and not an expression, a reference or a stand-in.
    Generic,
    /// A value in an env-style `NAME=VALUE` line whose name says secret: anything but a
    /// reference (`${X}`, `$X`) or a stand-in (`changeme`, `<token>`, `xxxx`).
    Assigned,
}

/// One detection rule.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Stable id, shown in findings and audit records.
    pub id: &'static str,
    /// The placeholder's kind tag (`HEARTH_<TAG>_<id>`).
    pub tag: &'static str,
    /// Lower-case keywords; the regex runs only when one occurs (case-insensitively).
    pub keywords: &'static [&'static str],
    /// Regex (`regex` crate syntax; `\b` is taken as an ASCII word boundary). The secret is
    /// the first participating capture group, or the whole match without groups.
    pub pattern: &'static str,
    /// Minimum Shannon entropy of the secret, in bits per byte (0: none).
    pub min_entropy: f64,
    pub check: Check,
    /// Substrings (lower-case) that mark documentation values, not secrets.
    pub stopwords: &'static [&'static str],
    /// A finding of this rule keeps the whole request local.
    pub block: bool,
    /// Text the rule must find (test data; fake values in real formats).
    pub tps: &'static [&'static str],
    /// Text the rule must not find.
    pub fps: &'static [&'static str],
}

impl Rule {
    /// Whether `value`, a match of this rule's regex (its secret part), is a secret by the
    /// rule's other tests: stopwords, entropy, and the generic and assignment checks.
    pub fn accepts(&self, value: &str) -> bool {
        crate::scan::accepts(self, value)
    }
}

const fn rule(id: &'static str, tag: &'static str, keywords: &'static [&'static str]) -> Rule {
    Rule {
        id,
        tag,
        keywords,
        pattern: "",
        min_entropy: 0.0,
        check: Check::None,
        stopwords: &[],
        block: false,
        tps: &[],
        fps: &[],
    }
}

/// Every built-in rule.
pub const BUILTIN: &[Rule] = &[
    Rule {
        pattern: r"(?s)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----.+?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----|-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[A-Za-z0-9+/=\s\\]{40,}",
        block: true,
        tps: &[
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\naFDrBz9vFqU4yyZ5Zl1M6E1xB8hGZ0tq9rxZNoGFvsd3m5vYbEfuLsb4j2DN0O1c\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDHmK3s9fd8\\nQx2+aB7cD4eF5gH6iJ8kL9mN0pQ1rS2tU3vW4xY5zA6bC7dE8fG9hI0jK1lM\\n-----END PRIVATE KEY-----\\n",
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDhQ0Jd7kS5wF0qLr3m9QJtVvAd5Yk1H2n3Xb4Zc8eZ1wAAAJgZ2h3e",
        ],
        fps: &[
            "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0Z3VS5JJcds3xfn/ygWy\n-----END PUBLIC KEY-----",
            "if line.startswith('-----BEGIN PRIVATE KEY-----'):",
        ],
        ..rule("private-key", "PRIVATE_KEY", &["private key"])
    },
    Rule {
        pattern: r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b",
        stopwords: &["example"],
        tps: &["aws_access_key_id = AKIAZ7Q4MR2XKJ5TWB3N", "\"AccessKeyId\": \"ASIAY3PLQ7ZR5KXW2M4N\""],
        fps: &["AKIAIOSFODNN7EXAMPLE", "AKIAZ7Q4MR2XKJ5TWB3N1"],
        ..rule("aws-access-key-id", "AWS_KEY_ID", &["a3t", "akia", "asia", "abia", "acca"])
    },
    Rule {
        pattern: r"(?i)aws.{0,20}?secret.{0,20}?[=:](?:\s|\\[tn]){0,5}\\?[\x22'`]?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)",
        min_entropy: 3.5,
        stopwords: &["example"],
        tps: &["aws_secret_access_key = Zq3vT8kP2mX7rB5nW1yL9cH4dF6gJ0sA8uE3iO2w\n"],
        fps: &["aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n"],
        ..rule("aws-secret-access-key", "AWS_SECRET", &["aws"])
    },
    Rule {
        pattern: r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255})\b",
        tps: &["token: ghp_R8x2Lq9ZkT4mW7nP3vB6yC1dF5hJ0sA2eG8u"],
        fps: &["ghp_short", "ghp_xxxxxxxxxxxxxxxxxxxx"],
        ..rule("github-token", "GITHUB_TOKEN", &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"])
    },
    Rule {
        pattern: r"\b(github_pat_[A-Za-z0-9_]{82})\b",
        tps: &["GH=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"],
        fps: &["github_pat_"],
        ..rule("github-fine-grained-pat", "GITHUB_TOKEN", &["github_pat_"])
    },
    Rule {
        pattern: r"\b((?:glpat|gldt|glrt|glptt|glsoat|glcbt)-[A-Za-z0-9_-]{20}[A-Za-z0-9_.-]{0,80})",
        tps: &["PRIVATE-TOKEN: glpat-x7Kq2LmZ9rT4vW8nB3cY"],
        fps: &["glpat-short"],
        ..rule("gitlab-token", "GITLAB_TOKEN", &["glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-"])
    },
    Rule {
        pattern: r"\b(sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,})",
        tps: &[
            "OPENAI_API_KEY=sk-proj-Qm4R7tX2vB9nL3kP8wZ5yC1dF6hJ0sA4eG7uI2oT3BlbkFJ8mN5bV2cX9zL4kQ7wR1tY6uP3sD0fG",
            "client = OpenAI(api_key=\"sk-Ab3De5Gh7Jk9Mn1PqT3BlbkFJRs4Tu6Vw8Xy0Za2Bc\")",
            "key = 'sk-admin-Zx8Cv7Bn6Mm5Lk4Jh3Gf2Ds1Aq0Wp9Oe8Ir7Ut6Yy5Tr4Ee3'",
        ],
        fps: &["sk-proj-", "risk-proj-x", "task-admin-panel"],
        ..rule("openai-api-key", "OPENAI_KEY", &["t3blbkfj", "sk-proj-", "sk-svcacct-", "sk-admin-"])
    },
    Rule {
        pattern: r"\b(sk-ant-[a-z]{2,8}[0-9]{2}-[A-Za-z0-9_-]{32,})",
        tps: &["ANTHROPIC_API_KEY=sk-ant-api03-Vb7Nm2Qw9Er4Ty6Ui1Op3As5Df8Gh0Jk2Lz4Xc6Vb8Nm1Qw3Er5Ty7Ui9Op0As2Df4Gh6Jk8LzAA"],
        fps: &["sk-ant-api03-short"],
        ..rule("anthropic-api-key", "ANTHROPIC_KEY", &["sk-ant-"])
    },
    Rule {
        pattern: r"\b(xox[abposr]-[0-9A-Za-z-]{10,250}|xapp-[0-9]-[A-Z0-9]{8,}-[0-9]{8,}-[a-z0-9]{32,})",
        min_entropy: 3.0,
        tps: &[
            "SLACK_BOT_TOKEN=xoxb-2847561093-7364518290-Kd8Lq3Zx9Wv2Bn5Mt7Rc",
            "xapp-1-A0123BCDEFG-1234567890123-0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
        ],
        fps: &["xoxb-xxxxxxxxxxxx"],
        ..rule("slack-token", "SLACK_TOKEN", &["xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xapp-"])
    },
    Rule {
        pattern: r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{40,120})",
        tps: &["url = \"https://hooks.slack.com/services/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\""],
        fps: &["https://hooks.slack.com/services/"],
        ..rule("slack-webhook", "SLACK_WEBHOOK", &["hooks.slack.com"])
    },
    Rule {
        pattern: r"\b((?:sk|rk)_(?:live|test|prod)_[0-9A-Za-z]{10,99})\b",
        tps: &["stripe.api_key = \"sk_live_51Hx9Kq2Lm7Zr4Tv8Wn3Bc6Yd1\""],
        fps: &["sk_live_"],
        ..rule("stripe-key", "STRIPE_KEY", &["sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_", "rk_prod_"])
    },
    Rule {
        pattern: r"\b(AIza[0-9A-Za-z_-]{35})(?:[^0-9A-Za-z_-]|$)",
        tps: &["const key = \"AIzaSyB3x9Kq2Lm7Zr4Tv8Wn3Bc6Yd1Fe5Gh0Ij\";"],
        fps: &["AIzaShort"],
        ..rule("google-api-key", "GOOGLE_KEY", &["aiza"])
    },
    Rule {
        pattern: r"\b((?:hf|api_org)_[A-Za-z]{34})\b",
        tps: &["HF_TOKEN=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"],
        fps: &["hf_hub_download", "hf_xxxxxxxx"],
        ..rule("huggingface-token", "HF_TOKEN", &["hf_", "api_org_"])
    },
    Rule {
        pattern: r"\b(npm_[A-Za-z0-9]{36})\b",
        tps: &["//registry.npmjs.org/:_authToken=npm_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2"],
        fps: &["npm_config_cache"],
        ..rule("npm-token", "NPM_TOKEN", &["npm_"])
    },
    Rule {
        pattern: r"(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})",
        tps: &["password = pypi-AgEIcHlwaS5vcmcCJDk3ZTFhOWM0LTdmNGMtNDRiZC1hNmE2LTE5MmZkY2E0NjE3NQACKlsz"],
        fps: &["pypi-AgEIcHlwaS5vcmc"],
        ..rule("pypi-token", "PYPI_TOKEN", &["pypi-ageichlwas5vcmc"])
    },
    Rule {
        pattern: r"\b(eyJ[A-Za-z0-9_-]{12,}\.eyJ[A-Za-z0-9_-]{12,}\.[A-Za-z0-9_-]{16,}={0,2})",
        tps: &["Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ.Kq8Zt3Vx9Wm2Lr5Bn7Cy4Pd1Fe6Gh0Ij3Kl"],
        fps: &["eyJhbGciOiJIUzI1NiJ9"],
        ..rule("jwt", "JWT", &["eyj"])
    },
    Rule {
        pattern: r"\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})\b",
        tps: &["SENDGRID=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"],
        fps: &["SG.example"],
        ..rule("sendgrid-api-key", "SENDGRID_KEY", &["sg."])
    },
    Rule {
        pattern: r"\b(do[opr]_v1_[a-f0-9]{64})\b",
        tps: &["token = \"dop_v1_0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9\""],
        fps: &["dop_v1_"],
        ..rule("digitalocean-token", "DO_TOKEN", &["dop_v1_", "doo_v1_", "dor_v1_"])
    },
    Rule {
        pattern: r"(?i)accountkey=([A-Za-z0-9+/]{86}==)",
        tps: &["DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Zq3vT8kP2mX7rB5nW1yL9cH4dF6gJ0sA8uE3iO2wZq3vT8kP2mX7rB5nW1yL9cH4dF6gJ0sA8uE3iO2wQ1rT5y==;EndpointSuffix=core.windows.net"],
        fps: &["AccountKey=;"],
        ..rule("azure-storage-key", "AZURE_KEY", &["accountkey="])
    },
    Rule {
        pattern: r"\b(dapi[a-f0-9]{32}(?:-[0-9])?)\b",
        tps: &["DATABRICKS_TOKEN=dapi0a1b2c3d4e5f60718293a4b5c6d7e8f9"],
        fps: &["dapi_client"],
        ..rule("databricks-token", "DATABRICKS_TOKEN", &["dapi"])
    },
    Rule {
        pattern: r"\b(shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32})\b",
        tps: &["X-Shopify-Access-Token: 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"],
        fps: &["shpat_"],
        ..rule("shopify-token", "SHOPIFY_TOKEN", &["shpat_", "shpca_", "shppa_", "shpss_"])
    },
    Rule {
        pattern: r"\b(gsk_[A-Za-z0-9]{52})\b",
        tps: &["GROQ_API_KEY=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"],
        fps: &["gsk_short"],
        ..rule("groq-api-key", "GROQ_KEY", &["gsk_"])
    },
    Rule {
        pattern: r"\b(r8_[A-Za-z0-9]{37})\b",
        tps: &["REPLICATE_API_TOKEN=r8_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2Y"],
        fps: &["r8_short"],
        ..rule("replicate-token", "REPLICATE_TOKEN", &["r8_"])
    },
    Rule {
        // `NAME=VALUE` lines (.env, shell, Dockerfile ENV, CI variables) whose upper-case name
        // says secret: the value whatever it looks like.
        pattern: r#"(?m)(?:^|\\n|["'])(?:[ \t]|\\t)*(?:-(?:[ \t]|\\t)+)?(?:export(?:[ \t]|\\t)+|ENV(?:[ \t]|\\t)+|set(?:[ \t]|\\t)+)?[A-Z][A-Z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|PWD|PASS|CREDENTIALS?|AUTH|DSN)[A-Z0-9_]*(?:[ \t]|\\t)*=(?:[ \t]|\\t)*\\?(?:"([^"\n\\]{6,})\\?"|'([^'\n\\]{6,})'|([^\s#"'\\]{6,}))"#,
        check: Check::Assigned,
        tps: &[
            "DB_PASSWORD=hunter2horse",
            "export API_TOKEN='letmein-please'",
            "ENV SENTRY_DSN=https://abc123@o1.ingest.sentry.io/42",
        ],
        fps: &[
            "API_KEY=${API_KEY}",
            "DB_PASSWORD=changeme",
            "SECRET_KEY=<your-secret-key>",
            "GITHUB_TOKEN=$GITHUB_TOKEN",
            "AUTH_ENABLED=true",
        ],
        ..rule("env-assignment", "ENV_SECRET", &["key", "token", "secret", "pass", "pwd", "credential", "auth", "dsn"])
    },
    Rule {
        // A bearer token in an HTTP header (curl lines, fetch calls, logged requests),
        // whatever its provider's format.
        pattern: r"(?i)\bbearer(?:[ \t]|\\t)+([A-Za-z0-9_\-.~+/]{16,}=*)",
        min_entropy: 3.0,
        check: Check::Generic,
        tps: &[
            "curl -H 'Authorization: Bearer 7f3b9c2e8a1d4f6b0e5c9a8d' https://api.example.com/v1",
            "headers = {\"Authorization\": \"Bearer Q4x9Kq2Lm7Zr4Tv8Wn3Bc6Yd1\"}",
        ],
        fps: &[
            "Authorization: Bearer $TOKEN",
            "Authorization: Bearer <token>",
            "the API uses bearer authentication for every endpoint",
            "Authorization: `Bearer ${process.env.API_TOKEN}`",
        ],
        ..rule("bearer-token", "BEARER_TOKEN", &["bearer"])
    },
    Rule {
        // Userinfo in URLs: `scheme://user:password@host`.
        pattern: r#"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^\s:/@'"`]{1,100}:([^\s:/@'"`]{3,200})@"#,
        check: Check::Assigned,
        tps: &[
            "DATABASE_URL: postgres://app:S3cr3tPa55word@db.internal:5432/app",
            "git clone https://oauth2:Zx8Cv7Bn6Mm5Lk4J@git.example.org/team/repo.git",
        ],
        fps: &[
            "postgres://app:${DB_PASSWORD}@db:5432/app",
            "https://user:password@example.com",
            "redis://:****@cache:6379",
        ],
        ..rule("url-password", "URL_PASSWORD", &["://"])
    },
    Rule {
        // Secret-sounding names assigned random-looking values in code and config.
        pattern: r#"(?i)(?:api[_.-]?key|access[_.-]?key|secret|token|passw(?:or)?d|pwd|credentials?|auth[_.-]?key|private[_.-]?key|client[_.-]?secret)[A-Za-z0-9_.-]{0,20}\\?[\x22'`]?(?:[ \t]|\\t){0,5}(?::=|=>|=|:|,)(?:[ \t]|\\t){0,5}(?:[A-Za-z]{0,8}\()?\\?[\x22'`]?([A-Za-z0-9_\-+/=.~!@#$%^&*]{10,150})"#,
        min_entropy: 3.3,
        check: Check::Generic,
        tps: &[
            "api_key = \"x9Kq2Lm7Zr4Tv8Wn3Bc6\"",
            "\"client_secret\": \"Qm4R7tX2vB9nL3kP8wZ5\"",
            "password: Pq7Zx2Lm9Kt4Wv",
            "const authToken = 'a81bc3f40e9d2c75b6';",
        ],
        fps: &[
            "api_key = os.environ[\"API_KEY\"]",
            "token = tokenizer.encode(text)",
            "password = getpass.getpass()",
            "secret_name: my-app-secret-name",
            "token_count = len(tokens_in_prompt)",
            "max_tokens: 1000000000",
            "password = \"password\"",
            "formatter.field(\"colon2_token\", &self.colon2_token);",
        ],
        ..rule("generic-secret", "SECRET", &["key", "secret", "token", "passw", "pwd", "credential"])
    },
];
