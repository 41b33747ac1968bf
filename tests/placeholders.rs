//! Placeholders (DESIGN §21, issue 27 item 3): `${NAME}` in a file marked
//! `-- schemagate:placeholders` gets its value from `SCHEMAGATE_PLACEHOLDER_NAME` (which
//! wins) or compat.toml's `[placeholders]`, in the text sent to the database alone. A
//! password given so reaches the server and nowhere else: not stdout or stderr (a failing
//! statement that quotes it included), the logs, the audit table, the history, `/health`,
//! `/metrics`, the backups or the environment of `pg_dump`. One without a value is exit 2
//! naming file, line and column, for a directory and an embedded catalogue alike.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::serve::{get, spawn};
use crate::support::{Project, TestDb, cleanup, pg_program, send_signal};

/// The secret: no output, table or file may hold it.
const PASSWORD: &str = "Hunter2-Zq8#pl@ce";

/// The role the first migration creates with it (roles are the cluster's, so unique).
fn role() -> String {
    format!("sg_placeholder_{}", std::process::id())
}

/// Drops the role when the test ends.
struct DropRole(String);

impl Drop for DropRole {
    fn drop(&mut self) {
        cleanup(
            &format!("drop role {}", self.0),
            format!("DROP ROLE IF EXISTS {}", self.0),
        );
    }
}

