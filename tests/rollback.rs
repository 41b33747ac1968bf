//! Rollback (issue 4): down migrations to a version or a release, refusals, dry runs.

use std::time::Duration;

use crate::support::{Project, TestDb, files};

/// The schema without schemagate's own tables, as `pg_dump --schema-only` prints it.
async fn schema_of(db: &TestDb) -> String {
    let output = tokio::process::Command::new("pg_dump")
        .args([
            "--schema-only",
            "--no-owner",
            "--exclude-table=refinery_schema_history",
            "--exclude-table=schemagate_audit",
            "--exclude-table=schemagate_fleet",
        ])
        .arg(&db.url)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("--") && !l.contains("restrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The example catalogue of the repository, with its compat window widened to 1..=5.
fn examples() -> Project {
    let project = Project::new();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), project.migrations().join(entry.file_name())).unwrap();
    }
    project.compat_text("[app]\nversion = \"1.4.0\"\n[schema]\nmin = 1\nmax = 5\n[[releases]]\nversion = \"1.2.0\"\nmin = 2\nmax = 3\n");
    project
}

/// A fresh database migrated to 5 with [`examples`], and the project.
async fn migrated_examples() -> (TestDb, Project) {
    let db = TestDb::new().await;
    let project = examples();
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    (db, project)
}

#[tokio::test]
async fn rolling_back_from_5_to_3_leaves_the_schema_a_fresh_migration_to_3_makes() {
    let (rolled, fresh) = (TestDb::new().await, TestDb::new().await);
    let project = examples();
    project
        .run(&rolled.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let run = project
        .run(
            &rolled.url,
            &["migrate", "--no-backup", "--rollback-to", "3"],
        )
        .await;
    run.expect_code(0);
    run.expect_text("rolled back: schema 5 -> 3");
    assert_eq!(rolled.history().await, [1, 2, 3]);

    let up_to_3 = examples();
    up_to_3.compat_text("[app]\nversion = \"1.2.0\"\n[schema]\nmin = 1\nmax = 3\n");
    up_to_3
        .run(&fresh.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(schema_of(&rolled).await, schema_of(&fresh).await);
}

#[tokio::test]
async fn the_example_migrations_go_up_down_and_up_again() {
    let (db, project) = migrated_examples().await;
    let up = schema_of(&db).await;
    project
        .run(&db.url, &["--rollback-to", "0", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, Vec::<i64>::new());
    assert_eq!(db.tables().await, Vec::<String>::new());
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(schema_of(&db).await, up);
}

#[tokio::test]
async fn a_rollback_to_a_release_goes_to_its_max_and_is_recorded_in_the_audit_trail() {
    let (db, project) = migrated_examples().await;
    project
        .run(&db.url, &["--rollback-to", "v1.2.0", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3]);
    let again = project
        .run(&db.url, &["--rollback-to", "1.2.0", "--no-backup"])
        .await;
    again.expect_code(0);
    again.expect_text("nothing to do");
    project
        .run(&db.url, &["--rollback-to", "v0.9.0"])
        .await
        .expect_code(2)
        .expect_text("known releases: v1.2.0");

    let status = project.run(&db.url, &["status"]).await;
    status.expect_code(0);
    assert!(
        status.text().contains("rollback 5 -> 3") && status.text().contains("v1.4.0 on"),
        "{}",
        status.text()
    );
}

#[tokio::test]
async fn a_rollback_past_an_irreversible_step_is_refused_naming_the_backup_to_restore() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 3);
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    project.migration(
        2,
        "create_t2",
        "CREATE TABLE t2 (id int);",
        "-- schemagate:irreversible\n",
    );
    project.migration(
        3,
        "create_t3",
        "CREATE TABLE t3 (id int);",
        "DROP TABLE t3;",
    );
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    let before_2 = backup_files(&project).into_iter().max().unwrap();
    let before = (schema_of(&db).await, backup_files(&project));
    let run = project.run(&db.url, &["--rollback-to", "1"]).await;
    run.expect_code(3);
    let text = run.text();
    assert!(
        text.contains("version 2 (create_t2) is irreversible"),
        "{text}"
    );
    let restore = format!(
        "schemagate restore {} --yes",
        project.backups().join(&before_2).display()
    );
    assert!(text.contains(&restore), "expected `{restore}` in:\n{text}");
    assert_eq!(db.history().await, [1, 2, 3]);
    assert_eq!((schema_of(&db).await, backup_files(&project)), before);
    project
        .run(&db.url, &["--rollback-to", "2"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
}

/// The dump files in the project's backup directory, sorted (names sort by time).
fn backup_files(project: &Project) -> Vec<String> {
    let mut dumps = files(&project.backups());
    dumps.retain(|name| name.ends_with(".dump"));
    dumps
}

#[tokio::test]
async fn a_rollback_takes_a_backup_first_and_records_it_in_the_audit_trail() {
    let db = TestDb::new().await;
    let project = Project::with_tables(3, 1, 3);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project
        .run(&db.url, &["--rollback-to", "1"])
        .await
        .expect_code(0);
    let files = backup_files(&project);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].contains("-schema3-"), "{files:?}");
    let client = db.client().await;
    let row = client.query_one("SELECT backup_file, from_version, to_version FROM schemagate_audit WHERE action = 'rollback'", &[]).await.unwrap();
    assert!(row.get::<_, String>(0).ends_with(&files[0]));
    assert_eq!((row.get::<_, i64>(1), row.get::<_, i64>(2)), (3, 1));
}

#[tokio::test]
async fn a_failing_down_exits_6_with_the_history_at_the_last_committed_version() {
    let db = TestDb::new().await;
    let project = Project::with_tables(4, 1, 4);
    project.migration(
        3,
        "create_t3",
        "CREATE TABLE t3 (id int);",
        "DROP TABLE t3;\nDROP TABLE no_such_table;",
    );
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let run = project
        .run(&db.url, &["--rollback-to", "1", "--no-backup"])
        .await;
    run.expect_code(6);
    let text = run.text();
    assert!(
        text.contains("V3__create_t3.down.sql") && text.contains("no_such_table"),
        "{text}"
    );
    assert!(text.contains("database is at schema version 3"), "{text}");
    assert_eq!(db.history().await, [1, 2, 3]);
    assert_eq!(db.tables().await, ["t1", "t2", "t3"]);
}

#[tokio::test]
async fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let db = TestDb::new().await;
    let project = Project::with_tables(3, 1, 3);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let before = (schema_of(&db).await, db.history().await);
    for args in [
        &["--rollback-to", "1", "--dry-run"][..],
        &["plan", "--rollback-to", "1"],
    ] {
        let run = project.run(&db.url, args).await;
        run.expect_code(0);
        let text = run.text();
        assert!(
            text.contains("down      3")
                && text.contains("V2__create_t2.down.sql")
                && text.contains("nothing was changed"),
            "{text}"
        );
        assert_eq!((schema_of(&db).await, db.history().await), before);
        assert!(
            text.contains("backup: a verified pg_dump of schema 3"),
            "{text}"
        );
        assert!(!project.backups().exists());
    }
}

