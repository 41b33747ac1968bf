//! One step on SQLite: a migration's file and its history row.
//!
//! A transactional file runs in `BEGIN IMMEDIATE … COMMIT` with its history row: IMMEDIATE
//! takes SQLite's write lock at the start, so an application writing at the same moment
//! makes the step wait (`busy_timeout`) instead of failing half-way at its first write,
//! and the step is whole or absent. A no-transaction file (`-- schemagate:no-transaction`:
//! `PRAGMA foreign_keys = OFF`, `VACUUM`, or SQLite's own twelve-step table rebuild with
//! its `BEGIN`/`COMMIT`) runs a statement at a time, its history row written once all of
//! it has succeeded; if it fails inside a transaction of its own, that transaction is
//! rolled back so the connection is clean for the next run.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::history;
use super::statements::{At, Refused, Statements, run};

/// What a step does to the history.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HistoryChange<'a> {
    /// An up step: record the migration.
    Record {
        /// Its version.
        version: i64,
        /// Its name.
        name: &'a str,
        /// Its checksum.
        checksum: u64,
    },
    /// A down step: forget it.
    Forget {
        /// Its version.
        version: i64,
    },
}

/// A step failed; nothing of a transactional file stays applied.
#[derive(Debug, thiserror::Error)]
#[error("{}{source}", self.place())]
pub(crate) struct StepError {
    /// The statement that failed, when one did (not the history row, nor the commit).
    pub(crate) at: Option<At>,
    /// SQLite's error.
    #[source]
    pub(crate) source: rusqlite::Error,
}

impl StepError {
    fn place(&self) -> String {
        self.at
            .map(|at| {
                format!(
                    "statement {} (line {}, column {}): ",
                    at.index, at.line, at.column
                )
            })
            .unwrap_or_default()
    }

    /// Whether SQLite gave up waiting for another connection's lock (`SQLITE_BUSY`),
    /// which an application's long write causes: the step can run again later.
    pub(crate) fn busy(&self) -> bool {
        self.source.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
    }

    /// What to do when the file of the migration is not at fault, naming the `database`
    /// file: its file system full, another connection's write held past `busy_timeout`, or
    /// a directory where SQLite cannot create its journal. `None`: fix the file.
    pub(crate) fn remedy(&self, database: &Path) -> Option<String> {
        let path = database.display();
        match self.source.sqlite_error_code()? {
            ErrorCode::DiskFull => Some(format!(
                "The file system holding {path} is full: free space there, then run again"
            )),
            ErrorCode::DatabaseBusy => Some(format!(
                "Another connection held SQLite's write lock on {path} longer than busy_timeout (--connect-timeout): let its write finish, or raise --connect-timeout, then run again"
            )),
            ErrorCode::CannotOpen => Some(format!(
                "SQLite cannot create its journal beside {path}: let this user write that directory, then run again"
            )),
            _ => None,
        }
    }
}

impl From<Refused> for StepError {
    fn from(refused: Refused) -> Self {
        Self {
            at: Some(refused.at),
            source: refused.error,
        }
    }
}

fn whole(source: rusqlite::Error) -> StepError {
    StepError { at: None, source }
}

/// Runs one step: `sql` and its history change, as the module docs say.
pub(crate) fn apply(
    connection: &mut Connection,
    sql: &str,
    transactional: bool,
    change: HistoryChange<'_>,
) -> Result<(), StepError> {
    if !transactional {
        let ran = run_all(connection, sql);
        if !connection.is_autocommit() {
            // The file's own BEGIN without its COMMIT.
            let _ = connection.execute_batch("ROLLBACK");
        }
        ran?;
    }
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(whole)?;
    if transactional {
        run_all(&transaction, sql)?;
    }
    record(&transaction, change).map_err(whole)?;
    transaction.commit().map_err(whole)
}

/// Runs one step inside a transaction the caller holds (`--atomic`: one for the plan).
pub(crate) fn apply_within(
    connection: &Connection,
    sql: &str,
    change: HistoryChange<'_>,
) -> Result<(), StepError> {
    run_all(connection, sql)?;
    record(connection, change).map_err(whole)
}

/// Writes a step's history change.
fn record(connection: &Connection, change: HistoryChange<'_>) -> rusqlite::Result<()> {
    match change {
        HistoryChange::Record {
            version,
            name,
            checksum,
        } => history::insert(connection, version, name, checksum),
        HistoryChange::Forget { version } => history::delete(connection, version),
    }
}

