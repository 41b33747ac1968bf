//! Test support: a fresh database per test, migration fixtures, and running the binary.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use tokio_postgres::Client;

pub mod fleet;
pub mod mariadb;
#[path = "../../src/server/metrics/sample.rs"]
mod metrics;
pub mod pgbouncer;
pub mod scratch;
pub mod serve;
mod snapshot;

pub(crate) use metrics::sample;
pub use schemagate_testing::cluster;
pub use schemagate_testing::postgres::{has_client, pg_program, server_major};
pub use schemagate_testing::skip::{in_ci, skip_or_fail};
pub use schemagate_testing::{connect, running_as_root, server_url};
pub use snapshot::{Snapshot, pg_dump_text};

/// The key of the migration lock (`pg_advisory_lock`), written here as a literal and not
/// imported from the crate: it is a compatibility contract between releases. During a
/// rolling deploy the old release's and the new release's gates must take the same lock,
/// so a change of the key in `src/lock.rs` must fail the tests that hold or look for it.
pub const MIGRATION_LOCK_KEY: i64 = 0x7363_6865_6d61_6761; // "schemaga"

/// A database created for one test, dropped (with its connections) when the test ends.
pub struct TestDb {
    /// Its name.
    pub name: String,
    /// Its URL.
    pub url: String,
}

impl TestDb {
    /// Creates a database with a random name on the test server.
    pub async fn new() -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sg_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let admin = connect(&server_url()).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create test database");
        let url = with_database(&server_url(), &name);
        Self { name, url }
    }

    /// A new connection to the test database.
    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// The applied versions in the history, in order; none while the history table does not
    /// exist yet (see [`history`]).
    pub async fn history(&self) -> Vec<i64> {
        history(&self.client().await, &self.name).await
    }

    /// Runs `sql` (one or more statements) on the database; a failure fails the test.
    pub async fn execute(&self, sql: &str) {
        self.client().await.batch_execute(sql).await.unwrap();
    }

    /// The tables of the public schema, sorted, without schemagate's own (history, audit, fleet).
    pub async fn tables(&self) -> Vec<String> {
        let client = self.client().await;
        let rows = client
            .query(
                "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('refinery_schema_history', 'schemagate_audit', 'schemagate_fleet', 'schemagate_schema') ORDER BY 1",
                &[],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        cleanup(&format!("drop test database {}", self.name), sql);
    }
}

/// The applied versions in the history of the database `client` is connected to (`what`
/// names it in a failure), in order; none while the history table does not exist yet. Any
/// other failure to read it fails the test: an unreadable history must not look like an
/// empty one.
pub async fn history(client: &Client, what: &str) -> Vec<i64> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('refinery_schema_history') IS NOT NULL",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("look for the history table in {what}: {e}"))
        .get(0);
    if !exists {
        return Vec::new();
    }
    client
        .query(
            "SELECT version FROM refinery_schema_history ORDER BY version",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("read the history of {what}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Runs `sql` on the test server from a `Drop` (inside the test's runtime, which cannot
/// block: on a thread of its own). A failure fails the test, unless it is already failing:
/// a second panic would abort the whole binary and hide the first failure, so then the
/// leak is only reported.
pub fn cleanup(what: &str, sql: String) {
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async { connect(&server_url()).await.batch_execute(&sql).await })
    })
    .join()
    .unwrap();
    if let Err(error) = done {
        if std::thread::panicking() {
            eprintln!("cannot {what}: {error}");
        } else {
            panic!("cannot {what}: {error}");
        }
    }
}

/// Every file name in a directory, sorted; none when it does not exist. Any other failure
/// to read it fails the test: an unreadable directory must not look like an empty one.
pub fn files(dir: &Path) -> Vec<String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(error) => panic!("cannot list {}: {error}", dir.display()),
    };
    let mut names: Vec<String> = entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The same server URL with another database.
pub fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

/// The same server URL as another user with a password, built from the URL's parts so
/// that whatever user and password `TEST_DATABASE_URL` has are replaced, not edited.
pub fn with_user_password(url: &str, user: &str, password: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_DATABASE_URL is a URL");
    parsed
        .set_username(user)
        .expect("TEST_DATABASE_URL can have a user name");
    parsed
        .set_password(Some(password))
        .expect("TEST_DATABASE_URL can have a password");
    parsed.to_string()
}

