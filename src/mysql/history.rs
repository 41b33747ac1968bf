//! The applied history on MariaDB/MySQL: refinery's `refinery_schema_history` (with
//! `int8-versions`: `BIGINT`), so a refinery + mysql_async application is adopted as it is,
//! plus the progress of the step that is running, because DDL there commits by itself and
//! a step cannot be one transaction.
//!
//! Before a step its row is written `in progress` (with its direction and statement
//! count); after each statement commits, `statements_done` is raised; the row becomes
//! `applied` (up) or goes (down) once the last one did. A row still `in progress` is a
//! *dirty* database: statements `1..=done` of that step ran, the others did not (a process
//! killed between a statement's commit and the count's update leaves statement `done + 1`
//! run but not counted: the runbook says to check that one). Every run refuses a dirty
//! database until `repair` records what the operator made true by hand.
//!
//! refinery reads only its four columns, so to it a dirty row looks applied; schemagate
//! never counts it as applied.

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::literal;
use crate::applied::Applied;

/// refinery's table name.
pub(crate) const TABLE: &str = crate::applied::HISTORY_TABLE;

/// refinery's table with `int8-versions`, and the progress columns.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS refinery_schema_history(
    version BIGINT PRIMARY KEY,
    name VARCHAR(255),
    applied_on VARCHAR(255),
    checksum VARCHAR(255),
    state VARCHAR(16) NOT NULL DEFAULT 'applied',
    direction VARCHAR(4) NOT NULL DEFAULT 'up',
    statements_done INT NOT NULL DEFAULT 0,
    statements_total INT NOT NULL DEFAULT 0)";

/// The progress columns, added to a table refinery made.
const PROGRESS_COLUMNS: &[(&str, &str)] = &[
    ("state", "VARCHAR(16) NOT NULL DEFAULT 'applied'"),
    ("direction", "VARCHAR(4) NOT NULL DEFAULT 'up'"),
    ("statements_done", "INT NOT NULL DEFAULT 0"),
    ("statements_total", "INT NOT NULL DEFAULT 0"),
];

/// Which way a step goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Up,
    Down,
}

/// A step that started and did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dirty {
    pub version: i64,
    pub name: String,
    pub direction: Direction,
    /// Statements that ran and were counted.
    pub done: u32,
    /// Statements in the file.
    pub total: u32,
}

impl std::fmt::Display for Dirty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (done, total) = (self.done, self.total);
        let direction = match self.direction {
            Direction::Up => "applying",
            Direction::Down => "rolling back",
        };
        write!(
            f,
            "version {} ({}) stopped part way while {direction}: ",
            self.version, self.name
        )?;
        match done {
            0 => write!(f, "none of its {total} statements was recorded as run")?,
            1 => write!(f, "statement 1 of {total} ran")?,
            n => write!(f, "statements 1 to {n} of {total} ran")?,
        }
        if done < total {
            write!(f, "; statement {} may or may not have run", done + 1)?;
            if done + 1 < total {
                f.write_str(", the ones after it did not")?;
            }
        }
        Ok(())
    }
}

/// What the operator says the dirty version now is, whichever way its step was going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resolution {
    /// The migration's whole effect is in the database (`repair --applied`): its row
    /// becomes applied.
    Applied,
    /// None of it is (`repair --reverted`): its row goes.
    Reverted,
}

/// Reading or writing the history failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HistoryError {
    /// The server refused a query.
    #[error("cannot {action} {TABLE}: {message}")]
    Query {
        action: &'static str,
        message: String,
        connection_lost: bool,
    },
    /// `repair` was asked for a version that is not dirty.
    #[error("version {version} is not in progress in {TABLE}, so there is nothing to repair{}", .dirty.as_ref().map(|d| format!("; the dirty one is {d}")).unwrap_or_default())]
    NotDirty { version: i64, dirty: Option<Dirty> },
}

fn query(action: &'static str) -> impl FnOnce(mysql_async::Error) -> HistoryError {
    move |e| HistoryError::Query {
        action,
        message: super::error::describe(&e),
        connection_lost: super::error::connection_lost(&e),
    }
}

