//! The gate's service side: [`Gate::routes`] for `/health`, `/health/live` and `/metrics`,
//! [`Gate::refresh`] keeping them current, and [`Application`], the standalone `serve`
//! (zero2prod's `Application::build` and `run_until_stopped`; STYLE 1 and 2).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::builder::Gate;
use super::error::{Error, Exit, ExitWith};
use super::run::Report;
use crate::server::{self, Judge, Metrics, Observation, Refresher};
use crate::{backup, db};

/// At most this many connections for the refresh: one in use, one being replaced.
const POOL_SIZE: usize = 2;

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

    /// What `/health` judges against; `baseline` is the version the gate left.
    fn judge(&self, baseline: i64) -> Judge {
        let compat = &self.release.compat;
        Judge {
            app_version: compat.tag(),
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
    /// small pool, judges it and updates `/health` and `/metrics`, until `shutdown`
    /// completes. Spawn the returned future; it refreshes once before its first wait.
    pub fn refresh(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<impl Future<Output = ()> + Send + 'static, Error> {
        let interval = self.settings.service.refresh_interval;
        let pool = db::pool(
            self.url()?,
            &self.application_name,
            Refresher::query_timeout(interval),
            POOL_SIZE,
        )
        .exit(Exit::Internal)?;
        let baseline = self
            .baseline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unwrap_or(0);
        let judge = self.judge(baseline);
        let state = self.state.clone();
        let backup_dir = self.settings.backup.dir.clone();
        Ok(async move {
            record_newest_backup(&state.metrics, &backup_dir, &pool).await;
            let mut refresher = Refresher::new(
                pool,
                judge,
                Arc::clone(&state.health),
                Arc::clone(&state.metrics),
                interval,
            );
            refresher.once().await;
            let (stopping, stopped) = watch::channel(false);
            tokio::select! {
                () = refresher.run(interval, stopped) => {}
                () = shutdown => { let _ = stopping.send(true); }
            }
        })
    }
}

/// Sets the backup metrics from the newest backup of this database in the directory (the
/// one this start took, or an earlier one), so `BackupStale` judges every replica, not only
/// the one that migrated, and never by another database's backups in a shared directory.
/// A directory that cannot be listed, or a database that cannot say who it is, leaves them
/// unset.
async fn record_newest_backup(metrics: &Metrics, dir: &std::path::Path, pool: &Pool) {
    let origin = match pool.get().await {
        Ok(client) => backup::Server::query(&client).await.map(|s| s.origin()),
        Err(error) => {
            tracing::debug!(%error, "no backup metrics: no connection to tell the database");
            return;
        }
    };
    match origin.and_then(|origin| backup::list_of(dir, &origin)) {
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

/// `serve`: a gated release with its listener bound, not yet serving.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    gate: Gate,
}

impl Application {
    /// Runs the gate (refusals return their error before anything listens), then binds
    /// the service's `listen` address (port 0 picks one).
    pub async fn build(gate: Gate) -> Result<(Self, Report), Error> {
        let report = gate.run().await?;
        let listen = gate.settings.service.listen;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| Listen {
                address: listen,
                source,
            })
            .exit(Exit::Usage)?;
        let address = listener.local_addr().exit(Exit::Internal)?;
        Ok((
            Self {
                listener,
                address,
                gate,
            },
            report,
        ))
    }

    /// The gate it serves.
    pub fn gate(&self) -> &Gate {
        &self.gate
    }

    /// The bound address (the real port when `listen` asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves until `shutdown` completes, lets in-flight requests finish, stops the refresh.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let (stopping, mut stopped) = watch::channel(false);
        let refresh = self.gate.refresh(async move {
            let _ = stopped.wait_for(|stopping| *stopping).await;
        })?;
        let refresh = tokio::spawn(refresh);
        tracing::info!(address = %self.address, "listening");
        let served =
            server::http::run(self.listener, self.gate.state.clone(), shutdown, stopping).await;
        refresh.abort();
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
