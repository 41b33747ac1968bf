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

/// The marker of a file whose `${NAME}` placeholders are replaced (DESIGN §21).
const PLACEHOLDERS: &str = "-- schemagate:placeholders";

/// The lines of the comment block that opens the file (blank lines allowed).
fn leading_comments(sql: &str) -> impl Iterator<Item = &str> {
    sql.trim_start_matches('\u{feff}')
        .lines()
        .map(str::trim)
        .take_while(|line| line.is_empty() || line.starts_with("--"))
}

/// Whether the file asks to run outside a transaction.
pub(crate) fn wants_no_transaction(sql: &str) -> bool {
    leading_comments(sql).any(|line| NO_TRANSACTION.iter().any(|d| line.eq_ignore_ascii_case(d)))
}

/// The per-file limits a migration may set in its leading comments:
/// `-- schemagate:lock-timeout 30s` and `-- schemagate:statement-timeout 10m`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeouts {
    /// How long a statement may wait for a lock before the step is retried.
    pub lock: Option<std::time::Duration>,
    /// How long a statement may run.
    pub statement: Option<std::time::Duration>,
}

/// Reads the timeout directives; a value that is not a duration is an error naming it.
pub(crate) fn timeouts(sql: &str) -> Result<Timeouts, String> {
    let mut timeouts = Timeouts::default();
    for line in leading_comments(sql) {
        let Some(rest) = line.strip_prefix("-- schemagate:") else {
            continue;
        };
        let (name, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let slot = match name {
            "lock-timeout" => &mut timeouts.lock,
            "statement-timeout" => &mut timeouts.statement,
            _ => continue,
        };
        let duration = crate::duration::parse(value)
            .map_err(|e| format!("`-- schemagate:{name} {}`: {e}", value.trim()))?;
        *slot = Some(duration);
    }
    Ok(timeouts)
}

/// Whether the file asks for its `${NAME}` placeholders to be replaced.
pub(crate) fn wants_placeholders(sql: &str) -> bool {
    leading_comments(sql).any(|line| line.eq_ignore_ascii_case(PLACEHOLDERS))
}

/// Whether a down file declares its migration irreversible.
pub(crate) fn is_irreversible(sql: &str) -> bool {
    leading_comments(sql).any(|line| line.eq_ignore_ascii_case(IRREVERSIBLE))
}

/// Whether the file holds nothing but white space, comments and `;`: no statement, so it
/// is refused like an empty file (a forgotten body would otherwise be recorded as applied).
/// It stops at the first other character, so a real file costs its leading comments; an
/// unterminated `/*` is left to the grammar, which says where it opens.
pub(crate) fn only_comments(sql: &str) -> bool {
    let mut rest = sql.trim_start_matches('\u{feff}');
    loop {
        rest =
            rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\u{b}' || c == ';');
        if let Some(comment) = rest.strip_prefix("--") {
            rest = comment.split_once('\n').map_or("", |(_, after)| after);
        } else if rest.starts_with("/*") {
            match block_comment_end(rest) {
                Some(end) => rest = &rest[end..],
                None => return false,
            }
        } else {
            return rest.is_empty();
        }
    }
}

/// The byte offset just after the block comment `text` starts with (block comments nest in
/// PostgreSQL), or `None` when it is not closed.
fn block_comment_end(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0usize, 0);
    while i + 1 < bytes.len() {
        match &bytes[i..i + 2] {
            b"/*" => {
                depth += 1;
                i += 2;
            }
            b"*/" => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_of_comments_alone_holds_no_statement() {
        for sql in [
            "",
            " \n\t",
            "-- todo",
            "-- todo\n/* later /* nested */ */ ;\n-- end",
            "\u{feff}-- bom\n",
        ] {
            assert!(only_comments(sql), "{sql:?}");
        }
        for sql in [
            "SELECT 1",
            "-- c\nSELECT 1",
            "/* c */ x",
            "/* open",
            "-- c\n/* c */ /* open",
        ] {
            assert!(!only_comments(sql), "{sql:?}");
        }
    }

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
    fn timeout_directives_are_read_from_the_leading_comments() {
        let sql = "-- schemagate:lock-timeout 30s\n-- schemagate:statement-timeout 10m\nSELECT 1;";
        assert_eq!(
            timeouts(sql),
            Ok(Timeouts {
                lock: Some(std::time::Duration::from_secs(30)),
                statement: Some(std::time::Duration::from_secs(600)),
            })
        );
        assert_eq!(
            timeouts("SELECT 1;\n-- schemagate:lock-timeout 1s"),
            Ok(Timeouts::default())
        );
        assert!(
            timeouts("-- schemagate:lock-timeout soon\n")
                .unwrap_err()
                .contains("lock-timeout soon")
        );
    }

    #[test]
    fn the_placeholders_marker_is_found_in_the_leading_comments() {
        assert!(wants_placeholders(
            "-- creates the role\n-- schemagate:placeholders\nCREATE ROLE app;"
        ));
        assert!(!wants_placeholders(
            "CREATE ROLE app;\n-- schemagate:placeholders\n"
        ));
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