/// Creates the table unless it exists, and adds the progress columns to one refinery made.
/// Called under the lock.
pub(crate) async fn ensure_table(conn: &mut Conn) -> Result<(), HistoryError> {
    conn.query_drop(CREATE).await.map_err(query("create"))?;
    let present: Vec<String> = conn
        .query(format!(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{TABLE}'"
        ))
        .await
        .map_err(query("read the columns of"))?;
    for (column, definition) in PROGRESS_COLUMNS {
        if !present.iter().any(|p| p.eq_ignore_ascii_case(column)) {
            conn.query_drop(format!(
                "ALTER TABLE {TABLE} ADD COLUMN {column} {definition}"
            ))
            .await
            .map_err(query("add the progress columns to"))?;
        }
    }
    Ok(())
}

/// The history as one query reads it.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// The applied rows by version (a dirty one left out).
    pub applied: Vec<Applied>,
    /// The step left in progress, if any.
    pub dirty: Option<Dirty>,
}

/// A row as read with its progress: version, name, applied_on, checksum, state,
/// direction, statements done, statements in the file.
type Row = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    u32,
    u32,
);

/// A row of refinery's own columns: version, name, applied_on, checksum.
type RefineryRow = (i64, Option<String>, Option<String>, Option<String>);

/// The server's error for a column the table lacks.
const UNKNOWN_COLUMN: u16 = 1054;

/// The whole table in one query, which is asked as it is rather than after looking the
/// table and its columns up in `information_schema` (each look a round trip): a missing
/// table is an empty history, and refinery's table without the progress columns holds
/// only applied rows.
pub(crate) async fn load(conn: &mut Conn) -> Result<History, HistoryError> {
    let rows: Vec<Row> = match conn
        .query(format!(
            "SELECT version, name, applied_on, checksum, state, direction, statements_done, statements_total FROM {TABLE} ORDER BY version"
        ))
        .await
    {
        Ok(rows) => rows,
        Err(e) if super::audit::missing(&e) => return Ok(History::default()),
        Err(mysql_async::Error::Server(e)) if e.code == UNKNOWN_COLUMN => {
            return refinery_rows(conn).await;
        }
        Err(e) => return Err(query("read")(e)),
    };
    let mut history = History::default();
    for (version, name, applied_on, checksum, state, direction, done, total) in rows {
        if state == "applied" {
            history
                .applied
                .push(applied(version, name, applied_on, checksum));
        } else if history.dirty.is_none() {
            history.dirty = Some(Dirty {
                version,
                name: name.unwrap_or_default(),
                direction: if direction == "down" {
                    Direction::Down
                } else {
                    Direction::Up
                },
                done,
                total,
            });
        }
    }
    Ok(history)
}

/// The rows of a table refinery made (no progress columns: every row is applied).
async fn refinery_rows(conn: &mut Conn) -> Result<History, HistoryError> {
    let rows: Vec<RefineryRow> = conn
        .query(format!(
            "SELECT version, name, applied_on, checksum FROM {TABLE} ORDER BY version"
        ))
        .await
        .map_err(query("read"))?;
    Ok(History {
        applied: rows
            .into_iter()
            .map(|(version, name, applied_on, checksum)| {
                applied(version, name, applied_on, checksum)
            })
            .collect(),
        dirty: None,
    })
}

fn applied(
    version: i64,
    name: Option<String>,
    applied_on: Option<String>,
    checksum: Option<String>,
) -> Applied {
    Applied {
        version,
        name: name.unwrap_or_default(),
        applied_on: applied_on.unwrap_or_default(),
        checksum: checksum.and_then(|c| c.parse().ok()),
    }
}

/// The applied rows by version (dirty ones left out); empty when there is no table.
pub(crate) async fn read(conn: &mut Conn) -> Result<Vec<Applied>, HistoryError> {
    Ok(load(conn).await?.applied)
}

/// The step left in progress, if any.
pub(crate) async fn dirty(conn: &mut Conn) -> Result<Option<Dirty>, HistoryError> {
    Ok(load(conn).await?.dirty)
}

