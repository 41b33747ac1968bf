//! The audit trail (`schemagate_audit`) and the fleet (`schemagate_fleet`) in MySQL's types:
//! the same rows, meanings and queries as PostgreSQL's (`crate::audit`, `crate::fleet`),
//! times in UTC written and compared on the server.

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use crate::audit::{Entry, Recorded, Totals};
use crate::fleet::{Instance, Replica, TABLE};

/// The server's "table does not exist".
const NO_SUCH_TABLE: u16 = 1146;

/// Created under the migration lock, like the history.
const CREATE_AUDIT: &str = "CREATE TABLE IF NOT EXISTS schemagate_audit (
    id           BIGINT AUTO_INCREMENT PRIMARY KEY,
    at           DATETIME(6)  NOT NULL DEFAULT UTC_TIMESTAMP(6),
    action       VARCHAR(32)  NOT NULL,
    app_version  VARCHAR(255) NOT NULL,
    host         VARCHAR(255) NOT NULL,
    from_version BIGINT       NOT NULL,
    to_version   BIGINT       NOT NULL,
    duration_ms  BIGINT       NOT NULL,
    backup_file  TEXT,
    outcome      TEXT         NOT NULL
) ENGINE=InnoDB";

/// Created by the first gate or serving replica; docs/fleet.md describes each column.
const CREATE_FLEET: &str = "CREATE TABLE IF NOT EXISTS schemagate_fleet (
    id          VARCHAR(64)  PRIMARY KEY,
    host        VARCHAR(255) NOT NULL,
    app_version VARCHAR(255) NOT NULL,
    schema_min  BIGINT       NOT NULL,
    schema_max  BIGINT       NOT NULL,
    refresh_ms  BIGINT       NOT NULL,
    started_at  DATETIME(6)  NOT NULL DEFAULT UTC_TIMESTAMP(6),
    last_seen   DATETIME(6)  NOT NULL DEFAULT UTC_TIMESTAMP(6)
) ENGINE=InnoDB";

/// A row is fresh until unseen for three of its own refresh intervals (DESIGN §14).
const FRESH: &str = "last_seen >= UTC_TIMESTAMP(6) - INTERVAL (3 * refresh_ms * 1000) MICROSECOND";

/// UTC as RFC 3339, to the second.
pub(super) fn rfc3339(column: &str) -> String {
    format!("DATE_FORMAT({column}, '%Y-%m-%dT%H:%i:%sZ')")
}

/// A query on the audit or fleet table failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {table}: {message}")]
pub(crate) struct TableError {
    table: &'static str,
    action: &'static str,
    message: String,
    /// Whether the session is gone.
    pub connection_lost: bool,
}

pub(super) fn failed(
    table: &'static str,
    action: &'static str,
) -> impl FnOnce(mysql_async::Error) -> TableError {
    move |e| TableError {
        table,
        action,
        message: super::error::describe(&e),
        connection_lost: super::error::connection_lost(&e),
    }
}

/// Whether a query failed because the table is not there yet.
pub(super) fn missing(error: &mysql_async::Error) -> bool {
    matches!(error, mysql_async::Error::Server(e) if e.code == NO_SUCH_TABLE)
}

/// Records a change, creating the table first.
pub(crate) async fn record(conn: &mut Conn, entry: &Entry) -> Result<(), TableError> {
    conn.query_drop(CREATE_AUDIT)
        .await
        .map_err(failed("schemagate_audit", "create"))?;
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let duration_ms = i64::try_from(entry.duration.as_millis()).unwrap_or(i64::MAX);
    conn.exec_drop(
        "INSERT INTO schemagate_audit (action, app_version, host, from_version, to_version, duration_ms, backup_file, outcome) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            entry.action,
            entry.app_version.as_str(),
            host,
            entry.from,
            entry.to,
            duration_ms,
            entry.backup_file.as_deref(),
            entry.outcome.as_str(),
        ),
    )
    .await
    .map_err(failed("schemagate_audit", "write"))
}

/// An audit row as read.
type AuditRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    String,
);

/// The latest `limit` entries, newest first; none without the table.
pub(crate) async fn recent(conn: &mut Conn, limit: i64) -> Result<Vec<Recorded>, TableError> {
    let query = format!(
        "SELECT {}, action, app_version, host, from_version, to_version, duration_ms, backup_file, outcome \
         FROM schemagate_audit ORDER BY id DESC LIMIT ?",
        rfc3339("at")
    );
    let rows: Vec<AuditRow> = match conn.exec(query, (limit,)).await {
        Err(e) if missing(&e) => return Ok(Vec::new()),
        other => other.map_err(failed("schemagate_audit", "read"))?,
    };
    Ok(rows
        .into_iter()
        .map(
            |(at, action, app_version, host, from, to, duration_ms, backup_file, outcome)| {
                Recorded {
                    at,
                    action,
                    app_version,
                    host,
                    from,
                    to,
                    duration_ms,
                    backup_file,
                    outcome,
                }
            },
        )
        .collect())
}

