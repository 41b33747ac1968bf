//! What can go wrong on a SQLite database, each with the file it concerns and what to do.

use std::path::PathBuf;

/// Opening, reading or changing a SQLite database failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SqliteError {
    /// `mode=rw` or `mode=ro` and the file is not there.
    #[error(
        "no SQLite database at {path} (mode={mode} opens an existing file only); check the path, or use mode=rwc to create it"
    )]
    Missing {
        /// The file.
        path: PathBuf,
        /// `rw` or `ro`.
        mode: &'static str,
    },
    /// The file is on a network file system, where SQLite's locks and ours are not safe.
    #[error(
        "{path} is on a network file system ({kind}): SQLite cannot be locked safely there, and concurrent writers corrupt it; keep the database on a local disk (see docs/engines.md)"
    )]
    NetworkFileSystem {
        /// The file.
        path: PathBuf,
        /// What kind (`NFS`, `SMB/CIFS`, …).
        kind: &'static str,
    },
    /// SQLite refused to open the file.
    #[error("cannot open the SQLite database {path}: {source}")]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A statement failed.
    #[error("cannot {action}: {source}")]
    Query {
        /// What was being done (`read refinery_schema_history`).
        action: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file beside the database could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl SqliteError {
    /// A [`SqliteError::Query`] maker for `map_err`.
    pub(crate) fn query(action: &'static str) -> impl Fn(rusqlite::Error) -> Self {
        move |source| Self::Query { action, source }
    }

    /// A [`SqliteError::Io`] maker for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}
