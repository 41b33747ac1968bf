//! Fault injection (issue 7): schemagate killed, its connection terminated and PostgreSQL
//! restarted in the middle of a run. After each fault the history matches the schema, the
//! migration lock is free, and the next run completes.
//!
//! `SCHEMAGATE_FAULT_KILLS` sets how many random SIGKILLs the kill test makes (default 8, so
//! `cargo test` stays quick; the 50 with `SCHEMAGATE_FAULT_KILLS=50`), one in each
//! equal slice of a run, and `SCHEMAGATE_FAULT_SEED` replays the moments of a failed run
//! (each run prints its seed). With three kills or more, at least one must land between the
//! first and the last migration, or the test proved nothing about a partly applied run.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::support::cluster::{Cluster, Setup};
use crate::support::{MIGRATION_LOCK_KEY, Project, TestDb, connect};

/// Migrations of the kill test: 1, 2, 4 and 5 transactional; 3 runs outside a transaction
/// and is written to be re-run after a partial application. Each sleeps, so kills land
/// inside statements as well as between them.
fn slow_project() -> Project {
    let project = Project::new();
    for v in [1, 2, 4, 5] {
        project.migration(
            v,
            &format!("create_t{v}"),
            &format!("CREATE TABLE t{v} (id int);\nSELECT pg_sleep(0.15);\n"),
            &format!("DROP TABLE t{v};"),
        );
    }
    project.migration(
        3,
        "index_t3",
        "-- schemagate:no-transaction\n\
         CREATE TABLE IF NOT EXISTS t3 (id int);\n\
         SELECT pg_sleep(0.15);\n\
         -- an interrupted CREATE INDEX CONCURRENTLY leaves an invalid index: drop it first\n\
         DROP INDEX CONCURRENTLY IF EXISTS t3_id;\n\
         CREATE INDEX CONCURRENTLY t3_id ON t3 (id);\n",
        "DROP TABLE t3;",
    );
    project.compat(0, 5);
    project
}

/// Versions of `slow_project` that run in a transaction.
const TRANSACTIONAL: [i64; 4] = [1, 2, 4, 5];

#[tokio::test]
async fn sigkill_at_random_moments_leaves_a_consistent_history_a_free_lock_and_a_run_that_completes()
 {
    let kills: usize = env_or("SCHEMAGATE_FAULT_KILLS", 8);
    let seed: u64 = env_or("SCHEMAGATE_FAULT_SEED", seed_from_clock());
    eprintln!("sigkill test: {kills} kills, SCHEMAGATE_FAULT_SEED={seed}");
    let mut random = XorShift(seed.max(1));
    let db = TestDb::new().await;
    let client = db.client().await;
    let project = slow_project();

    // One whole run tells how long a run takes on this machine: kills fall inside it.
    let started = Instant::now();
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    let run_time = started.elapsed();
    assert_eq!(db.history().await, [1, 2, 3, 4, 5]);

    let mut applied_at_kill = Vec::new();
    for kill in 0..kills {
        reset(&client).await;
        // One kill in each of `kills` equal slices of the run, at a random moment of its
        // slice: the kills spread over the whole run whatever the seed.
        let delay = run_time.mul_f64((kill as f64 + random.unit()) / kills as f64);
        let mut child = project
            .command(&db.url, &["migrate", "--no-backup"])
            .spawn()
            .unwrap();
        tokio::time::sleep(delay).await;
        child.start_kill().unwrap(); // SIGKILL
        child.wait().await.unwrap();
        let context = format!("kill {kill} after {delay:?} (seed {seed})");

        wait_for_free_lock(&client, &context).await;
        let history = db.history().await;
        assert_history_matches_schema(&db, &history, &context).await;
        applied_at_kill.push(history.len());

        project
            .run(&db.url, &["migrate", "--no-backup"])
            .await
            .expect_code(0);
        assert_eq!(db.history().await, [1, 2, 3, 4, 5], "{context}");
        assert_eq!(
            db.tables().await,
            ["t1", "t2", "t3", "t4", "t5"],
            "{context}"
        );
        assert!(index_is_valid(&client, "t3_id").await, "{context}");
    }
    eprintln!("sigkill test: migrations applied when killed: {applied_at_kill:?}");
    // A kill in each third of the run or finer slices puts one between the first and the
    // last migration on any machine; fewer kills (chosen by hand) may all miss.
    assert!(
        kills < 3 || applied_at_kill.iter().any(|&n| 0 < n && n < 5),
        "no kill landed mid-run (between the first and the last migration): {applied_at_kill:?} (seed {seed})"
    );
}

