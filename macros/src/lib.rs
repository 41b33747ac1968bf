//! `embed_catalogue!("dir")`: the migration files of `dir` (relative to the crate's
//! `Cargo.toml`) embedded in the binary, as refinery's `embed_migrations!` does, with the
//! checks that need only names made at build time (diesel's layout, a directory per
//! migration, and each engine's variants, `V3__x.sqlite.sql`, paired apart, included): a file name that matches no style, an
//! up without its down, a down without its up and a version used twice are compile errors
//! naming the file. The SQL itself is read at startup by `schemagate::catalogue::from_static`,
//! with the same rules as a directory (DESIGN §3, §13).
//!
//! The naming rules are schemagate's own `catalogue/naming.rs`, compiled into this crate
//! by path, so the build-time check and the runtime check cannot disagree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use proc_macro::TokenStream;
use quote::quote;
use syn::{LitStr, parse_macro_input};

#[allow(dead_code, missing_docs)]
#[path = "../../src/catalogue/naming.rs"]
mod naming;

use naming::{Direction, Engine, parse_file_name, spelled_version, variant_file_name};

/// Embeds the migrations of a directory: expands to a
/// `Result<schemagate::catalogue::Catalogue, schemagate::catalogue::CatalogueError>`.
///
/// Cargo does not see files added to the directory; an application's `build.rs` with
/// `println!("cargo::rerun-if-changed=migrations");` makes it rebuild when one is.
#[proc_macro]
pub fn embed_catalogue(input: TokenStream) -> TokenStream {
    let dir = parse_macro_input!(input as LitStr);
    match expand(&dir) {
        Ok(tokens) => tokens.into(),
        Err(error) => error.to_compile_error().into(),
    }
}

