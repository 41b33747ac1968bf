//! Taking a PostgreSQL backup: `pg_dump --format=custom` streamed through us into a temporary file,
//! hashed and verified on the way, then fsynced and renamed, with its manifest beside it.
//!
//! Verification streams the same bytes into `pg_restore --file=/dev/null` while they are
//! written, instead of re-reading the file afterwards: `pg_restore` still reads and
//! decompresses the archive whole (which catches the truncated dump that `--list` accepts),
//! but on a second core, so the backup costs about what the plain `pg_dump` costs. The bytes
//! it checks are the bytes we wrote and hashed; a re-read right after writing would come
//! from the page cache anyway, not from the disk.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_postgres::Client;

use super::tools;
use crate::backup::dump::{
    Partial, create_dir, now_to_the_millisecond, remove_stale_partials, sync_dir,
};
use crate::backup::manifest::{self, Backup, Manifest};
use crate::backup::process::{self, Tail};
use crate::backup::tools::Tool;
use crate::backup::{BackupError, Preview};
use crate::postgres::connection::Connection;

/// How often a long dump logs its progress.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// Read size from pg_dump's stdout.
const CHUNK: usize = 256 * 1024;

/// How many chunks (16 MiB) the verifier may fall behind before the dump waits for it.
/// Without this slack, pg_dump, we and pg_restore move in lock step through 64 KiB pipes,
/// and every pause of pg_restore (inflating a block) stalls pg_dump too.
const VERIFY_BACKLOG: usize = 64;

/// What a backup needs.
pub(crate) struct Request<'a> {
    /// A connection to the database (the lock's): server version and database name.
    pub client: &'a Client,
    /// The URL pg_dump connects with (through `PG*` variables).
    pub url: &'a Connection,
    /// `application_name` of pg_dump's connection.
    pub application_name: &'a str,
    /// The backup directory (created 0700 when missing).
    pub dir: &'a Path,
    /// The release taking it, for the manifest (`v1.4.0`).
    pub app_version: String,
    /// The schema version now, for the name and manifest.
    pub schema_version: i64,
    /// `--pg-dump`, when given.
    pub pg_dump: Option<&'a Path>,
    /// Kill pg_dump after this long.
    pub timeout: Duration,
}

/// Takes a verified backup. On any failure the partial file is removed and nothing else
/// was touched.
#[tracing::instrument(skip_all, fields(dir = %request.dir.display(), schema_version = request.schema_version))]
pub(crate) async fn take(request: &Request<'_>) -> Result<Backup, BackupError> {
    let server = tools::server(request.client).await?;
    let pg_dump = tools::find("pg_dump", server.major, request.pg_dump).await?;
    let pg_restore = tools::beside("pg_restore", server.major, request.pg_dump).await?;
    create_dir(request.dir)?;
    remove_stale_partials(request.dir);

    let created_at = now_to_the_millisecond();
    let name = manifest::named(&server.database, request.schema_version, created_at, "dump");
    let path = request.dir.join(&name);
    let partial = Partial::create(manifest::partial_path(&path))?;
    tracing::info!(file = %path.display(), pg_dump = %pg_dump.path.display(), "taking a backup");

    let started = Instant::now();
    let mut progress = Progress::default();
    let streamed = tokio::time::timeout(
        request.timeout,
        stream(request, &pg_dump, &pg_restore, &partial, &mut progress),
    )
    .await
    .unwrap_or_else(|_| {
        Err(BackupError::Timeout {
            program: pg_dump.path.clone(),
            timeout: request.timeout,
            bytes: progress.bytes,
        })
    })?;
    let duration = started.elapsed();

    partial.persist(&path)?;
    let backup = Backup {
        path,
        manifest: Manifest {
            engine: "postgresql".to_owned(),
            file: name,
            app_version: request.app_version.clone(),
            schema_version: request.schema_version,
            database: server.database,
            created_at,
            size_bytes: progress.bytes,
            sha256: streamed,
            duration_seconds: duration.as_secs_f64(),
            pg_dump_version: pg_dump.version,
            server_version: server.version,
            system_identifier: server.system_identifier,
        },
    };
    if let Err(error) = backup.write_manifest() {
        let _ = std::fs::remove_file(&backup.path);
        return Err(error);
    }
    sync_dir(request.dir)?;
    tracing::info!(
        file = %backup.path.display(),
        size_bytes = backup.manifest.size_bytes,
        duration = ?duration,
        "backup taken and verified"
    );
    Ok(backup)
}

