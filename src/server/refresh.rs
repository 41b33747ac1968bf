//! The background refresh: every `--refresh-interval`, read the schema version through the
//! pool with a short timeout, judge it, and update `/health` and the metrics.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::health::{Health, Judge, Observation};
use super::metrics::Metrics;
use crate::history;

/// The longest a refresh waits for the database, however long the interval.
const MAX_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the schema version and publishes what it means.
pub struct Refresher {
    pool: Pool,
    judge: Judge,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    timeout: Duration,
    /// The last version read, reported again while the database is unreachable.
    last: i64,
    /// Whether the last refresh failed, to log transitions rather than every tick.
    failing: Option<bool>,
}

impl Refresher {
    /// A refresher whose queries give up after `min(interval, 5 s)`.
    pub fn new(
        pool: Pool,
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
        }
    }

    /// The query timeout in use (also the pool's timeouts).
    pub fn query_timeout(interval: Duration) -> Duration {
        interval.min(MAX_QUERY_TIMEOUT)
    }

    /// One refresh: query, judge, publish.
    pub async fn once(&mut self) {
        let read = tokio::time::timeout(self.timeout, read_version(&self.pool)).await;
        let checked_at = OffsetDateTime::now_utc();
        let seen = match read {
            Ok(Ok(current)) => {
                self.last = current;
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
        let verdict = self.judge.judge(&seen);
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

    /// Refreshes every `interval` until `stop` turns true.
    pub async fn run(mut self, interval: Duration, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // The first tick is immediate; the caller refreshed just before starting us.
        ticks.tick().await;
        let stopped = async move {
            // A dropped sender means stopping too.
            let _ = stop.wait_for(|stopping| *stopping).await;
        };
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                _ = ticks.tick() => self.once().await,
                () = &mut stopped => break,
            }
        }
        tracing::debug!("background refresh stopped");
    }
}

/// Reads the current version on a pooled connection. A connection that failed is taken out
/// of the pool rather than returned to it, so the next refresh connects afresh.
async fn read_version(pool: &Pool) -> Result<i64, String> {
    let client = pool.get().await.map_err(|e| match e {
        deadpool_postgres::PoolError::Backend(e) => crate::db::describe(&e),
        other => other.to_string(),
    })?;
    match history::current_version(&**client).await {
        Ok(version) => Ok(version),
        Err(error) => {
            drop(Object::take(client));
            Err(error.to_string())
        }
    }
}