/// The expansion, or the first problem as a compile error on the literal.
fn expand(literal: &LitStr) -> syn::Result<proc_macro2::TokenStream> {
    let fail = |message: String| syn::Error::new(literal.span(), message);
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|_| fail("CARGO_MANIFEST_DIR is not set: build with cargo".to_owned()))?;
    let shown = literal.value();
    let dir = Path::new(&root).join(&shown);
    let names = sql_files(&dir).map_err(|e| fail(format!("{shown}: cannot be read: {e}")))?;
    check_pairs(&shown, &names).map_err(fail)?;
    let files = names.iter().map(|name| {
        let path = dir.join(name).display().to_string();
        quote! { (#name, include_bytes!(#path)) }
    });
    let origin = format!("embedded {shown}/");
    // A `static` is data in the binary: the list is neither built on the stack at startup
    // nor compiled as code, which made a catalogue of 10,000 files take minutes to build.
    Ok(quote! {{
        static FILES: &[(&str, &[u8])] = &[#(#files),*];
        ::schemagate::catalogue::from_static(#origin, FILES)
    }})
}

/// The `*.sql` file names of `dir`, and `{subdirectory}/up.sql` and `down.sql` (diesel's
/// layout), sorted; hidden files are ignored, as at runtime.
fn sql_files(dir: &PathBuf) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if name.ends_with(".sql") {
            names.push(name);
        } else if entry.file_type()?.is_dir() {
            for file in ["up.sql", "down.sql"] {
                if entry.path().join(file).exists() {
                    names.push(format!("{name}/{file}"));
                }
            }
        }
    }
    names.sort();
    Ok(names)
}

/// Every name parses, every up has its down and every down its up, no version twice.
fn check_pairs(dir: &str, names: &[String]) -> Result<(), String> {
    // Each engine's variants (`V3__x.sqlite.sql`) pair apart from the files of every engine.
    let mut ups: BTreeMap<(i64, Option<Engine>), &str> = BTreeMap::new();
    let mut downs: BTreeSet<&str> = BTreeSet::new();
    let mut parsed = Vec::new();
    for name in names {
        let file = parse_file_name(name).map_err(|e| {
            format!(
                "{dir}/{name}: {e:?}: use V{{n}}__{{name}}.sql, {{n}}_{{name}}.sql or {{n}}_{{name}}.up.sql (name: letters, digits, _; version 1..=i64::MAX), each with a .down.sql, or diesel's {{timestamp}}_{{name}}/up.sql + down.sql"
            )
        })?;
        match file.direction {
            Direction::Up => {
                if let Some(other) = ups.insert((file.version, file.engine), name) {
                    return Err(format!(
                        "{dir}: version {} is used by more than one file: {other}, {name}",
                        file.version
                    ));
                }
            }
            Direction::Down => {
                downs.insert(name);
            }
        }
        parsed.push((name.as_str(), file));
    }
    let mut paired = BTreeSet::new();
    for (name, file) in parsed.iter().filter(|(_, f)| f.direction == Direction::Up) {
        let down = file.style.down_file_name(spelled_version(name), &file.name);
        let down = variant_file_name(&down, file.engine);
        if !downs.contains(down.as_str()) {
            return Err(format!(
                "{dir}/{name}: no down file; add {down} (or put `-- schemagate:irreversible` in it)"
            ));
        }
        paired.insert(down);
    }
    match downs.iter().find(|down| !paired.contains(**down)) {
        Some(orphan) => Err(format!("{dir}/{orphan}: down file without an up file")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(names: &[&str]) -> Result<(), String> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        check_pairs("migrations", &names)
    }

    #[test]
    fn paired_files_of_each_style_pass() {
        check(&["V1__a.sql", "V1__a.down.sql", "V2__b.sql", "V2__b.down.sql"]).unwrap();
        check(&["0001_a.sql", "0001_a.down.sql"]).unwrap();
        check(&["20240120120000_a.up.sql", "20240120120000_a.down.sql"]).unwrap();
        check(&[
            "2019-02-26-002946_a/down.sql",
            "2019-02-26-002946_a/up.sql",
            "2024-01-20-120000-0000_b/down.sql",
            "2024-01-20-120000-0000_b/up.sql",
        ])
        .unwrap();
        check(&[
            "V1__a.sql",
            "V1__a.down.sql",
            "V1__a.sqlite.sql",
            "V1__a.sqlite.down.sql",
            "V2__b.postgres.sql",
            "V2__b.postgres.down.sql",
            "V2__b.mysql.sql",
            "V2__b.mysql.down.sql",
        ])
        .unwrap();
        let error = check(&["V1__a.sql", "V1__a.down.sql", "V1__a.sqlite.sql"]).unwrap_err();
        assert_eq!(
            error,
            "migrations/V1__a.sqlite.sql: no down file; add V1__a.sqlite.down.sql (or put `-- schemagate:irreversible` in it)"
        );
        let error = check(&["2019-02-26-002946_a/up.sql"]).unwrap_err();
        assert!(
            error.contains("add 2019-02-26-002946_a/down.sql"),
            "{error}"
        );
    }

    #[test]
    fn a_bad_name_is_refused_naming_the_file() {
        let error = check(&["create users.sql"]).unwrap_err();
        assert!(
            error.starts_with("migrations/create users.sql: "),
            "{error}"
        );
    }

    #[test]
    fn an_up_without_its_down_is_refused_naming_both() {
        let error = check(&["V1__a.sql", "V2__b.sql", "V2__b.down.sql"]).unwrap_err();
        assert_eq!(
            error,
            "migrations/V1__a.sql: no down file; add V1__a.down.sql (or put `-- schemagate:irreversible` in it)"
        );
        let error = check(&["0007_a.sql"]).unwrap_err();
        assert!(error.contains("add 0007_a.down.sql"), "{error}");
    }

    #[test]
    fn a_down_without_its_up_and_a_version_used_twice_are_refused() {
        let error = check(&["V1__a.down.sql"]).unwrap_err();
        assert_eq!(
            error,
            "migrations/V1__a.down.sql: down file without an up file"
        );
        let error =
            check(&["V1__a.sql", "V1__a.down.sql", "V1__b.sql", "V1__b.down.sql"]).unwrap_err();
        assert!(
            error.contains("version 1 is used by more than one file"),
            "{error}"
        );
    }
}