/// The counters `/metrics` derives from the trail; zero without the table.
pub(crate) async fn totals(conn: &mut Conn) -> Result<Totals, TableError> {
    let query = "SELECT \
        CAST(IFNULL(SUM(action IN ('migrate', 'rollback') AND outcome LIKE 'failed%'), 0) AS SIGNED), \
        CAST(IFNULL(SUM(action = 'rollback' AND outcome LIKE 'ok%'), 0) AS SIGNED) FROM schemagate_audit";
    let row: Option<(i64, i64)> = match conn.query_first(query).await {
        Err(e) if missing(&e) => return Ok(Totals::default()),
        other => other.map_err(failed("schemagate_audit", "count"))?,
    };
    let (failures, rollbacks) = row.unwrap_or_default();
    Ok(Totals {
        migration_failures: u64::try_from(failures).unwrap_or_default(),
        rollbacks: u64::try_from(rollbacks).unwrap_or_default(),
    })
}

/// Records `instance` as live now, creating the table when it is missing (a serving
/// replica may come before any gate ran; `IF NOT EXISTS` is safe when several do at once).
pub(crate) async fn announce(conn: &mut Conn, instance: &Instance) -> Result<(), TableError> {
    conn.query_drop(CREATE_FLEET)
        .await
        .map_err(failed(TABLE, "create"))?;
    conn.exec_drop(
        "INSERT INTO schemagate_fleet (id, host, app_version, schema_min, schema_max, refresh_ms) VALUES (?, ?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE host = VALUES(host), app_version = VALUES(app_version), schema_min = VALUES(schema_min), \
         schema_max = VALUES(schema_max), refresh_ms = VALUES(refresh_ms), last_seen = UTC_TIMESTAMP(6)",
        (
            instance.id.as_str(),
            instance.host.as_str(),
            instance.app_version.as_str(),
            instance.min,
            instance.max,
            instance.refresh_ms(),
        ),
    )
    .await
    .map_err(failed(TABLE, "announce this instance in"))
}

/// Removes an instance's row; nothing to do without the table.
pub(crate) async fn leave(conn: &mut Conn, id: &str) -> Result<(), TableError> {
    match conn
        .exec_drop("DELETE FROM schemagate_fleet WHERE id = ?", (id,))
        .await
    {
        Err(e) if missing(&e) => Ok(()),
        other => other.map_err(failed(TABLE, "leave")),
    }
}

/// A fleet row as read.
type FleetRow = (String, String, String, i64, i64, i64, String, String);

/// The live rows by release, host and id, after deleting the stale ones; none without the
/// table (a read never creates it).
pub(crate) async fn live(conn: &mut Conn) -> Result<Vec<Replica>, TableError> {
    match conn
        .query_drop(format!("DELETE FROM schemagate_fleet WHERE NOT ({FRESH})"))
        .await
    {
        Err(e) if missing(&e) => return Ok(Vec::new()),
        other => other.map_err(failed(TABLE, "prune"))?,
    }
    let rows: Vec<FleetRow> = conn
        .query(format!(
            "SELECT id, host, app_version, schema_min, schema_max, refresh_ms, {}, {} FROM schemagate_fleet \
             WHERE {FRESH} ORDER BY app_version, host, id",
            rfc3339("started_at"),
            rfc3339("last_seen")
        ))
        .await
        .map_err(failed(TABLE, "read"))?;
    Ok(rows
        .into_iter()
        .map(
            |(id, host, app_version, min, max, refresh_ms, started_at, last_seen)| Replica {
                id,
                host,
                app_version,
                min,
                max,
                refresh_ms,
                started_at,
                last_seen,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mysql::testing::TestDatabase;

    #[tokio::test]
    async fn the_trail_records_changes_and_counts_failures_and_rollbacks() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        assert!(recent(&mut conn, 5).await.unwrap().is_empty());
        assert_eq!(totals(&mut conn).await.unwrap(), Totals::default());
        let entry = |action, outcome: &str| Entry {
            action,
            app_version: "v1.2.0".into(),
            from: 3,
            to: 5,
            duration: Duration::from_millis(1500),
            backup_file: Some("app-schema3.dump".into()),
            outcome: outcome.into(),
        };
        record(&mut conn, &entry("migrate", "failed at version 5"))
            .await
            .unwrap();
        record(&mut conn, &entry("rollback", "ok")).await.unwrap();
        let rows = recent(&mut conn, 1).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].action.as_str(), rows[0].duration_ms),
            ("rollback", 1500)
        );
        assert!(
            rows[0].at.ends_with('Z') && rows[0].at.len() == 20,
            "{}",
            rows[0].at
        );
        assert_eq!(
            totals(&mut conn).await.unwrap(),
            Totals {
                migration_failures: 1,
                rollbacks: 1
            }
        );
    }

    #[tokio::test]
    async fn replicas_announce_themselves_leave_and_go_stale() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        assert!(live(&mut conn).await.unwrap().is_empty());
        let instance = |id: &str, refresh| Instance {
            id: id.into(),
            host: "h".into(),
            app_version: "v1.0.0".into(),
            min: 1,
            max: 4,
            refresh,
        };
        announce(&mut conn, &instance("a", Duration::from_secs(60)))
            .await
            .unwrap();
        announce(&mut conn, &instance("a", Duration::from_secs(60)))
            .await
            .unwrap();
        announce(&mut conn, &instance("b", Duration::from_millis(10)))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ids: Vec<String> = live(&mut conn)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["a"], "b is stale after three of its 10 ms intervals");
        leave(&mut conn, "a").await.unwrap();
        assert!(live(&mut conn).await.unwrap().is_empty());
    }
}
