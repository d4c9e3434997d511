//! The modules of each crate of the workspace (the library, `emulator/`, `cli/`) form layers:
//! no module uses one that uses it back, directly or through others. ARCHITECTURE.md draws the
//! layers; this test keeps them true.
//!
//! It parses every module of a crate (from its root file, following `mod` items, leaving
//! out `#[cfg(test)]` ones) with `syn`, resolves each `crate::`, `super::` and `self::` path,
//! and each path through a module's own children, to the module that defines the item
//! (following `use` re-exports), and checks the uses between siblings: for `a::x` using
//! `b::y`, the edge counts between `a` and `b`, the children of their common parent.
//! Uses between a module and its own ancestors or descendants are containment, not layering,
//! and are not counted. Paths inside macro calls are not seen (syn keeps them as tokens).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// A module path below the crate root, `[]` for the root itself.
type ModPath = Vec<String>;

#[derive(Default)]
struct Module {
    file: PathBuf,
    children: BTreeSet<String>,
    /// Names brought in by `use`: name -> the absolute path it stands for.
    imports: BTreeMap<String, ModPath>,
    /// Every path this module mentions, made absolute (unresolved yet), with its line.
    uses: Vec<(ModPath, usize)>,
}

fn is_cfg_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && {
            let tokens = a.meta.require_list().map(|l| l.tokens.to_string());
            tokens.is_ok_and(|t| t.trim() == "test")
        }
    })
}

struct Crate {
    modules: BTreeMap<ModPath, Module>,
}

impl Crate {
    /// Loads the crate whose root file is `root` (`src/lib.rs`, `src/main.rs`).
    fn load(root: &Path) -> Crate {
        let mut krate = Crate {
            modules: BTreeMap::new(),
        };
        let dir = root.parent().expect("the root file's folder");
        krate.load_file(Vec::new(), root, dir);
        krate
    }

    /// Reads the module `path` from `file`; its `mod x;` children live in `dir`.
    fn load_file(&mut self, path: ModPath, file: &Path, dir: &Path) {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let parsed = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("cannot parse {}: {e}", file.display()));
        self.load_items(path, file, dir, &parsed.items);
    }

    fn load_items(&mut self, path: ModPath, file: &Path, dir: &Path, items: &[syn::Item]) {
        self.modules.entry(path.clone()).or_default().file = file.to_path_buf();
        for item in items {
            let syn::Item::Mod(m) = item else { continue };
            let name = m.ident.to_string();
            if is_cfg_test(&m.attrs) {
                continue;
            }
            let mut child = path.clone();
            child.push(name.clone());
            self.modules
                .get_mut(&path)
                .expect("module just added")
                .children
                .insert(name.clone());
            match &m.content {
                Some((_, inner)) => self.load_items(child, file, &dir.join(&name), inner),
                None => {
                    let flat = dir.join(format!("{name}.rs"));
                    let (file, sub) = if flat.exists() {
                        (flat, dir.join(&name))
                    } else {
                        (dir.join(&name).join("mod.rs"), dir.join(&name))
                    };
                    self.load_file(child, &file, &sub);
                }
            }
        }
        let mut collector = Collector {
            krate: self,
            module: path.clone(),
            file_text: std::fs::read_to_string(file).unwrap_or_default(),
        };
        for item in items {
            if !matches!(item, syn::Item::Mod(_)) {
                collector.visit_item(item);
            }
        }
    }

    /// The module that defines what `path` (absolute) names, following re-exports.
    fn resolve(&self, path: &[String], depth: usize) -> ModPath {
        let mut at: ModPath = Vec::new();
        for (i, segment) in path.iter().enumerate() {
            let module = &self.modules[&at];
            if module.children.contains(segment) {
                at.push(segment.clone());
            } else if let Some(target) = module.imports.get(segment).filter(|_| depth < 8) {
                let mut rest = target.clone();
                rest.extend(path[i + 1..].iter().cloned());
                return self.resolve(&rest, depth + 1);
            } else {
                break;
            }
        }
        at
    }
}

