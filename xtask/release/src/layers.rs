//! The library's module layers, checked on its source (this module is compiled for tests only):
//! - no import cycle between its top-level modules;
//! - the global configuration (`Config::get()`) is read only by the modules listed in
//!   `READERS`, and by nothing that the module holding it depends on.
//!
//! A top-level module `x` (`x.rs` or `x/mod.rs`, with its submodules) depends on `y` when its
//! code names `crate::y` (in a `use`, a group `use crate::{y::A, ...}` or an inline path),
//! reaches `y` through `super::`, or names something `lib.rs` re-exports from `y`. Comments and
//! literals do not count. Test code does not count either: `#[cfg(test)]` items and inline
//! modules, and the files of modules declared `#[cfg(test)] mod name;` (`step`'s tests use
//! `plan::samples`, `plan`'s use `execute`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The module that holds the global configuration, and how it is read (`Config::get()`).
const HOLDER: &str = "config";
const ACCESSOR: (&str, &str) = ("Config", "get");
/// The modules that may read it: where a process is started (`cmd`: in Actions, its output is
/// grouped and fenced), workflow commands (`github`), where tools are found (`tools`). All of
/// them sit above `config`; everything else takes what it needs as a value.
const READERS: &[&str] = &["cmd", "github", "tools"];

/// Module -> module -> the files (relative to `src`) that make the edge.
type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[derive(Debug, Default)]
struct Graph {
    edges: Edges,
    /// Module -> the files of it that call `Config::get()`.
    reads: BTreeMap<String, BTreeSet<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

fn is_ident(t: Option<&Tok>, word: &str) -> bool {
    matches!(t, Some(Tok::Ident(w)) if w == word)
}

fn is_punct(t: Option<&Tok>, c: char) -> bool {
    t == Some(&Tok::Punct(c))
}

/// Rust's tokens, as far as paths need them: identifiers, `::` and single punctuation, with
/// comments, string, char and number literals left out.
fn lex(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied();
    let ident_start = |ch: char| ch == '_' || ch.is_alphabetic();
    let ident_char = |ch: char| ch == '_' || ch.is_alphanumeric();
    // From an opening `"` to just past its closing one.
    let string_end = |mut i: usize| {
        i += 1;
        while i < c.len() && c[i] != '"' {
            i += if c[i] == '\\' { 2 } else { 1 };
        }
        i + 1
    };
    // From the first `#` or `"` after `r` to just past `"` and as many `#`.
    let raw_string_end = |mut i: usize| {
        let hashes = c[i..].iter().take_while(|&&ch| ch == '#').count();
        i += hashes + 1;
        while i < c.len() {
            if c[i] == '"'
                && c[i + 1..]
                    .iter()
                    .take(hashes)
                    .filter(|&&ch| ch == '#')
                    .count()
                    == hashes
            {
                return i + 1 + hashes;
            }
            i += 1;
        }
        i
    };
    // From an opening `'` to just past a char literal, or past the `'` of a lifetime.
    let quote_end = |i: usize| {
        if at(i + 1) == Some('\\') {
            let mut j = i + 3;
            while j < c.len() && c[j] != '\'' {
                j += 1;
            }
            j + 1
        } else if at(i + 2) == Some('\'') {
            i + 3
        } else {
            i + 1
        }
    };
    let mut toks = Vec::new();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == Some('*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == Some('/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = string_end(i);
        } else if ch == '\'' {
            i = quote_end(i);
        } else if ch.is_ascii_digit() {
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
        } else if ident_start(ch) {
            let start = i;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            let word: String = c[start..i].iter().collect();
            let hashes = c[i..].iter().take_while(|&&ch| ch == '#').count();
            match (word.as_str(), at(i)) {
                ("r" | "br" | "cr", Some('"' | '#')) if at(i + hashes) == Some('"') => {
                    i = raw_string_end(i);
                }
                // A raw identifier, `r#type`: the identifier follows.
                ("r", Some('#')) => i += 1,
                ("b" | "c", Some('"')) => i = string_end(i),
                ("b", Some('\'')) => i = quote_end(i),
                _ => toks.push(Tok::Ident(word)),
            }
        } else if ch == ':' && at(i + 1) == Some(':') {
            toks.push(Tok::Sep);
            i += 2;
        } else {
            toks.push(Tok::Punct(ch));
            i += 1;
        }
    }
    toks
}

