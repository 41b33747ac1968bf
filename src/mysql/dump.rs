//! Backups of a MariaDB/MySQL database: the dump client's SQL script streamed through us
//! into a private temporary file, hashed on the way, checked whole, then fsynced and
//! renamed, with the same JSON manifest as PostgreSQL's backups beside it.
//!
//! `--single-transaction` gives a consistent snapshot of InnoDB tables without locking
//! them; `--routines --triggers --events` take the code with the tables; `--hex-blob`
//! keeps binary columns byte-exact whatever the connection's character set. The dump
//! names no database (no `CREATE DATABASE`/`USE`), so it loads into any database: the
//! live one on restore, or a scratch one. schemagate's own audit and
//! fleet tables are left out: a restore keeps the audit trail and the live fleet.
//!
//! A dump is whole when the client exited 0 and its last line is the client's
//! `-- Dump completed` trailer, which it writes only after the last table.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::client::{self, Client, ClientError};
use super::options::Options;
use crate::backup::manifest::{self, Backup, Manifest};
use crate::backup::process::Tail;
use crate::backup::tools::{Origin, Tool};
use crate::backup::{Preview, Retention, retention};

/// The line a finished dump ends with.
const TRAILER: &[u8] = b"-- Dump completed";

/// Read size from the dump client's stdout.
const CHUNK: usize = 256 * 1024;

/// Tables the dump leaves out (see the module docs).
const NOT_DUMPED: &[&str] = &["schemagate_audit", "schemagate_fleet"];

/// What a backup needs.
pub(crate) struct Request<'a> {
    pub options: &'a Options,
    /// The backup directory (created 0700 when missing).
    pub dir: &'a Path,
    pub app_version: String,
    pub schema_version: i64,
    /// The dump client to use instead of the one found on `PATH`.
    pub dump_client: Option<&'a Path>,
    /// Kill the dump after this long.
    pub timeout: Duration,
}

