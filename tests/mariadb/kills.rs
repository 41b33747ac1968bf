//! Gates racing for one MariaDB database and gates killed with SIGKILL (issue 26): every
//! migration runs exactly once, a kill between two statements of a DDL file leaves a
//! history that says which ran, and a dead holder frees the lock within seconds.

use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable as _;

use crate::support::mariadb::MariaDb;
use crate::support::{Project, Run};

/// What a gate that waited for the lock logs.
const WAITED: &str = "waiting for the migration lock";

#[tokio::test]
async fn eight_gates_started_together_apply_every_migration_exactly_once() {
    let db = MariaDb::new().await;
    let project = Project::new();
    project.migration(
        1,
        "ran",
        "CREATE TABLE ran (version INT PRIMARY KEY);\nDO SLEEP(0.3);\nINSERT INTO ran VALUES (1);\n",
        "DROP TABLE ran;\n",
    );
    for v in 2..=4 {
        // A second run of any of these fails: the table exists, the row's key is taken.
        project.migration(
            v,
            &format!("create_t{v}"),
            &format!(
                "CREATE TABLE t{v} (id INT);\nDO SLEEP(0.3);\nINSERT INTO ran VALUES ({v});\n"
            ),
            &format!("DROP TABLE t{v};\nDELETE FROM ran WHERE version = {v};\n"),
        );
    }
    project.compat(4, 4);
    let racers: Vec<_> = (0..8)
        .map(|_| {
            project
                .command(
                    &db.url,
                    &["migrate", "--no-backup", "--lock-timeout", "60s"],
                )
                .spawn()
                .unwrap()
        })
        .collect();
    let mut waited = 0;
    for racer in racers {
        let run = Run(racer.wait_with_output().await.unwrap());
        run.expect_code(0);
        waited += usize::from(run.text().contains(WAITED));
    }
    assert!(
        waited > 0,
        "no racer waited for the lock: the race proved nothing"
    );
    let ran: Vec<i64> = db
        .conn()
        .await
        .query("SELECT version FROM ran ORDER BY version")
        .await
        .unwrap();
    assert_eq!(ran, [1, 2, 3, 4], "each migration's row, once");
    assert_eq!(db.history().await, [1, 2, 3, 4]);
    let migrations: Vec<(i64, i64)> = db
        .conn()
        .await
        .query("SELECT from_version, to_version FROM schemagate_audit WHERE from_version <> to_version")
        .await
        .unwrap();
    assert_eq!(migrations, [(0, 4)], "one racer changed the schema");
}

/// Migration 1 makes `sleep_control` (30 s) and `slept`; 2 is `three`: a table, a sleep
/// as long as `sleep_control` says, a second table; 3 is data only (one transaction),
/// sleeping as long too.
fn sleepy_project() -> Project {
    let project = Project::new();
    project.migration(
        1,
        "control",
        "CREATE TABLE sleep_control (seconds INT);\nINSERT INTO sleep_control VALUES (30);\nCREATE TABLE slept (x INT);\n",
        "DROP TABLE slept;\nDROP TABLE sleep_control;\n",
    );
    project.migration(
        2,
        "three",
        "CREATE TABLE c (id INT);\n\nDO SLEEP((SELECT seconds FROM sleep_control));\nCREATE TABLE d (id INT);\n",
        "DROP TABLE d;\nDROP TABLE c;\n",
    );
    project.migration(
        3,
        "data_only",
        "INSERT INTO slept SELECT SLEEP(seconds) FROM sleep_control;\n",
        "DELETE FROM slept;\n",
    );
    project
}

/// Lets the sleeping migrations through.
async fn no_more_sleep(db: &MariaDb) {
    db.conn()
        .await
        .query_drop("UPDATE sleep_control SET seconds = 0")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sigkill_between_two_statements_leaves_a_history_naming_them_until_repaired() {
    let db = MariaDb::new().await;
    let project = sleepy_project();
    project.compat(2, 2);
    let mut gate = project
        .command(&db.url, &["migrate", "--no-backup"])
        .spawn()
        .unwrap();
    db.running("DO SLEEP((SELECT").await;
    gate.start_kill().unwrap(); // SIGKILL, between statement 1's commit and statement 3
    gate.wait().await.unwrap();
    assert_eq!(
        db.progress().await,
        [
            (1, "applied".to_owned(), 3, 3),
            (2, "in progress".to_owned(), 1, 3)
        ],
        "statement 1 of version 2 counted, the rest not"
    );
    assert!(db.tables().await.contains(&"c".to_owned()));
    assert!(!db.tables().await.contains(&"d".to_owned()));

    let refused = project
        .run(
            &db.url,
            &["migrate", "--no-backup", "--lock-timeout", "60s"],
        )
        .await;
    refused.expect_code(3);
    for said in [
        "version 2 (three) stopped part way while applying: statement 1 of 3 ran; statement 2 may or may not have run, the ones after it did not",
        "schemagate repair --version 2 --applied",
    ] {
        assert!(
            refused.text().contains(said),
            "{said:?} not in:\n{}",
            refused.text()
        );
    }
    assert!(!db.tables().await.contains(&"d".to_owned()), "nothing ran");

    // The operator takes statement 1 back by hand and records it.
    db.conn().await.query_drop("DROP TABLE c").await.unwrap();
    project
        .run(&db.url, &["repair", "--version", "2", "--reverted"])
        .await
        .expect_code(0);
    no_more_sleep(&db).await;
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
    let tables = db.tables().await;
    assert!(
        ["c", "d"].iter().all(|t| tables.contains(&(*t).to_owned())),
        "{tables:?}"
    );
}

#[tokio::test]
async fn a_holder_killed_with_sigkill_frees_the_lock_and_a_waiter_proceeds_within_seconds() {
    let db = MariaDb::new().await;
    let project = sleepy_project();
    project.compat(1, 1);
    project.migrate_no_backup(&db.url).await;
    no_more_sleep(&db).await;
    project.compat(2, 2);
    project.migrate_no_backup(&db.url).await;
    project.compat(3, 3);
    db.conn()
        .await
        .query_drop("UPDATE sleep_control SET seconds = 60")
        .await
        .unwrap();
    let mut holder = project
        .command(&db.url, &["migrate", "--no-backup"])
        .spawn()
        .unwrap();
    db.running("SLEEP(seconds)").await;
    let waiter = project
        .command(
            &db.url,
            &["migrate", "--no-backup", "--lock-timeout", "120s"],
        )
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    holder.start_kill().unwrap(); // SIGKILL while it holds the lock, mid-step
    let killed = Instant::now();
    holder.wait().await.unwrap();
    // The killed step's transaction holds sleep_control's row until the server ends it.
    no_more_sleep(&db).await;
    let run = Run(
        tokio::time::timeout(Duration::from_secs(60), waiter.wait_with_output())
            .await
            .expect("the waiter finishes")
            .unwrap(),
    );
    let took = killed.elapsed();
    run.expect_code(0);
    assert!(run.text().contains(WAITED), "it waited:\n{}", run.text());
    assert!(
        took < Duration::from_secs(15),
        "the waiter finished {took:?} after the holder's SIGKILL"
    );
    assert_eq!(db.history().await, [1, 2, 3]);
    let slept: Vec<i64> = db.conn().await.query("SELECT x FROM slept").await.unwrap();
    assert_eq!(
        slept,
        [0],
        "the killed step left nothing; the waiter's ran once"
    );
}
