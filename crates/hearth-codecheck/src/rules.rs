//! Rules for CWE 89, 78, 94, 22, 798 and 502, plus the dispatcher.

use tree_sitter::Node;

use crate::ast::{contains_any, contains_any_ci, Binding, Call, Ctx};
use crate::rules_more;
use crate::{Finding, Lang, Severity};

type Entry = (&'static str, u32, Severity, &'static str);

/// Every rule: id, CWE, severity, summary.
pub(crate) const CATALOGUE: &[Entry] = &[
    ("sql-string-build", 89, Severity::High, "SQL text built from data passed to a query call; use bound parameters"),
    ("os-command-injection", 78, Severity::High, "shell command built from data; pass an argument vector without a shell"),
    ("eval-of-data", 94, Severity::High, "eval/exec/Function/ScriptEngine on non-constant code"),
    ("path-traversal", 22, Severity::High, "file path from user input without basename/canonical-prefix check"),
    ("hardcoded-credential", 798, Severity::High, "password, token or key written in the source"),
    ("insecure-deserialization", 502, Severity::High, "deserializer that can instantiate arbitrary types (pickle, unsafe YAML, ObjectInputStream, ...)"),
    ("broken-cipher", 327, Severity::Medium, "DES/3DES/RC4/Blowfish or ECB mode"),
    ("weak-hash", 328, Severity::Medium, "MD5/SHA-1 (use SHA-256+, or a password hash for passwords)"),
    ("weak-random-secret", 338, Severity::Medium, "non-cryptographic PRNG producing a secret, token or key"),
    ("tls-verification-disabled", 295, Severity::High, "certificate or host-name verification switched off"),
    ("ssrf-user-url", 918, Severity::High, "HTTP request to a user-supplied URL without an allow-list check"),
    ("xss-sink", 79, Severity::High, "untrusted data written into HTML without escaping"),
];

fn entry(id: &str) -> Entry {
    CATALOGUE
        .iter()
        .copied()
        .find(|e| e.0 == id)
        .unwrap_or(CATALOGUE[0])
}

pub(crate) fn report(
    ctx: &Ctx<'_>,
    n: Node<'_>,
    id: &'static str,
    msg: &str,
    out: &mut Vec<Finding>,
) {
    let (rid, cwe, sev, summary) = entry(id);
    out.push(ctx.finding(n, rid, cwe, sev, format!("{msg} (CWE-{cwe}: {summary})")));
}

pub(crate) fn run(ctx: &Ctx<'_>, out: &mut Vec<Finding>) {
    for &n in &ctx.nodes {
        if let Some(call) = ctx.call(n) {
            sql(ctx, &call, out);
            command(ctx, &call, out);
            eval(ctx, &call, out);
            path(ctx, &call, out);
            deser(ctx, &call, out);
            credential_call(ctx, &call, out);
            rules_more::crypto(ctx, &call, out);
            rules_more::tls_call(ctx, &call, out);
            rules_more::ssrf(ctx, &call, out);
            rules_more::xss_call(ctx, &call, out);
        }
        rules_more::other_nodes(ctx, n, out);
        secret_literal(ctx, n, out);
    }
    for b in &ctx.bindings {
        credential_binding(ctx, b, out);
        rules_more::tls_binding(ctx, b, out);
        rules_more::xss_binding(ctx, b, out);
    }
}

// ---------------------------------------------------------------- CWE-89

const SQL_SINKS: &[&str] = &[
    "execute",
    "executemany",
    "executescript",
    "raw",
    "query",
    "Exec",
    "Query",
    "QueryRow",
    "QueryContext",
    "ExecContext",
    "QueryRowContext",
    "executeQuery",
    "executeUpdate",
    "executeLargeUpdate",
    "prepareStatement",
    "createQuery",
    "createNativeQuery",
    "addBatch",
    "sqlite3_exec",
    "sqlite3_prepare",
    "sqlite3_prepare_v2",
    "mysql_query",
    "mysql_real_query",
    "PQexec",
    "run",
    "all",
    "get",
    "exec",
    "query_as",
    "batch_execute",
    "query_one",
    "query_opt",
    "prepare",
    "query_row",
    "sql",
    "text",
];

