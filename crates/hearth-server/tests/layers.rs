#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Layers point one way: no import cycle between the files of hearth-server (`http` → `wire` →
//! `service` → `backend`; a child module never imports its parent's `mod.rs`), and the
//! service knows nothing of HTTP. Fails, naming the cycle, when one is added.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file: its module path (`crate::service::error`) and text.
struct File {
    module: Vec<String>,
    text: String,
}

fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// Files under `src`, keyed by their path relative to it. A file pulled in with
/// `#[path = "x.rs"] mod name;` gets the module it is declared as.
fn load(src: &Path) -> BTreeMap<String, File> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(src).unwrap().to_path_buf();
                let text = std::fs::read_to_string(&p).unwrap();
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    File {
                        module: module_of(&rel),
                        text,
                    },
                );
            }
        }
    }
    let mut renames = Vec::new();
    for (rel, f) in &out {
        let lines: Vec<&str> = f.text.lines().collect();
        for w in lines.windows(2) {
            let (Some(path), Some(name)) = (
                w[0].trim()
                    .strip_prefix("#[path = \"")
                    .and_then(|r| r.strip_suffix("\"]")),
                w[1].trim()
                    .strip_prefix("mod ")
                    .and_then(|r| r.strip_suffix(';')),
            ) else {
                continue;
            };
            let dir = Path::new(rel).parent().unwrap_or(Path::new(""));
            let target = dir.join(path).to_string_lossy().into_owned();
            let mut module = f.module.clone();
            module.push(name.to_string());
            renames.push((target, module));
        }
    }
    for (target, module) in renames {
        if let Some(f) = out.get_mut(&target) {
            f.module = module;
        }
    }
    out
}

/// The `crate::…` and `super::…` paths a line of code names (groups `crate::{a, b::c}` give
/// `a` and `b::c`).
fn paths_in(code: &str) -> Vec<(bool, Vec<String>)> {
    let mut out = Vec::new();
    for (is_super, key) in [(false, "crate::"), (true, "super::")] {
        let mut rest = code;
        while let Some(i) = rest.find(key) {
            let before = rest[..i].chars().last();
            rest = &rest[i + key.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let mut supers = usize::from(is_super);
            let mut r = rest;
            while is_super && r.starts_with("super::") {
                supers += 1;
                r = &r["super::".len()..];
            }
            let heads: Vec<&str> = if let Some(group) = r.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                group[..end].split(',').collect()
            } else {
                vec![r]
            };
            for h in heads {
                let segs: Vec<String> = h
                    .trim()
                    .split("::")
                    .map(|s| {
                        s.chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect::<String>()
                    })
                    .take_while(|s| !s.is_empty())
                    .collect();
                let mut path = vec!["super".to_string(); supers];
                path.extend(segs);
                out.push((is_super, path));
            }
        }
    }
    out
}

/// Child modules a file declares (`mod x;`, `pub(crate) mod x;`, `pub mod x;`).
fn declared_mods(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let t = l.trim();
            let t = t
                .strip_prefix("pub(crate) ")
                .or_else(|| t.strip_prefix("pub "))
                .unwrap_or(t);
            t.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_string)
        })
        .collect()
}

/// Paths relative to the file's own module that start with child module `name` (`name::x`).
fn relative_paths(code: &str, name: &str) -> Vec<Vec<String>> {
    let key = format!("{name}::");
    let mut out = Vec::new();
    let mut rest = code;
    let mut prev: Option<char> = None;
    while let Some(i) = rest.find(&key) {
        let before = if i == 0 {
            prev
        } else {
            rest[..i].chars().last()
        };
        let after = &rest[i + key.len()..];
        prev = key.chars().last();
        rest = after;
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let mut path = vec![name.to_string()];
        path.extend(
            after
                .split("::")
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<String>()
                })
                .take_while(|s| !s.is_empty()),
        );
        out.push(path);
    }
    out
}

