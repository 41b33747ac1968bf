//! Per-engine variants (DESIGN §17, issue 23 item 3): `NAME.postgres.sql` replaces
//! `NAME.sql` on PostgreSQL, `NAME.sqlite.sql` is another engine's and never runs here; one
//! version, one history row, with the checksum of the file that ran. A variant without
//! its own down file is refused before anything runs, naming it.

use crate::support::{Project, TestDb};

/// A project whose version 2 is SQLite's syntax for every engine, with a PostgreSQL
/// variant, and whose version 3 exists only as variants.
fn project() -> Project {
    let project = Project::with_tables(1, 1, 3);
    let migrations = project.migrations();
    for (file, sql) in [
        (
            "V2__ids.sql",
            "CREATE TABLE ids (id INTEGER PRIMARY KEY AUTOINCREMENT);",
        ),
        ("V2__ids.down.sql", "DROP TABLE ids;"),
        (
            "V2__ids.postgres.sql",
            "CREATE TABLE ids (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
        ),
        ("V2__ids.postgres.down.sql", "DROP TABLE ids;"),
        (
            "V3__index.postgres.sql",
            "-- schemagate:no-transaction\nCREATE INDEX CONCURRENTLY ids_id ON ids (id);",
        ),
        ("V3__index.postgres.down.sql", "DROP INDEX ids_id;"),
        ("V3__index.sqlite.sql", "CREATE INDEX ids_id ON ids (id);"),
        ("V3__index.sqlite.down.sql", "DROP INDEX ids_id;"),
    ] {
        std::fs::write(migrations.join(file), sql).unwrap();
    }
    project
}

#[tokio::test]
async fn postgresql_runs_its_variants_with_their_checksums_and_one_row_per_version() {
    let db = TestDb::new().await;
    let project = project();
    project.migrate_no_backup(&db.url).await;
    assert_eq!(db.history().await, [1, 2, 3]);
    let catalogue = schemagate::catalogue::from_dir(&project.migrations())
        .unwrap()
        .for_engine(schemagate::catalogue::Engine::Postgres)
        .unwrap();
    let rows = db
        .client()
        .await
        .query(
            "SELECT version::int8, checksum::text FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    for (row, migration) in rows.iter().zip(catalogue.migrations()) {
        assert_eq!(row.get::<_, i64>(0), migration.version);
        assert_eq!(row.get::<_, String>(1), migration.checksum.to_string());
    }
    assert!(
        catalogue.migrations()[1]
            .up
            .file
            .ends_with("V2__ids.postgres.sql")
    );
    let identity: String = db
        .client()
        .await
        .query_one(
            "SELECT is_identity FROM information_schema.columns WHERE table_name = 'ids'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(identity, "YES", "the PostgreSQL variant ran");
    project
        .run(&db.url, &["--rollback-to", "1", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1]);
}

#[tokio::test]
async fn a_variant_without_its_down_file_is_refused_naming_it() {
    let db = TestDb::new().await;
    let project = project();
    std::fs::remove_file(project.migrations().join("V3__index.sqlite.down.sql")).unwrap();
    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(2);
    assert!(
        run.text()
            .contains("V3__index.sqlite.sql: no down file; add ")
            && run.text().contains("V3__index.sqlite.down.sql"),
        "{}",
        run.text()
    );
    assert!(db.history().await.is_empty());
}

#[test]
fn the_repositorys_examples_have_a_sqlite_variant_for_every_migration_and_keep_their_postgresql_files()
 {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let catalogue = schemagate::catalogue::from_dir(&root.join("migrations")).unwrap();
    let sqlite = catalogue
        .clone()
        .for_engine(schemagate::catalogue::Engine::Sqlite)
        .unwrap();
    let postgres = catalogue
        .for_engine(schemagate::catalogue::Engine::Postgres)
        .unwrap();
    assert_eq!(postgres.migrations().len(), 5);
    for (pg, lite) in postgres.migrations().iter().zip(sqlite.migrations()) {
        assert_eq!((pg.version, &pg.name), (lite.version, &lite.name));
        assert!(!pg.up.file.contains(".sqlite."), "{}", pg.up.file);
        assert!(lite.up.file.ends_with(".sqlite.sql"), "{}", lite.up.file);
    }
}
