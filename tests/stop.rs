//! Stopping and losing the lock (issue "Trust" items 3 and 4): SIGTERM is handled from the
//! first instant and stops the gate between steps with exit 8; a lock whose session dies
//! while pg_dump works stops the run with exit 6 before any migration.

use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::support::{
    MIGRATION_LOCK_KEY, Project, Snapshot, TestDb, files, pg_program, send_signal, session,
};

/// A `--pg-dump` that answers `--version` as the real one, then touches `marker` and sleeps
/// `seconds` before becoming the real pg_dump.
async fn sleepy_pg_dump(project: &Project, seconds: u32) -> (PathBuf, PathBuf) {
    let real = pg_program("pg_dump").await;
    let marker = project.path().join("pg_dump-started");
    let path = project.path().join("sleepy-pg_dump");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then exec {real} --version; fi\ntouch {marker}\nsleep {seconds}\nexec {real} \"$@\"\n",
            real = real.display(),
            marker = marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (path, marker)
}

/// `migrate` with a [`sleepy_pg_dump`] of `seconds`, once its backup is under way (under the
/// lock, the partial file created, pg_dump sleeping).
async fn migrating_behind_a_sleepy_pg_dump(
    db: &TestDb,
    project: &Project,
    seconds: u32,
) -> tokio::process::Child {
    let (pg_dump, marker) = sleepy_pg_dump(project, seconds).await;
    let child = project
        .command(
            &db.url,
            &["migrate", "--pg-dump", pg_dump.to_str().unwrap()],
        )
        .spawn()
        .unwrap();
    wait_for_file(&marker).await;
    child
}

