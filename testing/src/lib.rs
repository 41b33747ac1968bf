//! Test support shared by schemagate's own tests: those inside the crate, which reach below
//! its API, and the integration tests in tests/, which run the binary and the API. Kept in
//! a crate of its own so both can use it without the library exposing anything for them.
//!
//! - [`skip`]: what a test does when this machine lacks a tool or a privilege.
//! - [`postgres`]: the test server's major and the server and client programs that match it.
//! - [`cluster`]: a throwaway PostgreSQL cluster of the test server's major.
//! - [`tls`]: test certificates and clusters with and without TLS.

pub mod cluster;
pub mod postgres;
pub mod skip;
pub mod tls;

use tokio_postgres::{Client, NoTls};

/// The server tests create their databases on.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Connects to a URL, spawning the connection task.
pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client
}

/// Whether the tests run as root: /proc/self belongs to the effective user.
pub fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