fn looks_like_sql(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    let verbs = [
        "select ",
        "insert into",
        "update ",
        "delete from",
        "drop table",
        "replace into",
    ];
    let clauses = [" from ", " where ", " set ", " values", " into ", "table "];
    verbs.iter().any(|v| l.contains(v)) && clauses.iter().any(|c| l.contains(c))
}

fn sql(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    if !SQL_SINKS.contains(&c.name.as_str()) {
        return;
    }
    for a in c.args.iter().take(3) {
        // `text("...")`, `sql.SQL("...")`: look through query-object wrappers.
        let a = &match ctx.call(ctx.strip(*a)) {
            Some(w) if matches!(w.name.as_str(), "text" | "SQL" | "sql" | "Query") => {
                w.arg(0).unwrap_or(*a)
            }
            _ => *a,
        };
        if ctx.is_dynamic(*a) && looks_like_sql(&ctx.literal_text(*a)) {
            report(
                ctx,
                *a,
                "sql-string-build",
                &format!("`{}` runs SQL assembled from data", c.name),
                out,
            );
            return;
        }
    }
}

// ---------------------------------------------------------------- CWE-78

fn is_shell(s: &str) -> bool {
    let s = s.trim_matches(|c| c == '"' || c == '\'' || c == '`');
    let base = s.rsplit('/').next().unwrap_or(s);
    matches!(
        base,
        "sh" | "bash" | "zsh" | "dash" | "ksh" | "cmd" | "cmd.exe" | "powershell" | "pwsh"
    )
}

