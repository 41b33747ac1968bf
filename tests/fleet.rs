//! The fleet (issue 16, DESIGN §14) at the library level: `schemagate_fleet` rows announced,
//! refreshed, pruned and removed; the table created by replicas racing each other; admission
//! judged on live rows; `--fleet-wait`'s loop; and a refresh that shows the fleet in
//! `/health` and `/metrics` and counts failures and rollbacks from the audit trail.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemagate::audit;
use schemagate::config::Compat;
use schemagate::connection::Connection;
use schemagate::fleet::{self, Admission, Change, FleetError, Instance, Wait};
use schemagate::server::{Health, Judge, Metrics, Observation, Refresher};
use tokio_postgres::Client;

use crate::support::{Project, TestDb, session};

/// Release 1.4.0 on [4, 5] with `releases` appended (the repository's example window).
fn compat(releases: &str) -> Compat {
    Compat::parse(
        "compat.toml",
        &format!("[app]\nversion = \"1.4.0\"\n[schema]\nmin = 4\nmax = 5\n{releases}"),
    )
    .unwrap()
}

/// An instance of another release, on `host`, refreshing every `refresh`.
fn instance(version: &str, host: &str, (min, max): (i64, i64), refresh: Duration) -> Instance {
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

fn seconds(n: u64) -> Duration {
    Duration::from_secs(n)
}

async fn rows(client: &Client) -> i64 {
    client
        .query_one("SELECT count(*) FROM schemagate_fleet", &[])
        .await
        .unwrap()
        .get(0)
}

async fn table_exists(client: &Client) -> bool {
    client
        .query_one("SELECT to_regclass('schemagate_fleet') IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn reading_or_leaving_the_fleet_without_its_table_finds_nobody_and_creates_nothing() {
    let db = TestDb::new().await;
    let client = db.client().await;
    assert!(fleet::live(&client).await.unwrap().is_empty());
    fleet::leave(&client, "nobody").await.unwrap();
    assert!(!table_exists(&client).await);
}

#[tokio::test]
async fn an_instance_announces_itself_keeps_its_start_refreshes_its_last_seen_and_leaves() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let me = instance("1.4.0", "web-1", (4, 5), seconds(5));
    fleet::announce(&client, &me).await.unwrap();
    let live = fleet::live(&client).await.unwrap();
    assert_eq!(live.len(), 1);
    let row = &live[0];
    assert_eq!(
        (row.id.as_str(), row.host.as_str(), row.app_version.as_str()),
        (me.id.as_str(), "web-1", "v1.4.0")
    );
    assert_eq!((row.min, row.max, row.refresh_ms), (4, 5, 5000));

    client
        .batch_execute(
            "UPDATE schemagate_fleet SET started_at = now() - interval '1 hour', last_seen = now() - interval '10 seconds'",
        )
        .await
        .unwrap();
    fleet::announce(&client, &me).await.unwrap();
    let (started_ago, seen_ago): (f64, f64) = {
        let row = client
            .query_one(
                "SELECT extract(epoch FROM now() - started_at)::float8, extract(epoch FROM now() - last_seen)::float8 FROM schemagate_fleet",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(started_ago >= 3599.0, "started_at kept: {started_ago}");
    assert!(seen_ago < 5.0, "last_seen refreshed: {seen_ago}");
    assert_eq!(rows(&client).await, 1, "an upsert, not a second row");

    fleet::leave(&client, &me.id).await.unwrap();
    assert!(fleet::live(&client).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_row_unseen_for_three_of_its_own_refresh_intervals_is_pruned_by_the_next_reader() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let fast = instance("1.3.0", "fast", (3, 4), seconds(1));
    let slow = instance("1.3.0", "slow", (3, 4), seconds(60));
    let recent = instance("1.3.0", "recent", (3, 4), seconds(1));
    for member in [&fast, &slow, &recent] {
        fleet::announce(&client, member).await.unwrap();
    }
    // Four seconds: stale for a 1 s refresh, fresh for a 60 s one; `recent` was seen 2 s ago.
    client
        .execute(
            "UPDATE schemagate_fleet SET last_seen = now() - CASE host WHEN 'recent' THEN interval '2 seconds' ELSE interval '4 seconds' END",
            &[],
        )
        .await
        .unwrap();
    let hosts: Vec<String> = fleet::live(&client)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.host)
        .collect();
    assert_eq!(hosts, ["recent", "slow"]);
    assert_eq!(
        rows(&client).await,
        2,
        "the stale row is deleted, not only hidden"
    );
}

#[tokio::test]
async fn a_replica_creating_the_table_while_another_is_still_creating_it_succeeds() {
    let db = TestDb::new().await;
    let mut first = db.client().await;
    let watcher = db.client().await;
    // The first creator's table exists but is not committed: the second one cannot see
    // it, tries to create it too, and waits on the catalogue's unique index.
    let creating = first.transaction().await.unwrap();
    fleet::ensure_table(&creating).await.unwrap();
    let second = db.client().await;
    let me = instance("1.4.0", "late", (4, 5), seconds(5));
    let announced = tokio::spawn(async move { fleet::announce(&second, &me).await });
    session(
        &watcher,
        "wait_event_type = 'Lock'",
        "the second creator waiting",
    )
    .await;
    creating.commit().await.unwrap();
    announced.await.unwrap().unwrap();
    assert_eq!(rows(&watcher).await, 1);
}

#[tokio::test]
async fn many_replicas_announcing_at_once_on_a_database_without_the_table_all_succeed() {
    let db = TestDb::new().await;
    let admin = db.client().await;
    for round in 0..3 {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let client = db.client().await;
            let me = instance("1.4.0", &format!("r{round}-{i}"), (4, 5), seconds(5));
            tasks.push(tokio::spawn(
                async move { fleet::announce(&client, &me).await },
            ));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(rows(&admin).await, 8, "round {round}");
        admin
            .batch_execute("DROP TABLE schemagate_fleet")
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_fleet_table_alone_is_not_taken_for_an_existing_schema_without_a_history() {
    // A `--no-migrate` replica announced itself before the migration Job ran.
    let db = TestDb::new().await;
    fleet::announce(
        &db.client().await,
        &instance("1.0.0", "early", (1, 2), seconds(5)),
    )
    .await
    .unwrap();
    let project = Project::with_tables(2, 1, 2);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
}

#[tokio::test]
async fn live_rows_of_another_release_refuse_a_target_above_their_max_and_widening_admits_it() {
    let db = TestDb::new().await;
    let client = db.client().await;
    for member in [
        instance("1.3.0", "a", (3, 4), seconds(5)),
        instance("1.3.0", "b", (3, 4), seconds(5)),
        instance("1.4.0", "new", (4, 5), seconds(5)),
    ] {
        fleet::announce(&client, &member).await.unwrap();
    }
    let live = fleet::live(&client).await.unwrap();
    let step = Change { from: 4, to: 5 };
    let refusal = fleet::admit(step, &compat(""), &live)
        .into_result()
        .unwrap_err();
    assert!(
        refusal.to_string().starts_with(
            "2 replicas of v1.3.0 run on schema ≤ 4 (hosts a, b); migrating to 5 would make them fail"
        ),
        "this release's own row is not among the blockers: {refusal}"
    );
    let widened = compat("[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 5\n");
    assert_eq!(
        fleet::admit(step, &widened, &live),
        Admission::Admitted(step)
    );
    let narrower = compat("[[releases]]\nversion = \"1.3.0\"\nmin = 3\nmax = 3\n");
    assert!(matches!(
        fleet::admit(Change { from: 3, to: 4 }, &narrower, &live),
        Admission::Admitted(_)
    ));
}

#[tokio::test]
async fn a_rollback_below_the_min_of_a_live_newer_release_is_refused() {
    let db = TestDb::new().await;
    let client = db.client().await;
    fleet::announce(&client, &instance("1.5.0", "n", (5, 6), seconds(5)))
        .await
        .unwrap();
    let live = fleet::live(&client).await.unwrap();
    let refusal = fleet::admit(Change { from: 5, to: 4 }, &compat(""), &live)
        .into_result()
        .unwrap_err();
    assert_eq!(
        refusal.blocking(),
        "1 replica of v1.5.0 runs on schema ≥ 5 (host n); rolling back to 4 would make it fail"
    );
}

/// Records every `blocked` call of a wait.
fn recorder() -> (Arc<Mutex<Vec<bool>>>, impl FnMut(bool)) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&calls);
    (calls, move |on| sink.lock().unwrap().push(on))
}

#[tokio::test]
async fn the_fleet_wait_admits_as_soon_as_the_blocking_release_leaves() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let old = instance("1.3.0", "old", (3, 4), seconds(5));
    fleet::announce(&client, &old).await.unwrap();
    let other = db.client().await;
    let leaving = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        fleet::leave(&other, &old.id).await.unwrap();
    });
    let (calls, blocked) = recorder();
    let wait = Wait {
        timeout: seconds(10),
        interval: Duration::from_millis(50),
    };
    let compat = compat("");
    let waited = fleet::until_admitted(
        || fleet::live(&client),
        Change { from: 4, to: 5 },
        &compat,
        wait,
        blocked,
    )
    .await
    .unwrap();
    leaving.await.unwrap();
    assert!(
        waited >= Duration::from_millis(250) && waited < seconds(5),
        "{waited:?}"
    );
    assert_eq!(*calls.lock().unwrap(), [true, false]);
}