/// What one file names.
#[derive(Debug, Default)]
struct Scan {
    /// The first segment below the crate root of each path it names (`crate::x::A` -> `x`).
    roots: Vec<String>,
    reads_config: bool,
    /// The modules it declares with `#[cfg(test)] mod name`.
    test_mods: Vec<Vec<String>>,
}

/// The first segments at `toks[i]`, just after `crate::` (or `super::` reaching the root).
fn first_segments(toks: &[Tok], i: usize) -> Result<Vec<String>, String> {
    match toks.get(i) {
        Some(Tok::Ident(name)) => Ok(vec![name.clone()]),
        Some(Tok::Punct('{')) => {
            let (mut names, mut depth, mut first) = (Vec::new(), 0, true);
            for t in &toks[i..] {
                match t {
                    Tok::Punct('{') => depth += 1,
                    Tok::Punct('}') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Tok::Punct(',') if depth == 1 => first = true,
                    Tok::Ident(name) if depth == 1 && first => {
                        first = false;
                        if name != "self" {
                            names.push(name.clone());
                        }
                    }
                    _ if depth == 1 => first = false,
                    _ => {}
                }
            }
            Ok(names)
        }
        Some(Tok::Punct('*')) => Err("a glob import from the crate root".into()),
        other => Err(format!(
            "a path from the crate root that goes on with {other:?}"
        )),
    }
}

/// The index just past the item at `toks[i]`: its `;`, or the `}` closing its body.
fn item_end(toks: &[Tok], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < toks.len() {
        match toks[i] {
            Tok::Punct('{' | '(' | '[') => depth += 1,
            Tok::Punct('}' | ')' | ']') => {
                depth = depth.saturating_sub(1);
                if depth == 0 && toks[i] == Tok::Punct('}') {
                    return i + 1;
                }
            }
            Tok::Punct(';') if depth == 0 => return i + 1,
            _ => {}
        }
        i += 1;
    }
    i
}