fn command(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    let callee = c.callee.as_str();
    let name = c.name.as_str();
    let msg = "command line assembled from data runs through a shell";
    match ctx.lang {
        Lang::Python => {
            let direct = [
                "os.system",
                "os.popen",
                "commands.getoutput",
                "commands.getstatusoutput",
                "subprocess.getoutput",
                "subprocess.getstatusoutput",
                "os.popen2",
                "os.popen3",
            ];
            if direct.contains(&callee) && c.arg(0).is_some_and(|a| ctx.is_dynamic(a)) {
                report(ctx, c.node, "os-command-injection", msg, out);
                return;
            }
            let sp = ["run", "call", "check_call", "check_output", "Popen"];
            let shell = c.kwarg("shell").is_some_and(|v| ctx.text(v) == "True");
            if callee.starts_with("subprocess.")
                && sp.contains(&name)
                && shell
                && c.arg(0).is_some_and(|a| ctx.is_dynamic(a))
            {
                report(ctx, c.node, "os-command-injection", msg, out);
            }
        }
        l if l.is_js() => {
            let uses_cp = ctx.src.contains("child_process") || ctx.src.contains("shelljs");
            if !uses_cp {
                return;
            }
            if matches!(name, "exec" | "execSync") && !callee.contains("RegExp") {
                if c.arg(0)
                    .is_some_and(|a| ctx.is_dynamic(a) && !is_regex_receiver(ctx, c))
                {
                    report(ctx, c.node, "os-command-injection", msg, out);
                }
                return;
            }
            if matches!(name, "spawn" | "spawnSync" | "execFile" | "execFileSync") {
                let all = ctx.text(c.node);
                let shell_opt = all.contains("shell: true") || all.contains("shell:true");
                let via_shell = c.arg(0).is_some_and(|a| is_shell(ctx.text(a)))
                    && (all.contains("'-c'") || all.contains("\"-c\""));
                let dyn_arg = c.args.iter().any(|a| has_dynamic_element(ctx, *a));
                if (shell_opt || via_shell) && dyn_arg {
                    report(ctx, c.node, "os-command-injection", msg, out);
                }
            }
        }
        Lang::Go => {
            if !matches!(callee, "exec.Command" | "exec.CommandContext") {
                return;
            }
            let args: Vec<Node<'_>> = if callee == "exec.CommandContext" {
                c.args.iter().skip(1).copied().collect()
            } else {
                c.args.clone()
            };
            let shell = args.first().is_some_and(|a| is_shell(ctx.text(*a)));
            let dash_c = args
                .iter()
                .any(|a| matches!(ctx.text(*a), "\"-c\"" | "\"/c\"" | "\"/C\"" | "`-c`"));
            if shell && dash_c && args.iter().skip(2).any(|a| ctx.is_dynamic(*a)) {
                report(ctx, c.node, "os-command-injection", msg, out);
            }
        }
        Lang::Rust => {
            if !callee.ends_with("Command::new") || !c.arg(0).is_some_and(|a| is_shell(ctx.text(a)))
            {
                return;
            }
            let scope = ctx.enclosing_fn(c.node);
            let body = ctx.text(scope);
            if !(body.contains("\"-c\"") || body.contains("\"/C\"")) {
                return;
            }
            let dynamic = ctx.nodes.iter().filter_map(|m| ctx.call(*m)).any(|m| {
                matches!(m.name.as_str(), "arg" | "args")
                    && ctx.enclosing_fn(m.node).id() == scope.id()
                    && m.arg(0).is_some_and(|a| has_dynamic_element(ctx, a))
            });
            if dynamic {
                report(ctx, c.node, "os-command-injection", msg, out);
            }
        }
        Lang::Java => {
            if name == "exec"
                && (callee.contains("getRuntime")
                    || callee.to_ascii_lowercase().contains("runtime"))
            {
                if let Some(a) = c.arg(0) {
                    let a = ctx.strip(a);
                    let bad = if a.kind() == "array_creation_expression" {
                        let t = ctx.text(a);
                        (t.contains("\"sh\"") || t.contains("\"bash\"") || t.contains("/bin/sh"))
                            && t.contains("\"-c\"")
                            && has_dynamic_element(ctx, a)
                    } else {
                        ctx.is_dynamic(a)
                    };
                    if bad {
                        report(ctx, c.node, "os-command-injection", msg, out);
                    }
                }
            } else if callee == "new ProcessBuilder" {
                let t = ctx.text(c.node);
                if t.contains("\"-c\"") && c.args.iter().any(|a| has_dynamic_element(ctx, *a)) {
                    report(ctx, c.node, "os-command-injection", msg, out);
                }
            }
        }
        Lang::C | Lang::Cpp => {
            if matches!(name, "system" | "popen" | "_popen" | "_wsystem") {
                if c.arg(0).is_some_and(|a| ctx.is_dynamic(a)) {
                    report(ctx, c.node, "os-command-injection", msg, out);
                }
            } else if matches!(name, "execl" | "execlp")
                && c.args.iter().any(|a| ctx.text(*a) == "\"-c\"")
                && c.args
                    .iter()
                    .skip(3)
                    .any(|a| ctx.is_dynamic(*a) && ctx.text(*a) != "NULL")
            {
                report(ctx, c.node, "os-command-injection", msg, out);
            }
        }
        _ => {}
    }
}

fn is_regex_receiver(ctx: &Ctx<'_>, c: &Call<'_>) -> bool {
    // `/re/.exec(s)` or `re.exec(s)` where `re` is a regex literal or RegExp.
    let f = c.node.child_by_field_name("function");
    let Some(obj) = f.and_then(|f| f.child_by_field_name("object")) else {
        return false;
    };
    let obj = ctx.strip(obj);
    if obj.kind() == "regex" {
        return true;
    }
    if obj.kind() == "identifier" {
        if let Some(v) = ctx.resolve(ctx.text(obj), obj) {
            return v.kind() == "regex" || ctx.text(v).contains("RegExp");
        }
    }
    false
}

