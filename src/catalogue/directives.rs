//! Markers in the leading comment block of a migration file.
//!
//! A file opts out of the transaction with our directive or with the one of the tool it was
//! imported from, so migrations written for sqlx, goose or morph run unchanged (DESIGN §3).

/// Directives that run a file outside a transaction: ours, sqlx's, goose's and morph's.
const NO_TRANSACTION: [&str; 4] = [
    "-- schemagate:no-transaction",
    "-- no-transaction",
    "-- +goose NO TRANSACTION",
    "-- morph:nontransactional",
];

/// The marker of a down file whose migration cannot be undone.
const IRREVERSIBLE: &str = "-- schemagate:irreversible";

/// The lines of the comment block that opens the file (blank lines allowed).
fn leading_comments(sql: &str) -> impl Iterator<Item = &str> {
    sql.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .take_while(|line| line.is_empty() || line.starts_with("--"))
}

/// Whether the file asks to run outside a transaction.
pub fn wants_no_transaction(sql: &str) -> bool {
    leading_comments(sql).any(|line| NO_TRANSACTION.iter().any(|d| line.eq_ignore_ascii_case(d)))
}

/// Whether a down file declares its migration irreversible.
pub fn is_irreversible(sql: &str) -> bool {
    leading_comments(sql).any(|line| line.eq_ignore_ascii_case(IRREVERSIBLE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tools_no_transaction_directive_is_honoured() {
        for directive in NO_TRANSACTION {
            assert!(wants_no_transaction(&format!(
                "{directive}\nCREATE INDEX CONCURRENTLY i ON t (a);"
            )));
        }
        assert!(wants_no_transaction(
            "-- adds an index\n\n-- schemagate:no-transaction\nSELECT 1;"
        ));
    }

    #[test]
    fn a_directive_after_the_first_statement_is_ignored() {
        assert!(!wants_no_transaction(
            "SELECT 1;\n-- schemagate:no-transaction\n"
        ));
        assert!(!wants_no_transaction("CREATE TABLE t (a int);"));
    }

    #[test]
    fn the_irreversible_marker_is_found_in_the_leading_comments() {
        assert!(is_irreversible(
            "-- schemagate:irreversible\n-- data was dropped by the up\n"
        ));
        assert!(!is_irreversible(
            "DROP TABLE t;\n-- schemagate:irreversible"
        ));
    }
}
