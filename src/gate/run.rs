//! The gate of DESIGN §1 — connect, lock, plan, lint, back up, migrate, verdict, unlock —
//! and the read-only `check` and `status`. Nothing here prints: [`Report`] says what was
//! done and the caller shows it.

use std::time::{Duration, Instant};

use super::backups;
use super::baseline;
use super::builder::Gate;
use super::builder::stopped;
use super::error::{Error, Exit, ExitWith};
use super::lint;
use super::locked::{fleet_failed, primary_only, read_failed, release_lock};
use super::steps::{Recorded, execute_recorded};
use crate::backup;
use crate::fleet;
use crate::history::Applied;
use crate::lock::MigrationLock;
pub use crate::migrate::Report;
use crate::plan::{self, Plan, Step};
use crate::{audit, history};

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

    /// Lock, gate, unlock; while the fleet refuses the change and `--fleet-wait` has time
    /// left, wait for it without the lock (replicas starting meanwhile must not time out on
    /// it), then gate again: another instance may have moved the schema meanwhile.
    pub(crate) async fn migrate(&self) -> Result<Report, Error> {
        let deadline = Instant::now() + self.settings.fleet.wait;
        loop {
            let refused = match self.migrate_once().await {
                Err(error) => match super::locked::refused_by_fleet(&error) {
                    Some(change) if Instant::now() < deadline => change,
                    _ => return Err(error),
                },
                done => return done,
            };
            let left = deadline.saturating_duration_since(Instant::now());
            self.wait_for_fleet(refused, left).await?;
        }
    }

    /// Waits (without the lock) until the fleet admits `change` or `timeout` runs out
    /// (exit 3), re-reading the live replicas every refresh interval; `/health` and
    /// `{p}_fleet_blocked` say so meanwhile; a stop ends it (exit 8).
    pub(crate) async fn wait_for_fleet(
        &self,
        change: fleet::Change,
        timeout: Duration,
    ) -> Result<(), Error> {
        let client = self.connect().await?;
        self.waiting(&format!(
            "waiting for the fleet to admit migrating from {} to {}",
            change.from, change.to
        ));
        let wait = fleet::Wait {
            timeout,
            interval: self.settings.service.refresh_interval,
        };
        let metrics = &self.state.metrics;
        let admitted = fleet::until_admitted(
            || fleet::live(&client),
            change,
            &self.release.compat,
            wait,
            |on| metrics.record_fleet_blocked(on),
        );
        tokio::select! {
            admitted = admitted => admitted.map(drop).map_err(fleet_failed),
            signal = self.stop.wait() => Err(stopped(signal, "while waiting for the fleet", Some(change.from))),
        }
    }

    /// One pass: lock, gate, unlock.
    pub(crate) async fn migrate_once(&self) -> Result<Report, Error> {
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
            fleet: locked.fleet,
            admission: locked.admission,
            deferred: None,
        })
    }

    /// `check`: the read-only verdict, without the lock; returns the schema version.
    pub async fn check(&self) -> Result<i64, Error> {
        let client = self.connect().await?;
        let applied = self.read_history(&client).await?;
        let catalogue = &self.release.catalogue;
        plan::check_history(catalogue, &applied).exit(Exit::Refused)?;
        let current = plan::highest_applied(&applied);
        plan::verdict(current, &self.release.compat.window, catalogue).exit(Exit::Refused)?;
        Ok(current)
    }

    /// `status`: the history, the newest audit entries and the live fleet.
    pub async fn status(&self) -> Result<Status, Error> {
        let client = self.connect().await?;
        let applied = self.read_history(&client).await?;
        let recent = audit::recent(&client, 5).await.exit(Exit::Internal)?;
        let live = fleet::live(&client).await.map_err(fleet_failed)?;
        Ok(Status {
            applied,
            recent,
            fleet: fleet::summary(&live),
        })
    }

    /// `no_migrate`: read the schema without the lock and change nothing. A history that
    /// does not match the catalogue, or a schema above the window, is refused (exit 3);
    /// below the window is fine: the migration Job has not run yet.
    async fn look(&self) -> Result<Report, Error> {
        let client = self.connect().await?;
        let applied = self.read_history(&client).await?;
        let catalogue = &self.release.catalogue;
        plan::check_history(catalogue, &applied).exit(Exit::Refused)?;
        let current = plan::highest_applied(&applied);
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
        Ok(Report::unchanged(
            current,
            self.settings.limits,
            "nothing to admit: --no-migrate changes nothing".to_owned(),
        ))
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
        let unchanged = plan.is_empty() && adopted.is_none();
        let nothing = |plan, fleet, admission| Locked {
            plan,
            durations: Vec::new(),
            backup: None,
            lock_retries: 0,
            lint_findings,
            fleet,
            admission,
        };
        if unchanged && !self.settings.dry_run {
            // The no-op gate: nothing for the fleet to admit, and no query for it.
            let admission = "nothing to admit: the schema stays where it is".to_owned();
            return Ok(nothing(plan, Vec::new(), admission));
        }
        // Before the backup too: a change that breaks a live release is refused (exit 3).
        let (live, verdict) = self
            .admission(lock.connection(), fleet::Change::from(&plan))
            .await?;
        let fleet = fleet::summary(&live);
        let admission = verdict.shown().to_owned();
        if self.settings.dry_run || unchanged {
            return Ok(nothing(plan, fleet, admission));
        }
        // Under the lock and before anything changes, the history table included (DESIGN §1.5).
        primary_only(lock.connection()).await?;
        super::session::session_only(self, lock).await?;
        let at = if adopted.is_some() { 0 } else { plan.current };
        let backup = backups::backup_before_change(self, lock, at).await?;
        if let Some(version) = adopted {
            baseline::record_baseline(self, lock, version, backup.as_ref(), verdict.note()).await?;
        }
        let mut durations = Vec::with_capacity(plan.steps.len());
        let mut lock_retries = 0;
        if !plan.is_empty() {
            let started = Instant::now();
            let backup_file = backup.as_ref().map(|b| b.path.display().to_string());
            lock_retries = execute_recorded(
                self,
                lock,
                &plan,
                Recorded {
                    backup_file,
                    note: verdict.note(),
                },
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
            fleet,
            admission,
        })
    }
}

/// What `status` shows.
#[derive(Debug, Clone)]
pub struct Status {
    /// The history rows.
    pub applied: Vec<Applied>,
    /// The newest audit entries, newest first.
    pub recent: Vec<audit::Recorded>,
    /// The live replicas, by release.
    pub fleet: Vec<fleet::Group>,
}

/// What [`Gate::gate_locked`] did.
struct Locked {
    plan: Plan,
    durations: Vec<(Step, Duration)>,
    backup: Option<backup::Backup>,
    lock_retries: u64,
    lint_findings: usize,
    fleet: Vec<fleet::Group>,
    admission: String,
}
