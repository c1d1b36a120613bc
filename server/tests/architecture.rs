//! The module map as a test: imports run one way.
//!
//! Reads `server/src` and checks the rules of docs/architecture.md:
//! - the edge (the `http` module, every `routes.rs`, the console, start-up and the CLI) may
//!   import anything; nothing else imports the edge or `axum`;
//! - the top-level modules outside the edge form no cycle;
//! - inside a module, its files (siblings) form no cycle either.
//!
//! It is a text scan, not a compiler pass: comments and `#[cfg(test)]` modules are skipped,
//! and a reference is any `crate::name` path or a name in a `use crate::{…}` group.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

const EDGE_MODULES: &[&str] = &["http", "console", "startup", "cli", "main", "demo"];

fn main_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// A source file: its module path (`["payments", "service"]`) and its code without comments
/// and test modules.
struct Source {
    path: Vec<String>,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = main_src();
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(&root).expect("under src");
                let mut parts: Vec<String> = rel
                    .with_extension("")
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                    parts.pop();
                }
                let text = fs::read_to_string(&path).expect("read file");
                out.push(Source {
                    path: parts,
                    code: strip(&text),
                });
            }
        }
    }
    out
}

/// Drops comments (line and block) and everything from a `#[cfg(test)]` item on (test
/// modules sit at the end of a file by convention).
fn strip(text: &str) -> String {
    let text = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |i| &after[i..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |i| &after[i + 2..]);
        } else if rest.starts_with('"') {
            // Skip string literals so SQL or messages never count as references.
            let bytes = rest.as_bytes();
            let mut i = 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            out.push_str("\"\"");
            rest = rest.get(i + 1..).unwrap_or("");
        } else {
            let ch = rest.chars().next().expect("non-empty");
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    out
}

/// The first segments of every `crate::…` path in `code`, expanding `use crate::{a, b::c}`.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().last();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = matching_brace(group);
            for item in split_top(&group[..end]) {
                found.push(segments(&item));
            }
        } else {
            found.push(segments(rest));
        }
    }
    found
}

fn matching_brace(s: &str) -> usize {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    s.len()
}

fn split_top(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    items.push(cur);
    items
}

/// `a::b::{c, d}` → `["a", "b"]` (the first two identifiers).
fn segments(s: &str) -> Vec<String> {
    s.trim()
        .split("::")
        .take(2)
        .map(|seg| {
            seg.trim()
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .take_while(|seg| !seg.is_empty())
        .collect()
}

fn is_edge(path: &[String]) -> bool {
    path.first()
        .is_some_and(|m| EDGE_MODULES.contains(&m.as_str()))
        || path.iter().any(|p| p == "routes")
}

/// Targets of a reference: a top-level module, or an edge part of one (`x::routes`).
fn refers_to_edge(target: &[String]) -> bool {
    target
        .first()
        .is_some_and(|m| EDGE_MODULES.contains(&m.as_str()))
        || target.get(1).is_some_and(|s| s == "routes")
}

fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Tarjan's strongly connected components; any component with two or more nodes is a cycle.
    struct State<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(edges) = s.graph.get(v) {
            for w in edges {
                let w = w.as_str();
                if w == v || !s.graph.contains_key(w) {
                    continue;
                }
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v.as_str()) {
            visit(&mut state, v);
        }
    }
    state.out
}

#[test]
fn the_domain_does_not_import_the_edge_or_axum() {
    let mut violations = Vec::new();
    for source in sources() {
        if is_edge(&source.path) || source.path.is_empty() {
            continue;
        }
        let name = source.path.join("::");
        if source.code.contains("axum::") || source.code.contains("use axum") {
            violations.push(format!("{name} imports axum"));
        }
        for target in crate_paths(&source.code) {
            if refers_to_edge(&target) {
                violations.push(format!("{name} imports crate::{}", target.join("::")));
            }
        }
    }
    violations.sort();
    violations.dedup();
    assert!(
        violations.is_empty(),
        "the domain depends on the edge:\n{}",
        violations.join("\n")
    );
}

#[test]
fn top_level_modules_form_no_cycle() {
    let sources = sources();
    let modules: BTreeSet<String> = sources
        .iter()
        .filter_map(|s| s.path.first().cloned())
        .collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in &sources {
        if is_edge(&source.path) || source.path.is_empty() {
            continue;
        }
        let from = source.path[0].clone();
        let edges = graph.entry(from.clone()).or_default();
        for target in crate_paths(&source.code) {
            if let Some(to) = target
                .first()
                .filter(|t| modules.contains(*t) && **t != from)
            {
                edges.insert(to.clone());
            }
        }
    }
    let found = cycles(&graph);
    let edges: Vec<String> = found
        .iter()
        .flatten()
        .map(|m| {
            let to: Vec<&String> = graph[m].iter().filter(|t| graph.contains_key(*t)).collect();
            format!("{m} -> {to:?}")
        })
        .collect();
    assert!(
        found.is_empty(),
        "top-level modules that import each other (directly or around a loop): {found:?}\n{}",
        edges.join("\n")
    );
}

#[test]
fn files_inside_a_module_form_no_cycle() {
    let sources = sources();
    // Siblings: files directly under one module (its `mod.rs` excluded: a parent declares its
    // children and holds what they share).
    let mut by_parent: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for source in &sources {
        let Some((child, parent)) = source.path.split_last() else {
            continue;
        };
        if parent.is_empty() {
            continue;
        }
        let edges = by_parent
            .entry(parent.to_vec())
            .or_default()
            .entry(child.clone())
            .or_default();
        let parent_path = parent.join("::");
        for line in source.code.split(';') {
            // `super::x` from a file is its sibling `x`.
            let mut rest = line;
            while let Some(at) = rest.find("super::") {
                rest = &rest[at + "super::".len()..];
                let targets: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                    let end = matching_brace(group);
                    split_top(&group[..end])
                        .iter()
                        .filter_map(|i| segments(i).into_iter().next())
                        .collect()
                } else {
                    segments(rest).into_iter().take(1).collect()
                };
                edges.extend(targets);
            }
        }
        for target in crate_paths(&source.code) {
            let joined = target.join("::");
            if let Some(sub) = target.get(1).filter(|_| target[0] == parent_path) {
                edges.insert(sub.clone());
            } else if parent.len() > 1 && joined.starts_with(&parent_path) {
                edges.insert(joined);
            }
        }
    }
    let mut found = Vec::new();
    for (parent, graph) in &by_parent {
        for cycle in cycles(graph) {
            found.push(format!("{}: {cycle:?}", parent.join("::")));
        }
    }
    assert!(
        found.is_empty(),
        "files of one module that import each other:\n{}",
        found.join("\n")
    );
}
