//! The background refresh on PostgreSQL keeps the fleet and the audit-derived counters
//! current.
#![cfg(feature = "postgres")]

use super::*;
use crate::audit::{Entry, Totals};
use crate::fleet::testing::{compat, instance, seconds};
use crate::postgres::testing::TestDatabase;
use crate::postgres::{audit, fleet};
use crate::server::metrics::sample::sample;

/// A refresher on `db` for release 1.4.0 at schema 0, with its health and metrics.
fn refresher(db: &TestDatabase) -> (Refresher, Arc<Health>, Arc<Metrics>) {
    let compat = compat("");
    let judge = Judge::of(&compat);
    let health = Arc::new(Health::new(&judge.judge(&Observation {
        current: 0,
        reachable: true,
        error: None,
        checked_at: time::OffsetDateTime::now_utc(),
    })));
    let metrics = Arc::new(Metrics::new("sg", "1.4.0", &compat.window).unwrap());
    let interval = seconds(1);
    let pool = crate::postgres::db::pool(&db.connection, "fleet-test", interval, 2).unwrap();
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
    let db = TestDatabase::create().await;
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
    refresher.departure().unwrap().leave().await;
    let ids: Vec<String> = fleet::live(&client)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(!ids.contains(&me), "left on shutdown: {ids:?}");
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn a_fleet_the_refresh_cannot_read_is_logged_and_leaves_the_database_reachable() {
    let db = TestDatabase::create().await;
    // Not the table schemagate makes: announcing and reading it both fail.
    db.client()
        .await
        .batch_execute("CREATE TABLE schemagate_fleet (id int)")
        .await
        .unwrap();
    let (mut refresher, health, metrics) = refresher(&db);
    refresher.once().await;
    let (_, body) = health.get();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["database"]["reachable"], true, "{body}");
    assert_eq!(body["fleet"], serde_json::json!([]), "{body}");
    assert_eq!(sample(&text(&metrics), "sg_database_up"), Some(1.0));
}

/// An audit entry as the gate writes one.
fn change(action: &'static str, outcome: &str) -> Entry {
    Entry {
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
    let db = TestDatabase::create().await;
    let client = db.client().await;
    let (mut refresher, _, metrics) = refresher(&db);
    refresher.once().await;
    let text = self::text(&metrics);
    assert_eq!(sample(&text, "sg_migration_failures_total"), Some(0.0));

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
    assert_eq!(sample(&text, "sg_migration_failures_total"), Some(2.0));
    assert_eq!(sample(&text, "sg_rollbacks_total"), Some(1.0));
    assert!(
        text.contains("# TYPE sg_migration_failures_total counter"),
        "{text}"
    );
    assert_eq!(
        audit::totals(&client).await.unwrap(),
        Totals {
            migration_failures: 2,
            rollbacks: 1
        }
    );
}
