//! SQLite, the whole gate (issue 23 item 2): the binary run on a SQLite file in a temp
//! directory, as an operator runs it: migrate, status, check, plan, dry runs, rollback,
//! backups and restore, the lock, and serve with `/health` and `/metrics`.

use std::path::PathBuf;

use crate::support::serve::{get, spawn};
use crate::support::{Project, send_signal};

/// A SQLite database file in a directory of its own, removed with it.
struct SqliteDb {
    _dir: tempfile::TempDir,
    path: PathBuf,
    url: String,
}

impl SqliteDb {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.db");
        let url = format!("sqlite:{}", path.display());
        Self {
            _dir: dir,
            path,
            url,
        }
    }

    fn connection(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).unwrap()
    }

    /// The applied versions, in order.
    fn history(&self) -> Vec<i64> {
        let connection = self.connection();
        if !self.tables_named("refinery_schema_history") {
            return Vec::new();
        }
        let mut statement = connection
            .prepare("SELECT version FROM refinery_schema_history ORDER BY version")
            .unwrap();
        statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// Whether the file has a table of this name.
    fn tables_named(&self, name: &str) -> bool {
        self.connection()
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = ?1",
                [name],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
            > 0
    }

    /// The user tables, sorted.
    fn tables(&self) -> Vec<String> {
        let connection = self.connection();
        let mut statement = connection
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' \
                 AND name NOT IN ('refinery_schema_history', 'schemagate_audit', 'schemagate_fleet') ORDER BY name",
            )
            .unwrap();
        statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

#[tokio::test]
async fn a_sqlite_file_is_migrated_with_a_verified_backup_and_a_second_run_changes_nothing() {
    let db = SqliteDb::new();
    let project = Project::with_tables(3, 2, 3);
    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(0);
    assert_eq!(db.history(), [1, 2, 3]);
    assert_eq!(db.tables(), ["t1", "t2", "t3"]);
    let backups: Vec<String> = std::fs::read_dir(project.backups())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        backups
            .iter()
            .any(|n| n.starts_with("app.db-schema0-") && n.ends_with(".sqlite")),
        "{backups:?}"
    );
    let again = project.run(&db.url, &["migrate"]).await;
    again.expect_code(0);
    assert!(
        again.text().contains("0 migration(s) applied"),
        "{}",
        again.text()
    );
    project.run(&db.url, &["check"]).await.expect_code(0);
    let status = project.run(&db.url, &["status"]).await;
    status.expect_code(0);
    assert!(status.text().contains('3'), "{}", status.text());
}

#[tokio::test]
async fn a_failing_step_exits_6_naming_file_and_statement_with_nothing_of_it_applied() {
    let db = SqliteDb::new();
    let project = Project::with_tables(4, 1, 4);
    project.migration(
        3,
        "create_t3",
        "CREATE TABLE t3 (id int);\nINSERT INTO missing_table VALUES (1);",
        "DROP TABLE t3;",
    );
    let run = project.run(&db.url, &["migrate", "--no-backup"]).await;
    run.expect_code(6);
    let text = run.text();
    assert!(
        text.contains("V3__create_t3.sql") && text.contains("no such table: missing_table"),
        "{text}"
    );
    assert!(
        text.contains("completed before it in this run: 1, 2"),
        "{text}"
    );
    assert_eq!(db.history(), [1, 2]);
    assert_eq!(db.tables(), ["t1", "t2"]);
}

#[tokio::test]
async fn a_syntax_error_is_refused_before_anything_runs() {
    let db = SqliteDb::new();
    let project = Project::with_tables(2, 1, 3);
    project.migration(
        3,
        "bad",
        "CREATE TABLE t3 (id int);\nCREAT TABLE t4 (id int);",
        "DROP TABLE t3;",
    );
    let run = project.run(&db.url, &["migrate", "--no-backup"]).await;
    run.expect_code(2);
    assert!(run.text().contains("V3__bad.sql:2:1"), "{}", run.text());
    assert!(
        db.history().is_empty() && db.tables().is_empty(),
        "nothing ran"
    );
}

