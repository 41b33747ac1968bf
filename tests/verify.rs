//! `schemagate verify` (issue "Safe DDL" item 4): every down is proven to invert its up on
//! a scratch database that is always dropped; the first that does not is named with the
//! objects that differ.

use crate::support::scratch::{of_process, run_watching};
use crate::support::{Project, TestDb};

#[tokio::test]
async fn the_example_migrations_verify_clean_and_the_target_database_is_untouched() {
    let db = TestDb::new().await;
    let project = Project::new();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), project.migrations().join(entry.file_name())).unwrap();
    }
    project.compat(1, 5);
    let watched = run_watching(&project, &db.url, &["verify"]).await;
    let run = watched.run;
    run.expect_code(0);
    let text = run.text();
    assert_eq!(
        text.matches("up, down, up again: identical").count(),
        5,
        "{text}"
    );
    assert!(text.contains("verified: every down"), "{text}");
    assert_eq!(db.tables().await, Vec::<String>::new());
    assert_eq!(db.history().await, Vec::<i64>::new());
    assert_eq!(of_process(watched.pid).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_down_that_forgets_an_index_is_caught_and_the_index_named() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 2);
    project.migration(
        2,
        "index_t1",
        // The sleep keeps the scratch database long enough for the test to see it.
        "CREATE INDEX t1_id_idx ON t1 (id);\nSELECT pg_sleep(0.3);",
        "SELECT 1; -- forgot DROP INDEX t1_id_idx",
    );
    let watched = run_watching(&project, &db.url, &["verify"]).await;
    let run = watched.run;
    run.expect_code(3);
    let text = run.text();
    assert!(
        text.contains("version 1 (") && text.contains("identical"),
        "{text}"
    );
    assert!(
        text.contains("the down of version 2") && text.contains("extra: index t1_id_idx"),
        "{text}"
    );
    assert_eq!(
        watched.seen.len(),
        1,
        "the run's one scratch database, seen while it ran"
    );
    assert_eq!(
        of_process(watched.pid).await,
        Vec::<String>::new(),
        "the scratch database was dropped"
    );
}
