//! Backups that can be trusted (issue "Trust" items 1, 2 and 5): `--dry-run` changes nothing,
//! backups belong to their database in a shared directory, and a restore is exact or refuses
//! before it starts; a restore is a change like any other (issue 21 item 4): it backs up
//! first, so it can be undone, and keeps the audit trail.

use std::path::{Path, PathBuf};

use crate::support::{
    Project, Snapshot, TestDb, files, server_url, with_database, with_user_password,
};

/// The dumps in a directory, sorted.
fn dumps(dir: &Path) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|name| name.ends_with(".dump"))
        .map(|name| dir.join(name))
        .collect()
}

/// A project whose database is at schema 2 with a backup taken at 2, then migrated to 3.
async fn backed_up_at_2_then_at_3(db: &TestDb) -> (Project, PathBuf) {
    let project = Project::with_tables(3, 1, 2);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project.run(&db.url, &["backup"]).await.expect_code(0);
    let dump = dumps(&project.backups()).pop().unwrap();
    project.compat(1, 3);
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    (project, dump)
}

#[tokio::test]
async fn backup_dry_run_says_what_it_would_write_and_prune_and_changes_nothing() {
    let db = TestDb::new().await;
    let (project, _) = backed_up_at_2_then_at_3(&db).await;
    let before = Snapshot::take(&db.url, &project.backups()).await;
    let run = project
        .run(&db.url, &["backup", "--dry-run", "--backup-keep", "1"])
        .await;
    run.expect_code(0);
    let text = run.text();
    assert!(
        text.contains(&format!(
            "would write {}",
            project.backups().join(&db.name).display()
        )),
        "{text}"
    );
    assert!(
        text.contains("would then remove (retention): ") && !text.contains("(retention): (none)"),
        "{text}"
    );
    assert!(text.contains("dry run: nothing was changed"), "{text}");
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);
}

#[tokio::test]
async fn restore_dry_run_prints_what_it_would_drop_and_replay_and_changes_nothing() {
    let db = TestDb::new().await;
    let (project, dump) = backed_up_at_2_then_at_3(&db).await;
    let before = Snapshot::take(&db.url, &project.backups()).await;
    let run = project
        .run(
            &db.url,
            &["restore", dump.to_str().unwrap(), "--yes", "--dry-run"],
        )
        .await;
    run.expect_code(0);
    let text = run.text();
    assert!(
        text.contains("drop schema(s) public") && text.contains("replay the dump"),
        "{text}"
    );
    assert!(text.contains("dry run: nothing was changed"), "{text}");
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);
    assert_eq!(db.tables().await, ["t1", "t2", "t3"]);
}

#[tokio::test]
async fn two_databases_sharing_a_backup_directory_never_touch_each_others_backups() {
    let a = TestDb::new().await;
    let b = TestDb::new().await;
    let project = Project::with_tables(2, 1, 1);
    for db in [&a, &b] {
        project
            .run(&db.url, &["migrate", "--no-backup"])
            .await
            .expect_code(0);
    }
    // A's only backup, at schema 1.
    project.run(&a.url, &["backup"]).await.expect_code(0);
    let a_dump = dumps(&project.backups()).pop().unwrap();
    // B backs up three times keeping one: its own older backups go, A's stays.
    for _ in 0..3 {
        project
            .run(
                &b.url,
                &["backup", "--backup-keep", "1", "--backup-max-age", "0s"],
            )
            .await
            .expect_code(0);
    }
    let all = dumps(&project.backups());
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.contains(&a_dump), "{all:?}");

    let listed = project.run(&a.url, &["backups", "--json"]).await;
    listed.expect_code(0);
    let json: serde_json::Value = serde_json::from_slice(&listed.0.stdout).unwrap();
    let names: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["database"].as_str().unwrap())
        .collect();
    assert_eq!(names, [a.name.as_str()]);
    let every = project.run(&a.url, &["backups", "--all", "--json"]).await;
    every.expect_code(0);
    let json: serde_json::Value = serde_json::from_slice(&every.0.stdout).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    // A's dump is not B's: refused, naming both, and nothing changes.
    let before = Snapshot::take(&b.url, &project.backups()).await;
    let run = project
        .run(&b.url, &["restore", a_dump.to_str().unwrap(), "--yes"])
        .await;
    run.expect_code(2);
    assert!(
        run.text().contains(&format!(
            "a backup of database \"{}\", not of \"{}\"",
            a.name, b.name
        )) && run.text().contains("--into-other-database"),
        "{}",
        run.text()
    );
    assert_eq!(Snapshot::take(&b.url, &project.backups()).await, before);
}

