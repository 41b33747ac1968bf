//! Live schema drift (issue 24, DESIGN §19), through the binary on real databases: every
//! change records the description it left in `schemagate_schema`; DDL run by hand shows in
//! `/health`, `/metrics`, `status` and `diff` within one `--drift-interval`; `[drift]
//! ignore` and `[drift] refuse`; a database without a record says so and gets one at its
//! next change; a change killed part way leaves its record superseded, not drift.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::serve::{Served, get, spawn};
use crate::support::{Project, TestDb, sample};

/// The drift check's interval in these tests.
const INTERVAL: &str = "1s";

/// How long a hand-made change may take to show: one interval, plus the check's own time
/// and the poll's.
const WITHIN: Duration = Duration::from_millis(2500);

/// One table with an index, a function and an extension at an old version, window [1, 1].
fn postgres_project() -> Project {
    let project = Project::new();
    project.migration(
        1,
        "users",
        "CREATE EXTENSION ltree VERSION '1.1';\n\
         CREATE TABLE users (id int PRIMARY KEY, email text NOT NULL);\n\
         CREATE INDEX users_email ON users (email);\n\
         CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42';\n",
        "DROP FUNCTION answer();\nDROP TABLE users;\nDROP EXTENSION ltree;\n",
    );
    project.compat(1, 1);
    project
}

