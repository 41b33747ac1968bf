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
            connection_lost,
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
        // A lost session may have had the rest of its packet run by the server, each
        // statement with its count: the history row says how far it got.
        let not = match (*connection_lost, index == total) {
            (true, _) => format!(
                "statement {index} and those after it may or may not have run (the history row counts those that did)"
            ),
            (false, true) => format!("statement {index} did not"),
            (false, false) => format!("statements {index} to {total} did not run"),
        };
        format!(
            "{message}; {ran}, {not}; the database is dirty (version {version} in progress) and every run refuses it until it is made whole by hand and recorded with `schemagate repair --version {version} --applied|--reverted`, or the backup is restored"
        )
    }
}

/// Runs the step on `conn` (the lock's session), recording its progress.
///
/// The step's statements and its history writes go in as few multi-statement packets as
/// [`PACKET_BYTES`] allows, one round trip each, in the order they must run. The server
/// runs a packet's statements one after the other and stops at the first that fails, so
/// each write still runs only after what it records has committed: the row `in progress`
/// before the first statement; after a DDL statement (which commits by itself), its
/// count, before the next statement starts. A data change in a file with DDL runs in a
/// transaction of its own with its count, so the count says exactly whether it committed.
/// A file of data changes only is one transaction with its row.
pub(crate) async fn run(conn: &mut Conn, step: &StepFile<'_>) -> Result<Ran, StepError> {
    let statements = split::split(step.sql).map_err(|source| StepError::Split {
        file: step.file.to_owned(),
        source,
    })?;
    let total = u32::try_from(statements.len()).unwrap_or(u32::MAX);
    let transactional = split::data_only(&statements);
    let parts = if transactional {
        in_one_transaction(step, statements.len(), total)
    } else {
        statement_by_statement(step, &statements, total)
    };
    if let Err(failure) = send(conn, step, &statements, &parts).await {
        // A data change's transaction may be open; the server rolls back a dead session's.
        let _ = conn.query_drop("ROLLBACK").await;
        return Err(failure.into_error(step, &statements, total, transactional));
    }
    Ok(Ran {
        statements: total,
        transactional,
    })
}

/// The most a packet holds when it holds more than one part: well under the smallest
/// `max_allowed_packet` a server has by default (4 MiB since MySQL 5.6; MariaDB's is 16
/// MiB), past which the server refuses it. A larger statement goes in a packet of its own.
const PACKET_BYTES: usize = 1 << 20;

/// What goes between two parts of a packet. A line break ends a `--` or `#` comment a
/// statement may end with, which would hide the semicolon.
const SEPARATOR: &str = "\n;\n";

