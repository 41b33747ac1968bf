//! The library boundary (DESIGN §13): `examples/embedded`, a warp service with its own
//! migrations that gates itself at startup and serves its route beside the gate's, on
//! PostgreSQL and on a SQLite file (its URL picks the engine, DESIGN §17).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::support::serve::get;
use crate::support::{MIGRATION_LOCK_KEY, TestDb, sample, send_signal, session};

/// The example's binary, which `cargo test` builds beside the test binary (`cargo test
/// --test integration` does not): one older than the sources it is built from would test
/// yesterday's gate.
fn example() -> PathBuf {
    let deps = std::env::current_exe().unwrap();
    let debug = deps.parent().and_then(|d| d.parent()).unwrap();
    let path = debug.join("examples").join("embedded");
    let built = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{} is not built ({e}): run cargo test", path.display()));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for sources in ["src", "macros/src", "examples/embedded"] {
        let (newest, file) = newest(&root.join(sources));
        assert!(
            newest <= built,
            "{} is older than {}: run cargo test, or cargo build --example embedded",
            path.display(),
            file.display()
        );
    }
    path
}

/// The most recently modified file under `dir`, with its time.
fn newest(dir: &std::path::Path) -> (std::time::SystemTime, PathBuf) {
    let mut found = (std::time::SystemTime::UNIX_EPOCH, dir.to_path_buf());
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let candidate = if entry.file_type().unwrap().is_dir() {
            newest(&entry.path())
        } else {
            (entry.metadata().unwrap().modified().unwrap(), entry.path())
        };
        found = found.max(candidate);
    }
    found
}

/// Starts the example against `url` on a free port, backups in `backups`.
fn start(url: &str, backups: &std::path::Path) -> Child {
    Command::new(example())
        .env("DATABASE_URL", url)
        .env("LISTEN", "127.0.0.1:0")
        .env("BACKUP_DIR", backups)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// Reads the address the example prints once it serves, within `within`.
async fn listening(child: &mut Child, within: Duration) -> SocketAddr {
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(within, lines.next_line())
        .await
        .expect("the example did not start serving in time")
        .unwrap()
        .expect("the example exited before serving");
    line.strip_prefix("listening on ").unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_embedded_example_gates_itself_and_serves_its_route_beside_the_gates() {
    let db = TestDb::new().await;
    let backups = tempfile::tempdir().unwrap();
    // Both instances start while the lock is held: neither may serve before it is free.
    let holder = db.client().await;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .unwrap();
    let mut first = start(&db.url, backups.path());
    let mut second = start(&db.url, backups.path());
    let watcher = db.client().await;
    session(
        &watcher,
        "application_name = 'schemagate/v0.1.0' AND query LIKE '%pg_try_advisory_lock%'",
        "the example waiting for the migration lock",
    )
    .await;
    // Its last query was a try for a lock: had it been for another key, it would have got
    // it, and would hold it now.
    let advisory: i64 = watcher
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(advisory, 1, "only the test holds an advisory lock");
    assert!(
        db.history().await.is_empty(),
        "migrated while the lock was held"
    );
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await
        .unwrap();

    for child in [&mut first, &mut second] {
        serves_its_notes_beside_the_gate(child, "postgresql").await;
    }
    assert_eq!(db.history().await, vec![1, 2]);
    assert_eq!(
        backups_ending(backups.path(), "dump"),
        1,
        "one instance migrated, after its backup; the other had nothing to do"
    );
    stop(first, second).await;
}

#[tokio::test]
async fn the_embedded_example_gates_a_sqlite_file_and_serves_its_route_beside_the_gates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    let url = format!("sqlite:{}", path.display());
    let backups = tempfile::tempdir().unwrap();
    // Both instances start while the migration lock (the flock beside the file) is held.
    let lock = std::fs::File::create(format!("{}-schemagate.lock", path.display())).unwrap();
    lock.lock().unwrap();
    let mut first = start(&url, backups.path());
    let mut second = start(&url, backups.path());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!path.exists(), "migrated while the lock was held");
    lock.unlock().unwrap();

    for child in [&mut first, &mut second] {
        serves_its_notes_beside_the_gate(child, "sqlite").await;
    }
    let history: Vec<i64> = rusqlite::Connection::open(&path)
        .unwrap()
        .prepare("SELECT version FROM refinery_schema_history ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(history, [1, 2]);
    assert_eq!(
        backups_ending(backups.path(), "sqlite"),
        1,
        "one instance migrated, after its backup; the other had nothing to do"
    );
    stop(first, second).await;
}

/// Once `child` serves: the gate's `/health` (ok at schema 2 on `engine`) and `/metrics`
/// with the app's counter, the app's `/notes` from its own connection, and a 404 beside.
async fn serves_its_notes_beside_the_gate(child: &mut Child, engine: &str) {
    let address = listening(child, Duration::from_secs(60)).await;
    let (status, health) = get(address, "/health").await;
    assert_eq!(status, 200, "{health}");
    let health: serde_json::Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["schema"]["current"], 2, "{health}");
    assert_eq!(health["database"]["engine"], engine, "{health}");
    assert_eq!(
        get(address, "/notes").await,
        (200, "[\"gated at startup\"]".to_owned())
    );
    let (status, metrics) = get(address, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(sample(&metrics, "notes_requests_total"), Some(1.0));
    assert_eq!(sample(&metrics, "schemagate_schema_current"), Some(2.0));
    assert_eq!(get(address, "/nothing-here").await.0, 404);
}

/// How many files in `dir` end in `.extension`.
fn backups_ending(dir: &std::path::Path, extension: &str) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == extension)
        })
        .count()
}

/// SIGTERM to both instances: each exits 0 within 10 s.
async fn stop(first: Child, second: Child) {
    for mut child in [first, second] {
        send_signal(child.id().unwrap(), "TERM").await;
        let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .expect("SIGTERM did not stop the example")
            .unwrap();
        assert!(status.success(), "{status}");
    }
}
