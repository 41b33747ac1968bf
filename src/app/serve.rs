//! `serve`: gate (or, with `--no-migrate`, only look), then serve `/health` and `/metrics`
//! until the shutdown future completes (zero2prod's `Application::build` and
//! `run_until_stopped`; STYLE 1 and 2).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{Exit, ExitWith, Failure, Release, gate};
use crate::cli::{BackupArgs, GateArgs, ServeArgs};
use crate::server::{self, Health, Judge, Metrics, Observation, Refresher};
use crate::{backup, db, history, output, plan};
use deadpool_postgres::Pool;

/// At most this many connections for the refresh: one in use, one being replaced.
const POOL_SIZE: usize = 2;

/// A gated release with its listener bound and its state ready, not yet serving.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    state: server::State,
    refresher: Refresher,
    interval: Duration,
}

impl Application {
    /// Gates the database as `migrate` does (refusals return their exit code before
    /// anything listens), or with `--no-migrate` only checks it, then builds the metrics,
    /// the pool and the first health verdict, and binds `--listen` (port 0 picks one).
    pub async fn build(
        release: &Release,
        gate_args: &GateArgs,
        backup_args: &BackupArgs,
        args: &ServeArgs,
    ) -> Result<Self, Failure> {
        if args.refresh_interval.is_zero() {
            return Err(Failure::new(
                Exit::Usage,
                anyhow::anyhow!("--refresh-interval must be above 0"),
            ));
        }
        let compat = &release.compat;
        let metrics = Metrics::new(
            &args.metrics_prefix,
            &compat.app_version.to_string(),
            &compat.window,
        )
        .map_err(|e| {
            Failure::new(
                Exit::Usage,
                anyhow::anyhow!("--metrics-prefix {:?}: {e}", args.metrics_prefix),
            )
        })?;
        let baseline = if args.no_migrate {
            look(release, gate_args).await?
        } else {
            let report = gate(release, gate_args, backup_args).await?;
            metrics.record_lock_wait(report.lock_waited);
            metrics.record_lock_retries(report.lock_retries);
            for (_, took) in &report.durations {
                metrics.record_migration(*took);
            }
            if report.backup_skipped {
                metrics.record_backup_skipped();
            }
            metrics.record_lint_findings(report.lint_findings);
            output::gate_done(&report, compat, false);
            report.plan.target
        };
        let timeout = Refresher::query_timeout(args.refresh_interval);
        let pool = db::pool(
            release.url()?,
            &release.application_name,
            timeout,
            POOL_SIZE,
        )
        .exit(Exit::Internal)?;
        record_newest_backup(&metrics, &backup_args.backup_dir, &pool).await;
        let judge = Judge {
            app_version: compat.tag(),
            window: compat.window,
            catalogue: release
                .catalogue
                .migrations()
                .iter()
                .map(|m| m.version)
                .collect(),
            baseline,
            no_migrate: args.no_migrate,
        };
        let health = Arc::new(Health::new(&judge.judge(&Observation {
            current: baseline,
            reachable: true,
            error: None,
            checked_at: OffsetDateTime::now_utc(),
        })));
        let metrics = Arc::new(metrics);
        let mut refresher = Refresher::new(
            pool,
            judge,
            Arc::clone(&health),
            Arc::clone(&metrics),
            args.refresh_interval,
        );
        refresher.once().await;

        let listener = TcpListener::bind(args.listen).await.map_err(|e| {
            Failure::new(
                Exit::Usage,
                anyhow::anyhow!("cannot listen on {} (--listen): {e}", args.listen),
            )
        })?;
        let address = listener.local_addr().exit(Exit::Internal)?;
        Ok(Self {
            listener,
            address,
            state: server::State { health, metrics },
            refresher,
            interval: args.refresh_interval,
        })
    }

    /// The bound address (the real port when `--listen` asked for port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The metrics, to record what happens outside the server (backups, for one).
    pub fn metrics(&self) -> &Metrics {
        &self.state.metrics
    }

    /// Serves until `shutdown` completes, lets in-flight requests finish, stops the refresh.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Failure> {
        let (stopping, stopped) = watch::channel(false);
        let refresh = tokio::spawn(self.refresher.run(self.interval, stopped));
        tracing::info!(address = %self.address, "listening");
        let served = server::http::run(self.listener, self.state, shutdown, stopping).await;
        refresh.abort();
        served.exit(Exit::Internal)?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// `--no-migrate`: read the schema without the lock and without changing anything. A
/// history that does not match the catalogue, or a schema above the window, is refused
/// (exit 3); below the window is fine: the migration Job has not run yet.
async fn look(release: &Release, args: &GateArgs) -> Result<i64, Failure> {
    let client = release.connect(args.connect_timeout).await?;
    let applied = history::read(&client).await.map_err(super::read_failed)?;
    plan::check_history(&release.catalogue, &applied).exit(Exit::Refused)?;
    let current = plan::current_version(&applied);
    let window = &release.compat.window;
    if current > window.max {
        plan::verdict(current, window, &release.catalogue).exit(Exit::Refused)?;
    }
    if current < window.min {
        tracing::warn!(
            schema = current,
            min = window.min,
            "schema below this release's window; unready until the migration Job has run (--no-migrate)"
        );
    }
    Ok(current)
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

/// `serve`: build, then run until SIGTERM or SIGINT.
pub(super) async fn serve(
    release: &Release,
    gate_args: &GateArgs,
    backup_args: &BackupArgs,
    args: &ServeArgs,
) -> Result<(), Failure> {
    let application = Application::build(release, gate_args, backup_args, args).await?;
    let stop = release.stop.clone();
    application
        .run_until_stopped(async move {
            let signal = stop.wait().await;
            tracing::info!(signal, "shutting down: finishing in-flight requests");
        })
        .await
}