/// Waits until `/health` shows drift naming `object` (`extra column users.nickname`)
/// and returns `schema.drift`; fails after [`WITHIN`].
async fn drift_shown(address: SocketAddr, object: &str) -> Value {
    let deadline = Instant::now() + WITHIN;
    loop {
        let (status, body) = get(address, "/health").await;
        let health: Value = serde_json::from_str(&body).unwrap();
        let drift = &health["schema"]["drift"];
        let named = drift["objects"]
            .as_array()
            .is_some_and(|objects| objects.iter().any(|o| o == object));
        if named {
            assert_eq!(status, 200, "drift never makes the replica unready: {body}");
            return drift.clone();
        }
        assert!(
            Instant::now() < deadline,
            "/health did not show {object:?} within {WITHIN:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until `/health` shows no drift; fails after [`WITHIN`].
async fn no_drift_shown(address: SocketAddr) {
    let deadline = Instant::now() + WITHIN;
    loop {
        let (_, body) = get(address, "/health").await;
        let health: Value = serde_json::from_str(&body).unwrap();
        if health["schema"]["drift"].is_null() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "/health still shows drift after {WITHIN:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `{p}_schema_drift` and `{p}_schema_drift_objects`.
async fn drift_metrics(address: SocketAddr) -> (f64, f64) {
    let (_, metrics) = get(address, "/metrics").await;
    (
        sample(&metrics, "schemagate_schema_drift").unwrap(),
        sample(&metrics, "schemagate_schema_drift_objects").unwrap(),
    )
}

/// Asserts `/health`, `/metrics`, `status` and `diff` all report `object` (by kind and
/// name, as `/health` names it) and `diff` prints `line` (its whole description).
async fn reported_everywhere(
    project: &Project,
    url: &str,
    served: &Served,
    object: &str,
    line: &str,
) {
    let drift = drift_shown(served.address, object).await;
    assert_eq!(drift["count"], 1, "{drift}");
    assert!(drift["since"].as_str().is_some(), "{drift}");
    assert_eq!(drift_metrics(served.address).await, (1.0, 1.0));
    let status = project.run(url, &["status"]).await;
    status.expect_code(0);
    assert!(
        status.text().contains("schema drift: 1 object(s) differ")
            && status.text().contains(object),
        "{}",
        status.text()
    );
    let diff = project.run(url, &["diff"]).await;
    diff.expect_code(3);
    assert!(
        diff.text().contains(line),
        "{line:?} not in:\n{}",
        diff.text()
    );
    let json = project.run(url, &["diff", "--json"]).await;
    json.expect_code(3);
    let stdout = String::from_utf8_lossy(&json.0.stdout);
    let parsed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(parsed["recorded"]["version"], 1, "{parsed}");
    assert_eq!(
        parsed["recorded"]["fingerprint"].as_str().unwrap().len(),
        64
    );
}

#[tokio::test]
async fn hand_made_changes_on_postgresql_show_in_health_metrics_status_and_diff_within_one_interval()
 {
    let db = TestDb::new().await;
    let project = postgres_project();
    project.migrate_no_backup(&db.url).await;
    project
        .run(&db.url, &["diff"])
        .await
        .expect_code(0)
        .expect_text("drift: none");
    let served = spawn(&project, &db.url, &["--drift-interval", INTERVAL], "info").await;
    no_drift_shown(served.address).await;
    assert_eq!(drift_metrics(served.address).await, (0.0, 0.0));

    db.execute("ALTER TABLE users ADD COLUMN nickname text")
        .await;
    reported_everywhere(
        &project,
        &db.url,
        &served,
        "extra column users.nickname",
        "extra: column users.nickname text",
    )
    .await;
    db.execute("ALTER TABLE users DROP COLUMN nickname").await;
    no_drift_shown(served.address).await;

    db.execute("DROP INDEX users_email").await;
    reported_everywhere(
        &project,
        &db.url,
        &served,
        "missing index users_email",
        "missing: index users_email: CREATE INDEX users_email ON public.users USING btree (email)",
    )
    .await;
    db.execute("CREATE INDEX users_email ON users (email)")
        .await;
    no_drift_shown(served.address).await;

    db.execute("CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 43'")
        .await;
    reported_everywhere(
        &project,
        &db.url,
        &served,
        "changed routine answer()",
        "changed: routine answer()",
    )
    .await;
    db.execute("CREATE OR REPLACE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42'")
        .await;
    no_drift_shown(served.address).await;

    db.execute("ALTER EXTENSION ltree UPDATE TO '1.2'").await;
    reported_everywhere(
        &project,
        &db.url,
        &served,
        "changed extension ltree",
        "live:     extension ltree: 1.2",
    )
    .await;
}

#[tokio::test]
async fn a_migration_records_the_new_description_and_reports_no_drift() {
    let db = TestDb::new().await;
    let project = postgres_project();
    project.migrate_no_backup(&db.url).await;
    project.migration(
        2,
        "nickname",
        "ALTER TABLE users ADD COLUMN nickname text;",
        "ALTER TABLE users DROP COLUMN nickname;",
    );
    project.compat(1, 2);
    project.migrate_no_backup(&db.url).await;
    let rows = db
        .client()
        .await
        .query(
            "SELECT version, fingerprint, description FROM schemagate_schema ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, [1, 2]);
    let (first, second): (String, String) = (rows[0].get(1), rows[1].get(1));
    assert_ne!(first, second);
    let described: String = rows[1].get(2);
    assert!(
        described.contains("column users.nickname text"),
        "{described}"
    );
    project
        .run(&db.url, &["diff"])
        .await
        .expect_code(0)
        .expect_text("drift: none");
    project
        .run(&db.url, &["status"])
        .await
        .expect_code(0)
        .expect_text("schema drift: none");
    project
        .run(&db.url, &["check"])
        .await
        .expect_code(0)
        .expect_text("schema drift: none");
}

#[tokio::test]
async fn a_database_without_a_record_says_so_and_records_one_at_its_next_change() {
    let db = TestDb::new().await;
    let project = postgres_project();
    project.migrate_no_backup(&db.url).await;
    // As a database gated by a release before descriptions were recorded.
    db.execute("DROP TABLE schemagate_schema; ALTER TABLE users ADD COLUMN by_hand int")
        .await;
    for command in ["diff", "status"] {
        let run = project.run(&db.url, &[command]).await;
        run.expect_code(0);
        assert!(
            run.text().contains("no description recorded yet"),
            "{command}: {}",
            run.text()
        );
    }
    let served = spawn(&project, &db.url, &["--drift-interval", INTERVAL], "info").await;
    tokio::time::sleep(WITHIN).await;
    no_drift_shown(served.address).await;
    assert_eq!(drift_metrics(served.address).await, (0.0, 0.0));

    project.migration(2, "t2", "CREATE TABLE t2 (id int);", "DROP TABLE t2;");
    project.compat(1, 2);
    let migrated = project.run(&db.url, &["migrate", "--no-backup"]).await;
    migrated.expect_code(0);
    assert!(
        migrated
            .text()
            .contains("no description of the schema was recorded before"),
        "{}",
        migrated.text()
    );
    project.run(&db.url, &["diff"]).await.expect_code(0);
    db.execute("ALTER TABLE t2 ADD COLUMN later int").await;
    project
        .run(&db.url, &["diff"])
        .await
        .expect_code(3)
        .expect_text("extra: column t2.later integer");
}

#[tokio::test]
async fn ignored_objects_are_left_out_of_the_check() {
    let db = TestDb::new().await;
    let project = postgres_project();
    project.compat_text(
        "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 1\n[drift]\nignore = [\"public.events_*\", \"*.tmp_?\"]\n",
    );
    project.migrate_no_backup(&db.url).await;
    db.execute(
        "CREATE TABLE events_2026_12 (id int); CREATE INDEX events_2026_12_id ON events_2026_12 (id); \
         CREATE TABLE tmp_1 (id int)",
    )
    .await;
    project
        .run(&db.url, &["diff"])
        .await
        .expect_code(0)
        .expect_text("drift: none");
    db.execute("CREATE TABLE tmp_12 (id int)").await;
    project
        .run(&db.url, &["diff"])
        .await
        .expect_code(3)
        .expect_text("extra: table tmp_12");
}

#[tokio::test]
async fn refuse_stops_a_migration_of_a_drifted_database_before_the_backup_and_warns_without_it() {
    let db = TestDb::new().await;
    let project = postgres_project();
    project.migrate_no_backup(&db.url).await;
    db.execute("ALTER TABLE users ADD COLUMN by_hand int").await;
    project.migration(2, "t2", "CREATE TABLE t2 (id int);", "DROP TABLE t2;");
    let refusing =
        "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 2\n[drift]\nrefuse = true\n";
    project.compat_text(refusing);

    let dry = project.run(&db.url, &["migrate", "--dry-run"]).await;
    dry.expect_code(3);
    assert!(
        dry.text().contains("schema drift: 1 object(s) differ")
            && dry.text().contains("extra column users.by_hand"),
        "{}",
        dry.text()
    );
    let refused = project.run(&db.url, &["migrate"]).await;
    refused.expect_code(3);
    for said in [
        "refusing to migrate: the live schema drifted",
        "extra column users.by_hand",
        "schemagate diff",
        "adopt the change into a migration or repair the database",
        "compat.toml",
    ] {
        assert!(
            refused.text().contains(said),
            "{said:?} not in:\n{}",
            refused.text()
        );
    }
    assert_eq!(db.history().await, [1]);
    assert!(
        !project.backups().exists() || std::fs::read_dir(project.backups()).unwrap().count() == 0,
        "no backup before a refusal"
    );

    project.compat(1, 2);
    let warned = project.run(&db.url, &["migrate", "--no-backup"]).await;
    warned.expect_code(0);
    assert!(
        warned
            .text()
            .contains("the live schema drifted from the recorded description"),
        "{}",
        warned.text()
    );
    assert_eq!(db.history().await, [1, 2]);
    // The migration recorded what it left, the column made by hand included.
    project.run(&db.url, &["diff"]).await.expect_code(0);
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_column_added_by_hand_on_sqlite_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let url = format!("sqlite:{}", path.display());
    let project = Project::new();
    project.migration(
        1,
        "users",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);",
        "DROP TABLE users;",
    );
    project.compat(1, 1);
    project.migrate_no_backup(&url).await;
    project.run(&url, &["diff"]).await.expect_code(0);
    let served = spawn(&project, &url, &["--drift-interval", INTERVAL], "info").await;
    no_drift_shown(served.address).await;
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch("ALTER TABLE users ADD COLUMN nickname TEXT")
        .unwrap();
    reported_everywhere(
        &project,
        &url,
        &served,
        "extra column users.nickname",
        "extra: column users.nickname text",
    )
    .await;
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_column_added_by_hand_on_mariadb_is_reported() {
    use mysql_async::prelude::Queryable as _;
    let db = crate::support::mariadb::MariaDb::new().await;
    let project = Project::new();
    project.migration(
        1,
        "users",
        "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(80) NOT NULL);",
        "DROP TABLE users;",
    );
    project.compat(1, 1);
    project.migrate_no_backup(&db.url).await;
    project.run(&db.url, &["diff"]).await.expect_code(0);
    let served = spawn(&project, &db.url, &["--drift-interval", INTERVAL], "info").await;
    no_drift_shown(served.address).await;
    db.conn()
        .await
        .query_drop("ALTER TABLE users ADD COLUMN nickname TEXT")
        .await
        .unwrap();
    reported_everywhere(
        &project,
        &db.url,
        &served,
        "extra column users.nickname",
        "extra: column users.nickname text",
    )
    .await;
}

/// Migration 3 of the killed-change tests: a table, then `slow` (a statement that runs
/// until the test kills it, or none).
fn third_step(project: &Project, create: &str, slow: &str) {
    project.migration(3, "slow", &format!("{create}\n{slow}"), "DROP TABLE t3;");
}

/// Asserts `diff` and `status` say the newest record is superseded and report no drift.
async fn superseded_not_drift(project: &Project, url: &str) {
    for command in ["diff", "status"] {
        let run = project.run(url, &[command]).await;
        run.expect_code(0);
        assert!(
            run.text()
                .contains("not checked: a change began after the newest description")
                && !run.text().contains("extra"),
            "{command}: {}",
            run.text()
        );
    }
    let json = project.run(url, &["diff", "--json"]).await;
    json.expect_code(0);
    let parsed: Value = serde_json::from_slice(&json.0.stdout).unwrap();
    assert_eq!(parsed["recorded"]["superseded"], true, "{parsed}");
    assert_eq!(parsed["recorded"]["version"], 1, "{parsed}");
    assert_eq!(parsed["extra"], serde_json::json!([]), "{parsed}");
}

#[tokio::test]
async fn a_migration_killed_after_a_committed_step_leaves_no_false_drift_and_the_next_change_records()
 {
    let db = TestDb::new().await;
    let project = postgres_project();
    project.migrate_no_backup(&db.url).await;
    project.migration(2, "t2", "CREATE TABLE t2 (id int);", "DROP TABLE t2;");
    third_step(
        &project,
        "CREATE TABLE t3 (id int);",
        "SELECT pg_sleep(600);",
    );
    project.compat(1, 3);
    let client = db.client().await;
    let mut child = project
        .command(&db.url, &["migrate", "--no-backup"])
        .spawn()
        .unwrap();
    let sleeping = crate::support::session(
        &client,
        "state = 'active' AND query LIKE '%pg_sleep(600)%'",
        "step 3's sleep",
    )
    .await;
    // SIGKILL after step 2 committed: nothing of the gate runs after it.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    client
        .execute("SELECT pg_terminate_backend($1)", &[&sleeping])
        .await
        .unwrap();
    assert_eq!(db.history().await, [1, 2]);
    assert!(db.tables().await.contains(&"t2".to_owned()));
    // The record still describes version 1, without t2: compared, it would be drift.
    superseded_not_drift(&project, &db.url).await;
    for step in ["V3__slow.sql", "V3__slow.down.sql"] {
        std::fs::remove_file(project.migrations().join(step)).unwrap();
    }
    project.compat(1, 2);
    let served = spawn(&project, &db.url, &["--drift-interval", INTERVAL], "info").await;
    tokio::time::sleep(WITHIN).await;
    no_drift_shown(served.address).await;
    assert_eq!(drift_metrics(served.address).await, (0.0, 0.0));
    let (_, metrics) = get(served.address, "/metrics").await;
    let took = sample(&metrics, "schemagate_schema_drift_check_seconds").unwrap();
    assert!(took > 0.0 && took < 10.0, "{took}");
    drop(served);

    third_step(&project, "CREATE TABLE t3 (id int);", "");
    project.compat(1, 3);
    project.migrate_no_backup(&db.url).await;
    let rows = client
        .query(
            "SELECT version, superseded FROM schemagate_schema ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let rows: Vec<(i64, bool)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(rows, [(1, true), (3, false)]);
    project
        .run(&db.url, &["diff"])
        .await
        .expect_code(0)
        .expect_text("drift: none");
    db.execute("ALTER TABLE t2 ADD COLUMN later int").await;
    project
        .run(&db.url, &["diff"])
        .await
        .expect_code(3)
        .expect_text("extra: column t2.later integer");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_migration_killed_after_a_committed_step_on_sqlite_leaves_no_false_drift() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.db");
    let url = format!("sqlite:{}", path.display());
    let project = Project::new();
    project.migration(1, "t1", "CREATE TABLE t1 (id INTEGER);", "DROP TABLE t1;");
    project.compat(1, 1);
    project.migrate_no_backup(&url).await;
    project.migration(2, "t2", "CREATE TABLE t2 (id INTEGER);", "DROP TABLE t2;");
    // Counts far enough to run until the test kills it.
    let slow = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n LIMIT 100000000000) \
                SELECT count(*) FROM n;";
    third_step(&project, "CREATE TABLE t3 (id INTEGER);", slow);
    project.compat(1, 3);
    let mut child = project
        .command(&url, &["migrate", "--no-backup"])
        .spawn()
        .unwrap();
    let reader = rusqlite::Connection::open(&path).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while reader
        .query_row(
            "SELECT count(*) FROM refinery_schema_history WHERE version = 2",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "step 2 never committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SIGKILL inside step 3, after step 2 committed.
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    superseded_not_drift(&project, &url).await;

    third_step(&project, "CREATE TABLE t3 (id INTEGER);", "");
    project.migrate_no_backup(&url).await;
    project.run(&url, &["diff"]).await.expect_code(0);
    reader
        .execute_batch("ALTER TABLE t2 ADD COLUMN later INTEGER")
        .unwrap();
    project
        .run(&url, &["diff"])
        .await
        .expect_code(3)
        .expect_text("extra: column t2.later");
}
