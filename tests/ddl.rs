//! Safe DDL on a live database (issue "Safe DDL" item 1): a migration waiting for a table
//! lock gives up after `--ddl-lock-timeout`, is rolled back and retried, names who blocks
//! it, and never holds up the table's readers much longer than that timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::serve::{get, spawn};
use crate::support::{Project, TestDb, connect, sample, send_signal};

/// A session on the test database that holds `ACCESS SHARE` on `t1` in an open
/// transaction, as a long report would, with its own application_name.
async fn blocker(db: &TestDb) -> (tokio_postgres::Client, i32) {
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let client = connect(&format!("{}{separator}application_name=sg_blocker", db.url)).await;
    client
        .batch_execute("BEGIN; SELECT count(*) FROM t1")
        .await
        .unwrap();
    let pid = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    (client, pid)
}

/// A project at schema 1 whose migration 2 alters `t1` (ACCESS EXCLUSIVE).
async fn altering_t1(db: &TestDb) -> Project {
    let project = Project::with_tables(1, 1, 1);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project.migration(
        2,
        "alter_t1",
        "ALTER TABLE t1 ADD COLUMN x int;",
        "ALTER TABLE t1 DROP COLUMN x;",
    );
    project.compat(1, 2);
    project
}

#[tokio::test]
async fn a_blocked_migration_retries_until_the_blocker_commits_and_readers_wait_at_most_the_lock_timeout()
 {
    let db = TestDb::new().await;
    let project = altering_t1(&db).await;
    let (blocker, pid) = blocker(&db).await;
    // A reader queries t1 all along; it queues behind the ALTER's lock request while the
    // ALTER waits, for at most the lock timeout.
    let reader = db.client().await;
    let reading = Arc::new(AtomicBool::new(true));
    let still = Arc::clone(&reading);
    let readers = tokio::spawn(async move {
        let mut worst = Duration::ZERO;
        while still.load(Ordering::Relaxed) {
            let started = Instant::now();
            reader
                .query_one("SELECT count(*) FROM t1", &[])
                .await
                .unwrap();
            worst = worst.max(started.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        worst
    });
    let child = project
        .command(
            &db.url,
            &[
                "migrate",
                "--no-backup",
                "--ddl-lock-timeout",
                "1s",
                "--ddl-retries",
                "20",
            ],
        )
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    blocker.batch_execute("COMMIT").await.unwrap();
    let run = crate::support::Run(child.wait_with_output().await.unwrap());
    reading.store(false, Ordering::Relaxed);
    let worst = readers.await.unwrap();
    run.expect_code(0);
    let text = run.text();
    assert!(text.contains("gave up waiting for a lock"), "{text}");
    assert!(
        text.contains(&format!("pid {pid} (sg_blocker")),
        "the blocker is named: {text}"
    );
    assert_eq!(db.history().await, [1, 2]);
    eprintln!("worst reader wait behind the retried migration: {worst:?} (lock timeout 1 s)");
    assert!(
        worst < Duration::from_millis(2500),
        "a reader waited {worst:?}, far beyond the 1 s lock timeout"
    );
}

#[tokio::test]
async fn a_blocker_that_never_commits_exhausts_the_retries_and_exit_6_names_it() {
    let db = TestDb::new().await;
    let project = altering_t1(&db).await;
    let (_blocker, pid) = blocker(&db).await;
    let run = project
        .run(
            &db.url,
            &[
                "migrate",
                "--no-backup",
                "--ddl-lock-timeout",
                "500ms",
                "--ddl-retries",
                "2",
            ],
        )
        .await;
    run.expect_code(6);
    let text = run.text();
    assert!(
        text.contains(&format!(
            "it waited for locks held by pid {pid} (sg_blocker"
        )),
        "{text}"
    );
    assert_eq!(db.history().await, [1]);
}

#[tokio::test]
async fn plan_shows_the_lock_and_statement_timeouts_each_step_runs_with() {
    let db = TestDb::new().await;
    let project = altering_t1(&db).await;
    project.migration(
        3,
        "backfill",
        "-- schemagate:lock-timeout 30s\n-- schemagate:statement-timeout 10m\nUPDATE t1 SET x = 1;",
        "SELECT 1;",
    );
    project.compat(1, 3);
    let run = project
        .run(
            &db.url,
            &["plan", "--ddl-lock-timeout", "2s", "--ddl-retries", "4"],
        )
        .await;
    run.expect_code(0);
    let text = run.text();
    assert!(
        text.contains("lock_timeout 2s, statement_timeout none"),
        "{text}"
    );
    assert!(
        text.contains("lock_timeout 30s, statement_timeout 10m"),
        "{text}"
    );
    assert!(text.contains("up to 4 time(s)"), "{text}");
}

#[tokio::test]
async fn a_statement_past_its_statement_timeout_is_cancelled_and_the_step_fails_with_exit_6() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 2);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let slow = "CREATE TABLE t2 (id int);\nSELECT pg_sleep(30);";
    // Set by the flag, then by the file's directive (over a flag that would allow it).
    for (directive, flag) in [("", "1s"), ("-- schemagate:statement-timeout 1s\n", "1h")] {
        project.migration(2, "slow", &format!("{directive}{slow}"), "DROP TABLE t2;");
        let started = Instant::now();
        let run = project
            .run(
                &db.url,
                &["migrate", "--no-backup", "--statement-timeout", flag],
            )
            .await;
        let took = started.elapsed();
        run.expect_code(6);
        let text = run.text();
        assert!(
            text.contains("V2__slow.sql")
                && text.contains("canceling statement due to statement timeout"),
            "{text}"
        );
        assert!(
            took < Duration::from_secs(10),
            "the 30 s statement ran {took:?}: no timeout cut it short"
        );
        assert_eq!(db.history().await, [1]);
        assert_eq!(db.tables().await, ["t1"]);
    }
}

/// `serve` gates at startup and counts the retries of its steps in
/// `schemagate_ddl_lock_retries_total`: one per retry its log reports.
#[tokio::test]
async fn serve_counts_each_retry_after_a_ddl_lock_timeout_in_its_metrics() {
    let db = TestDb::new().await;
    let project = altering_t1(&db).await;
    let (blocker, _) = blocker(&db).await;
    let released = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        blocker.batch_execute("COMMIT").await.unwrap();
    });
    let args = [
        "--no-backup",
        "--ddl-lock-timeout",
        "300ms",
        "--ddl-retries",
        "20",
    ];
    let mut served = spawn(&project, &db.url, &args, "info").await;
    released.await.unwrap();
    assert_eq!(db.history().await, [1, 2]);
    let (_, metrics) = get(served.address, "/metrics").await;
    send_signal(served.child.id().unwrap(), "TERM").await;
    assert_eq!(served.child.wait().await.unwrap().code(), Some(0));
    let retried = served
        .log
        .await
        .unwrap()
        .iter()
        .filter(|line| {
            line.contains(
                "the step gave up waiting for a lock (lock_timeout); rolled back, it runs again",
            )
        })
        .count();
    assert!(retried > 0, "the step never waited; metrics:\n{metrics}");
    assert_eq!(
        sample(&metrics, "schemagate_ddl_lock_retries_total"),
        Some(f64::from(u32::try_from(retried).unwrap())),
        "{retried} retries logged"
    );
}
