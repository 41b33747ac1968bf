//! SQL-ish text for property tests: the splitter's own (src/postgres/sql/tests/properties.rs)
//! and the catalogue's (tests/properties.rs, through `#[path]`) share this one file.

use proptest::prelude::*;

/// SQL-ish text: statements, quotes, dollar quotes, comments and control keywords, cut anywhere.
pub(crate) fn sql_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("SELECT 1".to_owned()),
        Just(";".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("$$".to_owned()),
        Just("$tag$".to_owned()),
        Just("$1".to_owned()),
        Just("--".to_owned()),
        Just("/*".to_owned()),
        Just("*/".to_owned()),
        Just("\n".to_owned()),
        Just(" ".to_owned()),
        Just("\u{b}".to_owned()),
        Just("\u{a0}".to_owned()),
        Just("COMMIT".to_owned()),
        Just("BEGIN".to_owned()),
        Just("-- schemagate:no-transaction\n".to_owned()),
        Just("-- schemagate:irreversible\n".to_owned()),
        "\\PC{0,6}",
    ];
    prop_oneof![
        prop::collection::vec(token, 0..24).prop_map(|t| t.concat()),
        any::<String>(),
    ]
}
