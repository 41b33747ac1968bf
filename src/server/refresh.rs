//! The background refresh: every `--refresh-interval`, read the schema version through the
//! pool with a short timeout, judge it, and update `/health` and the metrics.
//!
//! The same refresh keeps the fleet current (DESIGN §14): it announces this instance in
//! `schemagate_fleet` (when it has one), reads the live rows for `/health` and
//! `{p}_fleet_replicas`, and counts failures and rollbacks in the audit trail for
//! `{p}_migration_failures_total` and `{p}_rollbacks_total`. Those queries are pipelined
//! with the version's on one connection, within the same timeout; when they fail, the
//! failure is logged and the last fleet shown, and readiness does not change.
//!
//! Every `--drift-interval` (when not zero) it also describes the live schema on the same
//! pool and compares it with the description the last change recorded (DESIGN §19): what
//! differs shows in `/health` (`schema.drift`) and `{p}_schema_drift(_objects)`, and never
//! makes the replica unready. Without a recorded description, or while a change has
//! superseded the newest one and not yet recorded its own, there is nothing to compare
//! with, so nothing is reported.

use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::health::{Drifted, Health, Judge, Observation};
use super::metrics::Metrics;
use crate::drift::{Drift, SHOWN};
use crate::engine::{FleetAndAudit, Pool};
use crate::fleet::{self, Group, Instance};

/// The longest a refresh waits for the database, however long the interval.
const MAX_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the schema version and publishes what it means.
pub(crate) struct Refresher {
    pool: Arc<dyn Pool>,
    judge: Judge,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    timeout: Duration,
    /// The last version read, reported again while the database is unreachable.
    last: i64,
    /// Whether the last refresh failed, to log transitions rather than every tick.
    failing: Option<bool>,
    /// This process in the fleet, announced at every refresh; `None` reads the fleet
    /// without joining it.
    instance: Option<Instance>,
    /// The live fleet as the last refresh that could read it saw it.
    fleet: Vec<Group>,
    /// What failed in the fleet and audit queries at the last refresh, to log changes
    /// rather than every tick.
    fleet_and_audit_failures: Vec<String>,
    /// The drift check, when on.
    drift: Option<DriftCheck>,
}

/// The drift check's settings and what it saw last.
struct DriftCheck {
    /// How often it runs.
    interval: Duration,
    /// `[drift] ignore`.
    ignore: Vec<String>,
    /// The drift shown, while there is some.
    shown: Option<Drifted>,
    /// What the last check saw, to log changes rather than every check.
    last: Option<String>,
    /// The last observation of the version, to render `/health` again after a check.
    seen: Option<Observation>,
}

impl Refresher {
    /// A refresher whose queries give up after `min(interval, 5 s)`.
    pub(crate) fn new(
        pool: Arc<dyn Pool>,
        judge: Judge,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
        interval: Duration,
    ) -> Self {
        let last = judge.baseline;
        Self {
            pool,
            judge,
            health,
            metrics,
            timeout: Self::query_timeout(interval),
            last,
            failing: None,
            instance: None,
            fleet: Vec::new(),
            fleet_and_audit_failures: Vec::new(),
            drift: None,
        }
    }

    /// Checks the live schema for drift every `interval` (zero: never), leaving out the
    /// objects `ignore` matches.
    pub(crate) fn with_drift(mut self, interval: Duration, ignore: Vec<String>) -> Self {
        self.drift = (!interval.is_zero()).then_some(DriftCheck {
            interval,
            ignore,
            shown: None,
            last: None,
            seen: None,
        });
        self
    }

    /// Announces `instance` in `schemagate_fleet` at every refresh (a serving replica, or
    /// an application serving the gate's routes), so gates of other releases see it.
    pub(crate) fn with_instance(mut self, instance: Instance) -> Self {
        self.instance = Some(instance);
        self
    }

    /// This process in the fleet, if it announces itself.
    #[cfg(test)]
    pub(crate) fn instance(&self) -> Option<&Instance> {
        self.instance.as_ref()
    }

    /// The query timeout in use (also the pool's timeouts).
    pub(crate) fn query_timeout(interval: Duration) -> Duration {
        interval.min(MAX_QUERY_TIMEOUT)
    }

    /// One refresh: query, judge, publish.
    pub(crate) async fn once(&mut self) {
        let read = tokio::time::timeout(self.timeout, self.pool.read(self.instance.as_ref())).await;
        let checked_at = OffsetDateTime::now_utc();
        let seen = match read {
            Ok(Ok((current, more))) => {
                self.last = current;
                self.publish_fleet_and_audit(more);
                Observation {
                    current,
                    reachable: true,
                    error: None,
                    checked_at,
                }
            }
            Ok(Err(error)) => Observation {
                current: self.last,
                reachable: false,
                error: Some(error),
                checked_at,
            },
            Err(_) => Observation {
                current: self.last,
                reachable: false,
                error: Some(format!("no answer within {:?}", self.timeout)),
                checked_at,
            },
        };
        if let Some(check) = &mut self.drift {
            check.seen = Some(seen.clone());
        }
        let drifted = self.drift.as_ref().and_then(|check| check.shown.as_ref());
        let verdict = self.judge.judge_with(&seen, &self.fleet, drifted);
        self.health.set(&verdict);
        self.metrics.record_database_up(seen.reachable);
        self.metrics
            .record_schema(seen.current, verdict.pending, verdict.compatible);
        let failing = verdict.reason.is_some();
        if self.failing != Some(failing) {
            match &verdict.reason {
                Some(reason) => tracing::warn!(%reason, "health: fail"),
                None => tracing::info!(schema = seen.current, "health: ok"),
            }
            self.failing = Some(failing);
        }
    }

