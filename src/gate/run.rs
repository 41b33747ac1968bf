//! The gate of DESIGN §1 — connect, lock, plan, lint, back up, migrate, verdict, unlock —
//! and the read-only `check` and `status`. Nothing here prints: [`Report`] says what was
//! done and the caller shows it.

use std::time::{Duration, Instant};

use super::atomic;
use super::baseline;
use super::builder::Gate;
use super::builder::stopped;
use super::error::{Error, Exit, ExitWith};
use super::event::Event;
use super::lint;
use super::locked::{Verdict, release_lock};
use super::recipe::{self, Done, Prepared, Recipe};
use super::report::Report;
use super::steps::execute;
use super::verdicts::Verdicts;
use crate::applied::Applied;
use crate::audit;
use crate::backup;
use crate::engine::{Lock, Session};
use crate::fleet;
use crate::plan::{self, Plan, Step};

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
        let session = self.connect().await?;
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
            || session.live(),
            change,
            &self.release.compat,
            wait,
            |on| metrics.record_fleet_blocked(on),
        );
        tokio::select! {
            admitted = admitted => admitted.map(drop),
            signal = self.stop.wait() => Err(stopped(signal, "while waiting for the fleet", Some(change.from))),
        }
    }

    /// One pass: lock, gate, unlock. A dry run takes no lock (see [`Gate::preview`]).
    pub(crate) async fn migrate_once(&self) -> Result<Report, Error> {
        if self.settings.dry_run {
            return self.preview().await;
        }
        let mut lock = self.acquire_lock().await?;
        let lock_waited = lock.waited();
        let result = self.gate_locked(lock.as_mut()).await;
        release_lock(lock).await;
        result.map(|locked| locked.report(self, lock_waited))
    }

    /// A dry run: the plan and every verdict the real run would give, told as events, and
    /// the real run's exit code. It takes no lock and never waits: it reads the history as
    /// it is now (a run under way elsewhere may move it meanwhile), and changes nothing.
    async fn preview(&self) -> Result<Report, Error> {
        let client = self.connect().await?;
        let planned = self.planned(client.as_ref()).await?;
        self.tell(Event::Plan {
            plan: &planned.plan,
            compat: &self.release.compat,
            limits: self.settings.limits,
        });
        let mut verdicts = Verdicts::new(self);
        let judged = self
            .verdicts_on(client.as_ref(), &planned, &mut verdicts)
            .await?;
        verdicts.end()?;
        Ok(Locked::judged(planned.plan, judged).report(self, Duration::ZERO))
    }

    /// `check`: the read-only verdict, without the lock, as the gate gives it (see
    /// [`Gate::verdict_on`]); returns the schema version.
    pub async fn check(&self) -> Result<i64, Error> {
        let client = self.connect().await?;
        let applied = client.applied().await?;
        self.verdict_on(&applied)
    }

    /// `status`: the history, the gate's verdict on it, the newest audit entries, the
    /// live fleet and the schema's drift.
    pub async fn status(&self) -> Result<Status, Error> {
        let client = self.connect().await?;
        let applied = client.applied().await?;
        let refusal = self
            .verdict_on(&applied)
            .err()
            .map(|error| super::error::chain(&error));
        let recent = client.recent_audit(5).await?;
        let live = client.live().await?;
        let drift = super::drift::compared(self, client.as_ref()).await?;
        Ok(Status {
            applied,
            refusal,
            recent,
            fleet: fleet::summary(&live),
            drift,
        })
    }

    /// The gate's verdict on a history, without the database: what it refuses before
    /// planning (drift, an unknown or out-of-order version, a schema ahead of the window or
    /// a target it cannot reach), a pending file certain to fail (exit 2, as the gate
    /// refuses it before any change) and a schema outside the window (exit 3). Returns the
    /// schema version.
    fn verdict_on(&self, applied: &[Applied]) -> Result<i64, Error> {
        let (catalogue, window) = (&self.release.catalogue, &self.release.compat.window);
        let plan = plan::forward(catalogue, applied, window).exit(Exit::Refused)?;
        lint::certain_failures(self, &plan)?;
        let current = plan::highest_applied(applied);
        plan::verdict(current, window, catalogue).exit(Exit::Refused)?;
        Ok(current)
    }

    /// `no_migrate`: read the schema without the lock and change nothing. A history that
    /// does not match the catalogue, or a schema above the window, is refused (exit 3);
    /// below the window is fine: the migration Job has not run yet.
    async fn look(&self) -> Result<Report, Error> {
        let client = self.connect().await?;
        let applied = client.applied().await?;
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

    /// The history, an adoption it needs, and the plan to the window's target: refused
    /// (exit 3) when they cannot be reconciled.
    async fn planned(&self, client: &dyn Session) -> Result<Planned, Error> {
        let applied = self.read_history(client).await?;
        let adopted = baseline::adoption(self, client, &applied).await?;
        let applied = match adopted {
            Some(version) => crate::baseline::rows(&self.release.catalogue, version),
            None => applied,
        };
        let plan = plan::forward(
            &self.release.catalogue,
            &applied,
            &self.release.compat.window,
        )
        .exit(Exit::Refused)?;
        Ok(Planned { plan, adopted })
    }

    /// Every verdict on a plan before anything changes, in the order the real run meets
    /// them: the lint, the stranding warning, the fleet's admission, the drift (DESIGN
    /// §19), `--atomic`'s limits, the primary. The no-op gate asks none of the database's (no query for the fleet).
    async fn verdicts_on(
        &self,
        client: &dyn Session,
        planned: &Planned,
        verdicts: &mut Verdicts<'_>,
    ) -> Result<Judged, Error> {
        let plan = &planned.plan;
        let lint_findings = verdicts.keep(lint::plan(self, plan))?.unwrap_or(0);
        let unchanged = plan.is_empty() && planned.adopted.is_none();
        if unchanged && !self.settings.dry_run {
            return Ok(Judged {
                lint_findings,
                fleet: Vec::new(),
                admission: "nothing to admit: the schema stays where it is".to_owned(),
                verdict: None,
            });
        }
        warn_stranding(self, plan);
        // Before the backup too: a change that breaks a live release is refused (exit 3).
        let (live, verdict) = self.admission(client, fleet::Change::from(plan)).await?;
        let fleet = fleet::summary(&live);
        let admission = verdict.shown();
        if self.settings.dry_run {
            self.tell(Event::Admission {
                fleet: &fleet,
                verdict: &admission,
            });
        }
        verdicts.keep(verdict.refusal())?;
        if !unchanged {
            verdicts.keep(super::drift::verdict(self, client).await)?;
            verdicts.keep(atomic::fits(self, client, plan).await)?;
            // Before anything changes, the history table included (DESIGN §1.5).
            verdicts.keep(client.writable_primary().await)?;
        }
        Ok(Judged {
            lint_findings,
            fleet,
            admission,
            verdict: (!unchanged).then_some(verdict),
        })
    }

    /// The part of the gate that runs under the lock.
    async fn gate_locked<'l>(&self, lock: &'l mut dyn Lock) -> Result<Locked, Error> {
        let planned = self.planned(lock.session()).await?;
        let mut verdicts = Verdicts::new(self);
        let mut judged = self
            .verdicts_on(lock.session(), &planned, &mut verdicts)
            .await?;
        verdicts.end()?;
        let Planned { plan, adopted } = planned;
        let Some(verdict) = judged.verdict.take() else {
            return Ok(Locked::judged(plan, judged));
        };
        let recipe = Recipe {
            action: "migrate",
            change: fleet::Change::from(&plan),
            backup_of: if adopted.is_some() { 0 } else { plan.current },
            admitted: Some(verdict),
            plan: None,
            prune: true,
            one_transaction: false,
        };
        let mut durations = Vec::with_capacity(plan.steps.len());
        let (plan_ref, steps_took) = (&plan, &mut durations);
        let act = |lock: &'l mut dyn Lock, prepared: Prepared| async move {
            let plan = plan_ref;
            let unrecorded = |result| Done {
                result,
                to: plan.current,
                outcome: None,
            };
            if let Some(version) = adopted {
                let backup = prepared.backup.as_ref();
                let note = prepared.verdict.note();
                let adopted = baseline::record_baseline(self, lock, version, backup, note).await;
                if let Err(error) = adopted {
                    return (unrecorded(Err(error)), lock);
                }
            }
            if plan.is_empty() {
                return (unrecorded(Ok((0, prepared.backup))), lock);
            }
            let started = Instant::now();
            let done = execute(self, lock, plan, &prepared, &mut |step, took| {
                steps_took.push((step.clone(), took));
            })
            .await;
            if done.result.is_ok() {
                tracing::info!(took = ?started.elapsed(), from = plan.current, to = plan.target, "migrations done");
            }
            let done = Done {
                result: done.result.map(|retries| (retries, prepared.backup)),
                to: done.to,
                outcome: done.outcome,
            };
            (done, lock)
        };
        let ((lock_retries, backup), lock) = recipe::change(self, lock, recipe, act).await?;
        let current = lock.session().current_version().await?;
        plan::verdict(
            current,
            &self.release.compat.window,
            &self.release.catalogue,
        )
        .exit(Exit::Refused)?;
        Ok(Locked {
            plan,
            durations,
            backup,
            lock_retries,
            lint_findings: judged.lint_findings,
            fleet: judged.fleet,
            admission: judged.admission,
        })
    }
}

