//! What every change does under the migration lock, shared by the gate and the other
//! commands: taking and releasing the lock, refusing a standby, guarding long work against
//! a lost lock or a stop, and recording the change in the audit trail.

use std::time::Instant;

use super::builder::{Gate, stopped};
use super::error::{Error, Exit};
use crate::applied::Applied;
use crate::audit;
use crate::engine::{Lock, LockWait, Session};
use crate::fleet::{self, Admission, FleetError};

impl Gate {
    /// Connects and takes the migration lock (exit 4, 7 or 8).
    pub(crate) async fn acquire_lock(&self) -> Result<Box<dyn Lock>, Error> {
        let session = self.connect().await?;
        self.take_lock(session).await
    }

    /// Takes the migration lock on `session` (exit 7 when the lock timeout runs out, 8 on
    /// a stop).
    pub(crate) async fn take_lock(
        &self,
        session: Box<dyn Session>,
    ) -> Result<Box<dyn Lock>, Error> {
        let mut waiting = |holder: &str| {
            self.waiting(&format!("waiting for the migration lock held by {holder}"));
        };
        let wait = LockWait {
            timeout: self.settings.lock_timeout,
            waiting: &mut waiting,
        };
        tokio::select! {
            acquired = session.lock(wait) => acquired,
            signal = self.stop.wait() => Err(stopped(signal, "while waiting for the migration lock", None)),
        }
    }

    /// The fleet's verdict on `change` (under the lock, before the backup; DESIGN §14): the
    /// live replicas, and `Ok` with the verdict to report, or the refusal (exit 3); a dry
    /// run gets the refusal as its verdict, to show it beside the others. With
    /// `--ignore-fleet` a refusal is a warning, and the verdict says so for the audit row.
    pub(crate) async fn admission(
        &self,
        session: &dyn Session,
        change: fleet::Change,
    ) -> Result<(Vec<fleet::Replica>, Verdict), Error> {
        let live = session.live().await?;
        let verdict = match fleet::admit(change, &self.release.compat, &live) {
            Admission::Refused(refusal) if self.settings.fleet.ignore => {
                tracing::warn!(%refusal, "--ignore-fleet: changing the schema although live replicas of another release will fail");
                Verdict::Overridden(refusal.overridden())
            }
            Admission::Refused(refusal) if !self.settings.dry_run => {
                return Err(Error::new(Exit::Refused, refusal));
            }
            Admission::Refused(refusal) => Verdict::Refused(refusal),
            admission => Verdict::Judged(admission.to_string()),
        };
        Ok((live, verdict))
    }

    /// The history, read without the lock: exit 4 when the database went away.
    pub(crate) async fn read_history(&self, session: &dyn Session) -> Result<Vec<Applied>, Error> {
        session.applied().await
    }
}

/// What admission let through.
pub(crate) enum Verdict {
    /// Admitted: the verdict as shown.
    Judged(String),
    /// Refused, overridden by `--ignore-fleet`: the note for the audit row.
    Overridden(String),
    /// Refused, on a dry run: the real run would exit 3 with it.
    Refused(fleet::Refusal),
}

impl Verdict {
    /// The verdict as `plan` shows it.
    pub(crate) fn shown(&self) -> String {
        match self {
            Verdict::Judged(text) | Verdict::Overridden(text) => text.clone(),
            Verdict::Refused(refusal) => format!("refused by the fleet: {}", refusal.blocking()),
        }
    }

    /// What the audit row adds after `ok`.
    pub(crate) fn note(&self) -> Option<&str> {
        match self {
            Verdict::Judged(_) | Verdict::Refused(_) => None,
            Verdict::Overridden(note) => Some(note),
        }
    }

    /// The refusal a dry run met, as the real run's error (exit 3).
    pub(crate) fn refusal(&self) -> Result<(), Error> {
        match self {
            Verdict::Refused(refusal) => Err(Error::new(Exit::Refused, refusal.clone())),
            _ => Ok(()),
        }
    }

