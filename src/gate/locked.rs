//! What every change does under the migration lock, shared by the gate and the other
//! commands: taking and releasing the lock, refusing a standby, guarding long work against
//! a lost lock or a stop, and recording the change in the audit trail.

use std::time::Instant;

use tokio_postgres::Client;

use super::builder::{Gate, stopped};
use super::error::{Error, Exit};
use crate::audit;
use crate::db;
use crate::fleet::{self, Admission, FleetError};
use crate::history;
use crate::history::{Applied, HistoryError};
use crate::lock::{LockError, MigrationLock, Reconnect};

impl Gate {
    /// Connects and takes the migration lock (exit 4, 7 or 8).
    pub(crate) async fn acquire_lock(&self) -> Result<MigrationLock, Error> {
        let client = self.connect().await?;
        self.take_lock(client).await
    }

    /// Takes the migration lock on `client` (exit 7 when the lock timeout runs out, 8 on a
    /// stop).
    pub(crate) async fn take_lock(&self, client: Client) -> Result<MigrationLock, Error> {
        let mut waiting = |holder: &str| {
            self.waiting(&format!("waiting for the migration lock held by {holder}"));
        };
        let reconnect = Reconnect {
            connection: self.url()?,
            application_name: &self.application_name,
            timeout: self.settings.connect_timeout,
        };
        tokio::select! {
            acquired = MigrationLock::acquire(client, self.settings.lock_timeout, &reconnect, &mut waiting) => acquired.map_err(|e| match e {
                LockError::Timeout { .. } => Error::new(Exit::LockTimeout, e),
                LockError::Query(ref source) if db::connection_lost(source) => Error::new(Exit::Unreachable, e),
                LockError::Reconnect(_) => Error::new(Exit::Unreachable, e),
                _ => Error::new(Exit::Internal, e),
            }),
            signal = self.stop.wait() => Err(stopped(signal, "while waiting for the migration lock", None)),
        }
    }

    /// The fleet's verdict on `change` (under the lock, before the backup; DESIGN §14): the
    /// live replicas, and `Ok` with the verdict to report, or the refusal (exit 3); a dry
    /// run gets the refusal as its verdict, to show it beside the others. With
    /// `--ignore-fleet` a refusal is a warning, and the verdict says so for the audit row.
    pub(crate) async fn admission(
        &self,
        client: &Client,
        change: fleet::Change,
    ) -> Result<(Vec<fleet::Replica>, Verdict), Error> {
        let live = fleet::live(client).await.map_err(fleet_failed)?;
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
    pub(crate) async fn read_history(&self, client: &Client) -> Result<Vec<Applied>, Error> {
        history::read(client).await.map_err(read_failed)
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

/// A fleet read that failed (exit 4 when the database went away, else 1), or its refusal
/// (exit 3).
pub(crate) fn fleet_failed(error: FleetError) -> Error {
    let exit = match &error {
        e if e.is_refusal() => Exit::Refused,
        FleetError::Query { source, .. } if db::connection_lost(source) => Exit::Unreachable,
        _ => Exit::Internal,
    };
    Error::new(exit, error)
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
pub(crate) fn lock_lost(error: LockError, at: i64) -> Error {
    Error::new(Exit::StepFailed, LockLost { error, at })
}

/// The lock's session died under a long step.
#[derive(Debug, thiserror::Error)]
#[error("{error}; nothing after version {at} was applied; run again")]
struct LockLost {
    #[source]
    error: LockError,
    at: i64,
}

/// Refuses to change a server in recovery (exit 3): its writes would fail half-way through
/// the plan, after the backup, and the primary is where the schema lives. Asked only when
/// there is something to change, so the no-op gate pays nothing for it.
pub(crate) async fn primary_only(client: &Client) -> Result<(), Error> {
    let in_recovery: bool = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(|source| {
            let exit = if db::connection_lost(&source) {
                Exit::Unreachable
            } else {
                Exit::Internal
            };
            Error::new(exit, Recovery::Unknown { source })
        })?
        .get(0);
    if in_recovery {
        return Err(Error::new(Exit::Refused, Recovery::Standby));
    }
    Ok(())
}

/// Whether the server can take the change.
#[derive(Debug, thiserror::Error)]
enum Recovery {
    /// `pg_is_in_recovery()` could not be asked.
    #[error("cannot ask the server whether it is a standby: {}", db::describe(.source))]
    Unknown {
        #[source]
        source: tokio_postgres::Error,
    },
    /// It is a standby.
    #[error(
        "this server is a standby (in recovery): nothing was changed; point schemagate at the primary (with several hosts, add target_session_attrs=read-write to the URL)"
    )]
    Standby,
}

/// Reading the history failed: exit 4 when the database went away, else 1.
pub(crate) fn read_failed(error: HistoryError) -> Error {
    let exit = if error.connection_lost() {
        Exit::Unreachable
    } else {
        Exit::Internal
    };
    Error::new(exit, error)
}

/// Releases the lock; if that fails, closing the connection frees it anyway.
pub(crate) async fn release_lock(lock: MigrationLock) {
    if let Err(error) = lock.release().await {
        tracing::warn!(%error, "releasing the migration lock failed; it is freed when the connection closes");
    }
}

/// Runs `work` under the held lock: exit 6 when the lock's session dies meanwhile, exit 8
/// on a signal (`work` is dropped either way, which kills its child process and removes its
/// partial files). `what` names the work for the message; `at` is the schema version.
pub(crate) async fn guarded<T>(
    gate: &Gate,
    lock: &MigrationLock,
    what: &str,
    at: i64,
    work: impl std::future::Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::select! {
        done = lock.hold_while(work) => done.map_err(|lost| lock_lost(lost, at))?,
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
pub(crate) async fn record(client: &Client, entry: &audit::Entry) {
    let recorded = match audit::ensure_table(client).await {
        Ok(()) => audit::record(client, entry).await,
        Err(error) => Err(error),
    };
    if let Err(error) = recorded {
        tracing::warn!(%error, "the change was made but could not be recorded in the audit trail");
    }
}
