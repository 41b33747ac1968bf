//! The gate of DESIGN §1 — connect, lock, plan, lint, back up, migrate, verdict, unlock —
//! and the read-only `check` and `status`. Nothing here prints: [`Report`] says what was
//! done and the caller shows it.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::backups;
use super::baseline;
use super::builder::{Gate, stopped};
use super::error::{Error, Exit, ExitWith};
use super::lint;
use super::steps::execute_recorded;
use crate::backup;
use crate::db;
use crate::history::{Applied, HistoryError};
use crate::lock::{LockError, MigrationLock};
use crate::plan::{self, Plan, Step};
use crate::{audit, history};

/// What a gate run did, for the caller's output and metrics.
#[derive(Debug, Clone)]
pub struct Report {
    /// The plan it executed (or would have, on a dry run); with `no_migrate`, an empty plan
    /// at the version found.
    pub plan: Plan,
    /// How long it waited for the migration lock.
    pub lock_waited: Duration,
    /// Each executed step and its duration.
    pub durations: Vec<(Step, Duration)>,
    /// The backup taken before the first step, if one was.
    pub backup: Option<backup::Backup>,
    /// Whether a backup was due but skipped.
    pub backup_skipped: bool,
    /// How many times a step was retried after a DDL lock timeout.
    pub lock_retries: u64,
    /// The DDL limits it ran (or would run) with.
    pub limits: crate::ddl::Limits,
    /// Unwaived lint findings in the plan, logged as warnings (DESIGN §12).
    pub lint_findings: usize,
    /// Whether this was a dry run (nothing changed).
    pub dry_run: bool,
}

impl Gate {
    /// The gate: takes the migration lock, plans, lints, backs up, migrates to the
    /// window's target and judges the result; refusals change nothing. With the
    /// `no_migrate` service setting it only looks (no lock, no change). Records the lock
    /// wait, steps and backup in [`Gate::metrics`] and makes `/health` judge the result.
    ///
    /// ```no_run
    /// # async fn start(gate: schemagate::Gate) {
    /// match gate.run().await {
    ///     Ok(report) => println!("at schema {}", report.plan.target),
    ///     Err(error) => std::process::exit(error.exit().code().into()),
    /// }
    /// # }
    /// ```
    pub async fn run(&self) -> Result<Report, Error> {
        let report = if self.settings.service.no_migrate {
            self.look().await?
        } else {
            self.migrate().await?
        };
        self.gated(&report);
        Ok(report)
    }

    /// Lock, gate, unlock.
    async fn migrate(&self) -> Result<Report, Error> {
        let mut lock = self.acquire_lock().await?;
        let lock_waited = lock.waited();
        let result = self.gate_locked(&mut lock).await;
        release_lock(lock).await;
        let dry_run = self.settings.dry_run;
        result.map(|locked| Report {
            backup_skipped: self.settings.backup.skip && !dry_run && !locked.plan.is_empty(),
            plan: locked.plan,
            lock_waited,
            durations: locked.durations,
            backup: locked.backup,
            lock_retries: locked.lock_retries,
            limits: self.settings.limits,
            lint_findings: locked.lint_findings,
            dry_run,
        })
    }

    /// Connects and takes the migration lock (exit 4, 7 or 8).
    pub(crate) async fn acquire_lock(&self) -> Result<MigrationLock, Error> {
        let client = self.connect().await?;
        self.take_lock(client).await
    }

    /// Takes the migration lock on `client` (exit 7 when the lock timeout runs out, 8 on a
    /// stop).
    pub(crate) async fn take_lock(&self, client: Client) -> Result<MigrationLock, Error> {
        tokio::select! {
            acquired = MigrationLock::acquire(client, self.settings.lock_timeout) => acquired.map_err(|e| match e {
                LockError::Timeout { .. } => Error::new(Exit::LockTimeout, e),
                LockError::Query(ref source) if db::connection_lost(source) => Error::new(Exit::Unreachable, e),
                _ => Error::new(Exit::Internal, e),
            }),
            signal = self.stop.wait() => Err(stopped(signal, "while waiting for the migration lock", None)),
        }
    }

    /// The history, read without the lock: exit 4 when the database went away.
    pub(crate) async fn read_history(&self, client: &Client) -> Result<Vec<Applied>, Error> {
        history::read(client).await.map_err(read_failed)
    }

