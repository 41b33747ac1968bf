//! Backups of a MariaDB/MySQL database: the dump client's SQL script, written by the
//! client itself into a private temporary file (`--result-file`) and hashed as it grows,
//! checked whole, then fsynced and renamed, with the same JSON manifest as PostgreSQL's
//! backups beside it.
//!
//! `--single-transaction` gives a consistent snapshot of InnoDB tables without locking
//! them; `--routines --triggers --events` take the code with the tables; `--hex-blob`
//! keeps binary columns byte-exact whatever the connection's character set. The dump
//! names no database (no `CREATE DATABASE`/`USE`), so it loads into any database: the
//! live one on restore, or a scratch one. schemagate's own audit, fleet and restore
//! tables are left out: a restore keeps the audit trail and the live fleet.
//!
//! A dump is whole when the client exited 0 and its last line is the client's
//! `-- Dump completed` trailer, which it writes only after the last table. With
//! `--verify-restore` it is also loaded into a scratch database beside the live one, which
//! must then describe as the live one does (`information_schema`, [`super::schema`]);
//! the scratch database is always dropped.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mysql_async::Conn;
use mysql_async::prelude::Queryable as _;
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::client::{self, Client, ClientError};
use super::options::Options;
use super::scratch::Scratch;
use crate::backup::manifest::{self, Backup, Manifest};
use crate::backup::process::Tail;
use crate::backup::tools::{Origin, Tool};
use crate::backup::{Preview, Retention, retention};

/// The line a finished dump ends with.
const TRAILER: &[u8] = b"-- Dump completed";

/// Read size when hashing the dump.
const CHUNK: usize = 256 * 1024;

/// Tables the dump leaves out (see the module docs).
const NOT_DUMPED: &[&str] = &["schemagate_audit", "schemagate_fleet", "schemagate_restore"];

