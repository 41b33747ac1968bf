//! Safe DDL on a live database (pgroll's and GitLab's `with_lock_retries`, STYLE 16): every
//! statement of a migration waits at most `lock_timeout` for its locks, so an `ALTER TABLE`
//! stuck behind a long transaction holds up the queries queued behind it for that long
//! only; then the step is rolled back and retried after a growing, jittered pause, and
//! each wait names who blocked it.
//!
//! These are the DDL's locks; the migration lock (an advisory lock on its own session) is
//! never released between retries.

use std::time::Duration;

use backon::{BackoffBuilder as _, ExponentialBuilder};
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use crate::catalogue::Timeouts;

/// Shortest pause before a retry; each next one doubles, up to [`MAX_PAUSE`], with jitter.
const MIN_PAUSE: Duration = Duration::from_millis(200);

/// Longest pause before a retry.
const MAX_PAUSE: Duration = Duration::from_secs(10);

/// How long statements may wait for locks and run, and how often a step is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--ddl-lock-timeout`: how long a statement waits for a lock (`lock_timeout`).
    pub lock_timeout: Duration,
    /// `--ddl-retries`: how many times a step that timed out waiting is run again.
    pub retries: usize,
    /// `--statement-timeout`: how long a statement may run (`statement_timeout`), if bounded.
    pub statement_timeout: Option<Duration>,
}

impl Limits {
    /// The settings for a file: its own directives win.
    pub fn for_file(&self, timeouts: Timeouts) -> Settings {
        Settings {
            lock_timeout: timeouts.lock.unwrap_or(self.lock_timeout),
            statement_timeout: timeouts.statement.or(self.statement_timeout),
        }
    }

    /// The pauses before each retry: growing and jittered, `retries` of them.
    pub fn pauses(&self) -> impl Iterator<Item = Duration> + use<> {
        ExponentialBuilder::default()
            .with_min_delay(MIN_PAUSE)
            .with_max_delay(MAX_PAUSE)
            .with_max_times(self.retries)
            .with_jitter()
            .build()
    }
}

/// The limits one file runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `lock_timeout`.
    pub lock_timeout: Duration,
    /// `statement_timeout`, `None` for no limit.
    pub statement_timeout: Option<Duration>,
}

impl Settings {
    /// The `SET` statements (`SET LOCAL` inside a transaction).
    pub fn statements(&self, local: bool) -> String {
        let scope = if local { "SET LOCAL" } else { "SET" };
        let statement = self
            .statement_timeout
            .map_or_else(|| "0".to_owned(), crate::duration::setting);
        format!(
            "{scope} lock_timeout = '{}'; {scope} statement_timeout = '{statement}'",
            crate::duration::setting(self.lock_timeout)
        )
    }

    /// As `plan` shows them.
    pub fn describe(&self) -> String {
        format!(
            "lock_timeout {}, statement_timeout {}",
            humantime::format_duration(self.lock_timeout),
            self.statement_timeout.map_or_else(
                || "none".to_owned(),
                |d| humantime::format_duration(d).to_string()
            )
        )
    }
}

/// Undoes [`Settings::statements`] on the session after a file that ran outside a
/// transaction.
pub const RESET: &str = "RESET lock_timeout; RESET statement_timeout";

/// Whether a statement gave up waiting for a lock (SQLSTATE 55P03): the one failure worth
/// retrying; anything else is returned at once.
pub fn is_lock_timeout(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// The sessions blocking `pid` right now, each as `pid 123 (psql, user app, idle in
/// transaction since …): <first 200 characters of its query>`; empty when none.
pub async fn blockers(client: &Client, pid: i32) -> Result<Vec<String>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.usename::text, ''), coalesce(a.state, ''), \
                    coalesce(to_char(a.xact_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), \
                    left(coalesce(a.query, ''), 200) \
             FROM pg_stat_activity a WHERE a.pid = ANY(pg_blocking_pids($1)) ORDER BY a.pid",
            &[&pid],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            format!(
                "pid {} ({}, user {}, {} since {}): {}",
                row.get::<_, i32>(0),
                row.get::<_, String>(1),
                row.get::<_, String>(2),
                row.get::<_, String>(3),
                row.get::<_, String>(4),
                row.get::<_, String>(5),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        lock_timeout: Duration::from_secs(5),
        retries: 10,
        statement_timeout: None,
    };

    #[test]
    fn a_files_directives_override_the_flags() {
        let own = Timeouts {
            lock: Some(Duration::from_secs(30)),
            statement: Some(Duration::from_secs(600)),
        };
        assert_eq!(
            LIMITS.for_file(own).statements(true),
            "SET LOCAL lock_timeout = '30000ms'; SET LOCAL statement_timeout = '600000ms'"
        );
        assert_eq!(
            LIMITS.for_file(Timeouts::default()).statements(false),
            "SET lock_timeout = '5000ms'; SET statement_timeout = '0'"
        );
    }

    #[test]
    fn pauses_grow_with_jitter_and_stop_after_the_retries() {
        let pauses: Vec<Duration> = LIMITS.pauses().collect();
        assert_eq!(pauses.len(), 10);
        assert!(
            pauses
                .iter()
                .all(|p| *p >= MIN_PAUSE && *p <= MAX_PAUSE * 2)
        );
        assert!(pauses[5] > pauses[0]);
    }
}