/// Waits until `path` exists.
async fn wait_for_file(path: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The pid of the session holding the migration lock in the test database.
async fn lock_holder(db: &TestDb) -> i32 {
    let client = db.client().await;
    client
        .query_one(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND ((classid::bigint << 32) | objid::bigint) = $1 AND objsubid = 1",
            &[&MIGRATION_LOCK_KEY],
        )
        .await
        .expect("someone holds the migration lock")
        .get(0)
}

/// The project at schema 1 with migration 2 pending.
async fn at_schema_1(db: &TestDb) -> Project {
    let project = Project::with_tables(2, 1, 1);
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    project.compat(1, 2);
    project
}

#[tokio::test]
async fn a_lock_lost_during_a_slow_backup_exits_6_before_any_migration_and_the_next_run_succeeds() {
    let db = TestDb::new().await;
    let project = at_schema_1(&db).await;
    let child = migrating_behind_a_sleepy_pg_dump(&db, &project, 6).await;
    let pid = lock_holder(&db).await;
    db.client()
        .await
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let started = Instant::now();
    let run = crate::support::Run(child.wait_with_output().await.unwrap());
    run.expect_code(6);
    let text = run.text();
    assert!(
        text.contains("the migration lock was lost")
            && text.contains("nothing after version 1 was applied"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the lost lock was noticed while pg_dump still slept ({:?})",
        started.elapsed()
    );
    assert_eq!(db.history().await, [1]);
    assert_eq!(db.tables().await, ["t1"]);
    assert!(
        files(&project.backups()).is_empty(),
        "{:?}",
        files(&project.backups())
    );
    project.run(&db.url, &["migrate"]).await.expect_code(0);
    assert_eq!(db.history().await, [1, 2]);
}

#[tokio::test]
async fn sigterm_while_waiting_for_the_lock_exits_8_at_once() {
    let db = TestDb::new().await;
    let project = Project::with_tables(1, 1, 1);
    let holder = db.client().await;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .unwrap();
    let child = project.command(&db.url, &["migrate"]).spawn().unwrap();
    // Until it waits: its session polls pg_try_advisory_lock.
    session(
        &db.client().await,
        "application_name LIKE 'schemagate/%' AND query LIKE '%pg_try_advisory_lock%'",
        "schemagate waiting for the lock",
    )
    .await;
    let signalled = Instant::now();
    send_signal(child.id().unwrap(), "TERM").await;
    let run = crate::support::Run(child.wait_with_output().await.unwrap());
    let took = signalled.elapsed();
    run.expect_code(8);
    assert!(took < Duration::from_secs(1), "exit 8 took {took:?}");
    assert!(
        run.text().contains(
            "stopped by SIGTERM while waiting for the migration lock; nothing was changed"
        ),
        "{}",
        run.text()
    );
    assert_eq!(db.history().await, Vec::<i64>::new());
}

/// Exit 7 (DESIGN §7): another session holds the migration lock for longer than
/// `--lock-timeout`. The holder is a plain session holding the key literally, as an older
/// release's gate would.
#[tokio::test]
async fn a_lock_held_past_the_lock_timeout_exits_7_naming_the_holder_and_changes_nothing() {
    let db = TestDb::new().await;
    let project = at_schema_1(&db).await;
    let separator = if db.url.contains('?') { '&' } else { '?' };
    let holder =
        crate::support::connect(&format!("{}{separator}application_name=sg_holder", db.url)).await;
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .unwrap();
    let before = Snapshot::take(&db.url, &project.backups()).await;
    let started = Instant::now();
    let run = project
        .run(&db.url, &["migrate", "--lock-timeout", "1s"])
        .await;
    let took = started.elapsed();
    run.expect_code(7);
    let text = run.text();
    assert!(
        text.contains(&format!(
            "migration lock not acquired within 1s; held by pid {pid} (sg_holder), connected since "
        )) && text.contains(
            ", idle: SELECT pg_advisory_lock($1); wait for it to finish, or stop it if it is \
             stuck, then retry (or raise --lock-timeout)"
        ),
        "{text}"
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(10),
        "gave up after {took:?}"
    );
    assert_eq!(Snapshot::take(&db.url, &project.backups()).await, before);
}

#[tokio::test]
async fn sigterm_while_waiting_for_the_database_exits_8_at_once() {
    let project = Project::with_tables(1, 1, 1);
    let child = project
        .command(
            "postgres://nobody@127.0.0.1:9/none",
            &["migrate", "--connect-timeout", "30"],
        )
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = Instant::now();
    send_signal(child.id().unwrap(), "INT").await;
    let run = crate::support::Run(child.wait_with_output().await.unwrap());
    run.expect_code(8);
    assert!(
        signalled.elapsed() < Duration::from_secs(1),
        "{:?}",
        signalled.elapsed()
    );
    run.expect_text("stopped by SIGINT while connecting");
}

#[tokio::test]
async fn sigterm_during_a_slow_migration_finishes_the_step_starts_no_other_and_exits_8() {
    let db = TestDb::new().await;
    let project = Project::with_a_slow_second_migration();
    project.migrate_first(&db.url, 1, 3).await;
    db.client()
        .await
        .batch_execute("CREATE TABLE sleep_control AS SELECT 2 AS seconds")
        .await
        .unwrap();
    let child = project
        .command(&db.url, &["migrate", "--no-backup"])
        .spawn()
        .unwrap();
    let client = db.client().await;
    session(
        &client,
        "query LIKE '%pg_sleep(seconds)%'",
        "the slow migration",
    )
    .await;
    send_signal(child.id().unwrap(), "TERM").await;
    let run = crate::support::Run(child.wait_with_output().await.unwrap());
    run.expect_code(8);
    run.expect_text("stopped by SIGTERM after version 2; no later step was started; the database is at schema version 2");
    assert_eq!(db.history().await, [1, 2]);
    assert_eq!(db.tables().await, ["sleep_control", "t1", "t2"]);
    let outcome: String = client
        .query_one(
            "SELECT outcome FROM schemagate_audit ORDER BY id DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(outcome, "stopped by SIGTERM at version 2");
    // The lock was released: the next run goes on at once.
    project
        .run(&db.url, &["migrate", "--no-backup", "--lock-timeout", "2s"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3]);
}

#[tokio::test]
async fn sigterm_during_the_backup_stops_pg_dump_removes_its_partial_file_and_exits_8() {
    let db = TestDb::new().await;
    let project = at_schema_1(&db).await;
    let child = migrating_behind_a_sleepy_pg_dump(&db, &project, 30).await;
    assert_eq!(
        files(&project.backups()).len(),
        1,
        "the partial file exists"
    );
    let signalled = Instant::now();
    send_signal(child.id().unwrap(), "TERM").await;
    let run = crate::support::Run(child.wait_with_output().await.unwrap());
    run.expect_code(8);
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "{:?}",
        signalled.elapsed()
    );
    run.expect_text("stopped by SIGTERM during the backup");
    assert!(
        files(&project.backups()).is_empty(),
        "{:?}",
        files(&project.backups())
    );
    assert_eq!(db.history().await, [1]);
}

#[tokio::test]
async fn sigterm_while_a_step_waits_for_a_table_lock_rolls_the_step_back_and_exits_8() {
    let db = TestDb::new().await;
    let project = at_schema_1(&db).await;
    project.migration(
        3,
        "alter_t1",
        "ALTER TABLE t1 ADD COLUMN x int;",
        "ALTER TABLE t1 DROP COLUMN x;",
    );
    project.compat(1, 3);
    let blocker = db.client().await;
    blocker
        .batch_execute("BEGIN; LOCK TABLE t1 IN ACCESS SHARE MODE")
        .await
        .unwrap();
    let child = project
        .command(&db.url, &["migrate", "--no-backup"])
        .spawn()
        .unwrap();
    let client = db.client().await;
    session(
        &client,
        "application_name LIKE 'schemagate/%' AND wait_event_type = 'Lock'",
        "the step waiting for the table lock",
    )
    .await;
    let signalled = Instant::now();
    send_signal(child.id().unwrap(), "TERM").await;
    let run = crate::support::Run(child.wait_with_output().await.unwrap());
    run.expect_code(8);
    assert!(
        signalled.elapsed() < Duration::from_secs(2),
        "{:?}",
        signalled.elapsed()
    );
    run.expect_text("the database is at schema version 2");
    assert_eq!(db.history().await, [1, 2]);
    let columns: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 't1' AND column_name = 'x'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(columns, 0, "the step was rolled back");
}