/// Runs every statement of `sql`, in order, as SQLite's parser splits it.
fn run_all(connection: &Connection, sql: &str) -> Result<(), StepError> {
    let mut statements = Statements::new(connection, sql);
    while let Some((at, mut statement)) = statements.next()? {
        run(&mut statement).map_err(|source| StepError {
            at: Some(at),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn database(dir: &tempfile::TempDir) -> Connection {
        let connection = Connection::open(dir.path().join("s.db")).unwrap();
        history::ensure_table(&connection).unwrap();
        connection
    }

    fn tables(connection: &Connection) -> Vec<String> {
        let mut statement = connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    const UP: HistoryChange<'static> = HistoryChange::Record {
        version: 1,
        name: "first",
        checksum: 7,
    };

    #[test]
    fn a_step_and_its_history_row_commit_together_and_a_down_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut connection = database(&dir);
        apply(
            &mut connection,
            "CREATE TABLE a (x);\nINSERT INTO a VALUES (1);",
            true,
            UP,
        )
        .unwrap();
        assert_eq!(history::current_version(&connection).unwrap(), 1);
        assert_eq!(tables(&connection), ["a", "refinery_schema_history"]);
        apply(
            &mut connection,
            "DROP TABLE a;",
            true,
            HistoryChange::Forget { version: 1 },
        )
        .unwrap();
        assert_eq!(history::current_version(&connection).unwrap(), 0);
        assert_eq!(tables(&connection), ["refinery_schema_history"]);
    }

    #[test]
    fn a_failing_transactional_step_leaves_nothing_and_names_its_statement() {
        let dir = tempfile::tempdir().unwrap();
        let mut connection = database(&dir);
        let error = apply(
            &mut connection,
            "CREATE TABLE a (x);\nINSERT INTO a VALUES (1);\n\nINSERT INTO missing VALUES (1);",
            true,
            UP,
        )
        .unwrap_err();
        assert_eq!(error.at.map(|at| (at.index, at.line)), Some((3, 4)));
        assert!(
            error.to_string().contains("no such table: missing"),
            "{error}"
        );
        assert_eq!(tables(&connection), ["refinery_schema_history"]);
        assert_eq!(history::current_version(&connection).unwrap(), 0);
        assert!(connection.is_autocommit());
    }

    #[test]
    fn a_no_transaction_file_runs_sqlites_table_rebuild_and_cleans_up_after_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let mut connection = database(&dir);
        let rebuild = "-- schemagate:no-transaction\nPRAGMA foreign_keys = OFF;\nBEGIN;\n\
                       CREATE TABLE a (x INTEGER NOT NULL);\nCOMMIT;\nPRAGMA foreign_keys = ON;\nVACUUM;";
        apply(&mut connection, rebuild, false, UP).unwrap();
        assert_eq!(history::current_version(&connection).unwrap(), 1);
        let broken = "BEGIN;\nCREATE TABLE b (x);\nINSERT INTO nowhere VALUES (1);\nCOMMIT;";
        let change = HistoryChange::Record {
            version: 2,
            name: "second",
            checksum: 8,
        };
        let error = apply(&mut connection, broken, false, change).unwrap_err();
        assert_eq!(error.at.map(|at| at.index), Some(3));
        assert!(
            connection.is_autocommit(),
            "its own transaction was rolled back"
        );
        assert!(!tables(&connection).contains(&"b".to_owned()));
        assert_eq!(history::current_version(&connection).unwrap(), 1);
    }

    #[test]
    fn a_step_waits_for_the_applications_write_and_then_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut connection = database(&dir);
        connection.busy_timeout(Duration::from_secs(10)).unwrap();
        let application = Connection::open(dir.path().join("s.db")).unwrap();
        application
            .execute_batch("BEGIN IMMEDIATE; CREATE TABLE app (x);")
            .unwrap();
        #[allow(
            clippy::disallowed_methods,
            reason = "a plain thread, not an async task"
        )]
        let writer = std::thread::spawn(move || {
            // The application's write takes a while, then commits.
            std::thread::sleep(Duration::from_millis(300));
            application.execute_batch("COMMIT").unwrap();
        });
        apply(&mut connection, "CREATE TABLE a (x);", true, UP).unwrap();
        writer.join().unwrap();
        assert_eq!(tables(&connection), ["a", "app", "refinery_schema_history"]);
    }

    #[test]
    fn without_busy_timeout_the_same_step_fails_busy_with_nothing_applied() {
        let dir = tempfile::tempdir().unwrap();
        let mut connection = database(&dir);
        connection.busy_timeout(Duration::ZERO).unwrap();
        let application = Connection::open(dir.path().join("s.db")).unwrap();
        application.execute_batch("BEGIN IMMEDIATE;").unwrap();
        let error = apply(&mut connection, "CREATE TABLE a (x);", true, UP).unwrap_err();
        assert!(error.busy(), "{error}");
        application.execute_batch("COMMIT").unwrap();
        assert_eq!(history::current_version(&connection).unwrap(), 0);
    }

    #[test]
    fn a_full_disk_a_busy_database_and_an_unwritable_directory_name_the_file_and_what_to_do() {
        let failure = |code| StepError {
            at: None,
            source: rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None),
        };
        let path = Path::new("/srv/app.db");
        for (code, says) in [
            (rusqlite::ffi::SQLITE_FULL, "is full: free space there"),
            (rusqlite::ffi::SQLITE_BUSY, "raise --connect-timeout"),
            (
                rusqlite::ffi::SQLITE_CANTOPEN,
                "let this user write that directory",
            ),
        ] {
            let remedy = failure(code).remedy(path).unwrap();
            assert!(
                remedy.contains("/srv/app.db") && remedy.contains(says),
                "{remedy}"
            );
        }
        assert_eq!(
            failure(rusqlite::ffi::SQLITE_ERROR).remedy(path),
            None,
            "the file's fault"
        );
    }
}
