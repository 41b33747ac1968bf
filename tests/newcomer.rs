//! What a newcomer and an operator met (issue "Trust" items 6 and 8): failures named as
//! what they are, a connect timeout that tries once more at its deadline, messages that say
//! each thing once, and logs without noise.

use std::time::{Duration, Instant};

use crate::support::{Project, TestDb, session, with_user_password};

#[tokio::test]
async fn rejected_credentials_exit_4_saying_authentication_failed_not_unreachable() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let url = with_user_password(&db.url, "sg_no_such_role", "pw");
    let started = Instant::now();
    let run = project.run(&url, &["check"]).await;
    run.expect_code(4);
    assert!(
        run.text()
            .contains("authentication failed for user \"sg_no_such_role\""),
        "{}",
        run.text()
    );
    assert!(!run.text().contains("unreachable"), "{}", run.text());
    assert!(started.elapsed() < Duration::from_secs(5), "not retried");
}

#[tokio::test]
async fn a_connection_lost_while_reading_the_history_exits_4() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    // The history read waits behind this lock, then its session is terminated.
    let blocker = db.client().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE refinery_schema_history IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let child = project.command(&db.url, &["check"]).spawn().unwrap();
    let client = db.client().await;
    let pid = session(
        &client,
        "application_name LIKE 'schemagate/%' AND wait_event_type = 'Lock'",
        "check waiting on the history",
    )
    .await;
    client
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let run = crate::support::Run(child.wait_with_output().await.unwrap());
    run.expect_code(4);
    run.expect_text("refinery_schema_history");
}

#[tokio::test]
async fn the_connect_timeout_makes_its_last_attempt_at_the_deadline() {
    let project = Project::with_tables(1, 1, 1);
    let started = Instant::now();
    let run = project
        .run(
            "postgres://nobody@127.0.0.1:9/none",
            &["check", "--connect-timeout", "2"],
        )
        .await;
    run.expect_code(4);
    // Before, it gave up at 1.55 s: when the next pause would pass the deadline.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    run.expect_text("unreachable after");
}

#[tokio::test]
async fn logs_say_migrations_done_only_when_they_are_and_carry_no_already_exists_notice() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project.migration(2, "t2", "CREATE TABLE t2 (id int);", "DROP TABLE t2;");
    project.compat(1, 2);
    let run = project.run(&db.url, &["migrate", "--no-backup"]).await;
    run.expect_code(0).expect_text("migrations done");
    assert!(
        !run.text().contains("already exists, skipping"),
        "{}",
        run.text()
    );

    // Fails when it runs (t1 exists): a file the grammar refuses is refused before any step.
    project.migration(3, "broken", "CREATE TABLE t1 (id int);", "DROP TABLE t3;");
    project.compat(1, 3);
    let failed = project.run(&db.url, &["migrate", "--no-backup"]).await;
    failed.expect_code(6);
    assert!(
        !failed.text().contains("migrations done"),
        "{}",
        failed.text()
    );
}

#[tokio::test]
async fn the_rollback_plan_names_the_rollback_target_not_the_release_target() {
    let db = TestDb::new().await;
    let project = Project::with_tables(3, 1, 3);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let run = project
        .run(&db.url, &["--rollback-to", "1", "--dry-run"])
        .await;
    run.expect_code(0);
    run.expect_text("schema 3 -> 1 (roll back to 1;");
    assert!(!run.text().contains("target 3"), "{}", run.text());
}

#[tokio::test]
async fn a_negative_rollback_target_is_a_usage_error_not_an_unknown_flag() {
    let project = Project::with_tables(1, 1, 1);
    let run = project
        .run(
            "postgres://nobody@127.0.0.1:9/none",
            &["--rollback-to", "-1"],
        )
        .await;
    run.expect_code(2);
    run.expect_text("a schema version is 0 or more");
}

#[tokio::test]
async fn durations_without_a_unit_are_seconds() {
    let project = Project::with_tables(1, 1, 1);
    project
        .run(
            "postgres://nobody@127.0.0.1:9/none",
            &["version", "--connect-timeout", "5", "--lock-timeout", "30"],
        )
        .await
        .expect_code(0);
}

#[tokio::test]
async fn healthcheck_says_its_cause_once() {
    let project = Project::new();
    let run = project
        .run(
            "postgres://nobody@127.0.0.1:9/none",
            &["healthcheck", "--url", "http://127.0.0.1:9/health"],
        )
        .await;
    run.expect_code(1);
    assert_eq!(
        run.text().matches("Connection refused").count(),
        1,
        "{}",
        run.text()
    );
}
