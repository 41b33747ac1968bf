//! The files a plan is about to run, read whole with PostgreSQL's grammar before anything
//! changes (DESIGN §18): a statement the grammar refuses, one that ends or starts the
//! transaction of a transactional file, or one PostgreSQL refuses inside a transaction
//! block (`CREATE INDEX CONCURRENTLY`) in such a file, would fail part-way through the
//! plan, after a backup and the earlier steps. Each is refused like any other bad file
//! (exit 2), naming file, line and column.
//!
//! Only pending files are read: an applied file is checksummed at every start and never
//! parsed again (issue 21), and a statement at a time, so memory follows the largest
//! statement (issue 22).

use std::ops::Range;

use crate::catalogue::{CatalogueError, Problem, Script};
use crate::position::line_column;
use crate::postgres::sql::{self, SyntaxError, controls_transaction, refused_in_transaction};

/// Checks every statement of `scripts` (the files a plan runs); `origin` names the
/// catalogue in the error. A no-transaction file keeps its statements, split here, for
/// the run. Every problem of every file is reported together.
pub(crate) fn check_pending<'a>(
    origin: &str,
    scripts: impl IntoIterator<Item = &'a Script>,
) -> Result<(), CatalogueError> {
    let mut problems = Vec::new();
    for script in scripts {
        problems.extend(check(script));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CatalogueError::Invalid {
            origin: origin.to_owned(),
            problems,
        })
    }
}

/// The grammar problems name.
const GRAMMAR: &str = "PostgreSQL";

/// The byte ranges in `script`'s SQL of its statements, as PostgreSQL's grammar splits
/// them, for a file that runs a statement at a time. The gate checks every file it is
/// about to run first ([`check_pending`]), which splits it; a file the grammar refuses is
/// one statement here, so the server refuses it, and nothing of it is skipped.
pub(crate) fn statements(script: &Script) -> &[Range<usize>] {
    script.statements_split_by(|sql| {
        let mut ranges = Vec::new();
        match sql::read(sql, &mut |statement| ranges.push(statement.range)) {
            Ok(_) => ranges,
            Err(_) => std::iter::once(0..sql.len()).collect(),
        }
    })
}

/// The first problem of one file, if any.
fn check(script: &Script) -> Option<Problem> {
    let place = |offset| line_column(&script.sql, offset);
    let mut ranges = Vec::new();
    let mut refused = None;
    let read = sql::read(&script.sql, &mut |statement| {
        if script.transactional && refused.is_none() {
            refused = statement.node.as_ref().and_then(|node| {
                type Kind = fn(String, usize, usize, &'static str) -> Problem;
                let (name, kind): (_, Kind) = match controls_transaction(node) {
                    Some(name) => (name, Problem::TransactionControl),
                    None => (refused_in_transaction(node)?, Problem::InTransaction),
                };
                // Placed only when refused: counting lines is a pass over the file.
                let (line, column) = place(statement.range.start);
                Some(kind(script.file.clone(), line, column, name))
            });
        }
        if !script.transactional {
            ranges.push(statement.range);
        }
    });
    match read {
        Err(SyntaxError { message, offset }) => {
            let (line, column) = place(offset);
            Some(Problem::Syntax(
                script.file.clone(),
                line,
                column,
                message,
                GRAMMAR,
            ))
        }
        Ok(_) => {
            if !script.transactional {
                // Already split only if another check split it first: the same ranges.
                script.statements_split_by(|_| ranges);
            }
            refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::{Catalogue, SourceFile, from_files};

    /// A catalogue of one migration, version 1, of `up` and `down`.
    fn one_migration(up: &str, down: &str) -> Catalogue {
        from_files(
            "m/",
            vec![
                SourceFile {
                    name: "1_a.sql".into(),
                    bytes: up.as_bytes().to_vec(),
                },
                SourceFile {
                    name: "1_a.down.sql".into(),
                    bytes: down.as_bytes().to_vec(),
                },
            ],
        )
        .unwrap()
    }

    fn problems(up: &str) -> Vec<Problem> {
        let catalogue = one_migration(up, "SELECT 1;");
        match check_pending("m/", catalogue.migrations().iter().map(|m| &m.up)) {
            Ok(()) => Vec::new(),
            Err(CatalogueError::Invalid { problems, .. }) => problems,
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn certain_failures_name_file_line_and_column_and_never_the_text() {
        let cases = [
            (
                "SELECT 1;\n  CREATE TABLEE t (a int);",
                Problem::Syntax("m/1_a.sql".into(), 2, 10, "syntax error".into(), GRAMMAR),
            ),
            (
                "CREATE TABLE t (a int);\nCREATE INDEX CONCURRENTLY i ON t (a);",
                Problem::InTransaction("m/1_a.sql".into(), 2, 1, "CREATE INDEX CONCURRENTLY"),
            ),
            (
                "CREATE TABLE t ();\n  COMMIT;\nCREATE TABLE u ();",
                Problem::TransactionControl("m/1_a.sql".into(), 2, 3, "COMMIT"),
            ),
            (
                "SELECT 1;\nPREPARE TRANSACTION 'x';",
                Problem::TransactionControl("m/1_a.sql".into(), 2, 1, "PREPARE TRANSACTION"),
            ),
            (
                "-- schemagate:no-transaction\nSELECT 1;\n  CREATE INDEXX i ON t (a);",
                Problem::Syntax("m/1_a.sql".into(), 3, 10, "syntax error".into(), GRAMMAR),
            ),
            (
                "SELECT 'secret",
                Problem::Syntax(
                    "m/1_a.sql".into(),
                    1,
                    8,
                    "unterminated quoted string".into(),
                    GRAMMAR,
                ),
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(problems(sql), [expected], "{sql:?}");
        }
    }

    #[test]
    fn what_runs_fine_is_not_refused() {
        for sql in [
            "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);\nVACUUM t;",
            "CREATE TABLE t (a int);\nSAVEPOINT s;\nROLLBACK TO SAVEPOINT s;",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; END;\nCREATE TABLE t (a int);",
            "CREATE TABLE t (begin int, \"end\" text);\nCOMMENT ON TABLE t IS 'COMMIT;';",
        ] {
            assert_eq!(problems(sql), [], "{sql:?}");
        }
    }

    #[test]
    fn a_checked_no_transaction_file_keeps_its_statements_for_the_run() {
        let sql = "-- schemagate:no-transaction\nSELECT 1;\nCREATE INDEX CONCURRENTLY i ON t (a);";
        let catalogue = one_migration(sql, "SELECT 1;");
        let up = &catalogue.migrations()[0].up;
        check_pending("m/", [up]).unwrap();
        let texts: Vec<&str> = statements(up).iter().map(|r| &sql[r.clone()]).collect();
        assert_eq!(texts, ["SELECT 1", "CREATE INDEX CONCURRENTLY i ON t (a)"]);
    }

    #[test]
    fn a_no_transaction_file_keeps_each_statements_place_in_the_file() {
        let up = "-- no-transaction\nCREATE FUNCTION f() RETURNS int LANGUAGE sql\n\
                  BEGIN ATOMIC SELECT 1; SELECT E'\\''; END;\nCREATE INDEX CONCURRENTLY i ON t (a);\n";
        let catalogue = one_migration(up, "x");
        let script = &catalogue.migrations()[0].up;
        let texts: Vec<&str> = statements(script)
            .iter()
            .map(|r| &script.sql[r.clone()])
            .collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts[0].ends_with("END"), "{texts:?}");
        assert_eq!(texts[1], "CREATE INDEX CONCURRENTLY i ON t (a)");
    }
}
