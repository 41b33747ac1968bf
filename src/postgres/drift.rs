//! PostgreSQL's `schemagate_schema` table ([`crate::drift`]): the description the gate
//! left after each change, written under the lock, read by `status`, `diff`, the gate and
//! the refresh.

use std::collections::BTreeSet;

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::drift::{self, Recorded};

/// Created under the migration lock, at the first change that records.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS schemagate_schema (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    version     int8        NOT NULL,
    fingerprint text        NOT NULL,
    description text        NOT NULL,
    superseded  boolean     NOT NULL DEFAULT false
)";

/// Records `objects` as the description the change to `version` left.
pub(crate) async fn record(
    client: &Client,
    version: i64,
    objects: &BTreeSet<String>,
) -> Result<(), tokio_postgres::Error> {
    super::db::create_table_unless_exists(client, drift::TABLE, CREATE).await?;
    client
        .execute(
            "INSERT INTO schemagate_schema (version, fingerprint, description) VALUES ($1, $2, $3)",
            &[
                &version,
                &drift::fingerprint(objects),
                &drift::canonical(objects),
            ],
        )
        .await
        .map(drop)
}

/// Marks record `id` as superseded by a change under way, or (`false`) as describing the
/// schema again: the change that marked it left it as it was.
pub(crate) async fn mark(
    client: &Client,
    id: i64,
    superseded: bool,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE schemagate_schema SET superseded = $2 WHERE id = $1",
            &[&id, &superseded],
        )
        .await
        .map(drop)
}

/// The newest record; `None` when nothing was recorded yet (no table, or no row).
pub(crate) async fn latest(client: &Client) -> Result<Option<Recorded>, tokio_postgres::Error> {
    let query = "SELECT id, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), version, \
                 fingerprint, description, superseded FROM schemagate_schema ORDER BY id DESC LIMIT 1";
    let row = match client.query_opt(query, &[]).await {
        Ok(row) => row,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(row.map(|row| Recorded {
        id: row.get(0),
        recorded_at: row.get(1),
        version: row.get(2),
        fingerprint: row.get(3),
        objects: drift::parse(row.get(4)).unwrap_or_default(),
        superseded: row.get(5),
    }))
}