    /// One drift check: describe the live schema, compare it with the newest record, and
    /// publish the difference in the metrics and `/health`. A failure is logged (when it
    /// changes) and the last drift stays shown.
    async fn check_drift(&mut self) {
        let Some(check) = &mut self.drift else {
            return;
        };
        let started = Instant::now();
        let read = tokio::time::timeout(MAX_QUERY_TIMEOUT, self.pool.schema()).await;
        let (drift, said) = match read {
            Ok(Ok((_, Some(recorded)))) if recorded.superseded => (
                Drift::default(),
                "not checked: a change began after the newest description and has not recorded what it left"
                    .to_owned(),
            ),
            Ok(Ok((live, Some(recorded)))) => {
                let drift = Drift::between(&recorded.objects, &live, &check.ignore);
                let said = if drift.is_empty() {
                    "none".to_owned()
                } else {
                    drift.summary()
                };
                (drift, said)
            }
            Ok(Ok((_, None))) => (
                Drift::default(),
                "no description recorded yet: the next change records one".to_owned(),
            ),
            Ok(Err(error)) => {
                log_drift(check, format!("failed: {error}"));
                return;
            }
            Err(_) => {
                log_drift(
                    check,
                    format!("failed: no answer within {MAX_QUERY_TIMEOUT:?}"),
                );
                return;
            }
        };
        self.metrics.record_drift(drift.count(), started.elapsed());
        check.shown = (!drift.is_empty()).then(|| Drifted {
            since: check.shown.as_ref().map_or_else(
                || {
                    OffsetDateTime::now_utc()
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()
                },
                |shown| shown.since.clone(),
            ),
            count: drift.count(),
            objects: drift.objects().take(SHOWN).collect(),
        });
        log_drift(check, said);
        if let Some(seen) = check.seen.clone() {
            let verdict = self
                .judge
                .judge_with(&seen, &self.fleet, check.shown.as_ref());
            self.health.set(&verdict);
        }
    }

    /// Publishes the fleet and the audit totals; logs what failed when that changes.
    fn publish_fleet_and_audit(&mut self, read: FleetAndAudit) {
        let mut failures = Vec::new();
        if let Err(error) = read.announced {
            failures.push(error);
        }
        match read.live {
            Ok(live) => {
                self.fleet = fleet::summary(&live);
                self.metrics.record_fleet(&self.fleet);
            }
            Err(error) => failures.push(error),
        }
        match read.totals {
            Ok(totals) => self.metrics.record_audit_totals(totals),
            Err(error) => failures.push(error),
        }
        if failures != self.fleet_and_audit_failures {
            if failures.is_empty() {
                tracing::info!("fleet and audit trail read again");
            } else {
                tracing::warn!(errors = %failures.join("; "), "the refresh could not keep the fleet or the audit counters current; health is unaffected");
            }
            self.fleet_and_audit_failures = failures;
        }
    }

    /// What graceful shutdown needs to take this instance out of the fleet, taken before
    /// the refresher moves into [`Refresher::run`]; `None` when it does not announce itself.
    pub(crate) fn departure(&self) -> Option<Departure> {
        self.instance.as_ref().map(|instance| Departure {
            pool: Arc::clone(&self.pool),
            id: instance.id.clone(),
            timeout: self.timeout,
        })
    }

    /// Refreshes every `interval` until `stop` turns true.
    pub(crate) async fn run(mut self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The first tick is immediate; the caller refreshed just before starting us.
        ticks.tick().await;
        let stopped = async move {
            // A dropped sender means stopping too.
            let _ = stop.wait_for(|stopping| *stopping).await;
        };
        tokio::pin!(stopped);
        // The drift check's first tick is immediate: a drifted schema shows from the start.
        let mut drift_ticks = self.drift.as_ref().map(|check| {
            let mut ticks = tokio::time::interval(check.interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            ticks
        });
        loop {
            let drift_tick = async {
                match &mut drift_ticks {
                    Some(ticks) => {
                        ticks.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = ticks.tick() => self.once().await,
                () = drift_tick => self.check_drift().await,
                () = &mut stopped => break,
            }
        }
        tracing::debug!("background refresh stopped");
    }
}

/// Logs what a drift check saw when it differs from what the last one saw.
fn log_drift(check: &mut DriftCheck, said: String) {
    if check.last.as_ref() == Some(&said) {
        return;
    }
    if said == "none" {
        tracing::info!("schema drift: none, the live schema is as recorded");
    } else if said.starts_with("failed") {
        tracing::warn!(error = %said, "schema drift: the check failed; the last result stays shown");
    } else {
        tracing::warn!(drift = %said, "schema drift");
    }
    check.last = Some(said);
}

/// Takes an instance out of the fleet on graceful shutdown ([`Refresher::departure`]).
pub(crate) struct Departure {
    pool: Arc<dyn Pool>,
    id: String,
    timeout: Duration,
}

impl Departure {
    /// Removes the instance's row: once requests have drained, so a gate waiting for this
    /// release does not change the schema while it still serves. A failure is logged: the
    /// row goes stale after three refresh intervals anyway.
    pub(crate) async fn leave(self) {
        let left = tokio::time::timeout(self.timeout, self.pool.leave(&self.id))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.timeout)));
        match left {
            Ok(()) => tracing::debug!(id = %self.id, "left the fleet"),
            Err(error) => {
                tracing::warn!(%error, "could not leave the fleet; the row goes stale after three refresh intervals")
            }
        }
    }
}

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;
