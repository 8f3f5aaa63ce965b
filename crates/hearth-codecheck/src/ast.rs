//! Language-neutral views over tree-sitter nodes: calls, bindings, constness and taint.

use tree_sitter::{Node, Tree};

use crate::{Finding, Lang, Severity};

/// Recursion cap for the resolver (identifier -> binding -> ...).
const MAX_DEPTH: u32 = 4;

/// A call (or `new`) expression seen the same way in every language.
pub(crate) struct Call<'t> {
    pub node: Node<'t>,
    /// Callee text without whitespace, e.g. `os.system`, `Runtime.getRuntime().exec`,
    /// `new ObjectInputStream`, `Command::new`.
    pub callee: String,
    /// Last segment of the callee (`system`, `exec`, `ObjectInputStream`, `new`).
    pub name: String,
    /// Positional arguments.
    pub args: Vec<Node<'t>>,
    /// Keyword arguments (Python) as (name, value).
    pub kwargs: Vec<(String, Node<'t>)>,
}

impl<'t> Call<'t> {
    /// Positional argument `i`.
    pub(crate) fn arg(&self, i: usize) -> Option<Node<'t>> {
        self.args.get(i).copied()
    }

    /// Keyword argument by name.
    pub(crate) fn kwarg(&self, name: &str) -> Option<Node<'t>> {
        self.kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
    }
}

/// A name bound to a value: assignment, declaration, keyword argument, object/dict entry.
pub(crate) struct Binding<'t> {
    pub name: String,
    pub name_node: Node<'t>,
    pub value: Node<'t>,
}

pub(crate) struct Ctx<'t> {
    pub src: &'t str,
    pub lang: Lang,
    pub root: Node<'t>,
    pub nodes: Vec<Node<'t>>,
    pub bindings: Vec<Binding<'t>>,
    /// Binding indices by name, in source order, with the id of their enclosing function.
    by_name: std::collections::HashMap<String, Vec<(usize, usize)>>,
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn last_segment(s: &str) -> String {
    let s = s.trim_end_matches("()");
    let cut = s.rfind(['.', ':', ' ']).map(|i| i + 1).unwrap_or(0);
    s[cut..].to_string()
}