#[tokio::test]
async fn a_terminated_connection_mid_migration_exits_6_and_the_next_run_completes() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let project = Project::with_a_slow_second_migration();
    project.migrate_first(&db.url, 1, 3).await;
    client
        .batch_execute("CREATE TABLE sleep_control AS SELECT 30 AS seconds")
        .await
        .unwrap();
    let child = project
        .command(&db.url, &["migrate", "--no-backup"])
        .spawn()
        .unwrap();
    let pid = sleeping_schemagate(&client).await;
    client
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .await
        .unwrap();
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("schemagate exits after its connection is terminated")
        .unwrap();
    let run = crate::support::Run(output);
    run.expect_code(6);
    let text = run.text();
    assert!(
        text.contains("V2__slow.sql") && text.contains("connection to the database was lost"),
        "{text}"
    );
    assert!(text.contains("schema version 1"), "{text}");
    wait_for_free_lock(&client, "after pg_terminate_backend").await;
    assert_eq!(db.history().await, [1]);
    assert_eq!(db.tables().await, ["sleep_control", "t1"]);

    client
        .batch_execute("UPDATE sleep_control SET seconds = 0")
        .await
        .unwrap();
    project
        .run(&db.url, &["migrate", "--no-backup"])
        .await
        .expect_code(0);
    assert_eq!(db.history().await, [1, 2, 3]);
}

#[tokio::test]
async fn postgresql_restarted_mid_migration_fails_cleanly_and_a_later_run_succeeds() {
    let Some(cluster) =
        Cluster::start("postgresql_restarted_mid_migration", Setup::default()).await
    else {
        return;
    };
    let url = cluster.url();
    let client = connect(&url).await;
    let project = Project::with_a_slow_second_migration();
    project.migrate_first(&url, 1, 3).await;
    client
        .batch_execute("CREATE TABLE sleep_control AS SELECT 30 AS seconds")
        .await
        .unwrap();

    // A restart while migration 2 runs: exit 6, migration 2 rolled back.
    let child = project
        .command(&url, &["migrate", "--no-backup"])
        .spawn()
        .unwrap();
    sleeping_schemagate(&client).await;
    cluster.pg_ctl(&["restart", "-m", "fast"]).await;
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("schemagate exits when the server restarts")
        .unwrap();
    let run = crate::support::Run(output);
    run.expect_code(6);
    run.expect_text("connection to the database was lost");
    let client = connect(&url).await;
    assert_eq!(versions(&client).await, [1]);
    assert!(!table_exists(&client, "t2").await);
    client
        .batch_execute("UPDATE sleep_control SET seconds = 0")
        .await
        .unwrap();

    // The server down: exit 4 once --connect-timeout runs out.
    cluster.pg_ctl(&["stop", "-m", "fast"]).await;
    let down = project
        .run(&url, &["migrate", "--no-backup", "--connect-timeout", "2s"])
        .await;
    down.expect_code(4);
    down.expect_text("unreachable");

    // Back within --connect-timeout: the waiting run completes.
    let child = project
        .command(
            &url,
            &["migrate", "--no-backup", "--connect-timeout", "60s"],
        )
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.start_server().await;
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("schemagate connects once the server is back")
        .unwrap();
    crate::support::Run(output).expect_code(0);
    assert_eq!(versions(&connect(&url).await).await, [1, 2, 3]);
}

/// The pid of schemagate's session once it is inside `pg_sleep`.
async fn sleeping_schemagate(client: &Client) -> i32 {
    crate::support::session(
        client,
        "application_name LIKE 'schemagate/%' AND query LIKE '%pg_sleep(seconds)%'",
        "the slow migration",
    )
    .await
}

/// Empties the database between kills.
async fn reset(client: &Client) {
    client
        .batch_execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .await
        .unwrap();
}

/// Waits until no session holds the migration lock. The server cancels a dead client's
/// statement within `client_connection_check_interval` (1 s, set by the gate), so a few
/// seconds is generous.
pub(crate) async fn wait_for_free_lock(client: &Client, context: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let held: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND ((classid::bigint << 32) | objid::bigint) = $1 AND objsubid = 1",
                &[&MIGRATION_LOCK_KEY],
            )
            .await
            .unwrap()
            .get(0);
        if held == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{context}: the migration lock is still held 10 s after the kill"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every history row has its table, and every table of a transactional migration has its
/// row; the no-transaction migration 3 may have its table without its row (it is re-run).
async fn assert_history_matches_schema(db: &TestDb, history: &[i64], context: &str) {
    let expected: Vec<i64> = (1..).take(history.len()).collect();
    assert_eq!(history, expected, "{context}: history is not a prefix");
    let tables = db.tables().await;
    for v in 1..=5 {
        let has_table = tables.contains(&format!("t{v}"));
        let has_row = history.contains(&v);
        assert!(
            !has_row || has_table,
            "{context}: history row {v} without table t{v}; tables {tables:?}"
        );
        assert!(
            has_row || !has_table || !TRANSACTIONAL.contains(&v),
            "{context}: table t{v} of a transactional migration without its history row; history {history:?}"
        );
    }
}

async fn index_is_valid(client: &Client, name: &str) -> bool {
    client
        .query_opt(
            "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1",
            &[&name],
        )
        .await
        .unwrap()
        .is_some_and(|row| row.get(0))
}

async fn versions(client: &Client) -> Vec<i64> {
    client
        .query(
            "SELECT version FROM refinery_schema_history ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

async fn table_exists(client: &Client, name: &str) -> bool {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .unwrap()
        .get(0)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed_from_clock() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    now.as_secs() ^ u64::from(now.subsec_nanos())
}

/// xorshift64: reproducible moments from a printed seed, without a dependency.
struct XorShift(u64);

impl XorShift {
    /// A number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        // The top 53 bits, which an f64 holds exactly.
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}
