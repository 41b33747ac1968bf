//! The connector held against `psql` on real servers (issue 11, item 5): three throwaway
//! clusters (without TLS; with TLS, accepting plain too; with TLS and client certificates
//! required) and, for every sslmode × server × root certificate × host name, schemagate
//! connects exactly when psql connects, and uses TLS exactly when psql's session does
//! (`pg_stat_ssl`). Both run with the same empty home, so neither finds a `~/.postgresql`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use schemagate_testing::tls::{Certificates, Server, tls_cluster};
use tokio::sync::Semaphore;

use super::env::Environment;
use super::{Connection, Connector};

/// One cell of the matrix.
#[derive(Debug, Clone)]
struct Cell {
    sslmode: &'static str,
    server: Server,
    root: Option<&'static str>,
    host: &'static str,
    client_cert: bool,
}

impl Cell {
    fn conninfo(&self, certs: &Certificates, port: u16) -> String {
        let mut text = format!(
            "host={} port={port} user=postgres dbname=postgres sslmode={} connect_timeout=5",
            self.host, self.sslmode
        );
        if let Some(root) = self.root {
            text.push_str(&format!(" sslrootcert={}", certs.path(root).display()));
        }
        if self.client_cert {
            text.push_str(&format!(
                " sslcert={} sslkey={}",
                certs.path("client.crt").display(),
                certs.path("client.key").display()
            ));
        }
        text
    }
}

/// Whether TLS is on in the session, as the server sees it.
const SSL_QUERY: &str =
    "SELECT coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)";

/// psql's answer: `None` when it does not connect, else whether the session uses TLS.
async fn psql(conninfo: &str, home: &Path) -> Option<bool> {
    let output = tokio::process::Command::new(schemagate_testing::postgres::psql().await)
        .args(["-XAtq", "-c", SSL_QUERY, conninfo])
        .env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim() == "t")
}

/// schemagate's answer, through the library's own connector, with the same empty home.
async fn schemagate(conninfo: &str, home: &Path) -> (Option<bool>, String) {
    let env = Environment::empty().home(home).os_user("postgres");
    let connection = match Connection::parse_in(conninfo, &env) {
        Ok(connection) => connection,
        Err(error) => return (None, error.to_string()),
    };
    let connector = match Connector::new(&connection, "schemagate/tls-test") {
        Ok(connector) => connector,
        Err(error) => return (None, error.to_string()),
    };
    match connector.connect(Some(Duration::from_secs(5))).await {
        Ok((client, _task)) => {
            let ssl: bool = client.query_one(SSL_QUERY, &[]).await.unwrap().get(0);
            (Some(ssl), String::new())
        }
        Err(failed) => (
            None,
            format!(
                "{:?}",
                failed
                    .attempts
                    .iter()
                    .map(|a| a.error.to_string())
                    .collect::<Vec<_>>()
            ),
        ),
    }
}

#[tokio::test]
async fn every_sslmode_connects_exactly_when_psql_connects_and_uses_tls_exactly_when_psql_does() {
    const TEST: &str = "tls_conformance_matrix";
    let Some(certs) = Certificates::make(TEST).await else {
        return;
    };
    let mut clusters = Vec::new();
    for server in [Server::Plain, Server::Tls, Server::ClientCert] {
        let Some(cluster) = tls_cluster(TEST, &certs, server).await else {
            return;
        };
        clusters.push((server, cluster));
    }
    let home = tempfile::tempdir().unwrap();
    let mut cells = Vec::new();
    for sslmode in [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ] {
        for (server, _) in &clusters {
            for root in [Some("ca.crt"), Some("wrong-ca.crt"), None] {
                for host in ["localhost", "127.0.0.1"] {
                    cells.push(Cell {
                        sslmode,
                        server: *server,
                        root,
                        host,
                        client_cert: true,
                    });
                    if *server == Server::ClientCert && root == Some("ca.crt") {
                        cells.push(Cell {
                            sslmode,
                            server: *server,
                            root,
                            host,
                            client_cert: false,
                        });
                    }
                }
            }
        }
    }
    let limit = Arc::new(Semaphore::new(6));
    let certs = Arc::new(certs);
    let mut tasks = tokio::task::JoinSet::new();
    for cell in cells {
        let port = clusters
            .iter()
            .find(|(s, _)| *s == cell.server)
            .unwrap()
            .1
            .port();
        let conninfo = cell.conninfo(&certs, port);
        let home = home.path().to_owned();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire().await.unwrap();
            let (theirs, (ours, why)) =
                tokio::join!(psql(&conninfo, &home), schemagate(&conninfo, &home));
            (cell, theirs, ours, why)
        });
    }
    let mut differences = Vec::new();
    let mut count = 0;
    let mut connected = 0;
    while let Some(done) = tasks.join_next().await {
        let (cell, theirs, ours, why) = done.unwrap();
        count += 1;
        connected += usize::from(theirs.is_some());
        if theirs != ours {
            differences.push(format!(
                "{cell:?}: psql {theirs:?}, schemagate {ours:?} {why}"
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {count} cells differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
    // The matrix must exercise both outcomes, not agree on "nothing connects".
    assert!(
        connected > 20 && connected < count - 20,
        "{connected} of {count} connected"
    );
    eprintln!("tls matrix: {count} cells, {connected} connected, all as psql");
}
