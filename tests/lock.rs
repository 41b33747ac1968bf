//! The migration lock across a server restart: an instance waiting for the lock holds
//! nothing, so a restart must not end it; it reconnects within `--connect-timeout` and goes
//! on waiting, then acquires and migrates. A server that stays down is given the connect
//! timeout, then exit 4.

use std::time::{Duration, Instant};

use crate::support::cluster::{Cluster, Setup};
use crate::support::{MIGRATION_LOCK_KEY, Project, Run, connect, history, session};

#[tokio::test]
async fn a_gate_waiting_for_the_lock_survives_a_server_restart_and_migrates() {
    let Some(cluster) = Cluster::start("waiting_gate_survives_a_restart", Setup::default()).await
    else {
        return;
    };
    let url = cluster.url();
    let holder = connect(&url).await;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .unwrap();
    let project = Project::with_tables(2, 2, 2);
    let waiter = project
        .command(
            &url,
            &[
                "migrate",
                "--no-backup",
                "--lock-timeout",
                "60s",
                "--connect-timeout",
                "30s",
            ],
        )
        .spawn()
        .unwrap();
    session(
        &holder,
        "query LIKE '%pg_try_advisory_lock%'",
        "the gate polling for the lock",
    )
    .await;

    // The restart ends the holder's session (freeing the lock) and the waiter's.
    cluster.pg_ctl(&["restart", "-m", "fast"]).await;
    let output = tokio::time::timeout(Duration::from_secs(60), waiter.wait_with_output())
        .await
        .expect("the waiting gate finishes")
        .unwrap();
    let run = Run(output);
    run.expect_code(0);
    assert!(
        run.text().contains("reconnecting"),
        "the lost session was replaced:\n{}",
        run.text()
    );
    let client = connect(&url).await;
    assert_eq!(history(&client, "the restarted server").await, [1, 2]);

    // The server stops while a gate waits: it tries to reconnect for --connect-timeout,
    // then exits 4.
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .unwrap();
    let waiter = project
        .command(
            &url,
            &["backup", "--lock-timeout", "60s", "--connect-timeout", "3s"],
        )
        .spawn()
        .unwrap();
    session(
        &client,
        "query LIKE '%pg_try_advisory_lock%'",
        "the second gate polling for the lock",
    )
    .await;
    cluster.pg_ctl(&["stop", "-m", "fast"]).await;
    let stopped = Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(30), waiter.wait_with_output())
        .await
        .expect("the waiting gate gives up")
        .unwrap();
    let run = Run(output);
    run.expect_code(4);
    assert!(
        stopped.elapsed() >= Duration::from_secs(2) && run.text().contains("reconnecting failed"),
        "it tried to reconnect for the connect timeout ({:?}):\n{}",
        stopped.elapsed(),
        run.text()
    );
    cluster.start_server().await;
}
