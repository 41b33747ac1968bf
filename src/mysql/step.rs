//! One step on MariaDB/MySQL: a migration file run statement by statement, its progress
//! recorded in the history after each statement commits (see [`super::history`]).
//!
//! A file made only of data changes (`INSERT`, `UPDATE`, `DELETE`, `REPLACE`) runs in one
//! transaction with its history row: it applies whole or not at all. Any other file cannot
//! (each DDL statement commits by itself), so a failure at statement k of n leaves
//! statements 1..k-1 applied and the database dirty until it is repaired or restored.

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use super::history::{self, Direction, HistoryError};
use super::split::{self, SplitError, Statement};
use crate::applied::Applied;

/// The step to run: its file's text and the history row it makes or removes.
pub(crate) struct StepFile<'a> {
    /// The file's name, for messages.
    pub file: &'a str,
    /// Its text.
    pub sql: &'a str,
    /// The migration (version, name, checksum of the up file).
    pub migration: &'a Applied,
    /// Up or down.
    pub direction: Direction,
}

/// How a step ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ran {
    /// Its statements.
    pub statements: u32,
    /// Whether it ran in one transaction (data changes only).
    pub transactional: bool,
}

/// A step failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StepError {
    /// The file cannot be cut into statements: nothing ran (exit 2).
    #[error("{file}: {source}")]
    Split {
        file: String,
        #[source]
        source: SplitError,
    },
    /// Statement `index` of `total` failed (exit 6).
    #[error("{}", failure_message(self))]
    Statement {
        file: String,
        version: i64,
        /// 1-based.
        index: u32,
        total: u32,
        line: u64,
        column: u64,
        /// The server's error.
        message: String,
        /// Whether the step ran in a transaction, which was rolled back: nothing stays.
        transactional: bool,
        connection_lost: bool,
    },
    /// The history could not be written.
    #[error(transparent)]
    History(#[from] HistoryError),
}

/// "0005__add.sql: statement 3 of 4 (line 7, column 1) failed: ERROR …; statements 1 to 2
/// ran and stay applied, 3 to 4 did not run".
fn failure_message(error: &StepError) -> String {
    let StepError::Statement {
        file,
        index,
        total,
        line,
        column,
        ..
    } = error
    else {
        return String::new();
    };
    format!(
        "{file}: statement {index} of {total} (line {line}, column {column}) failed: {}",
        error.described()
    )
}

impl StepError {
    /// What failed and what it left, without the file's name and place (the gate's
    /// message gives those): the server's error, which statements stay applied, and for a
    /// step that stopped part way, that the database is dirty until repaired.
    pub(crate) fn described(&self) -> String {
        let StepError::Statement {
            version,
            index,
            total,
            message,
            transactional,
            ..
        } = self
        else {
            return self.to_string();
        };
        if *transactional {
            return format!(
                "{message}; it ran in one transaction, which was rolled back: nothing of it stays"
            );
        }
        let ran = match index - 1 {
            0 => "no statement before it ran".to_owned(),
            1 => "statement 1 ran and stays applied".to_owned(),
            n => format!("statements 1 to {n} ran and stay applied"),
        };
        let not = if index == total {
            format!("statement {index} did not")
        } else {
            format!("statements {index} to {total} did not run")
        };
        format!(
            "{message}; {ran}, {not}; the database is dirty (version {version} in progress) and every run refuses it until it is made whole by hand and recorded with `schemagate repair --version {version} --applied|--reverted`, or the backup is restored"
        )
    }
}

/// Runs the step on `conn` (the lock's session), recording its progress.
pub(crate) async fn run(conn: &mut Conn, step: &StepFile<'_>) -> Result<Ran, StepError> {
    let statements = split::split(step.sql).map_err(|source| StepError::Split {
        file: step.file.to_owned(),
        source,
    })?;
    let total = u32::try_from(statements.len()).unwrap_or(u32::MAX);
    if split::data_only(&statements) {
        run_in_transaction(conn, step, &statements, total).await?;
        return Ok(Ran {
            statements: total,
            transactional: true,
        });
    }
    let version = step.migration.version;
    history::begin(conn, step.migration, step.direction, total).await?;
    for (done, statement) in (0..total).zip(&statements) {
        if let Err(e) = conn.query_drop(&step.sql[statement.range.clone()]).await {
            return Err(failed(step, statement, done + 1, total, &e, false));
        }
        history::progress(conn, version, done + 1).await?;
    }
    history::finish(conn, version, step.direction).await?;
    Ok(Ran {
        statements: total,
        transactional: false,
    })
}