    /// The audit outcome of a change that succeeded: `ok` (the audit-derived counters
    /// match on it), then what was overridden, if anything.
    pub(crate) fn outcome(&self, ok: String) -> String {
        match self.note() {
            Some(note) => format!("{ok}; {note}"),
            None => ok,
        }
    }
}

/// The fleet's refusal (exit 3), or another failure of the fleet (exit 1).
impl From<FleetError> for Error {
    fn from(error: FleetError) -> Self {
        let exit = if error.is_refusal() {
            Exit::Refused
        } else {
            Exit::Internal
        };
        Error::new(exit, error)
    }
}

/// The change a fleet refusal refused, when `error` is one.
pub(crate) fn refused_by_fleet(error: &Error) -> Option<fleet::Change> {
    match error {
        Error::Refused(cause) => cause
            .downcast_ref::<fleet::Refusal>()
            .map(|refusal| refusal.change),
        _ => None,
    }
}

/// Exit 6: the lock's session died while a child worked; nothing after `at` was applied.
pub(crate) fn lock_lost(error: Error, at: i64) -> Error {
    Error::new(Exit::StepFailed, LockLost { error, at })
}

/// The lock's session died under a long step.
#[derive(Debug, thiserror::Error)]
#[error("{error}; nothing after version {at} was applied; run again")]
struct LockLost {
    #[source]
    error: Error,
    at: i64,
}

/// What every change asks under the lock before its backup: the writable primary (exit 3
/// on a standby), reached through a session (for PostgreSQL, exit 4 behind a transaction
/// pooler). The no-op gate and dry runs never ask.
pub(crate) async fn writable_session(lock: &dyn Lock) -> Result<(), Error> {
    lock.session().writable_primary().await?;
    lock.ensure_session().await
}

/// Releases the lock; if that fails, closing the connection frees it anyway.
pub(crate) async fn release_lock(lock: Box<dyn Lock>) {
    if let Err(error) = lock.release().await {
        tracing::warn!(%error, "releasing the migration lock failed; it is freed when the connection closes");
    }
}

/// Runs `work` under the held lock: exit 6 when the lock's session dies meanwhile, exit 8
/// on a signal (`work` is dropped either way, which kills its child process and removes its
/// partial files). `what` names the work for the message; `at` is the schema version.
pub(crate) async fn guarded<T>(
    gate: &Gate,
    lock: &dyn Lock,
    what: &str,
    at: i64,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::select! {
        done = work => done,
        lost = lock.lost() => Err(lock_lost(lost, at)),
        signal = gate.stop.wait() => Err(stopped(signal, what, Some(at))),
    }
}

/// A change to record in the audit trail, by the release running.
pub(crate) struct Change {
    /// `migrate`, `rollback`, `restore`, `baseline` or `adopt`.
    pub(crate) action: &'static str,
    /// Schema version before and after (the last committed one, on failure).
    pub(crate) from: i64,
    pub(crate) to: i64,
    /// When it started.
    pub(crate) started: Instant,
    /// The backup taken before it.
    pub(crate) backup_file: Option<String>,
    /// `ok`, or what happened.
    pub(crate) outcome: String,
}

impl Change {
    /// The audit entry of this change by the gate's release.
    pub(crate) fn entry(self, gate: &Gate) -> audit::Entry {
        audit::Entry {
            action: self.action,
            app_version: gate.release.compat.tag(),
            from: self.from,
            to: self.to,
            duration: self.started.elapsed(),
            backup_file: self.backup_file,
            outcome: self.outcome,
        }
    }
}

/// Records a change that was made: a failure to record is logged, not fatal, since the
/// change itself is committed.
pub(crate) async fn record(session: &dyn Session, entry: &audit::Entry) {
    if let Err(error) = session.record_audit(entry).await {
        tracing::warn!(%error, "the change was made but could not be recorded in the audit trail");
    }
}
