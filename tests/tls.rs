//! TLS against real servers (issue 11, item 5): certificates made here with `openssl`, three
//! throwaway clusters (without TLS; with TLS, accepting plain too; with TLS and client
//! certificates required), and schemagate's connection held against `psql` cell by cell:
//! for every sslmode × server × root certificate × host name, schemagate connects exactly
//! when psql connects, and uses TLS exactly when psql's session does (`pg_stat_ssl`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use schemagate::internals::{Connection, Connector, Environment};
use tokio::sync::Semaphore;

use crate::support::cluster::{Cluster, Setup};
use crate::support::{Project, skip_or_fail};

/// A CA, a second CA that signed nothing of ours, a server certificate for `localhost`
/// and a client certificate for the user `postgres`, all made with `openssl`.
pub struct Certificates {
    dir: tempfile::TempDir,
}

impl Certificates {
    /// Makes them, or says why this machine cannot (`openssl` missing).
    pub async fn make(test: &str) -> Option<Self> {
        if tokio::process::Command::new("openssl")
            .arg("version")
            .output()
            .await
            .is_err()
        {
            skip_or_fail(
                test,
                "no openssl to make test certificates (Debian: openssl)",
            );
            return None;
        }
        let certs = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        certs.ca("ca").await;
        certs.ca("wrong-ca").await;
        certs
            .leaf(
                "server",
                "localhost",
                "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
            )
            .await;
        certs
            .leaf("client", "postgres", "extendedKeyUsage=clientAuth\n")
            .await;
        Some(certs)
    }

    /// `name.crt` / `name.key` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path(name)).unwrap()
    }

    async fn openssl(&self, args: &[&str]) {
        let output = tokio::process::Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .await
            .unwrap();
        assert!(output.status.success(), "openssl {args:?}: {output:?}");
    }

    async fn ca(&self, name: &str) {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=schemagate test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])
        .await;
    }

    async fn leaf(&self, name: &str, cn: &str, extensions: &str) {
        std::fs::write(
            self.path(&format!("{name}.ext")),
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{extensions}"),
        )
        .unwrap();
        self.openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ])
        .await;
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "2",
            "-days",
            "2",
            "-out",
            &format!("{name}.crt"),
            "-extfile",
            &format!("{name}.ext"),
        ])
        .await;
        std::fs::set_permissions(
            self.path(&format!("{name}.key")),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }
}

/// The three kinds of server of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// `ssl = off`.
    Plain,
    /// `ssl = on`; `hostssl` and `hostnossl` both trusted.
    Tls,
    /// `ssl = on` with `ssl_ca_file`; only `hostssl … cert`.
    ClientCert,
}

/// A cluster of that kind, with the server certificate.
pub async fn tls_cluster(test: &str, certs: &Certificates, server: Server) -> Option<Cluster> {
    let local = "local all all trust\n";
    let (conf, hba) = match server {
        Server::Plain => (
            "ssl = off\n".to_owned(),
            format!("{local}host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n"),
        ),
        Server::Tls => (
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".to_owned(),
            format!(
                "{local}hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n\
                 hostnossl all all 127.0.0.1/32 trust\nhostnossl all all ::1/128 trust\n"
            ),
        ),
        Server::ClientCert => (
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nssl_ca_file = 'ca.crt'\n"
                .to_owned(),
            format!("{local}hostssl all all 127.0.0.1/32 cert\nhostssl all all ::1/128 cert\n"),
        ),
    };
    let files = vec![
        ("server.crt".to_owned(), certs.read("server.crt")),
        ("server.key".to_owned(), certs.read("server.key")),
        ("ca.crt".to_owned(), certs.read("ca.crt")),
    ];
    Cluster::start(
        test,
        Setup {
            conf,
            hba: Some(hba),
            files,
        },
    )
    .await
}

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
    let output = tokio::process::Command::new(crate::support::psql().await)
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

#[tokio::test]
async fn certificate_failures_fail_at_once_with_exit_4_naming_the_check() {
    const TEST: &str = "tls_failures_named";
    let Some(certs) = Certificates::make(TEST).await else {
        return;
    };
    let Some(cluster) = tls_cluster(TEST, &certs, Server::Tls).await else {
        return;
    };
    let project = Project::with_tables(1, 1, 1);
    let ca = certs.path("ca.crt");
    let wrong = certs.path("wrong-ca.crt");
    let port = cluster.port();
    for (url, expected) in [
        (
            format!(
                "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}",
                ca.display()
            ),
            "certificate for localhost does not match host 127.0.0.1".to_owned(),
        ),
        (
            format!(
                "postgres://postgres@localhost:{port}/postgres?sslmode=verify-ca&sslrootcert={}",
                wrong.display()
            ),
            "unknown issuer".to_owned(),
        ),
        (
            format!(
                "postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert=/nonexistent/root.crt"
            ),
            "root certificate file /nonexistent/root.crt does not exist".to_owned(),
        ),
    ] {
        let started = std::time::Instant::now();
        let run = project
            .run(&url, &["check", "--connect-timeout", "30s"])
            .await;
        run.expect_code(4);
        assert!(run.text().contains(&expected), "{url}: {}", run.text());
        assert!(
            !run.text().contains("not reachable yet"),
            "a TLS failure is not retried: {}",
            run.text()
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{url} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn a_backup_and_a_restore_work_over_verify_full_with_a_client_certificate() {
    const TEST: &str = "tls_backup_restore";
    let Some(certs) = Certificates::make(TEST).await else {
        return;
    };
    let Some(cluster) = tls_cluster(TEST, &certs, Server::ClientCert).await else {
        return;
    };
    // Only `hostssl … cert` is accepted: pg_dump, pg_restore and psql can only get in with
    // the sslmode, root and client certificate the URL names.
    let url = format!(
        "postgres://postgres@localhost:{}/postgres?sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}",
        cluster.port(),
        certs.path("ca.crt").display(),
        certs.path("client.crt").display(),
        certs.path("client.key").display()
    );
    let project = Project::with_tables(2, 1, 1);
    project.run(&url, &["migrate"]).await.expect_code(0);
    project.compat(2, 2);
    project.run(&url, &["migrate"]).await.expect_code(0);
    let dumps: Vec<String> = crate::support::files(&project.backups())
        .into_iter()
        .filter(|f| f.contains("schema1") && f.ends_with(".dump"))
        .collect();
    assert_eq!(dumps.len(), 1, "{dumps:?}");
    let file = project.backups().join(&dumps[0]);
    project
        .run(&url, &["restore", file.to_str().unwrap(), "--yes"])
        .await
        .expect_code(0);
    let client = crate::support::connect(&cluster.socket_conninfo("postgres")).await;
    let tables: Vec<String> = client
        .query("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 't%' ORDER BY 1", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        tables,
        ["t1"],
        "the restore brought the database back to schema 1"
    );
}