/// A pg_dump that records its environment in `record` and then becomes the real one.
async fn recording_pg_dump(dir: &Path, record: &Path) -> std::path::PathBuf {
    let real = pg_program("pg_dump").await;
    let path = dir.join("pg_dump");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nenv >> {record}\nexec {real} \"$@\"\n",
            real = real.display(),
            record = record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Every file under `dir`, read (as bytes, lossily), with its path.
fn every_file(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(every_file(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap();
            found.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    found
}

#[tokio::test]
async fn a_password_placeholder_reaches_the_database_and_nothing_else() {
    let db = TestDb::new().await;
    let role = role();
    let _drop_role = DropRole(role.clone());
    let project = Project::new();
    project.migration(
        1,
        "app_role",
        // md5, so the test can check the password the server stored.
        "-- schemagate:placeholders\nSET LOCAL password_encryption = 'md5';\nCREATE ROLE ${ROLE} LOGIN PASSWORD '${APP_PASSWORD}';\n",
        "-- schemagate:placeholders\nDROP ROLE ${ROLE};\n",
    );
    project.migration(
        2,
        "quotes_it",
        "-- schemagate:placeholders\nSELECT 1;\nSELECT '${APP_PASSWORD}'::int;\n",
        "SELECT 1;\n",
    );
    // compat.toml's value is overridden by the environment's.
    project.compat_text(&format!(
        "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 2\n[placeholders]\nROLE = \"{role}\"\nAPP_PASSWORD = \"from-compat\"\n"
    ));
    let record = project.path().join("pg_dump.env");
    let pg_dump = recording_pg_dump(project.path(), &record).await;
    let command = |args: &[&str]| {
        let mut command = project.command(&db.url, args);
        command
            .env("SCHEMAGATE_PLACEHOLDER_APP_PASSWORD", PASSWORD)
            .env("SCHEMAGATE_PG_DUMP", &pg_dump);
        command
    };
    let mut outputs = Vec::new();

    // The second file fails on a statement whose error quotes the value.
    let failed = command(&["migrate", "--log-format", "json"])
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&failed.stdout),
        String::from_utf8_lossy(&failed.stderr)
    );
    assert_eq!(failed.status.code(), Some(6), "{text}");
    assert!(
        text.contains(r#"invalid input syntax for type integer: \"${APP_PASSWORD}\""#),
        "{text}"
    );
    assert!(text.contains("line 3, column 8"), "{text}");
    outputs.push(("the failed migrate".to_owned(), text));

    let client = db.client().await;
    let stored = client
        .query_one(
            "SELECT rolpassword = 'md5' || md5($1 || rolname) FROM pg_authid WHERE rolname = $2",
            &[&PASSWORD, &role],
        )
        .await
        .unwrap();
    assert!(
        stored.get::<_, bool>(0),
        "the role's password is the environment's"
    );

    // Fixed, then served: /health, /metrics and the log of a run that completes.
    std::fs::write(
        project.migrations().join("V2__quotes_it.sql"),
        "-- schemagate:placeholders\nCOMMENT ON ROLE ${ROLE} IS 'the application';\n",
    )
    .unwrap();
    let plan = command(&["plan"]).output().await.unwrap();
    outputs.push((
        "plan".to_owned(),
        format!("{plan:?}{}", String::from_utf8_lossy(&plan.stderr)),
    ));
    let mut served = spawn(
        &project,
        &db.url,
        &["--pg-dump", pg_dump.to_str().unwrap()],
        "debug",
    )
    .await;
    // `spawn` does not see the test's environment change: the value comes from compat.toml
    // there, which must not leak either; the environment's was proven above.
    for path in ["/health", "/metrics"] {
        let (status, body) = get(served.address, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        outputs.push((path.to_owned(), body));
    }
    send_signal(served.child.id().unwrap(), "TERM").await;
    served.child.wait().await.unwrap();
    outputs.push((
        "serve's log".to_owned(),
        served.log.await.unwrap().join("\n"),
    ));
    assert_eq!(db.history().await, [1, 2]);

    for table in ["schemagate_audit", "refinery_schema_history"] {
        let rows = client
            .query(&format!("SELECT row_to_json(t)::text FROM {table} t"), &[])
            .await
            .unwrap();
        assert!(!rows.is_empty(), "{table} has rows");
        let text: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        outputs.push((table.to_owned(), text.join("\n")));
    }
    let audit = &outputs.last().unwrap().1;
    assert!(!audit.contains("from-compat"), "{audit}");
    outputs.extend(every_file(project.path()));
    assert!(
        std::fs::read_to_string(&record)
            .unwrap()
            .contains("PGDATABASE"),
        "pg_dump ran"
    );
    for (what, text) in &outputs {
        for secret in [PASSWORD, "from-compat"] {
            let in_compat = what.ends_with("compat.toml") && secret == "from-compat";
            assert!(
                in_compat || !text.contains(secret),
                "{what} shows {secret}:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn a_placeholder_without_a_value_is_refused_at_load_naming_file_line_and_column() {
    let db = TestDb::new().await;
    let project = Project::new();
    project.migration(
        1,
        "app_role",
        "-- schemagate:placeholders\nCREATE TABLE t (note text DEFAULT '${NOTE}');\n",
        "DROP TABLE t;\n",
    );
    project.compat(1, 1);
    for args in [&["migrate"][..], &["plan"], &["check"]] {
        let run = project.run(&db.url, args).await;
        run.expect_code(2);
        let text = run.text();
        assert!(
            text.contains("V1__app_role.sql:2:36: placeholder ${NOTE} has no value; set SCHEMAGATE_PLACEHOLDER_NOTE in the environment or NOTE in compat.toml's [placeholders]"),
            "{args:?}: {text}"
        );
    }
    assert!(db.history().await.is_empty());
    assert!(db.tables().await.is_empty());
}

/// The catalogue embedded by `embed_catalogue!`, with compat.toml's value.
fn embedded(compat: &str) -> schemagate::Release {
    schemagate::Release::new(
        schemagate::embed_catalogue!("tests/fixtures/placeholders").unwrap(),
        schemagate::Compat::from_toml_str(compat).unwrap(),
    )
}

#[tokio::test]
async fn an_embedded_catalogue_gets_its_values_and_refuses_a_missing_one() {
    let db = TestDb::new().await;
    let backups = tempfile::tempdir().unwrap();
    let window = "[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 1\n";
    let refused = schemagate::Gate::builder(embedded(window))
        .database_url(db.url.as_str())
        .build()
        .err()
        .expect("refused");
    assert_eq!(refused.exit(), schemagate::Exit::Usage);
    assert!(
        refused.to_string().contains(
            "embedded tests/fixtures/placeholders/V1__settings.sql:3:43: placeholder ${GREETING} has no value"
        ),
        "{refused}"
    );
    let compat = format!("{window}[placeholders]\nGREETING = \"hello\"\n");
    let gate = schemagate::Gate::builder(embedded(&compat))
        .database_url(db.url.as_str())
        .backup_dir(backups.path())
        .build()
        .unwrap();
    gate.run().await.unwrap();
    let greeting: String = db
        .client()
        .await
        .query_one("SELECT value FROM settings", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(greeting, "hello");
}