impl<'t> Ctx<'t> {
    pub(crate) fn new(src: &'t str, lang: Lang, tree: &'t Tree) -> Ctx<'t> {
        let root = tree.root_node();
        // Iterative pre-order walk (deep trees cannot overflow the stack).
        let mut nodes = Vec::new();
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            nodes.push(n);
            let mut c = n.walk();
            let kids: Vec<Node<'t>> = n.named_children(&mut c).collect();
            stack.extend(kids.into_iter().rev());
        }
        let mut ctx = Ctx {
            src,
            lang,
            root,
            nodes,
            bindings: Vec::new(),
            by_name: std::collections::HashMap::new(),
        };
        ctx.bindings = ctx.collect_bindings();
        ctx.bindings.sort_by_key(|b| b.value.start_byte());
        let mut by_name: std::collections::HashMap<String, Vec<(usize, usize)>> =
            std::collections::HashMap::new();
        for (i, b) in ctx.bindings.iter().enumerate() {
            let scope = ctx.enclosing_fn(b.value).id();
            by_name.entry(b.name.clone()).or_default().push((i, scope));
        }
        ctx.by_name = by_name;
        ctx
    }

    pub(crate) fn text(&self, n: Node<'_>) -> &'t str {
        self.src.get(n.byte_range()).unwrap_or("")
    }

    /// Drop parentheses, `&`, `await`, casts and similar wrappers.
    pub(crate) fn strip(&self, mut n: Node<'t>) -> Node<'t> {
        for _ in 0..8 {
            let inner = match n.kind() {
                "parenthesized_expression"
                | "await_expression"
                | "reference_expression"
                | "argument"
                | "literal_element"
                | "non_null_expression"
                | "as_expression"
                | "type_assertion"
                | "satisfies_expression" => n
                    .child_by_field_name("value")
                    .or_else(|| n.child_by_field_name("expression"))
                    .or_else(|| n.named_child(0)),
                _ => None,
            };
            match inner {
                Some(i) if i.id() != n.id() => n = i,
                _ => break,
            }
        }
        n
    }

    pub(crate) fn call(&self, n: Node<'t>) -> Option<Call<'t>> {
        let (callee_node, args_node, callee) = match n.kind() {
            "call" | "call_expression" => {
                let f = n.child_by_field_name("function")?;
                (
                    Some(f),
                    n.child_by_field_name("arguments"),
                    squash(self.text(f)),
                )
            }
            "new_expression" => {
                let f = n.child_by_field_name("constructor")?;
                let t = format!("new {}", squash(self.text(f)));
                (Some(f), n.child_by_field_name("arguments"), t)
            }
            "method_invocation" => {
                let name = n.child_by_field_name("name")?;
                let t = match n.child_by_field_name("object") {
                    Some(o) => format!("{}.{}", squash(self.text(o)), self.text(name)),
                    None => self.text(name).to_string(),
                };
                (Some(name), n.child_by_field_name("arguments"), t)
            }
            "object_creation_expression" => {
                let ty = n.child_by_field_name("type")?;
                let t = format!("new {}", squash(self.text(ty)));
                (Some(ty), n.child_by_field_name("arguments"), t)
            }
            "macro_invocation" => {
                let m = n.child_by_field_name("macro")?;
                (Some(m), None, format!("{}!", squash(self.text(m))))
            }
            _ => return None,
        };
        callee_node?;
        let mut args = Vec::new();
        let mut kwargs = Vec::new();
        if let Some(a) = args_node {
            let mut c = a.walk();
            for child in a.named_children(&mut c) {
                match child.kind() {
                    "comment" => {}
                    "keyword_argument" => {
                        if let (Some(k), Some(v)) = (
                            child.child_by_field_name("name"),
                            child.child_by_field_name("value"),
                        ) {
                            kwargs.push((self.text(k).to_string(), v));
                        }
                    }
                    _ => args.push(child),
                }
            }
        }
        let name = last_segment(callee.trim_end_matches('!'));
        Some(Call {
            node: n,
            callee,
            name,
            args,
            kwargs,
        })
    }

    fn collect_bindings(&self) -> Vec<Binding<'t>> {
        let mut out = Vec::new();
        for &n in &self.nodes {
            let pairs: &[(&str, &str)] = match n.kind() {
                "assignment"
                | "assignment_expression"
                | "augmented_assignment"
                | "augmented_assignment_expression"
                | "assignment_statement"
                | "short_var_declaration"
                | "compound_assignment_expr" => &[("left", "right")],
                "variable_declarator"
                | "var_spec"
                | "const_spec"
                | "const_item"
                | "static_item"
                | "keyword_argument" => &[("name", "value")],
                "pair" | "keyed_element" => &[("key", "value")],
                "let_declaration" => &[("pattern", "value")],
                "init_declarator" => &[("declarator", "value")],
                "field_initializer" => &[("field", "value")],
                "property_signature" | "public_field_definition" | "field_definition" => {
                    &[("name", "value"), ("property", "value")]
                }
                _ => continue,
            };
            for (l, r) in pairs {
                let (Some(left), Some(right)) =
                    (n.child_by_field_name(l), n.child_by_field_name(r))
                else {
                    continue;
                };
                // Go: `a, b := x, y` pairs up list elements.
                if left.kind() == "expression_list" && right.kind() == "expression_list" {
                    let mut c1 = left.walk();
                    let mut c2 = right.walk();
                    let ls: Vec<Node<'t>> = left.named_children(&mut c1).collect();
                    let rs: Vec<Node<'t>> = right.named_children(&mut c2).collect();
                    for (a, b) in ls.into_iter().zip(rs) {
                        out.push(self.binding(a, b));
                    }
                    continue;
                }
                let right = if right.kind() == "expression_list" {
                    right.named_child(0).unwrap_or(right)
                } else {
                    right
                };
                out.push(self.binding(left, right));
            }
        }
        out
    }

    fn binding(&self, left: Node<'t>, value: Node<'t>) -> Binding<'t> {
        // The bound name is the last identifier-ish segment of the left side
        // (`self.password`, `cfg["token"]`, `*buf`, `char sql[256]`).
        let mut name_node = left;
        for _ in 0..6 {
            let next = match name_node.kind() {
                "attribute" | "member_expression" | "field_expression" | "selector_expression" => {
                    name_node
                        .child_by_field_name("attribute")
                        .or_else(|| name_node.child_by_field_name("property"))
                        .or_else(|| name_node.child_by_field_name("field"))
                }
                "subscript" | "subscript_expression" | "index_expression" => name_node
                    .child_by_field_name("subscript")
                    .or_else(|| name_node.child_by_field_name("index")),
                "pointer_declarator" | "array_declarator" | "reference_declarator" => {
                    name_node.child_by_field_name("declarator")
                }
                "literal_element" => name_node.named_child(0),
                _ => None,
            };
            match next {
                Some(x) => name_node = x,
                None => break,
            }
        }
        let name = self
            .text(name_node)
            .trim_matches(|c| c == '"' || c == '\'' || c == '`')
            .to_string();
        Binding {
            name,
            name_node,
            value,
        }
    }

    /// The latest binding of identifier `name` before `at`, preferring the same function,
    /// then the top level of the file.
    pub(crate) fn resolve(&self, name: &str, at: Node<'t>) -> Option<Node<'t>> {
        let list = self.by_name.get(name)?;
        let scope = self.enclosing_fn(at).id();
        let root = self.root.id();
        let mut top_level = None;
        for &(i, s) in list.iter().rev() {
            let b = &self.bindings[i];
            if b.value.start_byte() >= at.start_byte() {
                continue;
            }
            if s == scope {
                return Some(b.value);
            }
            if s == root && top_level.is_none() {
                top_level = Some(b.value);
            }
        }
        top_level
    }

    pub(crate) fn enclosing_fn(&self, n: Node<'t>) -> Node<'t> {
        let mut cur = n.parent();
        while let Some(p) = cur {
            if matches!(
                p.kind(),
                "function_definition"
                    | "function_declaration"
                    | "function_expression"
                    | "arrow_function"
                    | "method_definition"
                    | "method_declaration"
                    | "constructor_declaration"
                    | "func_literal"
                    | "function_item"
                    | "closure_expression"
                    | "lambda_expression"
                    | "lambda"
            ) {
                return p;
            }
            cur = p.parent();
        }
        self.root
    }

    /// Is `n` a string literal (no interpolation)?
    pub(crate) fn is_plain_string(&self, n: Node<'t>) -> bool {
        let n = self.strip(n);
        match n.kind() {
            "string" => {
                let mut c = n.walk();
                let has_interp = n
                    .named_children(&mut c)
                    .any(|k| k.kind() == "interpolation");
                // Python f-strings keep their prefix in the text.
                let t = self.text(n);
                let prefix: String = t.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
                !has_interp && !prefix.to_ascii_lowercase().contains('f')
            }
            "template_string" => {
                let mut c = n.walk();
                let has = n
                    .named_children(&mut c)
                    .any(|k| k.kind() == "template_substitution");
                !has
            }
            "string_literal"
            | "raw_string_literal"
            | "interpreted_string_literal"
            | "concatenated_string"
            | "char_literal"
            | "text_block"
            | "rune_literal" => true,
            _ => false,
        }
    }

    /// True when `n` is provably a constant (literals, constant concatenation, identifiers
    /// bound to constants, ALL_CAPS names).
    pub(crate) fn is_const(&self, n: Node<'t>) -> bool {
        self.is_const_d(n, 0)
    }

    fn is_const_d(&self, n: Node<'t>, depth: u32) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let n = self.strip(n);
        if self.is_plain_string(n) {
            return true;
        }
        match n.kind() {
            "integer"
            | "float"
            | "number"
            | "int_literal"
            | "float_literal"
            | "integer_literal"
            | "decimal_integer_literal"
            | "number_literal"
            | "true"
            | "false"
            | "none"
            | "null"
            | "nil"
            | "boolean_literal"
            | "null_literal" => true,
            "binary_operator" | "binary_expression" | "concatenated_string" => {
                let mut c = n.walk();
                let kids: Vec<Node<'t>> = n.named_children(&mut c).collect();
                kids.iter().all(|k| self.is_const_d(*k, depth + 1))
            }
            "identifier" | "constant" => {
                let name = self.text(n);
                if name.len() > 1
                    && name
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
                {
                    return true;
                }
                match self.resolve(name, n) {
                    Some(v) => self.is_const_d(v, depth + 1),
                    None => false,
                }
            }
            "macro_invocation" => {
                // format!("literal only") and concat! of literals are constant.
                let t = self.text(n);
                (t.starts_with("format!") || t.starts_with("concat!"))
                    && !t.contains(',')
                    && !t.contains('{')
            }
            _ => false,
        }
    }

    /// All literal text inside `n` and, through identifiers, inside what they are bound to.
    pub(crate) fn literal_text(&self, n: Node<'t>) -> String {
        let mut out = String::new();
        self.literal_text_d(n, 0, &mut out);
        out
    }

    fn literal_text_d(&self, n: Node<'t>, depth: u32, out: &mut String) {
        if depth > MAX_DEPTH || out.len() > 4096 {
            return;
        }
        let n = self.strip(n);
        match n.kind() {
            "identifier" => {
                if let Some(v) = self.resolve(self.text(n), n) {
                    self.literal_text_d(v, depth + 1, out);
                }
                // C: sprintf(buf, "...", x) fills `buf`.
                if self.lang.is_c() {
                    self.c_buffer_writes(n, |fmt| self.literal_text_d(fmt, depth + 1, out));
                }
            }
            k if k.contains("string") || k == "template_string" || k == "token_tree" => {
                out.push_str(self.text(n));
                out.push(' ');
            }
            _ => {
                let mut c = n.walk();
                let kids: Vec<Node<'t>> = n.named_children(&mut c).collect();
                for k in kids {
                    self.literal_text_d(k, depth + 1, out);
                }
            }
        }
    }

    /// For C: call `f` on the format/source arguments of `sprintf/snprintf/strcat/strcpy`
    /// calls that write into the buffer named by `ident` in the same function.
    pub(crate) fn c_buffer_writes(&self, ident: Node<'t>, mut f: impl FnMut(Node<'t>)) {
        let name = self.text(ident);
        let scope = self.enclosing_fn(ident);
        for &m in &self.nodes {
            if m.kind() != "call_expression" || m.start_byte() >= ident.start_byte() {
                continue;
            }
            let Some(c) = self.call(m) else { continue };
            if !matches!(
                c.name.as_str(),
                "sprintf" | "snprintf" | "strcat" | "strncat" | "strcpy" | "strncpy"
            ) {
                continue;
            }
            if c.arg(0).map(|a| self.text(a)) != Some(name)
                || self.enclosing_fn(m).id() != scope.id()
            {
                continue;
            }
            for a in c.args.iter().skip(1) {
                f(*a);
            }
        }
    }

    /// True when a C buffer is filled from non-constant data before `ident`.
    pub(crate) fn c_buffer_dynamic(&self, ident: Node<'t>) -> bool {
        let mut dynamic = false;
        self.c_buffer_writes(ident, |a| {
            if !self.is_const(a) && !self.text(a).chars().all(|c| c.is_ascii_digit()) {
                dynamic = true;
            }
        });
        dynamic
    }

    /// Non-constant string data (concatenation, interpolation, formatting, variables).
    pub(crate) fn is_dynamic(&self, n: Node<'t>) -> bool {
        let s = self.strip(n);
        if self.lang.is_c() && s.kind() == "identifier" {
            // A char buffer declared without a value is dynamic only if filled from data.
            if self.resolve(self.text(s), s).is_none() {
                return self.c_buffer_dynamic(s);
            }
        }
        !self.is_const(n)
    }

    /// Does the expression (or what its identifiers are bound to) mention user input?
    pub(crate) fn is_tainted(&self, n: Node<'t>) -> bool {
        self.tainted_d(n, 0, TAINT_SOURCES)
    }

    /// Like [`Ctx::is_tainted`] but ignoring command-line arguments and stdin: for sinks
    /// where the operator of a CLI tool naming a file or URL is not an attack.
    pub(crate) fn is_remote_tainted(&self, n: Node<'t>) -> bool {
        let remote: Vec<&str> = TAINT_SOURCES
            .iter()
            .copied()
            .filter(|s| !LOCAL_SOURCES.contains(s))
            .collect();
        self.tainted_d(n, 0, &remote)
    }

    fn tainted_d(&self, n: Node<'t>, depth: u32, sources: &[&str]) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        let n = self.strip(n);
        if self.is_plain_string(n) {
            return false;
        }
        if contains_any(&self.code_text(n), sources) {
            return true;
        }
        self.identifiers(n).into_iter().any(|id| {
            if let Some(v) = self.resolve(self.text(id), id) {
                if v.id() != n.id() && self.tainted_d(v, depth + 1, sources) {
                    return true;
                }
            }
            let mut hit = false;
            if self.lang.is_c() {
                self.c_buffer_writes(id, |a| {
                    if !hit && self.tainted_d(a, depth + 1, sources) {
                        hit = true;
                    }
                });
            }
            hit
        })
    }

    /// The source of `n` with the contents of string literals left out (so that a literal
    /// such as `"params.json"` does not look like request parameters).
    pub(crate) fn code_text(&self, n: Node<'t>) -> String {
        let mut cuts = Vec::new();
        let mut stack = vec![n];
        let mut seen = 0;
        while let Some(m) = stack.pop() {
            seen += 1;
            if seen > 512 {
                break;
            }
            if self.is_plain_string(m) {
                // CGI variables name request data even inside a literal: getenv("QUERY_STRING").
                let lit = self.text(m).trim_matches(|c| c == '"' || c == '\'');
                let cgi = ["QUERY_STRING", "PATH_INFO", "HTTP_", "REQUEST_URI"];
                if !cgi.iter().any(|p| lit.starts_with(p)) {
                    cuts.push(m.byte_range());
                }
                continue;
            }
            let mut c = m.walk();
            stack.extend(m.named_children(&mut c));
        }
        cuts.sort_by_key(|r| r.start);
        let mut out = String::new();
        let mut pos = n.start_byte();
        for r in cuts {
            if r.start >= pos {
                out.push_str(self.src.get(pos..r.start).unwrap_or(""));
                out.push_str("\"\"");
                pos = r.end;
            }
        }
        out.push_str(self.src.get(pos..n.end_byte()).unwrap_or(""));
        out
    }

    /// Identifiers inside `n` (including `n` itself), bounded.
    pub(crate) fn identifiers(&self, n: Node<'t>) -> Vec<Node<'t>> {
        let mut out = Vec::new();
        let mut stack = vec![n];
        let mut seen = 0;
        while let Some(m) = stack.pop() {
            seen += 1;
            if seen > 512 {
                break;
            }
            if m.kind() == "identifier" {
                out.push(m);
                continue;
            }
            let mut c = m.walk();
            stack.extend(m.named_children(&mut c));
        }
        out
    }

    /// Does the function around `n` contain any of `needles` (a sanitiser, a check)?
    pub(crate) fn fn_contains(&self, n: Node<'t>, needles: &[&str]) -> bool {
        contains_any(self.text(self.enclosing_fn(n)), needles)
    }

    pub(crate) fn finding(
        &self,
        n: Node<'_>,
        rule_id: &'static str,
        cwe: u32,
        severity: Severity,
        message: impl Into<String>,
    ) -> Finding {
        let p = n.start_position();
        // The line around the node's first byte (not `lines().nth()`: O(file) per finding).
        let at = n.start_byte().min(self.src.len());
        let start = self.src[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = self.src[at..].find('\n').map_or(self.src.len(), |i| at + i);
        let line = self.src.get(start..end).unwrap_or("").trim();
        let snippet: String = line.chars().take(200).collect();
        Finding {
            rule_id,
            cwe,
            severity,
            line: p.row + 1,
            column: p.column + 1,
            message: message.into(),
            snippet,
        }
    }
}

/// Names and expressions through which user input usually arrives.
pub(crate) const TAINT_SOURCES: &[&str] = &[
    "request.",
    "request[",
    "req.",
    "req[",
    "params",
    "query",
    "sys.argv",
    "argv",
    "input(",
    "getParameter",
    "getHeader",
    "FormValue",
    "URL.Query",
    "r.URL",
    "PostForm",
    "body",
    "user_",
    "userInput",
    "user_input",
    "location.",
    "getQueryParam",
    "@RequestParam",
    "PathVariable",
    "stdin",
    "read_line",
    "args()",
    "env::args",
    "os.Args",
    "event[",
    "event.",
    "QUERY_STRING",
    "PATH_INFO",
];

/// Sources that belong to the local operator (CLI arguments, stdin).
pub(crate) const LOCAL_SOURCES: &[&str] = &[
    "sys.argv",
    "argv",
    "input(",
    "stdin",
    "read_line",
    "args()",
    "env::args",
    "os.Args",
];

pub(crate) fn contains_any(hay: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| hay.contains(n))
}

pub(crate) fn contains_any_ci(hay: &str, needles: &[&str]) -> bool {
    let h = hay.to_ascii_lowercase();
    needles.iter().any(|n| h.contains(n))
}