/// A migrations directory, a compat.toml and a backup directory in a temporary folder.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// An empty project.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("migrations")).unwrap();
        Self { dir }
    }

    /// A project with `n` simple migrations (table `t{v}` each) and a window `[min, max]`.
    pub fn with_tables(n: i64, min: i64, max: i64) -> Self {
        let project = Self::new();
        for v in 1..=n {
            project.migration(
                v,
                &format!("create_t{v}"),
                &format!("CREATE TABLE t{v} (id int);"),
                &format!("DROP TABLE t{v};"),
            );
        }
        project.compat(min, max);
        project
    }

    /// Migrations 1 to 3; 2 sleeps as long as the `sleep_control` table (which the test
    /// creates after [`Project::migrate_first`]) says, so a test can catch it
    /// mid-statement and then let it through.
    pub fn with_a_slow_second_migration() -> Self {
        let project = Self::with_tables(1, 1, 3);
        project.migration(
            2,
            "slow",
            "CREATE TABLE t2 (id int);\nSELECT pg_sleep(seconds) FROM sleep_control;",
            "DROP TABLE t2;",
        );
        project.migration(
            3,
            "create_t3",
            "CREATE TABLE t3 (id int);",
            "DROP TABLE t3;",
        );
        project
    }

    /// The project's root.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The migrations directory.
    pub fn migrations(&self) -> PathBuf {
        self.path().join("migrations")
    }

    /// The backup directory.
    pub fn backups(&self) -> PathBuf {
        self.path().join("backups")
    }

    /// Writes `V{v}__{name}.sql` and its down file.
    pub fn migration(&self, version: i64, name: &str, up: &str, down: &str) {
        std::fs::write(
            self.migrations().join(format!("V{version}__{name}.sql")),
            up,
        )
        .unwrap();
        std::fs::write(
            self.migrations()
                .join(format!("V{version}__{name}.down.sql")),
            down,
        )
        .unwrap();
    }

    /// Gates the database at `url` to version 1 (no backup), then sets the window to
    /// `[min, max]`: tables a test creates for itself afterwards (a `filler`, a
    /// `sleep_control`) are then not taken for those of an existing database without a
    /// history, which the gate refuses.
    pub async fn migrate_first(&self, url: &str, min: i64, max: i64) {
        self.compat(1, 1);
        self.migrate_no_backup(url).await;
        self.compat(min, max);
    }

    /// Runs `migrate --no-backup` on the database at `url` and expects exit 0: the set-up
    /// of a test about what a later run does.
    pub async fn migrate_no_backup(&self, url: &str) {
        self.run(url, &["migrate", "--no-backup"])
            .await
            .expect_code(0);
    }

    /// Writes compat.toml for release 1.0.0 with `[min, max]`.
    pub fn compat(&self, min: i64, max: i64) {
        self.compat_text(&format!(
            "[app]\nversion = \"1.0.0\"\n[schema]\nmin = {min}\nmax = {max}\n"
        ));
    }

    /// Writes compat.toml verbatim.
    pub fn compat_text(&self, text: &str) {
        std::fs::write(self.path().join("compat.toml"), text).unwrap();
    }

    /// A command running the binary against `url` with this project's files.
    pub fn command(&self, url: &str, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_schemagate"));
        command
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("APP_VERSION")
            .env("SCHEMAGATE_DATABASE_URL", url)
            .env("SCHEMAGATE_MIGRATIONS_DIR", self.migrations())
            .env("SCHEMAGATE_COMPAT", self.path().join("compat.toml"))
            .env("SCHEMAGATE_BACKUP_DIR", self.backups())
            .env("SCHEMAGATE_CONNECT_TIMEOUT", "10s")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs the binary to completion.
    pub async fn run(&self, url: &str, args: &[&str]) -> Run {
        Run(self.command(url, args).output().await.unwrap())
    }
}

/// A finished run of the binary.
pub struct Run(pub Output);

impl Run {
    /// The exit code.
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }

    /// stdout and stderr together, for assertions and failure messages.
    pub fn text(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.0.stdout),
            String::from_utf8_lossy(&self.0.stderr)
        )
    }

    /// Asserts the exit code, showing the output when it differs.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "unexpected exit code; output:\n{}",
            self.text()
        );
        self
    }

    /// Asserts that the output says `needle`, showing the output when it does not.
    pub fn expect_text(&self, needle: &str) -> &Self {
        let text = self.text();
        assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
        self
    }
}

/// Sends `signal` (`TERM`, `INT`) to a process.
pub async fn send_signal(pid: u32, signal: &str) {
    let status = tokio::process::Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Waits (up to 20 s) for a session of the database `client` is connected to, other than
/// `client`'s own, that matches `condition` (SQL over `pg_stat_activity`, e.g.
/// `wait_event_type = 'Lock'`), and returns its pid; `what` says what the test waits for.
pub async fn session(client: &Client, condition: &str, what: &str) -> i32 {
    let query = format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND {condition} LIMIT 1"
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(row) = client.query_opt(query.as_str(), &[]).await.unwrap() {
            return row.get(0);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