/// A backup failed; nothing was changed, and no partial file stays.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DumpError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(
        "{program} failed ({status}) after writing {bytes} bytes; the partial file was removed and nothing was changed; its stderr: {stderr}"
    )]
    Failed {
        program: String,
        status: String,
        bytes: u64,
        stderr: String,
    },
    #[error(
        "{program} exited 0 but its output ({bytes} bytes) does not end with its `-- Dump completed` line: the dump is incomplete; it was removed and nothing was changed"
    )]
    Incomplete { program: String, bytes: u64 },
    #[error(
        "{program} did not finish within {timeout:?}; it was killed, the partial file removed, nothing was changed; raise --backup-timeout if the database is that large"
    )]
    Timeout { program: String, timeout: Duration },
    #[error("cannot {action} {path}")]
    Io {
        action: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {action}: {message}")]
    Query {
        action: &'static str,
        message: String,
    },
    #[error(transparent)]
    Manifest(#[from] crate::backup::BackupError),
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> DumpError + 'a {
    move |source| DumpError::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// What the server says about itself: its version (which picks the client's flavour) and,
/// on MySQL, its `server_uuid` (the identity that tells its backups from another's).
pub(crate) async fn server(conn: &mut Conn) -> Result<(String, Option<String>), DumpError> {
    let failed = |e: mysql_async::Error| DumpError::Query {
        action: "read the server's version",
        message: super::error::describe(&e),
    };
    let version: Option<String> = conn.query_first("SELECT VERSION()").await.map_err(failed)?;
    let uuid = match conn.query_first::<String, _>("SELECT @@server_uuid").await {
        Ok(uuid) => uuid,
        Err(mysql_async::Error::Server(_)) => None,
        Err(e) => return Err(failed(e)),
    };
    Ok((version.unwrap_or_default(), uuid))
}

/// Takes a verified backup on `conn`'s server (the lock's session).
pub(crate) async fn take(conn: &mut Conn, request: &Request<'_>) -> Result<Backup, DumpError> {
    let (server_version, uuid) = server(conn).await?;
    let dump = client::dump_client(&server_version, request.dump_client).await?;
    create_dir(request.dir)?;
    let created_at = now_to_the_millisecond();
    let database = &request.options.database;
    let name = manifest::file_name(database, request.schema_version, created_at);
    let path = request.dir.join(&name);
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(request.dir)
        .map_err(io("create a file in", request.dir))?;
    tracing::info!(file = %path.display(), client = %dump.path.display(), "taking a backup");
    let started = Instant::now();
    let program = dump.path.display().to_string();
    let (bytes, sha256) = tokio::time::timeout(
        request.timeout,
        stream(&dump, request.options, partial.as_file()),
    )
    .await
    .unwrap_or_else(|_| {
        Err(DumpError::Timeout {
            program: program.clone(),
            timeout: request.timeout,
        })
    })?;
    if !ends_with_trailer(partial.as_file(), bytes).map_err(io("read back", partial.path()))? {
        return Err(DumpError::Incomplete { program, bytes });
    }
    partial
        .as_file()
        .sync_all()
        .map_err(io("fsync", partial.path()))?;
    partial
        .persist(&path)
        .map_err(|e| io("rename the dump to", &path)(e.error))?;
    let backup = Backup {
        path,
        manifest: Manifest {
            engine: "mysql".to_owned(),
            file: name,
            app_version: request.app_version.clone(),
            schema_version: request.schema_version,
            database: database.clone(),
            created_at,
            size_bytes: bytes,
            sha256,
            duration_seconds: started.elapsed().as_secs_f64(),
            pg_dump_version: dump.version,
            server_version,
            system_identifier: uuid,
        },
    };
    if let Err(error) = backup.write_manifest() {
        let _ = std::fs::remove_file(&backup.path);
        return Err(error.into());
    }
    std::fs::File::open(request.dir)
        .and_then(|d| d.sync_all())
        .map_err(io("fsync", request.dir))?;
    Ok(backup)
}

/// What [`take`] followed by retention by `policy` would do now; changes nothing.
pub(crate) async fn preview(
    conn: &mut Conn,
    request: &Request<'_>,
    policy: Retention,
) -> Result<Preview, DumpError> {
    let (server_version, uuid) = server(conn).await?;
    let dump = client::dump_client(&server_version, request.dump_client).await?;
    let created_at = now_to_the_millisecond();
    let database = &request.options.database;
    let name = manifest::file_name(database, request.schema_version, created_at);
    let path = request.dir.join(&name);
    let origin = Origin {
        database: database.clone(),
        system_identifier: uuid.clone(),
    };
    let mut backups = manifest::list_of(request.dir, &origin)?;
    backups.insert(
        0,
        Backup {
            path: path.clone(),
            manifest: Manifest {
                engine: "mysql".to_owned(),
                file: name,
                app_version: request.app_version.clone(),
                schema_version: request.schema_version,
                database: database.clone(),
                created_at,
                size_bytes: 0,
                sha256: String::new(),
                duration_seconds: 0.0,
                pg_dump_version: dump.version.clone(),
                server_version,
                system_identifier: uuid,
            },
        },
    );
    let prune = retention::select(&backups, policy, created_at, &path)
        .into_iter()
        .cloned()
        .collect();
    Ok(Preview {
        path,
        pg_dump: Tool {
            path: dump.path,
            version: dump.version,
        },
        prune,
    })
}

/// Runs the dump client into `file`, returning the bytes written and their SHA-256.
async fn stream(
    dump: &Client,
    options: &Options,
    file: &std::fs::File,
) -> Result<(u64, String), DumpError> {
    let (mut command, option_file) = dump.command(options)?;
    command.args([
        "--single-transaction",
        "--routines",
        "--triggers",
        "--events",
        "--hex-blob",
        "--skip-dump-date",
    ]);
    for table in NOT_DUMPED {
        command.arg(format!("--ignore-table={}.{table}", options.database));
    }
    command.arg("--").arg(&options.database);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(dump.failed())?;
    drop(option_file);
    let stderr = Tail::spawn(child.stderr.take());
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut out = tokio::fs::File::from_std(file.try_clone().map_err(dump.failed())?);
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = stdout.read(&mut buf).await.map_err(dump.failed())?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n]).await.map_err(dump.failed())?;
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    out.flush().await.map_err(dump.failed())?;
    let status = child.wait().await.map_err(dump.failed())?;
    let stderr = options_scrubbed(options, stderr.text().await);
    if !status.success() {
        return Err(DumpError::Failed {
            program: dump.path.display().to_string(),
            status: status.to_string(),
            bytes,
            stderr,
        });
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// The child's stderr with the password taken out, should a client ever echo it.
pub(crate) fn options_scrubbed(options: &Options, text: String) -> String {
    use secrecy::ExposeSecret as _;
    match options.password.as_ref().map(|p| p.expose_secret()) {
        Some(password) if !password.is_empty() => text.replace(password, "***"),
        _ => text,
    }
}

/// Whether the last line of the first `len` bytes of `file` is the dump's trailer.
pub(crate) fn ends_with_trailer(file: &std::fs::File, len: u64) -> std::io::Result<bool> {
    let mut file = file.try_clone()?;
    let tail_len = len.min(256);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = Vec::new();
    file.take(tail_len).read_to_end(&mut tail)?;
    let text = tail.strip_suffix(b"\n").unwrap_or(&tail);
    let last_line = text.rsplit(|&b| b == b'\n').next().unwrap_or_default();
    Ok(last_line.starts_with(TRAILER))
}

fn create_dir(dir: &Path) -> Result<(), DumpError> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io("create the backup directory", dir))
}