#[tokio::test]
async fn a_rollback_waits_for_the_lock_held_by_another_instance_then_proceeds() {
    let db = TestDb::new().await;
    let project = Project::with_tables(3, 1, 3);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let holder = db.client().await;
    holder
        .execute(
            "SELECT pg_advisory_lock($1)",
            &[&crate::support::MIGRATION_LOCK_KEY],
        )
        .await
        .unwrap();
    let rollback = project
        .command(&db.url, &["--rollback-to", "1", "--no-backup"])
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(
        db.history().await,
        [1, 2, 3],
        "the rollback must wait for the lock"
    );
    holder
        .execute(
            "SELECT pg_advisory_unlock($1)",
            &[&crate::support::MIGRATION_LOCK_KEY],
        )
        .await
        .unwrap();
    let output = rollback.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("waiting for the migration lock"));
    assert_eq!(db.history().await, [1]);
}

/// The library prints nothing (DESIGN §13): a rollback run through [`schemagate::Gate`]
/// tells its plan, its backup and its outcome to the listener the application gives, in
/// that order, and does what the binary does.
#[tokio::test]
async fn a_library_rollback_tells_its_plan_and_outcome_as_events() {
    use std::sync::{Arc, Mutex};

    use schemagate::gate::Event;

    let (db, project) = migrated_examples().await;
    let release = schemagate::Release::new(
        schemagate::catalogue::from_dir(&project.migrations()).unwrap(),
        schemagate::Compat::from_file(&project.path().join("compat.toml")).unwrap(),
    );
    let told = Arc::new(Mutex::new(Vec::new()));
    let listener = Arc::clone(&told);
    let gate = schemagate::Gate::builder(release)
        .database_url(db.url.clone())
        .backup_dir(project.backups())
        .on_event(move |event| {
            let said = match event {
                Event::Plan { plan, .. } => format!("plan {} -> {}", plan.current, plan.target),
                Event::BackupIntent { schema_version, .. } => format!("backup of {schema_version}"),
                Event::RolledBack { from, to, .. } => format!("rolled back {from} -> {to}"),
                other => format!("{other:?}"),
            };
            listener.lock().unwrap().push(said);
        })
        .build()
        .unwrap();
    gate.rollback_to("3").await.unwrap();
    assert_eq!(
        *told.lock().unwrap(),
        ["plan 5 -> 3", "backup of 5", "rolled back 5 -> 3"]
    );
    assert_eq!(db.history().await, [1, 2, 3]);
    assert_eq!(
        files(&project.backups()).len(),
        2,
        "one dump and its manifest"
    );
}
