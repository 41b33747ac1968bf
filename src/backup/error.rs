//! Every way a backup, a listing or a restore can fail. Each message carries what is needed
//! to act on it: the program, its stderr (password-free), the file, how far it got.

use std::path::PathBuf;
use std::time::Duration;

/// A backup, listing or restore failed; for a backup, nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// No client program of the server's major version was found.
    #[error(
        "no {program} of PostgreSQL {major} found (looked at {looked}); {}: the client's major version must equal the server's",
        where_to_get(*.major)
    )]
    ClientMissing {
        /// `pg_dump`, `pg_restore` or `psql`.
        program: &'static str,
        /// The server's major version.
        major: u32,
        /// Where we looked.
        looked: String,
    },
    /// The client found (or given) is not of the server's major version.
    #[error(
        "{program} is {found} but the server is PostgreSQL {major}; {}: an older pg_dump cannot dump a newer server, and a newer one writes settings an older server rejects on restore",
        where_to_get(*.major)
    )]
    ClientMismatch {
        /// The program's path.
        program: PathBuf,
        /// What `--version` said.
        found: String,
        /// The server's major version.
        major: u32,
    },
    /// A program could not be started.
    #[error("cannot run {program}")]
    Spawn {
        /// The program's path.
        program: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// pg_dump exited non-zero or was killed.
    #[error(
        "{program} failed ({status}) after writing {bytes} bytes; the partial file was removed and nothing was changed; its stderr: {stderr}"
    )]
    DumpFailed {
        /// The program's path.
        program: PathBuf,
        /// Its exit status.
        status: String,
        /// How much it wrote.
        bytes: u64,
        /// Its stderr (tail, password-free).
        stderr: String,
    },
    /// The dump did not finish in time.
    #[error(
        "{program} did not finish within {timeout:?} (wrote {bytes} bytes); it was killed, the partial file removed, nothing was changed; raise --backup-timeout if the database is that large"
    )]
    Timeout {
        /// The program's path.
        program: PathBuf,
        /// The limit.
        timeout: Duration,
        /// How much it wrote.
        bytes: u64,
    },
    /// Reading the archive whole with `pg_restore --file=/dev/null` failed.
    #[error(
        "verification failed: pg_restore could not read the archive {file} whole ({status}); it was removed and nothing was changed; its stderr: {stderr}"
    )]
    Verify {
        /// The archive.
        file: PathBuf,
        /// pg_restore's exit status.
        status: String,
        /// pg_restore's stderr.
        stderr: String,
    },
    /// A file system operation failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What we tried.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A manifest does not parse.
    #[error("the manifest {path} is not valid")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A file given to restore has no manifest beside it.
    #[error(
        "{file} has no manifest at {manifest}; only backups taken by schemagate (a .dump with its .dump.json) can be restored"
    )]
    NoManifest {
        /// The dump.
        file: PathBuf,
        /// Where its manifest should be.
        manifest: PathBuf,
    },
    /// The dump's checksum differs from its manifest.
    #[error(
        "{file} has sha256 {actual} but its manifest says {expected}: the file is damaged or was changed; refusing to restore it, nothing was changed"
    )]
    ChecksumMismatch {
        /// The dump.
        file: PathBuf,
        /// From the manifest.
        expected: String,
        /// Computed now.
        actual: String,
    },
    /// A query the backup needs failed.
    #[error("cannot {action}: {message}")]
    Query {
        /// What we asked.
        action: &'static str,
        /// The server's message.
        message: String,
    },
    /// The dump's size differs from its manifest's (told before reading it whole).
    #[error(
        "{file} is {actual} bytes but its manifest says {expected}: the file is damaged or was changed; refusing to restore it, nothing was changed"
    )]
    SizeMismatch {
        /// The dump.
        file: PathBuf,
        /// From the manifest.
        expected: u64,
        /// On disk.
        actual: u64,
    },
    /// A dump or manifest that is not a regular file of a sane size.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// Replaying the dump failed before its `COMMIT` was sent: the transaction was never
    /// committed.
    #[error(
        "restore of {file} failed and nothing was committed (its transaction was rolled back): the database is as it was before; {reason}"
    )]
    RestoreFailed {
        /// The dump.
        file: PathBuf,
        /// Which program failed, how, and its stderr (password-free).
        reason: String,
    },
    /// The connection went away while the `COMMIT` was on its way: the outcome is unknown.
    #[error(
        "restore of {file}: psql lost its connection after the COMMIT was sent, so the restore may or may not have been committed; `schemagate status` shows which schema version the database is at (the dump's is {schema_version}); psql: {stderr}"
    )]
    CommitUnknown {
        /// The dump.
        file: PathBuf,
        /// The dump's schema version.
        schema_version: i64,
        /// psql's stderr.
        stderr: String,
    },
    /// A signal arrived before the restore's `COMMIT` was sent.
    #[error("stopped by {signal} before the restore's COMMIT was sent: nothing was committed")]
    Stopped {
        /// The signal.
        signal: &'static str,
    },
}

impl BackupError {
    /// An [`BackupError::Io`] builder for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// The majors whose client the image carries (Dockerfile, `PG_CLIENTS=pgdg`).
const IMAGE_CLIENTS: std::ops::RangeInclusive<u32> = 14..=18;

/// Where the client of PostgreSQL `major` comes from, for the errors that need it: Debian's
/// and Ubuntu's own packages (where the release ships that major), PostgreSQL's own apt
/// repository (PGDG, every supported major for every release), the image, or a directory
/// given with `--pg-bin-dir`.
fn where_to_get(major: u32) -> String {
    let image = if IMAGE_CLIENTS.contains(&major) {
        "the schemagate image carries it".to_owned()
    } else {
        format!(
            "the schemagate image carries {} to {} only",
            IMAGE_CLIENTS.start(),
            IMAGE_CLIENTS.end()
        )
    };
    format!(
        "install the PostgreSQL {major} client: postgresql-client-{major} from Debian/Ubuntu \
         where the release ships {major}, else from PGDG (apt.postgresql.org); {image}; or \
         point --pg-bin-dir at its directory (--pg-dump at its pg_dump)"
    )
}
