//! What differs between PostgreSQL majors (issue 25, DESIGN §20), tested on whichever major
//! `TEST_DATABASE_URL` runs: `.ci/run` runs the suite on this machine's 15, and
//! `.ci/pg-majors` on 13, 14, 16, 17 and 18 in turn. Each test says what it expects of
//! which major.

use std::os::unix::fs::PermissionsExt;

use crate::support::{Project, TestDb, files, has_client, pg_program, server_major};

/// The lock's session turns off the server's idle timeouts (a backup can leave it idle for
/// an hour) and, from 14 on, asks the server to check the client's socket: on 13, where
/// `idle_session_timeout` and `client_connection_check_interval` do not exist, the gate
/// sets neither and runs all the same. A migration reads the settings of the session it
/// runs in, which is the lock's.
#[tokio::test]
async fn the_locks_session_turns_off_idle_timeouts_on_every_major_and_sets_only_what_it_has() {
    let db = TestDb::new().await;
    let major = server_major().await;
    let mut timeouts = format!(
        "ALTER DATABASE {} SET idle_in_transaction_session_timeout = '5s';",
        db.name
    );
    if major >= 14 {
        timeouts.push_str(&format!(
            "ALTER DATABASE {} SET idle_session_timeout = '5s';",
            db.name
        ));
    }
    db.execute(&timeouts).await;
    let project = Project::new();
    project.migration(
        1,
        "settings",
        "CREATE TABLE settings AS SELECT \
           current_setting('idle_in_transaction_session_timeout') AS in_transaction, \
           current_setting('idle_session_timeout', true) AS idle, \
           current_setting('client_connection_check_interval', true) AS check_interval;",
        "DROP TABLE settings;",
    );
    project.compat(1, 1);
    project.migrate_no_backup(&db.url).await;

    let row = db
        .client()
        .await
        .query_one(
            "SELECT in_transaction, idle, check_interval FROM settings",
            &[],
        )
        .await
        .unwrap();
    let settings: (String, Option<String>, Option<String>) = (row.get(0), row.get(1), row.get(2));
    let expected = if major >= 14 {
        ("0".to_owned(), Some("0".to_owned()), Some("1s".to_owned()))
    } else {
        ("0".to_owned(), None, None)
    };
    assert_eq!(settings, expected, "PostgreSQL {major}");
}

/// PostgreSQL 18 keeps a named `pg_constraint` row for each NOT NULL, named after the table
/// it was made in: a table made as `a` and renamed keeps `a_id_not_null`. The schema
/// description leaves those rows out (the column's `not null` says it on every major), so
/// a database made that way still verifies against migrations that make `b` directly.
#[tokio::test]
async fn a_renamed_tables_not_null_verifies_against_the_same_schema_made_directly() {
    let db = TestDb::new().await;
    db.execute("CREATE TABLE a (id int NOT NULL, name text); ALTER TABLE a RENAME TO b;")
        .await;
    let project = Project::new();
    project.migration(
        1,
        "b",
        "CREATE TABLE b (id int NOT NULL, name text);",
        "DROP TABLE b;",
    );
    project.compat(1, 1);
    let run = project
        .run(
            &db.url,
            &["baseline", "--version", "1", "--verify", "--no-backup"],
        )
        .await;
    run.expect_code(0);
    assert_eq!(db.history().await, [1], "{}", run.text());

    // A real difference still shows: the NOT NULL dropped.
    let other = TestDb::new().await;
    other.execute("CREATE TABLE b (id int, name text);").await;
    let differs = project
        .run(
            &other.url,
            &["baseline", "--version", "1", "--verify", "--no-backup"],
        )
        .await;
    differs.expect_code(3);
    assert!(
        differs
            .text()
            .contains("missing: column b.id integer not null"),
        "{}",
        differs.text()
    );
}

/// Where this machine has a pg_dump of the server's major (15 from Debian, 13 through
/// `.ci/pg-majors`' `SCHEMAGATE_PG_BIN_DIR`) the gate backs up and migrates; where it has
/// none it refuses before any change: exit 5, naming the major and where to get a client.
#[tokio::test]
async fn a_backup_takes_the_client_of_the_servers_major_or_refuses_before_any_change() {
    let db = TestDb::new().await;
    let major = server_major().await;
    let project = Project::with_tables(1, 1, 1);
    let run = project.run(&db.url, &["migrate"]).await;
    if has_client().await {
        run.expect_code(0);
        assert_eq!(db.history().await, [1]);
        let dumps: Vec<String> = files(&project.backups())
            .into_iter()
            .filter(|name| name.ends_with(".dump"))
            .collect();
        assert_eq!(dumps.len(), 1, "{}", run.text());
        return;
    }
    run.expect_code(5);
    let text = run.text();
    // "no pg_dump of PostgreSQL 16 found", or, where another major's is on PATH, "… is
    // pg_dump (PostgreSQL) 15.20 … but the server is PostgreSQL 16".
    for needed in [
        format!("install the PostgreSQL {major} client"),
        format!("postgresql-client-{major}"),
        "PGDG (apt.postgresql.org)".to_owned(),
        "--pg-bin-dir".to_owned(),
    ] {
        assert!(text.contains(&needed), "{needed:?} missing from:\n{text}");
    }
    assert!(db.history().await.is_empty(), "{text}");
    assert!(db.tables().await.is_empty(), "{text}");
    assert!(files(&project.backups()).is_empty(), "{text}");
}

/// `--pg-bin-dir` (`SCHEMAGATE_PG_BIN_DIR`) is where the client is taken from: a directory
/// without one refuses the backup (exit 5, nothing changed) even where the machine has
/// one elsewhere; a directory with one, whose pg_dump leaves a trace here, is used for the
/// backup and its verification.
#[tokio::test]
async fn pg_bin_dir_names_the_directory_the_client_is_taken_from() {
    let db = TestDb::new().await;
    let major = server_major().await;
    let project = Project::with_tables(1, 1, 1);
    let empty = project.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let refused = project
        .command(&db.url, &["migrate"])
        .env("SCHEMAGATE_PG_BIN_DIR", &empty)
        .output()
        .await
        .unwrap();
    let refused = crate::support::Run(refused);
    refused.expect_code(5);
    let looked = format!("looked at {}", empty.join("pg_dump").display());
    assert!(refused.text().contains(&looked), "{}", refused.text());
    assert!(
        refused
            .text()
            .contains(&format!("no pg_dump of PostgreSQL {major} found")),
        "{}",
        refused.text()
    );
    assert!(db.history().await.is_empty());

    if !has_client().await {
        return;
    }
    let bin = project.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let trace = project.path().join("pg_dump.ran");
    let pg_dump = bin.join("pg_dump");
    std::fs::write(
        &pg_dump,
        format!(
            "#!/bin/sh\n[ \"$1\" = --version ] || touch '{}'\nexec '{}' \"$@\"\n",
            trace.display(),
            pg_program("pg_dump").await.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&pg_dump, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink(pg_program("pg_restore").await, bin.join("pg_restore")).unwrap();
    let run = project
        .run(&db.url, &["migrate", "--pg-bin-dir", bin.to_str().unwrap()])
        .await;
    run.expect_code(0);
    assert!(
        trace.exists(),
        "the pg_dump of --pg-bin-dir ran:\n{}",
        run.text()
    );
    assert_eq!(db.history().await, [1]);
}
