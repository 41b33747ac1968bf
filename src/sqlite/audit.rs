//! The audit trail on SQLite: `schemagate_audit` with the columns of PostgreSQL's
//! ([`crate::audit`]) in SQLite's types. `id` is `AUTOINCREMENT`, so an id is never used
//! twice even after the newest rows are deleted (a restore puts them back by id), as
//! PostgreSQL's identity column guarantees; `at` is UTC text to the millisecond.

use rusqlite::{Connection, params};

use super::error::SqliteError;
use super::history::has_table;
use crate::audit::{Entry, Recorded, Totals};

/// Created under the migration lock, like the history.
pub(crate) const CREATE: &str = "CREATE TABLE IF NOT EXISTS schemagate_audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    action       TEXT    NOT NULL,
    app_version  TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    from_version INTEGER NOT NULL,
    to_version   INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    backup_file  TEXT,
    outcome      TEXT    NOT NULL
)";

/// The table's name.
const TABLE: &str = "schemagate_audit";

/// Its columns, for copying rows as they are.
pub(crate) const COLUMNS: &str = "id, at, action, app_version, host, from_version, to_version, duration_ms, backup_file, outcome";

/// Creates the table unless it exists (under the migration lock).
pub(crate) fn ensure_table(connection: &Connection) -> Result<(), SqliteError> {
    connection
        .execute_batch(CREATE)
        .map_err(SqliteError::query("create schemagate_audit"))
}

/// Records a change, creating the table when it is missing.
pub(crate) fn record(connection: &Connection, entry: &Entry) -> Result<(), SqliteError> {
    ensure_table(connection)?;
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let duration_ms = i64::try_from(entry.duration.as_millis()).unwrap_or(i64::MAX);
    connection
        .execute(
            "INSERT INTO schemagate_audit (action, app_version, host, from_version, to_version, duration_ms, backup_file, outcome) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![entry.action, entry.app_version, host, entry.from, entry.to, duration_ms, entry.backup_file, entry.outcome],
        )
        .map(drop)
        .map_err(SqliteError::query("write schemagate_audit"))
}

/// The latest `limit` entries, newest first; empty when nothing was recorded yet.
pub(crate) fn recent(connection: &Connection, limit: i64) -> Result<Vec<Recorded>, SqliteError> {
    let failed = SqliteError::query("read schemagate_audit");
    if !has_table(connection, TABLE).map_err(&failed)? {
        return Ok(Vec::new());
    }
    let mut statement = connection
        .prepare(
            "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', at), action, app_version, host, from_version, to_version, \
             duration_ms, backup_file, outcome FROM schemagate_audit ORDER BY id DESC LIMIT ?1",
        )
        .map_err(&failed)?;
    let rows = statement
        .query_map([limit], |r| {
            Ok(Recorded {
                at: r.get(0)?,
                action: r.get(1)?,
                app_version: r.get(2)?,
                host: r.get(3)?,
                from: r.get(4)?,
                to: r.get(5)?,
                duration_ms: r.get(6)?,
                backup_file: r.get(7)?,
                outcome: r.get(8)?,
            })
        })
        .map_err(&failed)?;
    rows.collect::<Result<_, _>>().map_err(failed)
}

/// The [`Totals`] of the whole trail; zero when nothing was recorded yet.
pub(crate) fn totals(connection: &Connection) -> Result<Totals, SqliteError> {
    let failed = SqliteError::query("count schemagate_audit");
    if !has_table(connection, TABLE).map_err(&failed)? {
        return Ok(Totals::default());
    }
    connection
        .query_row(
            "SELECT count(*) FILTER (WHERE action IN ('migrate', 'rollback') AND outcome LIKE 'failed%'), \
             count(*) FILTER (WHERE action = 'rollback' AND outcome LIKE 'ok%') FROM schemagate_audit",
            [],
            |row| {
                let count = |i| row.get::<_, i64>(i).map(|n| u64::try_from(n).unwrap_or_default());
                Ok(Totals {
                    migration_failures: count(0)?,
                    rollbacks: count(1)?,
                })
            },
        )
        .map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn entry(action: &'static str, outcome: &str) -> Entry {
        Entry {
            action,
            app_version: "v1.2.0".into(),
            from: 1,
            to: 20_240_120_120_000,
            duration: Duration::from_millis(1500),
            backup_file: Some("app-schema1-x.dump".into()),
            outcome: outcome.into(),
        }
    }

    #[test]
    fn changes_are_recorded_read_newest_first_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let connection = Connection::open(dir.path().join("a.db")).unwrap();
        assert!(recent(&connection, 5).unwrap().is_empty());
        assert_eq!(totals(&connection).unwrap(), Totals::default());
        record(&connection, &entry("migrate", "ok")).unwrap();
        record(&connection, &entry("migrate", "failed at version 3: x")).unwrap();
        record(&connection, &entry("rollback", "ok")).unwrap();
        let rows = recent(&connection, 2).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].action, "rollback");
        assert_eq!(rows[1].outcome, "failed at version 3: x");
        assert_eq!(rows[0].to, 20_240_120_120_000);
        assert_eq!(rows[0].duration_ms, 1500);
        assert!(
            rows[0].at.ends_with('Z') && rows[0].at.len() == 20,
            "{}",
            rows[0].at
        );
        assert_eq!(
            totals(&connection).unwrap(),
            Totals {
                migration_failures: 1,
                rollbacks: 1
            }
        );
    }
}
