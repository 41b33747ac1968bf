//! The library boundary (DESIGN §13): `examples/embedded`, a warp service with its own
//! migrations that gates itself at startup and serves its route beside the gate's.

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
        let address = listening(child, Duration::from_secs(60)).await;
        let (status, health) = get(address, "/health").await;
        assert_eq!(status, 200, "{health}");
        assert!(health.contains("\"current\":2"), "{health}");
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
    assert_eq!(db.history().await, vec![1, 2]);
    let dumps = std::fs::read_dir(backups.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "dump")
        })
        .count();
    assert_eq!(
        dumps, 1,
        "one instance migrated, after its backup; the other had nothing to do"
    );

    for mut child in [first, second] {
        send_signal(child.id().unwrap(), "TERM").await;
        let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
            .await
            .expect("SIGTERM did not stop the example")
            .unwrap();
        assert!(status.success(), "{status}");
    }
}
