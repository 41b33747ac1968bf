//! The Prometheus metrics of DESIGN §8, in a registry owned by one gate, or in the
//! application's own registry when it embeds the gate (DESIGN §13).
//!
//! No global registry: every gate (and so every test app) has its own unless given one, so
//! tests running in one process do not see each other's series.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::Duration;

use hyper::body::Bytes;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, IntCounter, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::audit::Totals;
use crate::config::Window;
use crate::fleet::Group;

/// Buckets for one migration's duration: from a trivial DDL statement to a long backfill.
const MIGRATION_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
];

/// The metrics and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    schema_version: IntGaugeVec,
    /// The label of the one `_schema_version` series, so a change removes the old one.
    schema_version_label: Mutex<Option<String>>,
    schema_current: IntGauge,
    schema_compatible: IntGauge,
    migrations_pending: IntGauge,
    migration_duration: Histogram,
    lock_wait: Gauge,
    backup_last_success: Gauge,
    backup_size: Gauge,
    backup_duration: Gauge,
    backups_skipped: IntCounter,
    ddl_lock_retries: IntCounter,
    database_up: IntGauge,
    lint_findings: IntGauge,
    fleet_replicas: IntGaugeVec,
    /// The versions with a `_fleet_replicas` series, so a release that left loses its own.
    fleet_versions: Mutex<Vec<String>>,
    fleet_blocked: IntGauge,
    schema_drift: IntGauge,
    schema_drift_objects: IntGauge,
    schema_drift_check: Gauge,
    migration_failures: IntCounter,
    rollbacks: IntCounter,
    /// The audit trail's totals at the last refresh: the counters rise by the difference.
    audit_seen: Mutex<Totals>,
    /// The last rendering of the registry. Values only change through the `record_*`
    /// methods (on start and once per refresh), so scrapes between two changes reuse it
    /// instead of gathering and formatting every family again. `None` when the registry is
    /// the application's: its own metrics change without telling us.
    rendered: Option<RwLock<Option<Bytes>>>,
}

impl Metrics {
    /// Registers every metric under `prefix` (`schemagate` by default) in a registry of
    /// its own, with the release's version and window already set.
    pub fn new(prefix: &str, app_version: &str, window: &Window) -> prometheus::Result<Self> {
        let mut metrics = Self::register(Registry::new(), prefix, app_version, window)?;
        metrics.rendered = Some(RwLock::new(None));
        Ok(metrics)
    }