/// One piece of a step's packets.
enum Part {
    /// Statement `index` (0-based) of the file.
    Statement(usize),
    /// A write of the step's history row, which changes that one row, and what it does
    /// (for the message when it fails).
    Record { sql: String, action: &'static str },
    /// `START TRANSACTION` or `COMMIT` around data changes.
    Control {
        sql: &'static str,
        action: &'static str,
    },
}

fn record(sql: String, action: &'static str) -> Part {
    Part::Record { sql, action }
}

const START: Part = Part::Control {
    sql: "START TRANSACTION",
    action: "begin the transaction of a step on",
};
const COMMIT: Part = Part::Control {
    sql: "COMMIT",
    action: "commit the step and its row in",
};
const RECORD_START: &str = "record the start of a step in";
const RECORD_PROGRESS: &str = "record the progress of a step in";
const RECORD_END: &str = "record the end of a step in";

/// A data-only file: its statements between its row's start and end, in one transaction.
fn in_one_transaction(step: &StepFile<'_>, statements: usize, total: u32) -> Vec<Part> {
    let mut parts = vec![
        START,
        record(
            history::begin(step.migration, step.direction, total),
            RECORD_START,
        ),
    ];
    parts.extend((0..statements).map(Part::Statement));
    parts.push(record(
        history::finish(step.migration.version, step.direction),
        RECORD_END,
    ));
    parts.push(COMMIT);
    parts
}

/// Any other file: the row `in progress`, then each statement followed by its count (the
/// last one's is the row's end); a data change with its count in a transaction.
fn statement_by_statement(step: &StepFile<'_>, statements: &[Statement], total: u32) -> Vec<Part> {
    let version = step.migration.version;
    let mut parts = vec![record(
        history::begin(step.migration, step.direction, total),
        RECORD_START,
    )];
    for (index, (done, statement)) in (1..=total).zip(statements).enumerate() {
        if statement.data_only {
            parts.push(START);
        }
        parts.push(Part::Statement(index));
        parts.push(if done == total {
            record(history::finish(version, step.direction), RECORD_END)
        } else {
            record(history::progress(version, done), RECORD_PROGRESS)
        });
        if statement.data_only {
            parts.push(COMMIT);
        }
    }
    if total == 0 {
        parts.push(record(history::finish(version, step.direction), RECORD_END));
    }
    parts
}

/// Where a packet failed.
enum Failure<'p> {
    /// The server refused `part` (or the session went away while it ran).
    Server {
        part: &'p Part,
        error: mysql_async::Error,
    },
    /// A history write changed `rows` rows instead of its one.
    NoRow { action: &'static str, rows: u64 },
    /// The server ended its answers before this part.
    Unanswered(&'p Part),
}

impl Failure<'_> {
    fn into_error(
        self,
        step: &StepFile<'_>,
        statements: &[Statement],
        total: u32,
        transactional: bool,
    ) -> StepError {
        let (action, message, connection_lost) = match self {
            Failure::Server {
                part: Part::Statement(index),
                error,
            } => {
                let number = u32::try_from(*index + 1).unwrap_or(u32::MAX);
                return failed(step, &statements[*index], number, total, &error, transactional);
            }
            Failure::Server {
                part: Part::Record { action, .. } | Part::Control { action, .. },
                error,
            } => (
                *action,
                super::error::describe(&error),
                super::error::connection_lost(&error),
            ),
            Failure::NoRow { action, rows } => (
                action,
                format!("the write changed {rows} rows instead of the step's one"),
                false,
            ),
            Failure::Unanswered(part) => (
                match part {
                    Part::Record { action, .. } | Part::Control { action, .. } => *action,
                    Part::Statement(_) => RECORD_PROGRESS,
                },
                "the server answered fewer statements than the step sent it: a statement took in the text after it (an unterminated routine body?); the history row records what ran".to_owned(),
                false,
            ),
        };
        StepError::History(HistoryError::Query {
            action,
            message,
            connection_lost,
        })
    }
}

/// Sends `parts` in packets, each read back result by result so that an error is put
/// down to the part that caused it.
async fn send<'p>(
    conn: &mut Conn,
    step: &StepFile<'p>,
    statements: &[Statement],
    parts: &'p [Part],
) -> Result<(), Failure<'p>> {
    let text = |part: &'p Part| -> &'p str {
        match part {
            Part::Statement(index) => &step.sql[statements[*index].range.clone()],
            Part::Record { sql, .. } => sql,
            Part::Control { sql, .. } => sql,
        }
    };
    let mut from = 0;
    while from < parts.len() {
        let mut to = from;
        let mut bytes = 0;
        while to < parts.len() {
            let more = text(&parts[to]).len() + SEPARATOR.len();
            if to > from && bytes + more > PACKET_BYTES {
                break;
            }
            bytes += more;
            to += 1;
            if matches!(parts[to - 1], Part::Statement(i) if !statements[i].one_answer) {
                break;
            }
        }
        let packet = &parts[from..to];
        let sql = packet.iter().map(text).collect::<Vec<_>>().join(SEPARATOR);
        read_back(conn, &sql, packet).await?;
        from = to;
    }
    Ok(())
}

/// Runs one packet and reads its answers, one result for each part but the last, which
/// may have several (a statement that is not [`Statement::one_answer`] is always last).
///
/// The driver keeps a server error of a result after the first until it is asked for that
/// result, so an error read while asking for part `i`'s is part `i`'s; only a lost
/// connection is returned at once, while the next part's result is being read. A packet
/// answered with fewer results than it has parts (a statement took in the text after it)
/// is refused, and each history write must have changed its row: a count that changed
/// nothing would say something the database does not hold.
async fn read_back<'p>(conn: &mut Conn, sql: &str, packet: &'p [Part]) -> Result<(), Failure<'p>> {
    let at = |i: usize| {
        move |error| Failure::Server {
            part: &packet[i],
            error,
        }
    };
    let last = packet.len() - 1;
    let mut result = conn.query_iter(sql).await.map_err(at(0))?;
    for (i, part) in packet[..last].iter().enumerate() {
        let rows = result.affected_rows();
        // No more results after this one: the server's last answer, unless this one is an
        // error (an error clears the server's flag of more to come).
        let no_more = result.is_empty();
        loop {
            match result.next().await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(error @ mysql_async::Error::Server(_)) => return Err(at(i)(error)),
                Err(error) => return Err(at(i + 1)(error)),
            }
        }
        if no_more {
            return Err(Failure::Unanswered(&packet[i + 1]));
        }
        changed_its_row(part, rows)?;
    }
    let rows = result.affected_rows();
    result.drop_result().await.map_err(at(last))?;
    changed_its_row(&packet[last], rows)
}

/// A history write that changed other than its one row fails the step.
fn changed_its_row(part: &Part, rows: u64) -> Result<(), Failure<'_>> {
    match part {
        Part::Record { action, .. } if rows != 1 => Err(Failure::NoRow { action, rows }),
        _ => Ok(()),
    }
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
