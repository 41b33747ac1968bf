//! A file's statements as SQLite's own parser delimits them: rusqlite's [`Batch`] calls
//! `sqlite3_prepare_v2` on the rest of the text and resumes at the tail SQLite returns, so
//! strings, quoted names, comments and trigger bodies (`BEGIN … END;`) are never split by
//! a hand-written scanner. Each statement is prepared only once the one before it has run,
//! so a statement may use a table the one before it created.

use rusqlite::fallible_iterator::FallibleIterator as _;
use rusqlite::{Batch, Connection, Statement};

use crate::position::line_column;

/// Where a statement is in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct At {
    /// Its number in the file, from 1.
    pub(crate) index: usize,
    /// Line and column (from 1) where it starts, or of the token SQLite refused.
    pub(crate) line: usize,
    /// See `line`.
    pub(crate) column: usize,
}

/// A statement SQLite refused to prepare or to run.
#[derive(Debug)]
pub(crate) struct Refused {
    /// Where.
    pub(crate) at: At,
    /// SQLite's error.
    pub(crate) error: rusqlite::Error,
}

/// The statements of one file, prepared one at a time on a connection.
pub(crate) struct Statements<'c, 's> {
    batch: Batch<'c, 's>,
    sql: &'s str,
    consumed: usize,
    index: usize,
}

impl<'c, 's> Statements<'c, 's> {
    /// The statements of `sql`, to be prepared on `connection`.
    pub(crate) fn new(connection: &'c Connection, sql: &'s str) -> Self {
        Self {
            batch: Batch::new(connection, sql),
            sql,
            consumed: 0,
            index: 0,
        }
    }

    /// The next statement, prepared, and where it is; `None` after the last one. A
    /// statement SQLite cannot prepare (a syntax error, a table that does not exist) is
    /// refused with the position SQLite gives for it.
    pub(crate) fn next(&mut self) -> Result<Option<(At, Statement<'c>)>, Refused> {
        self.index += 1;
        match self.batch.next() {
            Ok(Some(statement)) => {
                let start = self.advance(&statement);
                Ok(Some((self.at(start), statement)))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                let offset = match &error {
                    rusqlite::Error::SqlInputError { sql, offset, .. } => {
                        let tail = self.sql.len().saturating_sub(sql.len());
                        tail + usize::try_from(*offset).unwrap_or_default()
                    }
                    _ => self.start_of_next(),
                };
                Err(Refused {
                    at: self.at(offset),
                    error,
                })
            }
        }
    }

    /// Moves past the text of `statement`, returning where its first token is.
    fn advance(&mut self, statement: &Statement<'_>) -> usize {
        let rest = &self.sql[self.consumed..];
        // The text SQLite prepared (leading comments included), which is the file's own
        // text as long as the statement has no parameters; a migration has none.
        let found = statement
            .expanded_sql()
            .and_then(|text| rest.find(text.as_str()).map(|at| (at, text.len())));
        match found {
            Some((at, len)) => {
                let start = self.consumed + at;
                self.consumed = start + len;
                first_token(self.sql, start)
            }
            None => self.start_of_next(),
        }
    }

    /// Where the text after the last statement starts, past blanks.
    fn start_of_next(&self) -> usize {
        first_token(self.sql, self.consumed)
    }

    fn at(&self, offset: usize) -> At {
        let (line, column) = line_column(self.sql, offset.min(self.sql.len()));
        At {
            index: self.index,
            line,
            column,
        }
    }
}

/// The offset of the first character at or after `from` that is not blank and not in a
/// comment.
pub(crate) fn first_token(sql: &str, from: usize) -> usize {
    let mut at = from;
    loop {
        let rest = &sql[at..];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if trimmed.starts_with("--") {
            at += trimmed.find('\n').unwrap_or(trimmed.len());
        } else if trimmed.starts_with("/*") {
            at += trimmed.find("*/").map_or(trimmed.len(), |end| end + 2);
        } else {
            return at;
        }
    }
}

/// Runs a prepared statement to its end, reading and dropping any rows it returns (a
/// `PRAGMA` or a `SELECT` in a migration).
pub(crate) fn run(statement: &mut Statement<'_>) -> rusqlite::Result<()> {
    let mut rows = statement.raw_query();
    while rows.next()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first keyword of a prepared statement, upper-cased (`CREATE`, `BEGIN`, …).
    pub(crate) fn keyword(statement: &Statement<'_>) -> String {
        let text = statement.expanded_sql().unwrap_or_default();
        let start = first_token(&text, 0);
        text[start..]
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase()
    }

    /// Runs every statement of `sql`, returning (index, line, keyword) of each.
    fn run_all(connection: &Connection, sql: &str) -> Result<Vec<(usize, usize, String)>, Refused> {
        let mut seen = Vec::new();
        let mut statements = Statements::new(connection, sql);
        while let Some((at, mut statement)) = statements.next()? {
            seen.push((at.index, at.line, keyword(&statement)));
            run(&mut statement).map_err(|error| Refused { at, error })?;
        }
        Ok(seen)
    }

    #[test]
    fn sqlites_parser_splits_strings_comments_and_trigger_bodies_whole() {
        let connection = Connection::open_in_memory().unwrap();
        let sql = "-- a comment; with a semicolon\nCREATE TABLE t (a TEXT DEFAULT 'x;y');\n\n\
                   CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN\n  UPDATE t SET a = 'z;' WHERE rowid = new.rowid;\nEND;\n\
                   /* block; */ INSERT INTO t VALUES ('1;2');\nPRAGMA user_version;\n-- trailing comment\n";
        let seen = run_all(&connection, sql).unwrap();
        assert_eq!(
            seen,
            [
                (1, 2, "CREATE".to_owned()),
                (2, 4, "CREATE".to_owned()),
                (3, 7, "INSERT".to_owned()),
                (4, 8, "PRAGMA".to_owned()),
            ]
        );
        let a: String = connection
            .query_row("SELECT a FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(a, "z;", "the trigger body ran as one statement");
    }

    #[test]
    fn a_statement_may_use_what_the_one_before_it_created() {
        let connection = Connection::open_in_memory().unwrap();
        let sql = "CREATE TABLE a (x);\nCREATE INDEX a_x ON a (x);\nINSERT INTO a VALUES (1);";
        assert_eq!(run_all(&connection, sql).unwrap().len(), 3);
    }

    #[test]
    fn a_refused_statement_is_named_by_number_line_and_column() {
        let connection = Connection::open_in_memory().unwrap();
        let refused =
            run_all(&connection, "CREATE TABLE a (x);\n\n  CREATE TABL b (y);").unwrap_err();
        assert_eq!(
            refused.at,
            At {
                index: 2,
                line: 3,
                column: 10
            }
        );
        assert!(
            refused.error.to_string().contains("syntax error"),
            "{}",
            refused.error
        );
        let missing =
            run_all(&connection, "SELECT 1;\n  INSERT INTO nowhere VALUES (1);").unwrap_err();
        assert_eq!((missing.at.index, missing.at.line), (2, 2));
        assert!(
            missing.error.to_string().contains("no such table"),
            "{}",
            missing.error
        );
    }
}