    /// Registers every metric into `registry`, which may hold the application's own
    /// metrics: `/metrics` then shows both, rendered afresh at every scrape.
    pub fn register(
        registry: Registry,
        prefix: &str,
        app_version: &str,
        window: &Window,
    ) -> prometheus::Result<Self> {
        let opts = |name: &str, help: &str| Opts::new(name, help).namespace(prefix);
        let int_gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let gauge = IntGauge::with_opts(opts(name, help))?;
            registry.register(Box::new(gauge.clone()))?;
            Ok(gauge)
        };
        let gauge = |name: &str, help: &str| -> prometheus::Result<Gauge> {
            let gauge = Gauge::with_opts(opts(name, help))?;
            registry.register(Box::new(gauge.clone()))?;
            Ok(gauge)
        };
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let counter = IntCounter::with_opts(opts(name, help))?;
            registry.register(Box::new(counter.clone()))?;
            Ok(counter)
        };
        let labelled = |name: &str, help: &str| -> prometheus::Result<IntGaugeVec> {
            let gauge = IntGaugeVec::new(opts(name, help), &["version"])?;
            registry.register(Box::new(gauge.clone()))?;
            Ok(gauge)
        };

        let app_version_info = labelled("app_version", "This release's version; always 1.")?;
        app_version_info
            .with_label_values(&[&format!("v{app_version}")])
            .set(1);
        int_gauge(
            "schema_min_supported",
            "Oldest schema version this release runs on.",
        )?
        .set(window.min);
        int_gauge(
            "schema_max_supported",
            "Newest schema version this release runs on.",
        )?
        .set(window.max);
        let migration_duration = Histogram::with_opts(
            HistogramOpts::new(
                "migration_duration_seconds",
                "Time to apply each migration this instance applied (one observation per migration).",
            )
            .namespace(prefix)
            .buckets(MIGRATION_BUCKETS.to_vec()),
        )?;
        registry.register(Box::new(migration_duration.clone()))?;

        // From the audit trail, so that a gate that failed and exited before it served
        // (a replica, a Job) is still counted by every replica that serves (DESIGN §14).
        let migration_failures = counter(
            "migration_failures_total",
            "Migration and rollback steps that failed, run by any replica or Job: counted from the audit trail (schemagate_audit) at each refresh.",
        )?;
        let rollbacks = counter(
            "rollbacks_total",
            "Completed rollbacks, run by any replica or Job: counted from the audit trail (schemagate_audit) at each refresh.",
        )?;
        Ok(Self {
            schema_version: labelled(
                "schema_version",
                "The database's schema version as a label; always 1, one series.",
            )?,
            schema_version_label: Mutex::new(None),
            schema_current: int_gauge(
                "schema_current",
                "The database's schema version at the last refresh.",
            )?,
            schema_compatible: int_gauge(
                "schema_compatible",
                "1 if the schema version is inside this release's window, else 0.",
            )?,
            migrations_pending: int_gauge(
                "migrations_pending",
                "Migrations of this release above the schema version, up to the target.",
            )?,
            migration_duration,
            lock_wait: gauge(
                "lock_wait_seconds",
                "How long the gate waited for the migration lock.",
            )?,
            backup_last_success: gauge(
                "backup_last_success_timestamp_seconds",
                "Unix time at which the last successful backup was taken; 0 if none.",
            )?,
            backup_size: gauge("backup_size_bytes", "Size of the last successful backup.")?,
            backup_duration: gauge(
                "backup_duration_seconds",
                "Time taken by the last successful backup, verification included.",
            )?,
            backups_skipped: counter(
                "backups_skipped_total",
                "Schema changes made without a backup (--no-backup).",
            )?,
            ddl_lock_retries: counter(
                "ddl_lock_retries_total",
                "Migration steps this instance rolled back and ran again after a DDL lock timeout.",
            )?,
            database_up: int_gauge(
                "database_up",
                "1 if the last refresh reached the database, else 0.",
            )?,
            lint_findings: int_gauge(
                "lint_findings",
                "Unwaived lint findings (warnings) in the migrations the gate applied.",
            )?,
            fleet_replicas: labelled(
                "fleet_replicas",
                "Live serving replicas of each release (schemagate_fleet), this one included.",
            )?,
            fleet_versions: Mutex::new(Vec::new()),
            fleet_blocked: int_gauge(
                "fleet_blocked",
                "1 while this instance's gate waits for the fleet to admit its change, else 0.",
            )?,
            schema_drift: int_gauge(
                "schema_drift",
                "1 if the live schema differs from the description the last change recorded, else 0.",
            )?,
            schema_drift_objects: int_gauge(
                "schema_drift_objects",
                "Objects (tables, columns, indexes, ...) that differ from the recorded description.",
            )?,
            schema_drift_check: gauge(
                "schema_drift_check_seconds",
                "How long the last drift check took: describing the live schema, reading the record and comparing, on the refresh's open connection.",
            )?,
            migration_failures,
            rollbacks,
            audit_seen: Mutex::new(Totals::default()),
            registry,
            rendered: None,
        })
    }

    /// Forgets the cached rendering after a value changed.
    fn changed(&self) {
        if let Some(rendered) = &self.rendered {
            *rendered.write().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }

    /// Records the schema version seen by a refresh, keeping one `_schema_version` series.
    pub fn record_schema(&self, current: i64, pending: usize, compatible: bool) {
        self.schema_current.set(current);
        self.schema_compatible.set(compatible.into());
        self.migrations_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        let label = current.to_string();
        let mut last = self
            .schema_version_label
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.as_deref() != Some(label.as_str()) {
            if let Some(old) = last.take() {
                let _ = self.schema_version.remove_label_values(&[&old]);
            }
            self.schema_version.with_label_values(&[&label]).set(1);
            *last = Some(label);
        }
        self.changed();
    }

    /// Records whether the last refresh reached the database.
    pub fn record_database_up(&self, up: bool) {
        self.database_up.set(up.into());
        self.changed();
    }

    /// Records one migration applied by this instance.
    pub fn record_migration(&self, took: Duration) {
        self.migration_duration.observe(took.as_secs_f64());
        self.changed();
    }

    /// Records the steps retried after DDL lock timeouts.
    pub fn record_lock_retries(&self, retries: u64) {
        self.ddl_lock_retries.inc_by(retries);
        self.changed();
    }

    /// Records how long the gate waited for the migration lock.
    pub fn record_lock_wait(&self, waited: Duration) {
        self.lock_wait.set(waited.as_secs_f64());
        self.changed();
    }

    /// Records a successful backup: its size, how long it took, and when it was made.
    pub fn record_backup(&self, size_bytes: u64, duration: Duration, created_at_unix: f64) {
        // f64 holds every size below 2^53 bytes (8 PiB) exactly.
        #[allow(clippy::cast_precision_loss, reason = "exact below 8 PiB")]
        self.backup_size.set(size_bytes as f64);
        self.backup_duration.set(duration.as_secs_f64());
        self.backup_last_success.set(created_at_unix);
        self.changed();
    }

    /// Records how many unwaived lint findings the gate logged as warnings.
    pub fn record_lint_findings(&self, count: usize) {
        self.lint_findings
            .set(i64::try_from(count).unwrap_or(i64::MAX));
        self.changed();
    }

    /// Records a schema change made without a backup.
    pub fn record_backup_skipped(&self) {
        self.backups_skipped.inc();
        self.changed();
    }

    /// Records the live fleet: one `_fleet_replicas` series per release, the series of a
    /// release no longer live removed.
    pub fn record_fleet(&self, groups: &[Group]) {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for group in groups {
            *counts.entry(&group.version).or_default() += group.replicas;
        }
        let mut versions = self
            .fleet_versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for gone in versions.iter().filter(|v| !counts.contains_key(v.as_str())) {
            let _ = self.fleet_replicas.remove_label_values(&[gone]);
        }
        for (version, replicas) in &counts {
            self.fleet_replicas
                .with_label_values(&[version])
                .set(i64::try_from(*replicas).unwrap_or(i64::MAX));
        }
        *versions = counts.keys().map(|v| (*v).to_owned()).collect();
        self.changed();
    }

    /// Records the last drift check: how many objects differ from the recorded description
    /// (0: none, or nothing recorded to compare with), and how long the check `took`.
    pub fn record_drift(&self, objects: usize, took: Duration) {
        self.schema_drift.set((objects > 0).into());
        self.schema_drift_objects
            .set(i64::try_from(objects).unwrap_or(i64::MAX));
        self.schema_drift_check.set(took.as_secs_f64());
        self.changed();
    }

    /// Records whether the gate is waiting for the fleet to admit its change.
    pub fn record_fleet_blocked(&self, blocked: bool) {
        self.fleet_blocked.set(blocked.into());
        self.changed();
    }

    /// Records the audit trail's totals. The counters rise by what the trail gained since
    /// the last refresh and never fall: a trail that shrank (a restore brought back an
    /// older one) is the new base to count from.
    pub fn record_audit_totals(&self, totals: Totals) {
        let mut seen = self
            .audit_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.migration_failures.inc_by(
            totals
                .migration_failures
                .saturating_sub(seen.migration_failures),
        );
        self.rollbacks
            .inc_by(totals.rollbacks.saturating_sub(seen.rollbacks));
        *seen = totals;
        self.changed();
    }

    /// The registry's content in the Prometheus text format, rendered once per change.
    pub fn encode(&self) -> prometheus::Result<Bytes> {
        let Some(cache) = &self.rendered else {
            return self.render();
        };
        if let Some(cached) = cache
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            return Ok(cached.clone());
        }
        let rendered = self.render()?;
        *cache.write().unwrap_or_else(PoisonError::into_inner) = Some(rendered.clone());
        Ok(rendered)
    }

    /// Gathers and formats every family of the registry.
    fn render(&self) -> prometheus::Result<Bytes> {
        let mut buffer = Vec::with_capacity(4096);
        TextEncoder::new().encode(&self.registry.gather(), &mut buffer)?;
        Ok(Bytes::from(buffer))
    }
}

/// The content type of [`Metrics::encode`]'s output.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
pub(crate) mod sample;
#[cfg(test)]
mod tests;
