//! `schemagate_schema` in MySQL's types ([`crate::drift`]): the description each change
//! left, `recorded_at` in UTC.

use std::collections::BTreeSet;

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;

use super::audit::{TableError, failed, missing, rfc3339};
use crate::drift::{self, Recorded};

/// Created under the migration lock, at the first change that records.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS schemagate_schema (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    recorded_at DATETIME(6) NOT NULL DEFAULT UTC_TIMESTAMP(6),
    version     BIGINT      NOT NULL,
    fingerprint CHAR(64)    NOT NULL,
    description LONGTEXT    NOT NULL,
    superseded  BOOLEAN     NOT NULL DEFAULT FALSE
) ENGINE=InnoDB";

/// Records `objects` as the description the change to `version` left.
pub(crate) async fn record(
    conn: &mut Conn,
    version: i64,
    objects: &BTreeSet<String>,
) -> Result<(), TableError> {
    conn.query_drop(CREATE)
        .await
        .map_err(failed(drift::TABLE, "create"))?;
    conn.exec_drop(
        "INSERT INTO schemagate_schema (version, fingerprint, description) VALUES (?, ?, ?)",
        (
            version,
            drift::fingerprint(objects),
            drift::canonical(objects),
        ),
    )
    .await
    .map_err(failed(drift::TABLE, "write"))
}

/// Marks record `id` as superseded by a change under way, or (`false`) as describing the
/// schema again: the change that marked it left it as it was.
pub(crate) async fn mark(conn: &mut Conn, id: i64, superseded: bool) -> Result<(), TableError> {
    conn.exec_drop(
        "UPDATE schemagate_schema SET superseded = ? WHERE id = ?",
        (superseded, id),
    )
    .await
    .map_err(failed(drift::TABLE, "write"))
}

/// The newest record; `None` without the table or a row.
pub(crate) async fn latest(conn: &mut Conn) -> Result<Option<Recorded>, TableError> {
    let query = format!(
        "SELECT id, {}, version, fingerprint, description, superseded FROM schemagate_schema ORDER BY id DESC LIMIT 1",
        rfc3339("recorded_at")
    );
    let row: Option<(i64, String, i64, String, String, bool)> = match conn.query_first(query).await
    {
        Err(e) if missing(&e) => return Ok(None),
        other => other.map_err(failed(drift::TABLE, "read"))?,
    };
    Ok(row.map(
        |(id, recorded_at, version, fingerprint, description, superseded)| Recorded {
            id,
            recorded_at,
            version,
            fingerprint,
            objects: drift::parse(&description).unwrap_or_default(),
            superseded,
        },
    ))
}
