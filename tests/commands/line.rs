//! The command line means what it says: `--rollback-to` only where it rolls back, a window
//! that names no migration found at load, `check` and `status` judging as the gate does,
//! the right advice for another tool's history, and a closed pipe that is no crash.

use std::process::Stdio;

use super::migrated;
use crate::support::{Project, TestDb};

#[tokio::test]
async fn serve_with_rollback_to_exits_2_and_rolls_nothing_back() {
    let db = TestDb::new().await;
    let project = migrated(&db, 3, 3, (1, 3)).await;
    let run = project
        .run(
            &db.url,
            &["serve", "--listen", "127.0.0.1:0", "--rollback-to", "1"],
        )
        .await;
    run.expect_code(2);
    assert!(
        run.text()
            .contains("--rollback-to goes with migrate, plan or no command"),
        "{}",
        run.text()
    );
    assert_eq!(db.history().await, [1, 2, 3]);
}

#[tokio::test]
async fn rollback_to_with_no_migrate_exits_2_and_rolls_nothing_back() {
    let db = TestDb::new().await;
    let project = migrated(&db, 3, 3, (1, 3)).await;
    let run = project
        .command(&db.url, &["--rollback-to", "1"])
        .env("SCHEMAGATE_NO_MIGRATE", "true")
        .output()
        .await
        .unwrap();
    let run = crate::support::Run(run);
    run.expect_code(2);
    run.expect_text("--rollback-to with --no-migrate");
    assert_eq!(db.history().await, [1, 2, 3]);
}

#[tokio::test]
async fn a_window_below_the_first_timestamp_migration_is_exit_2_at_load() {
    let db = TestDb::new().await;
    let project = Project::new();
    for (version, table) in [(20240101120000_i64, "a"), (20240102120000, "b")] {
        project.migration(
            version,
            &format!("create_{table}"),
            &format!("CREATE TABLE {table} (id int);"),
            &format!("DROP TABLE {table};"),
        );
    }
    project.compat(5, 6);
    for command in ["migrate", "plan", "check"] {
        let run = project.run(&db.url, &[command]).await;
        run.expect_code(2);
        assert!(
            run.text()
                .contains("max 6 is below the first migration, 20240101120000"),
            "{command}: {}",
            run.text()
        );
    }
    assert!(db.tables().await.is_empty());
}

#[tokio::test]
async fn check_and_status_refuse_an_out_of_order_migration_as_migrate_does() {
    let db = TestDb::new().await;
    let project = Project::new();
    for v in [1, 3] {
        project.migration(
            v,
            &format!("t{v}"),
            &format!("CREATE TABLE t{v} (id int);"),
            &format!("DROP TABLE t{v};"),
        );
    }
    project.compat(1, 3);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project.migration(2, "t2", "CREATE TABLE t2 (id int);", "DROP TABLE t2;");
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(3);
    project
        .run(&db.url, &["check"])
        .await
        .expect_code(3)
        .expect_text("out of order");
    let status = project.run(&db.url, &["status"]).await;
    status.expect_code(0);
    assert!(
        status.text().contains("INCOMPATIBLE") && status.text().contains("out of order"),
        "{}",
        status.text()
    );
}

/// A pending file the grammar refuses: `migrate` refuses it before any change (exit 2,
/// naming the file's line and column), and so do `check` and `status`, never "run
/// `schemagate migrate`".
#[tokio::test]
async fn check_and_status_refuse_a_pending_file_certain_to_fail_as_migrate_does() {
    let db = TestDb::new().await;
    let project = migrated(&db, 1, 1, (1, 2)).await;
    project.migration(
        2,
        "t2",
        "CREATE TABLE t2 (id int);\nCREATE TABL t3 (id int);",
        "DROP TABLE t2;",
    );
    let migrate = project.run(&db.url, &["migrate", "--no-backup"]).await;
    migrate.expect_code(2);
    let check = project.run(&db.url, &["check"]).await;
    check.expect_code(2);
    for run in [&migrate, &check] {
        run.expect_text("V2__t2.sql:2:8");
        assert!(
            !run.text().contains("run `schemagate migrate`"),
            "{}",
            run.text()
        );
    }
    let status = project.run(&db.url, &["status"]).await;
    status.expect_code(0);
    assert!(
        status.text().contains("INCOMPATIBLE") && status.text().contains("V2__t2.sql:2:8"),
        "{}",
        status.text()
    );
    assert_eq!(db.history().await, [1]);
}

#[tokio::test]
async fn status_calls_a_drifted_history_incompatible_and_says_why() {
    let db = TestDb::new().await;
    let project = migrated(&db, 2, 2, (1, 2)).await;
    project.migration(
        2,
        "create_t2",
        "CREATE TABLE t2 (id int, edited int);",
        "DROP TABLE t2;",
    );
    let status = project.run(&db.url, &["status", "--json"]).await;
    status.expect_code(0);
    let json: serde_json::Value = serde_json::from_slice(&status.0.stdout).unwrap();
    assert_eq!(json["compatible"], false, "{json}");
    assert!(
        json["refusal"]
            .as_str()
            .is_some_and(|r| r.starts_with("drift: version 2")),
        "{json}"
    );
    project.run(&db.url, &["check"]).await.expect_code(3);
}

#[tokio::test]
async fn a_database_with_an_sqlx_history_is_told_to_adopt_it_not_to_baseline() {
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    let client = db.client().await;
    client
        .batch_execute(
            "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, \
             installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL, \
             checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL); CREATE TABLE t1 (id int);",
        )
        .await
        .unwrap();
    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(3);
    let text = run.text();
    assert!(text.contains("schemagate adopt --from sqlx"), "{text}");
    assert!(!text.contains("baseline --version"), "{text}");
    assert!(db.history().await.is_empty());
}

#[tokio::test]
async fn output_to_a_closed_pipe_ends_quietly_with_the_commands_code() {
    let db = TestDb::new().await;
    let project = migrated(&db, 2, 2, (1, 2)).await;
    for args in [&["status", "--json"][..], &["backups"], &["plan"]] {
        let mut child = project
            .command(&db.url, args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command writes its first line.
        drop(child.stdout.take());
        let output = child.wait_with_output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
