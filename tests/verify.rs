//! `schemagate verify` (issue "Safe DDL" item 4): every down is proven to invert its up on
//! a scratch database that is always dropped; the first that does not is named with the
//! objects that differ.

use crate::support::{Project, TestDb, server_url};

/// Scratch databases of this test process left on the server.
async fn leftovers() -> Vec<String> {
    crate::support::connect(&server_url())
        .await
        .query(
            "SELECT datname::text FROM pg_database WHERE datname LIKE $1",
            &[&format!(
                "schemagate\\_scratch\\_{}\\_%",
                std::process::id()
            )],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

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
    let run = project.run(&db.url, &["verify"]).await;
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
    assert!(leftovers().await.is_empty(), "{:?}", leftovers().await);
}

#[tokio::test]
async fn a_down_that_forgets_an_index_is_caught_and_the_index_named() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 2);
    project.migration(
        2,
        "index_t1",
        "CREATE INDEX t1_id_idx ON t1 (id);",
        "SELECT 1; -- forgot DROP INDEX t1_id_idx",
    );
    let run = project.run(&db.url, &["verify"]).await;
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
    assert!(leftovers().await.is_empty(), "{:?}", leftovers().await);
}
