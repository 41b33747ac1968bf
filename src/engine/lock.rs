//! [`Lock`]: the held migration lock, its session, and the long work done under it;
//! [`Scratch`]: a scratch database, always removed.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use super::{BackupRequest, Session};
use crate::backup::{Backup, RestoreOptions, RestorePlan};
use crate::gate::Error;
use crate::stop::Stop;

/// The held migration lock. Dropping it without [`Lock::release`] must free it too
/// (closing the connection, unlocking the file), so every path releases it.
#[async_trait]
pub(crate) trait Lock: Send + Sync {
    /// The lock's own session: the history, steps and audit of the change run on it.
    fn session(&self) -> &dyn Session;

    /// The same, to run steps and record rows.
    fn session_mut(&mut self) -> &mut dyn Session;

    /// How long acquiring took.
    fn waited(&self) -> Duration;

    /// Completes only when the lock is lost (its session died): the gate races long work
    /// against it (exit 6).
    async fn lost(&self) -> Error;

    /// Exit 4 when the lock was taken through something that makes it no lock (for
    /// PostgreSQL a transaction pooler); asked once before a change.
    async fn ensure_session(&self) -> Result<(), Error>;

    /// A verified backup of the locked database, its manifest beside it (exit 5; partial
    /// files removed on every path).
    async fn backup(&self, request: &BackupRequest<'_>) -> Result<Backup, Error>;

    /// Replays a checked backup over the locked database with the restore program found
    /// beside `tool`, all or nothing (exit 5; exit 8 when `stop` ends it before the commit,
    /// its `at` for the caller to fill; exit 4 when the commit's outcome is unknown).
    async fn restore(
        &self,
        plan: &RestorePlan,
        options: RestoreOptions,
        tool: Option<&Path>,
        stop: &Stop,
    ) -> Result<(), Error>;

    /// Releases the lock.
    async fn release(self: Box<Self>) -> Result<(), Error>;
}

/// How to wait for the lock.
pub(crate) struct LockWait<'a> {
    /// Exit 7 after this long.
    pub(crate) timeout: Duration,
    /// Told who holds the lock, at once and then every so often while waiting.
    pub(crate) waiting: &'a mut (dyn FnMut(&str) + Send),
}

/// A scratch database: migrated to prove things, always removed.
#[async_trait]
pub(crate) trait Scratch: Send + Sync {
    /// Its name, as the log shows it (an operator drops it by hand if removing it fails).
    fn name(&self) -> &str;

    /// A session on it.
    fn session_mut(&mut self) -> &mut dyn Session;

    /// Drops it; a failure is logged with the advice to drop it by hand.
    async fn remove(self: Box<Self>);
}
