//! PostgreSQL's `schemagate_fleet` table ([`crate::fleet`]): one row per serving instance, written by the instance
//! itself and pruned by whoever finds it stale.
//!
//! Every time is the server's `now()`, written and compared on the server, so replicas
//! whose clocks disagree still agree on which rows are stale.
//!
//! The gate creates the table under the migration lock, like the history and the audit
//! trail. A serving replica announces itself without the lock, so [`ensure_table`] must
//! survive replicas creating it at the same instant: two concurrent
//! `CREATE TABLE IF NOT EXISTS` can both miss the other's uncommitted table, and the
//! second then fails on the catalogue's unique index (`pg_type_typname_nsp_index`,
//! SQLSTATE 23505) once the first commits; that failure means the table exists.

use std::sync::LazyLock;

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient};

use crate::fleet::{FleetError, Instance, Replica, TABLE};

/// The table; docs/fleet.md describes each column.
const CREATE: &str = "CREATE TABLE IF NOT EXISTS schemagate_fleet (
    id          text        PRIMARY KEY,
    host        text        NOT NULL,
    app_version text        NOT NULL,
    schema_min  int8        NOT NULL,
    schema_max  int8        NOT NULL,
    refresh_ms  int8        NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    last_seen   timestamptz NOT NULL DEFAULT now()
)";

/// The upsert of [`announce`]: `started_at` stays that of the first announce.
const ANNOUNCE: &str = "INSERT INTO schemagate_fleet (id, host, app_version, schema_min, schema_max, refresh_ms) \
    VALUES ($1, $2, $3, $4, $5, $6) \
    ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, app_version = EXCLUDED.app_version, \
    schema_min = EXCLUDED.schema_min, schema_max = EXCLUDED.schema_max, \
    refresh_ms = EXCLUDED.refresh_ms, last_seen = now()";

/// A row is fresh until unseen for three of its own refresh intervals (DESIGN §14).
const FRESH: &str = "last_seen >= now() - 3 * refresh_ms * interval '1 millisecond'";

/// One statement, one round trip: the data-modifying `WITH` runs whether or not the
/// query reads it, and the `SELECT` sees the table as it was before, hence its own filter.
static LIVE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH pruned AS (DELETE FROM schemagate_fleet WHERE NOT ({FRESH})) \
         SELECT id, host, app_version, schema_min, schema_max, refresh_ms, \
         to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
         to_char(last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
         FROM schemagate_fleet WHERE {FRESH} ORDER BY app_version, host, id"
    )
});

/// Creates the table unless it exists; safe with any number of instances doing the same
/// at once (see the module docs). Inside a transaction, losing that race aborts it.
pub(crate) async fn ensure_table(client: &impl GenericClient) -> Result<(), FleetError> {
    match super::db::create_table_unless_exists(client, TABLE, CREATE).await {
        Err(e) if lost_the_race(&e) => Ok(()),
        other => other.map_err(query("create")),
    }
}

/// A query failure while doing `action`, described as PostgreSQL describes it.
fn query(action: &'static str) -> impl FnOnce(tokio_postgres::Error) -> FleetError {
    move |source| FleetError::Query {
        action,
        message: super::db::describe(&source),
        source: Box::new(source),
    }
}

/// Whether creating the table failed only because a concurrent session created it first:
/// a unique violation on `pg_type` while it was in flight, or its row type (42710) or the
/// table itself (42P07) already there once it committed.
fn lost_the_race(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::DUPLICATE_TABLE
            || *code == SqlState::DUPLICATE_OBJECT
    })
}

/// Records `instance` as live now: inserts its row, or refreshes `last_seen` (and the
/// rest, in case a restart reused nothing but a restored row). Creates the table when it
/// is missing (a serving replica may be the first to come, before any gate ran).
pub(crate) async fn announce(client: &Client, instance: &Instance) -> Result<(), FleetError> {
    match upsert(client, instance).await {
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => {
            ensure_table(client).await?;
            upsert(client, instance)
                .await
                .map_err(query("announce this instance in"))
        }
        other => other.map_err(query("announce this instance in")),
    }
}

async fn upsert(client: &Client, instance: &Instance) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            ANNOUNCE,
            &[
                &instance.id,
                &instance.host,
                &instance.app_version,
                &instance.min,
                &instance.max,
                &instance.refresh_ms(),
            ],
        )
        .await
        .map(drop)
}

/// Removes an instance's row (graceful shutdown); nothing to do without the table.
pub(crate) async fn leave(client: &Client, id: &str) -> Result<(), FleetError> {
    match client
        .execute("DELETE FROM schemagate_fleet WHERE id = $1", &[&id])
        .await
    {
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(()),
        other => other.map(drop).map_err(query("leave")),
    }
}

/// The live rows, ordered by release, host and id, after deleting the stale ones, in one
/// statement. Without the table there are none, and it is not created: a read never
/// creates a table outside the lock.
pub(crate) async fn live(client: &Client) -> Result<Vec<Replica>, FleetError> {
    let rows = match client.query(LIVE.as_str(), &[]).await {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => return Ok(Vec::new()),
        Err(e) => return Err(query("read")(e)),
    };
    Ok(rows
        .iter()
        .map(|r| Replica {
            id: r.get(0),
            host: r.get(1),
            app_version: r.get(2),
            min: r.get(3),
            max: r.get(4),
            refresh_ms: r.get(5),
            started_at: r.get(6),
            last_seen: r.get(7),
        })
        .collect())
}

#[cfg(test)]
mod tests;