/// Now, to the millisecond (the file name's precision), so name and manifest agree.
fn now_to_the_millisecond() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(now.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;
    use crate::mysql::testing::TestDatabase;
    use crate::mysql::throwaway::{Setup, Throwaway};

    #[test]
    fn only_a_dump_ending_with_the_trailer_is_whole() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"CREATE TABLE t (x INT);\n-- Dump completed\n")
            .unwrap();
        let len = file.metadata().unwrap().len();
        assert!(ends_with_trailer(&file, len).unwrap());
        assert!(
            !ends_with_trailer(&file, len - 18).unwrap(),
            "cut before the trailer"
        );
        assert!(!ends_with_trailer(&file, 0).unwrap());
    }

    #[tokio::test]
    async fn a_backup_is_verified_hashed_private_and_described_by_its_manifest() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        conn.query_drop("CREATE TABLE t (b BLOB); INSERT INTO t VALUES (x'00ff0a'); CREATE TABLE schemagate_audit (x INT)")
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join("backups");
        let request = Request {
            options: &db.options,
            dir: &backups,
            app_version: "v1.2.0".into(),
            schema_version: 3,
            dump_client: None,
            timeout: Duration::from_secs(60),
        };
        let backup = take(&mut conn, &request).await.unwrap();
        let bytes = std::fs::read(&backup.path).unwrap();
        assert_eq!(backup.manifest.size_bytes, bytes.len() as u64);
        assert_eq!(backup.manifest.sha256, hex::encode(Sha256::digest(&bytes)));
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("0x00FF0A"), "hex-blob");
        assert!(
            !text.contains("schemagate_audit"),
            "own tables are left out"
        );
        assert!(!text.contains("CREATE DATABASE"), "loads into any database");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&backup.path), 0o600);
        assert_eq!(mode(&backups), 0o700);
        let loaded = Backup::load(&backup.path).unwrap();
        assert_eq!(loaded.manifest, backup.manifest);
        assert!(
            loaded.manifest.pg_dump_version.contains("MariaDB"),
            "{:?}",
            loaded.manifest
        );
        let policy = Retention {
            keep: 5,
            max_age: Duration::from_secs(3600),
        };
        let preview = preview(&mut conn, &request, policy).await.unwrap();
        assert!(preview.path.starts_with(&backups) && !preview.path.exists());
        assert!(preview.pg_dump.version.contains("MariaDB"));
        let entries: Vec<_> = std::fs::read_dir(&backups)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            entries.len(),
            2,
            "the dump and its manifest, no partial file: {entries:?}"
        );
    }

    #[tokio::test]
    async fn a_failing_dump_client_leaves_no_file_and_says_why() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("mariadb-dump");
        std::fs::write(&broken, "#!/bin/sh\ncase \"$*\" in *--version*) echo 'mariadb-dump from 10.11-MariaDB';; *) echo partial; echo 'boom' >&2; exit 2;; esac\n").unwrap();
        std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
        let backups = dir.path().join("b");
        let request = Request {
            options: &db.options,
            dir: &backups,
            app_version: "v1".into(),
            schema_version: 1,
            dump_client: Some(&broken),
            timeout: Duration::from_secs(60),
        };
        let error = take(&mut conn, &request).await.unwrap_err();
        assert!(error.to_string().contains("stderr: boom"), "{error}");
        assert_eq!(std::fs::read_dir(&backups).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn the_dump_client_connects_with_the_same_tls_checks_as_the_gate() {
        let server = Throwaway::start(Setup {
            tls: true,
            ..Setup::default()
        })
        .await;
        let ca = server.file("ca.crt").display().to_string();
        let mut conn = crate::mysql::connect::connect(
            &server.options("127.0.0.1", "?ssl-mode=DISABLED"),
            Duration::from_secs(20),
        )
        .await
        .unwrap();
        conn.query_drop("CREATE DATABASE app; CREATE TABLE app.t (x INT)")
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let verified = server
            .options(
                "localhost",
                &format!("?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
            )
            .with_database("app");
        let request = Request {
            options: &verified,
            dir: dir.path(),
            app_version: "v1".into(),
            schema_version: 1,
            dump_client: None,
            timeout: Duration::from_secs(60),
        };
        let backup = take(&mut conn, &request).await.unwrap();
        assert!(
            std::fs::read_to_string(&backup.path)
                .unwrap()
                .contains("CREATE TABLE `t`")
        );
        let wrong_name = server
            .options(
                "127.0.0.1",
                &format!("?ssl-mode=VERIFY_IDENTITY&ssl-ca={ca}"),
            )
            .with_database("app");
        let error = take(
            &mut conn,
            &Request {
                options: &wrong_name,
                ..request
            },
        )
        .await
        .unwrap_err();
        assert!(
            matches!(error, DumpError::Failed { .. }),
            "the dump client checks the name too: {error}"
        );
    }
}