/// Edges file → file (by key), from every `crate::`/`super::` path in code (comments skipped;
/// `super::` inside an inline `mod … {` means the file's own module).
fn edges(files: &BTreeMap<String, File>) -> BTreeMap<String, BTreeSet<String>> {
    let by_module: BTreeMap<&[String], &str> = files
        .iter()
        .map(|(k, f)| (f.module.as_slice(), k.as_str()))
        .collect();
    let resolve = |path: &[String]| -> Option<&str> {
        (0..=path.len())
            .rev()
            .find_map(|n| by_module.get(&path[..n]).copied())
    };
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (key, f) in files {
        let children = declared_mods(&f.text);
        let mut inline = false;
        for line in f.text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let t = code.trim_start();
            if (t.starts_with("mod ") || t.starts_with("pub(crate) mod ")) && t.ends_with('{') {
                inline = true;
            }
            for name in &children {
                for path in relative_paths(code, name) {
                    let mut abs = f.module.clone();
                    abs.extend(path);
                    if let Some(target) = resolve(&abs) {
                        if target != key {
                            out.entry(key.clone())
                                .or_default()
                                .insert(target.to_string());
                        }
                    }
                }
            }
            for (is_super, path) in paths_in(code) {
                let abs: Vec<String> = if is_super {
                    let ups = path.iter().take_while(|s| *s == "super").count();
                    let base = if inline { ups.saturating_sub(1) } else { ups };
                    let keep = f.module.len().saturating_sub(base);
                    let mut a = f.module[..keep].to_vec();
                    a.extend(path[ups..].iter().cloned());
                    a
                } else {
                    path
                };
                if let Some(target) = resolve(&abs) {
                    if target != key {
                        out.entry(key.clone())
                            .or_default()
                            .insert(target.to_string());
                    }
                }
            }
        }
    }
    out
}

/// A cycle in the graph, if there is one.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut c = stack[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_import_cycle_between_files() {
    let files = load(&src());
    let g = edges(&files);
    // The graph is real: the HTTP handlers reach the service, the service the backend.
    assert!(
        g["http/ollama.rs"].contains("service/mod.rs")
            || g["http/ollama.rs"]
                .iter()
                .any(|t| t.starts_with("service/")),
        "{g:#?}"
    );
    assert!(g["service/mod.rs"].contains("backend.rs"), "{g:#?}");
    if let Some(c) = find_cycle(&g) {
        panic!("import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn the_service_and_wire_types_know_no_http() {
    for (key, f) in load(&src()) {
        if key.starts_with("service/") || key.starts_with("wire/") {
            for bad in ["axum::", "crate::http", "hyper::"] {
                assert!(
                    !f.text.contains(bad),
                    "{key} uses {bad}: the service and wire layers must not know HTTP"
                );
            }
        }
    }
}

#[test]
fn the_checker_finds_a_cycle() {
    let dir = tempfile::tempdir().unwrap();
    let w = |p: &str, t: &str| {
        let p = dir.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    w("lib.rs", "mod a;\nmod b;\n");
    w("a/mod.rs", "mod c;\nuse crate::b::X;\n");
    w(
        "a/c.rs",
        "pub(crate) struct Y;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
    );
    w("b.rs", "use crate::a::c::Y;\npub(crate) struct X;\n");
    let files = load(dir.path());
    assert_eq!(find_cycle(&edges(&files)), None, "{:#?}", edges(&files));
    // A child that imports its parent's mod.rs closes a cycle (mod.rs -> b.rs -> c.rs -> mod.rs
    // once c.rs names super::Z).
    w("a/c.rs", "use super::Z;\npub(crate) struct Y;\n");
    w(
        "a/mod.rs",
        "mod c;\nuse crate::b::X;\npub(crate) struct Z;\n",
    );
    let cycle = find_cycle(&edges(&load(dir.path()))).expect("cycle not found");
    assert!(cycle.contains(&"a/mod.rs".to_string()), "{cycle:?}");
    // So does a relative path from mod.rs to its child.
    w("b.rs", "pub(crate) struct X;\n");
    w("a/mod.rs", "mod c;\nuse c::Y;\npub(crate) struct Z;\n");
    let cycle = find_cycle(&edges(&load(dir.path()))).expect("relative cycle not found");
    assert_eq!(cycle.len(), 3, "{cycle:?}");
    // Grouped imports count too.
    w("a/c.rs", "pub(crate) struct Y;\n");
    w(
        "a/mod.rs",
        "mod c;\nuse crate::b::X;\npub(crate) struct Z;\n",
    );
    w(
        "b.rs",
        "use crate::{a::Z, a::c::Y};\npub(crate) struct X;\n",
    );
    assert!(find_cycle(&edges(&load(dir.path()))).is_some());
}