#[tokio::test]
async fn a_publication_created_after_the_backup_refuses_the_restore_with_the_list() {
    let db = TestDb::new().await;
    let (project, dump) = backed_up_at_2_then_at_3(&db).await;
    let publication = format!("{}_pub", db.name);
    db.client()
        .await
        .batch_execute(&format!("CREATE PUBLICATION {publication}"))
        .await
        .unwrap();
    let before = Snapshot::take(&db.url, &project.backups()).await;
    let run = project
        .run(&db.url, &["restore", dump.to_str().unwrap(), "--yes"])
        .await;
    run.expect_code(3);
    assert!(
        run.text().contains(&format!("publication {publication}"))
            && run.text().contains("--keep-global-objects"),
        "{}",
        run.text()
    );
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);
    // Keeping them, the schemas are made exact and the publication stays.
    project
        .run(
            &db.url,
            &[
                "restore",
                dump.to_str().unwrap(),
                "--keep-global-objects",
                "--yes",
            ],
        )
        .await
        .expect_code(0);
    assert_eq!(db.tables().await, ["t1", "t2"]);
    let kept: i64 = db
        .client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_publication WHERE pubname = $1",
            &[&publication],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(kept, 1);
}

/// Roles made for one test, dropped after its database (declare it before the `TestDb`).
struct Roles(Vec<String>);

impl Drop for Roles {
    fn drop(&mut self) {
        let roles = self.0.join(", ");
        crate::support::cleanup(
            &format!("drop roles {roles}"),
            format!("DROP ROLE IF EXISTS {roles}"),
        );
    }
}

