//! `schemagate_schema` on SQLite ([`crate::drift`]): the columns of PostgreSQL's in
//! SQLite's types; `recorded_at` is UTC text.

use std::collections::BTreeSet;

use rusqlite::{Connection, OptionalExtension as _, params};

use super::error::SqliteError;
use super::history::has_table;
use crate::drift::{self, Recorded};

/// Created under the migration lock, at the first change that records.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS schemagate_schema (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    recorded_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    version     INTEGER NOT NULL,
    fingerprint TEXT    NOT NULL,
    description TEXT    NOT NULL,
    superseded  INTEGER NOT NULL DEFAULT 0
)";

/// Records `objects` as the description the change to `version` left.
pub(crate) fn record(
    connection: &Connection,
    version: i64,
    objects: &BTreeSet<String>,
) -> Result<(), SqliteError> {
    let failed = SqliteError::query("write schemagate_schema");
    connection.execute_batch(CREATE).map_err(&failed)?;
    connection
        .execute(
            "INSERT INTO schemagate_schema (version, fingerprint, description) VALUES (?1, ?2, ?3)",
            params![
                version,
                drift::fingerprint(objects),
                drift::canonical(objects)
            ],
        )
        .map(drop)
        .map_err(&failed)
}

/// Marks record `id` as superseded by a change under way, or (`false`) as describing the
/// schema again: the change that marked it left it as it was.
pub(crate) fn mark(connection: &Connection, id: i64, superseded: bool) -> Result<(), SqliteError> {
    connection
        .execute(
            "UPDATE schemagate_schema SET superseded = ?2 WHERE id = ?1",
            params![id, superseded],
        )
        .map(drop)
        .map_err(SqliteError::query("write schemagate_schema"))
}

/// The newest record; `None` when nothing was recorded yet.
pub(crate) fn latest(connection: &Connection) -> Result<Option<Recorded>, SqliteError> {
    let failed = SqliteError::query("read schemagate_schema");
    if !has_table(connection, drift::TABLE).map_err(&failed)? {
        return Ok(None);
    }
    connection
        .query_row(
            "SELECT id, recorded_at, version, fingerprint, description, superseded FROM schemagate_schema ORDER BY id DESC LIMIT 1",
            [],
            |r| {
                Ok(Recorded {
                    id: r.get(0)?,
                    recorded_at: r.get(1)?,
                    version: r.get(2)?,
                    fingerprint: r.get(3)?,
                    objects: drift::parse(&r.get::<_, String>(4)?).unwrap_or_default(),
                    superseded: r.get(5)?,
                })
            },
        )
        .optional()
        .map_err(&failed)
}
