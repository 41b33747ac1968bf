//! The held advisory lock ([`crate::postgres::lock::MigrationLock`]) as the seam's [`Lock`]: its
//! session, the pooler check, and the backup and restore run under it.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use super::backup;
use crate::backup::{Backup, BackupError, RestoreOptions, RestorePlan};
use crate::engine::{BackupRequest, Lock, Session};
use crate::gate::{Error, Exit, Stopped};
use crate::postgres::lock::MigrationLock;
use crate::postgres::pooler;
use crate::stop::Stop;

#[async_trait]
impl Lock for MigrationLock {
    fn session(&self) -> &dyn Session {
        &self.session
    }

    fn session_mut(&mut self) -> &mut dyn Session {
        &mut self.session
    }

    fn waited(&self) -> Duration {
        MigrationLock::waited(self)
    }

    async fn lost(&self) -> Error {
        Error::new(Exit::StepFailed, MigrationLock::lost(self).await)
    }

    /// Refuses (exit 4) when the lock's connection goes through a transaction pooler, where
    /// the lock protects nothing: the URL has to change, as for a server that cannot be
    /// reached. Costs a second connection, so it is asked only before a change.
    async fn ensure_session(&self) -> Result<(), Error> {
        let probe = self.session.target.connect().await?;
        let pid = self.session.pid.unwrap_or_default();
        pooler::ensure_session(&self.session.client, pid, &probe.client)
            .await
            .map_err(|error| {
                let exit = match &error {
                    pooler::PoolerError::Query(_) if !error.connection_lost() => Exit::Internal,
                    _ => Exit::Unreachable,
                };
                Error::new(exit, error)
            })
    }

    async fn backup(&self, request: &BackupRequest<'_>) -> Result<Backup, Error> {
        backup::take(&self.session.backup_request(request))
            .await
            .map_err(|e| Error::new(Exit::BackupFailed, e))
    }

    async fn restore(
        &self,
        plan: &RestorePlan,
        options: RestoreOptions,
        tool: Option<&Path>,
        stop: &Stop,
    ) -> Result<(), Error> {
        let target = &self.session.target;
        backup::restore(
            plan,
            options,
            &target.connection,
            &target.application_name,
            tool,
            stop,
        )
        .await
        .map_err(restore_failed)
    }

    async fn release(self: Box<Self>) -> Result<(), Error> {
        MigrationLock::release(*self)
            .await
            .map_err(|e| Error::new(Exit::Internal, e))
    }
}

/// A replay that did not commit: exit 8 on a stop, 4 when the connection went away at the
/// commit (its outcome unknown), else 5; the database is as it was, but in the unknown case.
fn restore_failed(error: BackupError) -> Error {
    match error {
        BackupError::Stopped { signal } => Error::Stopped(Stopped {
            signal,
            when: "during the restore, before its COMMIT was sent: nothing was committed"
                .to_owned(),
            at: None,
        }),
        BackupError::CommitUnknown { .. } => Error::new(Exit::Unreachable, error),
        _ => Error::new(Exit::BackupFailed, error),
    }
}
