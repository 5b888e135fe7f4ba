//! The layers hold: no module imports one above it (so no two modules import each other), every
//! module has its place in the order, opens with its two-line doc comment, and the README's
//! architecture table lists the modules in the same order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The modules of `src/`, bottom first. A module may import only modules before it.
const LAYERS: [&str; 21] = [
    "geom", "ids", "schedule", "scene", "space", "nav", "command", "traffic", "twin", "crowd", "metrics", "measures",
    "draw", "app", "report", "runner", "batch", "bench", "import", "viewer", "cli",
];

fn src() -> PathBuf {
    Path::new(&unitwin_manifest_dir()).join("src")
}

/// Every `.rs` file under `src/` with the top-level module it belongs to.
fn files() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![src()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(src()).unwrap();
                let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
                let module = first.trim_end_matches(".rs").to_string();
                if module != "lib" && module != "main" {
                    out.push((module, path));
                }
            }
        }
    }
    out.sort();
    out
}

/// The top-level modules a file names through `crate::` (and `$crate::` in macros), outside comments.
fn imports(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            found.push(name);
            rest = after;
        }
    }
    found
}

#[test]
fn no_module_imports_a_module_above_it() {
    let rank: BTreeMap<&str, usize> = LAYERS.iter().enumerate().map(|(i, m)| (*m, i)).collect();
    let mut violations = Vec::new();
    for (module, path) in files() {
        let Some(&own) = rank.get(module.as_str()) else {
            violations.push(format!("{}: module `{module}` has no place in the layer order", path.display()));
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for name in imports(&text) {
            let is_module = src().join(format!("{name}.rs")).exists() || src().join(&name).join("mod.rs").exists();
            if !is_module {
                continue; // a macro or item at the crate root
            }
            match rank.get(name.as_str()) {
                Some(&other) if other <= own => {}
                Some(_) => {
                    violations.push(format!("{}: `{module}` imports `{name}`, a layer above it", path.display()))
                }
                None => violations
                    .push(format!("{}: imports `{name}`, which has no place in the layer order", path.display())),
            }
        }
    }
    assert!(violations.is_empty(), "layer violations:\n{}", violations.join("\n"));
}

#[test]
fn every_layer_exists_and_lib_declares_it() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).unwrap();
    for module in LAYERS {
        assert!(
            src().join(format!("{module}.rs")).exists() || src().join(module).join("mod.rs").exists(),
            "layer `{module}` has no source"
        );
        assert!(lib.contains(&format!("pub mod {module};")), "lib.rs does not declare `{module}`");
    }
}

#[test]
fn every_module_opens_with_a_two_line_doc_comment() {
    let mut missing = Vec::new();
    for (_, path) in files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().take(2).collect();
        if lines.len() < 2 || !lines.iter().all(|l| l.starts_with("//!")) {
            missing.push(path.display().to_string());
        }
    }
    assert!(missing.is_empty(), "modules without a two-line `//!` opening:\n{}", missing.join("\n"));
}

#[test]
fn the_readme_architecture_table_follows_the_layer_order() {
    let readme = std::fs::read_to_string(Path::new(&unitwin_manifest_dir()).join("README.md")).unwrap();
    let section = readme.split("### Layers").nth(1).expect("README has a '### Layers' section");
    let section = section.split("\n#").next().unwrap();
    let listed: Vec<String> = section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .map(|l| l.split('`').next().unwrap().trim_end_matches('/').trim_end_matches(".rs").to_string())
        .collect();
    let expected: Vec<String> = LAYERS.iter().map(|s| s.to_string()).collect();
    assert_eq!(listed, expected, "README's layer table must list the modules bottom first, as the code orders them");
}

/// The package root, read when the test runs: a test binary may be reused from a checkout at
/// another path that shares the target directory, so the compile-time `env!` could name that one.
#[allow(dead_code)]
fn unitwin_manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").expect("cargo test sets CARGO_MANIFEST_DIR")
}
