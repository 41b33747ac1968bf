//! The SQLite wing behind the seam ([`crate::engine`]): one [`SqliteEngine`] per
//! `sqlite:` URL, its sessions, the held lock, the scratch database, the refresh's pool
//! and SQLite's grammar, each a thin layer over the wing's parts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::connect::Database;
use super::error::SqliteError;
use super::session::SqliteSession;
use super::url::{self, Location};
use crate::engine::{Context, Engine, Grammar, Pool, Scratch, Session};
use crate::gate::{Error, Exit};

/// A SQLite database file, as its URL names it.
pub(crate) struct SqliteEngine {
    location: Location,
    busy: Duration,
}

/// The engine of a `sqlite:` URL (exit 2 when the URL cannot be used).
pub(crate) fn engine(url: &str, context: &Context) -> Result<Arc<dyn Engine>, Error> {
    let location = url::parse(url).map_err(|e| Error::new(Exit::Usage, e))?;
    Ok(Arc::new(SqliteEngine {
        location,
        busy: context.connect_timeout,
    }))
}

/// The exit code of a failure to open the database: a missing file (`mode=rw`) or a
/// network file system is the configuration's (2), a file SQLite cannot open is
/// unreachable (4).
pub(crate) fn open_failed(error: SqliteError) -> Error {
    let exit = match error {
        SqliteError::Missing { .. } | SqliteError::NetworkFileSystem { .. } => Exit::Usage,
        _ => Exit::Unreachable,
    };
    Error::new(exit, error)
}

#[async_trait]
impl Engine for SqliteEngine {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn backup_kind(&self) -> &'static str {
        "copy (SQLite's online backup)"
    }

    async fn connect(&self) -> Result<Box<dyn Session>, Error> {
        let database = Database::open(self.location.clone(), self.busy)
            .await
            .map_err(open_failed)?;
        Ok(Box::new(SqliteSession::new(database)))
    }

    async fn scratch(&self) -> Result<Box<dyn Scratch>, Error> {
        super::scratch::SqliteScratch::create()
            .await
            .map(|s| Box::new(s) as Box<dyn Scratch>)
    }

    fn pool(&self, _timeout: Duration, _size: usize) -> Result<Arc<dyn Pool>, Error> {
        Ok(Arc::new(super::pool::SqlitePool::new(
            self.location.clone(),
            self.busy,
        )))
    }

    fn grammar(&self) -> &'static dyn Grammar {
        &super::grammar::SQLITE_GRAMMAR
    }
}
