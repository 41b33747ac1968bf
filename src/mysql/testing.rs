//! Test support: a database of its own on the MariaDB server for each test, with a random
//! name, dropped when the value goes (also when the test fails).
//!
//! The server is `TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/mysql`, the
//! development machine's and `.ci/run`'s). Without it a test fails: these tests exist to
//! run against a real server.

use std::time::Duration;

use mysql_async::prelude::Queryable as _;

use super::options::Options;
use crate::testing::random_name;

/// A test's own database.
pub(crate) struct TestDatabase {
    /// Options naming it.
    pub options: Options,
}

/// The server the tests use.
pub(crate) fn server() -> Options {
    let url = std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".to_owned());
    Options::parse_with(&url, &Default::default(), "root").expect("TEST_MYSQL_URL parses")
}

impl TestDatabase {
    /// Creates it; panics (naming TEST_MYSQL_URL) when the server cannot be reached.
    pub(crate) async fn create() -> Self {
        let server = server();
        let name = random_name("sg_test");
        let mut conn = super::connect::connect(&server, Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| {
                panic!("these tests need MariaDB or MySQL at TEST_MYSQL_URL ({server}): {e}")
            });
        conn.query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .expect("create the test database");
        conn.disconnect().await.expect("disconnect");
        Self {
            options: server.with_database(&name),
        }
    }

    /// A session on the server's default database (not the test's).
    pub(crate) async fn create_conn_to_server() -> mysql_async::Conn {
        super::connect::connect(&server(), Duration::from_secs(10))
            .await
            .expect("connect to the test server")
    }

    /// A session on it.
    pub(crate) async fn conn(&self) -> mysql_async::Conn {
        super::connect::connect(&self.options, Duration::from_secs(10))
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.options.database.clone();
        let server = server();
        // A runtime of its own on a thread of its own: Drop cannot await, and may run
        // inside the test's runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut conn = super::connect::connect(&server, Duration::from_secs(10)).await?;
                conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                    .await
                    .map_err(|e| super::connect::ConnectError::Refused {
                        target: name.clone(),
                        reason: e.to_string(),
                    })?;
                conn.disconnect().await.ok();
                Ok::<_, super::connect::ConnectError>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!(
                "could not drop test database {}: {e}",
                self.options.database
            );
        }
    }
}