#[tokio::test]
async fn a_providers_schema_with_an_extension_survives_a_restore_by_the_database_owner() {
    let suffix = std::process::id();
    let (owner, provider) = (
        format!("sg_owner_{suffix}"),
        format!("sg_provider_{suffix}"),
    );
    let _roles = Roles(vec![owner.clone(), provider.clone()]);
    let db = TestDb::new().await;
    let admin = crate::support::connect(&with_database(&server_url(), &db.name)).await;
    // As on a managed server: the application's role owns the database but is no
    // superuser; the provider's role owns a schema holding an extension.
    admin
        .batch_execute(&format!(
            "CREATE ROLE {owner} LOGIN; CREATE ROLE {provider}; \
             ALTER DATABASE {db} OWNER TO {owner}; \
             CREATE SCHEMA ext AUTHORIZATION {provider}; \
             CREATE EXTENSION pg_trgm SCHEMA ext; \
             GRANT USAGE ON SCHEMA ext TO {owner};",
            db = db.name
        ))
        .await
        .unwrap();
    // Before 15 `public` belongs to the bootstrap superuser, and a restore keeps a schema
    // of a role the restoring one is not a member of: the database owner must own it to
    // have it replaced (docs/backups.md), as 15's `pg_database_owner` does by itself.
    if crate::support::server_major().await < 15 {
        admin
            .batch_execute(&format!("ALTER SCHEMA public OWNER TO {owner}"))
            .await
            .unwrap();
    }
    let url = with_user_password(&db.url, &owner, "");
    let project = Project::with_tables(2, 1, 1);
    project
        .run(&url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project.compat(1, 2);
    project.run(&url, &["migrate"]).await.expect_code(0);
    let dump = dumps(&project.backups()).pop().unwrap();

    let run = project
        .run(&url, &["restore", dump.to_str().unwrap(), "--yes"])
        .await;
    run.expect_code(0);
    assert!(
        run.text()
            .contains(&format!("keep schema ext as it is (owned by {provider})")),
        "{}",
        run.text()
    );
    assert_eq!(db.tables().await, ["t1"]);
    let extension: String = admin
        .query_one(
            "SELECT n.nspname::text FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(extension, "ext");
}

/// An audit row: id, action, from, to, backup file, outcome.
type AuditRow = (i64, String, i64, i64, Option<String>, String);

/// The audit trail in id order.
async fn audit(db: &TestDb) -> Vec<AuditRow> {
    db.client()
        .await
        .query(
            "SELECT id, action, from_version, to_version, backup_file, outcome FROM schemagate_audit ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect()
}

#[tokio::test]
async fn a_restore_backs_up_first_keeps_the_audit_trail_and_can_be_undone() {
    let db = TestDb::new().await;
    let (project, dump) = backed_up_at_2_then_at_3(&db).await;
    db.client()
        .await
        .batch_execute("INSERT INTO t3 VALUES (7)")
        .await
        .unwrap();
    let at_3 = Snapshot::take(&db.url, Path::new("/nonexistent"))
        .await
        .database;
    let trail = audit(&db).await;
    assert_eq!(
        trail.last().map(|row| (row.1.as_str(), row.3)),
        Some(("migrate", 3)),
        "the migrate to 3, written after the dump: {trail:?}"
    );
    let before = dumps(&project.backups());

    let run = project
        .run(&db.url, &["restore", dump.to_str().unwrap(), "--yes"])
        .await;
    run.expect_code(0);
    let text = run.text();
    assert_eq!(db.tables().await, ["t1", "t2"]);
    let new: Vec<PathBuf> = dumps(&project.backups())
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    assert_eq!(new.len(), 1, "one backup taken before the restore: {text}");
    let undo = &new[0];
    assert!(
        text.contains(&format!("backup {}", undo.display())),
        "{text}"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{}.json", undo.display())).unwrap())
            .unwrap();
    assert_eq!(manifest["schema_version"], 3);

    let restored = audit(&db).await;
    assert_eq!(
        restored[..restored.len() - 1],
        trail[..],
        "every row survives the restore with its id"
    );
    let (id, action, from, to, backup_file, outcome) = restored.last().unwrap().clone();
    assert!(id > trail.last().unwrap().0, "ids are never reused");
    assert_eq!((action.as_str(), from, to), ("restore", 3, 2));
    assert_eq!(backup_file, Some(undo.display().to_string()));
    assert!(
        outcome.starts_with(&format!("ok; restored {}", dump.display())),
        "{outcome}"
    );

    // The backup taken first undoes the restore; the trail keeps both restores.
    project
        .run(&db.url, &["restore", undo.to_str().unwrap(), "--yes"])
        .await
        .expect_code(0);
    assert_eq!(db.tables().await, ["t1", "t2", "t3"]);
    let undone = audit(&db).await;
    assert_eq!(undone[..undone.len() - 1], restored[..]);
    let last = undone.last().unwrap();
    assert_eq!((last.1.as_str(), last.2, last.3), ("restore", 2, 3));
    // The database is as before the first restore, but for the trail's two new rows.
    let without_new_rows = |dump: &str| {
        dump.lines()
            .filter(|line| {
                !line.contains("\trestore\t") && !line.contains("schemagate_audit_id_seq")
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let now = Snapshot::take(&db.url, Path::new("/nonexistent"))
        .await
        .database;
    assert_eq!(without_new_rows(&now), without_new_rows(&at_3));
}

#[tokio::test]
async fn a_restore_with_no_backup_takes_none_and_the_audit_trail_says_so() {
    let db = TestDb::new().await;
    let (project, dump) = backed_up_at_2_then_at_3(&db).await;
    let before = files(&project.backups());
    let run = project
        .run(
            &db.url,
            &["restore", dump.to_str().unwrap(), "--yes", "--no-backup"],
        )
        .await;
    run.expect_code(0);
    let text = run.text();
    assert!(
        text.contains("backup: NONE (--no-backup)") && text.contains("WITHOUT a backup"),
        "{text}"
    );
    assert_eq!(files(&project.backups()), before, "no backup taken");
    let trail = audit(&db).await;
    let (_, action, _, _, backup_file, outcome) = trail.last().unwrap();
    assert_eq!((action.as_str(), backup_file), ("restore", &None));
    assert!(
        outcome.contains("no backup was taken first (--no-backup)"),
        "{outcome}"
    );
}
