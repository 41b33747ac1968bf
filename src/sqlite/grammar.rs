//! SQLite's grammar for the gate, with no database: a file's statements
//! ([`super::complete`]) and the failures certain before anything runs.
//!
//! What is certain, and what is not: SQLite prepares a statement against the schema, so
//! preparing `CREATE INDEX i ON t (x)` fails with "no such table" when `t` is made by an
//! earlier statement or file of the same plan, or exists only in the live database. So
//! each statement is prepared alone on an empty in-memory database, and only the errors
//! of SQLite's parser count: a syntax error, an unrecognized token, incomplete input.
//! Everything that depends on the schema ("no such table", "no such column", an unknown
//! function an application registers) is left to the run, where SQLite says it inside the
//! step's transaction, and the step is rolled back whole. A transactional file that starts
//! or ends the step's transaction (`BEGIN`, `COMMIT`, `END`, `ROLLBACK`) or runs `VACUUM`
//! (which SQLite refuses in a transaction) is refused too.

use std::ops::Range;

use rusqlite::Connection;

use super::complete::{self, Unterminated};
use super::statements::first_token;
use crate::catalogue::{CatalogueError, Problem, Script};
use crate::config::Compat;
use crate::engine::Grammar;
use crate::lint::{Finding, LintError, LintFile};
use crate::position::line_column;

/// The grammar problems name.
const GRAMMAR: &str = "SQLite";

/// The byte ranges of `sql`'s statements; see [`complete::split`].
pub(crate) fn split(sql: &str) -> Result<Vec<Range<usize>>, Unterminated> {
    complete::split(sql)
}

/// The first statement of `script` certain to fail on SQLite, if any (see the module docs).
pub(crate) fn certain_failure(script: &Script) -> Option<Problem> {
    certain_failure_of(&script.file, &script.sql, script.transactional)
}

/// [`certain_failure`] of a file's name, text and whether it runs in a transaction.
fn certain_failure_of(file: &str, sql: &str, transactional: bool) -> Option<Problem> {
    let place = |offset| line_column(sql, offset);
    let ranges = match split(sql) {
        Ok(ranges) => ranges,
        Err(Unterminated { at }) => {
            let (line, column) = place(at);
            return Some(Problem::Syntax(
                file.to_owned(),
                line,
                column,
                "unterminated string, quoted name or comment".to_owned(),
                GRAMMAR,
            ));
        }
    };
    let scratch = Connection::open_in_memory().ok()?;
    for range in ranges {
        let text = &sql[range.clone()];
        if transactional && let Some(name) = refused_in_transaction(text) {
            let (line, column) = place(range.start);
            return Some(Problem::TransactionControl(
                file.to_owned(),
                line,
                column,
                name,
            ));
        }
        if let Err(error) = scratch.prepare(text)
            && let Some((message, offset)) = syntax_error(&error)
        {
            let (line, column) = place(range.start + offset.min(text.len()));
            return Some(Problem::Syntax(
                file.to_owned(),
                line,
                column,
                message,
                GRAMMAR,
            ));
        }
    }
    None
}

/// The statement's name when a transactional file cannot hold it.
fn refused_in_transaction(statement: &str) -> Option<&'static str> {
    let start = first_token(statement, 0);
    let mut words = statement[start..]
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_uppercase);
    let first = words.next()?;
    Some(match first.as_str() {
        "BEGIN" => "BEGIN",
        "COMMIT" => "COMMIT",
        "END" => "END",
        "ROLLBACK" if words.next().is_none_or(|w| w == "TRANSACTION") => "ROLLBACK",
        "VACUUM" => "VACUUM",
        _ => return None,
    })
}

/// SQLite's message and offset (in the statement) when `error` is its parser's, not the
/// schema's.
fn syntax_error(error: &rusqlite::Error) -> Option<(String, usize)> {
    let (message, offset) = match error {
        rusqlite::Error::SqlInputError { msg, offset, .. } => {
            (msg.clone(), usize::try_from(*offset).unwrap_or_default())
        }
        rusqlite::Error::SqliteFailure(_, Some(msg)) => (msg.clone(), 0),
        _ => return None,
    };
    let parser = message.ends_with("syntax error")
        || message == "incomplete input"
        || message.starts_with("unrecognized token");
    parser.then_some((message, offset))
}

/// SQLite's grammar for the seam.
pub(crate) struct SqliteGrammar;

/// The one there is.
pub(crate) static SQLITE_GRAMMAR: SqliteGrammar = SqliteGrammar;

impl Grammar for SqliteGrammar {
    fn check_pending(
        &self,
        origin: &str,
        scripts: &mut dyn Iterator<Item = &Script>,
    ) -> Result<(), CatalogueError> {
        let problems: Vec<Problem> = scripts.filter_map(certain_failure).collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogueError::Invalid {
                origin: origin.to_owned(),
                problems,
            })
        }
    }

    fn lint(&self, _: &LintFile, _: &Compat) -> Result<Vec<Finding>, LintError> {
        // PostgreSQL's rules do not apply, and SQLite has none yet (docs/lint.md).
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certain(sql: &str, transactional: bool) -> Option<Problem> {
        certain_failure_of("V2__x.sql", sql, transactional)
    }

    #[test]
    fn a_syntax_error_is_certain_and_placed_where_sqlite_points() {
        let problem = certain("CREATE TABLE a (x);\n\n  CREATE TABL b (y);", true);
        assert_eq!(
            problem,
            Some(Problem::Syntax(
                "V2__x.sql".into(),
                3,
                10,
                "near \"TABL\": syntax error".into(),
                GRAMMAR
            ))
        );
        let open = certain("SELECT 1;\nSELECT 'x", true).unwrap();
        assert!(
            matches!(open, Problem::Syntax(_, 2, 8, _, GRAMMAR)),
            "{open:?}"
        );
    }

    #[test]
    fn what_depends_on_the_schema_is_left_to_the_run() {
        let sql = "CREATE TABLE a (x);\nCREATE INDEX a_x ON a (x);\nINSERT INTO live_table SELECT my_function(x) FROM a;";
        assert_eq!(certain(sql, true), None);
    }

    #[test]
    fn transaction_control_and_vacuum_are_refused_only_in_a_transactional_file() {
        for (sql, name) in [
            ("CREATE TABLE a (x);\nBEGIN;", "BEGIN"),
            ("COMMIT", "COMMIT"),
            ("-- note\nEND TRANSACTION;", "END"),
            ("ROLLBACK;", "ROLLBACK"),
            ("VACUUM;", "VACUUM"),
        ] {
            let problem = certain(sql, true);
            assert!(
                matches!(&problem, Some(Problem::TransactionControl(_, _, _, n)) if *n == name),
                "{sql}: {problem:?}"
            );
            assert_eq!(certain(sql, false), None, "{sql}");
        }
        assert_eq!(
            certain("SAVEPOINT s; ROLLBACK TO s; RELEASE s;", true),
            None
        );
    }
}
