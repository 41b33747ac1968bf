//! MariaDB backups restored through the binary (issue 26): a dump restored gives the same
//! schema and rows; a restore whose load client dies leaves the database refused, naming
//! the backup taken before it, until a restore finishes.

use std::path::PathBuf;
use std::time::Duration;

use mysql_async::prelude::Queryable as _;

use crate::support::mariadb::MariaDb;
use crate::support::{Project, Run};

/// Migration 1: `p` with a binary column and a view; 2: `later`. Window [1, 1].
fn project() -> Project {
    let project = Project::new();
    project.migration(
        1,
        "p",
        "CREATE TABLE p (id INT PRIMARY KEY, b BLOB);\nCREATE VIEW v AS SELECT id FROM p;\n",
        "DROP VIEW v;\nDROP TABLE p;\n",
    );
    project.migration(
        2,
        "later",
        "CREATE TABLE later (x INT);\n",
        "DROP TABLE later;\n",
    );
    project.compat(1, 1);
    project
}

/// The backup files (`.dump`) in the project's backup directory, oldest first.
fn dumps(project: &Project) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(project.backups())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .collect();
    files.sort();
    files
}

/// `p`'s rows.
async fn rows(db: &MariaDb) -> Vec<(i32, Option<Vec<u8>>)> {
    db.conn()
        .await
        .query("SELECT id, b FROM p ORDER BY id")
        .await
        .unwrap()
}

#[tokio::test]
async fn a_dump_restored_gives_the_same_schema_and_rows() {
    let db = MariaDb::new().await;
    let project = project();
    project.migrate_no_backup(&db.url).await;
    db.conn()
        .await
        .query_drop("INSERT INTO p VALUES (1, x'00ff0a'), (2, NULL)")
        .await
        .unwrap();
    project.run(&db.url, &["backup"]).await.expect_code(0);
    let taken = dumps(&project);
    assert_eq!(taken.len(), 1, "{taken:?}");
    project.run(&db.url, &["verify"]).await.expect_code(0);
    let before = (db.tables().await, rows(&db).await);

    project.compat(2, 2);
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    db.conn()
        .await
        .query_drop("DELETE FROM p WHERE id = 2; UPDATE p SET b = NULL")
        .await
        .unwrap();
    let restored = project
        .run(&db.url, &["restore", taken[0].to_str().unwrap(), "--yes"])
        .await;
    restored.expect_code(0);
    assert_eq!((db.tables().await, rows(&db).await), before);
    assert_eq!(db.history().await, [1]);
    project.compat(1, 1);
    project.run(&db.url, &["verify"]).await.expect_code(0);
    let audit: Vec<String> = db
        .conn()
        .await
        .query("SELECT action FROM schemagate_audit ORDER BY id")
        .await
        .unwrap();
    assert_eq!(
        audit,
        ["migrate", "migrate", "restore"],
        "the trail is kept"
    );
}

/// Waits (up to 60 s) for a child of `pid` whose command line matches the regular
/// expression `command` and kills it with SIGKILL. The whole command line, not the
/// program's name: the same client also runs as a short `--version` probe, and killing
/// that would test another failure than the one meant.
async fn kill_child(pid: u32, command: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let found = tokio::process::Command::new("pgrep")
            .args(["-P", &pid.to_string(), "-f", command])
            .output()
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&found.stdout).trim().to_owned();
        if let Some(child) = text.lines().next() {
            crate::support::send_signal(child.parse().unwrap(), "KILL").await;
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no child of {pid} running {command:?} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_restore_whose_load_client_dies_is_refused_naming_the_backup_until_one_finishes() {
    let db = MariaDb::new().await;
    let project = project();
    project.migrate_no_backup(&db.url).await;
    // Enough rows that loading them takes a while.
    db.conn()
        .await
        .query_drop(
            "CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(200)); \
             INSERT INTO big SELECT seq, REPEAT('x', 200) FROM seq_1_to_200000; \
             INSERT INTO p VALUES (1, x'00')",
        )
        .await
        .unwrap();
    project.run(&db.url, &["backup"]).await.expect_code(0);
    let taken = dumps(&project);
    assert_eq!(taken.len(), 1, "{taken:?}");
    let file = taken[0].to_str().unwrap().to_owned();

    let restore = project
        .command(&db.url, &["restore", &file, "--yes"])
        .spawn()
        .unwrap();
    // The load, not the `--version` probe of the same client.
    kill_child(restore.id().unwrap(), "mariadb .*--binary-mode").await;
    let failed = Run(restore.wait_with_output().await.unwrap());
    failed.expect_code(6);
    let undo = dumps(&project)
        .into_iter()
        .find(|d| d.to_str() != Some(file.as_str()))
        .expect("a backup was taken before the restore");
    let undo = undo.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        failed.text().contains(&undo),
        "the failure names {undo}:\n{}",
        failed.text()
    );

    for args in [&["migrate", "--no-backup"][..], &["status"][..]] {
        let refused = project.run(&db.url, args).await;
        refused.expect_code(3);
        for said in ["did not finish", file.as_str(), undo.as_str(), "restore"] {
            assert!(
                refused.text().contains(said),
                "{args:?}: {said:?} not in:\n{}",
                refused.text()
            );
        }
    }

    project
        .run(&db.url, &["restore", &file, "--yes"])
        .await
        .expect_code(0);
    let big: Option<i64> = db
        .conn()
        .await
        .query_first("SELECT COUNT(*) FROM big")
        .await
        .unwrap();
    assert_eq!(big, Some(200_000));
    assert_eq!(rows(&db).await, [(1, Some(vec![0]))]);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
}
