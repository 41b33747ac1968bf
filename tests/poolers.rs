//! Poolers (issue 25 item 3, DESIGN §20): behind a transaction pooler the migration lock's
//! session is not one, so the gate refuses before any change (exit 4) and says which URL to
//! give; behind a session pooler it migrates as on a direct connection. Real PgBouncer in
//! front of the test server.

use crate::support::pgbouncer::PgBouncer;
use crate::support::{Project, TestDb, files};

#[tokio::test]
async fn a_transaction_pooler_is_refused_before_any_change_and_the_direct_url_works() {
    let test = "a_transaction_pooler_is_refused_before_any_change";
    let Some(bouncer) = PgBouncer::start(test, "transaction").await else {
        return;
    };
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    let pooled = bouncer.url(&db.name);

    let refused = project.run(&pooled, &["migrate"]).await;
    refused.expect_code(4);
    assert!(
        refused.text().contains(
            "this connection goes through a transaction pooler (a second connection was given the lock's server process"
        ) && refused
            .text()
            .contains("the migration lock needs a session: give schemagate the direct URL (Neon: the host without -pooler"),
        "{}",
        refused.text()
    );
    assert!(db.history().await.is_empty(), "nothing was applied");
    let tables = db.tables().await;
    assert!(
        !tables.iter().any(|t| t == "t1" || t == "t2"),
        "no migration ran: {tables:?}"
    );
    assert!(files(&project.backups()).is_empty(), "no backup was taken");

    // A dry run takes no lock and changes nothing, so it does not ask.
    project
        .run(&pooled, &["migrate", "--dry-run"])
        .await
        .expect_code(0);
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
}

#[tokio::test]
async fn a_rollback_through_a_transaction_pooler_is_refused_before_any_change() {
    let test = "a_rollback_through_a_transaction_pooler_is_refused";
    let Some(bouncer) = PgBouncer::start(test, "transaction").await else {
        return;
    };
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    project.migrate_no_backup(&db.url).await;

    let refused = project
        .run(&bouncer.url(&db.name), &["migrate", "--rollback-to", "1"])
        .await;
    refused.expect_code(4);
    assert!(
        refused
            .text()
            .contains("this connection goes through a transaction pooler"),
        "{}",
        refused.text()
    );
    assert_eq!(db.history().await, [1, 2], "nothing was rolled back");
    assert!(files(&project.backups()).is_empty(), "no backup was taken");
}

#[tokio::test]
async fn a_session_pooler_passes() {
    let Some(bouncer) = PgBouncer::start("a_session_pooler_passes", "session").await else {
        return;
    };
    let db = TestDb::new().await;
    let project = Project::with_tables(2, 1, 2);
    project
        .run(&bouncer.url(&db.name), &["migrate"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
    assert_eq!(
        files(&project.backups())
            .iter()
            .filter(|f| f.ends_with(".dump"))
            .count(),
        1,
        "one backup before the change"
    );
}
