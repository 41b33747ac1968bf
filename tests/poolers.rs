//! Poolers (issue 25 item 3, DESIGN §20): behind a transaction pooler the migration lock's
//! session is not one, so the gate refuses before any change (exit 4) and says which URL to
//! give; behind a session pooler it migrates as on a direct connection. Real PgBouncer in
//! front of the test server.

use schemagate::internals::ensure_session;

use crate::support::pgbouncer::PgBouncer;
use crate::support::{MIGRATION_LOCK_KEY, Project, TestDb, files};

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

/// The check's other signals, on a direct connection: the lock's session must still hold
/// the lock, and still be the server process that took it.
#[tokio::test]
async fn the_check_wants_the_lock_held_by_the_same_server_process() {
    let db = TestDb::new().await;
    let lock = db.client().await;
    let probe = db.client().await;
    let pid = |row: tokio_postgres::Row| row.get::<_, i32>(0);
    let lock_pid = pid(lock
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap());
    let probe_pid = pid(probe
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap());

    let not_held = ensure_session(&lock, lock_pid, &probe).await.unwrap_err();
    assert!(
        not_held.to_string().contains(&format!(
            "server process {lock_pid} no longer held the migration lock"
        )),
        "{not_held}"
    );
    lock.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .unwrap();
    ensure_session(&lock, lock_pid, &probe).await.unwrap();
    let moved = ensure_session(&lock, probe_pid, &probe).await.unwrap_err();
    assert!(
        moved.to_string().contains(&format!(
            "moved from server process {probe_pid} to {lock_pid} between two transactions"
        )),
        "{moved}"
    );
}