/// Gathers the paths one module mentions.
struct Collector<'a> {
    krate: &'a mut Crate,
    module: ModPath,
    file_text: String,
}

impl Collector<'_> {
    /// Makes a path absolute: `crate::`, `super::`, `self::`, or a child module's name.
    fn absolute(&self, segments: &[String]) -> Option<ModPath> {
        let first = segments.first()?;
        let module = &self.krate.modules[&self.module];
        let (mut base, rest) = match first.as_str() {
            "crate" => (Vec::new(), &segments[1..]),
            "self" => (self.module.clone(), &segments[1..]),
            "super" => {
                let mut base = self.module.clone();
                let mut rest = segments;
                while rest.first().is_some_and(|s| s == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
                (base, rest)
            }
            name if module.children.contains(name) => (self.module.clone(), segments),
            name => match module.imports.get(name) {
                Some(target) => (target.clone(), &segments[1..]),
                None => return None,
            },
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn record(&mut self, segments: Vec<String>, line: usize) {
        if let Some(path) = self.absolute(&segments) {
            let module = self.krate.modules.get_mut(&self.module).expect("module");
            module.uses.push((path, line));
        }
    }

    /// Walks a `use` tree, recording every path it names and the names it brings in.
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree, line: usize) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree, line);
                prefix.pop();
            }
            syn::UseTree::Name(n) => self.import(prefix, &n.ident, &n.ident, line),
            syn::UseTree::Rename(r) => self.import(prefix, &r.ident, &r.rename, line),
            syn::UseTree::Glob(_) => self.record(prefix.clone(), line),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree, line);
                }
            }
        }
    }

    fn import(&mut self, prefix: &[String], name: &syn::Ident, alias: &syn::Ident, line: usize) {
        let mut full = prefix.to_vec();
        if name != "self" {
            full.push(name.to_string());
        }
        let alias = if alias == "self" {
            prefix.last().cloned().unwrap_or_default()
        } else {
            alias.to_string()
        };
        if let Some(absolute) = self.absolute(&full) {
            let module = self.krate.modules.get_mut(&self.module).expect("module");
            module.imports.insert(alias, absolute.clone());
            module.uses.push((absolute, line));
        }
    }
}

impl<'ast> Visit<'ast> for Collector<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let line = find_line(&self.file_text, &quote_use(&item.tree));
        self.use_tree(&mut Vec::new(), &item.tree, line);
    }

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {
        // Inline modules are loaded as modules of their own (test modules are left out).
    }

    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if !is_cfg_test(&item.attrs) {
            syn::visit::visit_item_fn(self, item);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            // syn's spans carry no line numbers outside a proc macro: find it in the text.
            let line = find_line(&self.file_text, &segments.join("::"));
            self.record(segments, line);
        }
        syn::visit::visit_path(self, path);
    }
}

/// The first segments of a `use` tree as written (`crate::a::b`), to find its line.
fn quote_use(tree: &syn::UseTree) -> String {
    let mut parts = Vec::new();
    let mut tree = tree;
    while let syn::UseTree::Path(p) = tree {
        parts.push(p.ident.to_string());
        tree = &p.tree;
    }
    if let syn::UseTree::Name(n) = tree {
        parts.push(n.ident.to_string());
    }
    parts.join("::")
}

/// The 1-based line of the first occurrence of `needle` (0 when not found as written).
fn find_line(text: &str, needle: &str) -> usize {
    text.find(needle)
        .map_or(0, |at| text[..at].matches('\n').count() + 1)
}

/// A file as the report shows it: relative to the package.
fn shown(file: &Path) -> String {
    let file = file
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(file);
    file.display().to_string()
}

fn name(path: &[String]) -> String {
    if path.is_empty() {
        "crate".into()
    } else {
        path.join("::")
    }
}

