//! A rolling deploy with real processes (issue 16): `serve` replicas of 1.3.0 (window
//! [3, 4]) on a database at 4, and 1.4.0 (window [4, 5], target 5) arriving.

use std::time::{Duration, Instant};

use crate::support::serve::{Served, get, spawn};
use crate::support::{Project, TestDb, sample, send_signal};

/// The refresh interval of every replica here: staleness is three of them.
const INTERVAL: &str = "200ms";

/// Release `version` with its window and the five example tables' first `n` migrations.
fn release(version: &str, n: i64, (min, max): (i64, i64), releases: &str) -> Project {
    let project = Project::with_tables(n, min, max);
    project.compat_text(&format!(
        "[app]\nversion = \"{version}\"\n[schema]\nmin = {min}\nmax = {max}\n{releases}"
    ));
    project
}

/// A database at schema 4 with two serving 1.3.0 replicas.
async fn two_old_replicas(db: &TestDb) -> (Project, [Served; 2]) {
    let old = release("1.3.0", 4, (3, 4), "");
    old.run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let args = ["--no-backup", "--refresh-interval", INTERVAL];
    let first = spawn(&old, &db.url, &args, "info").await;
    let second = spawn(&old, &db.url, &args, "info").await;
    wait_until("both 1.3.0 replicas are in the fleet", || async {
        fleet_rows(db).await == 2
    })
    .await;
    (old, [first, second])
}

fn new_release(releases: &str) -> Project {
    release("1.4.0", 5, (4, 5), releases)
}

/// The replicas recorded in the fleet table; none while the table does not exist yet. Any
/// other failure to read it fails the test: an unreadable fleet must not look like an empty
/// one.
async fn fleet_rows(db: &TestDb) -> i64 {
    let client = db.client().await;
    let exists: bool = client
        .query_one("SELECT to_regclass('schemagate_fleet') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    if !exists {
        return 0;
    }
    client
        .query_one("SELECT count(*) FROM schemagate_fleet", &[])
        .await
        .unwrap_or_else(|e| panic!("count the fleet of {}: {e:?}", db.name))
        .get(0)
}

/// Polls `condition` every 50 ms for up to 30 s.
async fn wait_until<F, Fut>(what: &str, condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: never happened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn stop(replicas: impl IntoIterator<Item = Served>) {
    for mut replica in replicas {
        send_signal(replica.child.id().unwrap(), "TERM").await;
        assert_eq!(replica.child.wait().await.unwrap().code(), Some(0));
    }
}

#[tokio::test]
async fn a_migration_above_a_live_releases_max_is_refused_naming_it_then_waits_for_it() {
    let db = TestDb::new().await;
    let (_old, replicas) = two_old_replicas(&db).await;
    let new = new_release("");
    let run = new.run(&db.url, &["migrate", "--no-backup"]).await;
    run.expect_code(3);
    assert!(
        run.text()
            .contains("2 replicas of v1.3.0 run on schema ≤ 4"),
        "{}",
        run.text()
    );
    assert_eq!(
        db.history().await,
        vec![1, 2, 3, 4],
        "refused before any change"
    );
    let plan = new.run(&db.url, &["plan"]).await;
    plan.expect_code(3);
    plan.expect_text("refused by the fleet");

    // With --fleet-wait it waits, and proceeds within one re-check (the default refresh
    // interval, 15 s) after the old replicas stop.
    let job = new
        .command(&db.url, &["migrate", "--no-backup", "--fleet-wait", "60s"])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(db.history().await, vec![1, 2, 3, 4], "waits while they run");
    let stopped = Instant::now();
    stop(replicas).await;
    let output = job.wait_with_output().await.unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stopped.elapsed() < Duration::from_secs(20),
        "{:?}",
        stopped.elapsed()
    );
    assert_eq!(db.history().await, vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn a_rolling_deploy_is_ready_at_once_and_migrates_when_the_last_old_replica_stops() {
    let db = TestDb::new().await;
    let (_old, replicas) = two_old_replicas(&db).await;
    let new = new_release("");
    let args = ["--no-backup", "--refresh-interval", INTERVAL];
    let mut fresh = spawn(&new, &db.url, &args, "info").await;
    let (status, health) = get(fresh.address, "/health").await;
    assert_eq!(status, 200, "{health}");
    assert!(health.contains("\"current\":4"), "{health}");
    wait_until("/health shows the 1.3.0 replicas", || async {
        get(fresh.address, "/health")
            .await
            .1
            .contains("{\"version\":\"v1.3.0\",\"replicas\":2")
    })
    .await;
    assert_eq!(db.history().await, vec![1, 2, 3, 4]);
    stop(replicas).await;
    wait_until("the schema moves to 5 by itself", || async {
        db.history().await.len() == 5
    })
    .await;
    wait_until("/health shows schema 5", || async {
        get(fresh.address, "/health")
            .await
            .1
            .contains("\"current\":5")
    })
    .await;
    send_signal(fresh.child.id().unwrap(), "TERM").await;
    assert_eq!(fresh.child.wait().await.unwrap().code(), Some(0));
    assert_eq!(fleet_rows(&db).await, 0, "every replica left the fleet");
}

#[tokio::test]
async fn a_release_that_widens_the_live_releases_window_is_admitted_at_once() {
    let db = TestDb::new().await;
    let (_old, replicas) = two_old_replicas(&db).await;
    let new = new_release("[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 5\n");
    new.run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, vec![1, 2, 3, 4, 5]);
    stop(replicas).await;
}

#[tokio::test]
async fn a_killed_replica_stops_blocking_once_stale_and_ignore_fleet_is_audited() {
    let db = TestDb::new().await;
    let (_old, [mut killed, kept]) = two_old_replicas(&db).await;
    killed.child.start_kill().unwrap();
    killed.child.wait().await.unwrap();
    let new = new_release("");
    // The killed one never left; after three of its intervals it is stale, the kept one
    // still blocks.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let run = new.run(&db.url, &["migrate", "--no-backup"]).await;
    run.expect_code(3);
    run.expect_text("1 replica of v1.3.0");
    let run = new
        .run(&db.url, &["migrate", "--no-backup", "--ignore-fleet"])
        .await;
    run.expect_code(0);
    let outcome: String = db
        .client()
        .await
        .query_one(
            "SELECT outcome FROM schemagate_audit WHERE action = 'migrate' ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(
        outcome.starts_with("ok; fleet ignored (--ignore-fleet)"),
        "{outcome}"
    );
    stop([kept]).await;
}

#[tokio::test]
async fn a_serving_replica_counts_a_failure_made_by_a_separate_migrate_job() {
    let db = TestDb::new().await;
    let new = new_release("");
    new.run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let args = ["--no-backup", "--refresh-interval", INTERVAL];
    let mut replica = spawn(&new, &db.url, &args, "info").await;
    let failures = |metrics: &str| sample(metrics, "schemagate_migration_failures_total");
    assert_eq!(
        failures(&get(replica.address, "/metrics").await.1),
        Some(0.0)
    );
    // The next release's Job fails on its migration 6.
    let next = release("1.5.0", 5, (5, 6), "");
    next.migration(6, "broken", "SELECT * FROM no_such_table;", "SELECT 1;");
    next.run(&db.url, &["migrate", "--no-backup", "--ignore-fleet"])
        .await
        .expect_code(6);
    wait_until(
        "the replica's /metrics counts the Job's failure",
        || async { failures(&get(replica.address, "/metrics").await.1) == Some(1.0) },
    )
    .await;
    send_signal(replica.child.id().unwrap(), "TERM").await;
    assert_eq!(replica.child.wait().await.unwrap().code(), Some(0));
}