#[tokio::test]
async fn a_dry_run_and_plan_change_nothing_and_take_no_lock() {
    let db = SqliteDb::new();
    let project = Project::with_tables(2, 2, 2);
    project.run(&db.url, &["plan"]).await.expect_code(0);
    project
        .run(&db.url, &["migrate", "--dry-run"])
        .await
        .expect_code(0);
    project.run(&db.url, &["status"]).await.expect_code(0);
    assert!(!db.path.exists(), "reading a missing file creates nothing");
    project.migrate_no_backup(&db.url).await;
    project.compat(2, 3);
    project.migration(
        3,
        "create_t3",
        "CREATE TABLE t3 (id int);",
        "DROP TABLE t3;",
    );
    let before = std::fs::read(&db.path).unwrap();
    project
        .run(&db.url, &["migrate", "--dry-run"])
        .await
        .expect_code(0);
    assert_eq!(
        std::fs::read(&db.path).unwrap(),
        before,
        "a dry run changes nothing"
    );
    assert_eq!(db.history(), [1, 2]);
    let lock = format!("{}-schemagate.lock", db.path.display());
    assert!(
        std::fs::read_to_string(lock).unwrap().is_empty(),
        "the lock is free, its holder blanked"
    );
    assert!(!project.backups().exists());
}

#[tokio::test]
async fn rollback_walks_back_to_a_version_with_a_backup_first() {
    let db = SqliteDb::new();
    let project = Project::with_tables(3, 1, 3);
    project.migrate_no_backup(&db.url).await;
    let run = project
        .run(&db.url, &["migrate", "--rollback-to", "1"])
        .await;
    run.expect_code(0);
    assert_eq!(db.history(), [1]);
    assert_eq!(db.tables(), ["t1"]);
}