/// What a backup needs.
#[derive(Clone)]
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
    /// Load the dump into a scratch database before keeping it.
    pub verify_restore: bool,
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
    #[error(
        "--verify-restore: the dump did not load back into the scratch database {scratch} (now dropped): {reason}; the dump was removed and nothing was changed"
    )]
    NotRestorable { scratch: String, reason: String },
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
    let name = manifest::named(database, request.schema_version, created_at, "dump");
    let path = request.dir.join(&name);
    let partial = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(request.dir)
        .map_err(io("create a file in", request.dir))?;
    tracing::info!(file = %path.display(), client = %dump.path.display(), "taking a backup");
    let started = Instant::now();
    let program = dump.path.display().to_string();
    let (bytes, sha256) =
        tokio::time::timeout(request.timeout, stream(&dump, request.options, &partial))
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
    if request.verify_restore {
        verify_restore(conn, request, partial.path()).await?;
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

/// Loads the dump at `path` into a scratch database beside the live one and compares
/// the two schemas; the scratch database is always dropped.
async fn verify_restore(
    conn: &mut Conn,
    request: &Request<'_>,
    path: &Path,
) -> Result<(), DumpError> {
    let scratch = Scratch::create(conn, request.options)
        .await
        .map_err(|e| DumpError::Query {
            action: "create the scratch database --verify-restore loads the dump into",
            message: super::error::describe(&e),
        })?;
    tracing::info!(scratch = %scratch.options.database, "loading the dump into a scratch database (--verify-restore)");
    let checked = compare_loaded(conn, request, path, &scratch.options).await;
    let name = scratch.options.database.clone();
    scratch.remove(conn).await;
    checked.map_err(|reason| DumpError::NotRestorable {
        scratch: name,
        reason,
    })
}

/// Loads the dump into `scratch`, then names what its schema lacks or has more than the
/// live database's.
async fn compare_loaded(
    conn: &mut Conn,
    request: &Request<'_>,
    path: &Path,
    scratch: &Options,
) -> Result<(), String> {
    super::restore::load_file(conn, scratch, path, "the dump")
        .await
        .map_err(|e| e.to_string())?;
    let live = super::schema::describe(conn)
        .await
        .map_err(|e| super::error::describe(&e))?;
    let mut loaded = super::connect::connect(scratch, request.timeout)
        .await
        .map_err(|e| e.to_string())?;
    let restored = super::schema::describe(&mut loaded).await;
    let _ = loaded.disconnect().await;
    let restored = restored.map_err(|e| super::error::describe(&e))?;
    if restored == live {
        return Ok(());
    }
    let missing: Vec<&String> = live.difference(&restored).take(5).collect();
    let extra: Vec<&String> = restored.difference(&live).take(5).collect();
    Err(format!(
        "its schema differs from the live database's (missing: {missing:?}; extra: {extra:?})"
    ))
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
    let name = manifest::named(database, request.schema_version, created_at, "dump");
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

/// Runs the dump client, which writes `partial` itself (`--result-file`: no pipe and no
/// copy through schemagate), while a thread of its own hashes the file as it grows;
/// returns the bytes written and their SHA-256.
async fn stream(
    dump: &Client,
    options: &Options,
    partial: &tempfile::NamedTempFile,
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
    let mut result_file = std::ffi::OsString::from("--result-file=");
    result_file.push(partial.path());
    command.arg(result_file).arg("--").arg(&options.database);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(dump.failed())?;
    drop(option_file);
    let stderr = Tail::spawn(child.stderr.take());
    let file = partial.as_file().try_clone().map_err(dump.failed())?;
    let (writing, written) = std::sync::mpsc::channel::<()>();
    let hashing = tokio::task::spawn_blocking(move || hash_growing(file, &written));
    let status = child.wait().await;
    drop(writing);
    let (bytes, sha256) = hashing
        .await
        .map_err(|e| dump.failed()(std::io::Error::other(e)))?
        .map_err(io("read back", partial.path()))?;
    let status = status.map_err(dump.failed())?;
    let stderr = options_scrubbed(options, stderr.text().await);
    if !status.success() {
        return Err(DumpError::Failed {
            program: dump.path.display().to_string(),
            status: crate::backup::process::describe(status),
            bytes,
            stderr,
        });
    }
    Ok((bytes, sha256))
}

/// How long the hashing thread waits at the end of what the dump client has written.
const GROWTH_POLL: Duration = Duration::from_millis(5);

/// How much is hashed between two requests to start writing the file back to disk.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// Reads `file` from its start as the dump client appends to it, until `writing` is
/// dropped (the client exited) and the end is reached: the bytes and their SHA-256.
///
/// The file is read back from the page cache, so the hash costs no second pass over the
/// disk. Each hashed stretch is handed to the kernel's writeback at once
/// (`POSIX_FADV_DONTNEED` starts it, and drops the pages once clean), so the fsync before
/// the file is kept waits for the last stretch only rather than the whole dump.
fn hash_growing(
    mut file: std::fs::File,
    writing: &std::sync::mpsc::Receiver<()>,
) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let (mut bytes, mut handed) = (0u64, 0u64);
    let mut exited = false;
    loop {
        let n = file.read(&mut buf)?;
        if n > 0 {
            hasher.update(&buf[..n]);
            bytes += n as u64;
            if bytes - handed >= WRITEBACK_EVERY {
                let _ = rustix::fs::fadvise(
                    &file,
                    handed,
                    std::num::NonZeroU64::new(bytes - handed),
                    rustix::fs::Advice::DontNeed,
                );
                handed = bytes;
            }
        } else if exited {
            return Ok((bytes, hex::encode(hasher.finalize())));
        } else {
            exited = matches!(
                writing.recv_timeout(GROWTH_POLL),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
            );
        }
    }
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
            verify_restore: false,
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

    /// A dump client that answers `--version` as the real one and writes `dump`, a real
    /// client's dump, through `sed` into the file its `--result-file` names. It does not
    /// run the real client: one that fails half-way inside a pipeline would pass its
    /// truncated output off as the edited dump.
    fn edited_dump_client(dir: &Path, name: &str, dump: &Path, sed: &str) -> std::path::PathBuf {
        let path = dir.join(name).join("mariadb-dump");
        std::fs::create_dir(dir.join(name)).unwrap();
        std::fs::write(
            &path,
            format!("#!/bin/sh\ncase \"$*\" in *--version*) exec /usr/bin/env mariadb-dump --version;; esac\nfor a; do case \"$a\" in --result-file=*) out=${{a#--result-file=}};; esac; done\nsed '{sed}' '{}' >\"$out\"\n", dump.display()),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// How many scratch databases of `database` exist on the server.
    async fn scratches(database: &str) -> i64 {
        let mut c = TestDatabase::create_conn_to_server().await;
        let found: Option<i64> = c
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE CONCAT(?, '\\_sg\\_scratch\\_%')",
                (database,),
            )
            .await
            .unwrap();
        found.unwrap_or(0)
    }

    #[tokio::test]
    async fn verify_restore_loads_the_dump_into_a_scratch_database_that_is_always_dropped() {
        let db = TestDatabase::create().await;
        let mut conn = db.conn().await;
        conn.query_drop(
            "CREATE TABLE t (id INT PRIMARY KEY, b BLOB); CREATE VIEW v AS SELECT id FROM t; INSERT INTO t VALUES (1, x'00')",
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let backups = dir.path().join("b");
        let request = Request {
            options: &db.options,
            dir: &backups,
            app_version: "v1".into(),
            schema_version: 1,
            dump_client: None,
            timeout: Duration::from_secs(60),
            verify_restore: true,
        };
        let taken = take(&mut conn, &request).await.unwrap();
        assert_eq!(scratches(&db.options.database).await, 0);

        let broken = edited_dump_client(
            dir.path(),
            "broken",
            &taken.path,
            "s/^CREATE TABLE `t` (/CREATE TABLE `t` (,/",
        );
        let differs = edited_dump_client(
            dir.path(),
            "differs",
            &taken.path,
            "s/^  `b` blob/  `c` blob/",
        );
        for (client, said) in [(&broken, "loading the dump"), (&differs, "schema differs")] {
            let error = take(
                &mut conn,
                &Request {
                    dump_client: Some(client),
                    ..request.clone()
                },
            )
            .await
            .unwrap_err();
            assert!(
                matches!(error, DumpError::NotRestorable { .. })
                    && error.to_string().contains(said),
                "{error}"
            );
            assert_eq!(scratches(&db.options.database).await, 0, "{error}");
        }
        assert_eq!(
            std::fs::read_dir(&backups).unwrap().count(),
            2,
            "only the first dump and its manifest"
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
            verify_restore: false,
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
            verify_restore: false,
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
