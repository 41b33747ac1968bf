//! Dry runs read the history as it is, without the lock, never wait, show every verdict
//! the real run would give, and exit with its code.

use std::time::{Duration, Instant};

use super::{LOCK_KEY, migrated};
use crate::support::{Project, Run, TestDb, fleet};

/// Runs `args` and expects exit 0 within 4 s: well under the `--lock-timeout 5s` each
/// call passes, so a run that waited for the lock another session holds fails.
async fn returns_at_once(project: &Project, url: &str, args: &[&str]) -> Run {
    let started = Instant::now();
    let run = project.run(url, args).await;
    run.expect_code(0);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{args:?} waited {:?} for the lock",
        started.elapsed()
    );
    run
}

/// Announces a live replica of release 0.9.0 on `old-host` (window `[1, 1]`), runs `plan`
/// and expects exit 3, the fleet's refusal; returns what the plan printed.
async fn plan_with_an_old_replica(db: &TestDb, project: &Project) -> String {
    let client = db.client().await;
    fleet::announce(
        &client,
        "0.9.0",
        "old-host",
        (1, 1),
        Duration::from_secs(30),
    )
    .await;
    let plan = project.run(&db.url, &["plan"]).await;
    plan.expect_code(3);
    plan.text()
}

#[tokio::test]
async fn plan_and_dry_runs_return_at_once_while_another_session_holds_the_migration_lock() {
    let db = TestDb::new().await;
    let project = migrated(&db, 3, 2, (1, 3)).await;
    let holder = db.client().await;
    holder
        .query_one("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .unwrap();
    for args in [
        &["plan", "--lock-timeout", "5s"][..],
        &["migrate", "--dry-run", "--lock-timeout", "5s"],
        &["--rollback-to", "1", "--dry-run", "--lock-timeout", "5s"],
        &["plan", "--rollback-to", "1", "--lock-timeout", "5s"],
    ] {
        let run = returns_at_once(&project, &db.url, args).await;
        assert!(
            run.text().contains(
                "dry run: nothing was changed (no lock taken: the history was read as it is now"
            ),
            "{args:?} says it read without the lock:\n{}",
            run.text()
        );
    }
    assert_eq!(db.history().await, [1, 2], "a dry run changes nothing");
}

#[tokio::test]
async fn a_rollback_dry_run_with_a_live_replica_of_another_release_exits_3_naming_it() {
    let db = TestDb::new().await;
    let project = migrated(&db, 3, 3, (1, 3)).await;
    let client = db.client().await;
    fleet::announce(
        &client,
        "2.0.0",
        "newer-host",
        (3, 4),
        Duration::from_secs(30),
    )
    .await;
    let run = project
        .run(&db.url, &["--rollback-to", "1", "--dry-run"])
        .await;
    run.expect_code(3);
    let text = run.text();
    assert!(text.contains("schema 3 -> 1"), "the plan is shown:\n{text}");
    assert!(
        text.contains("1 replica of v2.0.0 runs on schema ≥ 3 (host newer-host); rolling back to 1 would make it fail"),
        "the fleet's verdict names the replica:\n{text}"
    );
    assert!(text.contains("dry run: nothing was changed"), "{text}");
    assert_eq!(db.history().await, [1, 2, 3]);
}

#[tokio::test]
async fn plan_exits_3_like_the_real_run_when_the_fleet_refuses_and_shows_the_plan_first() {
    let db = TestDb::new().await;
    let project = migrated(&db, 3, 1, (1, 3)).await;
    let text = plan_with_an_old_replica(&db, &project).await;
    assert!(text.contains("schema 1 -> 3"), "{text}");
    assert!(
        text.contains("refused (exit 3): 1 replica of v0.9.0 runs on schema ≤ 1 (host old-host)"),
        "{text}"
    );
    project.run(&db.url, &["migrate"]).await.expect_code(3);
    assert_eq!(db.history().await, [1]);
}

#[tokio::test]
async fn plan_shows_every_refusal_and_exits_with_the_first_the_real_run_meets() {
    let db = TestDb::new().await;
    let project = migrated(&db, 2, 1, (1, 3)).await;
    project.migration(3, "drop_t1", "DROP TABLE t1;", "CREATE TABLE t1 (id int);");
    let text = plan_with_an_old_replica(&db, &project).await;
    assert!(
        text.contains("refused (exit 3): the lint refuses the plan"),
        "{text}"
    );
    assert!(
        text.contains("refused (exit 3): 1 replica of v0.9.0"),
        "{text}"
    );
}

#[tokio::test]
async fn baseline_and_adopt_dry_runs_return_at_once_while_another_session_holds_the_lock() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE t1 (id int); \
             CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL); \
             INSERT INTO schema_migrations VALUES (1, false);",
        )
        .await
        .unwrap();
    client
        .query_one("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .unwrap();
    for args in [
        &[
            "baseline",
            "--version",
            "1",
            "--dry-run",
            "--lock-timeout",
            "5s",
        ][..],
        &[
            "adopt",
            "--from",
            "golang-migrate",
            "--dry-run",
            "--lock-timeout",
            "5s",
        ],
    ] {
        let run = returns_at_once(&project, &db.url, args).await;
        assert!(
            run.text().contains("admission: ") && run.text().contains("no lock taken"),
            "{args:?}:\n{}",
            run.text()
        );
    }
    assert!(db.history().await.is_empty(), "a dry run records nothing");
}
