//! `schemagate_fleet` as the gate meets it.

use std::time::Duration;

use crate::support::{Project, TestDb, fleet};

#[tokio::test]
async fn a_fleet_table_alone_is_not_taken_for_an_existing_schema_without_a_history() {
    // A `--no-migrate` replica announced itself before the migration Job ran.
    let db = TestDb::new().await;
    fleet::announce(
        &db.client().await,
        "1.0.0",
        "early",
        (1, 2),
        Duration::from_secs(5),
    )
    .await;
    let project = Project::with_tables(2, 1, 2);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
}
