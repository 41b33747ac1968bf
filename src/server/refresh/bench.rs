//! bench/run.sh row 16c (issue 16): what the fleet adds to one background refresh. Ignored
//! by `cargo test`; bench/run.sh runs it on a release build:
//!
//! `SCHEMAGATE_BENCH_FLEET_URL=… SCHEMAGATE_BENCH_BARE_URL=… cargo test --release --lib --
//! --ignored --exact --nocapture server::refresh::bench::one_refresh_with_the_fleet_and_without`
//!
//! Both databases hold the same migrated schema. On the fleet's the refresher is a serving
//! replica: every refresh announces it in `schemagate_fleet` (an upsert and its commit) and
//! reads 50 live replicas of another release besides its own row. On the bare one it is a
//! refresher without an instance on a database without the table: the refresh as it would
//! be without the fleet (its read of the table finds none and costs one catalogue lookup).
//! Both are [`Refresher::once`], alternating round by round (`SCHEMAGATE_BENCH_ROUNDS`, 500
//! by default); the medians are printed in microseconds as `fleet_us=N bare_us=N replicas=N`.
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::Refresher;
use crate::config::Compat;
use crate::fleet::Instance;
use crate::fleet::testing::instance;
use crate::postgres::connection::Connection;
use crate::postgres::{db, fleet};
use crate::server::health::{Health, Judge};
use crate::server::metrics::Metrics;
use crate::testing::{bench_setting, median};

/// The release of the refreshing replica: examples/embedded's window.
const COMPAT: &str = "[app]\nversion = \"0.2.0\"\n[schema]\nmin = 1\nmax = 2\n";
/// The other release, with live replicas in the fleet: its version and window.
const OTHER: (&str, (i64, i64)) = ("0.1.0", (1, 2));
/// How many replicas of the other release are live.
const REPLICAS: usize = 50;
/// The refresh interval: long, so no row goes stale during the run.
const INTERVAL: Duration = Duration::from_secs(3600);
/// How the bench's sessions name themselves.
const APPLICATION_NAME: &str = "schemagate-bench";

#[tokio::test]
#[ignore = "a benchmark: bench/run.sh row 16c runs it on a release build"]
async fn one_refresh_with_the_fleet_and_without() {
    let fleet_url = bench_setting("SCHEMAGATE_BENCH_FLEET_URL", "the migrated fleet database");
    let bare_url = bench_setting(
        "SCHEMAGATE_BENCH_BARE_URL",
        "a migrated database without the fleet",
    );
    let rounds: usize = std::env::var("SCHEMAGATE_BENCH_ROUNDS").map_or(500, |r| {
        r.parse().expect("SCHEMAGATE_BENCH_ROUNDS is a number")
    });
    let compat = Compat::parse("compat.toml", COMPAT).expect("the bench's compat.toml");
    let fleet_client = connect(&fleet_url).await;
    others(&fleet_client).await;
    let this = Instance::new(&compat, INTERVAL).expect("an instance id");
    let mut with_fleet = refresher(&fleet_url, &compat, Some(this));
    let mut bare = refresher(&bare_url, &compat, None);
    // One untimed refresh each: the pools connect, the table gets this replica's row.
    with_fleet.once().await;
    bare.once().await;
    let (mut fleet_us, mut bare_us) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        fleet_us.push(time(with_fleet.once()).await);
        bare_us.push(time(bare.once()).await);
    }
    let live: i64 = fleet_client
        .query_one("SELECT count(*) FROM schemagate_fleet", &[])
        .await
        .expect("reading the fleet")
        .get(0);
    assert_eq!(
        usize::try_from(live),
        Ok(REPLICAS + 1),
        "the other release's replicas and this one"
    );
    let bare_table: Option<String> = connect(&bare_url)
        .await
        .query_one("SELECT to_regclass('schemagate_fleet')::text", &[])
        .await
        .expect("asking for the table")
        .get(0);
    assert_eq!(
        bare_table, None,
        "the bare database must have no fleet table"
    );
    println!(
        "fleet_us={} bare_us={} replicas={live}",
        median(fleet_us),
        median(bare_us),
    );
}

/// Makes the fleet of `client`'s database exactly the other release's replicas (a table
/// left by an earlier run or by a stopped replica goes first).
async fn others(client: &Client) {
    client
        .batch_execute("DROP TABLE IF EXISTS schemagate_fleet")
        .await
        .expect("emptying the fleet of an earlier run");
    let (version, window) = OTHER;
    for n in 0..REPLICAS {
        fleet::announce(
            client,
            &instance(version, &format!("host-{n}"), window, INTERVAL),
        )
        .await
        .expect("announcing a replica of the other release");
    }
}

/// One connection to `url`.
async fn connect(url: &str) -> Client {
    let connection = Connection::parse(url).expect("a database URL");
    db::connect(&connection, APPLICATION_NAME, Duration::from_secs(10))
        .await
        .expect("the database accepts connections")
}

/// A refresher of `compat`'s release on `url`, announcing `instance` if there is one.
fn refresher(url: &str, compat: &Compat, instance: Option<Instance>) -> Refresher {
    let judge = Judge::of(compat);
    let health = Arc::new(Health::starting(&compat.tag()));
    let metrics = Arc::new(Metrics::new("bench", "0.2.0", &compat.window).expect("metrics"));
    let connection = Connection::parse(url).expect("a database URL");
    let pool = db::pool(&connection, APPLICATION_NAME, Duration::from_secs(5), 2).expect("a pool");
    let refresher = Refresher::new(pool, judge, health, metrics, INTERVAL);
    match instance {
        Some(instance) => refresher.with_instance(instance),
        None => refresher,
    }
}

/// Microseconds `work` took.
async fn time(work: impl std::future::Future<Output = ()>) -> u128 {
    let started = Instant::now();
    work.await;
    started.elapsed().as_micros()
}
