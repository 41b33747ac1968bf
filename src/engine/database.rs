//! [`Engine`]: one database URL, and what needs no open session or opens its own.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Grammar, Pool, Scratch, Session};
use crate::gate::Error;

/// One engine for one database URL (built by [`super::open`]; connects to nothing until
/// asked).
#[async_trait]
pub(crate) trait Engine: Send + Sync {
    /// `postgresql`, `sqlite` or `mysql`: the engine as `/health` and manifests name it.
    fn name(&self) -> &'static str;

    /// What its backups are, as a plan says it will take one: `pg_dump`, …
    fn backup_kind(&self) -> &'static str;

    /// A new session, retried until the connect timeout (exit 4; a bad URL exit 2).
    async fn connect(&self) -> Result<Box<dyn Session>, Error>;

    /// An empty scratch database beside this one (`verify`, `baseline --verify`), which
    /// the caller always removes (exit 2 when the engine refuses to make one).
    async fn scratch(&self) -> Result<Box<dyn Scratch>, Error>;

    /// A pool of at most `size` connections for the background refresh, each wait and
    /// connect giving up after `timeout`; connects to nothing yet.
    fn pool(&self, timeout: Duration, size: usize) -> Result<Arc<dyn Pool>, Error>;

    /// The engine's own reading of SQL.
    fn grammar(&self) -> &'static dyn Grammar;
}

/// What a backup needs besides the lock's session.
#[derive(Debug, Clone)]
pub(crate) struct BackupRequest<'a> {
    /// The backup directory (created 0700 when missing).
    pub(crate) dir: &'a Path,
    /// The release taking it, for the manifest (`v1.4.0`).
    pub(crate) app_version: String,
    /// The schema version now, for the file's name and the manifest.
    pub(crate) schema_version: i64,
    /// The dump program given on the command line (`--pg-dump`), if any.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "mysql")),
        expect(dead_code, reason = "SQLite's backup runs no program")
    )]
    pub(crate) tool: Option<&'a Path>,
    /// Kill the dump after this long.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "mysql")),
        expect(dead_code, reason = "SQLite's backup runs no program")
    )]
    pub(crate) timeout: Duration,
    /// Load the dump into a scratch database before keeping it (`--verify-restore`; the
    /// engines whose check reads the whole backup already, PostgreSQL's and SQLite's, need
    /// no more).
    #[cfg_attr(
        not(feature = "mysql"),
        expect(dead_code, reason = "only MariaDB's backups are loaded to be verified")
    )]
    pub(crate) verify_restore: bool,
}
