//! The gate's service side: [`Gate::routes`] for `/health`, `/health/live` and `/metrics`,
//! [`Gate::refresh`] keeping them current, and [`Application`], the standalone `serve`
//! (zero2prod's `Application::build` and `run_until_stopped`; STYLE 1 and 2).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::builder::Gate;
use super::error::{self, Error, Exit, ExitWith};
use super::locked::refused_by_fleet;
use super::report::Report;
use crate::backup;
use crate::engine::Pool;
use crate::fleet::{self, Instance};
use crate::server::{self, Judge, Metrics, Observation, Refresher};

/// At most this many connections for the refresh: one in use, one being replaced.
const POOL_SIZE: usize = 2;

/// How long a deferred step waits for the fleet: as long as the service runs.
const BACKGROUND_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

impl Gate {
    /// Records what a run did in the metrics and makes `/health` judge its result.
    pub(crate) fn gated(&self, report: &Report) {
        let metrics = &self.state.metrics;
        metrics.record_lock_wait(report.lock_waited);
        metrics.record_lock_retries(report.lock_retries);
        for (_, took) in &report.durations {
            metrics.record_migration(*took);
        }
        if report.backup_skipped {
            metrics.record_backup_skipped();
        }
        metrics.record_lint_findings(report.lint_findings);
        let judge = self.judge(report.plan.target);
        let verdict = judge.judge(&Observation {
            current: report.plan.target,
            reachable: true,
            error: None,
            checked_at: OffsetDateTime::now_utc(),
        });
        self.state.health.set(&verdict);
        // The gate has just read the schema, so the database answered.
        metrics.record_database_up(true);
        metrics.record_schema(report.plan.target, verdict.pending, verdict.compatible);
        *self
            .baseline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(report.plan.target);
    }

    /// Says on `/health` what the gate waits for, until it is done.
    pub(crate) fn waiting(&self, reason: &str) {
        if self
            .baseline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_none()
        {
            self.state
                .health
                .set_waiting(&self.release.compat.tag(), reason);
        }
    }

    /// The gate as `serve` runs it: when only the fleet blocks the step to the target and
    /// the schema is already inside this release's window, it is ready on the current
    /// schema, and [`Application`] migrates in the background once the fleet admits it, so
    /// a rolling deploy does not deadlock (DESIGN §14).
    pub(crate) async fn run_or_defer(&self) -> Result<Report, Error> {
        if self.settings.service.no_migrate || self.settings.dry_run {
            return self.run().await;
        }
        let report = match self.migrate_once().await {
            Err(error) => match refused_by_fleet(&error) {
                Some(change) if self.release.compat.window.contains(change.from) => {
                    tracing::warn!(%error, "ready on schema {}; migrating to {} in the background once the fleet admits it", change.from, change.to);
                    let mut report =
                        Report::unchanged(change.from, self.settings.limits, error.to_string());
                    report.deferred = Some(change.to);
                    report
                }
                _ => return Err(error),
            },
            Ok(report) => report,
        };
        self.gated(&report);
        Ok(report)
    }

    /// The deferred step: waits for the fleet (logging who blocks), then gates; a change
    /// of the fleet that refuses the new plan waits again. A failure is logged and the
    /// service stays on the schema it has, inside the window; `/health` and `/metrics`
    /// show the result either way.
    async fn migrate_when_admitted(&self, mut change: fleet::Change) {
        loop {
            if let Err(error) = self.wait_for_fleet(change, BACKGROUND_WAIT).await {
                tracing::error!(error = %error::chain(&error), "the background migration stopped waiting for the fleet");
                return;
            }
            match self.migrate_once().await {
                Ok(report) => {
                    tracing::info!(
                        schema = report.plan.target,
                        "the background migration is done"
                    );
                    self.gated(&report);
                    return;
                }
                Err(error) => match refused_by_fleet(&error) {
                    Some(refused) => change = refused,
                    None => {
                        tracing::error!(error = %error::chain(&error), "the background migration failed; serving on the schema as it is");
                        return;
                    }
                },
            }
        }
    }

    /// What `/health` judges against; `baseline` is the version the gate left.
    fn judge(&self, baseline: i64) -> Judge {
        let compat = &self.release.compat;
        Judge {
            app_version: compat.tag(),
            engine: self.engine().map_or("", |engine| engine.name()),
            window: compat.window,
            catalogue: self
                .release
                .catalogue
                .migrations()
                .iter()
                .map(|m| m.version)
                .collect(),
            baseline,
            no_migrate: self.settings.service.no_migrate,
        }
    }

    /// `/health` (readiness: 503 until [`Gate::run`] is done, then the window's verdict),
    /// `/health/live` and `/metrics`. Other paths are rejected (not answered), so the
    /// filter composes with the application's routes with `.or()`.
    ///
    /// ```no_run
    /// # async fn serve(gate: schemagate::Gate) {
    /// use warp::Filter;
    /// let hello = warp::path("hello").map(|| "hello");
    /// warp::serve(hello.or(gate.routes())).run(([0, 0, 0, 0], 8080)).await;
    /// # }
    /// ```
    pub fn routes(
        &self,
    ) -> impl warp::Filter<Extract = (hyper::Response<hyper::Body>,), Error = warp::Rejection>
    + Clone
    + use<> {
        server::routes::routes(self.state.clone())
    }