#[tokio::test]
async fn a_backup_restored_brings_back_the_schema_and_rows() {
    let db = SqliteDb::new();
    let project = Project::with_tables(1, 1, 2);
    project.migrate_no_backup(&db.url).await;
    db.connection()
        .execute_batch("INSERT INTO t1 VALUES (42);")
        .unwrap();
    project.run(&db.url, &["backup"]).await.expect_code(0);
    let listed = project.run(&db.url, &["backups"]).await;
    listed.expect_code(0);
    let file = std::fs::read_dir(project.backups())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .unwrap();
    project.compat(1, 2);
    project.migration(
        2,
        "create_t2",
        "CREATE TABLE t2 (id int);",
        "DROP TABLE t2;",
    );
    project.migrate_no_backup(&db.url).await;
    db.connection().execute_batch("DELETE FROM t1;").unwrap();
    let restore = project
        .run(&db.url, &["restore", file.to_str().unwrap(), "--yes"])
        .await;
    restore.expect_code(0);
    assert!(
        restore.text().contains("SQLite's online backup API"),
        "{}",
        restore.text()
    );
    assert_eq!(db.history(), [1]);
    assert_eq!(db.tables(), ["t1"]);
    let kept: i64 = db
        .connection()
        .query_row("SELECT id FROM t1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(kept, 42);
}

#[tokio::test]
async fn eight_gates_started_together_on_one_file_apply_every_migration_once() {
    let db = SqliteDb::new();
    let project = Project::with_tables(5, 5, 5);
    // Spawned all at once, then awaited.
    let children: Vec<_> = (0..8)
        .map(|_| {
            project
                .command(&db.url, &["migrate", "--no-backup"])
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        crate::support::Run(child.wait_with_output().await.unwrap()).expect_code(0);
    }
    assert_eq!(db.history(), [1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn serve_names_the_engine_in_health_and_exports_metrics() {
    let db = SqliteDb::new();
    let project = Project::with_tables(2, 2, 2);
    let served = spawn(&project, &db.url, &[], "info").await;
    let (status, health) = get(served.address, "/health").await;
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["database"]["engine"], "sqlite", "{health}");
    let (status, metrics) = get(served.address, "/metrics").await;
    assert_eq!(status, 200);
    for line in [
        "schemagate_schema_current 2",
        "schemagate_database_up 1",
        "schemagate_schema_compatible 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}:\n{metrics}");
    }
    let backup_size = metrics
        .lines()
        .find_map(|l| l.strip_prefix("schemagate_backup_size_bytes "))
        .unwrap();
    assert_ne!(backup_size, "0", "the SQLite backup is counted:\n{metrics}");
    send_signal(served.child.id().unwrap(), "TERM").await;
}

#[tokio::test]
async fn a_read_only_url_refuses_a_change_and_a_missing_file_with_mode_rw_is_named() {
    let db = SqliteDb::new();
    let project = Project::with_tables(1, 1, 1);
    let missing = project
        .run(&format!("{}?mode=rw", db.url), &["migrate"])
        .await;
    missing.expect_code(2);
    assert!(missing.text().contains("app.db"), "{}", missing.text());
    assert!(!db.path.exists());
    db.connection();
    let read_only = project
        .run(&format!("{}?mode=ro", db.url), &["migrate"])
        .await;
    read_only.expect_code(3);
    assert!(read_only.text().contains("mode=ro"), "{}", read_only.text());
}

/// A project of `n` migrations, each a table and enough rows to take a moment.
fn project_with_work(n: i64) -> Project {
    let project = Project::new();
    for v in 1..=n {
        project.migration(
            v,
            &format!("create_t{v}"),
            &format!(
                "CREATE TABLE t{v} (id INTEGER PRIMARY KEY, payload TEXT);\n\
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)\n\
                 INSERT INTO t{v} (payload) SELECT hex(randomblob(16)) FROM n;"
            ),
            &format!("DROP TABLE t{v};"),
        );
    }
    project.compat(n, n);
    project
}

#[tokio::test]
async fn sigkills_during_a_run_leave_history_equal_to_schema_and_the_lock_free() {
    let db = SqliteDb::new();
    let project = project_with_work(30);
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut cut_short = 0;
    for round in 0..20 {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let delay = std::time::Duration::from_millis(u64::from(seed % 150));
        let mut child = project
            .command(&db.url, &["migrate", "--no-backup"])
            .spawn()
            .unwrap();
        tokio::time::sleep(delay).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        let history = db.history();
        let expected: Vec<String> = history.iter().map(|v| format!("t{v}")).collect();
        let mut tables = db.tables();
        tables.sort_by_key(|t| t[1..].parse::<i64>().unwrap());
        assert_eq!(tables, expected, "round {round}, killed after {delay:?}");
        assert!(
            history
                .iter()
                .copied()
                .eq(1..=i64::try_from(history.len()).unwrap()),
            "round {round}: {history:?}"
        );
        eprintln!(
            "round {round}: killed after {delay:?} at version {}",
            history.len()
        );
        cut_short += usize::from(!history.is_empty() && history.len() < 30);
    }
    assert!(
        cut_short > 0,
        "no kill landed inside the run: the test proved nothing"
    );
    let finish = project
        .run(&db.url, &["migrate", "--no-backup", "--lock-timeout", "5s"])
        .await;
    finish.expect_code(0);
    assert_eq!(db.history(), (1..=30).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_step_waits_for_the_applications_write_and_a_write_held_too_long_fails_it_cleanly() {
    let db = SqliteDb::new();
    let project = Project::with_tables(1, 1, 2);
    project.migrate_no_backup(&db.url).await;
    project.migration(
        2,
        "create_t2",
        "CREATE TABLE t2 (id int);",
        "DROP TABLE t2;",
    );
    project.compat(1, 2);
    // The application holds SQLite's write lock longer than the gate waits.
    let application = db.connection();
    application
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO t1 VALUES (7);")
        .unwrap();
    let run = project
        .run(
            &db.url,
            &["migrate", "--no-backup", "--connect-timeout", "1s"],
        )
        .await;
    run.expect_code(6);
    assert!(run.text().contains("locked"), "{}", run.text());
    application.execute_batch("COMMIT").unwrap();
    assert_eq!(db.history(), [1]);
    // Released within the wait: the step runs after it.
    application
        .execute_batch("BEGIN IMMEDIATE; INSERT INTO t1 VALUES (8);")
        .unwrap();
    let run = project
        .command(
            &db.url,
            &["migrate", "--no-backup", "--connect-timeout", "10s"],
        )
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    application.execute_batch("COMMIT").unwrap();
    crate::support::Run(run.wait_with_output().await.unwrap()).expect_code(0);
    assert_eq!(db.history(), [1, 2]);
    let rows: i64 = db
        .connection()
        .query_row("SELECT count(*) FROM t1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 2, "the application's writes are kept");
}