#[tokio::test]
async fn the_fleet_wait_gives_up_after_its_timeout_and_no_wait_refuses_at_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    fleet::announce(&client, &instance("1.3.0", "old", (3, 4), seconds(5)))
        .await
        .unwrap();
    let compat = compat("");
    let step = Change { from: 4, to: 5 };
    let (calls, blocked) = recorder();
    let wait = Wait {
        timeout: Duration::from_millis(200),
        interval: Duration::from_millis(50),
    };
    let error = fleet::until_admitted(|| fleet::live(&client), step, &compat, wait, blocked)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, FleetError::StillRefused { waited, .. } if *waited >= Duration::from_millis(200)),
        "{error:?}"
    );
    assert!(error.is_refusal());
    assert!(
        error
            .to_string()
            .contains("1 replica of v1.3.0 runs on schema ≤ 4 (host old)"),
        "{error}"
    );
    assert_eq!(*calls.lock().unwrap(), [true, false]);

    let (calls, blocked) = recorder();
    let at_once = Wait {
        timeout: Duration::ZERO,
        ..wait
    };
    let error = fleet::until_admitted(|| fleet::live(&client), step, &compat, at_once, blocked)
        .await
        .unwrap_err();
    assert!(matches!(error, FleetError::Refused(_)), "{error:?}");
    assert!(
        calls.lock().unwrap().is_empty(),
        "no wait, no blocked gauge"
    );
}