    /// The background refresh: every refresh interval, reads the schema version through a
    /// small pool, judges it and updates `/health` and `/metrics`, and announces this
    /// instance in the fleet (DESIGN §14), until `shutdown` completes; then it leaves the
    /// fleet. Spawn the returned future; it refreshes once before its first wait.
    pub fn refresh(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<impl Future<Output = ()> + Send + 'static, Error> {
        let interval = self.settings.service.refresh_interval;
        let pool = self
            .engine()?
            .pool(Refresher::query_timeout(interval), POOL_SIZE)?;
        let baseline = self
            .baseline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unwrap_or(0);
        let judge = self.judge(baseline);
        let state = self.state.clone();
        let backup_dir = self.settings.backup.dir.clone();
        let instance = Instance::new(&self.release.compat, interval).exit(Exit::Internal)?;
        let drift_interval = self.settings.service.drift_interval;
        let drift_ignore = self.release.compat.drift.ignore.clone();
        Ok(async move {
            record_newest_backup(&state.metrics, &backup_dir, pool.as_ref()).await;
            let mut refresher = Refresher::new(
                pool,
                judge,
                Arc::clone(&state.health),
                Arc::clone(&state.metrics),
                interval,
            )
            .with_instance(instance)
            .with_drift(drift_interval, drift_ignore);
            refresher.once().await;
            let departure = refresher.departure();
            let (stopping, stopped) = watch::channel(false);
            tokio::select! {
                () = refresher.run(interval, stopped) => {}
                () = shutdown => { let _ = stopping.send(true); }
            }
            if let Some(departure) = departure {
                departure.leave().await;
            }
        })
    }
}

/// Sets the backup metrics from the newest backup of this database in the directory (the
/// one this start took, or an earlier one), so `BackupStale` judges every replica, not only
/// the one that migrated, and never by another database's backups in a shared directory.
/// A directory that cannot be listed, or a database that cannot say who it is, leaves them
/// unset.
async fn record_newest_backup(metrics: &Metrics, dir: &std::path::Path, pool: &dyn Pool) {
    let origin = match pool.origin().await {
        Ok(origin) => origin,
        Err(error) => {
            tracing::debug!(%error, "no backup metrics: the database cannot tell who it is");
            return;
        }
    };
    match backup::list_of(dir, &origin) {
        Ok(backups) => {
            if let Some(newest) = backups.first() {
                let manifest = &newest.manifest;
                let created = manifest.created_at.unix_timestamp_nanos() as f64 / 1e9;
                metrics.record_backup(
                    manifest.size_bytes,
                    Duration::from_secs_f64(manifest.duration_seconds.max(0.0)),
                    created,
                );
            }
        }
        Err(error) => {
            tracing::debug!(%error, "no backup metrics: the backup directory cannot be listed")
        }
    }
}

/// `serve`: a release served while it is gated and after, until stopped.
pub struct Application {
    address: SocketAddr,
    gate: Gate,
    /// Ends the server (and, through `stopping`, the refresh).
    shut_down: watch::Sender<bool>,
    /// Turns true once the server stops accepting.
    stopping: watch::Receiver<bool>,
    /// The change the fleet did not admit at start, made in the background once it does.
    deferred: Option<fleet::Change>,
    server: JoinHandle<()>,
}

impl Application {
    /// Binds the service's `listen` address (port 0 picks one) and serves at once —
    /// `/health/live` and `/metrics` answer, `/health` is 503 saying what the gate waits
    /// for — then runs the gate. A refusal stops the server and returns its error; a zero
    /// connection limit or timeout is refused before binding (exit 2).
    pub async fn start(gate: Gate) -> Result<(Self, Report), Error> {
        let service = &gate.settings.service;
        service.connections.check().exit(Exit::Usage)?;
        let listen = service.listen;
        let listener = server::http::bind(listen)
            .map_err(|source| Listen {
                address: listen,
                source,
            })
            .exit(Exit::Usage)?;
        let address = listener.local_addr().exit(Exit::Internal)?;
        let (shut_down, mut shut) = watch::channel(false);
        let (stopping_sender, stopping) = watch::channel(false);
        let server = tokio::spawn(server::http::run(
            listener,
            gate.state.clone(),
            service.connections,
            async move {
                let _ = shut.wait_for(|shut| *shut).await;
            },
            stopping_sender,
        ));
        tracing::info!(address = %address, health = "503 until the gate is done", "listening");
        match gate.run_or_defer().await {
            Ok(report) => Ok((
                Self {
                    address,
                    deferred: report.deferred.map(|to| fleet::Change {
                        from: report.plan.target,
                        to,
                    }),
                    gate,
                    shut_down,
                    stopping,
                    server,
                },
                report,
            )),
            Err(error) => {
                let _ = shut_down.send(true);
                let _ = server.await;
                Err(error)
            }
        }
    }

    /// The gate it serves.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The bound address (the real port when `listen` asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Refreshes and serves (and migrates in the background, when the fleet deferred the
    /// gate's step) until `shutdown` completes; lets in-flight requests finish, then stops
    /// the refresh, which takes this instance out of the fleet.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let (drained, mut refresh_stop) = watch::channel(false);
        let refresh = tokio::spawn(self.gate.refresh(async move {
            let _ = refresh_stop.wait_for(|drained| *drained).await;
        })?);
        let background = async {
            match self.deferred {
                Some(change) => self.gate.migrate_when_admitted(change).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(shutdown);
        tokio::select! {
            () = &mut shutdown => {}
            () = background => shutdown.await,
        }
        let _ = self.shut_down.send(true);
        let served = self.server.await;
        let _ = drained.send(true);
        let _ = refresh.await;
        drop(self.stopping);
        served.exit(Exit::Internal)?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The listen address cannot be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {address} (--listen): {source}")]
struct Listen {
    address: SocketAddr,
    #[source]
    source: std::io::Error,
}
