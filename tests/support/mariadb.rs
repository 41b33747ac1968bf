//! A database of its own on the MariaDB/MySQL server at `TEST_MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306/mysql`, as on the development machine and in `.ci/run`),
//! with a random name, dropped when the value goes.

use mysql_async::prelude::Queryable as _;

/// A test's own MariaDB database.
pub struct MariaDb {
    /// Its URL.
    pub url: String,
    /// Its name.
    pub name: String,
    server: String,
}

impl MariaDb {
    /// Creates it; under CI a missing server fails the test (see `skip`), elsewhere too:
    /// these tests exist to run against a real server.
    pub async fn new() -> Self {
        let server = std::env::var("TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/mysql".to_owned());
        let mut bytes = [0u8; 6];
        getrandom::fill(&mut bytes).unwrap();
        let name = format!("sg_it_{}", hex::encode(bytes));
        let mut conn = mysql_async::Conn::from_url(&server)
            .await
            .unwrap_or_else(|e| {
                panic!("these tests need MariaDB at TEST_MYSQL_URL ({server}): {e}")
            });
        conn.query_drop(format!("CREATE DATABASE `{name}`"))
            .await
            .unwrap();
        conn.disconnect().await.unwrap();
        let base = server
            .rsplit_once('/')
            .map_or(server.as_str(), |(base, _)| base);
        Self {
            url: format!("{base}/{name}?ssl-mode=DISABLED"),
            name,
            server,
        }
    }

    /// A session on it.
    pub async fn conn(&self) -> mysql_async::Conn {
        let base = self
            .server
            .rsplit_once('/')
            .map_or(self.server.as_str(), |(base, _)| base);
        mysql_async::Conn::from_url(format!("{base}/{}", self.name))
            .await
            .unwrap()
    }

    /// Its tables, by name.
    pub async fn tables(&self) -> Vec<String> {
        self.conn()
            .await
            .query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY 1")
            .await
            .unwrap()
    }

    /// The applied versions, by version (rows of steps that stopped part way left out).
    pub async fn history(&self) -> Vec<i64> {
        self.conn()
            .await
            .query("SELECT version FROM refinery_schema_history WHERE state = 'applied' ORDER BY version")
            .await
            .unwrap()
    }

    /// The history's rows as (version, state, statements_done, statements_total).
    pub async fn progress(&self) -> Vec<(i64, String, i64, i64)> {
        self.conn()
            .await
            .query("SELECT version, state, statements_done, statements_total FROM refinery_schema_history ORDER BY version")
            .await
            .unwrap()
    }

    /// Waits (up to 30 s) until a session on this database runs a statement containing
    /// `text`, as the process list shows it.
    pub async fn running(&self, text: &str) {
        let mut conn = self.conn().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let found: Option<i64> = conn
                .exec_first(
                    "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID() AND INFO LIKE CONCAT('%', ?, '%')",
                    (self.name.as_str(), text),
                )
                .await
                .unwrap();
            if found.unwrap_or(0) > 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no session ran {text:?} within 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // Drop cannot await and may run inside the test's runtime: a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut conn) = mysql_async::Conn::from_url(&server).await {
                    let _ = conn
                        .query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
                        .await;
                    let _ = conn.disconnect().await;
                }
            });
        })
        .join();
    }
}