/// A refresher on `db` for release 1.4.0 at schema 0, with its health and metrics.
fn refresher(db: &TestDb) -> (Refresher, Arc<Health>, Arc<Metrics>) {
    let compat = compat("");
    let judge = Judge {
        app_version: compat.tag(),
        window: compat.window,
        catalogue: Vec::new(),
        baseline: 0,
        no_migrate: true,
    };
    let health = Arc::new(Health::new(&judge.judge(&Observation {
        current: 0,
        reachable: true,
        error: None,
        checked_at: time::OffsetDateTime::now_utc(),
    })));
    let metrics = Arc::new(Metrics::new("sg", "1.4.0", &compat.window).unwrap());
    let interval = seconds(1);
    let connection = Connection::parse(&db.url).unwrap();
    let pool = schemagate::db::pool(&connection, "fleet-test", interval, 2).unwrap();
    let refresher = Refresher::new(
        pool,
        judge,
        Arc::clone(&health),
        Arc::clone(&metrics),
        interval,
    )
    .with_instance(Instance::new(&compat, interval).unwrap());
    (refresher, health, metrics)
}

fn text(metrics: &Metrics) -> String {
    String::from_utf8(metrics.encode().unwrap().to_vec()).unwrap()
}

#[tokio::test]
async fn a_refresh_announces_this_instance_and_shows_the_fleet_in_health_and_metrics() {
    let db = TestDb::new().await;
    let client = db.client().await;
    fleet::announce(&client, &instance("1.3.0", "old", (3, 4), seconds(5)))
        .await
        .unwrap();
    let (mut refresher, health, metrics) = refresher(&db);
    refresher.once().await;

    let (_, body) = health.get();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["fleet"],
        serde_json::json!([
            {"version":"v1.3.0","replicas":1,"min":3,"max":4},
            {"version":"v1.4.0","replicas":1,"min":4,"max":5}
        ])
    );
    let text = text(&metrics);
    assert!(
        text.contains("sg_fleet_replicas{version=\"v1.3.0\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("sg_fleet_replicas{version=\"v1.4.0\"} 1"),
        "{text}"
    );
    assert!(text.contains("sg_fleet_blocked 0"), "{text}");

    let me = refresher.instance().unwrap().id.clone();
    refresher.leave().await;
    let ids: Vec<String> = fleet::live(&client)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(!ids.contains(&me), "left on shutdown: {ids:?}");
    assert_eq!(ids.len(), 1);
}

/// An audit entry as the gate writes one.
fn change(action: &'static str, outcome: &str) -> audit::Entry {
    audit::Entry {
        action,
        app_version: "v1.4.0".to_owned(),
        from: 4,
        to: 5,
        duration: Duration::from_millis(20),
        backup_file: None,
        outcome: outcome.to_owned(),
    }
}

#[tokio::test]
async fn failures_and_rollbacks_of_any_gate_are_counted_from_the_audit_trail_at_each_refresh() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let (mut refresher, _, metrics) = refresher(&db);
    refresher.once().await;
    let text = self::text(&metrics);
    assert!(text.contains("sg_migration_failures_total 0"), "{text}");

    audit::ensure_table(&client).await.unwrap();
    for (action, outcome) in [
        ("migrate", "ok"),
        (
            "migrate",
            "failed at version 5: ERROR: relation \"t\" already exists",
        ),
        ("migrate", "stopped by SIGTERM at version 4"),
        ("rollback", "ok"),
        (
            "rollback",
            "failed at version 4: ERROR: cannot drop table t",
        ),
        ("restore", "ok"),
    ] {
        audit::record(&client, &change(action, outcome))
            .await
            .unwrap();
    }
    refresher.once().await;
    refresher.once().await;
    let text = self::text(&metrics);
    assert!(text.contains("sg_migration_failures_total 2"), "{text}");
    assert!(text.contains("sg_rollbacks_total 1"), "{text}");
    assert!(
        text.contains("# TYPE sg_migration_failures_total counter"),
        "{text}"
    );
    assert_eq!(
        audit::totals(&client).await.unwrap(),
        audit::Totals {
            migration_failures: 2,
            rollbacks: 1
        }
    );
}