/// The index just past the bracket that closes the one at `toks[i]`.
fn close(toks: &[Tok], i: usize) -> usize {
    let mut depth = 0usize;
    for (j, t) in toks.iter().enumerate().skip(i) {
        match t {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// What the file of `module` (its path below the crate root) names, test code left out.
fn scan(module: &[String], toks: &[Tok]) -> Result<Scan, String> {
    let mut scan = Scan::default();
    // Inline modules, each with the brace depth it opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let here = || -> Vec<String> {
            let mut path = module.to_vec();
            path.extend(inline.iter().map(|(name, _)| name.clone()));
            path
        };
        let t = &toks[i];
        if is_punct(Some(t), '#') && is_punct(toks.get(i + 1), '[') {
            let end = close(toks, i + 1);
            let cfg_test = toks[i + 2..end]
                == [
                    Tok::Ident("cfg".into()),
                    Tok::Punct('('),
                    Tok::Ident("test".into()),
                    Tok::Punct(')'),
                    Tok::Punct(']'),
                ];
            if !cfg_test {
                i = end;
                continue;
            }
            // The item it applies to: after any other attributes and a visibility.
            let mut j = end;
            loop {
                if is_punct(toks.get(j), '#') {
                    j = close(toks, j + 1);
                } else if is_ident(toks.get(j), "pub") {
                    j += 1;
                    if is_punct(toks.get(j), '(') {
                        j = close(toks, j);
                    }
                } else {
                    break;
                }
            }
            // A test module, in its own file or inline: files below it are tests too.
            if is_ident(toks.get(j), "mod") {
                if let Some(Tok::Ident(name)) = toks.get(j + 1) {
                    let mut path = here();
                    path.push(name.clone());
                    scan.test_mods.push(path);
                }
            }
            i = item_end(toks, j);
            continue;
        }
        match t {
            Tok::Ident(word) if word == "mod" => {
                if let (Some(Tok::Ident(name)), true) =
                    (toks.get(i + 1), is_punct(toks.get(i + 2), '{'))
                {
                    inline.push((name.clone(), depth));
                }
            }
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(word)
                if word == ACCESSOR.0
                    && toks.get(i + 1) == Some(&Tok::Sep)
                    && is_ident(toks.get(i + 2), ACCESSOR.1) =>
            {
                scan.reads_config = true;
            }
            Tok::Ident(word) if word == "crate" && toks.get(i + 1) == Some(&Tok::Sep) => {
                scan.roots.extend(first_segments(toks, i + 2)?);
            }
            Tok::Ident(word)
                if word == "super"
                    && toks.get(i + 1) == Some(&Tok::Sep)
                    && i.checked_sub(1).map(|p| &toks[p]) != Some(&Tok::Sep) =>
            {
                let mut j = i;
                let mut up = 0;
                while is_ident(toks.get(j), "super") && toks.get(j + 1) == Some(&Tok::Sep) {
                    up += 1;
                    j += 2;
                }
                let path = here();
                let Some(kept) = path.len().checked_sub(up) else {
                    return Err(format!("`super::` above the crate root in {path:?}"));
                };
                if kept > 0 {
                    scan.roots.push(path[0].clone());
                } else {
                    scan.roots.extend(first_segments(toks, j)?);
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(scan)
}

/// The names `lib.rs` re-exports, each with the module it comes from (`pub use config::X`).
fn reexports(toks: &[Tok]) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for (i, t) in toks.iter().enumerate() {
        if !is_ident(Some(t), "use") {
            continue;
        }
        let end = item_end(toks, i);
        let mut words = toks[i + 1..end].iter().filter_map(|t| match t {
            Tok::Ident(w) if !matches!(w.as_str(), "crate" | "self" | "as") => Some(w.clone()),
            _ => None,
        });
        if let Some(module) = words.next() {
            for name in words {
                names.insert(name, module.clone());
            }
        }
    }
    names
}

/// A file's module path below the crate root: `step/mod.rs` -> `step`, `plan/image/tests.rs`
/// -> `plan::image::tests`, `lib.rs` -> the root.
fn module_path(file: &str) -> Vec<String> {
    let mut path: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if path.last().is_some_and(|last| last == "mod") || path == ["lib"] {
        path.pop();
    }
    path
}

/// The top-level module graph of `files` (each a path relative to `src`, and its text).
fn graph(files: &[(String, String)]) -> Result<Graph, String> {
    let mut scans = Vec::new();
    let mut test_mods = BTreeSet::new();
    let mut aliases = BTreeMap::new();
    for (file, text) in files {
        let module = module_path(file);
        let toks = lex(text);
        if module.is_empty() {
            aliases = reexports(&toks);
        }
        let scanned = scan(&module, &toks).map_err(|e| format!("{file}: {e}"))?;
        test_mods.extend(scanned.test_mods.iter().cloned());
        scans.push((file, module, scanned));
    }
    let is_test = |m: &[String]| test_mods.iter().any(|t: &Vec<String>| m.starts_with(t));
    let tops: BTreeSet<&String> = scans
        .iter()
        .filter(|(_, m, _)| !m.is_empty() && !is_test(m))
        .map(|(_, m, _)| &m[0])
        .collect();
    let mut g = Graph::default();
    for (file, module, scanned) in &scans {
        if module.is_empty() || is_test(module) {
            continue;
        }
        let from = &module[0];
        let edges = g.edges.entry(from.clone()).or_default();
        for root in &scanned.roots {
            let to = match aliases.get(root) {
                _ if tops.contains(root) => root,
                Some(module) if tops.contains(module) => module,
                _ => continue,
            };
            if to != from {
                edges
                    .entry(to.clone())
                    .or_default()
                    .insert(file.to_string());
            }
        }
        if scanned.reads_config {
            g.reads
                .entry(from.clone())
                .or_default()
                .insert(file.to_string());
        }
    }
    Ok(g)
}

/// Every module `from` depends on, directly or not.
fn below(edges: &Edges, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(m) = todo.pop() {
        for to in edges.get(&m).into_iter().flat_map(BTreeMap::keys) {
            if seen.insert(to.clone()) {
                todo.push(to.clone());
            }
        }
    }
    seen
}

/// The import cycles: each set of modules that all depend on each other (a strongly connected
/// component of more than one module).
fn cycles(edges: &Edges) -> Vec<BTreeSet<String>> {
    let below: BTreeMap<&String, BTreeSet<String>> =
        edges.keys().map(|m| (m, below(edges, m))).collect();
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for (m, reached) in &below {
        if !reached.contains(*m) || found.iter().any(|c| c.contains(*m)) {
            continue;
        }
        found.push(
            reached
                .iter()
                .filter(|other| below.get(other).is_some_and(|r| r.contains(*m)))
                .cloned()
                .collect(),
        );
    }
    found
}

/// The shortest way round `cycle` from its first module, back to it.
fn round(edges: &Edges, cycle: &BTreeSet<String>) -> Vec<String> {
    let Some(start) = cycle.first() else {
        return Vec::new();
    };
    let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
    let mut todo = std::collections::VecDeque::from([start]);
    while let Some(m) = todo.pop_front() {
        for to in edges[m].keys().filter(|to| cycle.contains(*to)) {
            if to == start {
                let mut path = vec![start.clone(), m.clone()];
                let mut at = m;
                while let Some(&before) = came_from.get(at) {
                    path.push(before.clone());
                    at = before;
                }
                path.reverse();
                return path;
            }
            if !came_from.contains_key(to) {
                came_from.insert(to, m);
                todo.push_back(to);
            }
        }
    }
    Vec::new()
}

/// A cycle, for a failure message: its modules, one way round, then each edge between them
/// with the files that make it.
fn describe(edges: &Edges, cycle: &BTreeSet<String>) -> String {
    let mut text = format!(
        "import cycle among {} (one way round: {}):",
        cycle.iter().cloned().collect::<Vec<_>>().join(", "),
        round(edges, cycle).join(" -> ")
    );
    for from in cycle {
        for (to, files) in &edges[from] {
            if cycle.contains(to) {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                text.push_str(&format!("\n  {from} -> {to} ({})", files.join(", ")));
            }
        }
    }
    text
}

/// What breaks the configuration rule: a module not in `READERS` that reads it, and a module
/// that the holder depends on that reads it.
fn config_violations(g: &Graph) -> Vec<String> {
    let mut found = Vec::new();
    if !g.edges.contains_key(HOLDER) {
        found.push(format!("there is no module `{HOLDER}` (update HOLDER)"));
    }
    let (ty, f) = ACCESSOR;
    for (module, files) in &g.reads {
        if module != HOLDER && !READERS.contains(&module.as_str()) {
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            found.push(format!(
                "{module} calls {ty}::{f}() ({}), but only {READERS:?} may: take the value \
                 as a parameter, or list the module in READERS if it sits above `{HOLDER}`",
                files.join(", ")
            ));
        }
    }
    for module in below(&g.edges, HOLDER) {
        if let Some(files) = g.reads.get(&module) {
            let files: Vec<&str> = files.iter().map(String::as_str).collect();
            found.push(format!(
                "{HOLDER} depends on {module}, which calls {ty}::{f}() ({}): a module below \
                 the configuration cannot read it",
                files.join(", ")
            ));
        }
    }
    found
}

/// The library's source files, each as a path relative to `src` and its text.
fn sources(src: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(src).sort_by_file_name() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).unwrap();
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((name, std::fs::read_to_string(path).unwrap()));
        }
    }
    files
}

fn the_library() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    graph(&sources(&src)).unwrap()
}

