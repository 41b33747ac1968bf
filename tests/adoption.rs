//! Adoption (issue "Adoption" item 2): a database whose tables exist but that has no
//! history is refused with advice, taken over by `baseline` (proven first with `--verify`),
//! or by `[adopt]` in compat.toml unattended; and a database holding only extensions' and
//! schemagate's objects is a fresh one.

use crate::support::scratch::{of_process, run_watching};
use crate::support::{Project, Run, Snapshot, TestDb};

/// A project with the repository's example migrations (1 to 5) and the window `[1, 5]`,
/// plus `extra` appended to compat.toml.
fn examples(extra: &str) -> Project {
    let project = Project::new();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), project.migrations().join(entry.file_name())).unwrap();
    }
    project.compat_text(&format!(
        "[app]\nversion = \"1.4.0\"\n[schema]\nmin = 1\nmax = 5\n{extra}"
    ));
    project
}

/// Makes the tables of migrations 1 to `upto` as `docker-entrypoint-initdb.d` would: the
/// up files run as they are, and no history.
async fn initdb_style(db: &TestDb, project: &Project, upto: i64) {
    let client = db.client().await;
    let mut files: Vec<_> = std::fs::read_dir(project.migrations())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        // The up files PostgreSQL runs: not the down files, nor SQLite's variants.
        .filter(|name| !name.ends_with(".down.sql") && !name.ends_with(".sqlite.sql"))
        .collect();
    files.sort();
    for name in files.iter().take(usize::try_from(upto).unwrap()) {
        let sql = std::fs::read_to_string(project.migrations().join(name)).unwrap();
        client.batch_execute(&sql).await.unwrap();
    }
}

/// `baseline --version 3 --verify`, checking that the scratch database the run names in its
/// log is its own (named after its process, as the check below expects) and is gone once
/// it has exited.
async fn baseline_verified(db: &TestDb, project: &Project) -> Run {
    let watched = run_watching(
        project,
        &db.url,
        &["baseline", "--version", "3", "--verify"],
    )
    .await;
    let text = watched.run.text();
    let logged = text
        .split_once("database=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("the run names its scratch database:\n{text}"));
    assert!(
        logged.starts_with(&format!("schemagate_scratch_{}_", watched.pid)),
        "{logged} is not named after the run's process {}",
        watched.pid
    );
    assert_eq!(
        of_process(watched.pid).await,
        Vec::<String>::new(),
        "the scratch database was dropped"
    );
    watched.run
}

#[tokio::test]
async fn an_initdb_style_database_is_refused_with_advice_then_baselined_and_migrated_further() {
    let db = TestDb::new().await;
    let project = examples("");
    initdb_style(&db, &project, 3).await;
    let before = Snapshot::take(&db.url, &project.backups()).await;
    let refused = project.run(&db.url, &["migrate"]).await;
    refused.expect_code(3);
    assert!(
        refused.text().contains("already has tables (")
            && refused.text().contains("schemagate baseline --version N"),
        "{}",
        refused.text()
    );
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);

    let dry = project
        .run(&db.url, &["baseline", "--version", "3", "--dry-run"])
        .await;
    dry.expect_code(0);
    dry.expect_text("record 3 migration(s) up to version 3");
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);

    baseline_verified(&db, &project).await.expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3]);
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3, 4, 5]);
    project
        .run(&db.url, &["baseline", "--version", "3"])
        .await
        .expect_code(3)
        .expect_text("already has a migration history");
}

#[tokio::test]
async fn verify_refuses_a_database_that_lacks_one_index_of_the_claimed_version_naming_it() {
    let db = TestDb::new().await;
    let project = examples("");
    initdb_style(&db, &project, 3).await;
    db.client()
        .await
        .batch_execute("DROP INDEX accounts_email_key")
        .await
        .unwrap();
    let run = baseline_verified(&db, &project).await;
    run.expect_code(3);
    run.expect_text("missing: index accounts_email_key");
    assert_eq!(db.history().await, Vec::<i64>::new());
}

#[tokio::test]
async fn adopt_in_compat_toml_baselines_an_existing_database_unattended_after_a_backup() {
    let db = TestDb::new().await;
    let project = examples("[adopt]\nbaseline = 3\nverify = true\n");
    initdb_style(&db, &project, 3).await;
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3, 4, 5]);
    let client = db.client().await;
    let actions: Vec<String> = client
        .query("SELECT action || ' ' || from_version || '->' || to_version || ' ' || (backup_file IS NOT NULL) FROM schemagate_audit ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(actions, ["baseline 0->3 true", "migrate 3->5 true"]);
}

#[tokio::test]
async fn a_database_with_only_an_extension_and_schemagates_tables_is_a_fresh_one() {
    let db = TestDb::new().await;
    db.client()
        .await
        .batch_execute("CREATE EXTENSION pg_trgm")
        .await
        .unwrap();
    let project = examples("");
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    // Rolled back to 0: the audit trail (and its sequence) stays, and it is still fresh.
    project
        .run(&db.url, &["--rollback-to", "0", "--no-backup"])
        .await
        .expect_code(0);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3, 4, 5]);
}
