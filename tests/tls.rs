//! TLS against real servers through the binary (issue 11, item 5): a certificate that fails
//! fails at once with exit 4 naming the check, and a backup and a restore work over
//! `verify-full` with a client certificate. The connector itself is held against `psql`
//! cell by cell inside the crate (src/postgres/connection/conformance.rs).

use std::time::Duration;

use schemagate_testing::tls::{Certificates, Server, tls_cluster};

use crate::support::Project;

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
