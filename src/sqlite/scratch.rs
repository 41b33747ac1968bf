//! A scratch SQLite database: an empty file in a private temporary directory, migrated to
//! prove things (`verify`, `baseline --verify`) and always removed: by
//! [`Scratch::remove`], and by the directory's drop on every other path (an error, a
//! panic, a cancelled task). Only a SIGKILL can leave one, in the system's temporary
//! directory, named `schemagate-scratch-*`.

use std::time::Duration;

use async_trait::async_trait;

use super::connect::Database;
use super::error::SqliteError;
use super::session::SqliteSession;
use super::url::{Location, Mode};
use crate::engine::{Scratch, Session};
use crate::gate::{Error, Exit};

/// The scratch database, its session and its directory.
pub(crate) struct SqliteScratch {
    session: SqliteSession,
    name: String,
    dir: tempfile::TempDir,
}

impl SqliteScratch {
    /// Creates an empty scratch database.
    pub(crate) async fn create() -> Result<Self, Error> {
        let temp = std::env::temp_dir();
        let dir = tempfile::Builder::new()
            .prefix("schemagate-scratch-")
            .tempdir()
            .map_err(SqliteError::io("create a scratch directory in", &temp))
            .map_err(|e| Error::new(Exit::Usage, e))?;
        let location = Location {
            path: dir.path().join("scratch.db"),
            mode: Mode::Create,
        };
        let name = location.path.display().to_string();
        let database = Database::open(location, Duration::from_secs(5))
            .await
            .map_err(|e| Error::new(Exit::Usage, e))?;
        database
            .create_file()
            .await
            .map_err(|e| Error::new(Exit::Usage, e))?;
        Ok(Self {
            session: SqliteSession::new(database),
            name,
            dir,
        })
    }
}

#[async_trait]
impl Scratch for SqliteScratch {
    fn name(&self) -> &str {
        &self.name
    }

    fn session_mut(&mut self) -> &mut dyn Session {
        &mut self.session
    }

    async fn remove(self: Box<Self>) {
        let Self { session, dir, .. } = *self;
        drop(session);
        let shown = dir.path().display().to_string();
        if let Err(error) = tokio::task::spawn_blocking(move || dir.close())
            .await
            .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
        {
            tracing::warn!(dir = shown, %error, "cannot remove the scratch database; remove it by hand");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scratch_database_is_usable_and_gone_after_remove_or_drop() {
        let mut scratch = SqliteScratch::create().await.unwrap();
        scratch.session_mut().ensure_history().await.unwrap();
        assert_eq!(scratch.session_mut().current_version().await.unwrap(), 0);
        let dir = std::path::PathBuf::from(scratch.name())
            .parent()
            .unwrap()
            .to_owned();
        assert!(dir.join("scratch.db").exists());
        Box::new(scratch).remove().await;
        assert!(!dir.exists());

        let scratch = SqliteScratch::create().await.unwrap();
        let dir = std::path::PathBuf::from(scratch.name())
            .parent()
            .unwrap()
            .to_owned();
        drop(scratch);
        assert!(!dir.exists());
    }
}
