//! Test support: a database of its own on the PostgreSQL server for each test, with a random
//! name, dropped with its sessions when the value goes (also when the test fails).
//!
//! The server is `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`,
//! the development machine's and `.ci/run`'s). Without a server a test fails, never skips:
//! these tests exist to run against a real one.

use std::time::Duration;

use tokio_postgres::Client;

use super::connection::Connection;
use crate::testing::random_name;

/// How the tests' sessions name themselves in `pg_stat_activity`.
const APPLICATION_NAME: &str = "schemagate-test";

/// A test's own database.
pub(crate) struct TestDatabase {
    /// Its name.
    pub(crate) name: String,
    /// The connection to it: the server's, with this database.
    pub(crate) connection: Connection,
}

/// The server the tests use.
fn server() -> Connection {
    let url = std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    Connection::parse(&url).expect("TEST_DATABASE_URL parses")
}

/// A session on `connection`; panics (naming TEST_DATABASE_URL) when it cannot be had.
async fn connect(connection: &Connection) -> Client {
    super::db::connect(connection, APPLICATION_NAME, Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| {
            panic!("these tests need PostgreSQL at TEST_DATABASE_URL ({connection}): {e}")
        })
}

impl TestDatabase {
    /// Creates it on the test server.
    pub(crate) async fn create() -> Self {
        let server = server();
        let name = random_name("sg_test");
        connect(&server)
            .await
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        Self {
            connection: server.with_dbname(&name),
            name,
        }
    }

    /// A new session on it.
    pub(crate) async fn client(&self) -> Client {
        connect(&self.connection).await
    }
}

impl Drop for TestDatabase {
    /// A failure to drop fails the test, unless it is already failing: a second panic would
    /// abort the whole binary and hide the first failure, so then the leak is only reported.
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // A runtime of its own on a thread of its own: Drop cannot await, and may run
        // inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async { connect(&server()).await.batch_execute(&sql).await })
        })
        .join()
        .expect("the thread dropping the test database");
        if let Err(error) = dropped {
            let message = format!("cannot drop test database {}: {error}", self.name);
            if std::thread::panicking() {
                eprintln!("{message}");
            } else {
                panic!("{message}");
            }
        }
    }
}

/// Waits (up to 20 s) for a session of the database `client` is connected to, other than
/// `client`'s own, that matches `condition` (SQL over `pg_stat_activity`, e.g.
/// `wait_event_type = 'Lock'`), and returns its pid; `what` says what the test waits for.
pub(crate) async fn session(client: &Client, condition: &str, what: &str) -> i32 {
    let query = format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND {condition} LIMIT 1"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(row) = client.query_opt(query.as_str(), &[]).await.unwrap() {
            return row.get(0);
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