/// The uses between siblings: parent -> (from child, to child) -> one example of the use.
fn sibling_edges(krate: &Crate) -> BTreeMap<ModPath, BTreeMap<(String, String), String>> {
    let mut edges: BTreeMap<ModPath, BTreeMap<(String, String), String>> = BTreeMap::new();
    for (from, module) in &krate.modules {
        for (path, line) in &module.uses {
            let to = krate.resolve(path, 0);
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue; // itself, an ancestor or a descendant
            }
            let example = format!(
                "{} uses {} ({}:{line})",
                name(from),
                name(path),
                shown(&module.file)
            );
            edges
                .entry(from[..common].to_vec())
                .or_default()
                .entry((from[common].clone(), to[common].clone()))
                .or_insert(example);
        }
    }
    edges
}

/// The cycles among one parent's children: each strongly connected set of two or more.
fn cycles(edges: &BTreeMap<(String, String), String>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    let reach = |start: &String| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.clone()];
        while let Some(n) = todo.pop() {
            for (a, b) in edges.keys() {
                if *a == n && seen.insert(b.clone()) {
                    todo.push(b.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        if !reachable[n].contains(*n) || found.iter().any(|c| c.contains(n)) {
            continue;
        }
        let set: Vec<String> = nodes
            .iter()
            .filter(|m| reachable[n].contains(**m) && reachable[*m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        found.push(set);
    }
    found
}

/// The root file of each crate of the workspace.
fn crate_roots() -> [PathBuf; 3] {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        root.join("src/lib.rs"),
        root.join("emulator/src/lib.rs"),
        root.join("cli/src/main.rs"),
    ]
}

#[test]
fn no_module_uses_one_that_uses_it_back() {
    let mut report = Vec::new();
    for root in crate_roots() {
        report.extend(cycle_report(&Crate::load(&root)));
    }
    assert!(
        report.is_empty(),
        "import cycles (see ARCHITECTURE.md for the layers):\n{}",
        report.join("\n")
    );
}

/// One entry per cycle among the children of one module, with an example use for each edge.
fn cycle_report(krate: &Crate) -> Vec<String> {
    let mut report = Vec::new();
    for (parent, edges) in sibling_edges(krate) {
        for cycle in cycles(&edges) {
            let mut lines = vec![format!(
                "modules of {} that use each other: {}",
                name(&parent),
                cycle.join(", ")
            )];
            for ((a, b), example) in &edges {
                if cycle.contains(a) && cycle.contains(b) {
                    lines.push(format!("    {a} -> {b}: {example}"));
                }
            }
            report.push(lines.join("\n"));
        }
    }
    report
}

/// The checker itself: a cycle written on purpose is found, through a re-export and
/// `super::`, and a parent using its child (and back) is not one.
#[test]
fn the_checker_finds_a_cycle_and_ignores_containment() {
    let dir = std::env::temp_dir().join(format!("flowai-layering-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("b")).expect("temp dir");
    let files = [
        (
            "lib.rs",
            "mod a;\nmod b;\npub use b::Thing;\nuse a::helper as _h;\n",
        ),
        ("a.rs", "use crate::Thing;\npub fn helper() {}\n"),
        (
            "b/mod.rs",
            "mod inner;\npub use inner::Thing;\nfn f() { inner::g() }\n",
        ),
        (
            "b/inner.rs",
            "pub struct Thing;\npub fn g() { super::super::a::helper() }\nfn h() { super::f() }\n",
        ),
    ];
    for (file, text) in files {
        std::fs::write(dir.join(file), text).expect("write");
    }
    let krate = Crate::load(&dir.join("lib.rs"));
    let edges = sibling_edges(&krate);
    let root = &edges[&Vec::new()];
    assert!(root.contains_key(&("a".into(), "b".into())), "{root:?}");
    assert!(root.contains_key(&("b".into(), "a".into())), "{root:?}");
    assert_eq!(cycles(root), vec![vec!["a".to_string(), "b".to_string()]]);
    assert!(
        !edges.contains_key(&vec!["b".to_string()]),
        "b and b::inner use each other, which is containment: {edges:?}"
    );
    std::fs::remove_dir_all(&dir).expect("clean up");
}
