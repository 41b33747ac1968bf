//! The fleet table on SQLite: `schemagate_fleet` with the columns of PostgreSQL's
//! ([`crate::fleet::table`]) in SQLite's types. Times are UTC text to the millisecond from
//! SQLite's own clock, the one clock of a single node. A read prunes the stale rows first,
//! in the same transaction, except on a read-only connection, which only filters them.

use rusqlite::{Connection, TransactionBehavior, params};

use super::error::SqliteError;
use super::history::has_table;
use crate::fleet::{Instance, Replica, TABLE};

/// The table; docs/fleet.md describes each column.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS schemagate_fleet (
    id          TEXT    PRIMARY KEY,
    host        TEXT    NOT NULL,
    app_version TEXT    NOT NULL,
    schema_min  INTEGER NOT NULL,
    schema_max  INTEGER NOT NULL,
    refresh_ms  INTEGER NOT NULL,
    started_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_seen   TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)";

/// A row is fresh until unseen for three of its own refresh intervals (DESIGN §14).
const FRESH: &str = "julianday(last_seen) >= julianday('now') - 3.0 * refresh_ms / 86400000.0";

/// Creates the table unless it exists.
pub(crate) fn ensure_table(connection: &Connection) -> Result<(), SqliteError> {
    connection
        .execute_batch(CREATE)
        .map_err(SqliteError::query("create schemagate_fleet"))
}

/// Records `instance` as live now (creating the table when it is missing); `started_at`
/// stays that of its first announce.
pub(crate) fn announce(connection: &Connection, instance: &Instance) -> Result<(), SqliteError> {
    ensure_table(connection)?;
    connection
        .execute(
            "INSERT INTO schemagate_fleet (id, host, app_version, schema_min, schema_max, refresh_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, app_version = excluded.app_version, \
             schema_min = excluded.schema_min, schema_max = excluded.schema_max, \
             refresh_ms = excluded.refresh_ms, last_seen = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            params![
                instance.id,
                instance.host,
                instance.app_version,
                instance.min,
                instance.max,
                instance.refresh_ms()
            ],
        )
        .map(drop)
        .map_err(SqliteError::query("announce this instance in schemagate_fleet"))
}

/// Removes an instance's row (graceful shutdown); nothing to do without the table.
pub(crate) fn leave(connection: &Connection, id: &str) -> Result<(), SqliteError> {
    let failed = SqliteError::query("leave schemagate_fleet");
    if !has_table(connection, TABLE).map_err(&failed)? {
        return Ok(());
    }
    connection
        .execute("DELETE FROM schemagate_fleet WHERE id = ?1", [id])
        .map(drop)
        .map_err(failed)
}

/// The live rows, ordered by release, host and id, after deleting the stale ones. Without
/// the table there are none, and it is not created.
pub(crate) fn live(connection: &mut Connection) -> Result<Vec<Replica>, SqliteError> {
    let failed = SqliteError::query("read schemagate_fleet");
    if !has_table(connection, TABLE).map_err(&failed)? {
        return Ok(Vec::new());
    }
    let writable = !connection.is_readonly(rusqlite::MAIN_DB).map_err(&failed)?;
    let transaction = connection
        .transaction_with_behavior(if writable {
            TransactionBehavior::Immediate
        } else {
            TransactionBehavior::Deferred
        })
        .map_err(&failed)?;
    if writable {
        transaction
            .execute(
                &format!("DELETE FROM schemagate_fleet WHERE NOT ({FRESH})"),
                [],
            )
            .map_err(&failed)?;
    }
    let replicas = {
        let mut statement = transaction
            .prepare(&format!(
                "SELECT id, host, app_version, schema_min, schema_max, refresh_ms, \
                 strftime('%Y-%m-%dT%H:%M:%SZ', started_at), strftime('%Y-%m-%dT%H:%M:%SZ', last_seen) \
                 FROM schemagate_fleet WHERE {FRESH} ORDER BY app_version, host, id"
            ))
            .map_err(&failed)?;
        let rows = statement
            .query_map([], |r| {
                Ok(Replica {
                    id: r.get(0)?,
                    host: r.get(1)?,
                    app_version: r.get(2)?,
                    min: r.get(3)?,
                    max: r.get(4)?,
                    refresh_ms: r.get(5)?,
                    started_at: r.get(6)?,
                    last_seen: r.get(7)?,
                })
            })
            .map_err(&failed)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&failed)?
    };
    transaction.commit().map_err(failed)?;
    Ok(replicas)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn instance(id: &str, version: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            host: "pi".to_owned(),
            app_version: version.to_owned(),
            min: 2,
            max: 5,
            refresh: Duration::from_secs(10),
        }
    }

    #[test]
    fn instances_announce_refresh_go_stale_and_leave() {
        let dir = tempfile::tempdir().unwrap();
        let mut connection = Connection::open(dir.path().join("f.db")).unwrap();
        assert_eq!(live(&mut connection).unwrap(), []);
        announce(&connection, &instance("b", "v1.1.0")).unwrap();
        announce(&connection, &instance("a", "v1.0.0")).unwrap();
        announce(&connection, &instance("a", "v1.0.0")).unwrap();
        let rows = live(&mut connection).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            (rows[0].min, rows[0].max, rows[0].refresh_ms),
            (2, 5, 10_000)
        );
        // Unseen for more than three intervals: pruned by the next read.
        connection
            .execute(
                "UPDATE schemagate_fleet SET last_seen = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-31 seconds') WHERE id = 'b'",
                [],
            )
            .unwrap();
        assert_eq!(live(&mut connection).unwrap().len(), 1);
        let left: i64 = connection
            .query_row("SELECT count(*) FROM schemagate_fleet", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 1, "the stale row is deleted, not only hidden");
        leave(&connection, "a").unwrap();
        assert_eq!(live(&mut connection).unwrap(), []);
    }
}
