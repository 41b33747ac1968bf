//! diesel (DESIGN §21, issue 27 item 1): its layout (`{timestamp}_{name}/up.sql` +
//! `down.sql`, the older `2019-02-26-002946` and the newer `…-0000` timestamps, `diesel
//! setup`'s `00000000000000`) is a catalogue style, in a directory and embedded, and `new`
//! writes the next one; `adopt --from diesel` takes over `__diesel_schema_migrations` of a
//! database diesel migrated — by the real diesel CLI when it is installed (`.ci/run`
//! installs it, and CI fails without it), else by diesel's own DDL and inserts, as
//! diesel_migrations writes them — and leaves diesel's table as it was.

use std::path::{Path, PathBuf};

use tokio_postgres::Client;

use crate::support::{Project, TestDb, in_ci};

/// The fixture: diesel's setup migration, an old-style and two new-style directories.
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diesel")
}

/// The fixture's versions, in diesel's order.
const VERSIONS: [i64; 4] = [
    1,
    20_190_226_002_946,
    20_240_120_120_000,
    20_240_121_093_000,
];

/// How diesel stores them.
const DIESEL_ROWS: [&str; 3] = ["00000000000000", "20190226002946", "202401201200000000"];

/// A project holding the fixture's first `n` migration directories, window over all four.
fn project(n: usize) -> Project {
    let project = Project::new();
    let mut dirs: Vec<_> = std::fs::read_dir(fixture())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs.iter().take(n) {
        add(&project, dir);
    }
    project.compat(1, VERSIONS[3]);
    project
}

/// Copies one migration directory of the fixture into the project.
fn add(project: &Project, dir: &Path) {
    let to = project.migrations().join(dir.file_name().unwrap());
    std::fs::create_dir(&to).unwrap();
    for file in std::fs::read_dir(dir).unwrap() {
        let file = file.unwrap();
        std::fs::copy(file.path(), to.join(file.file_name())).unwrap();
    }
}

/// The diesel CLI, when installed (`cargo install diesel_cli --no-default-features
/// --features postgres`).
fn diesel_cli() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(home.map(|h| h.join("bin")))
        .map(|dir| dir.join("diesel"))
        .find(|path| path.is_file())
}

