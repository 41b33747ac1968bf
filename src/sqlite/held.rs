//! [`SqliteLock`]: the held `flock` ([`super::lock::FileLock`]) with the session the
//! change runs on, as the seam's [`Lock`]; the backup and restore run under it.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use super::backup::{self, Request};
use super::lock::{FileLock, FileLockError};
use super::restore;
use super::session::SqliteSession;
use super::url::Mode;
use super::writable::NotWritable;
use crate::backup::{Backup, RestoreOptions, RestorePlan};
use crate::engine::{BackupRequest, Lock, LockWait, Session};
use crate::gate::{Error, Exit};
use crate::stop::Stop;

/// The migration lock, held, and its session.
pub(crate) struct SqliteLock {
    session: SqliteSession,
    file: FileLock,
}

impl SqliteLock {
    /// Takes the lock beside the session's database. A database opened `mode=ro` takes no
    /// lock: it can take no change (exit 3), and its directory may be read-only.
    pub(crate) async fn acquire(session: SqliteSession, wait: LockWait<'_>) -> Result<Self, Error> {
        let location = session.database.location();
        if location.mode == Mode::ReadOnly {
            return Err(Error::new(
                Exit::Refused,
                NotWritable::ReadOnlyMode {
                    location: location.to_string(),
                },
            ));
        }
        let file = FileLock::acquire(&location.path, wait.timeout, wait.waiting)
            .await
            .map_err(|error| {
                let exit = match error {
                    FileLockError::Timeout { .. } => Exit::LockTimeout,
                    FileLockError::File { .. } => Exit::Refused,
                };
                Error::new(exit, error)
            })?;
        session
            .database
            .create_file()
            .await
            .map_err(super::engine::open_failed)?;
        Ok(Self { session, file })
    }
}

#[async_trait]
impl Lock for SqliteLock {
    fn session(&self) -> &dyn Session {
        &self.session
    }

    fn session_mut(&mut self) -> &mut dyn Session {
        &mut self.session
    }

    fn waited(&self) -> Duration {
        self.file.waited()
    }

    async fn lost(&self) -> Error {
        // A held flock is the process's until it closes the file or dies: it cannot be
        // lost while the gate runs.
        std::future::pending().await
    }

    async fn ensure_session(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn backup(&self, request: &BackupRequest<'_>) -> Result<Backup, Error> {
        let path = self.session.path().to_owned();
        let dir = request.dir.to_owned();
        let (app_version, schema_version) = (request.app_version.clone(), request.schema_version);
        self.session
            .database
            .call(move |c| {
                let request = Request {
                    dir: &dir,
                    app_version,
                    schema_version,
                };
                backup::take(c, &path, &request)
            })
            .await
            .map_err(|e| Error::new(Exit::BackupFailed, e))
    }

    async fn restore(
        &self,
        plan: &RestorePlan,
        _options: RestoreOptions,
        _tool: Option<&Path>,
        _stop: &Stop,
    ) -> Result<(), Error> {
        let path = self.session.path().to_owned();
        let backup = plan.backup.clone();
        self.session
            .database
            .call(move |c| restore::restore(c, &path, &backup))
            .await
            .map_err(|error| {
                // Refused before the copy began: nothing changed; else the copy failed.
                let exit = match error {
                    restore::RestoreError::Sqlite { .. } => Exit::StepFailed,
                    _ => Exit::BackupFailed,
                };
                Error::new(exit, error)
            })
    }

    async fn release(self: Box<Self>) -> Result<(), Error> {
        self.file
            .release()
            .map_err(|e| Error::new(Exit::Internal, e))
    }
}