#[test]
fn the_library_has_no_import_cycle() {
    let g = the_library();
    assert!(
        g.edges.len() > 20,
        "too few modules found: {:?}",
        g.edges.keys()
    );
    let found: Vec<String> = cycles(&g.edges)
        .iter()
        .map(|c| describe(&g.edges, c))
        .collect();
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn nothing_below_the_configuration_reads_it() {
    let g = the_library();
    let found = config_violations(&g);
    assert!(found.is_empty(), "{}", found.join("\n"));
    // The rule has something to hold: each reader reads it, and sits above it.
    for reader in READERS {
        assert!(g.reads.contains_key(*reader), "{reader} no longer reads it");
        assert!(below(&g.edges, reader).contains(HOLDER), "{reader}");
    }
}

fn files(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect()
}

fn made_up(edges: &[(&str, &str)]) -> Edges {
    let mut g = Edges::new();
    for (from, to) in edges {
        g.entry(from.to_string()).or_default();
        g.entry(to.to_string()).or_default();
        g.get_mut(*from)
            .unwrap()
            .entry(to.to_string())
            .or_default()
            .insert(format!("{from}.rs"));
    }
    g
}

#[test]
fn a_cycle_is_found_and_named() {
    let g = made_up(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("c", "e")]);
    let found = cycles(&g);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        describe(&g, &found[0]),
        "import cycle among a, b, c (one way round: a -> b -> c -> a):\n  \
         a -> b (a.rs)\n  b -> c (b.rs)\n  c -> a (c.rs)"
    );
    let g = made_up(&[("a", "b"), ("b", "a"), ("b", "c"), ("c", "a")]);
    assert_eq!(round(&g, &cycles(&g)[0]), ["a", "b", "a"]);
    assert!(cycles(&made_up(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
}

#[test]
fn every_way_of_naming_a_module_counts() {
    let g = graph(&files(&[
        (
            "lib.rs",
            "pub mod a; pub mod b; pub use b::{NAME, Other as Alias};",
        ),
        // A group, and an inline path.
        (
            "a.rs",
            "use crate::{c::X, self};\nfn f() { crate::d::g(); }",
        ),
        // `super::` from a submodule: its own module, then the root.
        ("b/mod.rs", "mod sub;"),
        ("b/sub.rs", "use super::Y;\nuse super::super::e::Z;"),
        // A name lib.rs re-exports.
        ("c.rs", "fn f() -> &str { crate::NAME }"),
        ("d.rs", "fn f() { let x = r#\"crate::a\"#; }"),
        ("e.rs", ""),
    ]))
    .unwrap();
    let deps = |m: &str| g.edges[m].keys().cloned().collect::<Vec<_>>();
    assert_eq!(deps("a"), ["c", "d"]);
    assert_eq!(deps("b"), ["e"]);
    assert_eq!(deps("c"), ["b"]);
    assert!(deps("d").is_empty());
}

#[test]
fn comments_literals_and_tests_do_not_count() {
    let g = graph(&files(&[
        ("lib.rs", "mod a; mod b; #[cfg(test)] mod layers;"),
        (
            "a.rs",
            r###"
            // crate::b
            /* crate::b /* nested */ crate::b */
            /// `crate::b::X`
            const S: &str = "crate::b \" crate::b";
            const R: &str = r#"crate::b "quoted" crate::b"#;
            const C: char = '"'; const Q: char = '\''; fn f<'a>(x: &'a str) {}
            #[cfg(test)]
            mod tests { use crate::b; use super::*; }
            #[cfg(test)]
            pub(crate) mod testing;
            #[cfg(test)]
            fn helper() { crate::b::f() }
            #[cfg(test)]
            use crate::b::Thing;
            "###,
        ),
        ("a/testing.rs", "use crate::b::X;"),
        ("a/tests/deeper.rs", "use crate::b::X;"),
        ("layers.rs", "use crate::b::X;"),
        ("b.rs", "use crate::a::Y;"),
    ]))
    .unwrap();
    assert!(g.edges["a"].is_empty(), "{:?}", g.edges["a"]);
    assert!(!g.edges.contains_key("layers"));
    assert!(cycles(&g.edges).is_empty());
}

#[test]
fn the_configuration_rule_fails_below_the_holder_and_outside_the_readers() {
    let mut g = Graph {
        edges: made_up(&[("config", "secret"), ("cmd", "config"), ("scan", "cmd")]),
        reads: BTreeMap::new(),
    };
    g.reads.insert("cmd".into(), ["cmd.rs".to_string()].into());
    assert!(config_violations(&g).is_empty());

    g.reads
        .insert("secret".into(), ["secret.rs".to_string()].into());
    g.reads
        .insert("scan".into(), ["scan.rs".to_string()].into());
    let found = config_violations(&g);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("scan calls Config::get() (scan.rs), but only"));
    assert!(found[1].starts_with("secret calls Config::get() (secret.rs), but only"));
    assert!(found[2].starts_with("config depends on secret, which calls Config::get()"));

    let found = config_violations(&Graph::default());
    assert_eq!(found, ["there is no module `config` (update HOLDER)"]);
}

#[test]
fn reading_the_configuration_is_found_in_the_source() {
    let g = graph(&files(&[
        ("lib.rs", ""),
        (
            "config.rs",
            "pub struct Config; impl Config { pub fn get() {} }",
        ),
        ("tools.rs", "fn f() { crate::config::Config::get(); }"),
        (
            "cmd.rs",
            "use crate::config::Config;\nfn f() { Config::get(); }",
        ),
        (
            "text.rs",
            "// Config::get()\n#[cfg(test)]\nmod t { fn f() { Config::get(); } }",
        ),
    ]))
    .unwrap();
    assert_eq!(g.reads.keys().collect::<Vec<_>>(), ["cmd", "tools"]);
}