/// Migrates the database as diesel does: `diesel migration run` when the CLI is installed,
/// else diesel_migrations' table (its `setup_migration_table.sql`) and, per migration, its
/// up.sql and the version's row in one transaction, in diesel's order.
async fn diesel_migrates(db: &TestDb, project: &Project, client: &mut Client) {
    if let Some(diesel) = diesel_cli() {
        let output = tokio::process::Command::new(diesel)
            .args([
                "migration",
                "run",
                "--database-url",
                &db.url,
                "--migration-dir",
            ])
            .arg(project.migrations())
            .current_dir(project.path())
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "diesel migration run: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    assert!(
        !in_ci(),
        "the diesel CLI is not installed, and CI=true: .ci/run installs it (cargo install diesel_cli --no-default-features --features postgres)"
    );
    eprintln!("NOTE: no diesel CLI; building __diesel_schema_migrations with diesel's own DDL");
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);",
        )
        .await
        .unwrap();
    let mut dirs: Vec<_> = std::fs::read_dir(project.migrations())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort_by_key(|dir| stored_version(dir));
    for dir in dirs {
        let tx = client.transaction().await.unwrap();
        tx.batch_execute(&std::fs::read_to_string(dir.join("up.sql")).unwrap())
            .await
            .unwrap();
        tx.execute(
            "INSERT INTO __diesel_schema_migrations (version) VALUES ($1)",
            &[&stored_version(&dir)],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

/// The version diesel stores for a migration directory: its name before `_`, no dashes.
fn stored_version(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy();
    name.split('_').next().unwrap().replace('-', "")
}

async fn diesel_rows(client: &Client) -> Vec<String> {
    client
        .query(
            "SELECT version::text || ' ' || (run_on IS NOT NULL) FROM __diesel_schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn a_database_diesel_migrated_is_adopted_then_migrates_and_rolls_back_leaving_diesels_table()
{
    let db = TestDb::new().await;
    let project = project(3);
    let mut client = db.client().await;
    diesel_migrates(&db, &project, &mut client).await;
    let rows = diesel_rows(&client).await;
    assert_eq!(
        rows,
        DIESEL_ROWS.map(|v| format!("{v} true")),
        "diesel's own rows"
    );
    let dir = fixture().join("2024-01-21-093000-0000_add_posts_published");
    add(&project, &dir);

    let dry = project
        .run(&db.url, &["adopt", "--from", "diesel", "--dry-run"])
        .await;
    dry.expect_code(0);
    for expected in [
        "__diesel_schema_migrations → refinery_schema_history, 3 migration(s)",
        "202401201200000000 → ",
        "2024-01-20-120000-0000_create_posts/up.sql",
    ] {
        assert!(
            dry.text().contains(expected),
            "no {expected:?} in:\n{}",
            dry.text()
        );
    }
    project
        .run(&db.url, &["adopt", "--from", "diesel"])
        .await
        .expect_code(0)
        .expect_text("was left as it was");
    assert_eq!(db.history().await, VERSIONS[..3]);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, VERSIONS);
    client
        .execute("INSERT INTO users (name) VALUES ('a')", &[])
        .await
        .unwrap();
    project
        .run(
            &db.url,
            &["--rollback-to", &VERSIONS[1].to_string(), "--no-backup"],
        )
        .await
        .expect_code(0);
    assert_eq!(db.history().await, VERSIONS[..2]);
    assert_eq!(db.tables().await, ["__diesel_schema_migrations", "users"]);
    assert_eq!(
        diesel_rows(&client).await,
        rows,
        "diesel's table is as it was"
    );
}

#[tokio::test]
async fn a_diesel_directory_and_an_embedded_one_load_alike_and_new_writes_the_next_directory() {
    let embedded = schemagate::embed_catalogue!("tests/fixtures/diesel").unwrap();
    let loaded = schemagate::catalogue::from_dir(&fixture()).unwrap();
    for catalogue in [&embedded, &loaded] {
        let versions: Vec<i64> = catalogue.migrations().iter().map(|m| m.version).collect();
        assert_eq!(versions, VERSIONS);
        assert!(
            catalogue.migrations()[0]
                .up
                .file
                .ends_with("00000000000000_diesel_initial_setup/up.sql"),
            "{:?}",
            catalogue.migrations()[0].up.file
        );
    }
    let checksums = |c: &schemagate::Catalogue| -> Vec<u64> {
        c.migrations().iter().map(|m| m.checksum).collect()
    };
    assert_eq!(checksums(&embedded), checksums(&loaded));

    let project = project(4);
    let run = project
        .run(
            "",
            &[
                "new",
                "add_tags",
                "--dir",
                project.migrations().to_str().unwrap(),
            ],
        )
        .await;
    run.expect_code(0);
    let created: Vec<String> = crate::support::files(&project.migrations())
        .into_iter()
        .filter(|name| name.ends_with("_add_tags"))
        .collect();
    assert_eq!(created.len(), 1, "{}", run.text());
    let name = &created[0];
    assert_eq!(
        name.len(),
        "2024-01-21-093000-0000_add_tags".len(),
        "{name}"
    );
    assert!(name.ends_with("-0000_add_tags"), "{name}");
    assert_eq!(
        crate::support::files(&project.migrations().join(name)),
        ["down.sql", "up.sql"]
    );
    for (file, sql) in [
        ("up.sql", "CREATE TABLE tags (id int);\n"),
        ("down.sql", "DROP TABLE tags;\n"),
    ] {
        std::fs::write(project.migrations().join(name).join(file), sql).unwrap();
    }
    let reloaded = schemagate::catalogue::from_dir(&project.migrations()).unwrap();
    assert_eq!(reloaded.migrations().len(), 5);
    assert!(reloaded.latest() > VERSIONS[3]);
}

#[tokio::test]
async fn a_diesel_directory_without_its_down_file_or_mixed_with_flat_files_is_refused() {
    let db = TestDb::new().await;
    let project = project(2);
    std::fs::remove_file(
        project
            .migrations()
            .join("2019-02-26-002946_create_users/down.sql"),
    )
    .unwrap();
    std::fs::write(project.migrations().join("V3__flat.sql"), "SELECT 1;").unwrap();
    std::fs::write(project.migrations().join("V3__flat.down.sql"), "SELECT 1;").unwrap();
    let run = project.run(&db.url, &["migrate"]).await;
    run.expect_code(2);
    for expected in [
        "2019-02-26-002946_create_users/up.sql: no down file; add ",
        "2019-02-26-002946_create_users/down.sql (or put `-- schemagate:irreversible` in it)",
        "mixed naming styles",
    ] {
        assert!(
            run.text().contains(expected),
            "no {expected:?} in:\n{}",
            run.text()
        );
    }
    assert!(db.history().await.is_empty());
}
