//! The held migration lock ([`super::lock`]) as the seam's [`Lock`]: the session holding
//! it (the change runs on it), a watcher noticing when that session dies, and the backup
//! taken under it.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use mysql_async::Conn;

use super::lock::{self, Held, LockError};
use super::session::MysqlSession;
use crate::backup::{Backup, RestoreOptions, RestorePlan};
use crate::engine::{BackupRequest, Lock, LockWait, Session};
use crate::gate::{Error, Exit};
use crate::stop::Stop;

/// How often the watcher asks whether the lock is still held.
const WATCH_EVERY: Duration = Duration::from_secs(2);

/// The lock and the session holding it.
pub(crate) struct MysqlLock {
    session: MysqlSession,
    held: Held,
    /// The last backup taken under it: before a restore, the one that undoes it.
    taken: Mutex<Option<PathBuf>>,
}

/// The lock was lost: its session died (the server restarted, the connection was killed).
#[derive(Debug, thiserror::Error)]
#[error("the migration lock {name:?} was lost: its session ended ({reason})")]
struct LockLost {
    name: String,
    reason: String,
}

impl MysqlLock {
    /// Takes the lock on `session`.
    pub(crate) async fn acquire(session: MysqlSession, wait: LockWait<'_>) -> Result<Self, Error> {
        let held = {
            let mut conn = session.conn.lock().await;
            lock::acquire(
                &mut conn,
                &session.options.database,
                wait.timeout,
                wait.waiting,
            )
            .await
            .map_err(lock_failed)?
        };
        Ok(Self {
            session,
            held,
            taken: Mutex::new(None),
        })
    }
}

/// Exit 7 when the wait ran out, 4 when the connection went away, else 1.
fn lock_failed(error: LockError) -> Error {
    let exit = match &error {
        LockError::Timeout { .. } => Exit::LockTimeout,
        LockError::Query {
            connection_lost: true,
            ..
        } => Exit::Unreachable,
        LockError::Query { .. } => Exit::Internal,
    };
    Error::new(exit, error)
}

#[async_trait]
impl Lock for MysqlLock {
    fn session(&self) -> &dyn Session {
        &self.session
    }

    fn session_mut(&mut self) -> &mut dyn Session {
        &mut self.session
    }

    fn waited(&self) -> Duration {
        self.held.waited
    }

    /// Asks from a session of its own (the lock's runs the change) every two seconds
    /// whether the lock still belongs to the lock's session.
    async fn lost(&self) -> Error {
        let mut watcher: Option<Conn> = None;
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            if watcher.is_none() {
                watcher = super::connect::connect(&self.session.options, WATCH_EVERY * 5)
                    .await
                    .ok();
            }
            let Some(conn) = watcher.as_mut() else {
                continue;
            };
            match self.held.still_held(conn).await {
                Ok(true) => {}
                Ok(false) => {
                    return Error::new(
                        Exit::StepFailed,
                        LockLost {
                            name: self.held.name.clone(),
                            reason: "another session may take it now".into(),
                        },
                    );
                }
                Err(_) => watcher = None,
            }
        }
    }

    /// Nothing stands between schemagate and MariaDB that would share the lock's session.
    async fn ensure_session(&self) -> Result<(), Error> {
        Ok(())
    }

    async fn backup(&self, request: &BackupRequest<'_>) -> Result<Backup, Error> {
        let mut conn = self.session.conn.lock().await;
        let backup = super::dump::take(&mut conn, &self.session.dump_request(request))
            .await
            .map_err(|e| Error::new(Exit::BackupFailed, e))?;
        *self
            .taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(backup.path.clone());
        Ok(backup)
    }

    /// Drops the database's objects (but schemagate's own tables) and loads the dump with
    /// the client: not one transaction (DDL commits by itself), so a stop is not heeded
    /// once it started, and a failure leaves the database part-loaded and refused until a
    /// restore finishes (exit 6, naming the backup taken before it).
    async fn restore(
        &self,
        plan: &RestorePlan,
        _options: RestoreOptions,
        _tool: Option<&Path>,
        _stop: &Stop,
    ) -> Result<(), Error> {
        let undo = self
            .taken
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut conn = self.session.conn.lock().await;
        super::restore::restore(
            &mut conn,
            &self.session.options,
            &plan.backup,
            undo.as_deref(),
        )
        .await
        .map_err(|e| {
            let exit = match &e {
                super::restore::LoadError::Damaged { .. } => Exit::BackupFailed,
                _ => Exit::StepFailed,
            };
            Error::new(exit, e)
        })
    }

    async fn release(self: Box<Self>) -> Result<(), Error> {
        let Self { session, held, .. } = *self;
        let mut conn = session.conn.into_inner();
        held.release(&mut conn).await.map_err(lock_failed)?;
        conn.disconnect().await.map_err(|e| {
            Error::new(
                Exit::Internal,
                LockLost {
                    name: held.name.clone(),
                    reason: super::error::describe(&e),
                },
            )
        })
    }
}