/// A data-only file: its statements and its history row in one transaction.
async fn run_in_transaction(
    conn: &mut Conn,
    step: &StepFile<'_>,
    statements: &[Statement],
    total: u32,
) -> Result<(), StepError> {
    let begin_failed = |e: mysql_async::Error| HistoryError::Query {
        action: "begin the transaction of a step on",
        message: super::error::describe(&e),
        connection_lost: super::error::connection_lost(&e),
    };
    conn.query_drop("START TRANSACTION")
        .await
        .map_err(begin_failed)?;
    let outcome = async {
        history::begin(conn, step.migration, step.direction, total).await?;
        for (index, statement) in (1..=total).zip(statements) {
            if let Err(e) = conn.query_drop(&step.sql[statement.range.clone()]).await {
                return Err(failed(step, statement, index, total, &e, true));
            }
        }
        history::finish(conn, step.migration.version, step.direction).await?;
        conn.query_drop("COMMIT").await.map_err(|e| {
            StepError::from(HistoryError::Query {
                action: "commit the step and its row in",
                message: super::error::describe(&e),
                connection_lost: super::error::connection_lost(&e),
            })
        })
    }
    .await;
    if outcome.is_err() {
        // The session may be gone; the server rolls back a dead session's transaction.
        let _ = conn.query_drop("ROLLBACK").await;
    }
    outcome
}

