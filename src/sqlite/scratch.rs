//! A scratch SQLite database: an empty file in a private temporary directory, migrated to
//! prove things (`verify`, `baseline --verify`) and always removed: by [`Scratch::remove`],
//! and by its drop on every other path (an error, a panic, a cancelled task). Only a
//! SIGKILL can leave one, in the system's temporary directory, named
//! `schemagate-scratch-*`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use super::connect::open;
use super::error::SqliteError;
use super::url::{Location, Mode};

/// The scratch database and its directory.
#[derive(Debug)]
pub(crate) struct Scratch {
    connection: Connection,
    path: PathBuf,
    dir: tempfile::TempDir,
}

impl Scratch {
    /// Creates an empty scratch database.
    pub(crate) fn create() -> Result<Self, SqliteError> {
        let temp = std::env::temp_dir();
        let dir = tempfile::Builder::new()
            .prefix("schemagate-scratch-")
            .tempdir()
            .map_err(SqliteError::io("create a scratch directory in", &temp))?;
        let path = dir.path().join("scratch.db");
        let location = Location {
            path: path.clone(),
            mode: Mode::Create,
        };
        let connection = open(&location, Duration::from_secs(5))?;
        Ok(Self {
            connection,
            path,
            dir,
        })
    }

    /// Its connection.
    pub(crate) fn connection(&mut self) -> &mut Connection {
        &mut self.connection
    }

    /// Its file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Closes and removes it; a failure is logged, never returned.
    pub(crate) fn remove(self) {
        let Self {
            connection, dir, ..
        } = self;
        drop(connection);
        let shown = dir.path().display().to_string();
        if let Err(error) = dir.close() {
            tracing::warn!(dir = shown, %error, "cannot remove the scratch database");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_database_is_usable_and_gone_after_remove_or_drop() {
        let mut scratch = Scratch::create().unwrap();
        scratch
            .connection()
            .execute_batch("CREATE TABLE t (x);")
            .unwrap();
        let dir = scratch.path().parent().unwrap().to_owned();
        assert!(scratch.path().exists());
        scratch.remove();
        assert!(!dir.exists());

        let scratch = Scratch::create().unwrap();
        let dir = scratch.path().parent().unwrap().to_owned();
        drop(scratch);
        assert!(!dir.exists());
    }
}
