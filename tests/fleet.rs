//! The fleet (issue 16, DESIGN §14) against PostgreSQL: the library, then real processes.
//!
//! - [`table`]: `schemagate_fleet` rows announced, refreshed, pruned and removed; the table
//!   created by replicas racing each other, and never taken for the user's schema.
//! - [`admission`]: admission judged on live rows; `--fleet-wait`'s loop.
//! - [`deploy`]: real `serve` replicas and `migrate` Jobs of two releases in a rolling
//!   deploy: refusal, `--fleet-wait`, background migration, widening, staleness,
//!   `--ignore-fleet`, and a Job's failure seen by a serving replica.
//! - [`refresh`]: a refresh that announces this instance, shows the fleet in `/health` and
//!   `/metrics`, and counts failures and rollbacks from the audit trail.

mod admission;
mod deploy;
mod refresh;
mod table;

use std::time::Duration;

use schemagate::Compat;
use schemagate::internals::Instance;
use tokio_postgres::Client;

/// Release 1.4.0 on [4, 5] with `releases` appended (the repository's example window).
pub fn compat(releases: &str) -> Compat {
    Compat::parse(
        "compat.toml",
        &format!("[app]\nversion = \"1.4.0\"\n[schema]\nmin = 4\nmax = 5\n{releases}"),
    )
    .unwrap()
}

/// An instance of another release, on `host`, refreshing every `refresh`.
pub fn instance(version: &str, host: &str, (min, max): (i64, i64), refresh: Duration) -> Instance {
    let release = Compat::parse(
        "compat.toml",
        &format!("[app]\nversion = \"{version}\"\n[schema]\nmin = {min}\nmax = {max}\n"),
    )
    .unwrap();
    Instance {
        host: host.to_owned(),
        ..Instance::new(&release, refresh).unwrap()
    }
}

pub fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub async fn rows(client: &Client) -> i64 {
    client
        .query_one("SELECT count(*) FROM schemagate_fleet", &[])
        .await
        .unwrap()
        .get(0)
}

pub async fn table_exists(client: &Client) -> bool {
    client
        .query_one("SELECT to_regclass('schemagate_fleet') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0)
}
