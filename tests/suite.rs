//! The suite checks itself. Cargo.toml says `autotests = false` and builds one test binary
//! from `tests/main.rs`, so a file under `tests/` that no module declares is never compiled
//! and its tests never run, without a word.

use std::path::{Path, PathBuf};

#[test]
fn every_file_under_tests_is_declared_as_a_module_and_so_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let undeclared: Vec<String> = rust_files(&root)
        .into_iter()
        .filter(|file| *file != root.join("main.rs"))
        .filter(|file| {
            let (declaring, name) = declared_in(&root, file);
            let text = std::fs::read_to_string(&declaring).unwrap_or_else(|e| {
                panic!("{} (which would declare {name}): {e}", declaring.display())
            });
            !text.lines().any(|line| declares(line, &name))
        })
        .map(|file| file.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        undeclared.is_empty(),
        "never compiled, so never run: {undeclared:?}; declare each with `mod NAME;` in its \
         parent (tests/main.rs for tests/NAME.rs, tests/DIR.rs or tests/DIR/mod.rs for tests/DIR/NAME.rs)"
    );
}

/// Every `.rs` file under `dir`, at any depth.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
    found
}

/// The file that must declare `file` as a module, and the module's name: the parent
/// module's file (`main.rs` at the root, `DIR.rs` or `DIR/mod.rs` below it).
fn declared_in(root: &Path, file: &Path) -> (PathBuf, String) {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let (dir, name) = if stem == "mod" {
        let dir = file.parent().unwrap();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        (dir.parent().unwrap(), name)
    } else {
        (file.parent().unwrap(), stem)
    };
    let declaring = if dir == root {
        root.join("main.rs")
    } else if dir.with_extension("rs").exists() {
        dir.with_extension("rs")
    } else {
        dir.join("mod.rs")
    };
    (declaring, name)
}

/// Whether `line` is `mod name;`, with any visibility.
fn declares(line: &str, name: &str) -> bool {
    let line = line.trim_start();
    let line = match line.strip_prefix("pub") {
        Some(rest) if rest.starts_with('(') => rest.split_once(')').map_or(rest, |(_, r)| r),
        Some(rest) => rest,
        None => line,
    };
    line.trim_start()
        .strip_prefix("mod ")
        .and_then(|rest| rest.trim_start().strip_prefix(name))
        .is_some_and(|rest| rest.trim_start() == ";")
}