/// An array/list literal (or a single value) containing a non-constant element.
fn has_dynamic_element(ctx: &Ctx<'_>, n: Node<'_>) -> bool {
    let n = ctx.strip(n);
    match n.kind() {
        "array"
        | "list"
        | "array_creation_expression"
        | "array_initializer"
        | "array_expression"
        | "composite_literal"
        | "literal_value"
        | "object"
        | "arguments" => {
            let mut c = n.walk();
            let kids: Vec<Node<'_>> = n.named_children(&mut c).collect();
            kids.iter().any(|k| {
                if matches!(
                    k.kind(),
                    "pair" | "type_identifier" | "dimensions" | "generic_type"
                ) {
                    false
                } else if matches!(k.kind(), "array_initializer" | "literal_value" | "array") {
                    has_dynamic_element(ctx, *k)
                } else {
                    ctx.is_dynamic(*k)
                }
            })
        }
        _ => ctx.is_dynamic(n),
    }
}

// ---------------------------------------------------------------- CWE-94

/// A string assembled at run time (not a function value).
pub(crate) fn is_dynamic_string(ctx: &Ctx<'_>, n: Node<'_>, depth: u32) -> bool {
    if depth > 4 {
        return false;
    }
    let n = ctx.strip(n);
    match n.kind() {
        "template_string" | "string" => !ctx.is_plain_string(n),
        "binary_expression" | "binary_operator" => {
            let mut c = n.walk();
            let kids: Vec<Node<'_>> = n.named_children(&mut c).collect();
            kids.iter()
                .any(|k| ctx.is_plain_string(*k) || is_dynamic_string(ctx, *k, depth + 1))
        }
        "identifier" => match ctx.resolve(ctx.text(n), n) {
            Some(v) => is_dynamic_string(ctx, v, depth + 1),
            None => false,
        },
        _ => false,
    }
}