/// Warns of the steps whose failure would leave the schema between the windows of the
/// releases running now and this one (DESIGN §18): on a dry run as an event, else in the
/// log. `--atomic` leaves nothing between, so it has nothing to warn of.
fn warn_stranding(gate: &Gate, plan: &Plan) {
    if gate.atomic() {
        return;
    }
    let stranded = plan::stranding(plan, &gate.release.compat);
    if stranded.is_empty() {
        return;
    }
    let atomic_possible = plan.steps.iter().all(|step| step.transactional);
    if gate.settings.dry_run {
        gate.tell(Event::Stranded {
            steps: &stranded,
            atomic_possible,
        });
        return;
    }
    // The first is the one to read; a long plan would otherwise log one line per step.
    if let Some(first) = stranded.first() {
        tracing::warn!(
            steps = stranded.len(),
            remedy = atomic::remedy(atomic_possible),
            "{first}; a failure at any of {} step(s) would strand the schema between the windows",
            stranded.len()
        );
    }
}

/// What [`Gate::planned`] found.
struct Planned {
    plan: Plan,
    /// The version `[adopt] baseline` records first, when it takes the database over.
    adopted: Option<i64>,
}

/// What [`Gate::verdicts_on`] judged.
struct Judged {
    lint_findings: usize,
    fleet: Vec<fleet::Group>,
    admission: String,
    /// The fleet's verdict on a change to make; `None` when the schema stays as it is.
    verdict: Option<Verdict>,
}