/// The server's clock as refinery writes `applied_on` (RFC 3339, UTC), read when the
/// statement runs: a step's writes are sent ahead of its statements in one packet.
const NOW: &str = "DATE_FORMAT(UTC_TIMESTAMP(6), '%Y-%m-%dT%H:%i:%s.%fZ')";

/// The write recording that a step starts: an up step's row is written `in progress`; a
/// down step's existing row becomes `in progress`. Both with the statement count and none
/// done. Each of these writes changes exactly one row.
pub(crate) fn begin(migration: &Applied, direction: Direction, total: u32) -> String {
    let version = migration.version;
    match direction {
        Direction::Up => format!(
            "INSERT INTO {TABLE} (version, name, applied_on, checksum, state, direction, statements_done, statements_total) \
             VALUES ({version}, {}, {NOW}, {}, 'in progress', 'up', 0, {total})",
            literal::string(&migration.name),
            migration
                .checksum
                .map_or_else(|| "NULL".to_owned(), |c| literal::string(&c.to_string())),
        ),
        Direction::Down => format!(
            "UPDATE {TABLE} SET state = 'in progress', direction = 'down', statements_done = 0, statements_total = {total} WHERE version = {version}"
        ),
    }
}

/// The write recording that `done` statements of `version`'s step have run.
pub(crate) fn progress(version: i64, done: u32) -> String {
    format!("UPDATE {TABLE} SET statements_done = {done} WHERE version = {version}")
}

/// The write recording that a step finished: an up step's row becomes `applied`; a down
/// step's goes.
pub(crate) fn finish(version: i64, direction: Direction) -> String {
    match direction {
        Direction::Up => format!(
            "UPDATE {TABLE} SET state = 'applied', statements_done = statements_total, applied_on = {NOW} WHERE version = {version}"
        ),
        Direction::Down => format!("DELETE FROM {TABLE} WHERE version = {version}"),
    }
}

/// Records `rows` as applied (baseline, adopt), all or none, the table created first.
pub(crate) async fn record_applied(conn: &mut Conn, rows: &[Applied]) -> Result<(), HistoryError> {
    ensure_table(conn).await?;
    let mut transaction = conn
        .start_transaction(mysql_async::TxOpts::default())
        .await
        .map_err(query("begin recording rows in"))?;
    for row in rows {
        transaction
            .exec_drop(
                format!(
                    "INSERT INTO {TABLE} (version, name, applied_on, checksum, state, direction, statements_done, statements_total) \
                     VALUES (?, ?, ?, ?, 'applied', 'up', 0, 0)"
                ),
                (
                    row.version,
                    row.name.as_str(),
                    if row.applied_on.is_empty() { now() } else { row.applied_on.clone() },
                    row.checksum.map(|c| c.to_string()),
                ),
            )
            .await
            .map_err(query("record rows in"))?;
    }
    transaction
        .commit()
        .await
        .map_err(query("commit the rows of"))
}

/// `repair --version V --applied|--reverted`: the dirty step of `version` recorded as the
/// operator made it. Refused when `version` is not the dirty one.
pub(crate) async fn repair(
    conn: &mut Conn,
    version: i64,
    resolution: Resolution,
) -> Result<Dirty, HistoryError> {
    let dirty = dirty(conn).await?;
    let Some(found) = dirty.clone().filter(|d| d.version == version) else {
        return Err(HistoryError::NotDirty { version, dirty });
    };
    match resolution {
        Resolution::Applied => {
            conn.exec_drop(
                format!(
                    "UPDATE {TABLE} SET state = 'applied', direction = 'up', statements_done = statements_total WHERE version = ?"
                ),
                (version,),
            )
            .await
        }
        Resolution::Reverted => {
            conn.exec_drop(format!("DELETE FROM {TABLE} WHERE version = ?"), (version,))
                .await
        }
    }
    .map_err(query("repair"))?;
    Ok(found)
}

/// Now, as refinery records `applied_on`.
fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}