fn failed(
    step: &StepFile<'_>,
    statement: &Statement,
    index: u32,
    total: u32,
    error: &mysql_async::Error,
    transactional: bool,
) -> StepError {
    StepError::Statement {
        file: step.file.to_owned(),
        version: step.migration.version,
        index,
        total,
        line: statement.line,
        column: statement.column,
        message: super::error::describe(error),
        transactional,
        connection_lost: super::error::connection_lost(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mysql::history::{Dirty, Resolution};
    use crate::mysql::testing::TestDatabase;

    fn migration(version: i64, name: &str) -> Applied {
        Applied {
            version,
            name: name.to_owned(),
            applied_on: String::new(),
            checksum: Some(42),
        }
    }

    async fn tables(conn: &mut Conn) -> Vec<String> {
        conn.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1")
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_ddl_file_runs_statement_by_statement_and_is_recorded_applied() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        history::ensure_table(&mut conn).await.unwrap();
        let up = migration(1, "create");
        let sql = "CREATE TABLE a (id INT PRIMARY KEY);\nDELIMITER //\nCREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW BEGIN SET NEW.id = NEW.id + 1; END //\nDELIMITER ;\nINSERT INTO a VALUES (1);";
        let step = StepFile {
            file: "1__create.sql",
            sql,
            migration: &up,
            direction: Direction::Up,
        };
        let ran = run(&mut conn, &step).await.unwrap();
        assert_eq!(
            ran,
            Ran {
                statements: 3,
                transactional: false
            }
        );
        let applied = history::read(&mut conn).await.unwrap();
        assert_eq!((applied[0].version, applied[0].checksum), (1, Some(42)));
        assert_eq!(history::dirty(&mut conn).await.unwrap(), None);
        let id: Option<i32> = conn.query_first("SELECT id FROM a").await.unwrap();
        assert_eq!(id, Some(2), "the trigger's body ran whole");

        let down = StepFile {
            file: "1__create.down.sql",
            sql: "DROP TABLE a;",
            migration: &up,
            direction: Direction::Down,
        };
        run(&mut conn, &down).await.unwrap();
        assert!(history::read(&mut conn).await.unwrap().is_empty());
        assert_eq!(tables(&mut conn).await, [history::TABLE]);
    }

    #[tokio::test]
    async fn a_failure_at_statement_k_leaves_a_dirty_row_that_says_what_ran_until_repaired() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        history::ensure_table(&mut conn).await.unwrap();
        let up = migration(7, "three");
        let sql = "CREATE TABLE one (x INT);\n\n  ALTER TABLE missing ADD y INT;\nCREATE TABLE three (x INT);";
        let step = StepFile {
            file: "7__three.sql",
            sql,
            migration: &up,
            direction: Direction::Up,
        };
        let error = run(&mut conn, &step).await.unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with(
                "7__three.sql: statement 2 of 3 (line 3, column 3) failed: ERROR 1146"
            ),
            "{text}"
        );
        assert!(
            text.contains("statement 1 ran and stays applied, statements 2 to 3 did not run; the database is dirty"),
            "{text}"
        );
        assert_eq!(tables(&mut conn).await, ["one", history::TABLE]);
        let dirty = history::dirty(&mut conn).await.unwrap().unwrap();
        assert_eq!(
            dirty,
            Dirty {
                version: 7,
                name: "three".into(),
                direction: Direction::Up,
                done: 1,
                total: 3
            }
        );
        assert!(
            dirty
                .to_string()
                .contains("statement 1 of 3 ran; statement 2 may or may not have run"),
            "{dirty}"
        );
        assert!(
            history::read(&mut conn).await.unwrap().is_empty(),
            "a dirty row is not applied"
        );

        let wrong = history::repair(&mut conn, 6, Resolution::Applied)
            .await
            .unwrap_err();
        assert!(
            wrong.to_string().contains("the dirty one is version 7"),
            "{wrong}"
        );
        conn.query_drop("DROP TABLE one").await.unwrap();
        history::repair(&mut conn, 7, Resolution::Reverted)
            .await
            .unwrap();
        assert_eq!(history::dirty(&mut conn).await.unwrap(), None);
        assert!(history::read(&mut conn).await.unwrap().is_empty());

        let fixed = "CREATE TABLE one (x INT);\nCREATE TABLE three (x INT);";
        let step = StepFile {
            file: "7__three.sql",
            sql: fixed,
            migration: &up,
            direction: Direction::Up,
        };
        run(&mut conn, &step).await.unwrap();
        history::repair(&mut conn, 7, Resolution::Applied)
            .await
            .unwrap_err();
        assert_eq!(history::read(&mut conn).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_data_only_file_runs_in_one_transaction_and_leaves_nothing_when_it_fails() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        history::ensure_table(&mut conn).await.unwrap();
        conn.query_drop("CREATE TABLE t (x INT PRIMARY KEY) ENGINE=InnoDB")
            .await
            .unwrap();
        let up = migration(2, "rows");
        let sql = "INSERT INTO t VALUES (1);\nINSERT INTO t VALUES (1);";
        let step = StepFile {
            file: "2__rows.sql",
            sql,
            migration: &up,
            direction: Direction::Up,
        };
        let error = run(&mut conn, &step).await.unwrap_err();
        assert!(
            error
                .to_string()
                .contains("statement 2 of 2 (line 2, column 1) failed: ERROR 1062"),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("rolled back: nothing of it stays"),
            "{error}"
        );
        let count: Option<i64> = conn.query_first("SELECT COUNT(*) FROM t").await.unwrap();
        assert_eq!(count, Some(0));
        assert_eq!(history::dirty(&mut conn).await.unwrap(), None);
        assert!(history::read(&mut conn).await.unwrap().is_empty());

        let good = StepFile {
            sql: "INSERT INTO t VALUES (1);\nUPDATE t SET x = 2;",
            ..step
        };
        let ran = run(&mut conn, &good).await.unwrap();
        assert!(ran.transactional);
        assert_eq!(history::read(&mut conn).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_refinery_table_gets_the_progress_columns_and_keeps_its_rows() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        conn.query_drop(
            "CREATE TABLE refinery_schema_history(version INT PRIMARY KEY, name VARCHAR(255), applied_on VARCHAR(255), checksum VARCHAR(255))",
        )
        .await
        .unwrap();
        conn.query_drop(
            "INSERT INTO refinery_schema_history VALUES (1, 'init', '2024-01-01T00:00:00Z', '123')",
        )
        .await
        .unwrap();
        assert_eq!(
            history::read(&mut conn).await.unwrap()[0].checksum,
            Some(123)
        );
        assert_eq!(history::dirty(&mut conn).await.unwrap(), None);
        history::ensure_table(&mut conn).await.unwrap();
        let applied = history::read(&mut conn).await.unwrap();
        assert_eq!((applied.len(), applied[0].name.as_str()), (1, "init"));
    }
}