/// What `status` shows.
#[derive(Debug, Clone)]
pub struct Status {
    /// The history rows.
    pub applied: Vec<Applied>,
    /// Why the gate (and `check`) would refuse this history, if it would.
    pub refusal: Option<String>,
    /// The newest audit entries, newest first.
    pub recent: Vec<audit::Recorded>,
    /// The live replicas, by release.
    pub fleet: Vec<fleet::Group>,
    /// The live schema against the description the last change recorded (DESIGN §19).
    pub drift: super::Diff,
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

impl Locked {
    /// A run that judged `plan` and changed nothing.
    fn judged(plan: Plan, judged: Judged) -> Self {
        Self {
            plan,
            durations: Vec::new(),
            backup: None,
            lock_retries: 0,
            lint_findings: judged.lint_findings,
            fleet: judged.fleet,
            admission: judged.admission,
        }
    }

    /// The report of the run, which waited `lock_waited` for the lock.
    fn report(self, gate: &Gate, lock_waited: Duration) -> Report {
        let dry_run = gate.settings.dry_run;
        Report {
            backup_skipped: gate.settings.backup.skip && !dry_run && !self.plan.is_empty(),
            plan: self.plan,
            lock_waited,
            durations: self.durations,
            backup: self.backup,
            lock_retries: self.lock_retries,
            limits: gate.settings.limits,
            lint_findings: self.lint_findings,
            dry_run,
            fleet: self.fleet,
            admission: self.admission,
            deferred: None,
        }
    }
}
