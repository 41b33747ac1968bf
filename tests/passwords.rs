//! Passwords never leak (issue 11, item 3): hostile passwords, given in a URL, in a
//! key=value string and in a passfile, against a throwaway cluster with scram-sha-256
//! password authentication, for every command that connects here (migrate, check, status,
//! backup): the right password works, a wrong one exits 4 "authentication failed for user
//! …", an unreachable server exits 4; and no password appears in any output, nor in the
//! argv or environment of the `pg_dump` child (a wrapper records both).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use tokio::sync::Semaphore;

use crate::support::cluster::{Cluster, Setup, free_port};
use crate::support::{Project, Run, pg_program};

/// Each holds some of `? @ # % / : ' " \` and spaces.
const PASSWORDS: [&str; 4] = [
    "a?b@c#d%e/f:g",
    "it's \"quoted\" \\ back",
    " lead:space and trail ",
    "%41%2F&=+;@:",
];

/// How the password is given.
#[derive(Debug, Clone, Copy)]
enum Form {
    Url,
    KeyValue,
    Passfile,
}

/// The connection text (and a passfile, for that form) for `user` with `password`.
fn spelled(
    form: Form,
    port: u16,
    user: &str,
    db: &str,
    password: &str,
    dir: &Path,
) -> (String, Option<PathBuf>) {
    match form {
        Form::Url => (
            format!(
                "postgres://{user}:{}@127.0.0.1:{port}/{db}",
                utf8_percent_encode(password, NON_ALPHANUMERIC)
            ),
            None,
        ),
        Form::KeyValue => (
            format!(
                "host=127.0.0.1 port={port} user={user} dbname={db} password='{}'",
                password.replace('\\', "\\\\").replace('\'', "\\'")
            ),
            None,
        ),
        Form::Passfile => {
            let path = dir.join(format!("pgpass-{}", password.len()));
            let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
            std::fs::write(&path, format!("127.0.0.1:{port}:{db}:{user}:{escaped}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            (
                format!("postgres://{user}@127.0.0.1:{port}/{db}"),
                Some(path),
            )
        }
    }
}

/// A pg_dump that answers `--version` from the real one and otherwise appends its argv and
/// environment to `record`, then becomes the real one.
async fn spy(dir: &Path, record: &Path) -> PathBuf {
    let real = pg_program("pg_dump").await;
    let path = dir.join("pg_dump");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then exec {real} --version; fi\n\
             {{ echo '--- argv'; tr '\\0' '\\n' < /proc/$$/cmdline; echo '--- env'; env; }} >> {record}\n\
             exec {real} \"$@\"\n",
            real = real.display(),
            record = record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Runs one command of the matrix, the passfile (if any) named by PGPASSFILE.
async fn run(project: &Project, url: &str, passfile: Option<&Path>, args: &[&str]) -> Run {
    let mut command = project.command(url, args);
    if let Some(passfile) = passfile {
        command.env("PGPASSFILE", passfile);
    }
    Run(command.output().await.unwrap())
}

#[tokio::test]
async fn hostile_passwords_work_fail_as_authentication_failures_and_never_leak() {
    const TEST: &str = "password_matrix";
    let Some(cluster) = Cluster::start(
        TEST,
        Setup {
            hba: Some(
                "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost all all ::1/128 scram-sha-256\n"
                    .to_owned(),
            ),
            ..Setup::default()
        },
    )
    .await
    else {
        return;
    };
    let admin = crate::support::connect(&cluster.socket_conninfo("postgres")).await;
    let work = tempfile::tempdir().unwrap();
    let record = work.path().join("pg_dump.record");
    let pg_dump = spy(work.path(), &record).await;
    let unreachable = free_port();
    let limit = Arc::new(Semaphore::new(4));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, password) in PASSWORDS.iter().enumerate() {
        let user = format!("sg_pw{i}");
        admin
            .batch_execute(&format!(
                "CREATE ROLE {user} LOGIN PASSWORD '{}'",
                password.replace('\'', "''")
            ))
            .await
            .unwrap();
        for (j, form) in [Form::Url, Form::KeyValue, Form::Passfile]
            .into_iter()
            .enumerate()
        {
            let db = format!("sg_pw{i}_{j}");
            admin
                .batch_execute(&format!("CREATE DATABASE {db} OWNER {user}"))
                .await
                .unwrap();
            let dir = work.path().join(&db);
            std::fs::create_dir(&dir).unwrap();
            let port = cluster.port();
            let (pg_dump, limit) = (pg_dump.clone(), limit.clone());
            let password = (*password).to_owned();
            let user = user.clone();
            tasks.spawn(async move {
                let _permit = limit.acquire().await.unwrap();
                let project = Project::with_tables(1, 1, 1);
                let dump = ["--pg-dump", pg_dump.to_str().unwrap()];
                let mut outputs = Vec::new();
                let (url, passfile) = spelled(form, port, &user, &db, &password, &dir);
                for args in [&["migrate"][..], &["check"], &["status"], &["backup"]] {
                    let args: Vec<&str> = args.iter().chain(&dump).copied().collect();
                    let ok = run(&project, &url, passfile.as_deref(), &args).await;
                    assert_eq!(
                        ok.code(),
                        0,
                        "{form:?} {password:?} {args:?}: {}",
                        ok.text()
                    );
                    outputs.push(ok.text());
                }
                // The destructive commands too: restore the backup just taken (pg_restore
                // and psql get the passfile), roll back, migrate again.
                let dump = crate::support::files(&project.backups())
                    .into_iter()
                    .rfind(|f| f.ends_with(".dump"))
                    .map(|f| project.backups().join(f).display().to_string())
                    .unwrap();
                let restore = ["restore", dump.as_str(), "--yes"];
                for args in [&restore[..], &["--rollback-to", "0"], &["migrate"]] {
                    let ok = run(&project, &url, passfile.as_deref(), args).await;
                    assert_eq!(ok.code(), 0, "{form:?} {args:?}: {}", ok.text());
                    outputs.push(ok.text());
                }
                let wrong = format!("{password}x");
                let (url, passfile) = spelled(form, port, &user, &db, &wrong, &dir);
                for args in [
                    &["migrate"][..],
                    &["check"],
                    &["status"],
                    &["backup"],
                    &restore,
                    &["--rollback-to", "0"],
                ] {
                    let failed = run(&project, &url, passfile.as_deref(), args).await;
                    assert_eq!(
                        failed.code(),
                        4,
                        "{form:?} {wrong:?} {args:?}: {}",
                        failed.text()
                    );
                    assert!(
                        failed
                            .text()
                            .contains(&format!("authentication failed for user \"{user}\"")),
                        "{form:?} {args:?}: {}",
                        failed.text()
                    );
                    outputs.push(failed.text());
                }
                let (url, passfile) = spelled(form, unreachable, &user, &db, &password, &dir);
                let down = run(
                    &project,
                    &url,
                    passfile.as_deref(),
                    &["check", "--connect-timeout", "1"],
                )
                .await;
                assert_eq!(down.code(), 4, "{form:?} unreachable: {}", down.text());
                assert!(down.text().contains("unreachable"), "{}", down.text());
                outputs.push(down.text());
                for manifest in crate::support::files(&project.backups())
                    .iter()
                    .filter(|f| f.ends_with(".json"))
                {
                    outputs
                        .push(std::fs::read_to_string(project.backups().join(manifest)).unwrap());
                }
                (password, wrong, outputs)
            });
        }
    }
    let mut checked = 0;
    while let Some(done) = tasks.join_next().await {
        let (password, wrong, outputs) = done.unwrap();
        for output in &outputs {
            for secret in [&password, &wrong] {
                assert!(
                    !output.contains(secret.as_str()),
                    "{secret:?} leaked:\n{output}"
                );
            }
            checked += 1;
        }
    }
    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(
        recorded.matches("--- argv").count() >= 24,
        "every backup ran the wrapper:\n{recorded}"
    );
    assert!(!recorded.contains("PGPASSWORD"), "{recorded}");
    for password in PASSWORDS {
        assert!(
            !recorded.contains(password),
            "{password:?} reached pg_dump's argv or environment"
        );
    }
    for passfile in recorded
        .lines()
        .filter_map(|l| l.strip_prefix("PGPASSFILE="))
    {
        assert!(
            passfile.contains("schemagate-pgpass-") && !Path::new(passfile).exists(),
            "the child's passfile is schemagate's private one and is gone: {passfile}"
        );
    }
    let audit: Vec<String> = {
        let client = crate::support::connect(&cluster.socket_conninfo("sg_pw0_0")).await;
        client
            .query("SELECT row_to_json(a)::text FROM schemagate_audit a", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    assert!(
        !audit.is_empty() && audit.iter().all(|row| !row.contains(PASSWORDS[0])),
        "{audit:?}"
    );
    eprintln!("password matrix: {checked} outputs checked");
}