fn eval(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    let callee = c.callee.as_str();
    let msg = "code built from data is evaluated";
    let first_dynamic = c.arg(0).is_some_and(|a| ctx.is_dynamic(a));
    match ctx.lang {
        Lang::Python
            if matches!(
                callee,
                "eval" | "exec" | "compile" | "builtins.eval" | "builtins.exec"
            ) && first_dynamic =>
        {
            report(ctx, c.node, "eval-of-data", msg, out);
        }
        l if l.is_js() => {
            let vm = callee.starts_with("vm.")
                && matches!(
                    c.name.as_str(),
                    "runInNewContext" | "runInThisContext" | "runInContext" | "compileFunction"
                );
            let func = matches!(callee, "newFunction" | "new Function" | "Function");
            let eval = callee == "eval" || callee == "window.eval" || callee == "globalThis.eval";
            let timer = matches!(callee, "setTimeout" | "setInterval" | "window.setTimeout")
                && c.arg(0).is_some_and(|a| is_dynamic_string(ctx, a, 0));
            let func_dyn = func && c.args.iter().any(|a| ctx.is_dynamic(*a));
            if ((eval || vm || callee == "new vm.Script") && first_dynamic) || func_dyn || timer {
                report(ctx, c.node, "eval-of-data", msg, out);
            }
        }
        Lang::Java => {
            let script = ctx.src.contains("ScriptEngine") && c.name == "eval";
            let groovy =
                matches!(c.name.as_str(), "evaluate" | "parse") && ctx.src.contains("GroovyShell");
            let spel = c.name == "parseExpression" && ctx.src.contains("ExpressionParser");
            if (script || groovy || spel) && first_dynamic {
                report(ctx, c.node, "eval-of-data", msg, out);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- CWE-22

const PATH_SANITISERS: &[&str] = &[
    "secure_filename",
    "basename",
    "realpath",
    "abspath",
    "normpath",
    "filepath.Base",
    "filepath.Clean",
    "filepath.Rel",
    "path.resolve",
    "path.normalize",
    "canonicalize",
    "getCanonicalPath",
    "toRealPath",
    "normalize()",
    "getFileName()",
    "FilenameUtils.getName",
    "file_name()",
    "\"..\"",
    "'..'",
    "is_relative_to",
    "startsWith",
    "startswith",
    "HasPrefix",
    "starts_with",
    "strstr(",
    "IsLocal",
    "safe_join",
    "PurePath(",
];

fn path(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    let callee = c.callee.as_str();
    let name = c.name.as_str();
    let sink = match ctx.lang {
        Lang::Python => matches!(
            callee,
            "open"
                | "io.open"
                | "codecs.open"
                | "os.remove"
                | "os.unlink"
                | "shutil.rmtree"
                | "send_file"
                | "flask.send_file"
                | "os.open"
                | "shutil.copy"
                | "Path"
                | "pathlib.Path"
                | "FileResponse"
        ),
        l if l.is_js() => matches!(
            name,
            "readFile"
                | "readFileSync"
                | "writeFile"
                | "writeFileSync"
                | "createReadStream"
                | "createWriteStream"
                | "unlink"
                | "unlinkSync"
                | "sendFile"
                | "download"
                | "appendFile"
                | "appendFileSync"
                | "rm"
                | "rmSync"
        ),
        Lang::Go => matches!(
            callee,
            "os.Open"
                | "os.OpenFile"
                | "os.ReadFile"
                | "ioutil.ReadFile"
                | "os.Create"
                | "os.WriteFile"
                | "ioutil.WriteFile"
                | "os.Remove"
                | "os.RemoveAll"
                | "http.ServeFile"
        ),
        Lang::Rust => {
            (callee.contains("File::") && matches!(name, "open" | "create"))
                || (callee.contains("fs::")
                    && matches!(
                        name,
                        "read_to_string"
                            | "read"
                            | "write"
                            | "remove_file"
                            | "remove_dir_all"
                            | "File"
                    ))
        }
        Lang::Java => matches!(
            callee,
            "new File"
                | "new FileInputStream"
                | "new FileOutputStream"
                | "new FileReader"
                | "new FileWriter"
                | "Paths.get"
                | "Path.of"
                | "new RandomAccessFile"
        ),
        Lang::C | Lang::Cpp => {
            matches!(name, "fopen" | "open" | "freopen" | "remove" | "unlink")
                || callee.starts_with("std::ifstream")
                || callee.starts_with("std::ofstream")
        }
        _ => false,
    };
    if !sink {
        return;
    }
    let tainted = c
        .args
        .iter()
        .any(|a| ctx.is_remote_tainted(*a) && !ctx.is_const(*a));
    if tainted && !ctx.fn_contains(c.node, PATH_SANITISERS) {
        report(
            ctx,
            c.node,
            "path-traversal",
            "file path taken from user input",
            out,
        );
    }
}

// ---------------------------------------------------------------- CWE-502

fn deser(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    let callee = c.callee.as_str();
    let msg = "deserializing untrusted data can run code";
    match ctx.lang {
        Lang::Python => {
            let always = [
                "pickle.load",
                "pickle.loads",
                "cPickle.load",
                "cPickle.loads",
                "_pickle.loads",
                "dill.load",
                "dill.loads",
                "marshal.load",
                "marshal.loads",
                "shelve.open",
                "jsonpickle.decode",
                "joblib.load",
                "pd.read_pickle",
                "pandas.read_pickle",
                "yaml.unsafe_load",
                "yaml.unsafe_load_all",
                "cloudpickle.load",
                "cloudpickle.loads",
                "pickle.Unpickler",
            ];
            let yaml = matches!(callee, "yaml.load" | "yaml.load_all") && {
                let loader = c.kwarg("Loader").or_else(|| c.arg(1));
                !loader.is_some_and(|l| ctx.text(l).contains("Safe"))
            };
            let torch = callee == "torch.load"
                && c.kwarg("weights_only")
                    .is_none_or(|v| ctx.text(v) != "True");
            let numpy = matches!(callee, "np.load" | "numpy.load")
                && c.kwarg("allow_pickle")
                    .is_some_and(|v| ctx.text(v) == "True");
            if always.contains(&callee) || yaml || torch || numpy {
                report(ctx, c.node, "insecure-deserialization", msg, out);
            }
        }
        Lang::Java => {
            let ois = callee == "new ObjectInputStream"
                && !ctx.fn_contains(
                    c.node,
                    &["setObjectInputFilter", "ValidatingObjectInputStream"],
                );
            let xml = callee == "new XMLDecoder";
            let jackson = matches!(
                c.name.as_str(),
                "enableDefaultTyping" | "activateDefaultTyping"
            );
            let snake = callee == "new Yaml" && c.args.is_empty() && ctx.src.contains(".load(");
            let xstream = c.name == "fromXML"
                && !contains_any(
                    ctx.src,
                    &["allowTypes", "addPermission", "setupDefaultSecurity"],
                );
            if ois || xml || jackson || snake || xstream {
                report(ctx, c.node, "insecure-deserialization", msg, out);
            }
        }
        l if l.is_js() => {
            let unser = c.name == "unserialize"
                && (ctx.src.contains("node-serialize")
                    || ctx.src.contains("serialize-javascript")
                    || callee.contains("serialize"));
            let yaml = matches!(callee, "yaml.load" | "jsyaml.load")
                && ctx.text(c.node).contains("DEFAULT_FULL_SCHEMA");
            if unser || yaml {
                report(ctx, c.node, "insecure-deserialization", msg, out);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- CWE-798

const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passwort",
    "pwd",
    "secret",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "accesskey",
    "private_key",
    "privatekey",
    "auth_token",
    "authtoken",
    "access_token",
    "accesstoken",
    "token",
    "client_secret",
    "clientsecret",
    "credential",
    "db_pass",
    "dbpass",
    "bearer",
    "signing_key",
    "signingkey",
    "encryption_key",
    "encryptionkey",
];
const NOT_SECRET_WORDS: &[&str] = &[
    "url",
    "uri",
    "endpoint",
    "field",
    "label",
    "prompt",
    "placeholder",
    "hint",
    "type",
    "name",
    "path",
    "file",
    "header",
    "length",
    "len",
    "min",
    "max",
    "regex",
    "pattern",
    "policy",
    "expires",
    "expiry",
    "timeout",
    "count",
    "column",
    "param",
    "format",
    "message",
    "error",
    "prefix",
    "env",
    "var",
    "key_id",
    "username",
    "hash",
];

pub(crate) fn secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase().replace(['-', '.'], "_");
    let flat = n.replace('_', "");
    (contains_any(&n, SECRET_WORDS) || contains_any(&flat, SECRET_WORDS))
        && !NOT_SECRET_WORDS
            .iter()
            .any(|w| n.split('_').any(|part| part == *w) || flat.ends_with(w))
}

/// The literal a value amounts to: `"x"`, `"x".to_string()`, `String::from("x")`, `b"x"`.
fn literal_value<'t>(ctx: &Ctx<'t>, v: Node<'t>) -> Option<Node<'t>> {
    let v = ctx.strip(v);
    if ctx.is_plain_string(v) {
        return Some(v);
    }
    let call = ctx.call(v)?;
    if matches!(
        call.name.as_str(),
        "to_string" | "to_owned" | "into" | "from" | "String" | "encode"
    ) {
        if let Some(a) = call.arg(0) {
            if ctx.is_plain_string(a) {
                return Some(a);
            }
        }
        let f = v.child_by_field_name("function")?;
        let recv = f
            .child_by_field_name("value")
            .or_else(|| f.child_by_field_name("object"))?;
        if ctx.is_plain_string(recv) {
            return Some(ctx.strip(recv));
        }
    }
    None
}

pub(crate) fn plausible_secret(raw: &str) -> bool {
    let s = raw
        .trim_start_matches(['r', 'b', 'u', 'R', 'B', 'U', '@', '#'])
        .trim_matches(|c| c == '"' || c == '\'' || c == '`');
    let s = s.trim();
    s.chars().count() >= 6
        && !s.contains(char::is_whitespace)
        && !s.starts_with('$')
        && !s.starts_with("{{")
        && !s.starts_with('<')
        && !s.starts_with("%(")
        && !s.contains("://")
        && s.chars().collect::<std::collections::HashSet<_>>().len() > 2
}

fn credential_binding(ctx: &Ctx<'_>, b: &Binding<'_>, out: &mut Vec<Finding>) {
    if !secret_name(&b.name) {
        return;
    }
    if let Some(lit) = literal_value(ctx, b.value) {
        if plausible_secret(ctx.text(lit)) {
            report(
                ctx,
                b.name_node,
                "hardcoded-credential",
                &format!("`{}` is a literal secret", b.name),
                out,
            );
        }
    }
}

fn credential_call(ctx: &Ctx<'_>, c: &Call<'_>, out: &mut Vec<Finding>) {
    // setPassword("..."), withApiKey("...")
    let n = c.name.to_ascii_lowercase();
    if (n.starts_with("set") || n.starts_with("with")) && secret_name(&c.name) {
        if let Some(a) = c.arg(0).and_then(|a| literal_value(ctx, a)) {
            if plausible_secret(ctx.text(a)) {
                report(
                    ctx,
                    c.node,
                    "hardcoded-credential",
                    &format!("`{}` gets a literal secret", c.name),
                    out,
                );
            }
        }
    }
    // C: #define handled in other_nodes; strcpy(password, "...")
    if ctx.lang.is_c() && matches!(c.name.as_str(), "strcpy" | "strncpy") {
        if let (Some(d), Some(s)) = (c.arg(0), c.arg(1)) {
            if secret_name(ctx.text(d)) && ctx.is_plain_string(s) && plausible_secret(ctx.text(s)) {
                report(
                    ctx,
                    c.node,
                    "hardcoded-credential",
                    "literal secret copied into a credential buffer",
                    out,
                );
            }
        }
    }
}

/// Well-known key formats anywhere in a string literal.
fn secret_literal(ctx: &Ctx<'_>, n: Node<'_>, out: &mut Vec<Finding>) {
    if !matches!(
        n.kind(),
        "string"
            | "string_literal"
            | "raw_string_literal"
            | "interpreted_string_literal"
            | "template_string"
            | "string_fragment"
            | "text_block"
    ) || n.kind() == "string_fragment"
    {
        return;
    }
    let t = ctx.text(n);
    let aws = t.find("AKIA").is_some_and(|i| {
        let k: String = t[i + 4..].chars().take(16).collect();
        k.len() == 16
            && k.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    let pem = t.contains("-----BEGIN") && t.contains("PRIVATE KEY");
    let tokens = [
        "ghp_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "sk_live_",
        "AIzaSy",
    ];
    let tok = tokens.iter().any(|p| {
        t.find(p).is_some_and(|i| {
            t[i + p.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .count()
                >= 16
        })
    });
    if aws || pem || tok {
        // Avoid a second finding when the binding rule already reported this line.
        let line = n.start_position().row + 1;
        if !out.iter().any(|f| f.line == line && f.cwe == 798) {
            report(
                ctx,
                n,
                "hardcoded-credential",
                "string literal contains a key in a well-known format",
                out,
            );
        }
    }
}

pub(crate) fn is_secret_context(ctx: &Ctx<'_>, n: Node<'_>) -> bool {
    const WORDS: &[&str] = &[
        "token",
        "password",
        "passwd",
        "secret",
        "salt",
        "nonce",
        "otp",
        "session",
        "csrf",
        "reset",
        "apikey",
        "api_key",
        "auth",
        "credential",
        "key",
        "pin",
        "verification",
    ];
    let f = ctx.enclosing_fn(n);
    // C/C++ keep the name inside the declarator: `unsigned make_key(void)`.
    let fname = f
        .child_by_field_name("name")
        .or_else(|| f.child_by_field_name("declarator"))
        .map(|x| ctx.text(x))
        .unwrap_or("");
    let fname = fname.split('(').next().unwrap_or("");
    if contains_any_ci(fname, WORDS) {
        return true;
    }
    // The name the value is bound to: walk up to the nearest binding node.
    let mut cur = n.parent();
    for _ in 0..8 {
        let Some(p) = cur else { break };
        if let Some(b) = ctx
            .bindings
            .iter()
            .find(|b| b.value.id() == p.id() || b.value.id() == n.id())
        {
            return contains_any_ci(&b.name, WORDS);
        }
        if p.id() == f.id() {
            break;
        }
        cur = p.parent();
    }
    false
}
