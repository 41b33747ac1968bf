//! What `version` and `status` print on stdout, line for line: operators read them and
//! scripts parse them (DESIGN §7), so a change of wording or layout must be deliberate.

use crate::support::{Project, TestDb};

#[tokio::test]
async fn version_prints_the_binary_the_release_its_window_and_its_catalogue() {
    let project = Project::with_tables(3, 1, 3);
    project.compat_text("[app]\nversion = \"2.1.0\"\n[schema]\nmin = 1\nmax = 3\ntarget = 2\n");
    // No database is needed: the URL points nowhere.
    let run = project
        .run("postgres://nobody@127.0.0.1:9/none", &["version"])
        .await;
    run.expect_code(0);
    assert_eq!(
        String::from_utf8_lossy(&run.0.stdout),
        format!(
            "schemagate {}\n\
             release v2.1.0 (from {})\n\
             window [1, 3], target 2\n\
             catalogue {}: 3 migration(s), versions 1..=3\n",
            env!("CARGO_PKG_VERSION"),
            project.path().join("compat.toml").display(),
            project.migrations().display(),
        )
    );
}

#[tokio::test]
async fn status_prints_the_verdict_each_migration_the_recent_changes_and_the_fleet() {
    let db = TestDb::new().await;
    let project = Project::with_tables(3, 1, 3);
    project.compat_text("[app]\nversion = \"1.0.0\"\n[schema]\nmin = 1\nmax = 3\ntarget = 2\n");
    project.migrate_no_backup(&db.url).await;
    // The moments, host and duration of this run, made constant so the output can be
    // compared whole.
    db.execute(
            "UPDATE refinery_schema_history SET applied_on = '2024-01-02T03:04:05Z'; \
             UPDATE schemagate_audit SET at = '2024-01-02 03:04:05+00', host = 'ci-host', duration_ms = 42; \
             UPDATE schemagate_schema SET recorded_at = '2024-01-02 03:04:05+00'",
        ).await;
    let run = project.run(&db.url, &["status"]).await;
    run.expect_code(0);
    assert_eq!(
        String::from_utf8_lossy(&run.0.stdout),
        "release v1.0.0: schema 2 (window [1, 3], compatible)\n\
         schema drift: none: the schema is as recorded after the change to version 2 at 2024-01-02T03:04:05Z\n\
         \x20      1  applied  create_t1                        2024-01-02T03:04:05Z\n\
         \x20      2  applied  create_t2                        2024-01-02T03:04:05Z\n\
         \x20      3  pending  create_t3                        -\n\
         recent changes:\n\
         \x20 2024-01-02T03:04:05Z  migrate  0 -> 2  v1.0.0 on ci-host  42 ms  backup -  ok\n\
         fleet: no live replicas recorded\n"
    );
}
