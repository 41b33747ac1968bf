//! Replicas of other releases, as rows of `schemagate_fleet`. The table is a contract
//! between releases (an old release's replicas write the rows a new release's gate reads),
//! so its layout is written here from docs/fleet.md and not taken from the crate: a change
//! to it fails the tests that read these rows.

use std::time::Duration;

use tokio_postgres::Client;

/// The table as docs/fleet.md describes it.
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

/// Records a live replica of release `version` on `host`, running on schema `[min, max]`
/// and refreshing every `refresh`, as its `serve` announces itself; creates the table
/// first when neither a gate nor a replica has yet.
pub async fn announce(
    client: &Client,
    version: &str,
    host: &str,
    (min, max): (i64, i64),
    refresh: Duration,
) {
    client
        .batch_execute(CREATE)
        .await
        .expect("create the fleet table");
    let refresh_ms = i64::try_from(refresh.as_millis()).expect("a refresh interval in ms");
    client
        .execute(
            "INSERT INTO schemagate_fleet (id, host, app_version, schema_min, schema_max, refresh_ms) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &format!("{version}-{host}"),
                &host,
                &format!("v{version}"),
                &min,
                &max,
                &refresh_ms,
            ],
        )
        .await
        .expect("announce a replica");
}