    /// `check`: the read-only verdict, without the lock; returns the schema version.
    pub async fn check(&self) -> Result<i64, Error> {
        let client = self.connect().await?;
        let applied = self.read_history(&client).await?;
        let catalogue = &self.release.catalogue;
        plan::check_history(catalogue, &applied).exit(Exit::Refused)?;
        let current = plan::current_version(&applied);
        plan::verdict(current, &self.release.compat.window, catalogue).exit(Exit::Refused)?;
        Ok(current)
    }

    /// `status`: the history and the newest audit entries.
    pub async fn status(&self) -> Result<(Vec<Applied>, Vec<audit::Recorded>), Error> {
        let client = self.connect().await?;
        let applied = self.read_history(&client).await?;
        let recent = audit::recent(&client, 5).await.exit(Exit::Internal)?;
        Ok((applied, recent))
    }

    /// `no_migrate`: read the schema without the lock and change nothing. A history that
    /// does not match the catalogue, or a schema above the window, is refused (exit 3);
    /// below the window is fine: the migration Job has not run yet.
    async fn look(&self) -> Result<Report, Error> {
        let client = self.connect().await?;
        let applied = self.read_history(&client).await?;
        let catalogue = &self.release.catalogue;
        plan::check_history(catalogue, &applied).exit(Exit::Refused)?;
        let current = plan::current_version(&applied);
        let window = &self.release.compat.window;
        if current > window.max {
            plan::verdict(current, window, catalogue).exit(Exit::Refused)?;
        }
        if current < window.min {
            tracing::warn!(
                schema = current,
                min = window.min,
                "schema below this release's window; unready until the migration Job has run (--no-migrate)"
            );
        }
        Ok(Report {
            plan: Plan::at(current),
            lock_waited: Duration::ZERO,
            durations: Vec::new(),
            backup: None,
            backup_skipped: false,
            lock_retries: 0,
            limits: self.settings.limits,
            lint_findings: 0,
            dry_run: true,
        })
    }

    /// The part of the gate that runs under the lock.
    async fn gate_locked(&self, lock: &mut MigrationLock) -> Result<Locked, Error> {
        let catalogue = &self.release.catalogue;
        let applied = self.read_history(lock.client()).await?;
        let adopted = baseline::adoption(self, lock, &applied).await?;
        let applied = match adopted {
            Some(version) => crate::baseline::rows(catalogue, version),
            None => applied,
        };
        let plan =
            plan::forward(catalogue, &applied, &self.release.compat.window).exit(Exit::Refused)?;
        // Before the backup and any change; a dry run refuses as the real run would.
        let lint_findings = lint::plan(self, &plan)?;
        let nothing = |plan| Locked {
            plan,
            durations: Vec::new(),
            backup: None,
            lock_retries: 0,
            lint_findings,
        };
        if self.settings.dry_run || (plan.is_empty() && adopted.is_none()) {
            return Ok(nothing(plan));
        }
        // Under the lock and before anything changes, the history table included (DESIGN §1.5).
        primary_only(lock.connection()).await?;
        let at = if adopted.is_some() { 0 } else { plan.current };
        let backup = backups::backup_before_change(self, lock, at).await?;
        if let Some(version) = adopted {
            baseline::record_baseline(self, lock, version, backup.as_ref()).await?;
        }
        let mut durations = Vec::with_capacity(plan.steps.len());
        let mut lock_retries = 0;
        if !plan.is_empty() {
            let started = Instant::now();
            let backup_file = backup.as_ref().map(|b| b.path.display().to_string());
            lock_retries = execute_recorded(
                self,
                lock,
                self.settings.limits,
                &plan,
                backup_file,
                &mut |step, took| durations.push((step.clone(), took)),
            )
            .await?;
            tracing::info!(took = ?started.elapsed(), from = plan.current, to = plan.target, "migrations done");
        }
        let current = history::current_version(lock.client())
            .await
            .map_err(read_failed)?;
        plan::verdict(current, &self.release.compat.window, catalogue).exit(Exit::Refused)?;
        Ok(Locked {
            plan,
            durations,
            backup,
            lock_retries,
            lint_findings,
        })
    }
}

/// Exit 6: the lock's session died while a child worked; nothing after `at` was applied.
fn lock_lost(error: LockError, at: i64) -> Error {
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

/// What [`Gate::gate_locked`] did.
struct Locked {
    plan: Plan,
    durations: Vec<(Step, Duration)>,
    backup: Option<backup::Backup>,
    lock_retries: u64,
    lint_findings: usize,
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