/// What [`take`] followed by [`crate::backup::prune`] would do now, without creating, writing or
/// removing anything.
pub(crate) async fn preview(
    request: &Request<'_>,
    policy: crate::backup::Retention,
) -> Result<Preview, BackupError> {
    let server = tools::server(request.client).await?;
    let pg_dump = tools::find("pg_dump", server.major, request.pg_dump).await?;
    let created_at = now_to_the_millisecond();
    let name = manifest::named(&server.database, request.schema_version, created_at, "dump");
    let path = request.dir.join(&name);
    let mut backups = manifest::list_of(request.dir, &server.origin())?;
    let new = Backup {
        path: path.clone(),
        manifest: Manifest {
            engine: "postgresql".to_owned(),
            file: name,
            app_version: request.app_version.clone(),
            schema_version: request.schema_version,
            database: server.database.clone(),
            created_at,
            size_bytes: 0,
            sha256: String::new(),
            duration_seconds: 0.0,
            pg_dump_version: pg_dump.version.clone(),
            server_version: server.version.clone(),
            system_identifier: server.system_identifier.clone(),
        },
    };
    backups.insert(0, new);
    let prune = crate::backup::retention::select(&backups, policy, created_at, &path)
        .into_iter()
        .cloned()
        .collect();
    Ok(Preview {
        path,
        pg_dump,
        prune,
    })
}

/// Bytes written so far, kept outside the timed future so a timeout can report them.
#[derive(Default)]
struct Progress {
    bytes: u64,
}

/// Runs pg_dump into the file and pg_restore, returning the sha256 once both succeeded.
async fn stream(
    request: &Request<'_>,
    pg_dump: &Tool,
    pg_restore: &Tool,
    partial: &Partial,
    progress: &mut Progress,
) -> Result<String, BackupError> {
    let mut dump_command = tools::command(pg_dump);
    dump_command
        .args(["--format=custom", "--no-password"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let passfile = tools::connect_env(&mut dump_command, request.url, request.application_name)?;
    let mut dump = dump_command.spawn().map_err(pg_dump.failed())?;
    // pg_dump holds its own descriptor of the passfile; the verifier must not inherit it.
    drop(passfile);
    let dump_stderr = Tail::spawn(dump.stderr.take());

    let mut verify = tools::command(pg_restore)
        .arg("--file=/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(pg_restore.failed())?;
    let verify_stderr = Tail::spawn(verify.stderr.take());
    let (feed, feeder) = feed_verifier(verify.stdin.take());
    let mut feed = Some(feed);

    let mut file = tokio::fs::File::from_std(
        partial
            .file
            .try_clone()
            .map_err(BackupError::io("write", partial.path().to_owned()))?,
    );
    let mut out = dump
        .stdout
        .take()
        .ok_or_else(|| pg_dump.failed()(std::io::Error::other("no stdout pipe")))?;
    let mut hasher = Sha256::new();
    let started = Instant::now();
    let mut next_report = PROGRESS_INTERVAL;
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let n = out
            .read(&mut chunk)
            .await
            .map_err(BackupError::io("read the output of", pg_dump.path.clone()))?;
        if n == 0 {
            break;
        }
        chunk.truncate(n);
        file.write_all(&chunk)
            .await
            .map_err(BackupError::io("write", partial.path().to_owned()))?;
        hasher.update(&chunk);
        // A closed feed means pg_restore stopped reading (it found the archive broken):
        // its exit status and stderr tell why, below.
        if let Some(sender) = &feed
            && sender.send(chunk).await.is_err()
        {
            feed = None;
        }
        progress.bytes += n as u64;
        if started.elapsed() >= next_report {
            tracing::info!(bytes_written = progress.bytes, elapsed = ?started.elapsed(), "backup in progress");
            next_report += PROGRESS_INTERVAL;
        }
    }
    drop(feed);
    let _ = feeder.await;
    file.flush()
        .await
        .map_err(BackupError::io("write", partial.path().to_owned()))?;
    file.sync_all()
        .await
        .map_err(BackupError::io("fsync", partial.path().to_owned()))?;

    let dump_status = dump.wait().await.map_err(pg_dump.failed())?;
    let verify_status = verify.wait().await.map_err(pg_restore.failed())?;
    if !dump_status.success() {
        return Err(BackupError::DumpFailed {
            program: pg_dump.path.clone(),
            status: process::describe(dump_status),
            bytes: progress.bytes,
            stderr: request.url.scrub(&dump_stderr.text().await),
        });
    }
    if !verify_status.success() {
        return Err(BackupError::Verify {
            file: partial.path().to_owned(),
            status: process::describe(verify_status),
            stderr: verify_stderr.text().await,
        });
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Writes the chunks sent to it into pg_restore's stdin from a task of its own, so the
/// verifier lags behind the dump by up to [`VERIFY_BACKLOG`] chunks instead of holding it
/// back; closing the sender closes stdin (end of archive). The task ends early when
/// pg_restore stops reading.
fn feed_verifier(
    stdin: Option<tokio::process::ChildStdin>,
) -> (
    tokio::sync::mpsc::Sender<Vec<u8>>,
    tokio::task::JoinHandle<()>,
) {
    let (sender, mut chunks) = tokio::sync::mpsc::channel::<Vec<u8>>(VERIFY_BACKLOG);
    let feeder = tokio::spawn(async move {
        let Some(mut stdin) = stdin else { return };
        while let Some(chunk) = chunks.recv().await {
            if stdin.write_all(&chunk).await.is_err() {
                return;
            }
        }
    });
    (sender, feeder)
}
