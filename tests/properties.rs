//! Bad input (issue 7): whatever a user or an attacker puts in a file name, a migration or
//! compat.toml, the parsers return a value or a clear error; they never panic. (The
//! statement splitter's properties are its own tests: src/postgres/sql/tests/properties.rs.)

use proptest::prelude::*;
use schemagate::Compat;
use schemagate::catalogue::{self, Direction, SourceFile, parse_file_name};
use std::sync::LazyLock;

#[path = "../src/postgres/sql/tests/sql_text.rs"]
mod sql_text;
use sql_text::sql_text;

/// The rule DESIGN states for a migration's name, as an independent oracle.
static WORD: LazyLock<regex::Regex> = LazyLock::new(|| regex::Regex::new(r"^\w+$").unwrap());

/// File names near the accepted styles: prefixes, versions, separators and suffixes mixed,
/// plus arbitrary text.
fn file_name() -> impl Strategy<Value = String> {
    let version = prop_oneof![
        (0u64..20).prop_map(|v| v.to_string()),
        any::<u64>().prop_map(|v| v.to_string()),
        Just("2147483647".to_owned()),
        Just("2147483648".to_owned()),
        Just("0000".to_owned()),
        "[0-9]{1,30}",
    ];
    let prefix = prop_oneof![Just(""), Just("V"), Just("v"), Just("U")];
    let separator = prop_oneof![Just("_"), Just("__"), Just("-"), Just("")];
    let stem = prop_oneof![
        "[a-z_]{0,8}",
        "\\PC{0,8}",
        Just("é".to_owned()),
        Just("a b".to_owned())
    ];
    let suffix = prop_oneof![
        Just(".sql"),
        Just(".up.sql"),
        Just(".down.sql"),
        Just(".SQL"),
        Just(".sql.bak"),
        Just(""),
    ];
    prop_oneof![
        (prefix, version, separator, stem, suffix)
            .prop_map(|(p, v, s, n, x)| format!("{p}{v}{s}{n}{x}")),
        any::<String>(),
    ]
}

/// TOML-ish text: the real tables and keys with arbitrary values, unknown keys, garbage lines.
fn compat_text() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        (-3i64..12).prop_map(|v| v.to_string()),
        "[0-9v.]{0,8}".prop_map(|v| format!("\"{v}\"")),
        Just("\"1.4.0\"".to_owned()),
        Just("\"v1.3.0-rc.1+build\"".to_owned()),
        any::<String>().prop_map(|v| format!("{v:?}")),
        Just("true".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{ a = 1 }".to_owned()),
        Just("1e400".to_owned()),
        Just("".to_owned()),
    ];
    let key = prop_oneof![
        Just("version"),
        Just("min"),
        Just("max"),
        Just("target"),
        Just("unknown"),
        Just("app.version"),
        Just("\"min\""),
    ];
    let line = prop_oneof![
        Just("[app]".to_owned()),
        Just("[schema]".to_owned()),
        Just("[[releases]]".to_owned()),
        Just("[other]".to_owned()),
        Just("[app".to_owned()),
        (key, value).prop_map(|(k, v)| format!("{k} = {v}")),
        any::<String>(),
    ];
    prop::collection::vec(line, 0..14).prop_map(|lines| lines.join("\n"))
}

/// Files for `from_files`: names near the styles, contents SQL-ish or arbitrary bytes.
fn file_set() -> impl Strategy<Value = Vec<SourceFile>> {
    let bytes = prop_oneof![
        sql_text().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    let name = prop_oneof![
        file_name(),
        (
            1i32..4,
            prop_oneof![Just("a"), Just("b")],
            prop_oneof![
                Just("V{v}__{n}.sql"),
                Just("V{v}__{n}.down.sql"),
                Just("{v}_{n}.sql"),
                Just("{v}_{n}.up.sql"),
                Just("{v}_{n}.down.sql"),
            ]
        )
            .prop_map(|(v, n, pattern)| pattern.replace("{v}", &v.to_string()).replace("{n}", n)),
    ];
    prop::collection::vec(
        (name, bytes).prop_map(|(name, bytes)| SourceFile { name, bytes }),
        0..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_file_name_parses_to_a_positive_version_or_a_clear_error(name in file_name()) {
        if let Ok(parsed) = parse_file_name(&name) {
            prop_assert!(parsed.version > 0);
            prop_assert!(name.ends_with(".sql"));
            prop_assert!(!parsed.name.is_empty());
            // A name is made of word characters as `\w` defines them (marks and connector
            // punctuation included), checked against the regex crate rather than the parser.
            prop_assert!(WORD.is_match(&parsed.name), "{:?} is not \\w+", parsed.name);
            prop_assert_eq!(parsed.direction == Direction::Down, name.ends_with(".down.sql"));
        }
    }

    #[test]
    fn a_version_is_accepted_exactly_when_it_fits_1_to_i64_max(version in any::<u64>(), zeros in 0usize..3) {
        let name = format!("V{}{version}__x.sql", "0".repeat(zeros));
        let fits = (1..=i64::MAX.unsigned_abs()).contains(&version);
        match parse_file_name(&name) {
            Ok(parsed) => prop_assert!(fits && parsed.version.unsigned_abs() == version),
            Err(_) => prop_assert!(!fits),
        }
    }

    #[test]
    fn compat_toml_parses_to_a_valid_window_or_an_error_naming_the_file(text in compat_text()) {
        check_compat(&text)?;
    }

    #[test]
    fn arbitrary_text_as_compat_toml_never_panics(text in any::<String>()) {
        check_compat(&text)?;
    }

    #[test]
    fn any_set_of_files_gives_a_catalogue_or_problems_naming_them(files in file_set()) {
        let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        match catalogue::from_files("m/", files) {
            Ok(catalogue) => {
                let versions: Vec<i64> = catalogue.migrations().iter().map(|m| m.version).collect();
                prop_assert!(versions.iter().all(|v| *v > 0));
                prop_assert!(versions.windows(2).all(|w| w[0] < w[1]), "sorted and unique: {:?}", versions);
                for migration in catalogue.migrations() {
                    prop_assert!(!migration.up.sql.contains('\0'));
                }
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.contains("m/"), "{}", message);
                match error {
                    catalogue::CatalogueError::Invalid { problems, .. } => prop_assert!(!problems.is_empty()),
                    other => prop_assert!(false, "unexpected error {:?} for {:?}", other, names),
                }
            }
        }
    }

}

fn check_compat(text: &str) -> Result<(), TestCaseError> {
    match Compat::parse("compat.toml", text) {
        Ok(compat) => {
            let w = compat.window;
            prop_assert!(0 <= w.min && w.min <= w.target && w.target <= w.max);
            for release in &compat.releases {
                prop_assert!(release.window.min <= release.window.max);
            }
        }
        Err(error) => {
            let message = error.to_string();
            prop_assert!(message.starts_with("compat.toml"), "{}", message);
            prop_assert!(message.len() > "compat.toml: ".len(), "{}", message);
        }
    }
    Ok(())
}
