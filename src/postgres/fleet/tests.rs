//! `schemagate_fleet` itself: announce, leave, staleness, creation under concurrency.

use tokio_postgres::Client;

use crate::fleet::testing::{instance, seconds};
use crate::postgres::fleet;
use crate::postgres::testing::{TestDatabase, session};

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
    let db = TestDatabase::create().await;
    let client = db.client().await;
    assert!(fleet::live(&client).await.unwrap().is_empty());
    fleet::leave(&client, "nobody").await.unwrap();
    assert!(!table_exists(&client).await);
}

#[tokio::test]
async fn an_instance_announces_itself_keeps_its_start_refreshes_its_last_seen_and_leaves() {
    let db = TestDatabase::create().await;
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
    let db = TestDatabase::create().await;
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
    let db = TestDatabase::create().await;
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
    let db = TestDatabase::create().await;
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
